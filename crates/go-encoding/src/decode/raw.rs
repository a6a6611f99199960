//! [`Fields`]: the Go-struct reader over raw JSON text, borrowing members from the source so that
//! property values and megabytes of base64 are read in place.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::{DecodeError, Kind, join};

fn err(path: &str, message: impl Into<String>) -> DecodeError {
    DecodeError::new(path, message)
}

/// `expected <what>, found <kind>` for the JSON value starting `raw`.
fn mismatch(path: &str, expected: &'static str, raw: &str) -> DecodeError {
    match Kind::of_raw(raw) {
        Some(found) => DecodeError::mismatch(path, expected, found),
        None => err(path, format!("expected {expected}, found nothing")),
    }
}

fn is_null(raw: &RawValue) -> bool {
    raw.get().trim() == "null"
}

/// The members of a JSON object, borrowed from the source text.
pub struct Fields<'a> {
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
    pub fn parse(raw: &'a str, path: &str) -> Result<Option<Fields<'a>>, DecodeError> {
        if raw.trim() == "null" {
            return Ok(None);
        }
        if !raw.trim_start().starts_with('{') {
            return Err(mismatch(path, "an object", raw));
        }
        let mut de = serde_json::Deserializer::from_str(raw);
        let fields = de
            .deserialize_map(FieldsVisitor)
            .map_err(|e| err(path, format!("invalid JSON: {e}")))?;
        Ok(Some(fields))
    }

    /// The value of the last member whose key equals `name` ignoring ASCII case.
    pub fn get(&self, name: &str) -> Option<&'a RawValue> {
        self.entries
            .iter()
            .rev()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &'a RawValue)> + '_ {
        self.entries.iter().map(|(k, v)| (k.as_ref(), *v))
    }

    pub fn string(&self, name: &str, path: &str) -> Result<String, DecodeError> {
        decode_string(self.get(name), &join(path, name))
    }

    pub fn strings(&self, name: &str, path: &str) -> Result<Vec<String>, DecodeError> {
        let p = join(path, name);
        match self.get(name) {
            None => Ok(Vec::new()),
            Some(raw) if is_null(raw) => Ok(Vec::new()),
            Some(raw) => {
                let items = decode_array(raw, &p)?;
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| decode_string(Some(item), &format!("{p}[{i}]")))
                    .collect()
            }
        }
    }
}

/// Go `string` decoding (`null` and absent are "").
pub fn decode_string(raw: Option<&RawValue>, path: &str) -> Result<String, DecodeError> {
    match raw {
        None => Ok(String::new()),
        Some(r) if is_null(r) => Ok(String::new()),
        Some(r) => {
            serde_json::from_str::<String>(r.get()).map_err(|_| mismatch(path, "a string", r.get()))
        }
    }
}

/// The items of a JSON array.
pub fn decode_array<'a>(raw: &'a RawValue, path: &str) -> Result<Vec<&'a RawValue>, DecodeError> {
    if !raw.get().trim_start().starts_with('[') {
        return Err(mismatch(path, "an array", raw.get()));
    }
    serde_json::from_str::<Vec<&RawValue>>(raw.get())
        .map_err(|e| err(path, format!("invalid JSON: {e}")))
}

/// Go `int` decoding: integral JSON numbers only.
pub fn decode_int(raw: Option<&RawValue>, path: &str) -> Result<i64, DecodeError> {
    match raw {
        None => Ok(0),
        Some(r) if is_null(r) => Ok(0),
        Some(r) => serde_json::from_str::<i64>(r.get()).map_err(|_| {
            if Kind::of_raw(r.get()) == Some(Kind::Number) {
                err(path, format!("expected an integer, found {}", r.get()))
            } else {
                mismatch(path, "an integer", r.get())
            }
        }),
    }
}

/// Go `[]byte` decoding: standard base64 (newlines ignored).
pub fn decode_base64(raw: Option<&RawValue>, path: &str) -> Result<Vec<u8>, DecodeError> {
    use base64::Engine as _;
    // Bundle manifests are megabytes of base64 without escapes: read them in place.
    let s: Cow<'_, str> = match raw.map(RawValue::get) {
        Some(text)
            if text.len() >= 2
                && text.starts_with('"')
                && text.ends_with('"')
                && memchr::memchr(b'\\', text.as_bytes()).is_none() =>
        {
            Cow::Borrowed(&text[1..text.len() - 1])
        }
        _ => Cow::Owned(decode_string(raw, path)?),
    };
    let cleaned: Cow<'_, [u8]> = if memchr::memchr2(b'\r', b'\n', s.as_bytes()).is_some() {
        Cow::Owned(s.bytes().filter(|b| *b != b'\r' && *b != b'\n').collect())
    } else {
        Cow::Borrowed(s.as_bytes())
    };
    base64::engine::general_purpose::STANDARD
        .decode(&cleaned)
        .map_err(|e| err(path, format!("invalid base64 data: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_string()).unwrap()
    }

    #[test]
    fn base64_in_place_and_escaped_agree() {
        // "hello" in base64: plain (read in place), then with JSON escapes (decoded first):
        // line breaks, which Go ignores, and a `\u0061` for the leading 'a'.
        for text in [
            r#""aGVsbG8=""#,
            r#""aGVs\nbG8=""#,
            r#""aGVs\r\nbG8=""#,
            r#""\u0061GVsbG8=""#,
        ] {
            assert_eq!(
                decode_base64(Some(&raw(text)), "data").unwrap(),
                b"hello",
                "{text}"
            );
        }
        assert_eq!(decode_base64(None, "data").unwrap(), b"");
        assert_eq!(decode_base64(Some(&raw("null")), "data").unwrap(), b"");
        assert_eq!(
            decode_base64(Some(&raw("5")), "data")
                .unwrap_err()
                .to_string(),
            "data: expected a string, found a number"
        );
        assert!(
            decode_base64(Some(&raw(r#""a*b""#)), "data")
                .unwrap_err()
                .to_string()
                .starts_with("data: invalid base64 data: ")
        );
    }
}
