//! The `opm` binary end to end: output and error cases (exit code + stdout + stderr), as
//! snapshots.

use std::path::Path;

use assert_cmd::Command;
use testenv::fixtures::corpus;
use testenv::{SnapshotFilters, cli_snapshot};

fn opm(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("opm").unwrap();
    c.current_dir(dir).env_remove("OPM_BUNDLE_DIR_MAP");
    c
}

fn opm_args(dir: &Path, args: &[&str]) -> Command {
    let mut c = opm(dir);
    c.args(args);
    c
}

/// The test's directory shows as `[TMP]`, the corpus as `[CORPUS]`.
fn filters(dir: &Path) -> SnapshotFilters {
    SnapshotFilters::new()
        .path(dir, "[TMP]")
        .path(&corpus(), "[CORPUS]")
}

const SVG: &str = "<svg xmlns=\"http://www.w3.org/2000/svg\"></svg>";

#[test]
fn init() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("icon.svg"), SVG).unwrap();
    std::fs::write(d.path().join("README.md"), "# Foo\n<b>bold</b>\n").unwrap();
    std::fs::write(d.path().join("notes.txt"), "plain text").unwrap();
    filters(d.path()).bind(|| {
        cli_snapshot!(
            "init_json",
            opm_args(
                d.path(),
                &[
                    "init",
                    "foo",
                    "-c",
                    "stable",
                    "-i",
                    "icon.svg",
                    "-d",
                    "README.md"
                ]
            )
        );
        cli_snapshot!(
            "init_yaml",
            opm_args(
                d.path(),
                &["init", "foo", "--default-channel", "stable", "-o", "yaml"]
            )
        );
        cli_snapshot!(
            "init_not_an_image",
            opm_args(d.path(), &["init", "foo", "-i", "notes.txt"])
        );
        cli_snapshot!(
            "init_bad_output",
            opm_args(d.path(), &["init", "foo", "-o", "xml"])
        );
        cli_snapshot!(
            "init_missing_icon",
            opm_args(d.path(), &["init", "foo", "-i", "nope.png"])
        );
    });
}

#[test]
fn generate_dockerfile() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir(d.path().join("catalog")).unwrap();
    std::fs::write(d.path().join("file"), "x").unwrap();
    filters(d.path()).bind(|| {
        cli_snapshot!(
            "dockerfile_ok",
            opm_args(
                d.path(),
                &[
                    "generate",
                    "dockerfile",
                    "./catalog/",
                    "-l",
                    "b=2,a=1",
                    "-l",
                    "a=3"
                ]
            )
        );
        insta::assert_snapshot!(
            "dockerfile_contents",
            std::fs::read_to_string(d.path().join("catalog.Dockerfile")).unwrap()
        );
        cli_snapshot!(
            "dockerfile_exists",
            opm_args(d.path(), &["generate", "dockerfile", "catalog"])
        );
        std::fs::remove_file(d.path().join("catalog.Dockerfile")).unwrap();
        cli_snapshot!(
            "dockerfile_scratch_base",
            opm_args(
                d.path(),
                &[
                    "generate",
                    "dockerfile",
                    "catalog",
                    "-i",
                    "scratch",
                    "-b",
                    "example.com/builder:1"
                ]
            )
        );
        insta::assert_snapshot!(
            "dockerfile_scratch_contents",
            std::fs::read_to_string(d.path().join("catalog.Dockerfile")).unwrap()
        );
        cli_snapshot!(
            "dockerfile_scratch_builder",
            opm_args(d.path(), &["generate", "dockerfile", "x", "-b", "scratch"])
        );
        cli_snapshot!(
            "dockerfile_bad_label",
            opm_args(d.path(), &["generate", "dockerfile", "x", "-l", "novalue"])
        );
        cli_snapshot!(
            "dockerfile_missing_dir",
            opm_args(d.path(), &["generate", "dockerfile", "missing"])
        );
        cli_snapshot!(
            "dockerfile_not_a_dir",
            opm_args(d.path(), &["generate", "dockerfile", "file"])
        );
    });
}

fn write_invalid_catalog(dir: &Path) {
    std::fs::create_dir_all(dir.join("bad/foo")).unwrap();
    std::fs::write(
        dir.join("bad/foo/catalog.yaml"),
        "schema: olm.package\nname: foo\ndefaultChannel: stable\n---\nschema: olm.channel\npackage: foo\nname: stable\nentries:\n- name: foo.v1\n- name: foo.v2\n---\nschema: olm.bundle\nname: foo.v1\npackage: foo\nimage: example.com/foo:v1\nproperties:\n- {type: olm.package, value: {packageName: foo, version: 1.0.0}}\n---\nschema: olm.bundle\nname: foo.v2\npackage: foo\nimage: example.com/foo:v2\nproperties:\n- {type: olm.package, value: {packageName: foo, version: 2.0.0}}\n",
    )
    .unwrap();
}

