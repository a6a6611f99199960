//! The `resolve` binary end to end: fixtures are small FBC directories under
//! `tests/fixtures/`, paths are given relative to the crate so outputs are stable.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

const SUCCESS: &str = "cat=tests/fixtures/seed-success/catalog";
const FAILURE: &str = "cat=tests/fixtures/seed-failure/catalog";
const UPGRADES: &str = "cat=tests/fixtures/upgrades/catalog";

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn resolve(args: &[&str]) -> Run {
    let out = Command::cargo_bin("resolve")
        .expect("binary")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("REGISTRY_AUTH_FILE")
        .args(args)
        .output()
        .expect("runs");
    Run {
        code: out.status.code().expect("exit code"),
        stdout: String::from_utf8(out.stdout).expect("utf-8"),
        stderr: String::from_utf8(out.stderr).expect("utf-8"),
    }
}

fn json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

fn versions(result: &Value) -> Vec<String> {
    result["plan"]
        .as_array()
        .expect("plan")
        .iter()
        .map(|s| {
            format!(
                "{} {} {}",
                s["action"].as_str().expect("action"),
                s["package"].as_str().expect("package"),
                s["version"].as_str().expect("version")
            )
        })
        .collect()
}

// seed-examples.md §4, success.

#[test]
fn seed_success_joint() {
    let run = resolve(&[
        "--catalog",
        SUCCESS,
        "--package",
        "a",
        "--version",
        "0.1.0",
        "--package",
        "b",
        "--joint",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    insta::assert_snapshot!(run.stdout);
}

#[test]
fn seed_success_isolated_from_a_request_file_as_json() {
    let run = resolve(&[
        "--catalog",
        SUCCESS,
        "--requests",
        "tests/fixtures/seed-success/requests.yaml",
        "-o",
        "json",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v = json(&run);
    assert_eq!(v["mode"], "isolated");
    assert_eq!(
        versions(&v["results"][0]),
        ["install a 0.1.0", "install c 0.1.0"]
    );
    assert_eq!(
        versions(&v["results"][1]),
        ["install b 1.0.0", "install d 1.1.0"]
    );
    insta::assert_json_snapshot!(v);
}

#[test]
fn seed_success_why_not() {
    let run = resolve(&[
        "--catalog",
        SUCCESS,
        "-f",
        "tests/fixtures/seed-success/requests.yaml",
        "--joint",
        "--why-not",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    insta::assert_snapshot!(run.stdout);
}

// seed-examples.md §4, failure.

#[test]
fn seed_failure_joint_is_unsatisfiable_with_an_actionable_message() {
    let run = resolve(&[
        "--catalog",
        FAILURE,
        "-p",
        "a",
        "--version",
        "0.1.0",
        "-p",
        "b",
        "--joint",
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stdout.contains(
        "Requests a and b cannot be satisfied together: request a (version \"0.1.0\") can only \
         be satisfied by a v0.1.0, which requires c v0.1.0"
    ));
    insta::assert_snapshot!(run.stdout);
}

#[test]
fn seed_failure_joint_as_json() {
    let run = resolve(&[
        "--catalog",
        FAILURE,
        "-p",
        "a",
        "--version",
        "0.1.0",
        "-p",
        "b",
        "--joint",
        "-o",
        "json",
    ]);
    assert_eq!(run.code, 1);
    let v = json(&run);
    let r = &v["results"][0];
    assert_eq!(r["status"], "unsatisfiable");
    assert_eq!(r["requests"], serde_json::json!(["a", "b"]));
    assert_eq!(
        r["error"]["conflictingRequests"],
        serde_json::json!(["a", "b"])
    );
    insta::assert_json_snapshot!(v);
}

#[test]
fn seed_failure_isolated_resolves_each_on_its_own() {
    // Per-Operator isolation: each request alone is fine.
    let run = resolve(&[
        "--catalog",
        FAILURE,
        "-p",
        "a",
        "--version",
        "0.1.0",
        "-p",
        "b",
        "-o",
        "json",
    ]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let v = json(&run);
    assert_eq!(
        versions(&v["results"][0]),
        ["install a 0.1.0", "install c 0.1.0"]
    );
    assert_eq!(
        versions(&v["results"][1]),
        ["install b 1.0.0", "install c 0.2.0"]
    );
}

#[test]
fn seed_failure_after_a_was_installed_names_the_owner() {
    // The controller resolved a first and installed c 0.1.0 for it; b then fails.
    let run = resolve(&[
        "--catalog",
        FAILURE,
        "-p",
        "b",
        "--installed",
        "a=0.1.0",
        "--installed",
        "c=c.v0.1.0,for=a",
    ]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout
            .contains("but c v0.1.0 (installed for a) must stay as it is")
    );
    insta::assert_snapshot!(run.stdout);
}

// Upgrades.

#[test]
fn graph_upgrade_follows_the_next_edge() {
    let run = resolve(&[
        "--catalog",
        UPGRADES,
        "-p",
        "prometheus",
        "--installed",
        "prometheus=1.0.0",
        "--successors",
        "graph",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    insta::assert_snapshot!(run.stdout);
}

#[test]
fn semver_upgrade_and_major_refusal() {
    let run = resolve(&[
        "--catalog",
        UPGRADES,
        "-p",
        "prometheus",
        "--installed",
        "prometheus=1.0.0",
        "-o",
        "json",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        versions(&json(&run)["results"][0]),
        ["upgrade prometheus 1.2.0"]
    );

    let run = resolve(&[
        "--catalog",
        UPGRADES,
        "-p",
        "prometheus",
        "--version",
        "2.0.0",
        "--installed",
        "prometheus=1.0.0",
    ]);
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains(
        "installed package prometheus requires at least one of cat-prometheus-prometheus.v1.2.0, \
         cat-prometheus-prometheus.v1.0.1, cat-prometheus-prometheus.v1.0.0"
    ));
}

#[test]
fn ignore_policy_allows_a_downgrade_and_warns_about_deprecation() {
    let run = resolve(&[
        "--catalog",
        UPGRADES,
        "-p",
        "prometheus",
        "--version",
        "1.0.0",
        "--upgrade-policy",
        "Ignore",
        "--installed",
        "prometheus=prometheus.v1.2.0",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    insta::assert_snapshot!(run.stdout);
}

#[test]
fn installed_bundle_stays_when_there_is_no_successor() {
    let run = resolve(&[
        "--catalog",
        UPGRADES,
        "-p",
        "prometheus",
        "--installed",
        "prometheus=2.0.0",
        "-o",
        "json",
    ]);
    assert_eq!(run.code, 0);
    assert_eq!(
        versions(&json(&run)["results"][0]),
        ["keep prometheus 2.0.0"]
    );
}

// Input and usage errors: exit status 2.

#[test]
fn input_errors_exit_2_with_specific_messages() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["-p", "a"],
            "no catalog: give --catalog NAME=DIR or --catalog-image NAME=REF",
        ),
        (
            &["--catalog", SUCCESS],
            "no request: give --package PACKAGE",
        ),
        (
            &["--catalog", SUCCESS, "--channel", "stable", "-p", "a"],
            "--channel must follow the --package it qualifies",
        ),
        (
            &["--catalog", "cat=tests/fixtures/nowhere", "-p", "a"],
            "catalog cat: tests/fixtures/nowhere does not exist",
        ),
        (
            &[
                "--catalog",
                "tests/fixtures/seed-success/catalog",
                "-p",
                "a",
            ],
            "--catalog \"tests/fixtures/seed-success/catalog\": expected NAME=VALUE",
        ),
        (
            &["--catalog", SUCCESS, "--catalog", SUCCESS, "-p", "a"],
            "catalog name \"cat\" is used twice",
        ),
        (
            &["--catalog", SUCCESS, "-p", "a", "--in-catalog", "other"],
            "request a: catalog \"other\" is not loaded (loaded: cat)",
        ),
        (
            &["--catalog", SUCCESS, "--priority", "x=1", "-p", "a"],
            "--priority \"x=1\": no catalog is named \"x\"",
        ),
        (
            &["--catalog", SUCCESS, "-p", "a", "--timeout", "0"],
            "--timeout 0 must be a positive number of seconds",
        ),
        (
            &[
                "--catalog",
                SUCCESS,
                "--installed-file",
                "tests/fixtures/seed-success/requests.yaml",
                "-p",
                "a",
            ],
            "lists requests; pass it with --requests",
        ),
    ];
    for (args, expected) in cases {
        let run = resolve(args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.contains(expected),
            "{args:?}: expected {expected:?} in\n{}",
            run.stderr
        );
        assert!(run.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn request_level_input_errors_exit_2_and_others_still_resolve() {
    let run = resolve(&[
        "--catalog",
        SUCCESS,
        "-p",
        "b",
        "-p",
        "a",
        "--version",
        ">>1",
        "-p",
        "nope",
        "--channel",
        "fast",
    ]);
    assert_eq!(run.code, 2);
    insta::assert_snapshot!(run.stdout);
}

#[test]
fn clap_usage_errors_exit_2() {
    let run = resolve(&[
        "--catalog",
        SUCCESS,
        "-p",
        "a",
        "--upgrade-policy",
        "Sometimes",
    ]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("invalid value 'Sometimes'"),
        "{}",
        run.stderr
    );
    let run = resolve(&["--bogus"]);
    assert_eq!(run.code, 2);
}

#[test]
fn repeat_reports_timing_in_json() {
    let run = resolve(&[
        "--catalog",
        SUCCESS,
        "-p",
        "b",
        "--repeat",
        "3",
        "-o",
        "json",
    ]);
    assert_eq!(run.code, 0);
    let t = &json(&run)["timing"];
    assert_eq!(t["runs"], 3);
    assert!(t["minUs"].as_f64().expect("min") <= t["maxUs"].as_f64().expect("max"));
}

// Catalog images (an OCI layout built from the fixture, no registry needed).

fn layout_of(fbc_dir: &Path, dest: &Path) -> PathBuf {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let store = oci::ImageStore::new(dest.join("build-cache"), oci::RegistryOptions::default())
        .expect("store");
    let layout = dest.join("layout");
    runtime.block_on(async {
        let image = oci::catalog_image(None, fbc_dir)
            .expect("image")
            .build(&store)
            .await
            .expect("build");
        let target =
            oci::ImageRef::parse(&format!("oci:{}:latest", layout.display())).expect("reference");
        store.push(&image, &target).await.expect("push");
    });
    layout
}

#[test]
fn catalog_image_from_an_oci_layout() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/seed-success/catalog");
    let layout = layout_of(&fixture, tmp.path());
    let image = format!("cat=oci:{}:latest", layout.display());
    let cache = tmp.path().join("cache");
    let args = [
        "--catalog-image",
        image.as_str(),
        "--image-cache",
        cache.to_str().expect("utf-8"),
        "-p",
        "a",
        "--version",
        "0.1.0",
        "-p",
        "b",
        "--joint",
    ];
    let from_image = resolve(&args);
    assert_eq!(from_image.code, 0, "{}", from_image.stderr);
    let from_dir = resolve(&[
        "--catalog",
        SUCCESS,
        "-p",
        "a",
        "--version",
        "0.1.0",
        "-p",
        "b",
        "--joint",
    ]);
    assert_eq!(from_image.stdout, from_dir.stdout);

    let missing = format!("cat=oci:{}:nope", layout.display());
    let run = resolve(&[
        "--catalog-image",
        missing.as_str(),
        "--image-cache",
        cache.to_str().expect("utf-8"),
        "-p",
        "a",
    ]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("catalog cat: unpacking oci:"),
        "{}",
        run.stderr
    );
}
