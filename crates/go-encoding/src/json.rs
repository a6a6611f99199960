//! JSON text in exactly the shape Go's `encoding/json` produces, so that our catalogs are
//! byte-compatible with upstream `opm` (sorted object keys, Go string escaping, Go number format,
//! `json.Indent` layout).

use serde_json::Value;

use crate::number::push_json_f64;

/// How numbers are re-emitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NumberStyle {
    /// Every number goes through float64, as when Go decodes into `interface{}` (catalog blobs).
    Float64,
    /// Integers that fit 64 bits stay exact, as Go's unstructured Kubernetes objects keep `int64`
    /// (bundle manifests); other numbers go through float64.
    ExactIntegers,
}

/// Options for canonical encoding.
#[derive(Clone, Copy, Debug)]
pub struct Canonical {
    /// Escape `<`, `>` and `&` as `json.Marshal` does by default.
    pub escape_html: bool,
    pub numbers: NumberStyle,
}

impl Canonical {
    /// The encoding upstream applies to every catalog blob (`SetEscapeHTML(false)`, float64).
    pub const BLOB: Canonical = Canonical {
        escape_html: false,
        numbers: NumberStyle::Float64,
    };
    /// The encoding of bundle manifests inside `olm.bundle.object` (`json.Marshal` of an
    /// unstructured object).
    pub const MANIFEST: Canonical = Canonical {
        escape_html: true,
        numbers: NumberStyle::ExactIntegers,
    };
}

const HEX: &[u8; 16] = b"0123456789abcdef";

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// High bit set in every byte of `x` that equals `b` (exact in the lowest such byte, which is all
/// callers rely on).
#[inline]
fn bytes_equal(x: u64, b: u8) -> u64 {
    let v = x ^ (LO * u64::from(b));
    v.wrapping_sub(LO) & !v & HI
}

/// Offset of the first byte at or after `from` that a Go JSON string encoder may have to escape:
/// a control character, `"`, `\\`, the lead byte of U+2028/U+2029 (`0xE2`) and, with
/// `escape_html`, `<`, `>` and `&`. Scans 8 bytes at a time because catalog strings (base64
/// manifests) are long and almost never contain any of them.
#[inline]
pub(crate) fn find_string_special(bytes: &[u8], from: usize, escape_html: bool) -> usize {
    let mut i = from;
    while i + 8 <= bytes.len() {
        let mut chunk = [0u8; 8];
        chunk.copy_from_slice(&bytes[i..i + 8]);
        let x = u64::from_le_bytes(chunk);
        let mut hit = (x.wrapping_sub(LO * 0x20) & !x & HI)
            | bytes_equal(x, b'"')
            | bytes_equal(x, b'\\')
            | bytes_equal(x, 0xE2);
        if escape_html {
            hit |= bytes_equal(x, b'<') | bytes_equal(x, b'>') | bytes_equal(x, b'&');
        }
        if hit != 0 {
            break;
        }
        i += 8;
    }
    while i < bytes.len() {
        let b = bytes[i];
        if b < 0x20
            || matches!(b, b'"' | b'\\' | 0xE2)
            || (escape_html && matches!(b, b'<' | b'>' | b'&'))
        {
            return i;
        }
        i += 1;
    }
    bytes.len()
}

