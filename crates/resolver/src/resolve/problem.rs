//! Problem building: requests, installed bundles and the bundles reachable from them become
//! variables and constraints, in deppy's order.

use std::collections::{HashMap, VecDeque};

use rustc_hash::{FxHashMap, FxHashSet};
use semver_ranges::Constraints;

use super::upgrades;
use crate::bundle::{Bundle, Requirement};
use crate::catalog::Catalog;
use crate::constraint::{CelError, CelOutcome, evaluate_rule};
use crate::input::Gvk;
use crate::model::{
    AppliedConstraint, Constraint, ConstraintKind, IndexedProblem, Kind, Problem, Variable,
};
use crate::plan::InputError;
use crate::prepared::PreparedCatalog;
use crate::request::{BundleLocator, Installed, Options, OthersPolicy, Request, UpgradePolicy};

/// What each constraint of the problem means, for explanations.
#[derive(Debug, Clone)]
pub(super) enum Meta<'a> {
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
pub(super) enum Role<'a> {
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

/// A resolved installed entry.
pub(super) struct InstalledInfo {
    /// Matching bundles (same bundle in several catalogs), preferred first.
    pub(super) bundles: Vec<usize>,
    /// Whether the entry is a fixed fact (no upgrades).
    pub(super) fixed: bool,
    /// Allowed targets: successors then the installed bundles.
    pub(super) allowed: Vec<usize>,
    /// Human description of the upgrade rule.
    pub(super) rule: String,
}

/// One resolution problem: the input, and the variables and constraints built from it.
pub(super) struct Builder<'a> {
    pub(super) catalog: &'a Catalog,
    pub(super) prepared: &'a PreparedCatalog,
    pub(super) requests: &'a [Request],
    pub(super) installed: &'a [Installed],
    pub(super) options: &'a Options,
    /// What each variable stands for, in variable order.
    pub(super) roles: Vec<Role<'a>>,
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
    pub(super) request_candidates: Vec<Vec<usize>>,
    pub(super) request_ranges: Vec<Option<Constraints>>,
    pub(super) installed_info: Vec<Option<InstalledInfo>>,
    cel_cache: HashMap<String, Result<CelOutcome, CelError>>,
    cluster_minor: Option<(u64, u64)>,
}

impl<'a> Builder<'a> {
    pub(super) fn new(
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

    pub(super) fn bundle(&self, i: usize) -> &'a Bundle {
        &self.catalog.bundles[i]
    }

