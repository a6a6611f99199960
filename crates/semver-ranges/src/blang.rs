//! blang/semver v4: `ParseRange`, `Parse` (strict) and `ParseTolerant`.
//!
//! The range parser is a faithful port of upstream's string pipeline (split on single spaces
//! except after `>`, `<`, `=`; split on `||` tokens; expand `.x` wildcards by string rewriting;
//! then split each token into operator and strict version), so that catalog data validated by
//! upstream parses identically here, quirks included (`1.x.x` means `>=1.0.0 <1.1.0`,
//! `!=1.2.x` matches nothing, a one-character token is dropped). The one deliberate difference:
//! an empty alternative (`a || || b`) is an error here; upstream accepts it and then panics when
//! the range is evaluated.
//!
//! There is no pre-release gate: versions are compared by SemVer precedence only.

use std::cmp::Ordering;
use std::fmt;

use semver::{BuildMetadata, Prerelease, Version};

use crate::groups::write_groups;

/// A parsed blang range: an OR of AND-groups of comparators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlangRange {
    groups: Vec<Vec<BlangComparator>>,
}

/// One comparator after wildcard expansion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlangComparator {
    /// The comparison.
    pub op: BlangOp,
    /// The version compared against.
    pub version: Version,
}

/// blang's comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlangOp {
    /// ``, `=`, `==`
    Eq,
    /// `!`, `!=`
    Ne,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `<`
    Lt,
    /// `<=`
    Le,
}

impl BlangOp {
    fn as_str(self) -> &'static str {
        match self {
            BlangOp::Eq => "=",
            BlangOp::Ne => "!=",
            BlangOp::Gt => ">",
            BlangOp::Ge => ">=",
            BlangOp::Lt => "<",
            BlangOp::Le => "<=",
        }
    }
}

/// A version string rejected by blang's `Parse`/`ParseTolerant`. The message is upstream's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct BlangVersionError {
    /// Upstream's message, e.g. `No Major.Minor.Patch elements found`.
    pub message: String,
}

fn verr(message: impl Into<String>) -> BlangVersionError {
    BlangVersionError {
        message: message.into(),
    }
}

/// A range string rejected by `ParseRange`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlangRangeError {
    /// The input.
    pub input: String,
    /// Byte offset of the offending token in the input.
    pub offset: usize,
    /// The offending token as written.
    pub token: String,
    /// Upstream's message (e.g. `Could not parse Range ">=1.0": Could not parse version ...`).
    pub upstream: String,
    /// How to fix it, when we can tell.
    pub hint: Option<String>,
}

