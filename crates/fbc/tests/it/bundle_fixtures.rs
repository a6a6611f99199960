//! registry+v1 bundle directories under `tests/fixtures/bundles/`: a full example rendered in both
//! output profiles against reviewed golden files, and bad inputs with their exact errors.

use std::path::{Path, PathBuf};

use fbc::write::{Format, to_string};
use fbc::{DeclarativeConfig, ObjectProfile};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/bundles")
        .join(name)
}

const IMAGE: &str = "quay.io/example/example-operator-bundle:v1.2.0";

fn golden(name: &str, got: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/bundles")
        .join(name);
    match std::fs::read_to_string(&path) {
        Ok(want) => assert_eq!(got, want, "{}", path.display()),
        Err(_) if std::env::var_os("FBC_UPDATE_FIXTURES").is_some() => {
            std::fs::write(&path, got).unwrap()
        }
        Err(e) => panic!("{}: {e}", path.display()),
    }
}

fn render(profile: ObjectProfile, format: Format) -> String {
    let bundle = fbc::render_bundle_dir(&fixture("example-operator"), IMAGE, profile).unwrap();
    let cfg = DeclarativeConfig {
        bundles: vec![bundle],
        ..Default::default()
    };
    to_string(&cfg, format)
}

#[test]
fn example_bundle_renders_bundle_objects() {
    golden(
        "expected-bundle-objects.json",
        &render(ObjectProfile::BundleObjects, Format::Json),
    );
}

#[test]
fn example_bundle_renders_csv_metadata() {
    golden(
        "expected-csv-metadata.yaml",
        &render(ObjectProfile::CsvMetadata, Format::Yaml),
    );
}

