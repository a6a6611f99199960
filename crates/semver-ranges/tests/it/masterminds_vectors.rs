//! resolution.md §4.1 vectors (M1–M37) plus upstream v3.2.1 behaviours the spec describes.

use rstest::rstest;
use semver::Version;
use semver_ranges::Constraints;

fn check(constraint: &str, version: &str) -> bool {
    let c = Constraints::parse(constraint)
        .unwrap_or_else(|e| panic!("{constraint:?} should parse: {e}"));
    c.matches(&Version::parse(version).expect("test version"))
}

#[rstest]
// M1, M2
#[case("1.2.3", "1.2.3", true)]
#[case("v1.2.3", "1.2.3", true)]
// M4, M5
#[case("1.2", "1.2.9", true)]
#[case("1.2", "1.3.0", false)]
#[case("1", "1.9.0", true)]
// M7, M8
#[case(">1.2", "1.2.9", false)]
#[case(">1.2", "1.3.0", true)]
#[case(">1", "1.9.9", false)]
#[case(">1", "2.0.0", true)]
// M10, M11
#[case("<=1.2", "1.2.9", true)]
#[case("<=1.2", "1.3.0", false)]
#[case("<=2.x", "2.9.9", true)]
#[case("<=2.x", "3.0.0", false)]
// M13, M14
#[case("~1", "1.9.0", true)]
#[case("~1", "2.0.0", false)]
#[case("~>1.2", "1.2.5", true)]
// M16, M17
#[case("^0.2.3", "0.2.9", true)]
#[case("^0.2.3", "0.3.0", false)]
#[case("^0.0.3", "0.0.3", true)]
#[case("^0.0.3", "0.0.4", false)]
// M19
#[case("1.2.x", "1.2.7", true)]
#[case("1.2.x", "1.3.0", false)]
#[case("1.X", "1.5.0", true)]
// M20
#[case("*", "3.0.0", true)]
#[case("x", "3.0.0", true)]
#[case("~*", "3.0.0", true)]
// M22 (quirks)
#[case("^*", "1.2.3", false)]
#[case("<*", "1.2.3", false)]
#[case("<=*", "1.2.3", false)]
// M23
#[case("1.2 - 1.4.5", "1.2.0", true)]
#[case("1.2 - 1.4.5", "1.4.5", true)]
#[case("1.2 - 1.4.5", "1.4.6", false)]
// M25: without spaces the hyphen starts a pre-release
#[case("1.2-1.4.5", "1.3.0", false)]
#[case("1.2-1.4.5", "1.2.0-1.4.5", true)]
// M26
#[case(">=1.0.0, <2.0.0", "2.0.0", false)]
#[case(">=1.0.0 <2.0.0", "1.5.0", true)]
#[case(">= 1.0.0 , < 2.0.0", "1.5.0", true)]
// M28
#[case(">=1.2, <3.0.0 || >=4.2.3", "4.3.0", true)]
#[case(">=1.2, <3.0.0 || >=4.2.3", "3.5.0", false)]
// M29, M31, M32 (v3.2.1 per-comparator pre-release gate)
#[case(">=1.0.0", "1.5.0-alpha", false)]
#[case(">=1.2.3-alpha, <2.0.0", "1.2.4-beta", false)]
#[case("!=1.2.3", "1.2.4-beta", true)]
// M34
#[case(">1.2.3 <1.2.3", "1.2.3", false)]
// M35: semver successors of 1.0.0
#[case("^1.0.0, != 1.0.0", "1.0.0", false)]
#[case("^1.0.0, != 1.0.0", "1.2.0", true)]
#[case("^1.0.0, != 1.0.0", "2.0.0", false)]
fn spec_vectors(#[case] constraint: &str, #[case] version: &str, #[case] expected: bool) {
    assert_eq!(
        check(constraint, version),
        expected,
        "{constraint} vs {version}"
    );
}

