//! Decoding with Go `encoding/json` struct semantics, which upstream relies on for every known
//! schema: field names match case-insensitively (the last matching key wins), unknown fields are
//! ignored unless asked otherwise, `null` leaves the zero value. One path-tracking reader with two
//! inputs: [`Node`] over an already parsed [`serde_json::Value`] (YAML manifests, templates) and
//! [`Fields`] over raw JSON text (catalog blobs, whose property values are kept byte for byte).
//! Both report errors as [`DecodeError`]s naming the JSON path, such as
//! `properties[2].value.packageName`.

mod raw;
mod value;

use std::fmt;

pub use raw::{Fields, decode_array, decode_base64, decode_int, decode_string};
pub use value::Node;

/// The kind of a JSON value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Null,
    Bool,
    Number,
    String,
    Array,
    Object,
}

impl Kind {
    pub fn of(v: &serde_json::Value) -> Kind {
        use serde_json::Value;
        match v {
            Value::Null => Kind::Null,
            Value::Bool(_) => Kind::Bool,
            Value::Number(_) => Kind::Number,
            Value::String(_) => Kind::String,
            Value::Array(_) => Kind::Array,
            Value::Object(_) => Kind::Object,
        }
    }

    /// The kind of the JSON text starting `raw` (`None` for empty text).
    pub fn of_raw(raw: &str) -> Option<Kind> {
        Some(match raw.trim_start().as_bytes().first()? {
            b'"' => Kind::String,
            b'{' => Kind::Object,
            b'[' => Kind::Array,
            b't' | b'f' => Kind::Bool,
            b'n' => Kind::Null,
            _ => Kind::Number,
        })
    }

    /// Go's name, as in `json: cannot unmarshal number into …`.
    pub fn go_name(self) -> &'static str {
        match self {
            Kind::Null => "null",
            Kind::Bool => "bool",
            Kind::Number => "number",
            Kind::String => "string",
            Kind::Array => "array",
            Kind::Object => "object",
        }
    }

    /// The name in our own messages: `a string`, `an object`, `null`.
    pub fn article(self) -> &'static str {
        match self {
            Kind::Null => "null",
            Kind::Bool => "a boolean",
            Kind::Number => "a number",
            Kind::String => "a string",
            Kind::Array => "an array",
            Kind::Object => "an object",
        }
    }
}

/// What is wrong with the value at a path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// The value has another JSON type than the field (`expected a string, found a number`).
    Type { expected: &'static str, found: Kind },
    /// Anything else, worded as the message.
    Other(String),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Type { expected, found } => {
                write!(f, "expected {expected}, found {}", found.article())
            }
            Problem::Other(message) => f.write_str(message),
        }
    }
}

/// A typed-decoding failure at a JSON path (`""` for the root).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct DecodeError {
    pub path: String,
    pub problem: Problem,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            self.problem.fmt(f)
        } else {
            write!(f, "{}: {}", self.path, self.problem)
        }
    }
}

impl DecodeError {
    pub fn new(path: &str, message: impl Into<String>) -> Self {
        DecodeError {
            path: path.to_string(),
            problem: Problem::Other(message.into()),
        }
    }

    pub fn mismatch(path: &str, expected: &'static str, found: Kind) -> Self {
        DecodeError {
            path: path.to_string(),
            problem: Problem::Type { expected, found },
        }
    }

    /// The message Go's decoder gives: for a type mismatch `json: cannot unmarshal <kind> into Go
    /// struct field <go_struct>.<path> of type <go_type>` (or `into Go value of type <go_type>`
    /// at the root), otherwise the problem itself. Go's field path leaves out array indices;
    /// `go_struct` is the innermost struct's type name, which only the caller knows.
    pub fn go_message(&self, go_struct: &str, go_type: &str) -> String {
        match &self.problem {
            Problem::Type { found, .. } if self.path.is_empty() => format!(
                "json: cannot unmarshal {} into Go value of type {go_type}",
                found.go_name()
            ),
            Problem::Type { found, .. } => format!(
                "json: cannot unmarshal {} into Go struct field {go_struct}.{} of type {go_type}",
                found.go_name(),
                go_field_path(&self.path)
            ),
            Problem::Other(message) => message.clone(),
        }
    }
}

/// `path` without its `[…]` segments.
fn go_field_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut depth = 0usize;
    for c in path.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            c if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// `path.field` (or `field` at the root).
pub fn join(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_string()
    } else {
        format!("{path}.{field}")
    }
}
