//! The deppy-shaped constraint layer: variables with constraints, solved for a preferred
//! satisfying selection, or explained by a minimal set of constraints.
//!
//! This is the testable API of the solver. The engine behind it (resolvo today) only answers
//! "which variables are selected under these enabled constraints" or "unsatisfiable"; the
//! preference semantics (candidate order of each `Dependency`), the deppy message texts and the
//! minimisation of the unsatisfiable core live here, so the engine can be replaced.
//!
//! Layout, each module using only the ones before it: `problem` is the identifier form callers
//! write; `indexed` resolves identifiers to indices (what the engine and the OLM layer use);
//! `engine` is the resolvo encoding; this module solves, minimises and orders the explanation.

mod engine;
mod indexed;
mod problem;

use std::collections::HashMap;
use std::fmt;
use std::time::Instant;

use engine::EngineOutcome;
pub use indexed::IndexedProblem;
pub(crate) use indexed::Kind;
pub use problem::{AppliedConstraint, Constraint, ConstraintKind, Problem, ProblemError, Variable};

/// Why no selection exists: an irreducible set of applied constraints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotSatisfiable {
    /// The constraints, in the deterministic explanation order (mandatory roots in input
    /// order, then dependency-like constraints breadth-first from them, then the others in
    /// input order).
    pub constraints: Vec<AppliedConstraint>,
    /// One line per constraint, same order.
    pub lines: Vec<String>,
    /// False when the minimisation budget ran out: the set is unsatisfiable but may contain
    /// constraints that are not needed.
    pub minimal: bool,
}

impl fmt::Display for NotSatisfiable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("constraints not satisfiable:")?;
        for line in &self.lines {
            write!(f, "\n{line}")?;
        }
        Ok(())
    }
}

/// The outcome of a solve that had a well-formed problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SolveError {
    /// The problem was malformed.
    #[error(transparent)]
    Problem(#[from] ProblemError),
    /// No selection satisfies every constraint.
    #[error("{0}")]
    NotSatisfiable(NotSatisfiable),
    /// The deadline passed.
    #[error("cancelled before a solution could be found")]
    Cancelled,
}

/// Solver knobs.
#[derive(Debug, Clone, Copy, Default)]
pub struct SolveOptions {
    /// Stop and report [`SolveError::Cancelled`] after this instant.
    pub deadline: Option<Instant>,
    /// Maximum number of extra satisfiability checks spent minimising an unsatisfiable core
    /// (0 = no minimisation; `None` = the default of 400).
    pub minimise_budget: Option<usize>,
}

/// Solves the problem: the selected variables in input order, or why none exist.
///
/// Preference: each `Dependency` tries its candidates in list order, and mandatory variables
/// and dependencies are decided in input order, so the most-preferred candidates that still
/// admit a solution are chosen. Variables no constraint forces are not selected.
pub fn solve(problem: &Problem, options: &SolveOptions) -> Result<Vec<usize>, SolveError> {
    let indexed = IndexedProblem::new(problem)?;
    let all: Vec<bool> = vec![true; indexed.applied.len()];
    match engine::check(&indexed, &all, options.deadline, false) {
        EngineOutcome::Satisfiable(selected) => Ok(selected),
        EngineOutcome::Cancelled => Err(SolveError::Cancelled),
        EngineOutcome::Unsatisfiable(hint) => {
            let core = minimise(problem, &indexed, hint, options)?;
            Err(SolveError::NotSatisfiable(core))
        }
    }
}

/// Only whether the indexed problem is satisfiable, and its selection: the OLM layer's fast
/// path. `None` means "not satisfiable"; the caller explains it with [`solve`] on the
/// identifier form of the same problem.
pub(crate) fn solve_indexed(
    indexed: &IndexedProblem,
    deadline: Option<Instant>,
) -> Result<Option<Vec<usize>>, SolveError> {
    if let Some(selected) = preferred_closure(indexed) {
        return Ok(Some(selected));
    }
    let all: Vec<bool> = vec![true; indexed.applied.len()];
    match engine::check(indexed, &all, deadline, true) {
        EngineOutcome::Satisfiable(selected) => Ok(Some(selected)),
        EngineOutcome::Cancelled => Err(SolveError::Cancelled),
        EngineOutcome::Unsatisfiable(_) => Ok(None),
    }
}

