//! From catalogs, requests and the installed state to a constraint problem, and back to a plan
//! or an explanation.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Instant;

use semver_ranges::{Constraints, build_id_compare};

use crate::catalog::{Bundle, Catalog, Gvk, Requirement};
use crate::constraint::{CelOutcome, evaluate_rule};
use crate::model::{
    self, AppliedConstraint, Constraint, NotSatisfiable, Problem, SolveError, SolveOptions,
    Variable,
};
use crate::plan::{InputError, Plan, Rejection, ResolveError, Selection, Unsatisfiable, Why};
use crate::request::{
    BundleLocator, Installed, Options, OthersPolicy, Request, SuccessorMode, UpgradePolicy,
};

/// What each constraint of the problem means, for explanations.
#[derive(Debug, Clone)]
enum Meta {
    Mandatory,
    RequestCandidates(usize),
    InstalledCandidates(usize),
    BundleRequirement { bundle: usize, requirement: usize },
    BundleProhibited { reason: String },
    PackageUniqueness(String),
    GvkUniqueness(Gvk),
}

/// What each variable stands for.
#[derive(Debug, Clone)]
enum Role {
    Request(usize),
    Installed(usize),
    Bundle(usize),
    Uniqueness,
}

/// A requirement's identity, for reusing its sorted candidates within one problem.
#[derive(Debug, PartialEq, Eq, Hash)]
enum TargetKey<'a> {
    Package(&'a str, &'a str),
    Gvk(&'a Gvk),
}

