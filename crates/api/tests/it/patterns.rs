//! The OpenAPI `pattern`s of the CRDs, checked with an RE2-compatible engine against the
//! accept/reject tables of operator-controller.md §1.3 (upstream's admission tests).

use olm_api::bundle::PROVISIONER_CLASS_NAME_PATTERN;
use olm_api::catalog::POLL_INTERVAL_PATTERN;
use olm_api::operator::{CHANNEL_PATTERN, PACKAGE_NAME_PATTERN, VERSION_PATTERN};
use regex::bytes::{Regex, RegexBuilder};

use crate::semver_tables::{INVALID_SEMVER, VALID_SEMVER};

/// Compiles a pattern the way the API server's Go `regexp` reads it: ASCII `\d` and `\s`.
fn re2(pattern: &str) -> Regex {
    RegexBuilder::new(pattern)
        .unicode(false)
        .build()
        .unwrap_or_else(|e| panic!("pattern {pattern:?} does not compile: {e}"))
}

fn assert_table(pattern: &str, accepted: &[&str], rejected: &[&str]) {
    let re = re2(pattern);
    let wrongly_rejected: Vec<_> = accepted
        .iter()
        .filter(|v| !re.is_match(v.as_bytes()))
        .collect();
    let wrongly_accepted: Vec<_> = rejected
        .iter()
        .filter(|v| re.is_match(v.as_bytes()))
        .collect();
    assert!(
        wrongly_rejected.is_empty() && wrongly_accepted.is_empty(),
        "pattern {pattern}\nshould accept: {wrongly_rejected:?}\nshould reject: {wrongly_accepted:?}"
    );
}

#[test]
fn version_pattern_is_upstreams_byte_for_byte() {
    // operator-controller v0.8.0 api/v1alpha1/operator_types.go, typos included (§12.8).
    let upstream = concat!(
        r"^(\s*(=||!=|>|<|>=|=>|<=|=<|~|~>|\^)\s*(v?(0|[1-9]\d*|[x|X|\*])(\.(0|[1-9]\d*|x|X|\*]))?",
        r"(\.(0|[1-9]\d*|x|X|\*))?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?)\s*)",
        r"((?:\s+|,\s*|\s*\|\|\s*)(=||!=|>|<|>=|=>|<=|=<|~|~>|\^)\s*(v?(0|[1-9]\d*|x|X|\*])(\.(0|[1-9]\d*|x|X|\*))?",
        r"(\.(0|[1-9]\d*|x|X|\*]))?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?)\s*)*$",
    );
    assert_eq!(VERSION_PATTERN, upstream);
}

#[test]
fn version_pattern_accepts_upstreams_valid_semver_table() {
    // TestOperatorValidSemver
    assert_table(VERSION_PATTERN, VALID_SEMVER, &[]);
}

#[test]
fn version_pattern_rejects_upstreams_invalid_semver_table() {
    // TestOperatorInvalidSemver
    assert_table(VERSION_PATTERN, &[], INVALID_SEMVER);
}

#[test]
fn version_pattern_keeps_upstreams_typos() {
    // §1.3: `[x|X|\*]` admits `|`; in later comparisons `*` in the major/patch slot must be
    // written `*]` (in the first one the minor slot takes `*]`); `1.*` matches only through
    // the patch slot, so `1.*.3` is rejected.
    assert_table(
        VERSION_PATTERN,
        &["|", "x", ">=1.0.0 <1.2.*]", "1.*]"],
        &["1.*.3", ">=1.0.0 <1.2.*", "<1.2.3 >*"],
    );
}

#[test]
fn channel_pattern_table() {
    // TestOperatorValidChannel / TestOperatorInvalidChannel
    assert_table(
        CHANNEL_PATTERN,
        &[
            "hyphenated-name",
            "dotted.name",
            "channel-has-version-1.0.1",
            "latest",
            "stable-v1",
        ],
        &[
            "spaces spaces",
            "Capitalized",
            "camelCase",
            "many/invalid$characters+in_name",
            "-start-with-hyphen",
            "end-with-hyphen-",
            ".start-with-period",
            "end-with-period.",
        ],
    );
}

#[test]
fn package_name_pattern_table() {
    assert_table(
        PACKAGE_NAME_PATTERN,
        &["openshift-pipelines-operator-rh", "prometheus", "a1-b2"],
        &[
            "",
            "dotted.name",
            "-start",
            "end-",
            "double--hyphen",
            "Capital",
            "under_score",
        ],
    );
}

#[test]
fn provisioner_class_name_pattern_table() {
    assert_table(
        PROVISIONER_CLASS_NAME_PATTERN,
        &["core-rukpak-io-plain", "core-rukpak-io-registry", "a", "a1"],
        &[
            "invalid/class-name",
            "-plain",
            "plain-",
            "Plain",
            "core.rukpak.io",
        ],
    );
}

#[test]
fn poll_interval_pattern_table() {
    assert_table(
        POLL_INTERVAL_PATTERN,
        // Negative values pass the pattern on purpose: the CEL rule explains them.
        &[
            "24h", "0s", "0", "30m", "1h30m", "1.5h", "90s", "1h0m0s", "-1h",
        ],
        &[
            "1d", "100ms", "1w", "h", "1", "1h 30m", "abc", "", " 1h", "1.h", ".5h", "1H",
        ],
    );
}