/// The value unit propagation gives a variable before any choice is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Forced {
    Open,
    True,
    False,
}

/// The answer when no choice has to be revisited, or `None` (the engine decides).
///
/// The candidate set is the mandatory variables and, transitively, for each dependency of a
/// variable in the set, its first candidate not ruled out by `forced` (unit propagation from
/// the mandatory and prohibited variables, which the engine performs before its first
/// decision). When that set satisfies every constraint, holds every forced variable, and each
/// of its dependencies has no other candidate in the set, it is the engine's answer: the set is
/// a model, so propagation never falsifies one of its members, and every decision takes the
/// first candidate that is not false — all earlier ones are forced false — so what is selected
/// never leaves the set, and everything in the set is required.
fn preferred_closure_with(
    indexed: &IndexedProblem,
    start: &[u32],
    forced: Option<&[Forced]>,
) -> Option<Vec<usize>> {
    let n = indexed.variables;
    let ruled_out = |v: usize| forced.is_some_and(|f| f[v] == Forced::False);
    let mut selected = vec![false; n];
    let mut queue: Vec<usize> = Vec::new();
    for (a, kind) in indexed.kinds.iter().enumerate() {
        match kind {
            Kind::Mandatory => {
                let s = indexed.subject(a);
                if !selected[s] {
                    selected[s] = true;
                    queue.push(s);
                }
            }
            // Root clauses and implications in both directions: leave them to the engine.
            Kind::Or { .. } => return None,
            _ => {}
        }
    }
    while let Some(v) = queue.pop() {
        for a in start[v] as usize..start[v + 1] as usize {
            if indexed.kinds[a] != Kind::Dependency {
                continue;
            }
            let chosen = *indexed.refs(a).iter().find(|&&r| !ruled_out(r as usize))? as usize;
            if !selected[chosen] {
                selected[chosen] = true;
                queue.push(chosen);
            }
        }
    }
    if let Some(forced) = forced {
        let consistent = forced.iter().zip(&selected).all(|(f, &s)| match f {
            Forced::Open => true,
            Forced::True => s,
            Forced::False => !s,
        });
        if !consistent {
            return None;
        }
    }
    for (a, kind) in indexed.kinds.iter().enumerate() {
        let subject = indexed.subject(a);
        let refs = indexed.refs(a);
        let holds = match kind {
            Kind::Mandatory | Kind::Or { .. } => true,
            Kind::Prohibited => !selected[subject],
            Kind::Dependency => {
                // The chosen candidate is the only one selected.
                !selected[subject] || {
                    let mut rest = refs.iter().map(|&r| r as usize);
                    rest.find(|&r| !ruled_out(r))
                        .is_some_and(|chosen| rest.all(|r| r == chosen || !selected[r]))
                }
            }
            Kind::Conflict => !(selected[subject] && selected[refs[0] as usize]),
            Kind::AtMost(limit) => {
                let mut members: Vec<u32> = refs
                    .iter()
                    .copied()
                    .filter(|&r| selected[r as usize])
                    .collect();
                if members.len() > *limit {
                    members.sort_unstable();
                    members.dedup();
                }
                members.len() <= *limit
            }
        };
        if !holds {
            return None;
        }
    }
    Some((0..n).filter(|&v| selected[v]).collect())
}

