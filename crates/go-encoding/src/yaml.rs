//! YAML output byte-compatible with upstream `opm`, which converts each JSON blob to YAML through
//! `sigs.k8s.io/yaml` (go-yaml v2): map keys in go-yaml's "natural" order, go-yaml's scalar
//! resolution to decide quoting, and the libyaml emitter's layout rules (2-space indentation,
//! sequences not indented under a mapping key, folding of long scalars at 80 columns).
//!
//! The emitter below follows the libyaml state machine restricted to what JSON can produce: block
//! mappings and sequences, empty flow collections, and untagged scalars.

use serde_json::Value;

use crate::number::format_go_g;

const BEST_INDENT: i64 = 2;
const BEST_WIDTH: usize = 80;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
}

/// Converts one JSON value to a YAML document (no leading `---`), ending with a newline.
pub fn to_yaml_document(v: &Value) -> String {
    let mut e = Emitter::new();
    e.emit_node(v, true, false, false, false);
    // DOCUMENT-END: yaml_emitter_write_indent at the root indentation.
    e.indent = -1;
    e.write_indent();
    e.out
}

/// go-yaml v2 `keyList.Less` for string keys ("natural" order: runs of digits compare as numbers,
/// letters sort before non-letters).
pub fn natural_less(a: &str, b: &str) -> bool {
    let ar: Vec<char> = a.chars().collect();
    let br: Vec<char> = b.chars().collect();
    let is_letter = |c: char| c.is_alphabetic();
    let is_digit = |c: char| c.is_ascii_digit() || (!c.is_ascii() && c.is_numeric());
    let mut i = 0;
    while i < ar.len() && i < br.len() {
        if ar[i] == br[i] {
            i += 1;
            continue;
        }
        let al = is_letter(ar[i]);
        let bl = is_letter(br[i]);
        if al && bl {
            return ar[i] < br[i];
        }
        if al || bl {
            return bl;
        }
        let mut an: i64 = 0;
        let mut bn: i64 = 0;
        if ar[i] == '0' || br[i] == '0' {
            let mut j = i;
            while j > 0 && is_digit(ar[j - 1]) {
                j -= 1;
                if ar[j] != '0' {
                    an = 1;
                    bn = 1;
                    break;
                }
            }
        }
        let mut ai = i;
        while ai < ar.len() && is_digit(ar[ai]) {
            an = an.wrapping_mul(10).wrapping_add(ar[ai] as i64 - '0' as i64);
            ai += 1;
        }
        let mut bi = i;
        while bi < br.len() && is_digit(br[bi]) {
            bn = bn.wrapping_mul(10).wrapping_add(br[bi] as i64 - '0' as i64);
            bi += 1;
        }
        if an != bn {
            return an < bn;
        }
        if ai != bi {
            return ai < bi;
        }
        return ar[i] < br[i];
    }
    ar.len() < br.len()
}

/// Sorts map entries into go-yaml's natural key order.
///
/// That order isn't transitive for some keys (digit runs that overflow an `i64`, for one), and
/// `slice::sort_by` panics when it notices. Upstream's order for such keys follows Go's random map
/// iteration, so no output is "the" upstream one. Sorting by bytes first, then merge sorting, never
/// panics, depends only on the set of keys, and gives go-yaml's order whenever it is consistent.
fn sort_keys_naturally<T: Copy>(entries: &mut [(&String, T)]) {
    entries.sort_by(|a, b| a.0.cmp(b.0));
    merge_sort(entries, &|a: &(&String, T), b: &(&String, T)| {
        natural_less(a.0, b.0)
    });
}

fn merge_sort<T: Copy>(items: &mut [T], less: &impl Fn(&T, &T) -> bool) {
    if items.len() <= 1 {
        return;
    }
    let mid = items.len() / 2;
    merge_sort(&mut items[..mid], less);
    merge_sort(&mut items[mid..], less);
    let mut merged = Vec::with_capacity(items.len());
    let (mut i, mut j) = (0, mid);
    while i < mid && j < items.len() {
        if less(&items[j], &items[i]) {
            merged.push(items[j]);
            j += 1;
        } else {
            merged.push(items[i]);
            i += 1;
        }
    }
    merged.extend_from_slice(&items[i..mid]);
    merged.extend_from_slice(&items[j..]);
    items.copy_from_slice(&merged);
}

