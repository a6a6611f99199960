//! Installed bundles: upgrades, downgrades and staying.

use crate::support::*;

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
