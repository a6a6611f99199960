//! The strict semver dialect of `github.com/blang/semver/v4`, which upstream uses for bundle
//! versions (`semver.Parse`) and `skipRange` syntax (`semver.ParseRange`). Error texts are the
//! library's, because they appear inside our validation messages.
//!
//! Version parsing is `semver-ranges`'; this module keeps the representation other crates use.
//! The range syntax check stays here because `semver_ranges::blang::BlangRange::parse`
//! deliberately differs from upstream where validation must not: it rejects an empty alternative
//! (`a || || b`), and it expands wildcards only for `.x`, so it accepts `1.0.0-x`, which upstream
//! rejects.

use std::cmp::Ordering;
use std::fmt;

/// A parsed semantic version.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    pub pre: Vec<PreRelease>,
    pub build: Vec<String>,
}

/// One pre-release identifier.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PreRelease {
    Num(u64),
    Alpha(String),
}

impl fmt::Display for PreRelease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PreRelease::Num(n) => write!(f, "{n}"),
            PreRelease::Alpha(s) => f.write_str(s),
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if !self.pre.is_empty() {
            f.write_str("-")?;
            for (i, p) in self.pre.iter().enumerate() {
                if i > 0 {
                    f.write_str(".")?;
                }
                write!(f, "{p}")?;
            }
        }
        if !self.build.is_empty() {
            write!(f, "+{}", self.build.join("."))?;
        }
        Ok(())
    }
}

impl PreRelease {
    fn cmp_pre(&self, other: &PreRelease) -> Ordering {
        match (self, other) {
            (PreRelease::Num(a), PreRelease::Num(b)) => a.cmp(b),
            (PreRelease::Num(_), PreRelease::Alpha(_)) => Ordering::Less,
            (PreRelease::Alpha(_), PreRelease::Num(_)) => Ordering::Greater,
            (PreRelease::Alpha(a), PreRelease::Alpha(b)) => a.cmp(b),
        }
    }
}

impl Version {
    /// blang `Version.Compare` (build metadata ignored).
    pub fn compare(&self, other: &Version) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => {
                    for (a, b) in self.pre.iter().zip(other.pre.iter()) {
                        let c = a.cmp_pre(b);
                        if c != Ordering::Equal {
                            return c;
                        }
                    }
                    self.pre.len().cmp(&other.pre.len())
                }
            })
    }
}

fn is_alnum_dash(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// A version or range blang rejects, with blang's message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BlangError(pub String);

fn is_numeric(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit())
}

fn go_parse_u64(s: &str) -> Result<u64, BlangError> {
    s.parse::<u64>().map_err(|_| {
        BlangError(if s.is_empty() || !is_numeric(s) {
            format!("strconv.ParseUint: parsing {s:?}: invalid syntax")
        } else {
            format!("strconv.ParseUint: parsing {s:?}: value out of range")
        })
    })
}

/// blang `NewPRVersion`.
pub fn parse_prerelease(s: &str) -> Result<PreRelease, BlangError> {
    if s.is_empty() {
        return Err(BlangError("Prerelease is empty".to_string()));
    }
    if is_numeric(s) {
        if s.len() > 1 && s.starts_with('0') {
            return Err(BlangError(format!(
                "Numeric PreRelease version must not contain leading zeroes {s:?}"
            )));
        }
        return go_parse_u64(s).map(PreRelease::Num);
    }
    if is_alnum_dash(s) {
        return Ok(PreRelease::Alpha(s.to_string()));
    }
    Err(BlangError(format!(
        "Invalid character(s) found in prerelease {s:?}"
    )))
}

/// blang `semver.Parse`, through `semver_ranges::blang::parse_strict` (same rules and messages),
/// kept in this crate's representation of pre-release identifiers.
pub fn parse_version(s: &str) -> Result<Version, BlangError> {
    let v = semver_ranges::blang::parse_strict(s).map_err(|e| BlangError(e.message))?;
    let pre = if v.pre.is_empty() {
        Vec::new()
    } else {
        v.pre
            .as_str()
            .split('.')
            .map(|id| match id.parse::<u64>() {
                // Numeric identifiers were range-checked by the parser.
                Ok(n) if is_numeric(id) => PreRelease::Num(n),
                _ => PreRelease::Alpha(id.to_string()),
            })
            .collect()
    };
    let build = if v.build.is_empty() {
        Vec::new()
    } else {
        v.build.as_str().split('.').map(str::to_string).collect()
    };
    Ok(Version {
        major: v.major,
        minor: v.minor,
        patch: v.patch,
        pre,
        build,
    })
}