impl fmt::Display for BlangRangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (at byte {}, {:?})",
            self.upstream, self.offset, self.token
        )?;
        if let Some(hint) = &self.hint {
            write!(f, "; {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for BlangRangeError {}

const NUMBERS: &str = "0123456789";

fn contains_only(s: &str, set: &str) -> bool {
    s.chars().all(|c| set.contains(c))
}

fn is_alphanum_or_dash(s: &str) -> bool {
    s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

fn has_leading_zeroes(s: &str) -> bool {
    s.len() > 1 && s.starts_with('0')
}

/// Go's `strconv.ParseUint(s, 10, 64)` error text.
fn parse_u64(s: &str) -> Result<u64, BlangVersionError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(verr(format!(
            "strconv.ParseUint: parsing {s:?}: invalid syntax"
        )));
    }
    s.parse::<u64>().map_err(|_| {
        verr(format!(
            "strconv.ParseUint: parsing {s:?}: value out of range"
        ))
    })
}

/// blang `Parse`: strict SemVer 2.0 (three numeric parts, no leading zeros, no `v`).
pub fn parse_strict(s: &str) -> Result<Version, BlangVersionError> {
    if s.is_empty() {
        return Err(verr("Version string empty"));
    }
    let parts: Vec<&str> = s.splitn(3, '.').collect();
    if parts.len() != 3 {
        return Err(verr("No Major.Minor.Patch elements found"));
    }
    let mut numbers = [0u64; 3];
    for (i, name) in ["major", "minor"].iter().enumerate() {
        let part = parts[i];
        if !contains_only(part, NUMBERS) {
            return Err(verr(format!(
                "Invalid character(s) found in {name} number {part:?}"
            )));
        }
        if has_leading_zeroes(part) {
            let cap = if i == 0 { "Major" } else { "Minor" };
            return Err(verr(format!(
                "{cap} number must not contain leading zeroes {part:?}"
            )));
        }
        numbers[i] = parse_u64(part)?;
    }
    let mut patch = parts[2];
    let mut build: Vec<&str> = Vec::new();
    let mut pre: Vec<&str> = Vec::new();
    if let Some(i) = patch.find('+') {
        build = patch[i + 1..].split('.').collect();
        patch = &patch[..i];
    }
    if let Some(i) = patch.find('-') {
        pre = patch[i + 1..].split('.').collect();
        patch = &patch[..i];
    }
    if !contains_only(patch, NUMBERS) {
        return Err(verr(format!(
            "Invalid character(s) found in patch number {patch:?}"
        )));
    }
    if has_leading_zeroes(patch) {
        return Err(verr(format!(
            "Patch number must not contain leading zeroes {patch:?}"
        )));
    }
    numbers[2] = parse_u64(patch)?;
    for ident in &pre {
        if ident.is_empty() {
            return Err(verr("Prerelease is empty"));
        }
        if contains_only(ident, NUMBERS) {
            if has_leading_zeroes(ident) {
                return Err(verr(format!(
                    "Numeric PreRelease version must not contain leading zeroes {ident:?}"
                )));
            }
            parse_u64(ident)?;
        } else if !is_alphanum_or_dash(ident) {
            return Err(verr(format!(
                "Invalid character(s) found in prerelease {ident:?}"
            )));
        }
    }
    for ident in &build {
        if ident.is_empty() {
            return Err(verr("Build meta data is empty"));
        }
        if !is_alphanum_or_dash(ident) {
            return Err(verr(format!(
                "Invalid character(s) found in build meta data {ident:?}"
            )));
        }
    }
    let pre = Prerelease::new(&pre.join(".")).map_err(|e| verr(e.to_string()))?;
    let build = BuildMetadata::new(&build.join(".")).map_err(|e| verr(e.to_string()))?;
    Ok(Version {
        major: numbers[0],
        minor: numbers[1],
        patch: numbers[2],
        pre,
        build,
    })
}

/// blang `ParseTolerant`: trims spaces and a `v` prefix, removes leading zeros and fills in a
/// missing minor/patch with 0, then parses strictly.
pub fn parse_tolerant(s: &str) -> Result<Version, BlangVersionError> {
    let s = s.trim_matches(|c: char| c.is_whitespace());
    let s = s.strip_prefix('v').unwrap_or(s);
    let mut parts: Vec<String> = s.splitn(3, '.').map(str::to_string).collect();
    for part in &mut parts {
        if part.len() > 1 {
            let mut trimmed = part.trim_start_matches('0').to_string();
            if trimmed.is_empty() || !trimmed.as_bytes()[0].is_ascii_digit() {
                trimmed.insert(0, '0');
            }
            *part = trimmed;
        }
    }
    if parts.len() < 3 {
        if parts
            .last()
            .is_some_and(|p| p.contains('+') || p.contains('-'))
        {
            return Err(verr(
                "Short version cannot contain PreRelease/Build meta data",
            ));
        }
        while parts.len() < 3 {
            parts.push("0".to_string());
        }
    }
    parse_strict(&parts.join("."))
}

/// A token of the range with the byte offset where it starts in the input.
#[derive(Debug, Clone)]
struct Token {
    text: String,
    offset: usize,
    written: String,
}

/// Upstream `splitAndTrim`: split on single spaces unless the last non-space character was
/// `>`, `<` or `=`; pieces shorter than two bytes are dropped; spaces inside pieces removed.
fn split_and_trim(s: &str) -> Vec<Token> {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut last = 0usize;
    let mut last_char = 0u8;
    let mut push = |from: usize, to: usize| {
        out.push(Token {
            text: s[from..to].replace(' ', ""),
            offset: from,
            written: s[from..to].to_string(),
        })
    };
    for (i, &b) in bytes.iter().enumerate() {
        if b == b' ' && !matches!(last_char, b'>' | b'<' | b'=') {
            if last + 1 < i {
                push(last, i);
            }
            last = i + 1;
        } else if b != b' ' {
            last_char = b;
        }
    }
    if last + 1 < bytes.len() {
        push(last, bytes.len());
    }
    out
}

/// Upstream `splitComparatorVersion`: the operator is everything before the first digit.
fn split_comparator_version(s: &str) -> Option<(&str, &str)> {
    let i = s.find(|c: char| c.is_ascii_digit() || (!c.is_ascii() && c.is_numeric()))?;
    Some((s[..i].trim(), &s[i..]))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Wildcard {
    None,
    Minor,
    Patch,
}

fn wildcard_type(v: &str) -> Wildcard {
    let parts: Vec<&str> = v.split('.').collect();
    if parts.last() != Some(&"x") {
        return Wildcard::None;
    }
    match parts.len() {
        2 => Wildcard::Minor,
        3 => Wildcard::Patch,
        _ => Wildcard::None,
    }
}

fn version_from_wildcard(v: &str) -> String {
    let flat = v.replacen(".x.x", ".x", 1).replacen(".x", ".0", 1);
    if flat.split('.').count() == 2 {
        format!("{flat}.0")
    } else {
        flat
    }
}

/// Go's `strconv.Atoi` + 1 on one dot-separated part (wrapping like Go's int); `None` when
/// `Atoi` fails, which upstream ignores (leaving an empty version that fails later).
fn increment_part(v: &str, index: usize) -> Option<String> {
    let mut parts: Vec<String> = v.split('.').map(str::to_string).collect();
    let n: i64 = parts.get(index)?.parse().ok()?;
    parts[index] = n.wrapping_add(1).to_string();
    Some(parts.join("."))
}

/// Upstream `expandWildcardVersion` for one token.
fn expand_wildcards(token: &Token) -> Result<Vec<Token>, BlangRangeError> {
    let ap = &token.text;
    let Some((op, v)) = split_comparator_version(ap) else {
        return Err(range_error(
            token,
            format!("Could not get version from string: {ap:?}"),
        ));
    };
    if !ap.contains(".x") {
        return Ok(vec![token.clone()]);
    }
    let kind = wildcard_type(v);
    let flat = version_from_wildcard(v);
    let derived = |text: String| Token {
        text,
        offset: token.offset,
        written: token.written.clone(),
    };
    let mut out = Vec::new();
    let (result_op, increment) = match op {
        ">" => (">=", true),
        ">=" => (">=", false),
        "<" => ("<", false),
        "<=" => ("<", true),
        "" | "=" | "==" => {
            out.push(derived(format!(">={flat}")));
            ("<", true)
        }
        "!=" | "!" => {
            out.push(derived(format!("<{flat}")));
            (">=", true)
        }
        _ => ("", false),
    };
    let version = if increment {
        match kind {
            Wildcard::Patch => increment_part(&flat, 1).unwrap_or_default(),
            Wildcard::Minor => increment_part(&flat, 0).unwrap_or_default(),
            Wildcard::None => String::new(),
        }
    } else {
        flat
    };
    out.push(derived(format!("{result_op}{version}")));
    Ok(out)
}

fn range_error(token: &Token, upstream: String) -> BlangRangeError {
    BlangRangeError {
        input: String::new(),
        offset: token.offset,
        token: token.written.clone(),
        hint: hint_for(&token.written),
        upstream,
    }
}

/// Advice for the mistakes people make when they write the other dialect.
fn hint_for(token: &str) -> Option<String> {
    let t = token.trim();
    if t.contains("||") && t != "||" {
        return Some("put spaces around `||`".to_string());
    }
    if t.ends_with(',') || t.contains(',') {
        return Some(
            "blang ranges combine comparators with a space, not a comma: `>=1.0.0 <2.0.0`"
                .to_string(),
        );
    }
    if t.starts_with('~') || t.starts_with('^') {
        return Some(
            "blang ranges have no `~` or `^`; write the bounds, e.g. `>=1.2.3 <1.3.0`".to_string(),
        );
    }
    if t.trim_start_matches(['<', '>', '=', '!']).starts_with('v') {
        return Some("remove the `v` prefix: versions are written 1.2.3".to_string());
    }
    if t.contains('*') || t.contains('X') {
        return Some("the only wildcard is a lowercase `x`, e.g. `1.2.x`".to_string());
    }
    let version = t.trim_start_matches(['<', '>', '=', '!']);
    let core = version.split(['-', '+']).next().unwrap_or("");
    if !core.is_empty() && core.split('.').count() < 3 && !core.contains('x') {
        return Some("write a full major.minor.patch version, e.g. 1.2.0".to_string());
    }
    None
}

fn parse_op(s: &str) -> Option<BlangOp> {
    Some(match s {
        "" | "=" | "==" => BlangOp::Eq,
        "!" | "!=" => BlangOp::Ne,
        ">" => BlangOp::Gt,
        ">=" => BlangOp::Ge,
        "<" => BlangOp::Lt,
        "<=" => BlangOp::Le,
        _ => return None,
    })
}

impl BlangRange {
    /// Parses a range with blang v4 `ParseRange` semantics.
    pub fn parse(input: &str) -> Result<Self, BlangRangeError> {
        Self::parse_inner(input).map_err(|mut e| {
            e.input = input.to_string();
            e
        })
    }

    fn parse_inner(input: &str) -> Result<Self, BlangRangeError> {
        let tokens = split_and_trim(input);
        let at_end = |upstream: &str, hint: &str| BlangRangeError {
            input: String::new(),
            offset: input.len(),
            token: String::new(),
            upstream: upstream.to_string(),
            hint: Some(hint.to_string()),
        };
        // splitORParts
        let mut or_parts: Vec<Vec<Token>> = Vec::new();
        let mut current: Vec<Token> = Vec::new();
        for (i, token) in tokens.iter().enumerate() {
            if token.text == "||" {
                if i == 0 {
                    let mut e = range_error(token, "First element in range is '||'".to_string());
                    e.hint = Some("remove the leading `||`".to_string());
                    return Err(e);
                }
                if current.is_empty() {
                    let mut e = range_error(token, "empty alternative between '||'".to_string());
                    e.hint = Some("remove the repeated `||`".to_string());
                    return Err(e);
                }
                or_parts.push(std::mem::take(&mut current));
            } else {
                current.push(token.clone());
            }
        }
        if current.is_empty() {
            return Err(if tokens.is_empty() {
                at_end(
                    "Last element in range is '||'",
                    "the range is empty or too short; write at least one comparator such as >=1.0.0",
                )
            } else {
                at_end(
                    "Last element in range is '||'",
                    "remove the trailing `||` or add a comparator after it",
                )
            });
        }
        or_parts.push(current);

        let mut expanded: Vec<Vec<Token>> = Vec::with_capacity(or_parts.len());
        for part in &or_parts {
            let mut group = Vec::new();
            for token in part {
                group.extend(expand_wildcards(token)?);
            }
            expanded.push(group);
        }

        let mut groups = Vec::with_capacity(expanded.len());
        for part in expanded {
            let mut group = Vec::with_capacity(part.len());
            for token in part {
                let ap = &token.text;
                let Some((op_str, v_str)) = split_comparator_version(ap) else {
                    return Err(range_error(
                        &token,
                        format!("Could not get version from string: {ap:?}"),
                    ));
                };
                let Some(op) = parse_op(op_str) else {
                    return Err(range_error(
                        &token,
                        format!(
                            "Could not parse Range {ap:?}: Could not parse comparator {op_str:?} in {:?}",
                            format!("{op_str}{v_str}")
                        ),
                    ));
                };
                let version = parse_strict(v_str).map_err(|e| {
                    range_error(
                        &token,
                        format!(
                            "Could not parse Range {ap:?}: Could not parse version {v_str:?} in {:?}: {e}",
                            format!("{op_str}{v_str}")
                        ),
                    )
                })?;
                group.push(BlangComparator { op, version });
            }
            groups.push(group);
        }
        Ok(BlangRange { groups })
    }

    /// Whether `version` is in the range (SemVer precedence; build metadata ignored).
    pub fn matches(&self, version: &Version) -> bool {
        self.groups.iter().any(|group| {
            group.iter().all(|c| {
                let ord = version.cmp_precedence(&c.version);
                match c.op {
                    BlangOp::Eq => ord == Ordering::Equal,
                    BlangOp::Ne => ord != Ordering::Equal,
                    BlangOp::Gt => ord == Ordering::Greater,
                    BlangOp::Ge => ord != Ordering::Less,
                    BlangOp::Lt => ord == Ordering::Less,
                    BlangOp::Le => ord != Ordering::Greater,
                }
            })
        })
    }

    /// The OR-groups (each an AND of comparators), after wildcard expansion.
    pub fn groups(&self) -> &[Vec<BlangComparator>] {
        &self.groups
    }
}

impl std::str::FromStr for BlangRange {
    type Err = BlangRangeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        BlangRange::parse(s)
    }
}

impl fmt::Display for BlangRange {
    /// The expanded form, e.g. `1.x` prints as `>=1.0.0 <2.0.0`; it parses back to the same
    /// range.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_groups(f, &self.groups)
    }
}

impl fmt::Display for BlangComparator {
    /// `>=1.0.0`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.op.as_str(), self.version)
    }
}