/// Unit propagation from the mandatory, prohibited and empty constraints, as the engine's
/// clauses would propagate it (dependencies, conflicts, at-most-one groups). `None` on a
/// conflict, or when the problem has constraints this does not model (`Or`, `AtMost(n ≥ 2)`).
fn unit_propagation(indexed: &IndexedProblem, start: &[u32]) -> Option<Vec<Forced>> {
    let n = indexed.variables;
    if indexed
        .kinds
        .iter()
        .any(|k| matches!(k, Kind::Or { .. } | Kind::AtMost(2..)))
    {
        return None;
    }
    // Where each variable is referenced (one entry per reference).
    let mut occ_start = vec![0u32; n + 1];
    for &r in &indexed.ref_pool {
        occ_start[r as usize + 1] += 1;
    }
    for v in 0..n {
        occ_start[v + 1] += occ_start[v];
    }
    let mut fill = occ_start[..n].to_vec();
    let mut occ = vec![0u32; indexed.ref_pool.len()];
    for a in 0..indexed.applied.len() {
        for &r in indexed.refs(a) {
            occ[fill[r as usize] as usize] = a as u32;
            fill[r as usize] += 1;
        }
    }
    // Candidates of each dependency not yet false.
    let mut live: Vec<u32> = (0..indexed.applied.len())
        .map(|a| indexed.refs(a).len() as u32)
        .collect();
    let mut value = vec![Forced::Open; n];
    let mut queue: Vec<usize> = Vec::new();
    let set = |value: &mut Vec<Forced>, queue: &mut Vec<usize>, v: usize, to: Forced| match value[v]
    {
        Forced::Open => {
            value[v] = to;
            queue.push(v);
            true
        }
        current => current == to,
    };
    // The one candidate of a dependency that is not false.
    let last_live = |value: &[Forced], a: usize| {
        indexed
            .refs(a)
            .iter()
            .map(|&r| r as usize)
            .find(|&r| value[r] != Forced::False)
    };
    for (a, kind) in indexed.kinds.iter().enumerate() {
        let subject = indexed.subject(a);
        let ok = match kind {
            Kind::Mandatory => set(&mut value, &mut queue, subject, Forced::True),
            Kind::Prohibited => set(&mut value, &mut queue, subject, Forced::False),
            Kind::Dependency if live[a] == 0 => set(&mut value, &mut queue, subject, Forced::False),
            Kind::AtMost(0) => indexed
                .refs(a)
                .iter()
                .all(|&r| set(&mut value, &mut queue, r as usize, Forced::False)),
            _ => true,
        };
        if !ok {
            return None;
        }
    }
    while let Some(x) = queue.pop() {
        let occurrences = &occ[occ_start[x] as usize..occ_start[x + 1] as usize];
        if value[x] == Forced::True {
            let own = start[x] as usize..start[x + 1] as usize;
            for (a, &live_here) in own.clone().zip(&live[own]) {
                let ok = match indexed.kinds[a] {
                    Kind::Dependency => match last_live(&value, a) {
                        None => false,
                        Some(r) if live_here == 1 => set(&mut value, &mut queue, r, Forced::True),
                        Some(_) => true,
                    },
                    Kind::Conflict => {
                        let other = indexed.refs(a)[0] as usize;
                        set(&mut value, &mut queue, other, Forced::False)
                    }
                    _ => true,
                };
                if !ok {
                    return None;
                }
            }
            for &a in occurrences {
                let a = a as usize;
                let ok = match indexed.kinds[a] {
                    Kind::AtMost(1) => indexed.refs(a).iter().all(|&r| {
                        r as usize == x || set(&mut value, &mut queue, r as usize, Forced::False)
                    }),
                    Kind::Conflict => {
                        set(&mut value, &mut queue, indexed.subject(a), Forced::False)
                    }
                    _ => true,
                };
                if !ok {
                    return None;
                }
            }
        } else {
            for &a in occurrences {
                let a = a as usize;
                if indexed.kinds[a] != Kind::Dependency {
                    continue;
                }
                live[a] -= 1;
                let subject = indexed.subject(a);
                let ok = match live[a] {
                    0 => set(&mut value, &mut queue, subject, Forced::False),
                    1 if value[subject] == Forced::True => match last_live(&value, a) {
                        Some(r) => set(&mut value, &mut queue, r, Forced::True),
                        None => false,
                    },
                    _ => true,
                };
                if !ok {
                    return None;
                }
            }
        }
    }
    Some(value)
}

/// [`preferred_closure_with`] without propagation first (enough for most problems), then
/// with it.
pub(crate) fn preferred_closure(indexed: &IndexedProblem) -> Option<Vec<usize>> {
    let n = indexed.variables;
    // Constraints of each variable: they are stored in variable order.
    let mut start = vec![0u32; n + 1];
    for ac in &indexed.applied {
        start[ac.variable + 1] += 1;
    }
    for v in 0..n {
        start[v + 1] += start[v];
    }
    if let Some(selected) = preferred_closure_with(indexed, &start, None) {
        return Some(selected);
    }
    let forced = unit_propagation(indexed, &start)?;
    preferred_closure_with(indexed, &start, Some(&forced))
}

