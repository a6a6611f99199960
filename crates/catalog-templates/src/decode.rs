//! Reading template documents with Go `encoding/json` semantics: the first YAML/JSON document,
//! object keys matched case-insensitively (the last match wins), optional strict mode.

use std::path::Path;

pub use fbc::go_json::go_kind;
use serde_json::{Map, Value};

/// The first document of a YAML or JSON stream, as canonical JSON.
pub fn first_document(text: &str) -> Result<Value, String> {
    let mut first: Option<fbc::Meta> = None;
    fbc::parse_metas(Path::new("template"), text, |m| {
        if first.is_none() {
            first = Some(m);
        }
        Ok(())
    })
    .map_err(|e| e.to_string())?;
    let meta = first.ok_or_else(|| "EOF".to_string())?;
    serde_json::from_str(meta.blob.get()).map_err(|e| e.to_string())
}

/// The value of the last key equal to `key` ignoring ASCII case.
pub fn field<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
        .next_back()
}

/// Rejects keys of `obj` that match none of `known` (Go `DisallowUnknownFields`).
pub fn deny_unknown(obj: &Map<String, Value>, known: &[&str]) -> Result<(), String> {
    for k in obj.keys() {
        if !known.iter().any(|n| n.eq_ignore_ascii_case(k)) {
            return Err(format!("json: unknown field {k:?}"));
        }
    }
    Ok(())
}

/// A string field (`null`/absent = ""), with Go's type error.
pub fn string_field(obj: &Map<String, Value>, key: &str, owner: &str) -> Result<String, String> {
    match field(obj, key) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(v) => Err(format!(
            "json: cannot unmarshal {} into Go struct field {owner}.{key} of type string",
            go_kind(v)
        )),
    }
}

/// A bool field (`null`/absent = false), with Go's type error.
pub fn bool_field(obj: &Map<String, Value>, key: &str, owner: &str) -> Result<bool, String> {
    match field(obj, key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(v) => Err(format!(
            "json: cannot unmarshal {} into Go struct field {owner}.{key} of type bool",
            go_kind(v)
        )),
    }
}