#[rstest]
// operator-controller docs/drafts/version-ranges.md equivalences
#[case("~1.2.3", "1.2.3", true)]
#[case("~1.2.3", "1.2.9", true)]
#[case("~1.2.3", "1.3.0", false)]
#[case("^1.2.3", "1.9.9", true)]
#[case("^1.2.3", "2.0.0", false)]
#[case("^1.2.3", "1.2.2", false)]
#[case("^0.2", "0.2.5", true)]
#[case("^0.2", "0.3.0", false)]
#[case("^0.0", "0.0.9", true)]
#[case("^0.0", "0.1.0", false)]
#[case("^0", "0.9.0", true)]
#[case("^0", "1.0.0", false)]
#[case("^1", "1.9.0", true)]
#[case("=>1.0.0", "1.0.0", true)]
#[case("=<1.0.0", "1.0.1", false)]
#[case("=1.0.0", "1.0.0+build", true)]
#[case("1.0.0+meta", "1.0.0", true)]
#[case(">=1.2.3-0", "1.2.3-alpha", true)]
#[case(">=1.2.3-0", "1.3.0-alpha", true)]
#[case("1.2.3-beta", "1.2.3-beta", true)]
#[case("1.2.3-beta", "1.2.3-alpha", false)]
#[case(">1.2", "1.3.0-rc.1", false)]
#[case(">1.x", "2.0.0", true)]
#[case(">1.2.x", "1.2.9", false)]
#[case(">1.2.x", "1.3.0", true)]
#[case(">*", "0.0.1", true)]
#[case(">*", "0.0.0", false)]
#[case("<1.x", "0.9.9", true)]
#[case("<1.x", "1.0.0", false)]
#[case("!=1.x", "1.5.0", false)]
#[case("!=1.x", "2.0.0", true)]
#[case("!=1.2.x", "1.2.5", false)]
#[case("!=1.2.x", "1.3.0", true)]
#[case("!=1.2.x", "1.2.5-alpha", false)]
#[case("!=*", "0.0.0", false)]
#[case("!=*", "0.0.1", true)]
#[case("1.x.3", "1.9.0", true)]
#[case("1 || 3", "2.0.0", false)]
#[case("1||3", "3.1.0", true)]
#[case("\t>=1.0.0\n", "1.0.0", true)]
#[case("1.2.3 - 2.3.4 || 5", "5.1.0", true)]
#[case("1.2.3 - 2.3.4 || 5", "2.3.5", false)]
#[case("01.2.3", "1.2.3", true)]
fn more_vectors(#[case] constraint: &str, #[case] version: &str, #[case] expected: bool) {
    assert_eq!(
        check(constraint, version),
        expected,
        "{constraint} vs {version}"
    );
}

#[rstest]
#[case("")]
#[case(">>1.2")]
#[case("1.2.3.4")]
#[case("abc")]
#[case("==1.0.0")]
#[case("!1.0.0")]
#[case(">=1.2.3,")]
#[case("1.2.3 ||")]
#[case("|| 1.2.3")]
#[case("   ")]
#[case(">=")]
#[case("1x")]
#[case("1.2.3-01")]
#[case("1.2.3 |")]
#[case("99999999999999999999")]
#[case(">=1.0 1.2 - 1.4.5")]
#[case("1.2.3;1.2.4")]
#[case("1.2.")]
#[case("~ 1.2.3 ~")]
fn spec_errors(#[case] constraint: &str) {
    assert!(
        Constraints::parse(constraint).is_err(),
        "{constraint:?} should be rejected"
    );
}

#[test]
fn improper_constraint_message_starts_like_upstream() {
    let err = Constraints::parse(">>1").expect_err("invalid");
    let text = err.to_string();
    assert!(text.starts_with("improper constraint: >>1 "), "{text}");
    assert_eq!(err.offset, 0);
    assert_eq!(err.token, ">>1");
    assert!(text.contains("unknown operator \">>\""), "{text}");
}

#[test]
fn error_points_at_the_offending_token() {
    let err = Constraints::parse(">=1.0.0, <2.0.0 || ==3.0.0").expect_err("invalid");
    assert_eq!(err.upstream, "improper constraint:  ==3.0.0");
    assert_eq!(err.offset, 19);
    assert_eq!(err.token, "==3.0.0");

    let err = Constraints::parse(">=1.0.0 1.2.3.4").expect_err("invalid");
    assert_eq!(err.offset, 8);
    assert_eq!(err.token, "1.2.3.4");
    assert!(err.reason.contains("at most three"), "{}", err.reason);

    let err = Constraints::parse(">=1.2.3,").expect_err("invalid");
    assert_eq!(err.offset, 7);
    assert!(err.reason.contains("trailing comma"), "{}", err.reason);

    let err = Constraints::parse(">=1.0.0 <1x").expect_err("invalid");
    assert_eq!(err.upstream, "constraint Parser Error");
    assert_eq!(err.offset, 9);
    assert_eq!(err.token, "1x");
}

#[test]
fn hyphen_rewrite_errors_name_the_rewritten_text() {
    let err = Constraints::parse(">=1.0 1.2 - 1.4.5").expect_err("upstream rejects this too");
    assert!(err.rewritten);
    assert_eq!(err.text, ">=1.0>= 1.2, <= 1.4.5");
    assert!(err.to_string().contains("hyphen-range rewrite"));
}

#[test]
fn display_is_upstream_string_form() {
    let c = Constraints::parse(">= 1.0.0 , < 2.0.0||~1.x").expect("valid");
    assert_eq!(c.to_string(), ">=1.0.0 <2.0.0 || ~1.x");
    let c = Constraints::parse("1.2 - 1.4.5").expect("valid");
    assert_eq!(c.to_string(), ">=1.2 <=1.4.5");
    let c = Constraints::parse("=>v1.2.3").expect("valid");
    assert_eq!(c.to_string(), "=>v1.2.3");
}

#[test]
fn exact_pin_detection() {
    assert!(Constraints::parse("1.2.3").expect("valid").is_exact_pin());
    assert!(Constraints::parse("=v1.2.3").expect("valid").is_exact_pin());
    assert!(!Constraints::parse("1.2").expect("valid").is_exact_pin());
    assert!(!Constraints::parse(">=1.2.3").expect("valid").is_exact_pin());
}
