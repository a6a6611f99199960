//! Orderings of bundle versions shared by both dialects and the resolver.

use std::cmp::Ordering;

use semver::Version;

/// SemVer 2.0 precedence: build metadata is ignored (the `Ord` derived by the `semver` crate
/// compares it, which is wrong for "is this the same version").
pub fn precedence(a: &Version, b: &Version) -> Ordering {
    a.cmp_precedence(b)
}

/// operator-registry's `BuildIdCompare`: precedence first; for versions equal except for build
/// metadata, no build sorts before any build, and builds compare like pre-release identifiers
/// (numeric identifiers numerically and below alphanumeric ones, a longer list wins on a tie).
pub fn build_id_compare(a: &Version, b: &Version) -> Ordering {
    precedence(a, b).then_with(|| match (a.build.is_empty(), b.build.is_empty()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => compare_identifier_lists(a.build.as_str(), b.build.as_str()),
    })
}

/// Dot-separated identifier lists compared with SemVer pre-release rules.
pub(crate) fn compare_identifier_lists(a: &str, b: &str) -> Ordering {
    let mut left = a.split('.');
    let mut right = b.split('.');
    loop {
        match (left.next(), right.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let ord = compare_identifier(x, y);
                if ord != Ordering::Equal {
                    return ord;
                }
            }
        }
    }
}

fn compare_identifier(x: &str, y: &str) -> Ordering {
    let x_num = !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit());
    let y_num = !y.is_empty() && y.bytes().all(|b| b.is_ascii_digit());
    match (x_num, y_num) {
        (true, true) => {
            // Arbitrary length: compare without leading zeros, then by length, then digits.
            let xt = x.trim_start_matches('0');
            let yt = y.trim_start_matches('0');
            xt.len().cmp(&yt.len()).then_with(|| xt.cmp(yt))
        }
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => x.cmp(y),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).expect("test version")
    }

    #[test]
    fn build_id_compare_orders_builds() {
        assert_eq!(build_id_compare(&v("1.0.0"), &v("1.0.0+1")), Ordering::Less);
        assert_eq!(
            build_id_compare(&v("1.0.0+2"), &v("1.0.0+10")),
            Ordering::Less
        );
        assert_eq!(
            build_id_compare(&v("1.0.0+10"), &v("1.0.0+a")),
            Ordering::Less
        );
        assert_eq!(
            build_id_compare(&v("1.0.0+a"), &v("1.0.0+a.1")),
            Ordering::Less
        );
        assert_eq!(
            build_id_compare(&v("1.0.1"), &v("1.0.0+z")),
            Ordering::Greater
        );
        assert_eq!(
            build_id_compare(&v("1.0.0+b"), &v("1.0.0+b")),
            Ordering::Equal
        );
    }

    #[test]
    fn precedence_ignores_build() {
        assert_eq!(precedence(&v("1.0.0+x"), &v("1.0.0+y")), Ordering::Equal);
        assert_eq!(precedence(&v("1.0.0-rc.1"), &v("1.0.0")), Ordering::Less);
    }
}
