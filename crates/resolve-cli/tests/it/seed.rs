//! seed-examples.md §4: the success and failure examples.

use crate::support::*;

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