    pub(super) fn catalog_allowed(&self, r: &Request, b: &Bundle) -> bool {
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

    /// Adds every variable and constraint, in deppy's order.
    pub(super) fn build(&mut self) -> Result<(), InputError> {
        let roots = self.requests.len() + self.installed.len();
        self.roles.reserve(roots);
        self.added.reserve(2 * roots);
        self.add_required_packages()?;
        self.add_installed_packages()?;
        let first_seen = self.reachable_bundles();
        let order = self.add_bundle_variables(&first_seen);
        self.add_root_dependencies();
        self.add_bundle_constraints(&order);
        let several_packages = self.add_package_uniqueness(&first_seen);
        // Providers of one API can only clash across two or more packages.
        if self.options.gvk_uniqueness && several_packages {
            self.add_gvk_uniqueness(&first_seen);
        }
        Ok(())
    }

    /// Required packages: a mandatory variable per request, and its candidates.
    fn add_required_packages(&mut self) -> Result<(), InputError> {
        for (ri, r) in self.requests.iter().enumerate() {
            let (candidates, range) = self.request_candidates_of(r)?;
            self.request_candidates.push(candidates);
            self.request_ranges.push(range);
            let var = self.add_variable(Role::Request(ri));
            self.add_constraint(var, Kind::Mandatory, [], None, Meta::Mandatory);
        }
        Ok(())
    }

    /// The candidates of a request, preferred first, and its parsed version range.
    fn request_candidates_of(
        &self,
        r: &Request,
    ) -> Result<(Vec<usize>, Option<Constraints>), InputError> {
        let prepared = self.prepared;
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
                    !prepared.is_head(&self.catalog.bundles, i, c),
                )
            });
        }
        Ok((candidates, range))
    }

    /// Installed packages: a mandatory variable per installed entry that is not ignored.
    fn add_installed_packages(&mut self) -> Result<(), InputError> {
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
        Ok(())
    }

    /// Bundles reachable from the candidates, breadth-first: deppy's first-seen order.
    fn reachable_bundles(&mut self) -> Vec<usize> {
        let prepared = self.prepared;
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
        order
    }

    /// Bundle variables grouped by package in preference order (the engine then sees each
    /// candidate list as one contiguous run); uniqueness lists keep deppy's first-seen order.
    /// Returns the bundles in variable order.
    fn add_bundle_variables(&mut self, first_seen: &[usize]) -> Vec<usize> {
        let prepared = self.prepared;
        let mut order = first_seen.to_vec();
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
        order
    }

    /// Request and installed dependencies: each root needs one of its candidates.
    fn add_root_dependencies(&mut self) {
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
    }

    /// Bundle constraints: a dependency per requirement, and a prohibition per reason the
    /// bundle cannot be installed.
    fn add_bundle_constraints(&mut self, order: &[usize]) {
        let prepared = self.prepared;
        for &b in order {
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
    }

    /// Package uniqueness, in first-seen package order; returns whether there are several
    /// packages.
    fn add_package_uniqueness(&mut self, first_seen: &[usize]) -> bool {
        let prepared = self.prepared;
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
        packages.len() > 1
    }

    /// GVK-provider uniqueness across packages: at most one selected provider of each API.
    fn add_gvk_uniqueness(&mut self, first_seen: &[usize]) {
        let prepared = self.prepared;
        let mut providers: Vec<(u32, Vec<usize>)> = Vec::new();
        let mut index: FxHashMap<u32, usize> = FxHashMap::default();
        for &b in first_seen {
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

    /// Orders the added constraints by (variable, insertion) — deppy's input order — and
    /// returns the indexed problem.
    pub(super) fn finish(&mut self) -> IndexedProblem {
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
    pub(super) fn identifiers_distinct(&self) -> bool {
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
    pub(super) fn var_id(&self, var: usize) -> String {
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
    pub(super) fn problem(&self, indexed: &IndexedProblem) -> Problem {
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
    pub(super) fn exclusion(&self, b: usize) -> Option<String> {
        let (major, minor) = self.cluster_minor?;
        match &self.bundle(b).max_openshift {
            Some(Ok((mmaj, mmin))) if (*mmaj, *mmin) < (major, minor) => Some(format!(
                "olm.maxOpenShiftVersion {mmaj}.{mmin} is older than the cluster version {major}.{minor}"
            )),
            Some(Err(e)) => Some(e.to_string()),
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
            upgrades::successors(
                self.catalog,
                self.options.successors,
                current,
                channel.as_deref(),
            )
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

    /// Candidates of requirement `q` of bundle `b`, in preference order (once the bundle has
    /// been reached by [`Self::build`]).
    pub(super) fn targets(&self, b: usize, q: usize) -> &[u32] {
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
            .filter(|&i| self.bundle(i).satisfies(i, expr, &lookup))
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

    pub(super) fn requirement_text(&self, b: usize, q: usize) -> String {
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

    /// What applied constraint `a` means.
    pub(super) fn meta(&self, a: AppliedConstraint) -> &Meta<'a> {
        &self.metas[self.var_start[a.variable] as usize + a.constraint]
    }

    /// The bundles as sentences name them, joined by commas.
    pub(super) fn display_list(&self, bundles: impl IntoIterator<Item = usize>) -> String {
        bundles
            .into_iter()
            .map(|b| self.bundle(b).display())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// An installed entry's upgrade rule and the bundles it allows.
    pub(super) fn upgrade_rule(&self, info: &InstalledInfo) -> String {
        format!(
            "{} (allowed: {})",
            info.rule,
            self.display_list(info.allowed.iter().copied())
        )
    }
}
