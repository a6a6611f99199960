//! Masterminds/semver v3.2.1 constraints (`NewConstraint` + `Check`).
//!
//! Parsing follows upstream's order exactly:
//!
//! 1. hyphen ranges `A - B` (whitespace required around the hyphen) are rewritten to
//!    `>= A, <= B`, using upstream's "replace the first occurrence of the matched text" step;
//! 2. the text is split on the literal `||` into OR-groups;
//! 3. each group must be `ws* comp (sep comp)* ws*` with `sep` = whitespace or a comma;
//! 4. each comparator's version is normalised (`x`/`X`/`*` and missing parts make it "dirty").
//!
//! Matching follows v3.2.1: every comparator except a non-dirty `!=` rejects a pre-release
//! version unless the comparator's own version has a pre-release (the per-comparator gate that
//! v3.4.0 replaced with a per-group one).

use std::cmp::Ordering;
use std::fmt;

use semver::Version;

use crate::groups::write_groups;

/// A parsed Masterminds constraint: an OR of AND-groups of comparators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constraints {
    groups: Vec<Vec<Comparator>>,
}

/// The comparison operators, with the spelling the user wrote kept for display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `` or `=`: equal, or a tilde range when the version is partial/wildcard.
    Equal,
    /// `!=`
    NotEqual,
    /// `>`
    Greater,
    /// `<`
    Less,
    /// `>=` or `=>`
    GreaterEqual,
    /// `<=` or `=<`
    LessEqual,
    /// `~` or `~>`
    Tilde,
    /// `^`
    Caret,
}

/// One comparator, e.g. `>=1.2` or `~1.x`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparator {
    op: Op,
    /// The operator as written (`""`, `=`, `=>`, `~>`, ...).
    op_text: &'static str,
    /// The version as written (with a `v` prefix or wildcards, if any).
    orig: String,
    con: ConVersion,
    dirty: bool,
    minor_dirty: bool,
    patch_dirty: bool,
}

/// The normalised comparator version (build metadata dropped: it never affects a comparison).
#[derive(Debug, Clone, PartialEq, Eq)]
struct ConVersion {
    major: u64,
    minor: u64,
    patch: u64,
    pre: String,
}

/// A version as Masterminds compares it.
struct Subject<'a> {
    major: u64,
    minor: u64,
    patch: u64,
    pre: &'a str,
}

/// Why a constraint string was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConstraintsError {
    /// The text the offset refers to: the input, or the input after hyphen-range rewriting.
    pub text: String,
    /// Whether `text` is the rewritten form of the input.
    pub rewritten: bool,
    /// Byte offset of the offending token in `text`.
    pub offset: usize,
    /// The offending token.
    pub token: String,
    /// What is wrong and how to fix it.
    pub reason: String,
    /// Upstream's message (`improper constraint: <group>` or `constraint Parser Error`).
    pub upstream: String,
}

impl fmt::Display for ConstraintsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (at byte {}{}, {:?}: {})",
            self.upstream,
            self.offset,
            if self.rewritten {
                format!(" of the hyphen-range rewrite {:?}", self.text)
            } else {
                String::new()
            },
            self.token,
            self.reason
        )
    }
}

impl std::error::Error for ConstraintsError {}

/// Operators, longest first so that a prefix never shadows a longer operator.
const OPS: [(&str, Op); 11] = [
    ("!=", Op::NotEqual),
    (">=", Op::GreaterEqual),
    ("=>", Op::GreaterEqual),
    ("<=", Op::LessEqual),
    ("=<", Op::LessEqual),
    ("~>", Op::Tilde),
    (">", Op::Greater),
    ("<", Op::Less),
    ("=", Op::Equal),
    ("~", Op::Tilde),
    ("^", Op::Caret),
];

const OPERATOR_HINT: &str = "a comparator is an optional operator (=, !=, >, <, >=, =>, <=, =<, ~, ~>, ^) \
     followed by a version such as 1.2.3, v1.2, 1.x or *";

/// Go's `\s` (RE2 Perl class): no vertical tab, no Unicode spaces.
fn is_ws(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x0c | b'\r' | b' ')
}

/// Characters of a version part in upstream's regex: `[0-9|x|X|\*]` (the `|` is a quirk of
/// the character class, kept because it decides what parses).
fn is_part(b: u8) -> bool {
    b.is_ascii_digit() || matches!(b, b'|' | b'x' | b'X' | b'*')
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-'
}

