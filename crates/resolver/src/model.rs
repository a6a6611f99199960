//! The deppy-shaped constraint layer: variables with constraints, solved for a preferred
//! satisfying selection, or explained by a minimal set of constraints.
//!
//! This is the testable API of the solver. The engine behind it (resolvo today) only answers
//! "which variables are selected under these enabled constraints" or "unsatisfiable"; the
//! preference semantics (candidate order of each `Dependency`), the deppy message texts and the
//! minimisation of the unsatisfiable core live here, so the engine can be replaced.

use std::collections::HashMap;
use std::fmt;
use std::time::Instant;

use crate::engine::{self, EngineOutcome};

/// One constraint on a subject variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConstraintKind {
    /// The subject must be selected.
    Mandatory,
    /// The subject must not be selected.
    Prohibited,
    /// If the subject is selected, at least one of the ids must be (ordered by preference). An
    /// empty list makes the subject unselectable.
    Dependency(Vec<String>),
    /// The subject and the other variable are not both selected.
    Conflict(String),
    /// At most `n` of the ids are selected (the subject is not part of the clause).
    AtMost(usize, Vec<String>),
    /// The clause `(±subject) ∨ (±other)`.
    Or {
        /// The other literal's variable.
        other: String,
        /// Negate the subject literal.
        negate_subject: bool,
        /// Negate the other literal.
        negate_other: bool,
    },
}

/// A constraint with an optional human-readable override of its line (deppy's
/// `UserFriendlyConstraint`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constraint {
    /// What the constraint says.
    pub kind: ConstraintKind,
    /// Replaces the default line in explanations.
    pub message: Option<String>,
}

impl Constraint {
    /// A constraint with the default message.
    pub fn new(kind: ConstraintKind) -> Self {
        Constraint {
            kind,
            message: None,
        }
    }

    /// `Mandatory`.
    pub fn mandatory() -> Self {
        Self::new(ConstraintKind::Mandatory)
    }

    /// `Prohibited`.
    pub fn prohibited() -> Self {
        Self::new(ConstraintKind::Prohibited)
    }

    /// `Dependency(ids…)` in preference order.
    pub fn dependency<I: Into<String>>(ids: impl IntoIterator<Item = I>) -> Self {
        Self::new(ConstraintKind::Dependency(
            ids.into_iter().map(Into::into).collect(),
        ))
    }

    /// `Conflict(id)`.
    pub fn conflict(id: impl Into<String>) -> Self {
        Self::new(ConstraintKind::Conflict(id.into()))
    }

    /// `AtMost(n, ids…)`.
    pub fn at_most<I: Into<String>>(n: usize, ids: impl IntoIterator<Item = I>) -> Self {
        Self::new(ConstraintKind::AtMost(
            n,
            ids.into_iter().map(Into::into).collect(),
        ))
    }

    /// `Or(id, negate_subject, negate_other)`.
    pub fn or(other: impl Into<String>, negate_subject: bool, negate_other: bool) -> Self {
        Self::new(ConstraintKind::Or {
            other: other.into(),
            negate_subject,
            negate_other,
        })
    }

    /// Sets the explanation line.
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    /// The explanation line for this constraint applied to `subject`, in OLM v0's wording
    /// where deppy's differs (`is prohibited`, `has a dependency without any candidates …`).
    pub fn line(&self, subject: &str) -> String {
        if let Some(message) = &self.message {
            return message.clone();
        }
        match &self.kind {
            ConstraintKind::Mandatory => format!("{subject} is mandatory"),
            ConstraintKind::Prohibited => format!("{subject} is prohibited"),
            ConstraintKind::Dependency(ids) if ids.is_empty() => {
                format!("{subject} has a dependency without any candidates to satisfy it")
            }
            ConstraintKind::Dependency(ids) => {
                format!("{subject} requires at least one of {}", ids.join(", "))
            }
            ConstraintKind::Conflict(id) => format!("{subject} conflicts with {id}"),
            ConstraintKind::AtMost(n, ids) => {
                format!("{subject} permits at most {n} of {}", ids.join(", "))
            }
            ConstraintKind::Or {
                other,
                negate_subject,
                negate_other,
            } => {
                let lit = |neg: bool, id: &str| {
                    if neg {
                        format!("not {id}")
                    } else {
                        id.to_string()
                    }
                };
                format!(
                    "{} or {}",
                    lit(*negate_subject, subject),
                    lit(*negate_other, other)
                )
            }
        }
    }
}

/// A variable: an identifier unique within one problem, and its constraints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variable {
    /// The identifier.
    pub id: String,
    /// The constraints whose subject this variable is.
    pub constraints: Vec<Constraint>,
}

impl Variable {
    /// A variable without constraints.
    pub fn new(id: impl Into<String>) -> Self {
        Variable {
            id: id.into(),
            constraints: Vec::new(),
        }
    }

    /// Adds a constraint.
    pub fn with(mut self, constraint: Constraint) -> Self {
        self.constraints.push(constraint);
        self
    }
}

/// A constraint together with its subject: (variable index, constraint index).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AppliedConstraint {
    /// Index of the subject in the problem's variables.
    pub variable: usize,
    /// Index of the constraint in the subject's constraints.
    pub constraint: usize,
}