/// The selected bundles, indexed by what they require and provide.
struct ChosenIndex<'a> {
    selected: HashSet<usize>,
    /// Package → selected (bundle, requirement) pairs with a candidate in that package, in
    /// bundle order.
    requirers: HashMap<&'a str, Vec<(usize, usize)>>,
    /// GVK → selected providers, in bundle order.
    providers: HashMap<&'a Gvk, Vec<usize>>,
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
    requests: &'a [Request],
    installed: &'a [Installed],
    options: &'a Options,
    variables: Vec<Variable>,
    roles: Vec<Role>,
    metas: Vec<Vec<Meta>>,
    bundle_var: HashMap<usize, usize>,
    /// Candidates per (bundle, requirement index).
    requirement_candidates: HashMap<(usize, usize), Vec<usize>>,
    request_candidates: Vec<Vec<usize>>,
    request_ranges: Vec<Option<Constraints>>,
    installed_info: Vec<Option<InstalledInfo>>,
    cel_cache: HashMap<String, Result<CelOutcome, String>>,
    target_cache: HashMap<TargetKey<'a>, Vec<usize>>,
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
    let problem = Problem {
        variables: std::mem::take(&mut builder.variables),
    };
    let solve_options = SolveOptions {
        deadline,
        minimise_budget: None,
    };
    match model::solve(&problem, &solve_options) {
        Ok(selected) => Ok(builder.plan(&problem, &selected)),
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
                    let problem = Problem {
                        variables: std::mem::take(&mut b.variables),
                    };
                    let opts = SolveOptions {
                        deadline: options.timeout.map(|t| Instant::now() + t),
                        minimise_budget: Some(0),
                    };
                    matches!(
                        model::solve(&problem, &opts),
                        Err(SolveError::NotSatisfiable(_))
                    )
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
            requests,
            installed,
            options,
            variables: Vec::new(),
            roles: Vec::new(),
            metas: Vec::new(),
            bundle_var: HashMap::new(),
            requirement_candidates: HashMap::new(),
            request_candidates: Vec::new(),
            request_ranges: Vec::new(),
            installed_info: Vec::new(),
            cel_cache: HashMap::new(),
            target_cache: HashMap::new(),
            cluster_minor,
        })
    }

    fn bundle(&self, i: usize) -> &'a Bundle {
        &self.catalog.bundles[i]
    }

    /// Preference inside one package: not deprecated, channel head (when a channel is given),
    /// version descending (none last), build metadata, release, catalog priority, catalog name,
    /// bundle name.
    fn cmp_preference(&self, a: usize, b: usize, channel: Option<&str>) -> Ordering {
        let (x, y) = (self.bundle(a), self.bundle(b));
        x.deprecated
            .is_some()
            .cmp(&y.deprecated.is_some())
            .then_with(|| match channel {
                Some(c) => self.is_head(b, c).cmp(&self.is_head(a, c)),
                None => Ordering::Equal,
            })
            .then_with(|| match (&x.version, &y.version) {
                (Some(v), Some(w)) => build_id_compare(w, v),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            })
            .then_with(|| y.release.cmp(&x.release))
            .then_with(|| {
                self.catalog
                    .priority(&y.input.catalog)
                    .cmp(&self.catalog.priority(&x.input.catalog))
            })
            .then_with(|| x.input.catalog.cmp(&y.input.catalog))
            .then_with(|| x.input.name.cmp(&y.input.name))
    }

    /// Cross-package lists: package name first.
    fn cmp_global(&self, a: usize, b: usize) -> Ordering {
        self.bundle(a)
            .input
            .package
            .cmp(&self.bundle(b).input.package)
            .then_with(|| self.cmp_preference(a, b, None))
    }

    /// A channel head: no other entry of the channel (same catalog and package) replaces or
    /// skips it.
    fn is_head(&self, i: usize, channel: &str) -> bool {
        let b = self.bundle(i);
        if !b.in_channel(channel) {
            return false;
        }
        !self.catalog.package(&b.input.package).iter().any(|&o| {
            let other = self.bundle(o);
            o != i
                && other.input.catalog == b.input.catalog
                && other.input.channels.iter().any(|e| {
                    e.channel == channel
                        && (e.replaces.as_deref() == Some(b.input.name.as_str())
                            || e.skips.contains(&b.input.name))
                })
        })
    }

    fn catalog_allowed(&self, r: &Request, b: &Bundle) -> bool {
        r.catalogs
            .as_ref()
            .is_none_or(|c| c.contains(&b.input.catalog))
    }

    fn add_variable(&mut self, id: String, role: Role) -> usize {
        self.variables.push(Variable::new(id));
        self.roles.push(role);
        self.metas.push(Vec::new());
        self.variables.len() - 1
    }

    fn add_constraint(&mut self, var: usize, c: Constraint, meta: Meta) {
        self.variables[var].constraints.push(c);
        self.metas[var].push(meta);
    }

    fn build(&mut self) -> Result<(), InputError> {
        // Required packages.
        for (ri, r) in self.requests.iter().enumerate() {
            let range = match &r.version {
                None => None,
                Some(v) => Some(Constraints::parse(v).map_err(|e| InputError {
                    request: Some(r.package.clone()),
                    message: format!("invalid version range {v:?}: {e}"),
                })?),
            };
            let mut candidates: Vec<usize> = self
                .catalog
                .package(&r.package)
                .iter()
                .copied()
                .filter(|&i| {
                    let b = self.bundle(i);
                    self.catalog_allowed(r, b)
                        && r.channel.as_deref().is_none_or(|c| b.in_channel(c))
                        && range.as_ref().is_none_or(|range| {
                            b.version.as_ref().is_some_and(|v| range.matches(v))
                        })
                })
                .collect();
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
            let channel = r.channel.clone();
            candidates.sort_by(|&a, &b| self.cmp_preference(a, b, channel.as_deref()));
            self.request_candidates.push(candidates);
            self.request_ranges.push(range);
            let var =
                self.add_variable(format!("required package {}", r.package), Role::Request(ri));
            self.add_constraint(var, Constraint::mandatory(), Meta::Mandatory);
        }

        // Installed packages.
        for (ii, inst) in self.installed.iter().enumerate() {
            let info = self.installed_entry(inst)?;
            let Some(info) = info else {
                self.installed_info.push(None);
                continue;
            };
            self.installed_info.push(Some(info));
            let var = self.add_variable(
                format!("installed package {}", inst.package),
                Role::Installed(ii),
            );
            self.add_constraint(var, Constraint::mandatory(), Meta::Mandatory);
        }

        // Bundles reachable from the candidates, breadth-first.
        let mut queue: VecDeque<usize> = VecDeque::new();
        let mut seen: HashSet<usize> = HashSet::new();
        let mut order: Vec<usize> = Vec::new();
        let starts: Vec<usize> = self
            .request_candidates
            .iter()
            .flatten()
            .copied()
            .chain(
                self.installed_info
                    .iter()
                    .flatten()
                    .flat_map(|i| i.allowed.clone()),
            )
            .collect();
        for b in starts {
            if seen.insert(b) {
                queue.push_back(b);
            }
        }
        while let Some(b) = queue.pop_front() {
            order.push(b);
            let n = self.bundle(b).requirements.len();
            for q in 0..n {
                let candidates = self.requirement_targets(b, q);
                for &c in &candidates {
                    if seen.insert(c) {
                        queue.push_back(c);
                    }
                }
                self.requirement_candidates.insert((b, q), candidates);
            }
        }
        // Bundle variables grouped by package in preference order (the engine then sees each
        // candidate list as one contiguous run); uniqueness lists keep deppy's first-seen order.
        let first_seen = order.clone();
        order.sort_by(|&a, &b| self.cmp_global(a, b));
        for &b in &order {
            let id = self.bundle(b).id();
            let var = self.add_variable(id, Role::Bundle(b));
            self.bundle_var.insert(b, var);
        }

        // Request and installed dependencies.
        for ri in 0..self.requests.len() {
            let ids: Vec<String> = self.request_candidates[ri]
                .iter()
                .map(|&b| self.bundle(b).id())
                .collect();
            self.add_constraint(ri, Constraint::dependency(ids), Meta::RequestCandidates(ri));
        }
        let mut var = self.requests.len();
        for ii in 0..self.installed.len() {
            let Some(info) = &self.installed_info[ii] else {
                continue;
            };
            let ids: Vec<String> = info.allowed.iter().map(|&b| self.bundle(b).id()).collect();
            self.add_constraint(
                var,
                Constraint::dependency(ids),
                Meta::InstalledCandidates(ii),
            );
            var += 1;
        }

        // Bundle constraints.
        for &b in &order {
            let var = self.bundle_var[&b];
            let bundle = self.bundle(b);
            let id = bundle.id();
            for q in 0..bundle.requirements.len() {
                let targets = &self.requirement_candidates[&(b, q)];
                let ids: Vec<String> = targets.iter().map(|&t| self.bundle(t).id()).collect();
                let mut c = Constraint::dependency(ids);
                if targets.is_empty()
                    && let Requirement::Constraint {
                        failure_message: Some(msg),
                        ..
                    } = &bundle.requirements[q]
                {
                    c = c.with_message(format!(
                        "{id} has a dependency without any candidates to satisfy it: {msg}"
                    ));
                }
                self.add_constraint(
                    var,
                    c,
                    Meta::BundleRequirement {
                        bundle: b,
                        requirement: q,
                    },
                );
            }
            let mut reasons: Vec<String> = bundle.invalid.clone();
            if let Some(reason) = self.exclusion(b) {
                reasons.push(reason);
            }
            for reason in reasons {
                let c =
                    Constraint::prohibited().with_message(format!("{id} is prohibited: {reason}"));
                self.add_constraint(var, c, Meta::BundleProhibited { reason });
            }
        }

        // Package uniqueness, in first-seen package order.
        let mut packages: Vec<String> = Vec::new();
        let mut members: HashMap<String, Vec<String>> = HashMap::new();
        for &b in &first_seen {
            let bundle = self.bundle(b);
            if !members.contains_key(&bundle.input.package) {
                packages.push(bundle.input.package.clone());
            }
            members
                .entry(bundle.input.package.clone())
                .or_default()
                .push(bundle.id());
        }
        for p in packages {
            let ids = members.remove(&p).unwrap_or_default();
            let var = self.add_variable(format!("{p} package uniqueness"), Role::Uniqueness);
            self.add_constraint(var, Constraint::at_most(1, ids), Meta::PackageUniqueness(p));
        }

        // GVK-provider uniqueness across packages (only possible with two or more packages).
        let catalog = self.catalog;
        let several_packages = first_seen.first().is_some_and(|&f| {
            let package = &catalog.bundles[f].input.package;
            first_seen
                .iter()
                .any(|&b| catalog.bundles[b].input.package != *package)
        });
        if self.options.gvk_uniqueness && several_packages {
            let mut providers: Vec<(&Gvk, Vec<usize>)> = Vec::new();
            let mut index: HashMap<&Gvk, usize> = HashMap::new();
            for &b in &first_seen {
                for g in &catalog.bundles[b].provides {
                    let slot = *index.entry(g).or_insert_with(|| {
                        providers.push((g, Vec::new()));
                        providers.len() - 1
                    });
                    providers[slot].1.push(b);
                }
            }
            providers.sort_by(|a, b| a.0.cmp(b.0));
            for (g, list) in providers {
                let distinct: HashSet<&str> = list
                    .iter()
                    .map(|&b| self.bundle(b).input.package.as_str())
                    .collect();
                if distinct.len() < 2 {
                    continue;
                }
                let ids: Vec<String> = list.iter().map(|&b| self.bundle(b).id()).collect();
                let var = self.add_variable(
                    format!(
                        "group:{:?} version:{:?} kind:{:?} gvk uniqueness",
                        g.group, g.version, g.kind
                    ),
                    Role::Uniqueness,
                );
                self.add_constraint(
                    var,
                    Constraint::at_most(1, ids),
                    Meta::GvkUniqueness(g.clone()),
                );
            }
        }
        Ok(())
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
        let mut bundles: Vec<usize> = self
            .catalog
            .package(&inst.package)
            .iter()
            .copied()
            .filter(|&i| {
                let b = self.bundle(i);
                match &inst.bundle {
                    BundleLocator::Name(n) => b.input.name == *n,
                    BundleLocator::Image(img) => b.input.image == *img,
                    BundleLocator::Version(v) => {
                        let wanted = semver_ranges::parse_strict(v).ok();
                        b.version
                            .as_ref()
                            .zip(wanted.as_ref())
                            .is_some_and(|(x, y)| x.cmp_precedence(y).is_eq())
                    }
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
        bundles.sort_by(|&a, &b| self.cmp_preference(a, b, None));
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
        successors.sort_by(|&a, &b| self.cmp_preference(a, b, None));
        let mut allowed = successors;
        allowed.extend(bundles.iter().copied());
        Ok(Some(InstalledInfo {
            bundles,
            fixed,
            allowed,
            rule,
        }))
    }

    /// Upgrade targets of an installed bundle, and a description of the rule used.
    fn successors(&self, current: usize, channel: Option<&str>) -> (Vec<usize>, String) {
        let cur = self.bundle(current);
        let package = &cur.input.package;
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
                let list = self
                    .catalog
                    .package(package)
                    .iter()
                    .copied()
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
                let list = self
                    .catalog
                    .package(package)
                    .iter()
                    .copied()
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

    /// Candidates of requirement `q` of bundle `b`, in preference order.
    fn requirement_targets(&mut self, b: usize, q: usize) -> Vec<usize> {
        // Many bundles share a requirement (every version of a consumer requires the same API);
        // compute and sort each distinct one once per problem.
        let catalog = self.catalog;
        let key = match &catalog.bundles[b].requirements[q] {
            Requirement::Package {
                package,
                range_text,
                ..
            } => Some(TargetKey::Package(package, range_text)),
            Requirement::Gvk(g) => Some(TargetKey::Gvk(g)),
            Requirement::Constraint { .. } => None,
        };
        if let Some(list) = key.as_ref().and_then(|k| self.target_cache.get(k)) {
            return list.clone();
        }
        let list = self.compute_requirement_targets(b, q);
        if let Some(k) = key {
            self.target_cache.insert(k, list.clone());
        }
        list
    }

    fn compute_requirement_targets(&mut self, b: usize, q: usize) -> Vec<usize> {
        let bundle = self.bundle(b);
        let mut list: Vec<usize> = match &bundle.requirements[q] {
            Requirement::Package { package, range, .. } => self
                .catalog
                .package(package)
                .iter()
                .copied()
                .filter(|&i| {
                    self.bundle(i)
                        .version
                        .as_ref()
                        .is_some_and(|v| range.matches(v))
                })
                .collect(),
            Requirement::Gvk(g) => self.catalog.by_gvk.get(g).cloned().unwrap_or_default(),
            Requirement::Constraint { expr, .. } => {
                let expr = expr.clone();
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
                (0..self.catalog.bundles.len())
                    .filter(|&i| expr.holds(i, self.bundle(i), &lookup))
                    .collect()
            }
        };
        list.sort_by(|&x, &y| self.cmp_global(x, y));
        list.dedup();
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

    fn plan(&self, problem: &Problem, selected: &[usize]) -> Plan {
        let selected_bundles: Vec<usize> = selected
            .iter()
            .filter_map(|&v| match self.roles[v] {
                Role::Bundle(b) => Some(b),
                _ => None,
            })
            .collect();
        let chosen = self.chosen_index(&selected_bundles);
        // Who requires each selected bundle, computed once (not per pair of selected bundles).
        let mut required_by: HashMap<usize, Vec<Why>> = HashMap::new();
        for &s in &selected_bundles {
            for q in 0..self.bundle(s).requirements.len() {
                for &c in &self.requirement_candidates[&(s, q)] {
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
            let not_chosen = if fixed_context {
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
        let _ = problem;
        selections.sort_by(|a, b| a.package.cmp(&b.package));
        Plan { selections }
    }

    /// Indexes the selected bundles for [`Self::rejections`].
    fn chosen_index(&self, selected: &[usize]) -> ChosenIndex<'a> {
        let mut sorted = selected.to_vec();
        sorted.sort_unstable();
        let mut index = ChosenIndex {
            selected: sorted.iter().copied().collect(),
            requirers: HashMap::new(),
            providers: HashMap::new(),
        };
        let catalog = self.catalog;
        for &s in &sorted {
            let requirer = &catalog.bundles[s];
            for q in 0..requirer.requirements.len() {
                let mut packages: Vec<&'a str> = self.requirement_candidates[&(s, q)]
                    .iter()
                    .map(|&c| catalog.bundles[c].input.package.as_str())
                    .collect();
                packages.sort_unstable();
                packages.dedup();
                for p in packages {
                    index.requirers.entry(p).or_default().push((s, q));
                }
            }
            for g in &requirer.provides {
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
        chosen: &ChosenIndex<'_>,
    ) -> Vec<Rejection> {
        let mut out = Vec::new();
        let mut preferred_text: Option<String> = None;
        let mut all: Vec<usize> = self.catalog.package(package).to_vec();
        all.sort_by(|&a, &b| self.cmp_preference(a, b, None));
        for b in all {
            if Some(b) == chosen_here {
                continue;
            }
            let bundle = self.bundle(b);
            let mut reasons = Vec::new();
            for (ri, r) in self.requests.iter().enumerate() {
                if r.package != package {
                    continue;
                }
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
            for info in self.installed_info.iter().flatten() {
                let cur = self.bundle(info.bundles[0]);
                if cur.input.package == package && !info.allowed.contains(&b) {
                    reasons.push(format!(
                        "not an upgrade edge from the installed {}: it {}",
                        cur.display(),
                        info.rule
                    ));
                }
            }
            // Requirements of selected bundles this package helps satisfy.
            for &(s, q) in chosen.requirers.get(package).map_or(&[][..], Vec::as_slice) {
                if !self.requirement_candidates[&(s, q)].contains(&b) {
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
                for g in &bundle.provides {
                    for &s in chosen.providers.get(g).map_or(&[][..], Vec::as_slice) {
                        let provider = self.bundle(s);
                        if provider.input.package != package {
                            reasons.push(format!(
                                "provides {g}, which the selected {} already provides",
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
                    Some(c) if self.cmp_preference(b, c, None) == Ordering::Greater => {
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

    fn meta(&self, a: AppliedConstraint) -> &Meta {
        &self.metas[a.variable][a.constraint]
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
            Role::Uniqueness => self.variables_id(var),
        }
    }

    fn variables_id(&self, var: usize) -> String {
        self.variables
            .get(var)
            .map(|v| v.id.clone())
            .unwrap_or_default()
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
                } if self
                    .requirement_candidates
                    .get(&(*bundle, *requirement))
                    .is_some_and(Vec::is_empty) =>
                {
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
                let targets = &self.requirement_candidates[&(*bundle, *requirement)];
                let what = self.requirement_text(*bundle, *requirement);
                if targets.is_empty() {
                    format!("{subject} requires {what}, which no bundle satisfies")
                } else {
                    let list: Vec<String> =
                        targets.iter().map(|&b| self.bundle(b).display()).collect();
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