#[test]
fn validate() {
    let d = tempfile::tempdir().unwrap();
    write_invalid_catalog(d.path());
    let good = corpus().join("catalogs/v4.22/kairos-operator");
    let good = good.to_str().unwrap();
    filters(d.path()).bind(|| {
        cli_snapshot!("validate_ok", opm_args(d.path(), &["validate", good]));
        cli_snapshot!(
            "validate_ok_json",
            opm_args(d.path(), &["validate", good, "-o", "json"])
        );
        cli_snapshot!("validate_invalid", opm_args(d.path(), &["validate", "bad"]));
        cli_snapshot!(
            "validate_invalid_json",
            opm_args(d.path(), &["validate", "bad", "-o", "json"])
        );
        cli_snapshot!(
            "validate_invalid_yaml",
            opm_args(d.path(), &["validate", "bad", "-o", "yaml"])
        );
        cli_snapshot!(
            "validate_not_a_dir",
            opm_args(d.path(), &["validate", "bad/foo/catalog.yaml"])
        );
        cli_snapshot!(
            "validate_missing",
            opm_args(d.path(), &["validate", "missing"])
        );
    });
}

#[test]
fn render() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("notes.txt"), "plain text").unwrap();
    let c = corpus();
    let bundle = c.join("bundles/cat-facts-operator/1.1.2");
    let bundle = bundle.to_str().unwrap();
    filters(d.path()).bind(|| {
        let out = opm(d.path())
            .args([
                "render",
                bundle,
                "-o",
                "yaml",
                "--migrate",
                "--alpha-image-ref-template",
                "quay.io/x/{{.Package}}:v{{ .Version }}",
            ])
            .output()
            .unwrap();
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            text.contains("image: quay.io/x/cat-facts-operator:v1.1.2\n"),
            "{text}"
        );
        assert!(text.contains("- type: olm.csv.metadata\n"), "{text}");
        assert!(!text.contains("olm.bundle.object"), "{text}");
        cli_snapshot!(
            "render_image_ref",
            opm_args(d.path(), &["render", "127.0.0.1:1/x/y:1"])
        );
        cli_snapshot!(
            "render_unsupported_file",
            opm_args(d.path(), &["render", "notes.txt"])
        );
        cli_snapshot!(
            "render_bad_output",
            opm_args(d.path(), &["render", bundle, "-o", "xml"])
        );
        cli_snapshot!(
            "render_bad_migrate_level",
            opm_args(d.path(), &["render", bundle, "--migrate-level", "foo"])
        );
        cli_snapshot!(
            "render_bad_template",
            opm_args(
                d.path(),
                &["render", bundle, "--alpha-image-ref-template", "{{.Foo}}"]
            )
        );
        cli_snapshot!(
            "render_mermaid",
            opm_args(
                d.path(),
                &[
                    "render",
                    c.join("catalogs/v4.15/kube-green").to_str().unwrap(),
                    "-o",
                    "mermaid"
                ]
            )
        );
    });
}

