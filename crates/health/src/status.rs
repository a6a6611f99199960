//! The computed status of one object, in kstatus's vocabulary.

use std::fmt;

use jiff::Timestamp;
use serde_json::Value;

use crate::fields::{self, Condition};
use crate::rules;

/// How far an object is from its desired state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// The object's controller has not caught up with its spec yet.
    InProgress,
    /// The object's controller gave up (e.g. a Deployment's progress deadline passed).
    Failed,
    /// The object is what its spec asks for.
    Current,
    /// The object is being deleted.
    Terminating,
    /// The object does not exist.
    NotFound,
    /// The status could not be determined.
    Unknown,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // kstatus's spelling: RukPak's messages read `object InProgress: …`.
        f.write_str(match self {
            Status::InProgress => "InProgress",
            Status::Failed => "Failed",
            Status::Current => "Current",
            Status::Terminating => "Terminating",
            Status::NotFound => "NotFound",
            Status::Unknown => "Unknown",
        })
    }
}

/// A status with the sentence explaining it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub status: Status,
    pub message: String,
}

impl Evaluation {
    pub(crate) fn new(status: Status, message: impl Into<String>) -> Self {
        Evaluation {
            status,
            message: message.into(),
        }
    }
    pub(crate) fn current(message: impl Into<String>) -> Self {
        Self::new(Status::Current, message)
    }
    pub(crate) fn in_progress(message: impl Into<String>) -> Self {
        Self::new(Status::InProgress, message)
    }
    pub(crate) fn failed(message: impl Into<String>) -> Self {
        Self::new(Status::Failed, message)
    }
}

/// Why an object's status cannot be computed at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ComputeError {
    #[error("malformed conditions: {0}")]
    MalformedConditions(&'static str),
    #[error("{0} is not an integer")]
    NotAnInteger(String),
    #[error("unknown pod phase {0}")]
    UnknownPodPhase(String),
}

/// The status of `obj` now. See [`compute_at`].
pub fn compute(obj: &Value) -> Result<Evaluation, ComputeError> {
    compute_at(obj, Timestamp::now())
}

/// The status of `obj` as of `now` (only a Pending, unschedulable Pod depends on the time:
/// it gets a 15-second grace period after creation before it counts as Failed).
///
/// Order, as kstatus: deletion → generation not observed → a true `Reconciling` or
/// `Stalled` condition → the rule for the object's kind → a `Ready` condition → Current.
pub fn compute_at(obj: &Value, now: Timestamp) -> Result<Evaluation, ComputeError> {
    if let Some(generic) = generic(obj)? {
        return Ok(generic);
    }
    if let Some(rule) = rules::for_kind(fields::group(obj), fields::kind(obj)) {
        return rule(obj, now);
    }
    if let Some(ready) = ready_condition(&fields::conditions(obj)?) {
        return Ok(ready);
    }
    Ok(Evaluation::current("Resource is current"))
}

/// What holds for every kind: deletion, observed generation, and the standard
/// `Reconciling`/`Stalled` conditions, which override any kind-specific rule.
fn generic(obj: &Value) -> Result<Option<Evaluation>, ComputeError> {
    if !fields::string(obj, &["metadata", "deletionTimestamp"], "").is_empty() {
        return Ok(Some(Evaluation::new(
            Status::Terminating,
            "Resource scheduled for deletion",
        )));
    }
    if let Some(stale) = generation_not_observed(obj)? {
        return Ok(Some(stale));
    }
    let conds = fields::conditions(obj)?;
    Ok(conds
        .iter()
        .find_map(|c| match (c.type_.as_str(), c.status.as_str()) {
            ("Reconciling", "True") => Some(Evaluation::in_progress(c.message.clone())),
            ("Stalled", "True") => Some(Evaluation::failed(c.message.clone())),
            _ => None,
        }))
}

/// InProgress when both generations are present and differ; objects without either
/// field pass (kstatus is lenient here; DaemonSets are checked strictly by their rule).
fn generation_not_observed(obj: &Value) -> Result<Option<Evaluation>, ComputeError> {
    let Some(generation) = fields::strict_int(obj, &["metadata", "generation"])? else {
        return Ok(None);
    };
    let Some(observed) = fields::strict_int(obj, &["status", "observedGeneration"])? else {
        return Ok(None);
    };
    Ok((observed != generation).then(|| {
        Evaluation::in_progress(format!(
            "{} generation is {generation}, but latest observed generation is {observed}",
            fields::kind(obj)
        ))
    }))
}

/// The first `Ready` condition decides, for kinds without a rule.
fn ready_condition(conds: &[Condition]) -> Option<Evaluation> {
    conds
        .iter()
        .filter(|c| c.type_ == "Ready")
        .find_map(|c| match c.status.as_str() {
            "True" => Some(Evaluation::current("Resource is Ready")),
            "False" | "Unknown" => Some(Evaluation::in_progress(c.message.clone())),
            _ => None,
        })
}