fn is_x(s: &str) -> bool {
    matches!(s, "x" | "X" | "*")
}

/// Byte spans of one version in a constraint (`v?M(.m(.p)?)?(-pre)?(+build)?`).
#[derive(Debug, Clone, Copy)]
struct CvSpan {
    start: usize,
    end: usize,
    major: (usize, usize),
    minor: Option<(usize, usize)>,
    patch: Option<(usize, usize)>,
    /// Without the leading `-`.
    pre: Option<(usize, usize)>,
}

fn run(s: &[u8], mut p: usize, pred: fn(u8) -> bool) -> usize {
    while p < s.len() && pred(s[p]) {
        p += 1;
    }
    p
}

fn skip_ws(s: &[u8], p: usize) -> usize {
    run(s, p, is_ws)
}

/// `ident(.ident)*` starting at `p`, or `None`.
fn dotted_idents(s: &[u8], p: usize) -> Option<usize> {
    let mut q = run(s, p, is_ident);
    if q == p {
        return None;
    }
    while q + 1 < s.len() && s[q] == b'.' && is_ident(s[q + 1]) {
        q = run(s, q + 1, is_ident);
    }
    Some(q)
}

/// Matches upstream's `cvRegex` at `p` (greedy; the grammar leaves no room for backtracking
/// to change the result).
fn match_cv(s: &[u8], p: usize) -> Option<CvSpan> {
    let mut q = p;
    if q < s.len() && s[q] == b'v' {
        q += 1;
    }
    let major_end = run(s, q, is_part);
    if major_end == q {
        return None;
    }
    let major = (q, major_end);
    q = major_end;
    let part = |q: &mut usize| {
        if *q + 1 < s.len() && s[*q] == b'.' && is_part(s[*q + 1]) {
            let end = run(s, *q + 1, is_part);
            let span = (*q + 1, end);
            *q = end;
            Some(span)
        } else {
            None
        }
    };
    let minor = part(&mut q);
    let patch = if minor.is_some() { part(&mut q) } else { None };
    let mut pre = None;
    if q < s.len()
        && s[q] == b'-'
        && let Some(end) = dotted_idents(s, q + 1)
    {
        pre = Some((q + 1, end));
        q = end;
    }
    if q < s.len()
        && s[q] == b'+'
        && let Some(end) = dotted_idents(s, q + 1)
    {
        q = end;
    }
    Some(CvSpan {
        start: p,
        end: q,
        major,
        minor,
        patch,
        pre,
    })
}

/// Upstream `rewriteRange`: find every `\s*(cv)\s+-\s+(cv)\s*` (leftmost, non-overlapping) in
/// the input, then replace the first occurrence of each matched text with `>= A, <= B`.
fn rewrite_hyphen_ranges(input: &str) -> Option<String> {
    let s = input.as_bytes();
    let mut matches: Vec<(usize, usize, usize, usize, usize, usize)> = Vec::new();
    let mut p = 0;
    while p < s.len() {
        if !input.is_char_boundary(p) {
            p += 1;
            continue;
        }
        if let Some(m) = match_hyphen_at(s, p) {
            matches.push(m);
            p = m.1;
        } else {
            p += 1;
        }
    }
    if matches.is_empty() {
        return None;
    }
    let mut out = input.to_string();
    for (start, end, a_start, a_end, b_start, b_end) in matches {
        let whole = &input[start..end];
        let replacement = format!(
            ">= {}, <= {}",
            &input[a_start..a_end],
            &input[b_start..b_end]
        );
        out = out.replacen(whole, &replacement, 1);
    }
    Some(out)
}

fn match_hyphen_at(s: &[u8], p: usize) -> Option<(usize, usize, usize, usize, usize, usize)> {
    let a_start = skip_ws(s, p);
    let a = match_cv(s, a_start)?;
    let dash = skip_ws(s, a.end);
    if dash == a.end || dash >= s.len() || s[dash] != b'-' {
        return None;
    }
    let b_start = skip_ws(s, dash + 1);
    if b_start == dash + 1 {
        return None;
    }
    let b = match_cv(s, b_start)?;
    let end = skip_ws(s, b.end);
    Some((p, end, a.start, a.end, b.start, b.end))
}

