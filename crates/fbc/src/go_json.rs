//! JSON text in exactly the shape Go's `encoding/json` produces, so that our catalogs are
//! byte-compatible with upstream `opm` (sorted object keys, Go string escaping, Go number format,
//! `json.Indent` layout).

use serde_json::Value;

use crate::go_number::push_json_f64;

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

/// Appends `s` as a Go-escaped JSON string literal.
pub fn push_string(out: &mut String, s: &str, escape_html: bool) {
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, ch) in s.char_indices() {
        let esc: Option<&str> = match ch {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '\n' => Some("\\n"),
            '\r' => Some("\\r"),
            '\t' => Some("\\t"),
            '\u{8}' => Some("\\b"),
            '\u{c}' => Some("\\f"),
            '<' | '>' | '&' if escape_html => None,
            c if (c as u32) < 0x20 => None,
            '\u{2028}' | '\u{2029}' => None,
            _ => {
                continue;
            }
        };
        out.push_str(&s[start..i]);
        match esc {
            Some(e) => out.push_str(e),
            None => {
                let c = ch as u32;
                out.push_str("\\u");
                for shift in [12, 8, 4, 0] {
                    out.push(HEX[((c >> shift) & 0xf) as usize] as char);
                }
            }
        }
        start = i + ch.len_utf8();
    }
    out.push_str(std::str::from_utf8(&bytes[start..]).unwrap_or_default());
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

/// Appends `raw` (valid JSON text) without insignificant whitespace, as `json.Compact` does.
pub fn push_compact(out: &mut String, raw: &str) {
    let mut in_string = false;
    let mut escaped = false;
    let mut start = 0;
    for (i, b) in raw.bytes().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b' ' | b'\t' | b'\n' | b'\r' => {
                out.push_str(&raw[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push_str(&raw[start..]);
}

/// Appends compact JSON `compact` re-laid-out like Go's `json.Indent(dst, src, "", indent)`.
pub fn push_indented(out: &mut String, compact: &str, indent: &str) {
    let bytes = compact.as_bytes();
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
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
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            i += 1;
            continue;
        }
        if need_indent && b != b']' && b != b'}' {
            out.push_str(&compact[start..i]);
            start = i;
            need_indent = false;
            depth += 1;
            newline(out, depth);
        }
        match b {
            b'"' => in_string = true,
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
    out.push_str(&compact[start..]);
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
}