/// Appends `s` as a Go-escaped JSON string literal.
pub fn push_string(out: &mut String, s: &str, escape_html: bool) {
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    loop {
        i = find_string_special(bytes, i, escape_html);
        if i >= bytes.len() {
            break;
        }
        let b = bytes[i];
        let (esc, len): (Option<&str>, usize) = match b {
            b'"' => (Some("\\\""), 1),
            b'\\' => (Some("\\\\"), 1),
            b'\n' => (Some("\\n"), 1),
            b'\r' => (Some("\\r"), 1),
            b'\t' => (Some("\\t"), 1),
            0x08 => (Some("\\b"), 1),
            0x0c => (Some("\\f"), 1),
            0xE2 => {
                // U+2028 and U+2029 are E2 80 A8 / E2 80 A9; other E2 sequences pass through.
                if bytes.get(i + 1) == Some(&0x80) && matches!(bytes.get(i + 2), Some(0xA8 | 0xA9))
                {
                    (None, 3)
                } else {
                    i += 1;
                    continue;
                }
            }
            _ => (None, 1),
        };
        out.push_str(&s[start..i]);
        match esc {
            Some(e) => out.push_str(e),
            None => {
                let c = s[i..].chars().next().map_or(0, |c| c as u32);
                out.push_str("\\u");
                for shift in [12, 8, 4, 0] {
                    out.push(HEX[((c >> shift) & 0xf) as usize] as char);
                }
            }
        }
        i += len;
        start = i;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

fn push_number(out: &mut String, n: &serde_json::Number, style: NumberStyle) {
    if style == NumberStyle::ExactIntegers {
        if let Some(i) = n.as_i64() {
            out.push_str(&i.to_string());
            return;
        }
        if let Some(u) = n.as_u64() {
            out.push_str(&u.to_string());
            return;
        }
    }
    push_json_f64(out, n.as_f64().unwrap_or(0.0));
}

/// Appends a number the way catalog blobs carry it: through float64.
pub(crate) fn push_float64_number(out: &mut String, n: &serde_json::Number) {
    push_number(out, n, NumberStyle::Float64);
}

/// Appends the compact canonical encoding of `v` (object keys sorted by bytes).
pub fn push_canonical(out: &mut String, v: &Value, opts: Canonical) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => push_number(out, n, opts.numbers),
        Value::String(s) => push_string(out, s, opts.escape_html),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_canonical(out, item, opts);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (k, val)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_string(out, k, opts.escape_html);
                out.push(':');
                push_canonical(out, val, opts);
            }
            out.push('}');
        }
    }
}

/// Canonical compact encoding of `v`.
pub fn to_canonical(v: &Value, opts: Canonical) -> String {
    let mut out = String::new();
    push_canonical(&mut out, v, opts);
    out
}

/// Index of the `"` that closes the string whose contents start at `from` (or `bytes.len()` if
/// it is unterminated). Jumps between quotes and backslashes, so long strings cost a `memchr`.
#[inline]
pub(crate) fn string_end(bytes: &[u8], from: usize) -> usize {
    let mut i = from;
    while let Some(off) = memchr::memchr2(b'"', b'\\', &bytes[i.min(bytes.len())..]) {
        i += off;
        if bytes[i] == b'"' {
            return i;
        }
        i += 2;
    }
    bytes.len()
}

/// Appends `raw` (valid JSON text) without insignificant whitespace, as `json.Compact` does.
pub fn push_compact(out: &mut String, raw: &str) {
    let bytes = raw.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => i = string_end(bytes, i + 1),
            b' ' | b'\t' | b'\n' | b'\r' => {
                out.push_str(&raw[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    out.push_str(&raw[start..]);
}

/// Appends compact JSON `compact` re-laid-out like Go's `json.Indent(dst, src, "", indent)`.
pub fn push_indented(out: &mut String, compact: &str, indent: &str) {
    let bytes = compact.as_bytes();
    let mut depth = 0usize;
    let mut need_indent = false;
    let mut start = 0;
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        for _ in 0..depth {
            out.push_str(indent);
        }
    };
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if need_indent && b != b']' && b != b'}' {
            out.push_str(&compact[start..i]);
            start = i;
            need_indent = false;
            depth += 1;
            newline(out, depth);
        }
        match b {
            b'"' => i = string_end(bytes, i + 1),
            b'{' | b'[' => {
                // Go delays the newline so that empty containers stay `{}` / `[]`.
                out.push_str(&compact[start..=i]);
                start = i + 1;
                need_indent = true;
            }
            b',' => {
                out.push_str(&compact[start..=i]);
                start = i + 1;
                newline(out, depth);
            }
            b':' => {
                out.push_str(&compact[start..=i]);
                out.push(' ');
                start = i + 1;
            }
            b'}' | b']' => {
                out.push_str(&compact[start..i]);
                start = i;
                if need_indent {
                    need_indent = false;
                } else {
                    depth = depth.saturating_sub(1);
                    newline(out, depth);
                }
            }
            _ => {}
        }
        i += 1;
    }
    out.push_str(&compact[start.min(compact.len())..]);
}

/// Writes one JSON object key by key, as Go's encoder lays out a struct: no spaces, fields
/// in the order they are written.
pub struct GoObject<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> GoObject<'a> {
    pub fn new(out: &'a mut String) -> Self {
        out.push('{');
        GoObject { out, first: true }
    }

    /// Writes `"k":` and returns the output for the value.
    pub fn key(&mut self, k: &str) -> &mut String {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        push_string(self.out, k, false);
        self.out.push(':');
        self.out
    }

    pub fn str(&mut self, k: &str, v: &str) {
        let out = self.key(k);
        push_string(out, v, false);
    }

    /// A string field tagged `omitempty`.
    pub fn str_omitempty(&mut self, k: &str, v: &str) {
        if !v.is_empty() {
            self.str(k, v);
        }
    }

    pub fn end(self) {
        self.out.push('}');
    }
}

