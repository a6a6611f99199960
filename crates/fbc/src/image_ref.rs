//! Container image reference syntax (the grammar of `docker/reference.ParseNormalizedNamed`),
//! used to validate bundle `image` and `relatedImages[].image` pull specs.

fn is_lower_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`
fn valid_path_component(s: &str) -> bool {
    let b = s.as_bytes();
    if b.is_empty() || !is_lower_alnum(b[0]) || !is_lower_alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if is_lower_alnum(b[i]) {
            i += 1;
            continue;
        }
        // separator
        let start = i;
        match b[i] {
            b'.' => i += 1,
            b'_' => {
                i += 1;
                if i < b.len() && b[i] == b'_' {
                    i += 1;
                }
            }
            b'-' => {
                while i < b.len() && b[i] == b'-' {
                    i += 1;
                }
            }
            _ => return false,
        }
        if i == start || i >= b.len() || !is_lower_alnum(b[i]) {
            return false;
        }
    }
    true
}

/// `host(:port)?` where host is a DNS-ish name or a bracketed IPv6 address.
fn valid_domain(s: &str) -> bool {
    let (host, port) = if s.starts_with('[') {
        match s.find(']') {
            Some(end) => {
                let inner = &s[1..end];
                if inner.is_empty() || !inner.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
                    return false;
                }
                let after = &s[end + 1..];
                if after.is_empty() {
                    (None, None)
                } else if let Some(p) = after.strip_prefix(':') {
                    (None, Some(p))
                } else {
                    return false;
                }
            }
            None => return false,
        }
    } else {
        match s.rsplit_once(':') {
            Some((h, p)) => (Some(h), Some(p)),
            None => (Some(s), None),
        }
    };
    if let Some(p) = port
        && (p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return false;
    }
    if let Some(h) = host {
        if h.is_empty() {
            return false;
        }
        for comp in h.split('.') {
            let b = comp.as_bytes();
            if b.is_empty()
                || !b[0].is_ascii_alphanumeric()
                || !b[b.len() - 1].is_ascii_alphanumeric()
                || !b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
            {
                return false;
            }
        }
    }
    true
}

fn valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

/// A pull spec `reference.ParseNormalizedNamed` rejects, with the library's message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PullSpecError(pub String);

fn check_digest(d: &str) -> Result<(), PullSpecError> {
    let Some((alg, hex)) = d.split_once(':') else {
        return Err(PullSpecError("invalid reference format".to_string()));
    };
    let alg_ok = !alg.is_empty()
        && alg.split(['-', '_', '+', '.']).all(|c| {
            let b = c.as_bytes();
            !b.is_empty() && b[0].is_ascii_alphabetic() && b.iter().all(u8::is_ascii_alphanumeric)
        });
    if !alg_ok || hex.len() < 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(PullSpecError("invalid reference format".to_string()));
    }
    let want = match alg {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return Err(PullSpecError("unsupported digest algorithm".to_string())),
    };
    if !hex
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(PullSpecError("invalid checksum digest format".to_string()));
    }
    if hex.len() != want {
        return Err(PullSpecError("invalid checksum digest length".to_string()));
    }
    Ok(())
}

/// Validates `s` like `reference.ParseNormalizedNamed`; the error text is the library's.
pub fn validate_pull_spec(s: &str) -> Result<(), PullSpecError> {
    if s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(PullSpecError(format!(
            "invalid repository name ({s}), cannot specify 64-byte hexadecimal strings"
        )));
    }
    let (rest, digest) = match s.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (s, None),
    };
    // A tag follows the last ':' that is after the last '/'.
    let last_slash = rest.rfind('/').map(|i| i + 1).unwrap_or(0);
    let (name, tag) = match rest[last_slash..].rfind(':') {
        Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
        None => (rest, None),
    };
    if name.is_empty() {
        return Err(PullSpecError(
            "repository name must have at least one component".to_string(),
        ));
    }
    let (domain, path) = match name.split_once('/') {
        Some((d, p))
            if d.contains('.') || d.contains(':') || d == "localhost" || d.to_lowercase() != d =>
        {
            (Some(d), p)
        }
        _ => (None, name),
    };
    if path.to_lowercase() != path {
        return Err(PullSpecError(format!(
            "invalid reference format: repository name ({path}) must be lowercase"
        )));
    }
    if let Some(d) = domain
        && !valid_domain(d)
    {
        return Err(PullSpecError("invalid reference format".to_string()));
    }
    if !path.split('/').all(valid_path_component) {
        return Err(PullSpecError("invalid reference format".to_string()));
    }
    if let Some(t) = tag
        && !valid_tag(t)
    {
        return Err(PullSpecError("invalid reference format".to_string()));
    }
    if name.len() > 255 {
        return Err(PullSpecError(
            "repository name must not be more than 255 characters".to_string(),
        ));
    }
    if let Some(d) = digest {
        check_digest(d)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_real_refs() {
        for r in [
            "quay.io/community-operator-pipeline-prod/nfs-provisioner-operator@sha256:d7ef0fa3b5a1a6094b6fd60c6197a52cb14766865b3549806de100bb3522821a",
            "quay.io/clusterpulse/operator:0.1.1",
            "localhost:5000/foo/bar:latest",
            "busybox",
            "gcr.io/kubebuilder/kube-rbac-proxy:v0.13.1",
            "[::1]:5000/a/b",
        ] {
            assert_eq!(validate_pull_spec(r), Ok(()), "{r}");
        }
    }

    #[test]
    fn rejects_bad_refs() {
        assert_eq!(
            validate_pull_spec("quay.io/Foo/bar")
                .unwrap_err()
                .to_string(),
            "invalid reference format: repository name (Foo/bar) must be lowercase"
        );
        assert!(validate_pull_spec("quay.io/foo/bar:").is_err());
        assert!(validate_pull_spec("quay.io/foo bar").is_err());
        assert_eq!(
            validate_pull_spec("quay.io/a@sha256:abc")
                .unwrap_err()
                .to_string(),
            "invalid reference format"
        );
        assert_eq!(
            validate_pull_spec("quay.io/a@sha256:0123456789abcdef0123456789abcdef0123")
                .unwrap_err()
                .to_string(),
            "invalid checksum digest length"
        );
    }
}
