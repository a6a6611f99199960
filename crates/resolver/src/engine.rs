//! The resolvo engine behind the constraint layer.
//!
//! Encoding (every choice keeps the deppy semantics of [`crate::model`]):
//!
//! * each variable is a resolvo solvable; the members of the first `AtMost(1, …)` groups that
//!   do not overlap share one package name (resolvo's built-in "one solvable per name");
//!   every other variable gets a name of its own;
//! * `Mandatory(s)` is a root requirement on `{s}`; `Dependency(s, ids)` is a requirement of
//!   `s` on the union of the ids, split into runs so that the union's candidate order is the
//!   dependency's order exactly (candidates inside a run are sorted by input order);
//! * `Prohibited(s)` excludes `s` with a reason pointing back at the constraint;
//!   `Conflict(s, id)` makes `s` constrain `id`'s name to "anything but id";
//! * overlapping or larger `AtMost(n, …)` groups use `n` slot names: every member requires one
//!   of its slots, and a name holds at most one selected slot;
//! * `Or` clauses map to a dependency, a conflict or a root union by their signs.
//!
//! The conflict graph of an unsatisfiable problem is mapped back to applied constraints (a hint
//! for the minimisation in `model`).

use std::collections::HashMap;
use std::fmt::Display;
use std::time::Instant;

use resolvo::{
    Candidates, Condition, ConditionId, ConditionalRequirement, Dependencies, DependencyProvider,
    HintDependenciesAvailable, Interner, KnownDependencies, NameId, Problem, Requirement,
    SolvableId, Solver, SolverCache, StringId, UnsolvableOrCancelled, VersionSetId,
    VersionSetUnionId,
    conflict::{ConflictCause, ConflictEdge, ConflictNode},
};

use crate::model::{ConstraintKind, IndexedProblem};

/// What one satisfiability check found.
pub(crate) enum EngineOutcome {
    /// Selected variable indices, in input order.
    Satisfiable(Vec<usize>),
    /// Indices into `IndexedProblem::applied` involved in the conflict (not necessarily
    /// minimal, possibly incomplete).
    Unsatisfiable(Vec<usize>),
    /// The deadline passed.
    Cancelled,
}

#[derive(Clone, Copy)]
enum SolvableKind {
    Variable(usize),
    Slot,
}

struct NameInfo {
    label: String,
    solvables: Vec<SolvableId>,
    /// The applied `AtMost` constraint that forbids two solvables of this name together.
    group: Option<usize>,
    excluded: Vec<(SolvableId, StringId)>,
}

struct VersionSetInfo {
    name: NameId,
    /// Sorted solvable ids.
    members: Vec<SolvableId>,
    /// The applied constraint this set encodes.
    origin: usize,
}

struct Encoding {
    names: Vec<NameInfo>,
    solvable_name: Vec<NameId>,
    solvable_kind: Vec<SolvableKind>,
    solvable_label: Vec<String>,
    version_sets: Vec<VersionSetInfo>,
    unions: Vec<Vec<VersionSetId>>,
    deps: Vec<KnownDependencies>,
    /// Excluded-reason strings; reason i is applied constraint `reason_origin[i]`.
    strings: Vec<String>,
    reason_origin: Vec<usize>,
    root: Vec<ConditionalRequirement>,
    deadline: Option<Instant>,
}

fn sid(i: usize) -> SolvableId {
    SolvableId::from_raw(i as u32)
}

fn nid(i: usize) -> NameId {
    NameId::from_raw(i as u32)
}

impl Encoding {
    fn new_name(&mut self, label: String, group: Option<usize>) -> NameId {
        self.names.push(NameInfo {
            label,
            solvables: Vec::new(),
            group,
            excluded: Vec::new(),
        });
        nid(self.names.len() - 1)
    }

    fn new_solvable(&mut self, name: NameId, kind: SolvableKind, label: String) -> SolvableId {
        let id = sid(self.solvable_kind.len());
        self.solvable_kind.push(kind);
        self.solvable_name.push(name);
        self.solvable_label.push(label);
        self.deps.push(KnownDependencies::default());
        self.names[name.into_raw() as usize].solvables.push(id);
        id
    }

    fn version_set(
        &mut self,
        name: NameId,
        mut members: Vec<SolvableId>,
        origin: usize,
    ) -> VersionSetId {
        members.sort_unstable_by_key(|s| s.into_raw());
        members.dedup();
        self.version_sets.push(VersionSetInfo {
            name,
            members,
            origin,
        });
        VersionSetId((self.version_sets.len() - 1) as u32)
    }

