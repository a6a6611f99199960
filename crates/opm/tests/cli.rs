//! The `opm` binary end to end: output and error cases (exit code + stderr), as snapshots.

use std::path::Path;

use assert_cmd::Command;
use testenv::fixtures::corpus;

fn opm(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("opm").unwrap();
    c.current_dir(dir).env_remove("OPM_BUNDLE_DIR_MAP");
    c
}

/// `(exit code, stdout, stderr)` as one snapshot text.
fn run(dir: &Path, args: &[&str]) -> String {
    let out = opm(dir).args(args).output().unwrap();
    format!(
        "exit: {}\n--- stdout\n{}--- stderr\n{}",
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn settings(dir: &Path) -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.add_filter(&regex_escape(&dir.display().to_string()), "[TMP]");
    s.add_filter(&regex_escape(&corpus().display().to_string()), "[CORPUS]");
    s
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if "\\.+*?()|[]{}^$".contains(c) {
                vec!['\\', c]
            } else {
                vec![c]
            }
        })
        .collect()
}

const SVG: &str = "<svg xmlns=\"http://www.w3.org/2000/svg\"></svg>";

#[test]
fn init() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("icon.svg"), SVG).unwrap();
    std::fs::write(d.path().join("README.md"), "# Foo\n<b>bold</b>\n").unwrap();
    std::fs::write(d.path().join("notes.txt"), "plain text").unwrap();
    settings(d.path()).bind(|| {
        insta::assert_snapshot!(
            "init_json",
            run(
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
        insta::assert_snapshot!(
            "init_yaml",
            run(
                d.path(),
                &["init", "foo", "--default-channel", "stable", "-o", "yaml"]
            )
        );
        insta::assert_snapshot!(
            "init_not_an_image",
            run(d.path(), &["init", "foo", "-i", "notes.txt"])
        );
        insta::assert_snapshot!(
            "init_bad_output",
            run(d.path(), &["init", "foo", "-o", "xml"])
        );
        insta::assert_snapshot!(
            "init_missing_icon",
            run(d.path(), &["init", "foo", "-i", "nope.png"])
        );
    });
}

#[test]
fn generate_dockerfile() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir(d.path().join("catalog")).unwrap();
    std::fs::write(d.path().join("file"), "x").unwrap();
    settings(d.path()).bind(|| {
        insta::assert_snapshot!(
            "dockerfile_ok",
            run(
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
        insta::assert_snapshot!(
            "dockerfile_exists",
            run(d.path(), &["generate", "dockerfile", "catalog"])
        );
        std::fs::remove_file(d.path().join("catalog.Dockerfile")).unwrap();
        insta::assert_snapshot!(
            "dockerfile_scratch_base",
            run(
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
        insta::assert_snapshot!(
            "dockerfile_scratch_builder",
            run(d.path(), &["generate", "dockerfile", "x", "-b", "scratch"])
        );
        insta::assert_snapshot!(
            "dockerfile_bad_label",
            run(d.path(), &["generate", "dockerfile", "x", "-l", "novalue"])
        );
        insta::assert_snapshot!(
            "dockerfile_missing_dir",
            run(d.path(), &["generate", "dockerfile", "missing"])
        );
        insta::assert_snapshot!(
            "dockerfile_not_a_dir",
            run(d.path(), &["generate", "dockerfile", "file"])
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
    settings(d.path()).bind(|| {
        insta::assert_snapshot!("validate_ok", run(d.path(), &["validate", good]));
        insta::assert_snapshot!(
            "validate_ok_json",
            run(d.path(), &["validate", good, "-o", "json"])
        );
        insta::assert_snapshot!("validate_invalid", run(d.path(), &["validate", "bad"]));
        insta::assert_snapshot!(
            "validate_invalid_json",
            run(d.path(), &["validate", "bad", "-o", "json"])
        );
        insta::assert_snapshot!(
            "validate_invalid_yaml",
            run(d.path(), &["validate", "bad", "-o", "yaml"])
        );
        insta::assert_snapshot!(
            "validate_not_a_dir",
            run(d.path(), &["validate", "bad/foo/catalog.yaml"])
        );
        insta::assert_snapshot!("validate_missing", run(d.path(), &["validate", "missing"]));
    });
}

#[test]
fn render() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("notes.txt"), "plain text").unwrap();
    let c = corpus();
    let bundle = c.join("bundles/cat-facts-operator/1.1.2");
    let bundle = bundle.to_str().unwrap();
    settings(d.path()).bind(|| {
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
        insta::assert_snapshot!(
            "render_image_ref",
            run(d.path(), &["render", "127.0.0.1:1/x/y:1"])
        );
        insta::assert_snapshot!(
            "render_unsupported_file",
            run(d.path(), &["render", "notes.txt"])
        );
        insta::assert_snapshot!(
            "render_bad_output",
            run(d.path(), &["render", bundle, "-o", "xml"])
        );
        insta::assert_snapshot!(
            "render_bad_migrate_level",
            run(d.path(), &["render", bundle, "--migrate-level", "foo"])
        );
        insta::assert_snapshot!(
            "render_bad_template",
            run(
                d.path(),
                &["render", bundle, "--alpha-image-ref-template", "{{.Foo}}"]
            )
        );
        insta::assert_snapshot!(
            "render_mermaid",
            run(
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
    settings(d.path()).bind(|| {
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
        insta::assert_snapshot!(
            "template_semver_mermaid",
            run(
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
        insta::assert_snapshot!(
            "template_unmapped_image",
            run(d.path(), &["alpha", "render-template", "unmapped.yaml"])
        );
        insta::assert_snapshot!(
            "template_strict",
            run(d.path(), &["alpha", "render-template", "strict.yaml"])
        );
        insta::assert_snapshot!(
            "template_unknown_schema",
            run(d.path(), &["alpha", "render-template", "other.yaml"])
        );
        insta::assert_snapshot!(
            "template_wrong_type",
            run(
                d.path(),
                &["alpha", "render-template", "basic", "semver.yaml"]
            )
        );
        insta::assert_snapshot!(
            "template_bad_type",
            run(
                d.path(),
                &["alpha", "render-template", "fancy", "semver.yaml"]
            )
        );
        insta::assert_snapshot!(
            "template_extra_fields",
            run(
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
    settings(d.path()).bind(|| {
        insta::assert_snapshot!(
            "graph_minimum_edge",
            run(
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
        insta::assert_snapshot!(
            "graph_unknown_edge",
            run(
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
        insta::assert_snapshot!(
            "migrate_not_empty",
            run(d.path(), &["migrate", kube_green, "full"])
        );
        insta::assert_snapshot!(
            "migrate_fbc_dir",
            run(d.path(), &["migrate", kube_green, "out", "-o", "yaml"])
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