/// What go-yaml v2 `resolve("", s)` says a plain scalar `s` would be read back as.
#[derive(Debug, PartialEq, Eq)]
pub enum Resolved {
    Str,
    Other,
}

pub fn resolve_plain(s: &str) -> Resolved {
    let first = match s.as_bytes().first() {
        None => return Resolved::Other, // "" resolves to null
        Some(b) => *b,
    };
    let hint = match first {
        b'+' | b'-' => 'S',
        b'0'..=b'9' => 'D',
        b'y' | b'Y' | b'n' | b'N' | b't' | b'T' | b'f' | b'F' | b'o' | b'O' | b'~' => 'M',
        b'.' => '.',
        _ => return Resolved::Str,
    };
    const MAP: &[&str] = &[
        "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON", "n", "N", "no",
        "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF", "~", "null", "Null", "NULL",
        ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf",
        "-.Inf", "-.INF",
    ];
    if MAP.contains(&s) {
        return Resolved::Other;
    }
    match hint {
        '.' if go_parse_float(s) => return Resolved::Other,
        'D' | 'S' => {
            if parse_timestamp(s) {
                return Resolved::Other;
            }
            let plain: String = s.chars().filter(|c| *c != '_').collect();
            if go_parse_int_base0(&plain) {
                return Resolved::Other;
            }
            if yaml_style_float(&plain) && go_parse_float(&plain) {
                return Resolved::Other;
            }
            if let Some(rest) = plain.strip_prefix("0b") {
                if !rest.is_empty() && rest.bytes().all(|b| b == b'0' || b == b'1') {
                    return Resolved::Other;
                }
            } else if let Some(rest) = plain.strip_prefix("-0b")
                && !rest.is_empty()
                && rest.bytes().all(|b| b == b'0' || b == b'1')
            {
                return Resolved::Other;
            }
        }
        _ => {}
    }
    Resolved::Str
}

/// Go `strconv.ParseInt(s, 0, 64)` / `ParseUint` acceptance (underscores already removed; range
/// overflow is also a failure there, but a failure that then falls back to the float rule, which
/// accepts the same decimal text — so range is irrelevant for quoting decisions).
fn go_parse_int_base0(s: &str) -> bool {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    if body.is_empty() {
        return false;
    }
    let (digits, radix) =
        if let Some(r) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
            (r, 16)
        } else if let Some(r) = body.strip_prefix("0b").or_else(|| body.strip_prefix("0B")) {
            (r, 2)
        } else if let Some(r) = body.strip_prefix("0o").or_else(|| body.strip_prefix("0O")) {
            (r, 8)
        } else if body.len() > 1 && body.starts_with('0') {
            (&body[1..], 8)
        } else {
            (body, 10)
        };
    if digits.is_empty() {
        return false;
    }
    if !digits.chars().all(|c| c.is_digit(radix)) {
        return false;
    }
    // Out-of-range values fail ParseInt/ParseUint; decimal ones are then floats (still non-str),
    // hex/octal/binary ones become strings.
    if radix == 10 {
        return true;
    }
    u64::from_str_radix(digits, radix).is_ok()
}