#[test]
fn render_template() {
    let d = tempfile::tempdir().unwrap();
    let c = corpus();
    let dir = c.join("bundles/cat-facts-operator/1.1.2");
    std::fs::write(
        d.path().join("basic.yaml"),
        "schema: olm.template.basic\nentries:\n- {schema: olm.package, name: cat-facts-operator, defaultChannel: alpha}\n- {schema: olm.channel, package: cat-facts-operator, name: alpha, entries: [{name: cat-facts-operator.v1.1.2}]}\n- {schema: olm.bundle, image: example.com/cat-facts:1.1.2}\n",
    )
    .unwrap();
    std::fs::write(
        d.path().join("semver.yaml"),
        "Schema: olm.semver\nStable:\n  Bundles:\n  - Image: example.com/cat-facts:1.1.2\n",
    )
    .unwrap();
    std::fs::write(
        d.path().join("strict.yaml"),
        "schema: olm.semver\nstable: {bundles: [{image: a, tag: b}]}\n",
    )
    .unwrap();
    std::fs::write(d.path().join("other.yaml"), "schema: olm.other\n").unwrap();
    // Nothing listens on port 1: the pull fails fast, without any outside network.
    std::fs::write(
        d.path().join("unmapped.yaml"),
        "schema: olm.template.basic\nentries:\n- {schema: olm.bundle, image: 127.0.0.1:1/cat-facts:1.1.2}\n",
    )
    .unwrap();
    std::fs::write(
        d.path().join("extra.yaml"),
        "schema: olm.template.basic\nentries:\n- {schema: olm.bundle, image: example.com/cat-facts:1.1.2, package: p}\n",
    )
    .unwrap();
    let map = format!("example.com/cat-facts:1.1.2={}", dir.display());
    filters(d.path()).bind(|| {
        let out = opm(d.path())
            .args([
                "alpha",
                "render-template",
                "basic.yaml",
                "-o",
                "yaml",
                "--bundle-dir-map",
                &map,
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            text.contains("image: example.com/cat-facts:1.1.2\nname: cat-facts-operator.v1.1.2\n"),
            "{text}"
        );
        cli_snapshot!(
            "template_semver_mermaid",
            opm_args(
                d.path(),
                &[
                    "alpha",
                    "render-template",
                    "semver",
                    "semver.yaml",
                    "-o",
                    "mermaid",
                    "--bundle-dir-map",
                    &map
                ]
            )
        );
        let semver = opm(d.path())
            .args(["alpha", "render-template", "-o", "yaml"])
            .env("OPM_BUNDLE_DIR_MAP", &map)
            .write_stdin(std::fs::read(d.path().join("semver.yaml")).unwrap())
            .output()
            .unwrap();
        assert!(
            semver.status.success(),
            "{}",
            String::from_utf8_lossy(&semver.stderr)
        );
        let text = String::from_utf8(semver.stdout).unwrap();
        assert!(text.contains("defaultChannel: stable-v1.1\n"), "{text}");
        cli_snapshot!(
            "template_unmapped_image",
            opm_args(d.path(), &["alpha", "render-template", "unmapped.yaml"])
        );
        cli_snapshot!(
            "template_strict",
            opm_args(d.path(), &["alpha", "render-template", "strict.yaml"])
        );
        cli_snapshot!(
            "template_unknown_schema",
            opm_args(d.path(), &["alpha", "render-template", "other.yaml"])
        );
        cli_snapshot!(
            "template_wrong_type",
            opm_args(
                d.path(),
                &["alpha", "render-template", "basic", "semver.yaml"]
            )
        );
        cli_snapshot!(
            "template_bad_type",
            opm_args(
                d.path(),
                &["alpha", "render-template", "fancy", "semver.yaml"]
            )
        );
        cli_snapshot!(
            "template_extra_fields",
            opm_args(
                d.path(),
                &[
                    "alpha",
                    "render-template",
                    "extra.yaml",
                    "--bundle-dir-map",
                    &map
                ]
            )
        );
    });
}

#[test]
fn render_graph_and_migrate() {
    let d = tempfile::tempdir().unwrap();
    let c = corpus();
    let kube_green = c.join("catalogs/v4.15/kube-green");
    let kube_green = kube_green.to_str().unwrap();
    std::fs::create_dir(d.path().join("full")).unwrap();
    std::fs::write(d.path().join("full/x"), "").unwrap();
    filters(d.path()).bind(|| {
        cli_snapshot!(
            "graph_minimum_edge",
            opm_args(
                d.path(),
                &[
                    "alpha",
                    "render-graph",
                    kube_green,
                    "--minimum-edge",
                    "kube-green.v0.6.0",
                    "--draw-v0-semantics"
                ]
            )
        );
        cli_snapshot!(
            "graph_unknown_edge",
            opm_args(
                d.path(),
                &[
                    "alpha",
                    "render-graph",
                    kube_green,
                    "--minimum-edge",
                    "nope"
                ]
            )
        );
        cli_snapshot!(
            "migrate_not_empty",
            opm_args(d.path(), &["migrate", kube_green, "full"])
        );
        cli_snapshot!(
            "migrate_fbc_dir",
            opm_args(d.path(), &["migrate", kube_green, "out", "-o", "yaml"])
        );
    });
    let written = std::fs::read_to_string(d.path().join("out/kube-green/catalog.yaml")).unwrap();
    let original = Command::cargo_bin("opm")
        .unwrap()
        .args(["render", kube_green, "-o", "yaml"])
        .output()
        .unwrap();
    assert_eq!(written.as_bytes(), original.stdout.as_slice());
}

/// A small bundle directory whose `manifests/` also holds `extra` files.
fn tiny_bundle(dir: &Path, extra: &[(&str, String)]) {
    let manifests = dir.join("manifests");
    let metadata = dir.join("metadata");
    std::fs::create_dir_all(&manifests).unwrap();
    std::fs::create_dir_all(&metadata).unwrap();
    std::fs::write(
        manifests.join("tiny.clusterserviceversion.yaml"),
        "apiVersion: operators.coreos.com/v1alpha1\nkind: ClusterServiceVersion\nmetadata:\n  name: tiny.v0.1.0\nspec:\n  version: 0.1.0\n",
    )
    .unwrap();
    std::fs::write(
        manifests.join("settings.configmap.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  a: b\n",
    )
    .unwrap();
    std::fs::write(
        metadata.join("annotations.yaml"),
        "annotations:\n  operators.operatorframework.io.bundle.package.v1: tiny\n  operators.operatorframework.io.bundle.channels.v1: stable\n  operators.operatorframework.io.bundle.default.channel.v1: stable\n",
    )
    .unwrap();
    for (name, text) in extra {
        std::fs::write(manifests.join(name), text).unwrap();
    }
}

/// A manifest that cannot be parsed is left out of the rendered bundle, as upstream does, but
/// with a warning naming it; nesting too deep for the parser is such a manifest, not a crash.
#[test]
fn render_bundle_with_unparsable_manifests() {
    let d = tempfile::tempdir().unwrap();
    let n = 100_000;
    tiny_bundle(
        &d.path().join("invalid"),
        &[(
            "broken.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x\n  bad: [\n".to_string(),
        )],
    );
    tiny_bundle(
        &d.path().join("deep"),
        &[
            (
                "deep-flow.json",
                format!("{}{}", "[".repeat(n), "]".repeat(n)),
            ),
            (
                "deep-block.yaml",
                format!("kind: ConfigMap\ndata:\n{}x\n", "- ".repeat(n)),
            ),
        ],
    );
    let map = format!(
        "example.com/tiny:0.1.0={}",
        d.path().join("invalid").display()
    );
    std::fs::write(
        d.path().join("basic.yaml"),
        "schema: olm.template.basic\nentries:\n- {schema: olm.bundle, image: example.com/tiny:0.1.0}\n",
    )
    .unwrap();
    filters(d.path()).bind(|| {
        cli_snapshot!(
            "render_unparsable_manifest",
            opm_args(d.path(), &["render", "invalid", "-o", "yaml"])
        );
        cli_snapshot!(
            "render_deeply_nested_manifests",
            opm_args(d.path(), &["render", "deep", "-o", "yaml"])
        );
        cli_snapshot!(
            "render_template_unparsable_manifest",
            opm_args(
                d.path(),
                &[
                    "alpha",
                    "render-template",
                    "basic",
                    "basic.yaml",
                    "-o",
                    "yaml",
                    "--bundle-dir-map",
                    &map
                ]
            )
        );
    });
}

/// Errors that say where the mistake is and what to do about it.
#[test]
fn errors_point_at_the_mistake() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("unclosed/foo")).unwrap();
    std::fs::write(
        d.path().join("unclosed/foo/index.yaml"),
        "schema: olm.package\ndefaultChannel: [alpha\nname: foo\n",
    )
    .unwrap();
    std::fs::create_dir_all(d.path().join("comma/foo")).unwrap();
    std::fs::write(
        d.path().join("comma/foo/index.json"),
        "{\n  \"schema\": \"olm.package\",\n  \"name\": \"foo\",\n}\n",
    )
    .unwrap();
    filters(d.path()).bind(|| {
        cli_snapshot!(
            "validate_unclosed_flow_sequence",
            opm_args(d.path(), &["validate", "unclosed"])
        );
        cli_snapshot!(
            "render_json_trailing_comma",
            opm_args(d.path(), &["render", "comma"])
        );
        cli_snapshot!(
            "render_missing_path",
            opm_args(d.path(), &["render", "./kube-green/0.7.0"])
        );
    });
}

/// `index add --help` shows every flag an error may recommend, and only real defaults.
#[test]
fn index_add_help_shows_real_defaults() {
    let d = tempfile::tempdir().unwrap();
    let out = opm_args(d.path(), &["index", "add", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(help.contains("--overwrite-latest"), "{help}");
    assert!(
        !help.contains("[default: ]") && !help.contains("[default: \"\"]"),
        "{help}"
    );
    assert!(
        help.contains("[default: quay.io/operator-framework/opm:latest]"),
        "{help}"
    );
    assert!(help.contains("[default: index.Dockerfile]"), "{help}");
}
