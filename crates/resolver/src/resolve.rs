//! From catalogs, requests and the installed state to a constraint problem, and back to a plan
//! or an explanation.
//!
//! The problem is built with variable indexes (bundles are catalog indexes) and solved in that
//! form; identifiers (deppy's strings) are only produced when the problem is unsatisfiable or
//! identifiers could collide, and then the identifier form is solved and explained exactly as
//! deppy's would be.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Instant;

use rustc_hash::{FxHashMap, FxHashSet};
use semver_ranges::Constraints;

use crate::catalog::{Bundle, Catalog, Gvk, Requirement};
use crate::constraint::{CelOutcome, evaluate_rule};
use crate::model::{
    self, AppliedConstraint, Constraint, ConstraintKind, IndexedProblem, Kind, NotSatisfiable,
    Problem, SolveError, SolveOptions, Variable,
};
use crate::plan::{InputError, Plan, Rejection, ResolveError, Selection, Unsatisfiable, Why};
use crate::prepared::PreparedCatalog;
use crate::request::{
    BundleLocator, Installed, Options, OthersPolicy, Request, SuccessorMode, UpgradePolicy,
};

/// What each constraint of the problem means, for explanations.
#[derive(Debug, Clone)]
enum Meta<'a> {
    Mandatory,
    RequestCandidates(usize),
    InstalledCandidates(usize),
    BundleRequirement { bundle: usize, requirement: usize },
    BundleProhibited { reason: String },
    PackageUniqueness(&'a str),
    GvkUniqueness(&'a Gvk),
}

/// What each variable stands for (its identifier is derived from it).
#[derive(Debug, Clone, Copy)]
enum Role<'a> {
    Request(usize),
    Installed(usize),
    Bundle(usize),
    PackageUniqueness(&'a str),
    GvkUniqueness(&'a Gvk),
}

/// One constraint as the builder adds it (in any variable order).
struct Added<'a> {
    var: u32,
    kind: Kind,
    refs: std::ops::Range<u32>,
    message: Option<String>,
    meta: Meta<'a>,
}

/// The selected bundles, indexed by what they require and provide.
struct ChosenIndex {
    selected: FxHashSet<usize>,
    /// Package id → selected (bundle, requirement) pairs with a candidate in that package, in
    /// bundle order.
    requirers: FxHashMap<u32, Vec<(usize, usize)>>,
    /// GVK id → selected providers, in bundle order.
    providers: FxHashMap<u32, Vec<usize>>,
}

/// A resolved installed entry.
struct InstalledInfo {
    /// Matching bundles (same bundle in several catalogs), preferred first.
    bundles: Vec<usize>,
    /// Whether the entry is a fixed fact (no upgrades).
    fixed: bool,
    /// Allowed targets: successors then the installed bundles.
    allowed: Vec<usize>,
    /// Human description of the upgrade rule.
    rule: String,
}

struct Builder<'a> {
    catalog: &'a Catalog,
    prepared: &'a PreparedCatalog,
    requests: &'a [Request],
    installed: &'a [Installed],
    options: &'a Options,
    /// What each variable stands for, in variable order.
    roles: Vec<Role<'a>>,
    /// Constraints in the order they were added; `refs` index `ref_pool`.
    added: Vec<Added<'a>>,
    ref_pool: Vec<u32>,
    /// Variable of each bundle in the problem.
    bundle_var: FxHashMap<usize, u32>,
    /// After [`Self::finish`]: meaning and message of each constraint in (variable, constraint)
    /// order, and where each variable's constraints start.
    metas: Vec<Meta<'a>>,
    messages: Vec<Option<String>>,
    var_start: Vec<u32>,
    /// Candidates of `olm.constraint` requirements, per (bundle, requirement index); the
    /// others come from the prepared catalog.
    solve_targets: FxHashMap<(usize, usize), Vec<u32>>,
    request_candidates: Vec<Vec<usize>>,
    request_ranges: Vec<Option<Constraints>>,
    installed_info: Vec<Option<InstalledInfo>>,
    cel_cache: HashMap<String, Result<CelOutcome, String>>,
    cluster_minor: Option<(u64, u64)>,
}

/// Resolves all requests jointly: one problem, every request must be satisfied.
///
/// Installed bundles owned by a request of the problem follow its upgrade policy; bundles
/// installed for other Operators are fixed facts (or upgradable, per [`Options::others`]).
pub fn resolve(
    catalog: &Catalog,
    requests: &[Request],
    installed: &[Installed],
    options: &Options,
) -> Result<Plan, ResolveError> {
    let started = Instant::now();
    let deadline = options.timeout.map(|t| started + t);
    let mut builder = Builder::new(catalog, requests, installed, options)?;
    builder.build()?;
    let indexed = builder.finish();
    if builder.identifiers_distinct() {
        match model::solve_indexed(&indexed, deadline) {
            Ok(Some(selected)) => return Ok(builder.plan(&selected)),
            Ok(None) => {}
            Err(_) => return Err(ResolveError::Cancelled),
        }
    }
    // Unsatisfiable (or identifiers that may collide): solve deppy's identifier form, which
    // reports malformed problems and explains conflicts.
    let problem = builder.problem(&indexed);
    let solve_options = SolveOptions {
        deadline,
        minimise_budget: None,
    };
    match model::solve(&problem, &solve_options) {
        Ok(selected) => Ok(builder.plan(&selected)),
        Err(SolveError::Problem(e)) => Err(InputError {
            request: None,
            message: e.to_string(),
        }
        .into()),
        Err(SolveError::Cancelled) => Err(ResolveError::Cancelled),
        Err(SolveError::NotSatisfiable(core)) => {
            let mut unsat = builder.explain(&problem, &core);
            if requests.len() > 1 {
                unsat.conflicting_requests =
                    smallest_conflicting_set(catalog, requests, installed, options, &unsat);
            }
            Err(ResolveError::Unsatisfiable(Box::new(unsat)))
        }
    }
}

/// Resolves each request in its own problem (the controller's isolation): one request's input
/// error or conflict never affects another. Two requests for the same package both fail with
/// `duplicate identifier "required package <pkg>" in input`.
pub fn resolve_each(
    catalog: &Catalog,
    requests: &[Request],
    installed: &[Installed],
    options: &Options,
) -> Vec<(String, Result<Plan, ResolveError>)> {
    requests
        .iter()
        .map(|r| {
            let duplicate = requests.iter().filter(|o| o.package == r.package).count() > 1;
            let result = if duplicate {
                Err(InputError {
                    request: Some(r.package.clone()),
                    message: format!(
                        "duplicate identifier \"required package {}\" in input",
                        r.package
                    ),
                }
                .into())
            } else {
                resolve(catalog, std::slice::from_ref(r), installed, options)
            };
            (r.package.clone(), result)
        })
        .collect()
}

