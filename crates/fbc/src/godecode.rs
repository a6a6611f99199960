//! Typed decoding with Go `encoding/json` struct semantics, which upstream relies on for every
//! known schema: field names match case-insensitively, unknown fields are ignored, `null` leaves
//! the zero value, and for repeated keys the last one wins.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

/// A typed-decoding failure, with a JSON path such as `properties[2].value.packageName`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    pub path: String,
    pub message: String,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for DecodeError {}

pub(crate) fn err(path: &str, message: impl Into<String>) -> DecodeError {
    DecodeError {
        path: path.to_string(),
        message: message.into(),
    }
}

pub(crate) fn join(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_string()
    } else {
        format!("{path}.{field}")
    }
}

/// "a string", "a number", … for the JSON value starting `raw`.
pub(crate) fn kind_of(raw: &str) -> &'static str {
    match raw.trim_start().as_bytes().first() {
        Some(b'"') => "a string",
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b't') | Some(b'f') => "a boolean",
        Some(b'n') => "null",
        Some(_) => "a number",
        None => "nothing",
    }
}

fn is_null(raw: &RawValue) -> bool {
    raw.get().trim() == "null"
}

/// The members of a JSON object, borrowed from the source text.
pub(crate) struct Fields<'a> {
    entries: Vec<(Cow<'a, str>, &'a RawValue)>,
}

struct FieldsVisitor;

impl<'de> Visitor<'de> for FieldsVisitor {
    type Value = Fields<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            let value: &'de RawValue = map.next_value()?;
            entries.push((key, value));
        }
        Ok(Fields { entries })
    }
}

impl<'a> Fields<'a> {
    /// Parses `raw` as an object; `Ok(None)` for `null`.
    pub(crate) fn parse(raw: &'a str, path: &str) -> Result<Option<Fields<'a>>, DecodeError> {
        if raw.trim() == "null" {
            return Ok(None);
        }
        if !raw.trim_start().starts_with('{') {
            return Err(err(
                path,
                format!("expected an object, found {}", kind_of(raw)),
            ));
        }
        let mut de = serde_json::Deserializer::from_str(raw);
        let fields = de
            .deserialize_map(FieldsVisitor)
            .map_err(|e| err(path, format!("invalid JSON: {e}")))?;
        Ok(Some(fields))
    }

    /// The value of the last member whose key equals `name` ignoring ASCII case.
    pub(crate) fn get(&self, name: &str) -> Option<&'a RawValue> {
        self.entries
            .iter()
            .rev()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &'a RawValue)> + '_ {
        self.entries.iter().map(|(k, v)| (k.as_ref(), *v))
    }

    pub(crate) fn string(&self, name: &str, path: &str) -> Result<String, DecodeError> {
        string(self.get(name), &join(path, name))
    }

    pub(crate) fn strings(&self, name: &str, path: &str) -> Result<Vec<String>, DecodeError> {
        let p = join(path, name);
        match self.get(name) {
            None => Ok(Vec::new()),
            Some(raw) if is_null(raw) => Ok(Vec::new()),
            Some(raw) => {
                let items = array(raw, &p)?;
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| string(Some(item), &format!("{p}[{i}]")))
                    .collect()
            }
        }
    }
}

pub(crate) fn string(raw: Option<&RawValue>, path: &str) -> Result<String, DecodeError> {
    match raw {
        None => Ok(String::new()),
        Some(r) if is_null(r) => Ok(String::new()),
        Some(r) => serde_json::from_str::<String>(r.get()).map_err(|_| {
            err(
                path,
                format!("expected a string, found {}", kind_of(r.get())),
            )
        }),
    }
}

pub(crate) fn array<'a>(raw: &'a RawValue, path: &str) -> Result<Vec<&'a RawValue>, DecodeError> {
    if !raw.get().trim_start().starts_with('[') {
        return Err(err(
            path,
            format!("expected an array, found {}", kind_of(raw.get())),
        ));
    }
    serde_json::from_str::<Vec<&RawValue>>(raw.get())
        .map_err(|e| err(path, format!("invalid JSON: {e}")))
}

/// Go `int` decoding: integral JSON numbers only.
pub(crate) fn int(raw: Option<&RawValue>, path: &str) -> Result<i64, DecodeError> {
    match raw {
        None => Ok(0),
        Some(r) if is_null(r) => Ok(0),
        Some(r) => serde_json::from_str::<i64>(r.get()).map_err(|_| {
            if kind_of(r.get()) == "a number" {
                err(path, format!("expected an integer, found {}", r.get()))
            } else {
                err(
                    path,
                    format!("expected an integer, found {}", kind_of(r.get())),
                )
            }
        }),
    }
}

/// Go `[]byte` decoding: standard base64 (newlines ignored).
pub(crate) fn base64_bytes(raw: Option<&RawValue>, path: &str) -> Result<Vec<u8>, DecodeError> {
    use base64::Engine as _;
    let s = string(raw, path)?;
    let cleaned: Cow<'_, str> = if s.contains(['\r', '\n']) {
        Cow::Owned(s.chars().filter(|c| *c != '\r' && *c != '\n').collect())
    } else {
        Cow::Borrowed(&s)
    };
    base64::engine::general_purpose::STANDARD
        .decode(cleaned.as_bytes())
        .map_err(|e| err(path, format!("invalid base64 data: {e}")))
}