    /// A requirement on `targets` in exactly this order of preference.
    fn ordered_requirement(
        &mut self,
        targets: &[SolvableId],
        origin: usize,
        fallback: NameId,
    ) -> Requirement {
        if targets.is_empty() {
            return Requirement::Single(self.version_set(fallback, Vec::new(), origin));
        }
        let mut runs: Vec<(NameId, Vec<SolvableId>)> = Vec::new();
        for &t in targets {
            let name = self.solvable_name[t.into_raw() as usize];
            match runs.last_mut() {
                Some((n, members))
                    if *n == name
                        && members.last().is_some_and(|l| l.into_raw() < t.into_raw()) =>
                {
                    members.push(t)
                }
                _ => runs.push((name, vec![t])),
            }
        }
        let sets: Vec<VersionSetId> = runs
            .into_iter()
            .map(|(name, members)| self.version_set(name, members, origin))
            .collect();
        if sets.len() == 1 {
            Requirement::Single(sets[0])
        } else {
            self.unions.push(sets);
            Requirement::Union(VersionSetUnionId((self.unions.len() - 1) as u32))
        }
    }
}

fn encode(indexed: &IndexedProblem<'_>, enabled: &[bool], deadline: Option<Instant>) -> Encoding {
    let vars = &indexed.problem.variables;
    let mut enc = Encoding {
        names: Vec::new(),
        solvable_name: Vec::new(),
        solvable_kind: Vec::new(),
        solvable_label: Vec::new(),
        version_sets: Vec::new(),
        unions: Vec::new(),
        deps: Vec::new(),
        strings: Vec::new(),
        reason_origin: Vec::new(),
        root: Vec::new(),
        deadline,
    };

    // Native groups: non-overlapping AtMost(1) constraints become shared names.
    let mut native: Vec<Option<NameId>> = vec![None; vars.len()];
    let mut handled_natively = vec![false; indexed.applied.len()];
    for a in 0..indexed.applied.len() {
        if !enabled[a] {
            continue;
        }
        if let ConstraintKind::AtMost(1, _) = indexed.constraint(a).kind {
            let mut members = indexed.refs[a].clone();
            members.sort_unstable();
            members.dedup();
            if members.iter().all(|&m| native[m].is_none()) {
                let subject = &vars[indexed.subject(a)].id;
                let name = enc.new_name(subject.clone(), Some(a));
                for m in members {
                    native[m] = Some(name);
                }
                handled_natively[a] = true;
            }
        }
    }
    // Solvables in input order, so that solvable order = variable order.
    let mut var_solvable = Vec::with_capacity(vars.len());
    for (i, v) in vars.iter().enumerate() {
        let name = match native[i] {
            Some(name) => name,
            None => enc.new_name(v.id.clone(), None),
        };
        var_solvable.push(enc.new_solvable(name, SolvableKind::Variable(i), v.id.clone()));
    }
    let name_of = |enc: &Encoding, v: usize| enc.solvable_name[var_solvable[v].into_raw() as usize];

    for a in 0..indexed.applied.len() {
        if !enabled[a] {
            continue;
        }
        let subject = indexed.subject(a);
        let s = var_solvable[subject];
        let refs: Vec<SolvableId> = indexed.refs[a].iter().map(|&v| var_solvable[v]).collect();
        match &indexed.constraint(a).kind {
            ConstraintKind::Mandatory => {
                let vs = enc.version_set(name_of(&enc, subject), vec![s], a);
                enc.root.push(Requirement::Single(vs).into());
            }
            ConstraintKind::Prohibited => {
                let reason = enc.strings.len();
                enc.strings.push(format!("constraint {a}"));
                enc.reason_origin.push(a);
                let name = name_of(&enc, subject);
                enc.names[name.into_raw() as usize]
                    .excluded
                    .push((s, StringId(reason as u32)));
            }
            ConstraintKind::Dependency(_) => {
                let own = name_of(&enc, subject);
                let req = enc.ordered_requirement(&refs, a, own);
                enc.deps[s.into_raw() as usize]
                    .requirements
                    .push(req.into());
            }
            ConstraintKind::Conflict(_) => {
                let other = indexed.refs[a][0];
                push_conflict(&mut enc, s, var_solvable[other], a);
            }
            ConstraintKind::Or {
                negate_subject,
                negate_other,
                ..
            } => {
                let other = var_solvable[indexed.refs[a][0]];
                match (negate_subject, negate_other) {
                    (true, false) => {
                        let fallback = enc.solvable_name[other.into_raw() as usize];
                        let req = enc.ordered_requirement(&[other], a, fallback);
                        enc.deps[s.into_raw() as usize]
                            .requirements
                            .push(req.into());
                    }
                    (false, true) => {
                        let fallback = enc.solvable_name[s.into_raw() as usize];
                        let req = enc.ordered_requirement(&[s], a, fallback);
                        enc.deps[other.into_raw() as usize]
                            .requirements
                            .push(req.into());
                    }
                    (true, true) => push_conflict(&mut enc, s, other, a),
                    (false, false) => {
                        let fallback = enc.solvable_name[s.into_raw() as usize];
                        let req = enc.ordered_requirement(&[s, other], a, fallback);
                        enc.root.push(req.into());
                    }
                }
            }
            ConstraintKind::AtMost(n, _) => {
                if handled_natively[a] {
                    continue;
                }
                let mut members = indexed.refs[a].clone();
                members.sort_unstable();
                members.dedup();
                let n = *n;
                if n >= members.len() {
                    continue;
                }
                let label = vars[subject].id.clone();
                if n == 0 {
                    for m in members {
                        let ms = var_solvable[m];
                        let own = enc.solvable_name[ms.into_raw() as usize];
                        let req = enc.ordered_requirement(&[], a, own);
                        enc.deps[ms.into_raw() as usize]
                            .requirements
                            .push(req.into());
                    }
                    continue;
                }
                let slot_names: Vec<NameId> = (0..n)
                    .map(|k| enc.new_name(format!("{label} [slot {k}]"), Some(a)))
                    .collect();
                for m in members {
                    let ms = var_solvable[m];
                    let slots: Vec<SolvableId> = slot_names
                        .iter()
                        .map(|&name| {
                            enc.new_solvable(
                                name,
                                SolvableKind::Slot,
                                format!("{label} slot for {}", vars[m].id),
                            )
                        })
                        .collect();
                    let fallback = slot_names[0];
                    let req = enc.ordered_requirement(&slots, a, fallback);
                    enc.deps[ms.into_raw() as usize]
                        .requirements
                        .push(req.into());
                }
            }
        }
    }
    enc
}

