//! RukPak's health verdict per object and the text of `Healthy=False/Unhealthy`.

use std::fmt;

use serde_json::Value;

use crate::fields;
use crate::status::{Status, compute};

/// Which object: group (empty for core), version, kind, namespace (`None` when
/// cluster-scoped) and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectRef {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

impl ObjectRef {
    /// `apiVersion` as written in manifests: `v1` for the core group, else `group/version`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

/// `(<group>/<version>, Kind=<kind>)(<namespace>/<name>)`, or `(…)(<name>)` when
/// cluster-scoped: the key upstream prefixes each health error with (the group is empty
/// for core kinds, so a Pod reads `(/v1, Kind=Pod)`).
impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({}/{}, Kind={})", self.group, self.version, self.kind)?;
        match &self.namespace {
            Some(ns) if !ns.is_empty() => write!(f, "({ns}/{})", self.name),
            _ => write!(f, "({})", self.name),
        }
    }
}

/// One object that is not healthy, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectProblem {
    pub object: ObjectRef,
    pub message: String,
}

impl fmt::Display for ObjectProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.object, self.message)
    }
}

/// Every unhealthy object of a set, displayed one per line (as Go's `errors.Join`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unhealthy(pub Vec<ObjectProblem>);

impl fmt::Display for Unhealthy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Unhealthy {}

/// RukPak's rule for one object as read from the cluster: `None` when healthy, else the
/// message for its [`ObjectProblem`].
///
/// An `apiregistration.k8s.io` `APIService` is healthy iff it has an `Available`
/// condition that is not `False` (the message is that condition's message, or
/// `Available condition not found`). Every other object must compute to
/// [`Status::Current`]; otherwise the message is `object <Status>: <message>`.
pub fn check_object(obj: &Value) -> Option<String> {
    if fields::group(obj) == "apiregistration.k8s.io" && fields::kind(obj) == "APIService" {
        return api_service(obj);
    }
    match compute(obj) {
        Err(e) => Some(e.to_string()),
        Ok(eval) if eval.status == Status::Current => None,
        Ok(eval) => Some(format!("object {}: {}", eval.status, eval.message)),
    }
}

fn api_service(obj: &Value) -> Option<String> {
    let conds = match fields::conditions(obj) {
        Ok(conds) => conds,
        Err(e) => return Some(e.to_string()),
    };
    match conds.iter().find(|c| c.type_ == "Available") {
        None => Some("Available condition not found".to_owned()),
        Some(c) if c.status == "False" => Some(c.message.clone()),
        Some(_) => None,
    }
}
