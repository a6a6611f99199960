//! Fast path for JSON catalog files: each document is transcoded straight from the input text to
//! its canonical blob (keys sorted by bytes, compact, Go escaping, numbers through float64)
//! without building a value tree. Strings are copied with a word-at-a-time scan, and an object is
//! reordered only when its keys aren't already sorted.
//!
//! Anything out of the ordinary returns `None`: a syntax error, a duplicate key, envelope keys that
//! fold together or hold a non-string, a non-object document, deep nesting. The caller then runs the
//! general parser over the whole file, which gives the same result or the precise error. So this
//! path never has to reproduce an error message.

use std::borrow::Cow;

use crate::go_json::{find_string_special, push_float64_number, push_string, string_end};

/// Nesting beyond this is left to the general parser and its recursion limit.
const MAX_DEPTH: usize = 100;

/// One document of a JSON stream, already canonical.
pub(crate) struct CanonicalDoc {
    /// 1-based line the document starts on.
    pub line: usize,
    pub schema: String,
    pub package: String,
    pub name: String,
    pub blob: String,
}

/// Transcodes a JSON stream of objects (after any byte-order mark), or `None` if the general
/// parser must handle the file.
pub(crate) fn canonical_json_stream(text: &str) -> Option<Vec<CanonicalDoc>> {
    let mut p = Transcoder {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        out: String::new(),
        scratch: String::new(),
    };
    let mut docs = Vec::new();
    let mut line = 1usize;
    let mut counted_to = 0usize;
    loop {
        p.skip_ws();
        if p.pos == p.bytes.len() {
            return Some(docs);
        }
        if p.bytes[p.pos] != b'{' {
            return None;
        }
        line += memchr::memchr_iter(b'\n', &p.bytes[counted_to..p.pos]).count();
        counted_to = p.pos;
        p.out = String::with_capacity(estimate_blob_len(p.bytes, p.pos));
        let envelope = p.top_object()?;
        docs.push(CanonicalDoc {
            line,
            schema: envelope.schema,
            package: envelope.package,
            name: envelope.name,
            blob: std::mem::take(&mut p.out),
        });
    }
}

/// Canonical output is the input minus indentation; reserving the remaining input length (capped)
/// avoids most regrowth for the single large document typical of bundle blobs.
fn estimate_blob_len(bytes: &[u8], pos: usize) -> usize {
    (bytes.len() - pos).min(1 << 20)
}

#[derive(Default)]
struct Envelope {
    schema: String,
    package: String,
    name: String,
}

struct Member<'a> {
    key: Cow<'a, str>,
    /// The member's `"key":value` text in the output buffer.
    start: usize,
    end: usize,
}

struct Transcoder<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    out: String,
    /// Reused when an object's members must be reordered.
    scratch: String,
}

