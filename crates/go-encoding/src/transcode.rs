//! Fast path for streams of JSON objects: each document is transcoded straight from the input text
//! to its canonical encoding (keys sorted by bytes, compact, Go escaping, numbers through float64,
//! as Go re-encodes a decoded `interface{}`) without building a value tree. Strings are copied
//! with a word-at-a-time scan, and an object is reordered only when its keys aren't already
//! sorted. The string values of a few top-level "envelope" keys, matched case-insensitively, are
//! picked up on the way.
//!
//! Anything out of the ordinary returns `None`: a syntax error, a duplicate key, top-level keys
//! that fold together, an envelope key holding a non-string, a non-object document, deep nesting.
//! The caller then runs its general parser over the whole input, which gives the same result or
//! the precise error. So this path never has to reproduce an error message.

use std::borrow::Cow;

use crate::json::{find_string_special, push_float64_number, push_string, string_end};

/// Nesting beyond this is left to the general parser and its recursion limit.
const MAX_DEPTH: usize = 100;

/// One document of a JSON stream, already canonical.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CanonicalDoc {
    /// 1-based line the document starts on.
    pub line: usize,
    /// The string value of each envelope key, in the order asked for ("" when absent).
    pub envelope: Vec<String>,
    pub blob: String,
}

/// Transcodes a JSON stream of objects (after any byte-order mark), picking up the top-level
/// `envelope` keys (given in lower case), or `None` if the general parser must handle the input.
pub fn canonical_json_stream(text: &str, envelope: &[&str]) -> Option<Vec<CanonicalDoc>> {
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
        let values = p.top_object(envelope)?;
        docs.push(CanonicalDoc {
            line,
            envelope: values,
            blob: std::mem::take(&mut p.out),
        });
    }
}

/// Canonical output is the input minus indentation; reserving the remaining input length (capped)
/// avoids most regrowth for the single large document typical of bundle blobs.
fn estimate_blob_len(bytes: &[u8], pos: usize) -> usize {
    (bytes.len() - pos).min(1 << 20)
}

/// The envelope keys asked for and their values found so far.
struct Envelope<'k> {
    keys: &'k [&'k str],
    values: Vec<String>,
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
    fn top_object(&mut self, keys: &[&str]) -> Option<Vec<String>> {
        let mut envelope = Envelope {
            keys,
            values: vec![String::new(); keys.len()],
        };
        let keys = self.object(1, Some(&mut envelope))?;
        let mut folded: Vec<String> = keys.iter().map(|k| fold(k)).collect();
        folded.sort_unstable();
        if folded.windows(2).any(|w| w[0] == w[1]) {
            return None;
        }
        Some(envelope.values)
    }

    /// Transcodes an object at `pos`; returns its keys.
    fn object(
        &mut self,
        depth: usize,
        mut envelope: Option<&mut Envelope<'_>>,
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
            let slot = envelope.as_deref_mut().and_then(|e| {
                let folded = fold(&key);
                let i = e.keys.iter().position(|k| *k == folded)?;
                Some(&mut e.values[i])
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

/// Key matching for the envelope: Unicode lower case, approximating Go's `cases.Fold`.
fn fold(s: &str) -> String {
    s.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENVELOPE: &[&str] = &["schema", "package", "name"];

    #[test]
    fn transcodes_to_canonical_json_and_picks_up_the_envelope() {
        let docs = canonical_json_stream(
            "{\"Name\":\"a\\u003cb\",\"v\":[1.0,1e21],\"SCHEMA\":\"s\"}",
            ENVELOPE,
        )
        .unwrap();
        assert_eq!(
            docs,
            [CanonicalDoc {
                line: 1,
                envelope: vec!["s".into(), String::new(), "a<b".into()],
                blob: r#"{"Name":"a<b","SCHEMA":"s","v":[1,1e+21]}"#.into(),
            }]
        );
    }

    #[test]
    fn tracks_lines_of_concatenated_documents() {
        let docs = canonical_json_stream(
            "{\"schema\":\"a\"}\n\n{\"schema\":\"b\"}{\"schema\":\"c\"}",
            ENVELOPE,
        )
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
            assert!(canonical_json_stream(text, ENVELOPE).is_none(), "{text:?}");
        }
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(canonical_json_stream(&format!("{{\"a\":{deep}}}"), ENVELOPE).is_none());
    }
}