/// Deletion over requests: drop every request whose removal keeps the problem unsatisfiable.
fn smallest_conflicting_set(
    catalog: &Catalog,
    requests: &[Request],
    installed: &[Installed],
    options: &Options,
    unsat: &Unsatisfiable,
) -> Vec<String> {
    let mut kept: Vec<Request> = requests.to_vec();
    let mut i = 0;
    while i < kept.len() && kept.len() > 1 {
        let mut trial = kept.clone();
        trial.remove(i);
        let unsatisfiable = match Builder::new(catalog, &trial, installed, options) {
            Ok(mut b) => match b.build() {
                Ok(()) => {
                    let indexed = b.finish();
                    let deadline = options.timeout.map(|t| Instant::now() + t);
                    if b.identifiers_distinct() {
                        matches!(model::solve_indexed(&indexed, deadline), Ok(None))
                    } else {
                        let opts = SolveOptions {
                            deadline,
                            minimise_budget: Some(0),
                        };
                        matches!(
                            model::solve(&b.problem(&indexed), &opts),
                            Err(SolveError::NotSatisfiable(_))
                        )
                    }
                }
                Err(_) => false,
            },
            Err(_) => false,
        };
        if unsatisfiable {
            kept = trial;
        } else {
            i += 1;
        }
    }
    if kept.len() == requests.len() && !unsat.conflicting_requests.is_empty() {
        return unsat.conflicting_requests.clone();
    }
    kept.into_iter().map(|r| r.package).collect()
}

fn qualifiers(r: &Request) -> String {
    let mut parts = Vec::new();
    if let Some(c) = &r.channel {
        parts.push(format!("channel {c:?}"));
    }
    if let Some(v) = &r.version {
        parts.push(format!("version {v:?}"));
    }
    if let Some(c) = &r.catalogs {
        parts.push(format!("catalogs {}", c.join(", ")));
    }
    parts.join(", ")
}

fn version_text(b: &Bundle) -> Option<String> {
    b.version_text.clone()
}

impl<'a> Builder<'a> {
    fn new(
        catalog: &'a Catalog,
        requests: &'a [Request],
        installed: &'a [Installed],
        options: &'a Options,
    ) -> Result<Self, InputError> {
        let cluster_minor = match &options.cluster_version {
            None => None,
            Some(v) => {
                let parsed = semver_ranges::parse_tolerant(v).map_err(|e| InputError {
                    request: None,
                    message: format!("invalid cluster version {v:?}: {e}"),
                })?;
                Some((parsed.major, parsed.minor))
            }
        };
        Ok(Builder {
            catalog,
            prepared: catalog.prepared(),
            requests,
            installed,
            options,
            roles: Vec::new(),
            added: Vec::new(),
            ref_pool: Vec::new(),
            bundle_var: FxHashMap::default(),
            metas: Vec::new(),
            messages: Vec::new(),
            var_start: Vec::new(),
            solve_targets: FxHashMap::default(),
            request_candidates: Vec::new(),
            request_ranges: Vec::new(),
            installed_info: Vec::new(),
            cel_cache: HashMap::new(),
            cluster_minor,
        })
    }

