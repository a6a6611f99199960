//! Property test: any catalog written as JSON or YAML loads back to the same catalog, and writing
//! it again gives the same bytes. Strings include YAML-significant text (`yes`, `1.0`, `- x`,
//! `#`, leading spaces, newlines, tabs, quotes, non-ASCII and astral characters) so that the
//! go-yaml compatible emitter's quoting and folding are exercised against a real YAML parser.

use std::path::Path;

use fbc::property::Property;
use fbc::write::{Format, to_string};
use fbc::{Bundle, Channel, ChannelEntry, DeclarativeConfig, Package, RawJson, RelatedImage};
use proptest::prelude::*;

fn tricky_string() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9.-]{0,20}",
        Just(String::new()),
        Just("yes".to_string()),
        Just("1.0".to_string()),
        Just("0644".to_string()),
        Just("null".to_string()),
        Just("- item".to_string()),
        Just("key: value".to_string()),
        Just("#comment".to_string()),
        Just("2024-01-02".to_string()),
        Just(" leading and trailing ".to_string()),
        Just("multi\nline\n\ntext\n".to_string()),
        Just("trailing space \nline".to_string()),
        Just("tab\there".to_string()),
        Just("quote ' and \" and \\".to_string()),
        Just("ünïcödé ✓ 😀".to_string()),
        "[ -~]{0,200}",
        "([a-z]{1,12} ){5,30}",
    ]
}

fn property() -> impl Strategy<Value = Property> {
    (tricky_string(), tricky_string(), any::<i32>(), any::<bool>(), -1.0e6f64..1.0e6).prop_map(
        |(t, s, n, b, f)| {
            let v = serde_json::json!({"s": s, "n": n, "b": b, "f": f, "list": [s.clone(), null, {}], "empty": []});
            let mut text = String::new();
            go_encoding::push_canonical(&mut text, &v, go_encoding::Canonical::BLOB);
            Property::new(format!("x.{}", t.len()) + &t.replace(['\n', '\t'], ""), RawJson::new(text))
        },
    )
}

fn catalog() -> impl Strategy<Value = DeclarativeConfig> {
    (
        "[a-z][a-z0-9-]{0,10}",
        tricky_string(),
        proptest::collection::vec(
            (
                tricky_string(),
                tricky_string(),
                proptest::collection::vec(tricky_string(), 0..3),
            ),
            0..4,
        ),
        proptest::collection::vec(
            (
                tricky_string(),
                proptest::collection::vec(property(), 0..3),
                proptest::collection::vec((tricky_string(), tricky_string()), 0..3),
            ),
            0..4,
        ),
    )
        .prop_map(|(pkg, desc, entries, bundles)| DeclarativeConfig {
            packages: vec![Package {
                schema: "olm.package".into(),
                name: pkg.clone(),
                default_channel: "stable".into(),
                description: desc,
                ..Default::default()
            }],
            channels: vec![Channel {
                schema: "olm.channel".into(),
                name: "stable".into(),
                package: pkg.clone(),
                entries: entries
                    .into_iter()
                    .map(|(name, replaces, skips)| ChannelEntry {
                        name,
                        replaces,
                        skips,
                        skip_range: String::new(),
                    })
                    .collect(),
                ..Default::default()
            }],
            bundles: bundles
                .into_iter()
                .enumerate()
                .map(|(i, (image, properties, ris))| Bundle {
                    schema: "olm.bundle".into(),
                    name: format!("{pkg}.v{i}"),
                    package: pkg.clone(),
                    image,
                    properties,
                    related_images: ris
                        .into_iter()
                        .map(|(name, image)| RelatedImage { name, image })
                        .collect(),
                    origin: None,
                })
                .collect(),
            ..Default::default()
        })
}

fn strip(mut cfg: DeclarativeConfig) -> DeclarativeConfig {
    cfg.packages.iter_mut().for_each(|p| p.origin = None);
    cfg.channels.iter_mut().for_each(|p| p.origin = None);
    cfg.bundles.iter_mut().for_each(|p| p.origin = None);
    cfg
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn write_then_load_is_lossless(cfg in catalog()) {
        for format in [Format::Json, Format::Yaml] {
            let text = to_string(&cfg, format);
            let back = fbc::load_str(Path::new("p.yaml"), &text)
                .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
            let mut expected = cfg.clone();
            expected.bundles.sort_by(|a, b| a.name.cmp(&b.name));
            prop_assert_eq!(strip(back.clone()), expected, "{:?}\n{}", format, text);
            prop_assert_eq!(to_string(&back, format), text);
        }
    }
}
