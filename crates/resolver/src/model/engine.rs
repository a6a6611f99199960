//! The resolvo engine behind the constraint layer.
//!
//! Encoding (every choice keeps the deppy semantics of [`super`]):
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
use rustc_hash::FxHashMap;

use super::indexed::{IndexedProblem, Kind};

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
    /// Slot `k` of applied `AtMost` constraint `origin`, for member variable `member`.
    Slot {
        origin: usize,
        k: usize,
        member: usize,
    },
}

/// What a name stands for; only used to display it (resolvo's logs), so it stays an index.
#[derive(Clone, Copy)]
enum NameKind {
    Variable(usize),
    Group(usize),
    Slot { origin: usize, k: usize },
}

struct NameInfo {
    kind: NameKind,
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
    version_sets: Vec<VersionSetInfo>,
    unions: Vec<Vec<VersionSetId>>,
    deps: Vec<KnownDependencies>,
    /// Excluded reasons: reason i is applied constraint `reason_origin[i]`.
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
    fn new_name(&mut self, kind: NameKind, group: Option<usize>) -> NameId {
        self.names.push(NameInfo {
            kind,
            solvables: Vec::new(),
            group,
            excluded: Vec::new(),
        });
        nid(self.names.len() - 1)
    }

    fn new_solvable(&mut self, name: NameId, kind: SolvableKind) -> SolvableId {
        let id = sid(self.solvable_kind.len());
        self.solvable_kind.push(kind);
        self.solvable_name.push(name);
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
        if !members.is_sorted_by_key(|s| s.into_raw()) {
            members.sort_unstable_by_key(|s| s.into_raw());
        }
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
        targets: impl IntoIterator<Item = SolvableId>,
        origin: usize,
        fallback: NameId,
    ) -> Requirement {
        // Consecutive targets of one name in increasing id order form one version set (resolvo
        // orders a set's candidates by id); the union of the runs keeps the list's order.
        let mut sets: Vec<VersionSetId> = Vec::new();
        let mut run: Option<(NameId, Vec<SolvableId>)> = None;
        for t in targets {
            let name = self.solvable_name[t.into_raw() as usize];
            match &mut run {
                Some((n, members))
                    if *n == name
                        && members.last().is_some_and(|l| l.into_raw() < t.into_raw()) =>
                {
                    members.push(t)
                }
                _ => {
                    if let Some((n, members)) = run.replace((name, vec![t])) {
                        sets.push(self.version_set(n, members, origin));
                    }
                }
            }
        }
        match run {
            None => return Requirement::Single(self.version_set(fallback, Vec::new(), origin)),
            Some((n, members)) => sets.push(self.version_set(n, members, origin)),
        }
        if sets.len() == 1 {
            Requirement::Single(sets[0])
        } else {
            self.unions.push(sets);
            Requirement::Union(VersionSetUnionId((self.unions.len() - 1) as u32))
        }
    }
}