    fn bundle(&self, i: usize) -> &'a Bundle {
        &self.catalog.bundles[i]
    }

    fn catalog_allowed(&self, r: &Request, b: &Bundle) -> bool {
        r.catalogs
            .as_ref()
            .is_none_or(|c| c.contains(&b.input.catalog))
    }

    fn add_variable(&mut self, role: Role<'a>) -> usize {
        self.roles.push(role);
        self.roles.len() - 1
    }

    fn add_constraint(
        &mut self,
        var: usize,
        kind: Kind,
        refs: impl IntoIterator<Item = u32>,
        message: Option<String>,
        meta: Meta<'a>,
    ) {
        let start = self.ref_pool.len() as u32;
        self.ref_pool.extend(refs);
        self.added.push(Added {
            var: var as u32,
            kind,
            refs: start..self.ref_pool.len() as u32,
            message,
            meta,
        });
    }

    /// Variables of bundles (which all have one once the bundles are added).
    fn vars_of<'s>(&'s self, bundles: &'s [usize]) -> impl Iterator<Item = u32> + 's {
        bundles.iter().map(|b| self.bundle_var[b])
    }

    fn build(&mut self) -> Result<(), InputError> {
        let catalog = self.catalog;
        let prepared = self.prepared;
        let roots = self.requests.len() + self.installed.len();
        self.roles.reserve(roots);
        self.added.reserve(2 * roots);
        // Required packages.
        for (ri, r) in self.requests.iter().enumerate() {
            let range = match &r.version {
                None => None,
                Some(v) => Some(Constraints::parse(v).map_err(|e| InputError {
                    request: Some(r.package.clone()),
                    message: format!("invalid version range {v:?}: {e}"),
                })?),
            };
            // The prepared order is the no-channel preference; a channel only moves its heads
            // first (a stable sort keeps the rest of the order).
            let package = prepared.preferred(&r.package);
            let mut candidates: Vec<usize> = Vec::with_capacity(package.len());
            candidates.extend(package.iter().map(|&i| i as usize).filter(|&i| {
                let b = self.bundle(i);
                self.catalog_allowed(r, b)
                    && r.channel.as_deref().is_none_or(|c| b.in_channel(c))
                    && range
                        .as_ref()
                        .is_none_or(|range| b.version.as_ref().is_some_and(|v| range.matches(v)))
            }));
            if candidates.is_empty() {
                let p = &r.package;
                let message = match (&r.version, &r.channel) {
                    (Some(v), Some(c)) => {
                        format!("no package {p:?} matching version {v:?} found in channel {c:?}")
                    }
                    (Some(v), None) => format!("no package {p:?} matching version {v:?} found"),
                    (None, Some(c)) => format!("no package {p:?} found in channel {c:?}"),
                    (None, None) => format!("no package {p:?} found"),
                };
                return Err(InputError {
                    request: Some(p.clone()),
                    message,
                });
            }
            if let Some(c) = r.channel.as_deref() {
                candidates.sort_by_key(|&i| {
                    (
                        self.bundle(i).deprecated.is_some(),
                        !prepared.is_head(catalog, i, c),
                    )
                });
            }
            self.request_candidates.push(candidates);
            self.request_ranges.push(range);
            let var = self.add_variable(Role::Request(ri));
            self.add_constraint(var, Kind::Mandatory, [], None, Meta::Mandatory);
        }

        // Installed packages.
        for (ii, inst) in self.installed.iter().enumerate() {
            let info = self.installed_entry(inst)?;
            let Some(info) = info else {
                self.installed_info.push(None);
                continue;
            };
            self.installed_info.push(Some(info));
            let var = self.add_variable(Role::Installed(ii));
            self.add_constraint(var, Kind::Mandatory, [], None, Meta::Mandatory);
        }

        // Bundles reachable from the candidates, breadth-first.
        let mut queue: VecDeque<usize> = VecDeque::new();
        let mut seen: FxHashSet<usize> = FxHashSet::default();
        let mut order: Vec<usize> = Vec::new();
        let starts = self.request_candidates.iter().flatten().chain(
            self.installed_info
                .iter()
                .flatten()
                .flat_map(|i| &i.allowed),
        );
        for &b in starts {
            if seen.insert(b) {
                queue.push_back(b);
            }
        }
        while let Some(b) = queue.pop_front() {
            order.push(b);
            for q in 0..prepared.requirement_count(b) {
                if prepared.requirement_targets(b, q).is_none() {
                    let list = self.constraint_targets(b, q);
                    self.solve_targets.insert((b, q), list);
                }
                for &c in self.targets(b, q) {
                    if seen.insert(c as usize) {
                        queue.push_back(c as usize);
                    }
                }
            }
        }
        // Bundle variables grouped by package in preference order (the engine then sees each
        // candidate list as one contiguous run); uniqueness lists keep deppy's first-seen order.
        let first_seen = order.clone();
        let requirements: usize = order.iter().map(|&b| prepared.requirement_count(b)).sum();
        self.roles.reserve(2 * order.len());
        self.added.reserve(2 * order.len() + requirements);
        let dependency_refs: usize = order
            .iter()
            .map(|&b| {
                (0..prepared.requirement_count(b))
                    .map(|q| self.targets(b, q).len())
                    .sum::<usize>()
            })
            .sum();
        self.ref_pool
            .reserve(dependency_refs + 2 * order.len() + self.ref_pool.len());
        order.sort_unstable_by_key(|&b| prepared.rank[b]);
        self.bundle_var.reserve(order.len());
        for &b in &order {
            let var = self.add_variable(Role::Bundle(b));
            self.bundle_var.insert(b, var as u32);
        }

        // Request and installed dependencies.
        for ri in 0..self.requests.len() {
            let refs: Vec<u32> = self.vars_of(&self.request_candidates[ri]).collect();
            self.add_constraint(
                ri,
                Kind::Dependency,
                refs,
                None,
                Meta::RequestCandidates(ri),
            );
        }
        let mut var = self.requests.len();
        for ii in 0..self.installed.len() {
            let Some(info) = &self.installed_info[ii] else {
                continue;
            };
            let refs: Vec<u32> = self.vars_of(&info.allowed).collect();
            self.add_constraint(
                var,
                Kind::Dependency,
                refs,
                None,
                Meta::InstalledCandidates(ii),
            );
            var += 1;
        }

        // Bundle constraints.
        for &b in &order {
            let var = self.bundle_var[&b] as usize;
            for q in 0..prepared.requirement_count(b) {
                let targets = self.targets(b, q);
                let mut message = None;
                if targets.is_empty()
                    && let Requirement::Constraint {
                        failure_message: Some(msg),
                        ..
                    } = &self.bundle(b).requirements[q]
                {
                    message = Some(format!(
                        "{} has a dependency without any candidates to satisfy it: {msg}",
                        self.bundle(b).id_str()
                    ));
                }
                let start = self.ref_pool.len() as u32;
                let targets: &[u32] = match prepared.requirement_targets(b, q) {
                    Some(list) => list,
                    None => self.solve_targets.get(&(b, q)).map_or(&[], Vec::as_slice),
                };
                for &t in targets {
                    self.ref_pool.push(self.bundle_var[&(t as usize)]);
                }
                self.added.push(Added {
                    var: var as u32,
                    kind: Kind::Dependency,
                    refs: start..self.ref_pool.len() as u32,
                    message,
                    meta: Meta::BundleRequirement {
                        bundle: b,
                        requirement: q,
                    },
                });
            }
            let excludable = self.cluster_minor.is_some() && prepared.has_max_openshift[b];
            if !prepared.has_invalid[b] && !excludable {
                continue;
            }
            let bundle = self.bundle(b);
            let exclusion = self.exclusion(b);
            for reason in bundle.invalid.iter().cloned().chain(exclusion) {
                let message = format!("{} is prohibited: {reason}", bundle.id_str());
                self.add_constraint(
                    var,
                    Kind::Prohibited,
                    [],
                    Some(message),
                    Meta::BundleProhibited { reason },
                );
            }
        }

        // Package uniqueness, in first-seen package order.
        let mut packages: Vec<u32> = Vec::new();
        let mut slot_of: FxHashMap<u32, u32> = FxHashMap::default();
        let slots: Vec<u32> = first_seen
            .iter()
            .map(|&b| {
                let package = prepared.package_of[b];
                *slot_of.entry(package).or_insert_with(|| {
                    packages.push(package);
                    (packages.len() - 1) as u32
                })
            })
            .collect();
        // Members of each package contiguous, in first-seen order.
        let mut member_start = vec![0u32; packages.len() + 1];
        for &slot in &slots {
            member_start[slot as usize + 1] += 1;
        }
        for k in 0..packages.len() {
            member_start[k + 1] += member_start[k];
        }
        let mut fill = member_start.clone();
        let mut members = vec![0u32; first_seen.len()];
        for (&b, &slot) in first_seen.iter().zip(&slots) {
            members[fill[slot as usize] as usize] = self.bundle_var[&b];
            fill[slot as usize] += 1;
        }
        let several_packages = packages.len() > 1;
        for (k, &package) in packages.iter().enumerate() {
            let members = &members[member_start[k] as usize..member_start[k + 1] as usize];
            let p = prepared.package_names[package as usize].as_str();
            let var = self.add_variable(Role::PackageUniqueness(p));
            self.add_constraint(
                var,
                Kind::AtMost(1),
                members.iter().copied(),
                None,
                Meta::PackageUniqueness(p),
            );
        }

        // GVK-provider uniqueness across packages (only possible with two or more packages).
        if self.options.gvk_uniqueness && several_packages {
            let mut providers: Vec<(u32, Vec<usize>)> = Vec::new();
            let mut index: FxHashMap<u32, usize> = FxHashMap::default();
            for &b in &first_seen {
                for &g in prepared.provides(b) {
                    let slot = *index.entry(g).or_insert_with(|| {
                        providers.push((g, Vec::new()));
                        providers.len() - 1
                    });
                    providers[slot].1.push(b);
                }
            }
            providers.sort_unstable_by_key(|(g, _)| prepared.gvk_order[*g as usize]);
            for (g, list) in providers {
                let first = prepared.package_of[list[0]];
                if list.iter().all(|&b| prepared.package_of[b] == first) {
                    continue;
                }
                let gvk = &prepared.gvks[g as usize];
                let var = self.add_variable(Role::GvkUniqueness(gvk));
                let refs: Vec<u32> = self.vars_of(&list).collect();
                self.add_constraint(var, Kind::AtMost(1), refs, None, Meta::GvkUniqueness(gvk));
            }
        }
        Ok(())
    }

    /// Orders the added constraints by (variable, insertion) — deppy's input order — and
    /// returns the indexed problem.
    fn finish(&mut self) -> IndexedProblem {
        let vars = self.roles.len();
        let mut var_start = vec![0u32; vars + 1];
        for c in &self.added {
            var_start[c.var as usize + 1] += 1;
        }
        for v in 0..vars {
            var_start[v + 1] += var_start[v];
        }
        let mut next: Vec<u32> = var_start[..vars].to_vec();
        let mut position = vec![0u32; self.added.len()];
        for (i, c) in self.added.iter().enumerate() {
            position[i] = next[c.var as usize];
            next[c.var as usize] += 1;
        }
        let mut slots: Vec<Option<Added<'a>>> = Vec::with_capacity(self.added.len());
        slots.resize_with(self.added.len(), || None);
        for (i, c) in std::mem::take(&mut self.added).into_iter().enumerate() {
            slots[position[i] as usize] = Some(c);
        }
        let mut indexed = IndexedProblem::with_capacity(vars, slots.len(), self.ref_pool.len());
        let mut metas = Vec::with_capacity(slots.len());
        let mut messages = Vec::with_capacity(slots.len());
        for (i, c) in slots.into_iter().flatten().enumerate() {
            let variable = c.var as usize;
            let applied = AppliedConstraint {
                variable,
                constraint: i - var_start[variable] as usize,
            };
            indexed.push(
                applied,
                c.kind,
                &self.ref_pool[c.refs.start as usize..c.refs.end as usize],
            );
            metas.push(c.meta);
            messages.push(c.message);
        }
        self.metas = metas;
        self.messages = messages;
        self.var_start = var_start;
        indexed
    }

    /// Whether every variable identifier of the problem is distinct, so the indexed problem is
    /// exactly deppy's (otherwise the identifier form reports the duplicate). Request,
    /// installed and uniqueness identifiers all contain a space and differ from one another
    /// unless a package name contains one; bundle identifiers are checked once per catalog.
    fn identifiers_distinct(&self) -> bool {
        if !self.prepared.plain_ids {
            return false;
        }
        let mut requested: FxHashSet<&str> = FxHashSet::default();
        let mut installed: FxHashSet<&str> = FxHashSet::default();
        self.roles.iter().all(|role| match *role {
            Role::Request(ri) => {
                let p = self.requests[ri].package.as_str();
                !p.contains(' ') && requested.insert(p)
            }
            Role::Installed(ii) => {
                let p = self.installed[ii].package.as_str();
                !p.contains(' ') && installed.insert(p)
            }
            _ => true,
        })
    }

    /// deppy's identifier of a variable.
    fn var_id(&self, var: usize) -> String {
        match self.roles[var] {
            Role::Request(ri) => format!("required package {}", self.requests[ri].package),
            Role::Installed(ii) => format!("installed package {}", self.installed[ii].package),
            Role::Bundle(b) => self.bundle(b).id(),
            Role::PackageUniqueness(p) => format!("{p} package uniqueness"),
            Role::GvkUniqueness(g) => format!(
                "group:{:?} version:{:?} kind:{:?} gvk uniqueness",
                g.group, g.version, g.kind
            ),
        }
    }

    /// The identifier form of the problem (deppy's input).
    fn problem(&self, indexed: &IndexedProblem) -> Problem {
        let ids: Vec<String> = (0..self.roles.len()).map(|v| self.var_id(v)).collect();
        let mut variables: Vec<Variable> = ids.iter().map(Variable::new).collect();
        for (a, applied) in indexed.applied.iter().enumerate() {
            let refs = indexed.refs(a);
            let id = |i: usize| ids[refs[i] as usize].clone();
            let kind = match indexed.kinds[a] {
                Kind::Mandatory => ConstraintKind::Mandatory,
                Kind::Prohibited => ConstraintKind::Prohibited,
                Kind::Dependency => ConstraintKind::Dependency((0..refs.len()).map(id).collect()),
                Kind::Conflict => ConstraintKind::Conflict(id(0)),
                Kind::AtMost(n) => ConstraintKind::AtMost(n, (0..refs.len()).map(id).collect()),
                Kind::Or {
                    negate_subject,
                    negate_other,
                } => ConstraintKind::Or {
                    other: id(0),
                    negate_subject,
                    negate_other,
                },
            };
            variables[applied.variable].constraints.push(Constraint {
                kind,
                message: self.messages[a].clone(),
            });
        }
        Problem { variables }
    }

    /// Why a bundle is excluded by options (maxOpenShiftVersion), if it is.
    fn exclusion(&self, b: usize) -> Option<String> {
        let (major, minor) = self.cluster_minor?;
        match &self.bundle(b).max_openshift {
            Some(Ok((mmaj, mmin))) if (*mmaj, *mmin) < (major, minor) => Some(format!(
                "olm.maxOpenShiftVersion {mmaj}.{mmin} is older than the cluster version {major}.{minor}"
            )),
            Some(Err(e)) => Some(e.clone()),
            _ => None,
        }
    }

    fn installed_entry(&self, inst: &Installed) -> Result<Option<InstalledInfo>, InputError> {
        let owner_request = self.requests.iter().position(|r| r.package == inst.owner);
        if let Some(ri) = owner_request
            && self.requests[ri].upgrade_policy == UpgradePolicy::Ignore
        {
            return Ok(None);
        }
        let wanted = match &inst.bundle {
            BundleLocator::Version(v) => semver_ranges::parse_strict(v).ok(),
            _ => None,
        };
        // Preferred first.
        let bundles: Vec<usize> = self
            .prepared
            .preferred(&inst.package)
            .iter()
            .map(|&i| i as usize)
            .filter(|&i| {
                let b = self.bundle(i);
                match &inst.bundle {
                    BundleLocator::Name(n) => b.input.name == *n,
                    BundleLocator::Image(img) => b.input.image == *img,
                    BundleLocator::Version(_) => b
                        .version
                        .as_ref()
                        .zip(wanted.as_ref())
                        .is_some_and(|(x, y)| x.cmp_precedence(y).is_eq()),
                }
            })
            .collect();
        if bundles.is_empty() {
            let what = match &inst.bundle {
                BundleLocator::Name(n) => format!("bundle {n:?}"),
                BundleLocator::Image(i) => format!("bundle with image {i:?}"),
                BundleLocator::Version(v) => format!("bundle with version {v:?}"),
            };
            return Err(InputError {
                request: Some(inst.owner.clone()),
                message: format!(
                    "{what} for package {:?} not found in available catalogs but is currently installed",
                    inst.package
                ),
            });
        }
        let fixed = owner_request.is_none() && self.options.others == OthersPolicy::Fixed;
        let channel = owner_request
            .filter(|&ri| self.requests[ri].package == inst.package)
            .and_then(|ri| self.requests[ri].channel.clone());
        let current = bundles[0];
        let (mut successors, rule) = if fixed {
            (
                Vec::new(),
                format!("is installed for {} and cannot change here", inst.owner),
            )
        } else {
            self.successors(current, channel.as_deref())
        };
        successors.retain(|s| !bundles.contains(s));
        let mut allowed = successors;
        allowed.extend(bundles.iter().copied());
        Ok(Some(InstalledInfo {
            bundles,
            fixed,
            allowed,
            rule,
        }))
    }

    /// Upgrade targets of an installed bundle (preferred first), and a description of the rule
    /// used.
    fn successors(&self, current: usize, channel: Option<&str>) -> (Vec<usize>, String) {
        let cur = self.bundle(current);
        let package = self
            .prepared
            .preferred(&cur.input.package)
            .iter()
            .map(|&i| i as usize);
        match self.options.successors {
            SuccessorMode::Semver => {
                let Some(v) = &cur.version else {
                    return (
                        Vec::new(),
                        "has no valid version, so it has no semver upgrades".to_string(),
                    );
                };
                let text = format!("^{v}, != {v}");
                let Ok(range) = Constraints::parse(&text) else {
                    return (
                        Vec::new(),
                        format!("has no semver upgrades ({text:?} does not parse)"),
                    );
                };
                let list = package
                    .filter(|&i| {
                        self.bundle(i)
                            .version
                            .as_ref()
                            .is_some_and(|w| range.matches(w))
                    })
                    .collect();
                (
                    list,
                    format!("may only upgrade within {text:?} (semver upgrades)"),
                )
            }
            SuccessorMode::Graph => {
                let list = package
                    .filter(|&i| {
                        let b = self.bundle(i);
                        // Never a downgrade (operator-controller v0.10, #711): an edge to a
                        // version that is not higher than the installed one is ignored.
                        let higher = match (&cur.version, &b.version) {
                            (Some(c), Some(v)) => v.cmp_precedence(c).is_gt(),
                            (Some(_), None) => false,
                            (None, _) => true,
                        };
                        higher
                            && b.input.channels.iter().any(|e| {
                                if channel.is_some_and(|c| c != e.channel) {
                                    return false;
                                }
                                e.replaces.as_deref() == Some(cur.input.name.as_str())
                                    || e.skips.contains(&cur.input.name)
                                    || e.skip_range.as_ref().is_some_and(|text| {
                                        b.skip_ranges.iter().any(|(t, r)| {
                                            t == text
                                                && r.as_ref()
                                                    .zip(cur.version.as_ref())
                                                    .is_some_and(|(r, v)| r.matches(v))
                                        })
                                    })
                            })
                    })
                    .collect();
                let scope = channel
                    .map(|c| format!(" in channel {c:?}"))
                    .unwrap_or_default();
                (
                    list,
                    format!(
                        "may only follow its upgrade edges{scope} (replaces, skips, skipRange) to a higher version"
                    ),
                )
            }
        }
    }

    /// Candidates of requirement `q` of bundle `b`, in preference order (once the bundle has
    /// been reached by [`Self::build`]).
    fn targets(&self, b: usize, q: usize) -> &[u32] {
        match self.prepared.requirement_targets(b, q) {
            Some(list) => list,
            None => self.solve_targets.get(&(b, q)).map_or(&[], Vec::as_slice),
        }
    }

    /// Candidates of an `olm.constraint` requirement: every bundle the predicate holds for.
    fn constraint_targets(&mut self, b: usize, q: usize) -> Vec<u32> {
        let Requirement::Constraint { expr, .. } = &self.bundle(b).requirements[q] else {
            return Vec::new();
        };
        let mut rules = Vec::new();
        expr.rules(&mut rules);
        for rule in rules {
            self.ensure_rule(&rule);
        }
        let cache = &self.cel_cache;
        let lookup = |rule: &str, i: usize| {
            cache
                .get(rule)
                .and_then(|r| r.as_ref().ok())
                .is_some_and(|o| o.matching.contains(&i))
        };
        let mut list: Vec<u32> = (0..self.catalog.bundles.len())
            .filter(|&i| expr.holds(i, self.bundle(i), &lookup))
            .map(|i| i as u32)
            .collect();
        list.sort_unstable_by_key(|&i| self.prepared.rank[i as usize]);
        list
    }

    fn ensure_rule(&mut self, rule: &str) {
        if self.cel_cache.contains_key(rule) {
            return;
        }
        let inputs = self
            .catalog
            .bundles
            .iter()
            .map(|b| {
                serde_json::Value::Array(b.input.properties.iter().map(|p| p.to_json()).collect())
            })
            .collect();
        let outcome = evaluate_rule(rule, inputs, self.options.cel_budget);
        if let Err(e) = &outcome {
            tracing::warn!(rule, error = %e, "CEL rule could not be evaluated; it matches no bundle");
        }
        self.cel_cache.insert(rule.to_string(), outcome);
    }

    fn requirement_text(&self, b: usize, q: usize) -> String {
        match &self.bundle(b).requirements[q] {
            Requirement::Package {
                package,
                range_text,
                ..
            } => format!("package {package} in range {range_text:?}"),
            Requirement::Gvk(g) => format!("a provider of {g}"),
            Requirement::Constraint {
                expr,
                failure_message,
            } => match failure_message {
                Some(m) => format!("a bundle matching {expr} ({m})"),
                None => format!("a bundle matching {expr}"),
            },
        }
    }

    fn plan(&self, selected: &[usize]) -> Plan {
        let selected_bundles: Vec<usize> = selected
            .iter()
            .filter_map(|&v| match self.roles[v] {
                Role::Bundle(b) => Some(b),
                _ => None,
            })
            .collect();
        // The rejection index is only needed for `not_chosen`.
        let chosen = if self.options.not_chosen {
            self.chosen_index(&selected_bundles)
        } else {
            ChosenIndex {
                selected: selected_bundles.iter().copied().collect(),
                requirers: FxHashMap::default(),
                providers: FxHashMap::default(),
            }
        };
        // Who requires each selected bundle, computed once (not per pair of selected bundles).
        let mut required_by: FxHashMap<usize, Vec<Why>> = FxHashMap::default();
        for &s in &selected_bundles {
            for q in 0..self.bundle(s).requirements.len() {
                for &c in self.targets(s, q) {
                    let c = c as usize;
                    if chosen.selected.contains(&c) {
                        required_by.entry(c).or_default().push(Why::RequiredBy {
                            bundle: self.bundle(s).display(),
                            requirement: self.requirement_text(s, q),
                        });
                    }
                }
            }
        }
        let mut selections = Vec::new();
        for &b in &selected_bundles {
            let bundle = self.bundle(b);
            let mut why = Vec::new();
            for (ri, r) in self.requests.iter().enumerate() {
                if self.request_candidates[ri].contains(&b) {
                    why.push(Why::Requested {
                        package: r.package.clone(),
                        qualifiers: qualifiers(r),
                    });
                }
            }
            for info in self.installed_info.iter().flatten() {
                if info.allowed.contains(&b) {
                    why.push(Why::Installed {
                        installed: self.bundle(info.bundles[0]).display(),
                        stays: info.bundles.contains(&b),
                        fixed_for: if info.fixed {
                            Some(self.installed_owner(info))
                        } else {
                            None
                        },
                    });
                }
            }
            why.extend(required_by.remove(&b).unwrap_or_default());
            // A bundle that is only here because it is installed for another Operator cannot
            // change in this problem: listing its package's other bundles explains nothing.
            let fixed_context = why.iter().all(|w| {
                matches!(
                    w,
                    Why::Installed {
                        fixed_for: Some(_),
                        ..
                    }
                )
            });
            let not_chosen = if fixed_context || !self.options.not_chosen {
                Vec::new()
            } else {
                self.rejections(&bundle.input.package, Some(b), &chosen)
            };
            let deprecations = self.deprecations(b);
            selections.push(Selection {
                package: bundle.input.package.clone(),
                catalog: bundle.input.catalog.clone(),
                bundle: bundle.input.name.clone(),
                image: bundle.input.image.clone(),
                version: version_text(bundle),
                why,
                not_chosen,
                deprecations,
            });
        }
        selections.sort_by(|a, b| a.package.cmp(&b.package));
        Plan { selections }
    }

    /// Indexes the selected bundles for [`Self::rejections`].
    fn chosen_index(&self, selected: &[usize]) -> ChosenIndex {
        let mut sorted = selected.to_vec();
        sorted.sort_unstable();
        let mut index = ChosenIndex {
            selected: sorted.iter().copied().collect(),
            requirers: FxHashMap::default(),
            providers: FxHashMap::default(),
        };
        let package_of = &self.prepared.package_of;
        for &s in &sorted {
            for q in 0..self.prepared.requirement_count(s) {
                let mut packages: Vec<u32> = self
                    .targets(s, q)
                    .iter()
                    .map(|&c| package_of[c as usize])
                    .collect();
                packages.sort_unstable();
                packages.dedup();
                for p in packages {
                    index.requirers.entry(p).or_default().push((s, q));
                }
            }
            for &g in self.prepared.provides(s) {
                index.providers.entry(g).or_default().push(s);
            }
        }
        index
    }

    /// Deprecation notes for a selected bundle: the bundle itself, its package, and each
    /// requested channel of its package that is deprecated.
    fn deprecations(&self, b: usize) -> Vec<String> {
        let bundle = self.bundle(b);
        let mut out = Vec::new();
        if let Some(m) = &bundle.deprecated {
            out.push(format!("bundle {} is deprecated: {m}", bundle.input.name));
        }
        let Some(info) = self
            .catalog
            .package_info(&bundle.input.catalog, &bundle.input.package)
        else {
            return out;
        };
        if let Some(m) = &info.deprecation {
            out.push(format!(
                "package {} is deprecated: {m}",
                bundle.input.package
            ));
        }
        for r in self.requests {
            if r.package != bundle.input.package {
                continue;
            }
            if let Some(c) = &r.channel
                && let Some(m) = info.channel_deprecations.get(c)
            {
                out.push(format!("channel {c} is deprecated: {m}"));
            }
        }
        out
    }

    fn installed_owner(&self, info: &InstalledInfo) -> String {
        let b = self.bundle(info.bundles[0]);
        self.installed
            .iter()
            .find(|i| i.package == b.input.package)
            .map(|i| i.owner.clone())
            .unwrap_or_default()
    }

    /// Every reason a bundle of `package` other than `chosen_here` was not (or could not be)
    /// chosen, given the requests, installed constraints and the selected bundles.
    fn rejections(
        &self,
        package: &str,
        chosen_here: Option<usize>,
        chosen: &ChosenIndex,
    ) -> Vec<Rejection> {
        let prepared = self.prepared;
        let candidates = prepared.preferred(package);
        let mut out = Vec::with_capacity(candidates.len());
        let mut preferred_text: Option<String> = None;
        // What applies to the whole package, looked up once.
        let requests: Vec<(usize, &Request)> = self
            .requests
            .iter()
            .enumerate()
            .filter(|(_, r)| r.package == package)
            .collect();
        let installed: Vec<&InstalledInfo> = self
            .installed_info
            .iter()
            .flatten()
            .filter(|info| self.bundle(info.bundles[0]).input.package == package)
            .collect();
        let requirers = prepared
            .package_id(package)
            .and_then(|p| chosen.requirers.get(&p))
            .map_or(&[][..], Vec::as_slice);
        for b in candidates.iter().map(|&b| b as usize) {
            if Some(b) == chosen_here {
                continue;
            }
            let bundle = self.bundle(b);
            let mut reasons = Vec::with_capacity(1);
            for &(ri, r) in &requests {
                if !self.catalog_allowed(r, bundle) {
                    reasons.push(format!(
                        "catalog {} is not selected by request {}",
                        bundle.input.catalog, r.package
                    ));
                }
                if let Some(c) = &r.channel
                    && !bundle.in_channel(c)
                {
                    reasons.push(format!("not in channel {c:?} requested for {}", r.package));
                }
                if let (Some(text), Some(range)) = (&r.version, &self.request_ranges[ri]) {
                    match &bundle.version {
                        Some(v) if !range.matches(v) => reasons.push(format!(
                            "version {v} is outside the requested range {text:?}"
                        )),
                        None => reasons
                            .push(format!("has no valid version, so it cannot match {text:?}")),
                        _ => {}
                    }
                }
            }
            for info in &installed {
                let cur = self.bundle(info.bundles[0]);
                if !info.allowed.contains(&b) {
                    reasons.push(format!(
                        "not an upgrade edge from the installed {}: it {}",
                        cur.display(),
                        info.rule
                    ));
                }
            }
            // Requirements of selected bundles this package helps satisfy.
            for &(s, q) in requirers {
                if !self.targets(s, q).contains(&(b as u32)) {
                    let requirer = self.bundle(s);
                    let kind = match &requirer.requirements[q] {
                        Requirement::Constraint { .. } => "rejected by the olm.constraint of",
                        _ => "does not satisfy the requirement of",
                    };
                    reasons.push(format!(
                        "{kind} {}: {}",
                        requirer.display(),
                        self.requirement_text(s, q)
                    ));
                }
            }
            if self.options.gvk_uniqueness {
                for &g in prepared.provides(b) {
                    for &s in chosen.providers.get(&g).map_or(&[][..], Vec::as_slice) {
                        let provider = self.bundle(s);
                        if provider.input.package != package {
                            reasons.push(format!(
                                "provides {}, which the selected {} already provides",
                                prepared.gvks[g as usize],
                                provider.display()
                            ));
                        }
                    }
                }
            }
            reasons.extend(bundle.invalid.iter().cloned());
            if let Some(e) = self.exclusion(b) {
                reasons.push(format!("excluded: {e}"));
            }
            if reasons.is_empty() {
                reasons.push(match chosen_here {
                    // Same package: rank order is preference order.
                    Some(c) if prepared.rank[b] > prepared.rank[c] => {
                        // The same sentence for most bundles of a package: format it once.
                        preferred_text
                            .get_or_insert_with(|| {
                                format!("eligible, but {} is preferred", self.bundle(c).display())
                            })
                            .clone()
                    }
                    Some(c) => format!(
                        "eligible and preferred over {}, but not installable together with the rest of the plan",
                        self.bundle(c).display()
                    ),
                    None => "eligible".to_string(),
                });
            }
            out.push(Rejection {
                catalog: bundle.input.catalog.clone(),
                bundle: bundle.input.name.clone(),
                version: version_text(bundle),
                reasons,
            });
        }
        out
    }

    fn meta(&self, a: AppliedConstraint) -> &Meta<'a> {
        &self.metas[self.var_start[a.variable] as usize + a.constraint]
    }

    /// The name of a variable in sentences.
    fn node(&self, var: usize) -> String {
        match self.roles[var] {
            Role::Request(ri) => {
                let r = &self.requests[ri];
                let q = qualifiers(r);
                if q.is_empty() {
                    format!("request {}", r.package)
                } else {
                    format!("request {} ({q})", r.package)
                }
            }
            Role::Installed(ii) => match &self.installed_info[ii] {
                Some(info) if info.fixed => format!(
                    "{} (installed for {})",
                    self.bundle(info.bundles[0]).display(),
                    self.installed[ii].owner
                ),
                Some(info) => format!("the installed {}", self.bundle(info.bundles[0]).display()),
                None => format!("installed package {}", self.installed[ii].package),
            },
            Role::Bundle(b) => self.bundle(b).display(),
            Role::PackageUniqueness(_) | Role::GvkUniqueness(_) => self.var_id(var),
        }
    }

    /// The phrase for following constraint `a` (a dependency) from its subject to `target`.
    fn edge_phrase(&self, a: AppliedConstraint, target: usize) -> String {
        let t = self.node(target);
        match self.meta(a) {
            Meta::RequestCandidates(ri) => {
                if self.request_candidates[*ri].len() == 1 {
                    format!("can only be satisfied by {t}")
                } else {
                    format!("needs {t}")
                }
            }
            Meta::InstalledCandidates(ii) => match &self.installed_info[*ii] {
                Some(info) if info.fixed => "must stay as it is".to_string(),
                Some(info) => {
                    let allowed: Vec<String> = info
                        .allowed
                        .iter()
                        .map(|&b| self.bundle(b).display())
                        .collect();
                    format!("{} (allowed: {})", info.rule, allowed.join(", "))
                }
                None => format!("needs {t}"),
            },
            Meta::BundleRequirement {
                bundle,
                requirement,
            } => {
                format!(
                    "requires {t} ({})",
                    self.requirement_text(*bundle, *requirement)
                )
            }
            _ => format!("needs {t}"),
        }
    }

    fn explain(&self, problem: &Problem, core: &NotSatisfiable) -> Unsatisfiable {
        let applied = &core.constraints;
        // Dependency edges of the core.
        let mut edges: HashMap<usize, Vec<(AppliedConstraint, usize)>> = HashMap::new();
        let index: HashMap<&str, usize> = problem
            .variables
            .iter()
            .enumerate()
            .map(|(i, v)| (v.id.as_str(), i))
            .collect();
        let mut roots = Vec::new();
        for &a in applied {
            let c = &problem.variables[a.variable].constraints[a.constraint];
            match &c.kind {
                model::ConstraintKind::Mandatory => roots.push(a.variable),
                model::ConstraintKind::Dependency(ids) => {
                    for id in ids {
                        if let Some(&t) = index.get(id.as_str()) {
                            edges.entry(a.variable).or_default().push((a, t));
                        }
                    }
                }
                _ => {}
            }
        }
        // Path from a root to a variable, through core dependencies (breadth-first).
        let path_to =
            |root: usize, target: usize| -> Option<Vec<(usize, Option<AppliedConstraint>)>> {
                let mut parent: HashMap<usize, (usize, AppliedConstraint)> = HashMap::new();
                let mut queue = VecDeque::from([root]);
                let mut seen = HashSet::from([root]);
                while let Some(v) = queue.pop_front() {
                    if v == target {
                        let mut path = vec![(v, None)];
                        let mut cur = v;
                        while let Some(&(p, a)) = parent.get(&cur) {
                            path.push((p, Some(a)));
                            cur = p;
                        }
                        path.reverse();
                        return Some(path);
                    }
                    for &(a, t) in edges.get(&v).map(Vec::as_slice).unwrap_or(&[]) {
                        if seen.insert(t) {
                            parent.insert(t, (v, a));
                            queue.push_back(t);
                        }
                    }
                }
                None
            };
        let phrase = |path: &[(usize, Option<AppliedConstraint>)]| -> String {
            let mut s = self.node(path[0].0);
            for (i, w) in path.windows(2).enumerate() {
                if let Some(a) = w[0].1 {
                    let step = self.edge_phrase(a, w[1].0);
                    if i == 0 {
                        s.push_str(&format!(" {step}"));
                    } else {
                        s.push_str(&format!(", which {step}"));
                    }
                }
            }
            s
        };

        let request_roots: Vec<String> = roots
            .iter()
            .filter_map(|&r| match self.roles[r] {
                Role::Request(ri) => Some(self.requests[ri].package.clone()),
                _ => None,
            })
            .collect();
        let mut sentences = Vec::new();
        for &a in applied {
            match self.meta(a) {
                Meta::PackageUniqueness(_) | Meta::GvkUniqueness(_) => {
                    let c = &problem.variables[a.variable].constraints[a.constraint];
                    let model::ConstraintKind::AtMost(_, ids) = &c.kind else {
                        continue;
                    };
                    let members: Vec<usize> = ids
                        .iter()
                        .filter_map(|id| index.get(id.as_str()).copied())
                        .collect();
                    let mut sides: Vec<String> = Vec::new();
                    let mut used_members: HashSet<usize> = HashSet::new();
                    for &root in &roots {
                        for &m in &members {
                            if used_members.contains(&m) {
                                continue;
                            }
                            if let Some(path) = path_to(root, m) {
                                used_members.insert(m);
                                sides.push(phrase(&path));
                                break;
                            }
                        }
                    }
                    let clash = match self.meta(a) {
                        Meta::GvkUniqueness(g) => {
                            format!("only one installed bundle may provide {g}")
                        }
                        Meta::PackageUniqueness(p) => {
                            format!("only one bundle of package {p} can be installed at a time")
                        }
                        _ => String::new(),
                    };
                    if sides.len() >= 2 {
                        sentences.push(format!("{}; {clash}.", sides.join(", but ")));
                    }
                }
                Meta::BundleRequirement {
                    bundle,
                    requirement,
                } if self.targets(*bundle, *requirement).is_empty() => {
                    let what = self.requirement_text(*bundle, *requirement);
                    let lead = roots
                        .iter()
                        .find_map(|&r| path_to(r, a.variable))
                        .map(|p| phrase(&p))
                        .unwrap_or_else(|| self.node(a.variable));
                    sentences.push(format!(
                        "{lead}, which requires {what}, but no bundle in the catalogs satisfies it."
                    ));
                }
                Meta::BundleProhibited { reason, .. } => {
                    let lead = roots
                        .iter()
                        .find_map(|&r| path_to(r, a.variable))
                        .map(|p| phrase(&p))
                        .unwrap_or_else(|| self.node(a.variable));
                    sentences.push(format!("{lead}, which cannot be installed: {reason}."));
                }
                _ => {}
            }
        }
        let subject = match request_roots.as_slice() {
            [] => "The installed bundles are inconsistent".to_string(),
            [one] => format!("Request {one} cannot be satisfied"),
            many => format!(
                "Requests {} and {} cannot be satisfied together",
                many[..many.len() - 1].join(", "),
                many[many.len() - 1]
            ),
        };
        let summary = if sentences.is_empty() {
            format!("{subject}; see the constraints above.")
        } else {
            let mut s = format!("{subject}: {}", sentences[0]);
            for more in &sentences[1..] {
                s.push(' ');
                s.push_str(&capitalise(more));
            }
            s
        };

        let details = applied.iter().map(|&a| self.detail(problem, a)).collect();

        // Bundles of the requested packages in the conflict that were not candidates.
        let mut excluded = Vec::new();
        let chosen = self.chosen_index(&[]);
        let mut seen_packages = HashSet::new();
        for &r in &roots {
            let package = match self.roles[r] {
                Role::Request(ri) => self.requests[ri].package.clone(),
                Role::Installed(ii) => self.installed[ii].package.clone(),
                _ => continue,
            };
            if !seen_packages.insert(package.clone()) {
                continue;
            }
            let candidate_sets: Vec<&Vec<usize>> = self
                .requests
                .iter()
                .enumerate()
                .filter(|(_, q)| q.package == package)
                .map(|(ri, _)| &self.request_candidates[ri])
                .collect();
            for rej in self.rejections(&package, None, &chosen) {
                let is_candidate = candidate_sets.iter().any(|set| {
                    set.iter().any(|&b| {
                        self.bundle(b).input.name == rej.bundle
                            && self.bundle(b).input.catalog == rej.catalog
                    })
                });
                if !is_candidate && !rej.reasons.iter().all(|r| r == "eligible") {
                    excluded.push(rej);
                }
            }
        }

        Unsatisfiable {
            lines: core.lines.clone(),
            summary,
            details,
            conflicting_requests: request_roots,
            excluded,
            skipped_catalogs: self.options.skipped_catalogs.clone(),
            minimal: core.minimal,
        }
    }

    fn detail(&self, problem: &Problem, a: AppliedConstraint) -> String {
        let subject = self.node(a.variable);
        let c = &problem.variables[a.variable].constraints[a.constraint];
        match (self.meta(a), &c.kind) {
            (Meta::Mandatory, _) => format!("{subject} must be satisfied"),
            (Meta::RequestCandidates(ri), model::ConstraintKind::Dependency(_)) => {
                let list: Vec<String> = self.request_candidates[*ri]
                    .iter()
                    .map(|&b| self.bundle(b).display())
                    .collect();
                format!("{subject} can be satisfied by {}", list.join(", "))
            }
            (Meta::InstalledCandidates(ii), _) => match &self.installed_info[*ii] {
                Some(info) => {
                    let allowed: Vec<String> = info
                        .allowed
                        .iter()
                        .map(|&b| self.bundle(b).display())
                        .collect();
                    format!("{subject} {} (allowed: {})", info.rule, allowed.join(", "))
                }
                None => subject,
            },
            (
                Meta::BundleRequirement {
                    bundle,
                    requirement,
                },
                _,
            ) => {
                let targets = self.targets(*bundle, *requirement);
                let what = self.requirement_text(*bundle, *requirement);
                if targets.is_empty() {
                    format!("{subject} requires {what}, which no bundle satisfies")
                } else {
                    let list: Vec<String> = targets
                        .iter()
                        .map(|&b| self.bundle(b as usize).display())
                        .collect();
                    format!("{subject} requires {what}: {}", list.join(", "))
                }
            }
            (Meta::BundleProhibited { reason, .. }, _) => {
                format!("{subject} cannot be installed: {reason}")
            }
            (Meta::PackageUniqueness(p), _) => {
                format!("only one bundle of package {p} can be installed")
            }
            (Meta::GvkUniqueness(g), _) => format!("only one installed bundle may provide {g}"),
            (_, _) => c.line(&problem.variables[a.variable].id),
        }
    }
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().collect::<String>() + chars.as_str(),
        None => String::new(),
    }
}