#[test]
fn example_bundle_exposes_upgrade_fields_and_warnings() {
    let b = fbc::parse_bundle_dir(&fixture("example-operator")).unwrap();
    assert_eq!(b.name, "example-operator.v1.2.0");
    assert_eq!(b.package, "example-operator");
    assert_eq!(b.version, "1.2.0");
    assert_eq!(b.replaces, "example-operator.v1.1.0");
    assert_eq!(b.skips, vec!["example-operator.v1.1.1".to_string()]);
    assert_eq!(b.skip_range, ">=1.0.0 <1.2.0");
    assert_eq!(
        b.annotations.channels,
        vec!["stable".to_string(), "fast".to_string()]
    );
    assert_eq!(b.annotations.default_channel, "stable");
    assert_eq!(b.manifests.len(), 3);
    assert!(b.warnings.is_empty(), "{:?}", b.warnings);
    assert_eq!(b.skipped.len(), 1, "{:?}", b.skipped);
    assert!(b.skipped[0].path.ends_with("manifests/README.md"));
    assert_eq!(b.skipped[0].reason, fbc::SkipReason::NoKind);
    assert!(!b.skipped[0].loses_content());
    // `targetPort: 0644` is YAML 1.1 octal, as Kubernetes reads it.
    assert!(
        b.manifest_json()
            .iter()
            .any(|m| m.contains("\"targetPort\":420"))
    );
    // Without an image there is nothing to migrate: upstream keeps the bundle objects.
    let no_image = b.render("", ObjectProfile::CsvMetadata).unwrap();
    assert!(
        no_image
            .properties
            .iter()
            .any(|p| p.r#type == "olm.bundle.object")
    );
}

fn error(name: &str) -> String {
    let e = fbc::parse_bundle_dir(&fixture(name))
        .unwrap_err()
        .to_string();
    e.replace(&format!("{}/", fixture(name).display()), "")
}

#[test]
fn bad_bundle_directories_give_precise_errors() {
    assert_eq!(error("no-csv"), "manifests: no csv in bundle");
    assert_eq!(error("no-objects"), "manifests: no bundle objects found");
    assert_eq!(
        error("no-annotations"),
        "metadata: Could not find annotations file"
    );
    assert_eq!(
        error("conflicting-annotation-files"),
        "metadata/zz-annotations.yaml: conflicting annotations: operators.operatorframework.io.bundle.package.v1 is \"other-operator\" here but \"example-operator\" in metadata/annotations.yaml"
    );
    let dup = error("duplicate-annotation-key");
    assert!(
        dup.starts_with("metadata/annotations.yaml: conflicting annotations at line 8, column 3: "),
        "{dup}"
    );
    assert_eq!(
        error("missing-owned-crd"),
        "manifests/example.clusterserviceversion.yaml: owned CRD widgets.example.com version \"v1\" kind \"Widget\" is not among the bundle's CustomResourceDefinition manifests"
    );
    assert_eq!(
        error("bad-csv-version-type"),
        "manifests/example.clusterserviceversion.yaml: spec.version: expected a string, found an array"
    );
    assert_eq!(
        error("malformed-annotations"),
        "metadata: Could not find annotations file"
    );
    let missing = fbc::parse_bundle_dir(&fixture("does-not-exist"))
        .unwrap_err()
        .to_string();
    assert!(missing.contains("does-not-exist/manifests: "), "{missing}");
}

/// The example bundle's files in memory, plus `extra` under `manifests/`.
fn example_with(extra: &[(&str, String)]) -> fbc::RegistryBundle {
    parse_example_with(extra).unwrap()
}

fn parse_example_with(extra: &[(&str, String)]) -> Result<fbc::RegistryBundle, fbc::BundleError> {
    let root = fixture("example-operator");
    let mut files = std::collections::BTreeMap::new();
    for sub in ["manifests", "metadata"] {
        for e in std::fs::read_dir(root.join(sub)).unwrap() {
            let e = e.unwrap();
            let name = format!("{sub}/{}", e.file_name().to_string_lossy());
            files.insert(name, std::fs::read(e.path()).unwrap());
        }
    }
    for (name, text) in extra {
        files.insert(format!("manifests/{name}"), text.clone().into_bytes());
    }
    fbc::parse_bundle_tree(Path::new("bundle"), files)
}

fn unparsable(b: &fbc::RegistryBundle, name: &str) -> String {
    let s = b
        .skipped
        .iter()
        .find(|s| s.path == Path::new("bundle/manifests").join(name))
        .unwrap_or_else(|| panic!("{name} not skipped: {:?}", b.skipped));
    assert!(s.loses_content(), "{s:?}");
    assert!(
        matches!(s.reason, fbc::SkipReason::Unparsable { .. }),
        "{s:?}"
    );
    s.to_string()
}

#[test]
fn unparsable_manifests_are_returned_as_skipped_and_the_rest_is_kept() {
    let b = example_with(&[(
        "broken.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x\n  bad: [\n".to_string(),
    )]);
    assert_eq!(b.manifests.len(), 3);
    let msg = unparsable(&b, "broken.yaml");
    assert!(
        msg.starts_with("failed to decode: bundle/manifests/broken.yaml:"),
        "{msg}"
    );
}

#[test]
fn deeply_nested_manifests_are_skipped_not_a_stack_overflow() {
    let n = 100_000;
    let json = format!("{}1{}", "{\"a\":".repeat(n), "}".repeat(n));
    let flow = format!("{}{}", "[".repeat(n), "]".repeat(n));
    let yaml = format!(
        "kind: ConfigMap\ndata: {}{}\n",
        "{a: ".repeat(n),
        "}".repeat(n)
    );
    // Block sequences nest one level per "- ", all on one line.
    let block = format!("kind: ConfigMap\ndata:\n{}x\n", "- ".repeat(n));
    let b = example_with(&[
        ("deep.json", json),
        ("deep-flow.yaml", flow),
        ("deep.yaml", yaml),
        ("deep-block.yaml", block),
    ]);
    assert_eq!(b.manifests.len(), 3);
    let json_msg = unparsable(&b, "deep.json");
    assert!(
        json_msg.ends_with("deep.json:1:636: recursion limit exceeded"),
        "{json_msg}"
    );
    let flow_msg = unparsable(&b, "deep-flow.yaml");
    assert!(
        flow_msg.ends_with("deep-flow.yaml:1:256: recursion limit exceeded"),
        "{flow_msg}"
    );
    let block_msg = unparsable(&b, "deep-block.yaml");
    assert!(
        block_msg.contains("nested more than 512 levels deep"),
        "{block_msg}"
    );
    assert!(json_msg.contains("recursion limit"), "{json_msg}");
    let yaml_msg = unparsable(&b, "deep.yaml");
    assert!(yaml_msg.contains("recursion limit"), "{yaml_msg}");
}

#[test]
fn nesting_within_the_limit_is_kept_and_rendered() {
    let deep = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: deep\ndata:\n  x:\n    {}x\n",
        "- ".repeat(500)
    );
    let b = example_with(&[("deep.yaml", deep)]);
    assert_eq!(b.manifests.len(), 4, "{:?}", b.skipped);
    let rendered = b.render(IMAGE, ObjectProfile::BundleObjects).unwrap();
    let cfg = DeclarativeConfig {
        bundles: vec![rendered],
        ..Default::default()
    };
    assert!(to_string(&cfg, Format::Json).contains("olm.bundle.object"));
}

#[test]
fn a_bundle_missing_what_an_unparsable_file_held_names_that_file() {
    let e = parse_example_with(&[("widgets.crd.yaml", "kind: [\n".to_string())])
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "bundle/manifests/example.clusterserviceversion.yaml: owned CRD widgets.example.com version \"v1\" kind \"Widget\" is not among the bundle's CustomResourceDefinition manifests (manifests left out because they could not be parsed: failed to decode: bundle/manifests/widgets.crd.yaml:1:7: unclosed bracket '[')"
    );
}