/// Shrinks an unsatisfiable set of constraints to an irreducible one (deletion-based), then
/// orders it.
fn minimise(
    problem: &Problem,
    indexed: &IndexedProblem,
    hint: Vec<usize>,
    options: &SolveOptions,
) -> Result<NotSatisfiable, SolveError> {
    let n = indexed.applied.len();
    let mask_of = |set: &[usize]| {
        let mut mask = vec![false; n];
        for &a in set {
            mask[a] = true;
        }
        mask
    };
    let mut budget = options.minimise_budget.unwrap_or(400);
    let mut minimal = true;
    // The engine's core is usually already unsatisfiable on its own; verify, else start from
    // every constraint.
    let mut core: Vec<usize> = {
        let mut hint = hint;
        hint.sort_unstable();
        hint.dedup();
        if budget > 0 && !hint.is_empty() {
            budget -= 1;
            match engine::check(indexed, &mask_of(&hint), options.deadline, false) {
                EngineOutcome::Unsatisfiable(_) => hint,
                EngineOutcome::Satisfiable(_) => (0..n).collect(),
                EngineOutcome::Cancelled => return Err(SolveError::Cancelled),
            }
        } else if hint.is_empty() {
            (0..n).collect()
        } else {
            minimal = false;
            hint
        }
    };
    let mut i = 0;
    while i < core.len() {
        if budget == 0 {
            minimal = false;
            break;
        }
        budget -= 1;
        let mut trial = core.clone();
        trial.remove(i);
        match engine::check(indexed, &mask_of(&trial), options.deadline, false) {
            EngineOutcome::Unsatisfiable(_) => core = trial,
            EngineOutcome::Satisfiable(_) => i += 1,
            EngineOutcome::Cancelled => return Err(SolveError::Cancelled),
        }
    }
    let ordered = order_core(indexed, &core);
    let constraints: Vec<AppliedConstraint> = ordered.iter().map(|&a| indexed.applied[a]).collect();
    let lines = ordered
        .iter()
        .map(|&a| {
            let ac = indexed.applied[a];
            let variable = &problem.variables[ac.variable];
            variable.constraints[ac.constraint].line(&variable.id)
        })
        .collect();
    Ok(NotSatisfiable {
        constraints,
        lines,
        minimal,
    })
}