/// Builds resolvo's view of the enabled constraints. Variable `v` is solvable `v` (slots come
/// after every variable). With `share`, identical dependency lists share one requirement, so
/// resolvo sorts their candidates once; the conflict hint then names only the first of them,
/// which is why explanations use unshared encodings.
fn encode(
    indexed: &IndexedProblem,
    enabled: &[bool],
    deadline: Option<Instant>,
    share: bool,
) -> Encoding {
    let n_vars = indexed.variables;
    let n_applied = indexed.applied.len();
    let mut enc = Encoding {
        names: Vec::with_capacity(n_vars),
        solvable_name: Vec::with_capacity(n_vars),
        solvable_kind: Vec::with_capacity(n_vars),
        version_sets: Vec::new(),
        unions: Vec::new(),
        deps: Vec::with_capacity(n_vars),
        reason_origin: Vec::new(),
        root: Vec::new(),
        deadline,
    };

    // Native groups: non-overlapping AtMost(1) constraints become shared names.
    let mut native: Vec<Option<NameId>> = vec![None; n_vars];
    let mut handled_natively = vec![false; n_applied];
    for a in 0..n_applied {
        if !enabled[a] {
            continue;
        }
        if let Kind::AtMost(1) = indexed.kinds[a] {
            let refs = indexed.refs(a);
            if refs.iter().all(|&m| native[m as usize].is_none()) {
                let name = enc.new_name(NameKind::Group(a), Some(a));
                for &m in refs {
                    native[m as usize] = Some(name);
                }
                handled_natively[a] = true;
            }
        }
    }
    // Solvables in input order, so that solvable order = variable order.
    for (i, native) in native.iter().enumerate() {
        let name = match native {
            Some(name) => *name,
            None => enc.new_name(NameKind::Variable(i), None),
        };
        enc.new_solvable(name, SolvableKind::Variable(i));
    }
    let name_of = |enc: &Encoding, v: usize| enc.solvable_name[v];
    let mut shared: FxHashMap<&[u32], Requirement> = FxHashMap::default();

    for a in 0..n_applied {
        if !enabled[a] {
            continue;
        }
        let subject = indexed.subject(a);
        let s = sid(subject);
        let refs = indexed.refs(a);
        match indexed.kinds[a] {
            Kind::Mandatory => {
                let vs = enc.version_set(name_of(&enc, subject), vec![s], a);
                enc.root.push(Requirement::Single(vs).into());
            }
            Kind::Prohibited => {
                let reason = enc.reason_origin.len();
                enc.reason_origin.push(a);
                let name = name_of(&enc, subject);
                enc.names[name.into_raw() as usize]
                    .excluded
                    .push((s, StringId(reason as u32)));
            }
            Kind::Dependency => {
                let req = match shared.get(refs) {
                    Some(req) => *req,
                    None => {
                        let own = name_of(&enc, subject);
                        let req =
                            enc.ordered_requirement(refs.iter().map(|&v| sid(v as usize)), a, own);
                        if share && !refs.is_empty() {
                            shared.insert(refs, req);
                        }
                        req
                    }
                };
                enc.deps[subject].requirements.push(req.into());
            }
            Kind::Conflict => {
                push_conflict(&mut enc, s, sid(refs[0] as usize), a);
            }
            Kind::Or {
                negate_subject,
                negate_other,
            } => {
                let other = sid(refs[0] as usize);
                match (negate_subject, negate_other) {
                    (true, false) => {
                        let fallback = enc.solvable_name[other.into_raw() as usize];
                        let req = enc.ordered_requirement([other], a, fallback);
                        enc.deps[subject].requirements.push(req.into());
                    }
                    (false, true) => {
                        let fallback = enc.solvable_name[subject];
                        let req = enc.ordered_requirement([s], a, fallback);
                        enc.deps[other.into_raw() as usize]
                            .requirements
                            .push(req.into());
                    }
                    (true, true) => push_conflict(&mut enc, s, other, a),
                    (false, false) => {
                        let fallback = enc.solvable_name[subject];
                        let req = enc.ordered_requirement([s, other], a, fallback);
                        enc.root.push(req.into());
                    }
                }
            }
            Kind::AtMost(n) => {
                if handled_natively[a] {
                    continue;
                }
                let mut members: Vec<usize> = refs.iter().map(|&m| m as usize).collect();
                members.sort_unstable();
                members.dedup();
                if n >= members.len() {
                    continue;
                }
                if n == 0 {
                    for m in members {
                        let own = enc.solvable_name[m];
                        let req = enc.ordered_requirement([], a, own);
                        enc.deps[m].requirements.push(req.into());
                    }
                    continue;
                }
                let slot_names: Vec<NameId> = (0..n)
                    .map(|k| enc.new_name(NameKind::Slot { origin: a, k }, Some(a)))
                    .collect();
                for m in members {
                    let slots: Vec<SolvableId> = slot_names
                        .iter()
                        .enumerate()
                        .map(|(k, &name)| {
                            enc.new_solvable(
                                name,
                                SolvableKind::Slot {
                                    origin: a,
                                    k,
                                    member: m,
                                },
                            )
                        })
                        .collect();
                    let fallback = slot_names[0];
                    let req = enc.ordered_requirement(slots, a, fallback);
                    enc.deps[m].requirements.push(req.into());
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
        match self.solvable_kind[solvable.into_raw() as usize] {
            SolvableKind::Variable(v) => format!("variable {v}"),
            SolvableKind::Slot { origin, k, member } => {
                format!("slot {k} of constraint {origin} for variable {member}")
            }
        }
    }

    fn display_name(&self, name: NameId) -> impl Display + '_ {
        match self.names[name.into_raw() as usize].kind {
            NameKind::Variable(v) => format!("variable {v}"),
            NameKind::Group(a) => format!("group of constraint {a}"),
            NameKind::Slot { origin, k } => format!("slot {k} of constraint {origin}"),
        }
    }

    fn display_version_set(&self, version_set: VersionSetId) -> impl Display + '_ {
        self.version_sets[version_set.0 as usize]
            .members
            .iter()
            .map(|&s| self.display_solvable(s).to_string())
            .collect::<Vec<_>>()
            .join(" | ")
    }

    fn display_string(&self, string_id: StringId) -> impl Display + '_ {
        match self.reason_origin.get(string_id.0 as usize) {
            Some(origin) => format!("constraint {origin}"),
            None => String::new(),
        }
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
    indexed: &IndexedProblem,
    enabled: &[bool],
    deadline: Option<Instant>,
    share: bool,
) -> EngineOutcome {
    let enc = encode(indexed, enabled, deadline, share);
    let root = enc.root.clone();
    let mut solver = Solver::new(enc);
    match solver.solve(Problem::new().requirements(root)) {
        Ok(solvables) => {
            let enc = solver.provider();
            let mut selected: Vec<usize> = solvables
                .into_iter()
                .filter_map(|s| match enc.solvable_kind[s.into_raw() as usize] {
                    SolvableKind::Variable(v) => Some(v),
                    SolvableKind::Slot { .. } => None,
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
