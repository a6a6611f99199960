//! `.indexignore` matching with the semantics upstream gets from go-git's gitignore patterns
//! (through `github.com/joelanford/ignore`): every ignore file contributes patterns scoped to its
//! directory, later patterns win, `!` re-includes, a pattern without `/` matches any path
//! component (so ignoring a directory name ignores everything below it).

/// One parsed pattern.
#[derive(Clone, Debug)]
struct Pattern {
    domain: Vec<String>,
    segments: Vec<String>,
    inclusion: bool,
    dir_only: bool,
    is_glob: bool,
}

/// All patterns collected from the `.indexignore` files of a tree, in walk order.
#[derive(Clone, Debug, Default)]
pub(crate) struct IgnoreMatcher {
    patterns: Vec<Pattern>,
}

impl IgnoreMatcher {
    /// Adds the contents of an ignore file found in directory `dir` (components relative to the
    /// catalog root).
    pub(crate) fn add_file(&mut self, dir: &[String], contents: &str) {
        for line in contents.lines() {
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            self.patterns.push(parse_pattern(line, dir));
        }
    }

    /// True when `path` (components relative to the root) is ignored.
    pub(crate) fn is_ignored(&self, path: &[String], is_dir: bool) -> bool {
        for p in self.patterns.iter().rev() {
            if let Some(include) = p.matches(path, is_dir) {
                return !include;
            }
        }
        false
    }
}

fn parse_pattern(line: &str, domain: &[String]) -> Pattern {
    let mut p = line;
    let mut inclusion = false;
    if let Some(rest) = p.strip_prefix('!') {
        inclusion = true;
        p = rest;
    }
    let trimmed;
    if !p.ends_with("\\ ") {
        trimmed = p.trim_end_matches(' ');
        p = trimmed;
    }
    let mut dir_only = false;
    if let Some(rest) = p.strip_suffix('/') {
        dir_only = true;
        p = rest;
    }
    Pattern {
        domain: domain.to_vec(),
        is_glob: p.contains('/'),
        segments: p.split('/').map(str::to_string).collect(),
        inclusion,
        dir_only,
    }
}

impl Pattern {
    /// `Some(true)` = include, `Some(false)` = exclude, `None` = no match.
    fn matches(&self, path: &[String], is_dir: bool) -> Option<bool> {
        if path.len() <= self.domain.len() || path[..self.domain.len()] != self.domain[..] {
            return None;
        }
        let rel = &path[self.domain.len()..];
        let ok = if self.is_glob {
            self.glob_match(rel, is_dir)
        } else {
            self.simple_name_match(rel, is_dir)
        };
        ok.then_some(self.inclusion)
    }

    fn simple_name_match(&self, path: &[String], is_dir: bool) -> bool {
        for (i, name) in path.iter().enumerate() {
            match glob_component(&self.segments[0], name) {
                None => return false,
                Some(false) => continue,
                Some(true) => {}
            }
            if self.dir_only && !is_dir && i == path.len() - 1 {
                return false;
            }
            return true;
        }
        false
    }

    fn glob_match(&self, path: &[String], is_dir: bool) -> bool {
        let mut path = path;
        let mut matched = false;
        let mut can_traverse = false;
        for (i, pattern) in self.segments.iter().enumerate() {
            if pattern.is_empty() {
                can_traverse = false;
                continue;
            }
            if pattern == "**" {
                if i == self.segments.len() - 1 {
                    break;
                }
                can_traverse = true;
                continue;
            }
            if pattern.contains("**") {
                return false;
            }
            if path.is_empty() {
                return false;
            }
            if can_traverse {
                can_traverse = false;
                while let Some((e, rest)) = path.split_first() {
                    path = rest;
                    match glob_component(pattern, e) {
                        None => return false,
                        Some(true) => {
                            matched = true;
                            break;
                        }
                        Some(false) if path.is_empty() => matched = false,
                        Some(false) => {}
                    }
                }
            } else {
                match glob_component(pattern, &path[0]) {
                    Some(true) => {}
                    _ => return false,
                }
                matched = true;
                path = &path[1..];
            }
        }
        if matched && self.dir_only && !is_dir && path.is_empty() {
            matched = false;
        }
        matched
    }
}

/// Go `filepath.Match` for one path component: `Some(matched)`, or `None` for a malformed pattern.
pub(crate) fn glob_component(pattern: &str, name: &str) -> Option<bool> {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    glob_at(&p, &n)
}