fn yaml_style_float(s: &str) -> bool {
    // ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if i < b.len() && b[i] == b'.' {
            i += 1;
            digits(&mut i);
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Go `strconv.ParseFloat(s, 64)` success (decimal, hex floats, inf/nan words; overflow fails).
fn go_parse_float(s: &str) -> bool {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let lower = body.to_ascii_lowercase();
    if lower == "inf" || lower == "infinity" || lower == "nan" {
        return true;
    }
    if let Some(hex) = lower.strip_prefix("0x") {
        // Hex float mantissa requires a 'p' exponent.
        return hex.contains('p')
            && hex
                .chars()
                .all(|c| c.is_ascii_hexdigit() || matches!(c, '.' | 'p' | '+' | '-' | '_'));
    }
    // Decimal: digits, optional fraction, optional exponent; underscores only with base prefix.
    let trailing_dot = body.strip_suffix('.').is_some_and(yaml_style_float);
    if !(yaml_style_float(body) || trailing_dot) {
        return false;
    }
    match body.parse::<f64>() {
        Ok(f) => f.is_finite(),
        Err(_) => false,
    }
}

/// Go-yaml's timestamp sniffing: `YYYY-` then one of the accepted `time.Parse` layouts.
fn parse_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    if i != 4 || i == b.len() || b[i] != b'-' {
        return false;
    }
    let mut p = TsParser { b, i: 0 };
    // "2006-1-2" prefix shared by all layouts.
    let Some(year) = p.fixed(4) else { return false };
    if !p.lit(b'-') {
        return false;
    }
    let Some(month) = p.num() else { return false };
    if !p.lit(b'-') {
        return false;
    }
    let Some(day) = p.num() else { return false };
    if !(1..=12).contains(&month) || day < 1 || day > days_in(month, year) {
        return false;
    }
    if p.i == b.len() {
        return true;
    }
    let save = p.i;
    // "T"/"t" with zone, or " " without zone.
    for sep in [b'T', b't'] {
        p.i = save;
        if p.lit(sep) && p.clock() && p.zone() && p.i == b.len() {
            return true;
        }
    }
    p.i = save;
    if p.spaces() && p.clock() && p.i == b.len() {
        return true;
    }
    false
}