/// The problem was malformed (deppy's `Solve` errors).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProblemError {
    /// Two variables share an identifier.
    #[error("duplicate identifier {0:?} in input")]
    DuplicateIdentifier(String),
    /// Constraints reference identifiers that are not variables.
    #[error("{} errors encountered: {}", .0.len(), .0.iter().map(|id| format!("variable {id:?} referenced but not provided")).collect::<Vec<_>>().join(", "))]
    UnknownIdentifiers(Vec<String>),
}

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

/// A problem: variables in input order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Problem {
    /// The variables.
    pub variables: Vec<Variable>,
}

/// The problem with identifiers resolved to indices; what engines consume.
#[derive(Debug)]
pub struct IndexedProblem<'p> {
    pub(crate) problem: &'p Problem,
    /// Every applied constraint, flattened in input order.
    pub(crate) applied: Vec<AppliedConstraint>,
    /// Resolved ids of each applied constraint's referenced variables.
    pub(crate) refs: Vec<Vec<usize>>,
}

impl<'p> IndexedProblem<'p> {
    /// Resolves identifiers; fails like deppy on duplicates and unknown references.
    pub fn new(problem: &'p Problem) -> Result<Self, ProblemError> {
        let mut index: HashMap<&str, usize> = HashMap::with_capacity(problem.variables.len());
        for (i, v) in problem.variables.iter().enumerate() {
            if index.insert(v.id.as_str(), i).is_some() {
                return Err(ProblemError::DuplicateIdentifier(v.id.clone()));
            }
        }
        let mut applied = Vec::new();
        let mut refs = Vec::new();
        let mut unknown = Vec::new();
        for (vi, v) in problem.variables.iter().enumerate() {
            for (ci, c) in v.constraints.iter().enumerate() {
                let ids: Vec<&String> = match &c.kind {
                    ConstraintKind::Mandatory | ConstraintKind::Prohibited => vec![],
                    ConstraintKind::Dependency(ids) | ConstraintKind::AtMost(_, ids) => {
                        ids.iter().collect()
                    }
                    ConstraintKind::Conflict(id) => vec![id],
                    ConstraintKind::Or { other, .. } => vec![other],
                };
                let mut resolved = Vec::with_capacity(ids.len());
                for id in ids {
                    match index.get(id.as_str()) {
                        Some(&i) => resolved.push(i),
                        None => {
                            if !unknown.contains(id) {
                                unknown.push(id.clone());
                            }
                        }
                    }
                }
                applied.push(AppliedConstraint {
                    variable: vi,
                    constraint: ci,
                });
                refs.push(resolved);
            }
        }
        if !unknown.is_empty() {
            return Err(ProblemError::UnknownIdentifiers(unknown));
        }
        Ok(IndexedProblem {
            problem,
            applied,
            refs,
        })
    }

    pub(crate) fn constraint(&self, a: usize) -> &Constraint {
        let ac = self.applied[a];
        &self.problem.variables[ac.variable].constraints[ac.constraint]
    }

    pub(crate) fn subject(&self, a: usize) -> usize {
        self.applied[a].variable
    }
}

/// Solves the problem: the selected variables in input order, or why none exist.
///
/// Preference: each `Dependency` tries its candidates in list order, and mandatory variables
/// and dependencies are decided in input order, so the most-preferred candidates that still
/// admit a solution are chosen. Variables no constraint forces are not selected.
pub fn solve(problem: &Problem, options: &SolveOptions) -> Result<Vec<usize>, SolveError> {
    let indexed = IndexedProblem::new(problem)?;
    let all: Vec<bool> = vec![true; indexed.applied.len()];
    match engine::check(&indexed, &all, options.deadline) {
        EngineOutcome::Satisfiable(selected) => Ok(selected),
        EngineOutcome::Cancelled => Err(SolveError::Cancelled),
        EngineOutcome::Unsatisfiable(hint) => {
            let core = minimise(&indexed, hint, options)?;
            Err(SolveError::NotSatisfiable(core))
        }
    }
}

/// Shrinks an unsatisfiable set of constraints to an irreducible one (deletion-based), then
/// orders it.
fn minimise(
    indexed: &IndexedProblem<'_>,
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
            match engine::check(indexed, &mask_of(&hint), options.deadline) {
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
        match engine::check(indexed, &mask_of(&trial), options.deadline) {
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
            let subject = &indexed.problem.variables[indexed.subject(a)].id;
            indexed.constraint(a).line(subject)
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
fn order_core(indexed: &IndexedProblem<'_>, core: &[usize]) -> Vec<usize> {
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
        .filter(|&a| matches!(indexed.constraint(a).kind, ConstraintKind::Mandatory))
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
            let kind = &indexed.constraint(a).kind;
            let follows = matches!(
                kind,
                ConstraintKind::Dependency(_) | ConstraintKind::Or { .. }
            );
            if !follows || taken[a] {
                continue;
            }
            out.push(a);
            taken[a] = true;
            for &next in &indexed.refs[a] {
                if seen.insert(next) {
                    queue.push_back(next);
                }
            }
        }
    }
    let mut rest: Vec<usize> = core.iter().copied().filter(|&a| !taken[a]).collect();
    rest.sort_by_key(|&a| {
        let kind = &indexed.constraint(a).kind;
        let group = match kind {
            ConstraintKind::Dependency(_) | ConstraintKind::Or { .. } => 0,
            ConstraintKind::Prohibited | ConstraintKind::Conflict(_) => 1,
            _ => 2,
        };
        (group, a)
    });
    out.extend(rest);
    out
}