fn glob_at(p: &[char], n: &[char]) -> Option<bool> {
    if p.is_empty() {
        return Some(n.is_empty());
    }
    match p[0] {
        '*' => {
            // Validate the rest of the pattern even when we can stop early.
            let mut any_error = false;
            for k in 0..=n.len() {
                match glob_at(&p[1..], &n[k..]) {
                    Some(true) => return Some(true),
                    Some(false) => {}
                    None => any_error = true,
                }
                if k < n.len() && n[k] == '/' {
                    break;
                }
            }
            if any_error { None } else { Some(false) }
        }
        '?' => {
            if n.is_empty() || n[0] == '/' {
                return check_pattern(&p[1..]).map(|_| false);
            }
            glob_at(&p[1..], &n[1..])
        }
        '[' => {
            let (matched, consumed) = match_class(&p[1..], n.first().copied())?;
            if n.is_empty() {
                return check_pattern(&p[1 + consumed..]).map(|_| false);
            }
            if !matched {
                return check_pattern(&p[1 + consumed..]).map(|_| false);
            }
            glob_at(&p[1 + consumed..], &n[1..])
        }
        '\\' => {
            let c = *p.get(1)?;
            if n.first() == Some(&c) {
                glob_at(&p[2..], &n[1..])
            } else {
                check_pattern(&p[2..]).map(|_| false)
            }
        }
        c => {
            if n.first() == Some(&c) {
                glob_at(&p[1..], &n[1..])
            } else {
                check_pattern(&p[1..]).map(|_| false)
            }
        }
    }
}

/// Returns `None` if the remaining pattern is malformed (as Go reports ErrBadPattern).
fn check_pattern(p: &[char]) -> Option<()> {
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            '\\' => {
                p.get(i + 1)?;
                i += 2;
            }
            '[' => {
                let (_, consumed) = match_class(&p[i + 1..], None)?;
                i += 1 + consumed;
            }
            _ => i += 1,
        }
    }
    Some(())
}

/// Parses a character class after `[`; returns (matched, chars consumed including `]`).
fn match_class(p: &[char], c: Option<char>) -> Option<(bool, usize)> {
    let mut i = 0;
    let negated = p.first() == Some(&'^');
    if negated {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let ch = *p.get(i)?;
        if ch == ']' && !first {
            i += 1;
            break;
        }
        first = false;
        let lo = if ch == '\\' {
            i += 1;
            *p.get(i)?
        } else {
            ch
        };
        i += 1;
        let mut hi = lo;
        if p.get(i) == Some(&'-') && p.get(i + 1).is_some_and(|c| *c != ']') {
            i += 1;
            hi = if p[i] == '\\' {
                i += 1;
                *p.get(i)?
            } else {
                p[i]
            };
            i += 1;
        }
        if let Some(c) = c
            && lo <= c
            && c <= hi
        {
            matched = true;
        }
    }
    Some((matched != negated, i))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comps(p: &str) -> Vec<String> {
        p.split('/').map(str::to_string).collect()
    }

    #[test]
    fn upstream_fixture_semantics() {
        let mut m = IgnoreMatcher::default();
        m.add_file(&[], "*\n!*.json\n!*.yaml\n*.clusterserviceversion.yaml\n");
        assert!(m.is_ignored(&comps("README.md"), false));
        assert!(!m.is_ignored(&comps("etcd/index.yaml"), false));
        assert!(!m.is_ignored(&comps("foo.json"), false));
        assert!(m.is_ignored(&comps("x/etcd.clusterserviceversion.yaml"), false));
    }

    #[test]
    fn scoped_and_dir_patterns() {
        let mut m = IgnoreMatcher::default();
        m.add_file(
            &comps("pkg"),
            "# comment\n\nsub/\n/top.yaml\ndocs/**/x.md\n",
        );
        assert!(m.is_ignored(&comps("pkg/sub/a.yaml"), false));
        assert!(!m.is_ignored(&comps("other/sub/a.yaml"), false));
        assert!(m.is_ignored(&comps("pkg/top.yaml"), false));
        assert!(m.is_ignored(&comps("pkg/docs/a/b/x.md"), false));
        assert!(!m.is_ignored(&comps("pkg/docs/a/b/y.md"), false));
    }

    #[test]
    fn glob_components() {
        assert_eq!(glob_component("*.yaml", "a.yaml"), Some(true));
        assert_eq!(glob_component("a?c", "abc"), Some(true));
        assert_eq!(glob_component("[a-c]x", "bx"), Some(true));
        assert_eq!(glob_component("[^a-c]x", "bx"), Some(false));
        assert_eq!(glob_component("[", "a"), None);
    }
}