fn days_in(month: u32, year: u32) -> u32 {
    match month {
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

struct TsParser<'a> {
    b: &'a [u8],
    i: usize,
}

impl TsParser<'_> {
    fn fixed(&mut self, n: usize) -> Option<u32> {
        if self.i + n > self.b.len() || !self.b[self.i..self.i + n].iter().all(u8::is_ascii_digit) {
            return None;
        }
        let v = std::str::from_utf8(&self.b[self.i..self.i + n])
            .ok()?
            .parse()
            .ok()?;
        self.i += n;
        Some(v)
    }
    /// Go `getnum(s, false)`: one digit, or two if the second is a digit.
    fn num(&mut self) -> Option<u32> {
        let d = |j: usize| {
            self.b
                .get(j)
                .filter(|c| c.is_ascii_digit())
                .map(|c| (c - b'0') as u32)
        };
        let first = d(self.i)?;
        if let Some(second) = d(self.i + 1) {
            self.i += 2;
            Some(first * 10 + second)
        } else {
            self.i += 1;
            Some(first)
        }
    }
    fn lit(&mut self, c: u8) -> bool {
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn spaces(&mut self) -> bool {
        let start = self.i;
        while self.b.get(self.i) == Some(&b' ') {
            self.i += 1;
        }
        self.i > start
    }
    /// "15:4:5" with an optional ".999999999" fraction.
    fn clock(&mut self) -> bool {
        let Some(h) = self.num() else { return false };
        if !self.lit(b':') {
            return false;
        }
        let Some(m) = self.num() else { return false };
        if !self.lit(b':') {
            return false;
        }
        let Some(s) = self.num() else { return false };
        if h >= 24 || m >= 60 || s >= 60 {
            return false;
        }
        if matches!(self.b.get(self.i), Some(b'.') | Some(b','))
            && self.b.get(self.i + 1).is_some_and(u8::is_ascii_digit)
        {
            self.i += 1;
            while self.b.get(self.i).is_some_and(u8::is_ascii_digit) {
                self.i += 1;
            }
        }
        true
    }
    /// "Z07:00": `Z` or `±hh:mm`.
    fn zone(&mut self) -> bool {
        if self.lit(b'Z') {
            return true;
        }
        let rest = &self.b[self.i..];
        if rest.len() < 6 || rest[3] != b':' || !(rest[0] == b'+' || rest[0] == b'-') {
            return false;
        }
        let all_digits = [1, 2, 4, 5].iter().all(|&k| rest[k].is_ascii_digit());
        if !all_digits {
            return false;
        }
        let hh = (rest[1] - b'0') as u32 * 10 + (rest[2] - b'0') as u32;
        let mm = (rest[4] - b'0') as u32 * 10 + (rest[5] - b'0') as u32;
        if hh > 24 || mm > 60 {
            return false;
        }
        self.i += 6;
        true
    }
}

fn is_printable(c: char) -> bool {
    let u = c as u32;
    u == 0x0A
        || (0x20..=0x7E).contains(&u)
        || (0xA0..=0xD7FF).contains(&u)
        || ((0xE000..=0xFFFD).contains(&u) && u != 0xFEFF)
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

struct ScalarAnalysis {
    multiline: bool,
    flow_plain_allowed: bool,
    block_plain_allowed: bool,
    single_quoted_allowed: bool,
    block_allowed: bool,
}

fn analyze_scalar(value: &str) -> ScalarAnalysis {
    if value.is_empty() {
        return ScalarAnalysis {
            multiline: false,
            flow_plain_allowed: false,
            block_plain_allowed: true,
            single_quoted_allowed: true,
            block_allowed: false,
        };
    }
    let chars: Vec<char> = value.chars().collect();
    let mut block_indicators = false;
    let mut flow_indicators = false;
    let mut line_breaks = false;
    let mut special_characters = false;
    let mut leading_space = false;
    let mut leading_break = false;
    let mut trailing_space = false;
    let mut trailing_break = false;
    let mut break_space = false;
    let mut space_break = false;
    let mut previous_space = false;
    let mut previous_break = false;

    if value.starts_with("---") || value.starts_with("...") {
        block_indicators = true;
        flow_indicators = true;
    }
    let mut preceded_by_whitespace = true;
    let n = chars.len();
    for i in 0..n {
        let c = chars[i];
        let followed_by_whitespace = i + 1 >= n || is_blank(chars[i + 1]);
        if i == 0 {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => {
                    flow_indicators = true;
                    block_indicators = true;
                }
                '?' | ':' => {
                    flow_indicators = true;
                    if followed_by_whitespace {
                        block_indicators = true;
                    }
                }
                '-' if followed_by_whitespace => {
                    flow_indicators = true;
                    block_indicators = true;
                }
                _ => {}
            }
        } else {
            match c {
                ',' | '?' | '[' | ']' | '{' | '}' => flow_indicators = true,
                ':' => {
                    flow_indicators = true;
                    if followed_by_whitespace {
                        block_indicators = true;
                    }
                }
                '#' if preceded_by_whitespace => {
                    flow_indicators = true;
                    block_indicators = true;
                }
                _ => {}
            }
        }
        if !is_printable(c) {
            special_characters = true;
        }
        if c == ' ' {
            if i == 0 {
                leading_space = true;
            }
            if i + 1 == n {
                trailing_space = true;
            }
            if previous_break {
                break_space = true;
            }
            previous_space = true;
            previous_break = false;
        } else if is_break(c) {
            line_breaks = true;
            if i == 0 {
                leading_break = true;
            }
            if i + 1 == n {
                trailing_break = true;
            }
            if previous_space {
                space_break = true;
            }
            previous_space = false;
            previous_break = true;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_whitespace = is_blank(c) || is_break(c) || c == '\0';
    }
    let mut a = ScalarAnalysis {
        multiline: line_breaks,
        flow_plain_allowed: true,
        block_plain_allowed: true,
        single_quoted_allowed: true,
        block_allowed: true,
    };
    if leading_space || leading_break || trailing_space || trailing_break {
        a.flow_plain_allowed = false;
        a.block_plain_allowed = false;
    }
    if trailing_space {
        a.block_allowed = false;
    }
    if break_space {
        a.flow_plain_allowed = false;
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
    }
    if space_break || special_characters {
        a.flow_plain_allowed = false;
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
        a.block_allowed = false;
    }
    if line_breaks {
        a.flow_plain_allowed = false;
        a.block_plain_allowed = false;
    }
    if flow_indicators {
        a.flow_plain_allowed = false;
    }
    if block_indicators {
        a.block_plain_allowed = false;
    }
    a
}

struct Emitter {
    out: String,
    column: usize,
    indent: i64,
    indents: Vec<i64>,
    whitespace: bool,
    indention: bool,
    mapping_context: bool,
    simple_key_context: bool,
}

impl Emitter {
    fn new() -> Self {
        Emitter {
            out: String::new(),
            column: 0,
            indent: -1,
            indents: Vec::new(),
            whitespace: true,
            indention: true,
            mapping_context: false,
            simple_key_context: false,
        }
    }

    fn put(&mut self, c: char) {
        self.out.push(c);
        self.column += 1;
    }

    fn put_break(&mut self) {
        self.out.push('\n');
        self.column = 0;
    }

    fn write_break(&mut self, c: char) {
        if c == '\n' {
            self.put_break();
        } else {
            self.out.push(c);
            self.column = 0;
        }
    }

    fn increase_indent(&mut self, flow: bool, indentless: bool) {
        self.indents.push(self.indent);
        if self.indent < 0 {
            self.indent = if flow { BEST_INDENT } else { 0 };
        } else if !indentless {
            self.indent += BEST_INDENT;
        }
    }

    fn pop_indent(&mut self) {
        self.indent = self.indents.pop().unwrap_or(-1);
    }

    fn write_indent(&mut self) {
        let indent = self.indent.max(0) as usize;
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.put_break();
        }
        while self.column < indent {
            self.put(' ');
        }
        self.whitespace = true;
        self.indention = true;
    }

    fn write_indicator(&mut self, ind: &str, need_ws: bool, is_ws: bool, is_indention: bool) {
        if need_ws && !self.whitespace {
            self.put(' ');
        }
        for c in ind.chars() {
            self.put(c);
        }
        self.whitespace = is_ws;
        self.indention = self.indention && is_indention;
    }

    fn emit_node(&mut self, v: &Value, _root: bool, _sequence: bool, mapping: bool, simple: bool) {
        self.mapping_context = mapping;
        self.simple_key_context = simple;
        match v {
            Value::Null => self.emit_scalar("null", Style::Plain),
            Value::Bool(b) => self.emit_scalar(if *b { "true" } else { "false" }, Style::Plain),
            Value::Number(n) => {
                let text = if let Some(i) = n.as_i64() {
                    i.to_string()
                } else if let Some(u) = n.as_u64() {
                    u.to_string()
                } else {
                    match n.as_f64().unwrap_or(0.0) {
                        // Upstream feeds the JSON text `-0` to go-yaml, which reads it as the
                        // integer 0; a `-0` here would also load back as 0, not -0.0.
                        0.0 => "0".to_string(),
                        f => format_go_g(f),
                    }
                };
                self.emit_scalar(&text, Style::Plain)
            }
            Value::String(s) => {
                let style = if s.contains('\n') {
                    Style::Literal
                } else if resolve_plain(s) == Resolved::Str && !is_base60_float(s) {
                    Style::Plain
                } else {
                    Style::DoubleQuoted
                };
                self.emit_scalar(s, style)
            }
            Value::Array(items) => {
                if items.is_empty() {
                    self.emit_empty_flow("[", "]");
                } else {
                    self.increase_indent(false, self.mapping_context && !self.indention);
                    for item in items {
                        self.write_indent();
                        self.write_indicator("-", true, false, true);
                        self.emit_node(item, false, true, false, false);
                    }
                    self.pop_indent();
                }
            }
            Value::Object(map) => {
                if map.is_empty() {
                    self.emit_empty_flow("{", "}");
                } else {
                    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
                    sort_keys_naturally(&mut entries);
                    self.increase_indent(false, false);
                    for (k, val) in entries {
                        self.write_indent();
                        let key = Value::String(k.clone());
                        if check_simple_key(k) {
                            self.emit_node(&key, false, false, true, true);
                            self.write_indicator(":", false, false, false);
                        } else {
                            self.write_indicator("?", true, false, true);
                            self.emit_node(&key, false, false, true, false);
                            self.write_indent();
                            self.write_indicator(":", true, false, true);
                        }
                        self.emit_node(val, false, false, true, false);
                    }
                    self.pop_indent();
                }
            }
        }
    }

    fn emit_empty_flow(&mut self, open: &str, close: &str) {
        self.write_indicator(open, true, true, false);
        self.increase_indent(true, false);
        self.pop_indent();
        self.write_indicator(close, false, false, false);
    }

    fn emit_scalar(&mut self, value: &str, requested: Style) {
        let a = analyze_scalar(value);
        let mut style = requested;
        if self.simple_key_context && a.multiline {
            style = Style::DoubleQuoted;
        }
        if style == Style::Plain {
            if !a.block_plain_allowed {
                style = Style::SingleQuoted;
            }
            if value.is_empty() && self.simple_key_context {
                style = Style::SingleQuoted;
            }
        }
        if style == Style::SingleQuoted && !a.single_quoted_allowed {
            style = Style::DoubleQuoted;
        }
        if style == Style::Literal && (!a.block_allowed || self.simple_key_context) {
            style = Style::DoubleQuoted;
        }
        let _ = a.flow_plain_allowed;
        self.increase_indent(true, false);
        let allow_breaks = !self.simple_key_context;
        match style {
            Style::Plain => self.write_plain(value, allow_breaks),
            Style::SingleQuoted => self.write_single_quoted(value, allow_breaks),
            Style::DoubleQuoted => self.write_double_quoted(value, allow_breaks),
            Style::Literal => self.write_literal(value),
        }
        self.pop_indent();
    }

    fn write_plain(&mut self, value: &str, allow_breaks: bool) {
        if !self.whitespace {
            self.put(' ');
        }
        self.write_folded(value, allow_breaks, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn write_single_quoted(&mut self, value: &str, allow_breaks: bool) {
        self.write_indicator("'", true, false, false);
        self.write_folded(value, allow_breaks, true);
        self.write_indicator("'", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    /// The text of a plain or single-quoted scalar: a space past the best width becomes a line
    /// break (never the first or last character of a quoted scalar), line breaks are doubled,
    /// quotes inside a quoted scalar are doubled.
    fn write_folded(&mut self, value: &str, allow_breaks: bool, quoted: bool) {
        let chars: Vec<char> = value.chars().collect();
        let n = chars.len();
        let mut spaces = false;
        let mut breaks = false;
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && (!quoted || (i > 0 && i + 1 < n))
                    && chars.get(i + 1) != Some(&' ')
                {
                    self.write_indent();
                } else {
                    self.put(c);
                }
                spaces = true;
            } else if is_break(c) {
                if !breaks && c == '\n' {
                    self.put_break();
                }
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                if quoted && c == '\'' {
                    self.put('\'');
                }
                self.put(c);
                self.indention = false;
                spaces = false;
                breaks = false;
            }
        }
    }

    fn write_double_quoted(&mut self, value: &str, allow_breaks: bool) {
        self.write_indicator("\"", true, false, false);
        let mut spaces = false;
        let len = value.len();
        let mut iter = value.char_indices().peekable();
        while let Some((i, c)) = iter.next() {
            if !is_printable(c) || c == '\u{FEFF}' || is_break(c) || c == '"' || c == '\\' {
                self.put('\\');
                let v = c as u32;
                match v {
                    0x00 => self.put('0'),
                    0x07 => self.put('a'),
                    0x08 => self.put('b'),
                    0x09 => self.put('t'),
                    0x0A => self.put('n'),
                    0x0B => self.put('v'),
                    0x0C => self.put('f'),
                    0x0D => self.put('r'),
                    0x1B => self.put('e'),
                    0x22 => self.put('"'),
                    0x5C => self.put('\\'),
                    0x85 => self.put('N'),
                    0xA0 => self.put('_'),
                    0x2028 => self.put('L'),
                    0x2029 => self.put('P'),
                    _ => {
                        let (letter, width) = if v <= 0xFF {
                            ('x', 2)
                        } else if v <= 0xFFFF {
                            ('u', 4)
                        } else {
                            ('U', 8)
                        };
                        self.put(letter);
                        for k in (0..width).rev() {
                            let digit = (v >> (k * 4)) & 0xF;
                            self.put(
                                char::from_digit(digit, 16)
                                    .unwrap_or('0')
                                    .to_ascii_uppercase(),
                            );
                        }
                    }
                }
                spaces = false;
            } else if c == ' ' {
                if allow_breaks && !spaces && self.column > BEST_WIDTH && i > 0 && i + 1 < len {
                    self.write_indent();
                    if matches!(iter.peek(), Some((_, ' '))) {
                        self.put('\\');
                    }
                } else {
                    self.put(c);
                }
                spaces = true;
            } else {
                self.put(c);
                spaces = false;
            }
        }
        self.write_indicator("\"", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn write_literal(&mut self, value: &str) {
        self.write_indicator("|", true, false, false);
        // Block scalar hints.
        let first = value.chars().next();
        if first.is_some_and(|c| c == ' ' || is_break(c)) {
            let hint = char::from_digit(BEST_INDENT as u32, 10)
                .unwrap_or('2')
                .to_string();
            self.write_indicator(&hint, false, false, false);
        }
        let chars: Vec<char> = value.chars().collect();
        let chomp = match chars.last() {
            None => Some('-'),
            Some(&last) if !is_break(last) => Some('-'),
            Some(_) if chars.len() == 1 => Some('+'),
            Some(_) if is_break(chars[chars.len() - 2]) => Some('+'),
            Some(_) => None,
        };
        if let Some(ch) = chomp {
            self.write_indicator(&ch.to_string(), false, false, false);
        }
        self.put_break();
        self.indention = true;
        self.whitespace = true;
        let mut breaks = true;
        for &c in &chars {
            if is_break(c) {
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                self.put(c);
                self.indention = false;
                breaks = false;
            }
        }
    }
}

fn check_simple_key(key: &str) -> bool {
    let a = analyze_scalar(key);
    !a.multiline && key.len() <= 128
}

/// go-yaml quotes YAML 1.1 base-60 floats (`1:20`) for compatibility with other parsers.
fn is_base60_float(s: &str) -> bool {
    let b = s.as_bytes();
    let Some(&c) = b.first() else { return false };
    if !(c == b'+' || c == b'-' || c.is_ascii_digit()) || !s.contains(':') {
        return false;
    }
    // ^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$
    let mut i = 0;
    if b[i] == b'+' || b[i] == b'-' {
        i += 1;
    }
    if i >= b.len() || !b[i].is_ascii_digit() {
        return false;
    }
    i += 1;
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
        i += 1;
    }
    let mut groups = 0;
    while i < b.len() && b[i] == b':' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() && i - start < 2 {
            i += 1;
        }
        let n = i - start;
        if n == 0 {
            return false;
        }
        if n == 2 && b[start] > b'5' {
            return false;
        }
        groups += 1;
    }
    if groups == 0 {
        return false;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
            i += 1;
        }
    }
    i == b.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn y(json: &str) -> String {
        to_yaml_document(&serde_json::from_str(json).unwrap())
    }

    #[test]
    fn natural_order() {
        assert!(natural_less("a2", "a10"));
        assert!(natural_less("apiServiceDefinitions", "apiVersion") == ("apiS" < "apiV"));
        assert!(natural_less("_", "a"));
        assert!(natural_less("name", "package"));
    }

    #[test]
    fn resolution() {
        for s in [
            "true",
            "y",
            "N",
            "null",
            "",
            "~",
            "1",
            "0x1F",
            "1.5",
            ".5",
            "1e3",
            "08",
            "2025-08-08T20:23:50Z",
            "2021-01-01",
            "1_000",
            "0b101",
            "-.inf",
            "+1",
        ] {
            assert_eq!(resolve_plain(s), Resolved::Other, "{s}");
        }
        for s in [
            "yes please",
            "v1",
            "1.2.3",
            "0x",
            "abc",
            "-",
            "<<",
            "2021-13-01",
            "0xZZ",
            "1e",
        ] {
            assert_eq!(resolve_plain(s), Resolved::Str, "{s}");
        }
    }

    #[test]
    fn layout_matches_goyaml() {
        assert_eq!(
            y(r#"{"schema":"olm.package","name":"x","defaultChannel":"alpha"}"#),
            "defaultChannel: alpha\nname: x\nschema: olm.package\n"
        );
        assert_eq!(
            y(
                r#"{"entries":[{"name":"a"},{"name":"b","replaces":"a","skips":["c"]}],"x":[],"y":{}}"#
            ),
            "entries:\n- name: a\n- name: b\n  replaces: a\n  skips:\n  - c\nx: []\n\"y\": {}\n"
        );
        assert_eq!(
            y(r#"{"a":"false","b":"","c":"line1\nline2","d":"x: y","e":"1.0"}"#),
            "a: \"false\"\nb: \"\"\nc: |-\n  line1\n  line2\nd: 'x: y'\ne: \"1.0\"\n"
        );
        assert_eq!(y(r#"{"a":"t\tab"}"#), "a: \"t\\tab\"\n");
        assert_eq!(y(r#"{"a":"keep\n"}"#), "a: |\n  keep\n");
    }

    #[test]
    fn keys_whose_natural_order_is_not_transitive_sort_without_panicking() {
        // Digit runs past i64 wrap around in go-yaml's comparison, so a < b < c < a can hold.
        let keys = [
            "0x0version",
            "0x00000000000000000000000000000000000000000001",
            "0x000000000000000000000000000007777777777777770",
            "0x00955161",
            "0000000000",
            "00000000000000000000000000000000000000000000000000bbbbbb000",
            "0x0000",
            "0x000.INF0",
            "a",
            "9223372036854775807",
            "9223372036854775808",
            "18446744073709551616",
        ];
        let intransitive = keys.iter().any(|a| {
            keys.iter().any(|b| {
                keys.iter()
                    .any(|c| natural_less(a, b) && natural_less(b, c) && !natural_less(a, c))
            })
        });
        assert!(
            intransitive,
            "the keys must exercise the non-transitive case"
        );
        let mut forward: serde_json::Map<String, Value> = serde_json::Map::new();
        let mut backward = serde_json::Map::new();
        for k in keys {
            forward.insert(k.to_string(), Value::Null);
        }
        for k in keys.iter().rev() {
            backward.insert(k.to_string(), Value::Null);
        }
        let out = to_yaml_document(&Value::Object(forward));
        assert_eq!(out, to_yaml_document(&Value::Object(backward)));
        assert_eq!(out.lines().count(), keys.len());
    }

    #[test]
    fn numbers_read_back_as_upstream_reads_them() {
        // Expected texts are upstream opm v1.73.0's `render -o yaml` of the same values.
        assert_eq!(
            y(
                r#"{"a":-0,"b":10000000,"c":1.5e+300,"d":123456789012345680,"e":0.000001,
                 "f":1e-7,"g":1e+21,"h":9223372036854776000,"i":18446744073709552000,"j":-10000000}"#
            ),
            "a: 0\nb: 10000000\nc: 1.5e+300\nd: 123456789012345680\ne: 1e-06\nf: 1e-07\ng: 1e+21\nh: 9223372036854776000\ni: 1.8446744073709552e+19\nj: -10000000\n"
        );
    }

    #[test]
    fn folds_long_plain_scalars() {
        let long = "ApicurioRegistry3 represents an instance of Apicurio Registry version 3.";
        let out = y(&format!(
            r#"{{"a":{{"b":{{"c":{{"d":[{{"description":"{long}"}}]}}}}}}}}"#
        ));
        assert_eq!(
            out,
            "a:\n  b:\n    c:\n      d:\n      - description: ApicurioRegistry3 represents an instance of Apicurio Registry\n          version 3.\n"
        );
    }
}