/// Deterministic explanation order: mandatory constraints in input order; then, breadth-first
/// from their subjects, every core constraint whose subject has been reached (its own
/// constraints in input order, following dependency/or edges to reach further subjects); then
/// whatever remains (conflicts, cardinality) in input order.
fn order_core(indexed: &IndexedProblem, core: &[usize]) -> Vec<usize> {
    let mut by_subject: HashMap<usize, Vec<usize>> = HashMap::new();
    for &a in core {
        by_subject.entry(indexed.subject(a)).or_default().push(a);
    }
    for list in by_subject.values_mut() {
        list.sort_unstable();
    }
    let mut out = Vec::with_capacity(core.len());
    let mut taken = vec![false; indexed.applied.len()];
    let mut mandatory: Vec<usize> = core
        .iter()
        .copied()
        .filter(|&a| indexed.kinds[a] == Kind::Mandatory)
        .collect();
    mandatory.sort_unstable();
    let mut queue: std::collections::VecDeque<usize> = std::collections::VecDeque::new();
    let mut seen = std::collections::HashSet::new();
    for &a in &mandatory {
        out.push(a);
        taken[a] = true;
        if seen.insert(indexed.subject(a)) {
            queue.push_back(indexed.subject(a));
        }
    }
    while let Some(subject) = queue.pop_front() {
        for &a in by_subject.get(&subject).map(Vec::as_slice).unwrap_or(&[]) {
            let follows = matches!(indexed.kinds[a], Kind::Dependency | Kind::Or { .. });
            if !follows || taken[a] {
                continue;
            }
            out.push(a);
            taken[a] = true;
            for &next in indexed.refs(a) {
                if seen.insert(next as usize) {
                    queue.push_back(next as usize);
                }
            }
        }
    }
    let mut rest: Vec<usize> = core.iter().copied().filter(|&a| !taken[a]).collect();
    rest.sort_by_key(|&a| {
        let group = match indexed.kinds[a] {
            Kind::Dependency | Kind::Or { .. } => 0,
            Kind::Prohibited | Kind::Conflict => 1,
            _ => 2,
        };
        (group, a)
    });
    out.extend(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic xorshift64*, so a failing problem can be rebuilt from its seed.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n.max(1)
        }
    }

    /// A problem shaped like the OLM layer's: requests, packages of versions with dependencies
    /// on ranges of other packages, package uniqueness, an overlapping provider group, a few
    /// prohibited bundles, conflicts and pins (single-candidate requests).
    fn random_problem(seed: u64) -> Problem {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let packages = 1 + rng.below(6);
        let versions: Vec<usize> = (0..packages).map(|_| 1 + rng.below(5)).collect();
        let id = |p: usize, v: usize| format!("p{p}v{v}");
        // Candidates of a package in preference order (highest version first), from `min` up.
        let range = |p: usize, min: usize| -> Vec<String> {
            (min..versions[p]).rev().map(|v| id(p, v)).collect()
        };
        let mut variables = Vec::new();
        for r in 0..1 + rng.below(3) {
            let p = rng.below(packages);
            let list = if rng.below(4) == 0 {
                vec![id(p, rng.below(versions[p]))]
            } else {
                range(p, rng.below(versions[p]))
            };
            variables.push(
                Variable::new(format!("request {r}"))
                    .with(Constraint::mandatory())
                    .with(Constraint::dependency(list)),
            );
        }
        let mut bundles = Vec::new();
        for p in 0..packages {
            for v in 0..versions[p] {
                let mut var = Variable::new(id(p, v));
                for _ in 0..rng.below(3) {
                    let q = rng.below(packages);
                    if q != p {
                        let mut list = range(q, rng.below(versions[q]));
                        // Like an API provided by two packages.
                        let other = rng.below(packages);
                        if rng.below(3) == 0 && other != p && other != q {
                            list.extend(range(other, rng.below(versions[other])));
                        }
                        var = var.with(Constraint::dependency(list));
                    }
                }
                if rng.below(12) == 0 {
                    var = var.with(Constraint::prohibited());
                }
                let q = rng.below(packages);
                if rng.below(15) == 0 && q != p {
                    var = var.with(Constraint::conflict(id(q, rng.below(versions[q]))));
                }
                bundles.push(id(p, v));
                variables.push(var);
            }
        }
        for (p, &count) in versions.iter().enumerate() {
            variables.push(
                Variable::new(format!("p{p} uniqueness"))
                    .with(Constraint::at_most(1, (0..count).map(|v| id(p, v)))),
            );
        }
        if rng.below(2) == 0 {
            let providers: Vec<String> = bundles
                .iter()
                .filter(|_| rng.below(3) == 0)
                .cloned()
                .collect();
            variables
                .push(Variable::new("provider uniqueness").with(Constraint::at_most(1, providers)));
        }
        Problem { variables }
    }

    #[test]
    fn preferred_closure_matches_the_engine() {
        let (mut plain, mut propagated, mut searched) = (0, 0, 0);
        for seed in 0..4000 {
            let problem = random_problem(seed);
            let indexed = IndexedProblem::new(&problem).expect("well-formed");
            let all = vec![true; indexed.applied.len()];
            let engine = match engine::check(&indexed, &all, None, false) {
                EngineOutcome::Satisfiable(selected) => Some(selected),
                EngineOutcome::Unsatisfiable(_) => None,
                EngineOutcome::Cancelled => unreachable!("no deadline"),
            };
            let shared = match engine::check(&indexed, &all, None, true) {
                EngineOutcome::Satisfiable(selected) => Some(selected),
                _ => None,
            };
            assert_eq!(
                engine, shared,
                "seed {seed}: shared requirements changed the answer"
            );
            let mut start = vec![0u32; indexed.variables + 1];
            for ac in &indexed.applied {
                start[ac.variable + 1] += 1;
            }
            for v in 0..indexed.variables {
                start[v + 1] += start[v];
            }
            match preferred_closure(&indexed) {
                Some(selected) => {
                    assert_eq!(Some(selected), engine, "seed {seed}: {problem:#?}");
                    if preferred_closure_with(&indexed, &start, None).is_some() {
                        plain += 1;
                    } else {
                        propagated += 1;
                    }
                }
                None => searched += 1,
            }
        }
        // Every path is exercised.
        assert!(plain > 500, "plain closure answered {plain} problems");
        assert!(
            propagated > 50,
            "closure after propagation answered {propagated} problems"
        );
        assert!(searched > 200, "the engine answered {searched} problems");
    }
}