/// A comparator located by the group grammar, not yet normalised.
struct RawComparator {
    op: Op,
    op_text: &'static str,
    cv: CvSpan,
}

impl Constraints {
    /// Parses a constraint string with Masterminds v3.2.1 semantics.
    pub fn parse(input: &str) -> Result<Self, ConstraintsError> {
        let rewritten = rewrite_hyphen_ranges(input);
        let text = rewritten.as_deref().unwrap_or(input);
        let is_rewritten = rewritten.is_some();
        let mut groups = Vec::new();
        let mut group_start = 0;
        for group in text.split("||") {
            let raws = parse_group(text, group_start, group_start + group.len()).map_err(
                |(offset, token, reason)| ConstraintsError {
                    text: text.to_string(),
                    rewritten: is_rewritten,
                    offset,
                    token,
                    reason,
                    upstream: format!("improper constraint: {group}"),
                },
            )?;
            let mut comparators = Vec::with_capacity(raws.len());
            for raw in raws {
                comparators.push(normalise(text, raw).map_err(|(offset, token, reason)| {
                    ConstraintsError {
                        text: text.to_string(),
                        rewritten: is_rewritten,
                        offset,
                        token,
                        reason,
                        upstream: "constraint Parser Error".to_string(),
                    }
                })?);
            }
            groups.push(comparators);
            group_start += group.len() + 2;
        }
        Ok(Constraints { groups })
    }

    /// Whether `version` satisfies the constraint (upstream `Check`).
    pub fn matches(&self, version: &Version) -> bool {
        let subject = Subject {
            major: version.major,
            minor: version.minor,
            patch: version.patch,
            pre: version.pre.as_str(),
        };
        self.groups
            .iter()
            .any(|group| group.iter().all(|c| c.check(&subject)))
    }

    /// The OR-groups (each an AND of comparators).
    pub fn groups(&self) -> &[Vec<Comparator>] {
        &self.groups
    }

    /// True when the constraint admits at most one release version: a single comparator `=V`
    /// (or bare `V`) with a full, wildcard-free version. Used to phrase "pinned to" messages.
    pub fn is_exact_pin(&self) -> bool {
        matches!(self.groups.as_slice(), [group] if matches!(group.as_slice(),
            [c] if c.op == Op::Equal && !c.dirty))
    }
}

impl std::str::FromStr for Constraints {
    type Err = ConstraintsError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Constraints::parse(s)
    }
}

impl fmt::Display for Constraints {
    /// Upstream's `String()`: comparators joined by a space, groups by ` || `.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_groups(f, &self.groups)
    }
}

impl fmt::Display for Comparator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.op_text, self.orig)
    }
}

impl Comparator {
    /// The operator.
    pub fn op(&self) -> Op {
        self.op
    }

    /// The version as written.
    pub fn version_text(&self) -> &str {
        &self.orig
    }
}

type Located = (usize, String, String);

/// The text of the token starting at `p`: up to the next whitespace or comma.
fn token_at(text: &str, p: usize, limit: usize) -> String {
    let s = text.as_bytes();
    let mut end = p;
    while end < limit && !is_ws(s[end]) && s[end] != b',' {
        end += 1;
    }
    while end < limit && !text.is_char_boundary(end) {
        end += 1;
    }
    let mut start = p;
    while start > 0 && !text.is_char_boundary(start) {
        start -= 1;
    }
    text[start..end].to_string()
}

