//! Property tests: no panics on arbitrary input; Display forms parse back to the same range.

use proptest::prelude::*;
use semver::Version;
use semver_ranges::{BlangRange, Constraints, parse_strict, parse_tolerant};

/// Strings built from the characters both grammars care about, so that a good share parse.
fn range_like() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just(" ".to_string()),
            Just(",".to_string()),
            Just("||".to_string()),
            Just(" - ".to_string()),
            Just("v".to_string()),
            Just("x".to_string()),
            Just("*".to_string()),
            Just(".".to_string()),
            Just("-rc.1".to_string()),
            Just("+b".to_string()),
            "[<>=!~^]{1,2}",
            "[0-9]{1,2}",
            "[0-9]{1,2}\\.[0-9]{1,2}\\.[0-9]{1,2}",
        ],
        0..10,
    )
    .prop_map(|parts| parts.concat())
}

fn version() -> impl Strategy<Value = Version> {
    (
        0u64..4,
        0u64..4,
        0u64..4,
        prop_oneof![Just(""), Just("rc.1"), Just("alpha"), Just("0")],
    )
        .prop_map(|(a, b, c, pre)| {
            let text = if pre.is_empty() {
                format!("{a}.{b}.{c}")
            } else {
                format!("{a}.{b}.{c}-{pre}")
            };
            Version::parse(&text).expect("generated version")
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn masterminds_never_panics(s in any::<String>()) {
        let _ = Constraints::parse(&s);
    }

    #[test]
    fn blang_never_panics(s in any::<String>()) {
        let _ = BlangRange::parse(&s);
        let _ = parse_strict(&s);
        let _ = parse_tolerant(&s);
    }

    #[test]
    fn masterminds_display_round_trips(s in range_like(), v in version()) {
        if let Ok(c) = Constraints::parse(&s) {
            let printed = c.to_string();
            let again = Constraints::parse(&printed)
                .unwrap_or_else(|e| panic!("{s:?} printed as {printed:?} which fails: {e}"));
            prop_assert_eq!(&again, &c);
            prop_assert_eq!(again.matches(&v), c.matches(&v));
        }
    }

    #[test]
    fn blang_display_round_trips(s in range_like(), v in version()) {
        if let Ok(r) = BlangRange::parse(&s) {
            let printed = r.to_string();
            // A pre-release or build identifier `x` after a dot is rewritten by upstream's
            // wildcard expansion on every parse, so such ranges cannot print back to
            // themselves; the generator only produces them via `.x`.
            prop_assume!(!printed.contains(".x"));
            let again = BlangRange::parse(&printed)
                .unwrap_or_else(|e| panic!("{s:?} printed as {printed:?} which fails: {e}"));
            prop_assert_eq!(&again, &r);
            prop_assert_eq!(again.matches(&v), r.matches(&v));
        }
    }

    #[test]
    fn errors_point_inside_the_text(s in range_like()) {
        if let Err(e) = Constraints::parse(&s) {
            prop_assert!(e.offset <= e.text.len());
        }
        if let Err(e) = BlangRange::parse(&s) {
            prop_assert!(e.offset <= s.len());
        }
    }
}
