//! Bad input: precise errors with file and position, never a panic.

use std::path::Path;

fn load(text: &str) -> Result<fbc::DeclarativeConfig, fbc::LoadError> {
    fbc::load_str(Path::new("cat.yaml"), text)
}

fn err(text: &str) -> String {
    load(text).unwrap_err().to_string()
}

#[test]
fn malformed_yaml_reports_line_and_column() {
    let e = load("---\nschema: olm.package\nname: a\n---\nschema: olm.channel\nentries: [a, b\n")
        .unwrap_err();
    match &e {
        fbc::LoadError::Syntax { path, line, .. } => {
            assert_eq!(path, Path::new("cat.yaml"));
            assert!((5..=7).contains(line), "{e}");
        }
        other => panic!("expected a syntax error, got {other}"),
    }
    let e = err("schema: olm.package\n  name: : x\n");
    assert!(e.starts_with("cat.yaml:"), "{e}");
}

#[test]
fn malformed_json_reports_line_and_column() {
    assert_eq!(
        err("{\"schema\": \"olm.package\"}\n{\"schema\": \"x\",\n \"name\": }\n"),
        "cat.yaml:3:10: expected value"
    );
    assert_eq!(
        err("{\"schema\": \"a\"} [1]"),
        "cat.yaml:1: document is an array, expected a JSON/YAML object"
    );
}

#[test]
fn wrong_types_name_the_field() {
    assert_eq!(
        err("schema: olm.channel\npackage: p\nname: c\nentries:\n- name: a\n  skips: notalist\n"),
        "cat.yaml:1: parse channel: entries[0].skips: expected an array, found a string"
    );
    assert_eq!(
        err("schema: olm.bundle\nname: b\npackage: p\nproperties:\n- type: 7\n  value: {}\n"),
        "cat.yaml:1: parse bundle: properties[0].type: expected a string, found a number"
    );
    assert_eq!(
        err("schema: olm.package\nname: p\nicon: {base64data: '***', mediatype: image/png}\n"),
        "cat.yaml:1: parse package: icon.base64data: invalid base64 data: Invalid symbol 42, offset 0."
    );
    assert_eq!(
        err("schema: olm.package\nname: [p]\n"),
        "cat.yaml:1: expected value for key \"name\" to be a string, got array [\"p\"]"
    );
}

#[test]
fn missing_schema_is_reported_with_an_excerpt() {
    let long = "x".repeat(1000);
    let e = err(&format!(
        "---\nschema: olm.package\nname: a\n---\nname: b\ndata: {long}\n"
    ));
    assert!(e.starts_with("cat.yaml:4: object '{\"data\":\"xxxx"), "{e}");
    assert!(e.ends_with("...' is missing root schema field"), "{e}");
    assert!(e.len() < 300);
}

#[test]
fn empty_documents_are_skipped_but_scalars_are_not() {
    let cfg = load("---\n# nothing\n---\n\n---\nschema: olm.package\nname: a\n---\n").unwrap();
    assert_eq!(cfg.packages.len(), 1);
    assert_eq!(
        err("---\nhello\n"),
        "cat.yaml:1: document is a string, expected a JSON/YAML object"
    );
}

#[test]
fn huge_strings_and_deep_nesting_do_not_panic() {
    let big = "a".repeat(8 << 20);
    let cfg = load(&format!("schema: custom\nblob: {big}\n")).unwrap();
    assert_eq!(
        cfg.others[0].blob.get().len(),
        big.len() + "{\"blob\":\"\",\"schema\":\"custom\"}".len()
    );
    let deep = format!(
        "schema: custom\nv: {}1{}\n",
        "[".repeat(5000),
        "]".repeat(5000)
    );
    let e = err(&deep);
    assert!(e.starts_with("cat.yaml:"), "{e}");
    let deep_json = format!(
        "{{\"schema\":\"x\",\"v\":{}1{}}}",
        "[".repeat(5000),
        "]".repeat(5000)
    );
    assert!(
        err(&deep_json).contains("recursion limit"),
        "{}",
        err(&deep_json)
    );
}

#[test]
fn non_utf8_files_and_non_directories() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.yaml"), b"schema: a\nname: \xff\xfe\n").unwrap();
    let e = fbc::load_fs(dir.path()).unwrap_err().to_string();
    assert!(e.ends_with("bad.yaml:2:0: file is not valid UTF-8"), "{e}");
    let e = fbc::load_fs(&dir.path().join("bad.yaml"))
        .unwrap_err()
        .to_string();
    assert!(e.ends_with("bad.yaml: not a directory"), "{e}");
}

#[test]
fn every_file_is_a_catalog_file_unless_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let pkg = dir.path().join("foo");
    std::fs::create_dir(&pkg).unwrap();
    std::fs::write(
        pkg.join("catalog.json"),
        "{\"schema\":\"olm.package\",\"name\":\"foo\"}",
    )
    .unwrap();
    std::fs::write(pkg.join("README.md"), "# Foo operator\n\nSome docs.\n").unwrap();
    let e = fbc::load_fs(dir.path()).unwrap_err().to_string();
    assert!(e.contains("README.md:1: document is a string"), "{e}");
    std::fs::write(dir.path().join(".indexignore"), "# docs\n*.md\n").unwrap();
    let cfg = fbc::load_fs(dir.path()).unwrap();
    assert_eq!(cfg.packages.len(), 1);
    // Upstream's test fixture: ignore everything but JSON/YAML, and CSVs.
    std::fs::write(
        dir.path().join(".indexignore"),
        "*\n!*.json\n!*.yaml\n*.clusterserviceversion.yaml\n",
    )
    .unwrap();
    std::fs::write(
        pkg.join("x.clusterserviceversion.yaml"),
        "kind: ClusterServiceVersion\n",
    )
    .unwrap();
    std::fs::write(pkg.join("extra.yaml"), "schema: custom\npackage: foo\n").unwrap();
    let cfg = fbc::load_fs(dir.path()).unwrap();
    assert_eq!((cfg.packages.len(), cfg.others.len()), (1, 1));
    let files: Vec<String> = fbc::list_files(dir.path())
        .unwrap()
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files, vec!["catalog.json", "extra.yaml"]);
}

/// 100,000 levels of nesting is the parser's depth error, on a test thread's 2 MiB stack too,
/// through every way a catalog directory is read.
#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let d = tempfile::tempdir().unwrap();
    let n = 100_000;
    std::fs::write(
        d.path().join("block.yaml"),
        format!("schema: olm.package\nname: x\ndata:\n{}x\n", "- ".repeat(n)),
    )
    .unwrap();
    let block = "block.yaml:4:1023: nested more than 512 levels deep";
    let e = fbc::load_fs(d.path()).unwrap_err().to_string();
    assert!(e.ends_with(block), "{e}");
    let e = fbc::for_each_package(d.path(), |_, _| Ok::<(), fbc::LoadError>(()))
        .unwrap_err()
        .to_string();
    assert!(e.ends_with(block), "{e}");
    let e = fbc::walk_metas(d.path(), |_| Ok::<(), fbc::LoadError>(()))
        .unwrap_err()
        .to_string();
    assert!(e.ends_with(block), "{e}");
    let e = err(&format!(
        "schema: olm.package\ndata: {}{}\n",
        "[".repeat(n),
        "]".repeat(n)
    ));
    assert!(e.ends_with("recursion limit exceeded"), "{e}");
    let e = err(&format!("{}1{}", "{\"a\":".repeat(n), "}".repeat(n)));
    assert!(e.ends_with("recursion limit exceeded"), "{e}");
}