fn push_conflict(enc: &mut Encoding, s: SolvableId, other: SolvableId, origin: usize) {
    let name = enc.solvable_name[other.into_raw() as usize];
    let members: Vec<SolvableId> = enc.names[name.into_raw() as usize]
        .solvables
        .iter()
        .copied()
        .filter(|&x| x != other)
        .collect();
    let vs = enc.version_set(name, members, origin);
    enc.deps[s.into_raw() as usize].constrains.push(vs);
}

impl Interner for Encoding {
    type NameId = NameId;
    type SolvableId = SolvableId;

    fn display_solvable(&self, solvable: SolvableId) -> impl Display + '_ {
        self.solvable_label[solvable.into_raw() as usize].as_str()
    }

    fn display_name(&self, name: NameId) -> impl Display + '_ {
        self.names[name.into_raw() as usize].label.as_str()
    }

    fn display_version_set(&self, version_set: VersionSetId) -> impl Display + '_ {
        self.version_sets[version_set.0 as usize]
            .members
            .iter()
            .map(|s| self.solvable_label[s.into_raw() as usize].as_str())
            .collect::<Vec<_>>()
            .join(" | ")
    }

    fn display_string(&self, string_id: StringId) -> impl Display + '_ {
        self.strings
            .get(string_id.0 as usize)
            .map(String::as_str)
            .unwrap_or("")
    }

    fn version_set_name(&self, version_set: VersionSetId) -> NameId {
        self.version_sets[version_set.0 as usize].name
    }

    fn solvable_name(&self, solvable: SolvableId) -> NameId {
        self.solvable_name[solvable.into_raw() as usize]
    }

    fn version_sets_in_union(
        &self,
        union: VersionSetUnionId,
    ) -> impl Iterator<Item = VersionSetId> {
        self.unions[union.0 as usize].clone().into_iter()
    }

    fn resolve_condition(&self, _condition: ConditionId) -> Condition {
        // No conditional requirements are ever created; this keeps the trait total.
        Condition::Requirement(VersionSetId(0))
    }
}

