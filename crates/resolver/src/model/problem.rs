//! The identifier form of a problem: variables, their constraints, and what makes a problem
//! malformed.

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

/// A problem: variables in input order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Problem {
    /// The variables.
    pub variables: Vec<Variable>,
}
