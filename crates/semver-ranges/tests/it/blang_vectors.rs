//! resolution.md §4.3 vectors (B1–B10) plus upstream v4 behaviours.

use rstest::rstest;
use semver::Version;
use semver_ranges::{BlangRange, parse_strict, parse_tolerant};

fn check(range: &str, version: &str) -> bool {
    let r = BlangRange::parse(range).unwrap_or_else(|e| panic!("{range:?} should parse: {e}"));
    r.matches(&Version::parse(version).expect("test version"))
}

#[rstest]
// B1
#[case(">=4.1.0 <4.1.2", "4.1.1", true)]
#[case(">=4.1.0 <4.1.2", "4.1.2", false)]
#[case(">=4.1.0 <4.1.2", "4.1.2-rc.1", true)]
#[case(">=4.1.0 <4.1.2", "4.1.1+build", true)]
// B2: no pre-release gate
#[case(">=1.0.0 <2.0.0", "1.5.0-alpha", true)]
#[case(">=1.0.0 <2.0.0", "2.0.0-rc.1", true)]
// B4
#[case(">= 1.0.0 < 2.0.0", "1.5.0", true)]
// B5
#[case(">=1.0.0 || <0.5.0", "0.4.0", true)]
// B7 (quirks)
#[case("!=1.2.x", "1.5.0", false)]
#[case("1.x.x", "1.9.9", false)]
// B8
#[case("==1.0.0", "1.0.0", true)]
#[case("!1.0.0", "1.0.1", true)]
#[case("=1.0.0", "1.0.0+build", true)]
fn spec_vectors(#[case] range: &str, #[case] version: &str, #[case] expected: bool) {
    assert_eq!(check(range, version), expected, "{range} vs {version}");
}

#[rstest]
#[case("1.x", "1.9.0", true)]
#[case("1.x", "2.0.0", false)]
#[case("1.2.x", "1.2.9", true)]
#[case("1.2.x", "1.3.0", false)]
#[case(">1.x", "2.0.0", true)]
#[case(">1.x", "1.9.0", false)]
#[case(">=1.x", "1.0.0", true)]
#[case("<1.x", "0.9.9", true)]
#[case("<1.x", "1.0.0", false)]
#[case("<=1.2.x", "1.2.9", true)]
#[case("<=1.2.x", "1.3.0", false)]
#[case("1.x.x", "1.0.5", true)]
#[case(">1.0.0 <2.0.0", "1.1.1", true)]
#[case(">1.0.0 <3.0.0 !2.0.3-beta.2", "2.0.3-beta.2", false)]
#[case(">1.0.0 <2.0.0 || >3.0.0 !4.2.1", "4.2.1", false)]
#[case(">1.0.0 <2.0.0 || >3.0.0 !4.2.1", "3.1.1", true)]
#[case(">=1.0.0  <2.0.0", "1.5.0", true)]
#[case("1.0.0", "1.0.0", true)]
#[case("<=1.0.0", "1.0.0", true)]
#[case(">1.0.0", "1.0.0", false)]
#[case("!=1.0.0", "1.0.0", false)]
// upstream drops an unknown operator in front of a wildcard version
#[case("~1.2.x", "1.2.0", true)]
#[case("~1.2.x", "1.2.5", false)]
// a single-character piece is dropped by upstream's splitter
#[case(">=1.0.0 x <2.0.0", "1.5.0", true)]
fn more_vectors(#[case] range: &str, #[case] version: &str, #[case] expected: bool) {
    assert_eq!(check(range, version), expected, "{range} vs {version}");
}

#[rstest]
#[case(">=1.0")]
#[case("v1.0.0")]
#[case("~1.2.3")]
#[case("^1.2.3")]
#[case(">=1.0.0, <2.0.0")]
#[case("<1.0.0||>=2.0.0")]
#[case("*")]
#[case("1")]
#[case("")]
#[case("|| 1.0.0")]
#[case("1.0.0 ||")]
#[case("1.0.0 || || 2.0.0")]
#[case(">=01.0.0")]
#[case(">=1.0.0-")]
#[case("1.x.3")]
fn spec_errors(#[case] range: &str) {
    assert!(
        BlangRange::parse(range).is_err(),
        "{range:?} should be rejected"
    );
}

#[test]
fn error_messages_keep_upstream_text_and_point_at_the_token() {
    let err = BlangRange::parse(">=1.0.0 <2.0").expect_err("invalid");
    assert_eq!(
        err.upstream,
        "Could not parse Range \"<2.0\": Could not parse version \"2.0\" in \"<2.0\": No Major.Minor.Patch elements found"
    );
    assert_eq!(err.offset, 8);
    assert_eq!(err.token, "<2.0");
    assert!(err.to_string().contains("full major.minor.patch"), "{err}");

    let err = BlangRange::parse(">=1.0.0, <2.0.0").expect_err("invalid");
    assert_eq!(err.offset, 0);
    assert!(err.to_string().contains("not a comma"), "{err}");

    let err = BlangRange::parse("~1.2.3").expect_err("invalid");
    assert_eq!(
        err.upstream,
        "Could not parse Range \"~1.2.3\": Could not parse comparator \"~\" in \"~1.2.3\""
    );

    let err = BlangRange::parse("1.0.0 ||").expect_err("invalid");
    assert_eq!(err.upstream, "Last element in range is '||'");
    let err = BlangRange::parse("|| 1.0.0").expect_err("invalid");
    assert_eq!(err.upstream, "First element in range is '||'");
}

#[test]
fn display_prints_the_expanded_form() {
    let r = BlangRange::parse("1.x || >= 2.1.0 !2.2.0").expect("valid");
    assert_eq!(r.to_string(), ">=1.0.0 <2.0.0 || >=2.1.0 !=2.2.0");
    assert_eq!(BlangRange::parse(&r.to_string()).expect("reparses"), r);
}

#[rstest]
#[case("1.2.3", true)]
#[case("1.2.3-rc.1+build.5", true)]
#[case("1.2", false)]
#[case("v1.2.3", false)]
#[case("01.2.3", false)]
#[case("1.2.3-01", false)]
#[case("1.2.3+", false)]
#[case("1.2.3-", false)]
#[case("1.2.3-a_b", false)]
#[case("", false)]
fn strict_parse(#[case] input: &str, #[case] ok: bool) {
    assert_eq!(parse_strict(input).is_ok(), ok, "{input:?}");
    if ok {
        assert_eq!(
            parse_strict(input).expect("ok"),
            Version::parse(input).expect("ok")
        );
    }
}

#[rstest]
#[case("v1.2.3", "1.2.3")]
#[case(" 1.2 ", "1.2.0")]
#[case("1", "1.0.0")]
#[case("01.02.03", "1.2.3")]
#[case("4.15", "4.15.0")]
#[case("1.0.0-rc.1", "1.0.0-rc.1")]
#[case("1.00.0", "1.0.0")]
fn tolerant_parse(#[case] input: &str, #[case] expected: &str) {
    assert_eq!(
        parse_tolerant(input).expect("tolerant"),
        Version::parse(expected).expect("expected")
    );
}

#[test]
fn tolerant_parse_errors() {
    assert_eq!(
        parse_tolerant("1.2-rc")
            .expect_err("short with pre")
            .message,
        "Short version cannot contain PreRelease/Build meta data"
    );
    assert!(parse_tolerant("abc").is_err());
    assert!(parse_tolerant("").is_err());
}
