//! Input and usage errors: exit status 2.

use crate::support::*;

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