impl DependencyProvider for Encoding {
    async fn filter_candidates(
        &self,
        candidates: &[SolvableId],
        version_set: VersionSetId,
        inverse: bool,
    ) -> Vec<SolvableId> {
        let members = &self.version_sets[version_set.0 as usize].members;
        candidates
            .iter()
            .copied()
            .filter(|c| {
                members
                    .binary_search_by_key(&c.into_raw(), |m| m.into_raw())
                    .is_ok()
                    != inverse
            })
            .collect()
    }

    async fn get_candidates(&self, name: NameId) -> Option<Candidates<SolvableId>> {
        let info = self.names.get(name.into_raw() as usize)?;
        Some(Candidates {
            candidates: info.solvables.clone(),
            excluded: info.excluded.clone(),
            hint_dependencies_available: HintDependenciesAvailable::All,
            ..Candidates::default()
        })
    }

    async fn sort_candidates(&self, _solver: &SolverCache<Self>, solvables: &mut [SolvableId]) {
        solvables.sort_unstable_by_key(|s| s.into_raw());
    }

    async fn get_dependencies(&self, solvable: SolvableId) -> Dependencies {
        Dependencies::Known(self.deps[solvable.into_raw() as usize].clone())
    }

    fn should_cancel_with_value(&self) -> Option<Box<dyn std::any::Any>> {
        let deadline = self.deadline?;
        if Instant::now() >= deadline {
            Some(Box::new(()))
        } else {
            None
        }
    }
}

/// Checks the problem restricted to the enabled applied constraints.
pub(crate) fn check(
    indexed: &IndexedProblem<'_>,
    enabled: &[bool],
    deadline: Option<Instant>,
) -> EngineOutcome {
    let enc = encode(indexed, enabled, deadline);
    let root = enc.root.clone();
    let mut solver = Solver::new(enc);
    match solver.solve(Problem::new().requirements(root)) {
        Ok(solvables) => {
            let enc = solver.provider();
            let mut selected: Vec<usize> = solvables
                .into_iter()
                .filter_map(|s| match enc.solvable_kind[s.into_raw() as usize] {
                    SolvableKind::Variable(v) => Some(v),
                    SolvableKind::Slot => None,
                })
                .collect();
            selected.sort_unstable();
            selected.dedup();
            EngineOutcome::Satisfiable(selected)
        }
        Err(UnsolvableOrCancelled::Cancelled(_)) => EngineOutcome::Cancelled,
        Err(UnsolvableOrCancelled::Unsolvable(conflict)) => {
            let graph = conflict.graph(&solver);
            let enc = solver.provider();
            let mut core: HashMap<usize, ()> = HashMap::new();
            let node_name = |node: &ConflictNode<SolvableId>| match node {
                ConflictNode::Solvable(s) => Some(enc.solvable_name[s.into_raw() as usize]),
                _ => None,
            };
            let nodes = graph.graph.raw_nodes();
            for edge in graph.graph.raw_edges() {
                match edge.weight {
                    ConflictEdge::Requires(req) => {
                        let sets: Vec<VersionSetId> = match req {
                            Requirement::Single(vs) => vec![vs],
                            Requirement::Union(u) => enc.unions[u.0 as usize].clone(),
                        };
                        for vs in sets {
                            core.insert(enc.version_sets[vs.0 as usize].origin, ());
                        }
                    }
                    ConflictEdge::Conflict(ConflictCause::Constrains(vs)) => {
                        core.insert(enc.version_sets[vs.0 as usize].origin, ());
                    }
                    ConflictEdge::Conflict(ConflictCause::ForbidMultipleInstances) => {
                        let name = node_name(&nodes[edge.source().index()].weight)
                            .or_else(|| node_name(&nodes[edge.target().index()].weight));
                        if let Some(group) =
                            name.and_then(|n| enc.names[n.into_raw() as usize].group)
                        {
                            core.insert(group, ());
                        }
                    }
                    ConflictEdge::Conflict(ConflictCause::Excluded) => {
                        if let ConflictNode::Excluded(reason) = nodes[edge.target().index()].weight
                            && let Some(&origin) = enc.reason_origin.get(reason.0 as usize)
                        {
                            core.insert(origin, ());
                        }
                    }
                    ConflictEdge::Conflict(ConflictCause::Locked(_)) => {}
                }
            }
            let mut core: Vec<usize> = core.into_keys().collect();
            core.sort_unstable();
            EngineOutcome::Unsatisfiable(core)
        }
    }
}
