//! Reading fields of an object given as JSON, with kstatus's leniency: a missing or
//! mistyped counter falls back to a default, while malformed conditions are an error.

use serde_json::Value;

use crate::status::ComputeError;

/// The value at `path`, if every step is an object holding the next key.
pub(crate) fn at<'a>(obj: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(obj, |v, key| v.as_object()?.get(*key))
}

/// The string at `path`, or `default` when missing or not a string.
pub(crate) fn string<'a>(obj: &'a Value, path: &[&str], default: &'a str) -> &'a str {
    at(obj, path).and_then(Value::as_str).unwrap_or(default)
}

/// The integer at `path`, or `default` when missing or not an integer.
pub(crate) fn int(obj: &Value, path: &[&str], default: i64) -> i64 {
    at(obj, path).and_then(Value::as_i64).unwrap_or(default)
}

/// The integer at `path`: `None` when missing, an error when present but not an integer.
pub(crate) fn strict_int(obj: &Value, path: &[&str]) -> Result<Option<i64>, ComputeError> {
    match at(obj, path) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_i64()
            .map(Some)
            .ok_or_else(|| ComputeError::NotAnInteger(path.join("."))),
    }
}

/// One entry of `status.conditions`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Condition {
    pub(crate) type_: String,
    pub(crate) status: String,
    pub(crate) reason: String,
    pub(crate) message: String,
}

/// `status.conditions`, empty when absent; an error when it is not a list of objects
/// with string fields (kstatus refuses such objects too).
pub(crate) fn conditions(obj: &Value) -> Result<Vec<Condition>, ComputeError> {
    let status = match obj.get("status") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Object(status)) => status,
        Some(_) => return Err(ComputeError::MalformedConditions("status is not an object")),
    };
    let list = match status.get("conditions") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(list)) => list,
        Some(_) => {
            return Err(ComputeError::MalformedConditions(
                "status.conditions is not a list",
            ));
        }
    };
    list.iter().map(condition).collect()
}

fn condition(entry: &Value) -> Result<Condition, ComputeError> {
    let Value::Object(map) = entry else {
        return Err(ComputeError::MalformedConditions(
            "a status.conditions entry is not an object",
        ));
    };
    let field = |key: &str| match map.get(key) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(ComputeError::MalformedConditions(
            "a status.conditions field is not a string",
        )),
    };
    Ok(Condition {
        type_: field("type")?,
        status: field("status")?,
        reason: field("reason")?,
        message: field("message")?,
    })
}

/// The first condition of `type_` whose status is `status`.
pub(crate) fn find<'a>(conds: &'a [Condition], type_: &str, status: &str) -> Option<&'a Condition> {
    conds
        .iter()
        .find(|c| c.type_ == type_ && c.status == status)
}

/// The object's `kind`, empty when missing.
pub(crate) fn kind(obj: &Value) -> &str {
    string(obj, &["kind"], "")
}

/// The group of the object's `apiVersion` (empty for the core group).
pub(crate) fn group(obj: &Value) -> &str {
    string(obj, &["apiVersion"], "")
        .rsplit_once('/')
        .map_or("", |(g, _)| g)
}