/// A JSON array of strings.
pub fn push_string_array(out: &mut String, items: &[String]) {
    out.push('[');
    for (i, s) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_string(out, s, false);
    }
    out.push(']');
}

/// Go's name for a JSON value's kind (`null`, `bool`, `number`, `string`, `array`,
/// `object`), as in its type errors.
pub fn go_kind(v: &Value) -> &'static str {
    crate::decode::Kind::of(v).go_name()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_go() {
        let mut s = String::new();
        push_string(&mut s, "a\"b\\c\n\u{1}<&>\u{2028}é😀", false);
        assert_eq!(s, "\"a\\\"b\\\\c\\n\\u0001<&>\\u2028é😀\"");
        let mut s = String::new();
        push_string(&mut s, "<&>", true);
        assert_eq!(s, "\"\\u003c\\u0026\\u003e\"");
    }

    #[test]
    fn canonical_sorts_keys_and_formats_numbers() {
        let v: Value =
            serde_json::from_str(r#"{"b":1.0,"a":[1e21,{"z":null,"B":true}],"c":{}}"#).unwrap();
        assert_eq!(
            to_canonical(&v, Canonical::BLOB),
            r#"{"a":[1e+21,{"B":true,"z":null}],"b":1,"c":{}}"#
        );
    }

    #[test]
    fn indents_like_go() {
        let mut s = String::new();
        push_indented(&mut s, r#"{"a":[],"b":{},"c":[1,{"d":"x,:{"}]}"#, "    ");
        assert_eq!(
            s,
            "{\n    \"a\": [],\n    \"b\": {},\n    \"c\": [\n        1,\n        {\n            \"d\": \"x,:{\"\n        }\n    ]\n}"
        );
    }

    #[test]
    fn compacts_outside_strings() {
        let mut s = String::new();
        push_compact(&mut s, "{ \"a b\" : [ 1 , 2 ] }");
        assert_eq!(s, "{\"a b\":[1,2]}");
    }

    /// The straightforward char-by-char encoder that `push_string` must agree with.
    fn reference_string(s: &str, escape_html: bool) -> String {
        let mut out = String::from("\"");
        for ch in s.chars() {
            match ch {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                c if (c as u32) < 0x20
                    || c == '\u{2028}'
                    || c == '\u{2029}'
                    || (escape_html && matches!(c, '<' | '>' | '&')) =>
                {
                    out.push_str(&format!("\\u{:04x}", c as u32));
                }
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    proptest::proptest! {
        #[test]
        fn push_string_matches_reference(
            s in "[a-z<>&\"\\\\\u{0}-\u{1f}\u{7f}\u{e9}\u{2000}-\u{202f}\u{e200}\u{1F600}]{0,40}",
            html: bool,
        ) {
            let mut out = String::new();
            push_string(&mut out, &s, html);
            proptest::prop_assert_eq!(out, reference_string(&s, html));
        }

        #[test]
        fn compact_and_indent_skip_strings(s in "[a-z ,:{}\\[\\]\"\\\\]{0,30}") {
            let v = serde_json::Value::String(s);
            let text = serde_json::to_string(&serde_json::json!({"k": [v.clone(), {"x": v}]})).unwrap();
            let mut compact = String::new();
            push_compact(&mut compact, &text);
            proptest::prop_assert_eq!(&compact, &text);
            let mut indented = String::new();
            push_indented(&mut indented, &text, "  ");
            let pretty = serde_json::to_string_pretty(&serde_json::from_str::<serde_json::Value>(&text).unwrap()).unwrap();
            proptest::prop_assert_eq!(indented, pretty);
        }
    }
}