/// Checks the syntax of a blang range expression (`semver.ParseRange`); evaluation belongs to
/// the resolver.
pub fn check_range(s: &str) -> Result<(), BlangError> {
    let parts = split_and_trim(s);
    let or_parts = split_or_parts(&parts)?;
    for and_parts in or_parts {
        for ap in expand_wildcards(&and_parts)? {
            let (op, v) = split_comparator_version(&ap)?;
            if !matches!(op, "" | "=" | "==" | ">" | ">=" | "<" | "<=" | "!" | "!=") {
                return Err(BlangError(format!(
                    "Could not parse Range {ap:?}: Could not parse comparator {op:?} in {:?}",
                    format!("{op}{v}")
                )));
            }
            if let Err(e) = parse_version(v) {
                return Err(BlangError(format!(
                    "Could not parse Range {ap:?}: Could not parse version {v:?} in {:?}: {e}",
                    format!("{op}{v}")
                )));
            }
        }
    }
    Ok(())
}

fn split_and_trim(s: &str) -> Vec<String> {
    let b = s.as_bytes();
    let mut result = Vec::new();
    let mut last = 0usize;
    let mut last_char = 0u8;
    for i in 0..b.len() {
        if b[i] == b' ' && !matches!(last_char, b'>' | b'<' | b'=') {
            if i > 0 && last < i - 1 {
                result.push(s[last..i].to_string());
            }
            last = i + 1;
        } else if b[i] != b' ' {
            last_char = b[i];
        }
    }
    if b.len() > 1 && last < b.len() - 1 {
        result.push(s[last..].to_string());
    }
    result.into_iter().map(|p| p.replace(' ', "")).collect()
}

fn split_or_parts(parts: &[String]) -> Result<Vec<Vec<String>>, BlangError> {
    let mut out = Vec::new();
    let mut last = 0;
    for (i, p) in parts.iter().enumerate() {
        if p == "||" {
            if i == 0 {
                return Err(BlangError("First element in range is '||'".to_string()));
            }
            out.push(parts[last..i].to_vec());
            last = i + 1;
        }
    }
    if last == parts.len() {
        return Err(BlangError("Last element in range is '||'".to_string()));
    }
    out.push(parts[last..].to_vec());
    Ok(out)
}

fn split_comparator_version(s: &str) -> Result<(&str, &str), BlangError> {
    match s.find(|c: char| c.is_ascii_digit()) {
        Some(i) => Ok((s[..i].trim(), &s[i..])),
        None => Err(BlangError(format!(
            "Could not get version from string: {s:?}"
        ))),
    }
}

fn expand_wildcards(parts: &[String]) -> Result<Vec<String>, BlangError> {
    let mut out = Vec::new();
    for ap in parts {
        if !ap.contains('x') {
            out.push(ap.clone());
            continue;
        }
        let (op, v) = split_comparator_version(ap)?;
        let segs: Vec<&str> = v.split('.').collect();
        let wildcard = match (segs.len(), segs.last()) {
            (2, Some(&"x")) => Some(Wild::Minor),
            (3, Some(&"x")) => Some(Wild::Patch),
            _ => None,
        };
        let flat = {
            let mut s: Vec<String> = segs
                .iter()
                .map(|p| {
                    if *p == "x" {
                        "0".to_string()
                    } else {
                        (*p).to_string()
                    }
                })
                .collect();
            while s.len() < 3 {
                s.push("0".to_string());
            }
            s.join(".")
        };
        let (result_op, increment) = match op {
            ">" => (">=", true),
            ">=" => (">=", false),
            "<" => ("<", false),
            "<=" => ("<", true),
            "" | "=" | "==" => {
                out.push(format!(">={flat}"));
                ("<", true)
            }
            "!=" | "!" => {
                out.push(format!("<{flat}"));
                (">=", true)
            }
            other => (other, false),
        };
        let version = if increment {
            let nums: Vec<u64> = flat.split('.').filter_map(|p| p.parse().ok()).collect();
            match (wildcard, nums.as_slice()) {
                (Some(Wild::Patch), [a, b, _]) => format!("{a}.{}.0", b + 1),
                (Some(Wild::Minor), [a, _, _]) => format!("{}.0.0", a + 1),
                _ => String::new(),
            }
        } else {
            flat
        };
        out.push(format!("{result_op}{version}"));
    }
    Ok(out)
}

