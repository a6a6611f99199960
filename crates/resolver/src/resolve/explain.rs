//! Explanations: the unsatisfiable core read back as sentences (the chains of requirements from
//! each request to what clashes), a line per constraint, and the bundles that were not
//! candidates.

use std::collections::{HashMap, HashSet, VecDeque};

use super::problem::{Builder, Meta, Role};
use crate::model::{self, AppliedConstraint, NotSatisfiable, Problem};
use crate::plan::Unsatisfiable;

impl Builder<'_> {
    /// The name of a variable in sentences.
    fn node(&self, var: usize) -> String {
        match self.roles[var] {
            Role::Request(ri) => {
                let r = &self.requests[ri];
                let q = r.qualifiers();
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
                Some(info) => self.upgrade_rule(info),
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

    pub(super) fn explain(&self, problem: &Problem, core: &NotSatisfiable) -> Unsatisfiable {
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
                let list = self.display_list(self.request_candidates[*ri].iter().copied());
                format!("{subject} can be satisfied by {list}")
            }
            (Meta::InstalledCandidates(ii), _) => match &self.installed_info[*ii] {
                Some(info) => format!("{subject} {}", self.upgrade_rule(info)),
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
                    let list = self.display_list(targets.iter().map(|&b| b as usize));
                    format!("{subject} requires {what}: {list}")
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
