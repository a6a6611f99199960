//! The problem with identifiers resolved to indices: what the engine consumes and what the OLM
//! layer builds directly.

use rustc_hash::FxHashMap;

use super::problem::{AppliedConstraint, ConstraintKind, Problem, ProblemError};

/// What an applied constraint says, with its referenced variables kept apart (see
/// [`IndexedProblem::refs`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Mandatory,
    Prohibited,
    Dependency,
    Conflict,
    AtMost(usize),
    Or {
        negate_subject: bool,
        negate_other: bool,
    },
}

impl Kind {
    fn of(kind: &ConstraintKind) -> Kind {
        match kind {
            ConstraintKind::Mandatory => Kind::Mandatory,
            ConstraintKind::Prohibited => Kind::Prohibited,
            ConstraintKind::Dependency(_) => Kind::Dependency,
            ConstraintKind::Conflict(_) => Kind::Conflict,
            ConstraintKind::AtMost(n, _) => Kind::AtMost(*n),
            ConstraintKind::Or {
                negate_subject,
                negate_other,
                ..
            } => Kind::Or {
                negate_subject: *negate_subject,
                negate_other: *negate_other,
            },
        }
    }
}

/// The problem with identifiers resolved to indices; what engines consume. Built from a
/// [`Problem`], or directly by the OLM layer (which never needs the identifiers unless the
/// problem is unsatisfiable).
#[derive(Debug, Clone, Default)]
pub struct IndexedProblem {
    /// Number of variables.
    pub(crate) variables: usize,
    /// Every applied constraint, flattened in input order (variable, then constraint).
    pub(crate) applied: Vec<AppliedConstraint>,
    pub(crate) kinds: Vec<Kind>,
    /// End offset in `ref_pool` of each applied constraint's referenced variables.
    ref_ends: Vec<u32>,
    pub(crate) ref_pool: Vec<u32>,
}

impl IndexedProblem {
    /// Resolves identifiers; fails like deppy on duplicates and unknown references.
    pub fn new(problem: &Problem) -> Result<Self, ProblemError> {
        let mut index: FxHashMap<&str, usize> =
            FxHashMap::with_capacity_and_hasher(problem.variables.len(), Default::default());
        for (i, v) in problem.variables.iter().enumerate() {
            if index.insert(v.id.as_str(), i).is_some() {
                return Err(ProblemError::DuplicateIdentifier(v.id.clone()));
            }
        }
        let mut indexed = IndexedProblem {
            variables: problem.variables.len(),
            ..IndexedProblem::default()
        };
        let mut unknown: Vec<String> = Vec::new();
        for (vi, v) in problem.variables.iter().enumerate() {
            for (ci, c) in v.constraints.iter().enumerate() {
                let ids: &[String] = match &c.kind {
                    ConstraintKind::Mandatory | ConstraintKind::Prohibited => &[],
                    ConstraintKind::Dependency(ids) | ConstraintKind::AtMost(_, ids) => ids,
                    ConstraintKind::Conflict(id) | ConstraintKind::Or { other: id, .. } => {
                        std::slice::from_ref(id)
                    }
                };
                for id in ids {
                    match index.get(id.as_str()) {
                        Some(&i) => indexed.ref_pool.push(i as u32),
                        None => {
                            if !unknown.contains(id) {
                                unknown.push(id.clone());
                            }
                        }
                    }
                }
                indexed.applied.push(AppliedConstraint {
                    variable: vi,
                    constraint: ci,
                });
                indexed.kinds.push(Kind::of(&c.kind));
                indexed.ref_ends.push(indexed.ref_pool.len() as u32);
            }
        }
        if !unknown.is_empty() {
            return Err(ProblemError::UnknownIdentifiers(unknown));
        }
        Ok(indexed)
    }

    /// An empty problem with room for `applied` constraints referencing `refs` variables.
    pub(crate) fn with_capacity(variables: usize, applied: usize, refs: usize) -> Self {
        IndexedProblem {
            variables,
            applied: Vec::with_capacity(applied),
            kinds: Vec::with_capacity(applied),
            ref_ends: Vec::with_capacity(applied),
            ref_pool: Vec::with_capacity(refs),
        }
    }

    /// Appends an applied constraint; callers keep the (variable, constraint) order.
    pub(crate) fn push(&mut self, applied: AppliedConstraint, kind: Kind, refs: &[u32]) {
        self.applied.push(applied);
        self.kinds.push(kind);
        self.ref_pool.extend_from_slice(refs);
        self.ref_ends.push(self.ref_pool.len() as u32);
    }

    /// The variables applied constraint `a` references, in its order.
    pub(crate) fn refs(&self, a: usize) -> &[u32] {
        let start = if a == 0 { 0 } else { self.ref_ends[a - 1] } as usize;
        &self.ref_pool[start..self.ref_ends[a] as usize]
    }

    pub(crate) fn subject(&self, a: usize) -> usize {
        self.applied[a].variable
    }
}
