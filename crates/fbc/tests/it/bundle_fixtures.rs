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
    assert_eq!(b.warnings.len(), 1, "{:?}", b.warnings);
    assert!(b.warnings[0].contains("README.md"), "{:?}", b.warnings);
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