#[derive(Clone, Copy)]
enum Wild {
    Minor,
    Patch,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert!(parse_version("1.2.3-alpha.1+build.5").is_ok());
        assert_eq!(
            parse_version("v1.0.0").unwrap_err().to_string(),
            "Invalid character(s) found in major number \"v1\""
        );
        assert_eq!(
            parse_version("1.0").unwrap_err().to_string(),
            "No Major.Minor.Patch elements found"
        );
        assert_eq!(
            parse_version("01.0.0").unwrap_err().to_string(),
            "Major number must not contain leading zeroes \"01\""
        );
        assert_eq!(
            parse_version("1.0.0-01").unwrap_err().to_string(),
            "Numeric PreRelease version must not contain leading zeroes \"01\""
        );
        for (input, message) in [
            ("", "Version string empty"),
            ("1.2", "No Major.Minor.Patch elements found"),
            ("1..0", "strconv.ParseUint: parsing \"\": invalid syntax"),
            ("1.0.0-", "Prerelease is empty"),
            (
                "1.0.0-a_b",
                "Invalid character(s) found in prerelease \"a_b\"",
            ),
            ("1.0.0+", "Build meta data is empty"),
            (
                "1.0.0+a_b",
                "Invalid character(s) found in build meta data \"a_b\"",
            ),
            (
                "1.0.01",
                "Patch number must not contain leading zeroes \"01\"",
            ),
            ("1.0.x", "Invalid character(s) found in patch number \"x\""),
            (
                "99999999999999999999.0.0",
                "strconv.ParseUint: parsing \"99999999999999999999\": value out of range",
            ),
            (
                "1.0.0-99999999999999999999",
                "strconv.ParseUint: parsing \"99999999999999999999\": value out of range",
            ),
        ] {
            assert_eq!(
                parse_version(input).unwrap_err().to_string(),
                message,
                "{input:?}"
            );
        }
        let v = parse_version("1.2.3-rc.10.x-1+build.007").unwrap();
        assert_eq!(
            v.pre,
            [
                PreRelease::Alpha("rc".into()),
                PreRelease::Num(10),
                PreRelease::Alpha("x-1".into())
            ]
        );
        assert_eq!(v.build, ["build", "007"]);
        assert_eq!(v.to_string(), "1.2.3-rc.10.x-1+build.007");
        let a = parse_version("1.0.0-alpha").unwrap();
        let b = parse_version("1.0.0").unwrap();
        assert_eq!(a.compare(&b), Ordering::Less);
    }

    #[test]
    fn ranges() {
        for ok in [
            ">=1.0.0 <2.0.0",
            ">=4.1.0 <4.2.4",
            "1.x",
            ">1.2.x",
            "<1.0.0 || >=2.0.0",
            ">= 1.0.0",
        ] {
            assert!(check_range(ok).is_ok(), "{ok}");
        }
        assert!(check_range(">=v1.0.0").is_err());
        assert!(check_range(">=1.0.0 ||").is_err());
        assert!(check_range("~1.0.0").is_err());
        assert!(check_range(">=01.0.0").is_err());
        // Upstream quirks that semver-ranges' range parser doesn't share.
        assert!(check_range(">=1.0.0 || || <0.5.0").is_ok());
        assert_eq!(
            check_range("1.0.0-x").unwrap_err().to_string(),
            "Could not get version from string: \"<\""
        );
    }
}