impl<'a> Transcoder<'a> {
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, b: u8) -> Option<()> {
        self.skip_ws();
        if self.bytes.get(self.pos) == Some(&b) {
            self.pos += 1;
            Some(())
        } else {
            None
        }
    }

    /// A string token at `pos`, decoded.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        if self.bytes.get(self.pos) != Some(&b'"') {
            return None;
        }
        let start = self.pos + 1;
        let mut i = start;
        loop {
            i = find_string_special(self.bytes, i, false);
            match self.bytes.get(i) {
                Some(b'"') => {
                    self.pos = i + 1;
                    return Some(Cow::Borrowed(&self.text[start..i]));
                }
                // Part of a multi-byte character; only the encoder cares about U+2028/U+2029.
                Some(0xE2) => i += 1,
                Some(b'\\') => {
                    // Escapes are rare: let serde_json decode this one token.
                    let end = string_end(self.bytes, i);
                    if end >= self.bytes.len() {
                        return None;
                    }
                    let s: String = serde_json::from_str(&self.text[self.pos..=end]).ok()?;
                    self.pos = end + 1;
                    return Some(Cow::Owned(s));
                }
                // A raw control character or the end of input: not valid JSON.
                _ => return None,
            }
        }
    }

    fn value(&mut self, depth: usize) -> Option<()> {
        self.skip_ws();
        match *self.bytes.get(self.pos)? {
            b'{' => self.object(depth + 1, None).map(|_| ()),
            b'[' => self.array(depth + 1),
            b'"' => {
                let s = self.string()?;
                push_string(&mut self.out, &s, false);
                Some(())
            }
            b't' => self.literal("true"),
            b'f' => self.literal("false"),
            b'n' => self.literal("null"),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn literal(&mut self, word: &str) -> Option<()> {
        if !self.text[self.pos..].starts_with(word) {
            return None;
        }
        self.pos += word.len();
        self.out.push_str(word);
        Some(())
    }

    /// Numbers are rare in catalogs: the token is parsed by serde_json, exactly as the general
    /// path parses it, and written through float64.
    fn number(&mut self) -> Option<()> {
        let start = self.pos;
        while let Some(b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
        let n: serde_json::Number = serde_json::from_str(&self.text[start..self.pos]).ok()?;
        push_float64_number(&mut self.out, &n);
        Some(())
    }

    fn array(&mut self, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.pos += 1;
        self.out.push('[');
        self.skip_ws();
        if self.bytes.get(self.pos) == Some(&b']') {
            self.pos += 1;
            self.out.push(']');
            return Some(());
        }
        loop {
            self.value(depth)?;
            self.skip_ws();
            match self.bytes.get(self.pos)? {
                b',' => {
                    self.pos += 1;
                    self.out.push(',');
                }
                b']' => {
                    self.pos += 1;
                    self.out.push(']');
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// The top-level object, with its envelope. Envelope keys match case-insensitively and their
    /// values must be strings; no two keys may fold to the same name. Otherwise the general path
    /// reports the problem.
    fn top_object(&mut self) -> Option<Envelope> {
        let mut envelope = Envelope::default();
        let keys = self.object(1, Some(&mut envelope))?;
        let mut folded: Vec<String> = keys.iter().map(|k| fold(k)).collect();
        folded.sort_unstable();
        if folded.windows(2).any(|w| w[0] == w[1]) {
            return None;
        }
        Some(envelope)
    }

    /// Transcodes an object at `pos`; returns its keys.
    fn object(
        &mut self,
        depth: usize,
        mut envelope: Option<&mut Envelope>,
    ) -> Option<Vec<Cow<'a, str>>> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.pos += 1;
        let obj_start = self.out.len();
        self.out.push('{');
        self.skip_ws();
        if self.bytes.get(self.pos) == Some(&b'}') {
            self.pos += 1;
            self.out.push('}');
            return Some(Vec::new());
        }
        let mut members: Vec<Member<'a>> = Vec::new();
        loop {
            self.skip_ws();
            let key = self.string()?;
            self.expect(b':')?;
            if !members.is_empty() {
                self.out.push(',');
            }
            let start = self.out.len();
            push_string(&mut self.out, &key, false);
            self.out.push(':');
            let slot = envelope
                .as_deref_mut()
                .and_then(|e| match fold(&key).as_str() {
                    "schema" => Some(&mut e.schema),
                    "package" => Some(&mut e.package),
                    "name" => Some(&mut e.name),
                    _ => None,
                });
            match slot {
                Some(slot) => {
                    self.skip_ws();
                    let v = self.string()?;
                    push_string(&mut self.out, &v, false);
                    *slot = v.into_owned();
                }
                None => self.value(depth)?,
            }
            members.push(Member {
                key,
                start,
                end: self.out.len(),
            });
            self.skip_ws();
            match self.bytes.get(self.pos)? {
                b',' => self.pos += 1,
                b'}' => {
                    self.pos += 1;
                    break;
                }
                _ => return None,
            }
        }
        self.out.push('}');
        let sorted = members
            .windows(2)
            .all(|w| w[0].key.as_bytes() < w[1].key.as_bytes());
        if !sorted {
            members.sort_by(|a, b| a.key.as_bytes().cmp(b.key.as_bytes()));
            if members.windows(2).any(|w| w[0].key == w[1].key) {
                // Last one wins in the general path; rare enough to leave to it.
                return None;
            }
            self.scratch.clear();
            self.scratch.push_str(&self.out[obj_start..]);
            self.out.truncate(obj_start);
            self.out.push('{');
            for (i, m) in members.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                self.out
                    .push_str(&self.scratch[m.start - obj_start..m.end - obj_start]);
            }
            self.out.push('}');
        }
        Some(members.into_iter().map(|m| m.key).collect())
    }
}

/// The envelope's key matching (`decode::fold`).
fn fold(s: &str) -> String {
    s.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::tests_support::general;
    use super::*;

    fn one(text: &str) -> Option<(String, String, String, String)> {
        let mut docs = canonical_json_stream(text)?;
        assert_eq!(docs.len(), 1);
        let d = docs.remove(0);
        Some((d.schema, d.package, d.name, d.blob))
    }

    #[test]
    fn matches_the_general_path() {
        for text in [
            "{\n  \"schema\": \"olm.bundle\",\n  \"Name\": \"a\\u003cb\",\n  \"package\": \"p\",\n  \"n\": [1.0, 1e21, -0, -0.0, 0.0000001, 12345678901234567890, true, null, {}, []],\n  \"s\": \"x\\u2028y\\/z <&> \u{2028} \\ud83d\\ude00 \\u0001\"\n}",
            "{\"b\":{\"z\":1,\"y\":{\"x\":[{\"k\":\"\u{e9}\",\"j\":\"\u{1F600}\"}]}},\"a\":\"\"}",
            "{} {\"SCHEMA\":\"x\",\"PaCkAgE\":\"q\"}\n{\"\\u0073chema\":\"esc\"}",
        ] {
            let fast: Vec<_> = canonical_json_stream(text)
                .unwrap()
                .into_iter()
                .map(|d| (d.schema, d.package, d.name, d.blob))
                .collect();
            assert_eq!(fast, general(text), "{text}");
        }
        let (_, _, name, blob) = one("{\"name\":\"a\\u003cb\",\"v\":[1.0,1e21]}").unwrap();
        assert_eq!(name, "a<b");
        assert_eq!(blob, r#"{"name":"a<b","v":[1,1e+21]}"#);
    }

    #[test]
    fn tracks_lines_of_concatenated_documents() {
        let docs =
            canonical_json_stream("{\"schema\":\"a\"}\n\n{\"schema\":\"b\"}{\"schema\":\"c\"}")
                .unwrap();
        let lines: Vec<usize> = docs.iter().map(|d| d.line).collect();
        assert_eq!(lines, [1, 3, 3]);
    }

    #[test]
    fn leaves_unusual_input_to_the_general_path() {
        for text in [
            "{\"a\":1,\"a\":2}",
            "{\"schema\":\"a\",\"Schema\":\"b\"}",
            "{\"schema\":[1]}",
            "{\"schema\":\"a\"} [1]",
            "{\"schema\":\"a\",}",
            "{\"schema\":\"a\nb\"}",
            "{\"schema\":\"a\"",
            "\u{a0}{}",
        ] {
            assert!(canonical_json_stream(text).is_none(), "{text:?}");
        }
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(canonical_json_stream(&format!("{{\"a\":{deep}}}")).is_none());
    }
}

#[cfg(test)]
mod proptests {
    use proptest::prelude::*;
    use serde_json::{Map, Value};

    use super::tests_support::general_checked;
    use super::*;

    fn tricky_string() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-zA-Z0-9 ._-]{0,12}",
            "[<>&\"\\\\/\u{0}-\u{1f}\u{7f}\u{e9}\u{2027}-\u{202a}\u{1F600}a]{0,12}",
        ]
    }

    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => tricky_string(),
            1 => prop_oneof![Just("name"), Just("Package"), Just("NAME"), Just("package")]
                .prop_map(str::to_string),
        ]
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            tricky_string().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                proptest::collection::vec((tricky_string(), inner), 0..5)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
            ]
        })
    }

    proptest! {
        /// Compact or indented, any key order: the fast path gives the general path's blob and
        /// envelope, or defers to it.
        #[test]
        fn fast_path_equals_general_path(
            docs in proptest::collection::vec(
                (proptest::collection::vec((key(), json_value()), 0..6),
                 prop_oneof![Just("schema"), Just("Schema")],
                 tricky_string(),
                 any::<bool>()),
                1..4,
            )
        ) {
            let mut text = String::new();
            for (members, schema_key, schema, pretty) in docs {
                let mut map: Map<String, Value> = members.into_iter().collect();
                map.insert(schema_key.to_string(), Value::String(schema));
                let v = Value::Object(map);
                text.push_str(&if pretty {
                    serde_json::to_string_pretty(&v).unwrap()
                } else {
                    serde_json::to_string(&v).unwrap()
                });
                text.push('\n');
            }
            let fast = canonical_json_stream(&text).map(|docs| {
                docs.into_iter()
                    .map(|d| (d.schema, d.package, d.name, d.blob))
                    .collect::<Vec<_>>()
            });
            // Never accept what the general path rejects; never defer valid documents.
            prop_assert_eq!(fast, general_checked(&text));
        }
    }
}

#[cfg(test)]
mod tests_support {
    /// [`general`], or `None` when it rejects a document.
    pub(super) fn general_checked(text: &str) -> Option<Vec<(String, String, String, String)>> {
        let mut out = Vec::new();
        for v in serde_json::Deserializer::from_str(text).into_iter::<serde_json::Value>() {
            let origin = crate::declcfg::Origin {
                path: std::sync::Arc::from(std::path::Path::new("f.json")),
                line: 1,
            };
            let m = crate::decode::meta_from_value(&v.ok()?, &origin).ok()?;
            out.push((m.schema, m.package, m.name, m.blob.get().to_string()));
        }
        Some(out)
    }

    /// The general path: a value tree, then canonical encoding and the envelope.
    pub(super) fn general(text: &str) -> Vec<(String, String, String, String)> {
        serde_json::Deserializer::from_str(text)
            .into_iter::<serde_json::Value>()
            .map(|v| {
                let origin = crate::declcfg::Origin {
                    path: std::sync::Arc::from(std::path::Path::new("f.json")),
                    line: 1,
                };
                let m = crate::decode::meta_from_value(&v.unwrap(), &origin).unwrap();
                (m.schema, m.package, m.name, m.blob.get().to_string())
            })
            .collect()
    }
}