/// Validates one OR-group (`text[start..end]`) against upstream's `validConstraintRegex` and
/// returns its comparators (what `findConstraintRegex` extracts from a valid group).
fn parse_group(text: &str, start: usize, end: usize) -> Result<Vec<RawComparator>, Located> {
    let s = &text.as_bytes()[..end];
    let mut p = skip_ws(s, start);
    if p == end {
        let reason = if start == 0 && end == text.len() {
            "the constraint is empty; write a version or range such as 1.2.3 or >=1.2.0"
        } else {
            "empty alternative: there is nothing between two `||` or at one end"
        };
        return Err((p, String::new(), reason.to_string()));
    }
    let mut out = Vec::new();
    loop {
        let (op, op_text) = OPS
            .iter()
            .find(|(t, _)| s[p..].starts_with(t.as_bytes()))
            .map(|(t, op)| (*op, *t))
            .unwrap_or((Op::Equal, ""));
        let after_op = skip_ws(s, p + op_text.len());
        let Some(cv) = match_cv(s, after_op) else {
            return Err(missing_version(text, p, after_op, end, op_text));
        };
        out.push(RawComparator { op, op_text, cv });
        let after = skip_ws(s, cv.end);
        if after == end {
            return Ok(out);
        }
        if s[after] == b',' {
            p = skip_ws(s, after + 1);
            if p == end {
                return Err((
                    after,
                    ",".to_string(),
                    "trailing comma: add a comparator after it or remove it".to_string(),
                ));
            }
        } else if after > cv.end {
            p = after;
        } else {
            let token = token_at(text, cv.start, end);
            let reason = if s[after] == b'.' {
                "a version has at most three dot-separated parts (major.minor.patch)".to_string()
            } else {
                format!(
                    "unexpected {:?} after the version; separate comparators with a space or a comma",
                    char_at(text, after)
                )
            };
            return Err((cv.start, token, reason));
        }
    }
}

fn char_at(text: &str, p: usize) -> char {
    let mut start = p;
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    text[start..].chars().next().unwrap_or(' ')
}

fn missing_version(text: &str, p: usize, after_op: usize, end: usize, op_text: &str) -> Located {
    let s = text.as_bytes();
    if after_op >= end {
        return (
            p,
            token_at(text, p, end),
            format!("operator {op_text:?} has no version after it; {OPERATOR_HINT}"),
        );
    }
    let token = token_at(text, p, end);
    let op_chars = run(s, after_op, |b| {
        matches!(b, b'<' | b'>' | b'=' | b'!' | b'~' | b'^')
    });
    if op_chars > after_op || (op_text.is_empty() && matches!(s[after_op], b'!')) {
        let written = format!("{op_text}{}", &text[after_op..op_chars.max(after_op)]);
        return (
            p,
            token,
            format!("unknown operator {written:?}; {OPERATOR_HINT}"),
        );
    }
    (p, token, format!("not a version; {OPERATOR_HINT}"))
}

/// Upstream `parseConstraint`: wildcards or missing parts make the comparator dirty and are
/// replaced by zeros; the used parts must be numbers.
fn normalise(text: &str, raw: RawComparator) -> Result<Comparator, Located> {
    let cv = raw.cv;
    let slice = |(a, b): (usize, usize)| &text[a..b];
    let major = slice(cv.major);
    let minor = cv.minor.map(slice);
    let patch = cv.patch.map(slice);
    let pre = cv.pre.map(slice).unwrap_or("");
    let orig = text[cv.start..cv.end].to_string();
    let located = |reason: String| (cv.start, orig.clone(), reason);

    let (parts, dirty, minor_dirty, patch_dirty): (Vec<&str>, bool, bool, bool) = if is_x(major) {
        (vec![], true, false, false)
    } else if minor.is_none_or(is_x) {
        (vec![major], true, true, false)
    } else if patch.is_none_or(is_x) {
        (vec![major, minor.unwrap_or("0")], true, false, true)
    } else {
        (
            vec![major, minor.unwrap_or("0"), patch.unwrap_or("0")],
            false,
            false,
            false,
        )
    };
    let mut numbers = [0u64; 3];
    for (i, part) in parts.iter().enumerate() {
        if !part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(located(format!(
                "version part {part:?} must be a number or one of the wildcards x, X, *"
            )));
        }
        numbers[i] = part.parse::<u64>().map_err(|_| {
            located(format!(
                "version part {part:?} is larger than 18446744073709551615"
            ))
        })?;
    }
    for ident in pre.split('.').filter(|_| !pre.is_empty()) {
        if ident.len() > 1 && ident.starts_with('0') && ident.bytes().all(|b| b.is_ascii_digit()) {
            return Err(located(format!(
                "numeric pre-release identifier {ident:?} must not have leading zeros"
            )));
        }
    }
    Ok(Comparator {
        op: raw.op,
        op_text: raw.op_text,
        orig,
        con: ConVersion {
            major: numbers[0],
            minor: numbers[1],
            patch: numbers[2],
            pre: pre.to_string(),
        },
        dirty,
        minor_dirty,
        patch_dirty,
    })
}

