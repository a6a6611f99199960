//! The committed CRDs match the code, render deterministically, parse back, and the binary's
//! `--check` and write modes behave as documented.

use std::fs;
use std::process::Command;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;

#[test]
fn committed_crds_match_the_code() {
    let dir = crdgen::default_dir();
    let differences = crdgen::check(&dir).expect("reading the committed CRDs");
    assert!(
        differences.is_empty(),
        "config/crd is out of date with crates/api:\n{}\nRun `cargo run -p crdgen` and commit the result.",
        differences
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn rendering_is_deterministic() {
    assert_eq!(
        crdgen::render().expect("render"),
        crdgen::render().expect("render")
    );
}

#[test]
fn rendered_yaml_parses_back_to_the_same_crd() {
    let crds = olm_api::crd::all();
    let rendered = crdgen::render().expect("render");
    assert_eq!(rendered.len(), crds.len());
    for (crd, file) in crds.iter().zip(&rendered) {
        assert!(file.yaml.starts_with(crdgen::HEADER));
        let parsed: CustomResourceDefinition = serde_saphyr::from_str(&file.yaml)
            .unwrap_or_else(|e| panic!("{}: {e}", file.file_name));
        assert_eq!(
            serde_json::to_value(&parsed).expect("json"),
            serde_json::to_value(crd).expect("json"),
            "{} does not round-trip",
            file.file_name
        );
    }
}

#[test]
fn write_then_check_reports_missing_changed_and_stale_files() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("crd");
    let rendered = crdgen::render().expect("render");

    let missing = crdgen::check(&dir).expect("check");
    assert_eq!(missing.len(), rendered.len());
    assert!(
        missing
            .iter()
            .all(|d| matches!(d, crdgen::Difference::Missing(_)))
    );

    let written = crdgen::write(&dir).expect("write");
    assert_eq!(written.len(), rendered.len());
    assert_eq!(crdgen::check(&dir).expect("check"), vec![]);
    assert_eq!(
        crdgen::write(&dir).expect("rewrite"),
        Vec::<std::path::PathBuf>::new(),
        "nothing to rewrite"
    );

    let first = dir.join(&rendered[0].file_name);
    fs::write(&first, "# edited by hand\n").expect("edit");
    let stale = dir.join("example.com_gone.yaml");
    fs::write(
        &stale,
        format!("{}kind: CustomResourceDefinition\n", crdgen::HEADER),
    )
    .expect("stale");
    let foreign = dir.join("not-ours.yaml");
    fs::write(&foreign, "kind: ConfigMap\n").expect("foreign");

    assert_eq!(
        crdgen::check(&dir).expect("check"),
        vec![
            crdgen::Difference::Changed(first.clone()),
            crdgen::Difference::Stale(stale.clone()),
        ]
    );
    crdgen::write(&dir).expect("write");
    assert_eq!(crdgen::check(&dir).expect("check"), vec![]);
    assert!(!stale.exists(), "stale generated file removed");
    assert!(
        foreign.exists(),
        "files crdgen did not generate are left alone"
    );
    assert_eq!(fs::read_to_string(&first).expect("read"), rendered[0].yaml);
    let leftovers: Vec<_> = fs::read_dir(&dir)
        .expect("list")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".crdgen-"))
        .collect();
    assert!(leftovers.is_empty(), "no temporary files left behind");
}

#[test]
fn binary_check_mode_exits_non_zero_and_lists_differing_files() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let bin = env!("CARGO_BIN_EXE_crdgen");

    let out = Command::new(bin)
        .args(["--check", "--dir"])
        .arg(tmp.path())
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    for file in crdgen::render().expect("render") {
        assert!(
            stderr.contains(&file.file_name),
            "{} not listed in:\n{stderr}",
            file.file_name
        );
    }
    assert!(stderr.contains("cargo run -p crdgen"), "{stderr}");

    let out = Command::new(bin)
        .arg("--dir")
        .arg(tmp.path())
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(bin)
        .args(["--check", "--dir"])
        .arg(tmp.path())
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