/// Upstream `Version.Compare` (pre-release identifiers that do not fit in a u64 compare as
/// text, as upstream's `ParseUint` check makes them).
fn compare(v: &Subject<'_>, c: &ConVersion) -> Ordering {
    v.major
        .cmp(&c.major)
        .then(v.minor.cmp(&c.minor))
        .then(v.patch.cmp(&c.patch))
        .then_with(|| match (v.pre.is_empty(), c.pre.is_empty()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => compare_prerelease(v.pre, &c.pre),
        })
}

fn compare_prerelease(a: &str, b: &str) -> Ordering {
    let left: Vec<&str> = a.split('.').collect();
    let right: Vec<&str> = b.split('.').collect();
    for i in 0..left.len().max(right.len()) {
        let s = left.get(i).copied().unwrap_or("");
        let o = right.get(i).copied().unwrap_or("");
        let ord = compare_pre_part(s, o);
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

fn compare_pre_part(s: &str, o: &str) -> Ordering {
    if s == o {
        return Ordering::Equal;
    }
    if s.is_empty() {
        return Ordering::Less;
    }
    if o.is_empty() {
        return Ordering::Greater;
    }
    match (s.parse::<u64>(), o.parse::<u64>()) {
        (Err(_), Err(_)) => s.cmp(o),
        (Ok(_), Err(_)) => Ordering::Less,
        (Err(_), Ok(_)) => Ordering::Greater,
        (Ok(a), Ok(b)) => a.cmp(&b),
    }
}

impl Comparator {
    fn check(&self, v: &Subject<'_>) -> bool {
        let c = &self.con;
        // v3.2.1: a pre-release only matches a comparator that itself names a pre-release.
        let gated = !v.pre.is_empty() && c.pre.is_empty();
        match self.op {
            Op::NotEqual => {
                if self.dirty {
                    if gated {
                        return false;
                    }
                    if c.major != v.major {
                        return true;
                    }
                    if c.minor != v.minor && !self.minor_dirty {
                        return true;
                    } else if self.minor_dirty {
                        return false;
                    } else if c.patch != v.patch && !self.patch_dirty {
                        return true;
                    } else if self.patch_dirty {
                        if !v.pre.is_empty() || !c.pre.is_empty() {
                            return compare_prerelease(v.pre, &c.pre) != Ordering::Equal;
                        }
                        return false;
                    }
                }
                compare(v, c) != Ordering::Equal
            }
            Op::Greater => {
                if gated {
                    return false;
                }
                if !self.dirty {
                    return compare(v, c) == Ordering::Greater;
                }
                if v.major > c.major {
                    true
                } else if v.major < c.major || self.minor_dirty {
                    false
                } else if self.patch_dirty {
                    v.minor > c.minor
                } else {
                    compare(v, c) == Ordering::Greater
                }
            }
            Op::Less => !gated && compare(v, c) == Ordering::Less,
            Op::GreaterEqual => !gated && compare(v, c) != Ordering::Less,
            Op::LessEqual => {
                if gated {
                    return false;
                }
                if !self.dirty {
                    return compare(v, c) != Ordering::Greater;
                }
                !(v.major > c.major
                    || (v.major == c.major && v.minor > c.minor && !self.minor_dirty))
            }
            Op::Tilde => !gated && self.tilde(v),
            Op::Equal => {
                if gated {
                    false
                } else if self.dirty {
                    self.tilde(v)
                } else {
                    compare(v, c) == Ordering::Equal
                }
            }
            Op::Caret => {
                if gated || compare(v, c) == Ordering::Less {
                    return false;
                }
                if c.major > 0 || self.minor_dirty {
                    return v.major == c.major;
                }
                if v.major > 0 {
                    return false;
                }
                if c.minor > 0 || self.patch_dirty {
                    return v.minor == c.minor;
                }
                if v.minor > 0 {
                    return false;
                }
                c.patch == v.patch
            }
        }
    }

    fn tilde(&self, v: &Subject<'_>) -> bool {
        let c = &self.con;
        if compare(v, c) == Ordering::Less {
            return false;
        }
        if c.major == 0 && c.minor == 0 && c.patch == 0 && !self.minor_dirty && !self.patch_dirty {
            return true;
        }
        if v.major != c.major {
            return false;
        }
        v.minor == c.minor || self.minor_dirty
    }
}
