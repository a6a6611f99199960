//! Every case of resolution.md §6 (T01–T44), plus the documentation examples of
//! seed-examples.md §4.

use crate::support::*;
use resolver::{
    BundleLocator, Installed, Options, Request, SuccessorMode, UpgradePolicy, resolve, resolve_each,
};
use serde_json::json;

fn opts() -> Options {
    Options::default()
}

fn graph() -> Options {
    Options {
        successors: SuccessorMode::Graph,
        ..Options::default()
    }
}

fn doc_success_catalog() -> resolver::Catalog {
    catalog(vec![
        b("a", "0.1.0").requires("c", "0.1.0"),
        b("a", "0.2.0").requires("c", ">=0.2.0"),
        b("b", "1.0.0").requires("d", ">=1.0.0"),
        b("c", "0.1.0"),
        b("c", "0.2.0"),
        b("d", "1.0.0"),
        b("d", "1.1.0"),
    ])
}

#[test]
fn t01_documentation_success() {
    let cat = doc_success_catalog();
    let plan = ok(resolve(
        &cat,
        &[Request::new("a").version("0.1.0"), Request::new("b")],
        &[],
        &opts(),
    ));
    assert_eq!(
        versions(&plan),
        ["a 0.1.0", "b 1.0.0", "c 0.1.0", "d 1.1.0"]
    );
    let c = plan.get("c").expect("c selected");
    assert_eq!(c.why.len(), 1);
    assert_eq!(
        c.why[0].to_string(),
        "a v0.1.0 requires package c in range \"0.1.0\""
    );
    let a = plan.get("a").expect("a selected");
    assert_eq!(a.why[0].to_string(), "requested as a (version \"0.1.0\")");
    let rejected = &a.not_chosen[0];
    assert_eq!(rejected.bundle, "a.v0.2.0");
    assert_eq!(
        rejected.reasons,
        ["version 0.2.0 is outside the requested range \"0.1.0\""]
    );
}

fn doc_failure_catalog() -> resolver::Catalog {
    catalog(vec![
        b("a", "0.1.0").requires("c", "0.1.0"),
        b("b", "1.0.0").requires("c", "0.2.0"),
        b("c", "0.1.0"),
        b("c", "0.2.0"),
    ])
}

#[test]
fn t02_documentation_failure() {
    let cat = doc_failure_catalog();
    let u = unsat(resolve(
        &cat,
        &[Request::new("a").version("0.1.0"), Request::new("b")],
        &[],
        &opts(),
    ));
    assert_eq!(
        u.lines,
        [
            "required package a is mandatory",
            "required package b is mandatory",
            "required package a requires at least one of cat-a-a.v0.1.0",
            "required package b requires at least one of cat-b-b.v1.0.0",
            "cat-a-a.v0.1.0 requires at least one of cat-c-c.v0.1.0",
            "cat-b-b.v1.0.0 requires at least one of cat-c-c.v0.2.0",
            "c package uniqueness permits at most 1 of cat-c-c.v0.1.0, cat-c-c.v0.2.0",
        ]
    );
    assert_eq!(
        u.summary,
        "Requests a and b cannot be satisfied together: request a (version \"0.1.0\") can only be \
         satisfied by a v0.1.0, which requires c v0.1.0 (package c in range \"0.1.0\"), but request b \
         can only be satisfied by b v1.0.0, which requires c v0.2.0 (package c in range \"0.2.0\"); \
         only one bundle of package c can be installed at a time."
    );
    assert_eq!(u.conflicting_requests, ["a", "b"]);
    assert!(u.minimal);
    let text = u.to_string();
    assert!(
        text.starts_with("constraints not satisfiable:\nrequired package a is mandatory\n"),
        "{text}"
    );
}

#[test]
fn t02_message_is_stable() {
    let cat = doc_failure_catalog();
    let run = || {
        resolve(
            &cat,
            &[Request::new("a").version("0.1.0"), Request::new("b")],
            &[],
            &opts(),
        )
        .expect_err("unsatisfiable")
        .to_string()
    };
    let first = run();
    for _ in 0..5 {
        assert_eq!(run(), first);
    }
}

fn t04_catalog() -> resolver::Catalog {
    catalog(vec![
        b("p", "1.0.0"),
        b("p", "1.1.0"),
        b("p", "2.0.0"),
        b("p", "2.1.0-rc.1"),
    ])
}

#[test]
fn t04_upper_bound_excludes_prerelease_of_next_major() {
    let plan = ok(resolve(
        &t04_catalog(),
        &[Request::new("p").version("<2.0.0")],
        &[],
        &opts(),
    ));
    assert_eq!(versions(&plan), ["p 1.1.0"]);
}

#[test]
fn t05_tilde_partial() {
    let plan = ok(resolve(
        &t04_catalog(),
        &[Request::new("p").version("~1.0")],
        &[],
        &opts(),
    ));
    assert_eq!(versions(&plan), ["p 1.0.0"]);
}

#[test]
fn no_version_prefers_the_highest_even_a_prerelease() {
    let plan = ok(resolve(&t04_catalog(), &[Request::new("p")], &[], &opts()));
    assert_eq!(versions(&plan), ["p 2.1.0-rc.1"]);
}

fn t07_catalog() -> resolver::Catalog {
    catalog(vec![
        b("p", "1.0.0").channels(&["stable"]),
        b("p", "1.1.0").channels(&["stable", "fast"]),
        b("p", "2.0.0").channels(&["fast"]),
    ])
}

#[test]
fn t07_channel_filter() {
    let plan = ok(resolve(
        &t07_catalog(),
        &[Request::new("p").channel("stable")],
        &[],
        &opts(),
    ));
    assert_eq!(versions(&plan), ["p 1.1.0"]);
    let p = plan.get("p").expect("p");
    let r = p
        .not_chosen
        .iter()
        .find(|r| r.bundle == "p.v2.0.0")
        .expect("2.0.0 listed");
    assert_eq!(r.reasons, ["not in channel \"stable\" requested for p"]);
}

#[test]
fn t08_channel_and_version_miss() {
    let msg = input_error(resolve(
        &t07_catalog(),
        &[Request::new("p").version("2.0.0").channel("stable")],
        &[],
        &opts(),
    ));
    assert_eq!(
        msg,
        "no package \"p\" matching version \"2.0.0\" found in channel \"stable\""
    );
    assert_eq!(
        input_error(resolve(&t07_catalog(), &[Request::new("q")], &[], &opts())),
        "no package \"q\" found"
    );
    assert_eq!(
        input_error(resolve(
            &t07_catalog(),
            &[Request::new("p").channel("beta")],
            &[],
            &opts()
        )),
        "no package \"p\" found in channel \"beta\""
    );
    assert_eq!(
        input_error(resolve(
            &t07_catalog(),
            &[Request::new("p").version("3.0.0")],
            &[],
            &opts()
        )),
        "no package \"p\" matching version \"3.0.0\" found"
    );
}

#[test]
fn t10_transitive() {
    let cat = catalog(vec![
        b("a", "1.0.0").requires("b", ">=1.0.0 <2.0.0"),
        b("b", "1.0.0").requires("c", ">=1.0.0"),
        b("b", "1.5.0").requires("c", ">=1.2.0"),
        b("b", "2.0.0"),
        b("c", "1.0.0"),
        b("c", "1.2.0"),
        b("c", "1.3.0"),
    ]);
    let plan = ok(resolve(&cat, &[Request::new("a")], &[], &opts()));
    assert_eq!(versions(&plan), ["a 1.0.0", "b 1.5.0", "c 1.3.0"]);
}

#[test]
fn t11_diamond_requirements_are_anded() {
    let cat = catalog(vec![
        b("a", "1.0.0")
            .requires("b", ">=1.0.0")
            .requires("c", ">=1.0.0"),
        b("b", "1.0.0").requires("d", ">=1.0.0 <2.0.0"),
        b("c", "1.0.0").requires("d", ">=1.5.0"),
        b("d", "1.0.0"),
        b("d", "1.6.0"),
        b("d", "2.0.0"),
    ]);
    let plan = ok(resolve(&cat, &[Request::new("a")], &[], &opts()));
    assert_eq!(
        versions(&plan),
        ["a 1.0.0", "b 1.0.0", "c 1.0.0", "d 1.6.0"]
    );
}

#[test]
fn t13_cycle() {
    let cat = catalog(vec![
        b("a", "1.0.0").requires("b", ">=1.0.0"),
        b("b", "1.0.0").requires("a", ">=1.0.0"),
    ]);
    let plan = ok(resolve(&cat, &[Request::new("a")], &[], &opts()));
    assert_eq!(versions(&plan), ["a 1.0.0", "b 1.0.0"]);
}

#[test]
fn t14_missing_dependency_makes_only_that_bundle_uninstallable() {
    let cat = catalog(vec![
        b("a", "1.0.0"),
        b("a", "2.0.0").requires("x", ">=1.0.0"),
    ]);
    let plan = ok(resolve(&cat, &[Request::new("a")], &[], &opts()));
    assert_eq!(versions(&plan), ["a 1.0.0"]);
    let r = &plan.get("a").expect("a").not_chosen[0];
    assert_eq!(r.bundle, "a.v2.0.0");
}

fn t16_catalog() -> resolver::Catalog {
    catalog(vec![
        b("a", "1.0.0").requires_gvk(g()),
        b("foo", "1.0.0").provides(g()),
        b("foo", "1.1.0").provides(g()),
        b("bar", "2.0.0").provides(g()),
    ])
}

#[test]
fn t16_gvk_dependency_prefers_package_name_order() {
    let plan = ok(resolve(&t16_catalog(), &[Request::new("a")], &[], &opts()));
    assert_eq!(versions(&plan), ["a 1.0.0", "bar 2.0.0"]);
    let bar = plan.get("bar").expect("bar");
    assert_eq!(
        bar.why[0].to_string(),
        "a v1.0.0 requires a provider of Foo (example.com/v1)"
    );
}

#[test]
fn t17_gvk_already_provided() {
    let plan = ok(resolve(
        &t16_catalog(),
        &[Request::new("a"), Request::new("foo")],
        &[],
        &opts(),
    ));
    assert_eq!(versions(&plan), ["a 1.0.0", "foo 1.1.0"]);
}

#[test]
fn gvk_uniqueness_can_be_turned_off() {
    let options = Options {
        gvk_uniqueness: false,
        ..Options::default()
    };
    // foo (requested) already satisfies a's GVK requirement, so nothing else is installed.
    let plan = ok(resolve(
        &t16_catalog(),
        &[Request::new("a"), Request::new("foo")],
        &[],
        &options,
    ));
    assert_eq!(versions(&plan), ["a 1.0.0", "foo 1.1.0"]);
    let plan = ok(resolve(
        &t16_catalog(),
        &[Request::new("foo"), Request::new("bar")],
        &[],
        &options,
    ));
    assert_eq!(versions(&plan), ["bar 2.0.0", "foo 1.1.0"]);
    // With uniqueness on, two requests for different providers of one GVK conflict.
    let u = unsat(resolve(
        &t16_catalog(),
        &[Request::new("foo"), Request::new("bar")],
        &[],
        &opts(),
    ));
    assert!(
        u.lines.iter().any(|l| l == "group:\"example.com\" version:\"v1\" kind:\"Foo\" gvk uniqueness permits at most 1 of cat-foo-foo.v1.1.0, cat-foo-foo.v1.0.0, cat-bar-bar.v2.0.0"),
        "{u}"
    );
    assert!(
        u.summary
            .contains("only one installed bundle may provide Foo (example.com/v1)"),
        "{}",
        u.summary
    );
}

#[test]
fn t19_gvk_without_provider() {
    let cat = catalog(vec![b("a", "1.0.0").requires_gvk(g())]);
    let u = unsat(resolve(&cat, &[Request::new("a")], &[], &opts()));
    assert_eq!(
        u.lines,
        [
            "required package a is mandatory",
            "required package a requires at least one of cat-a-a.v1.0.0",
            "cat-a-a.v1.0.0 has a dependency without any candidates to satisfy it",
        ]
    );
    assert_eq!(
        u.summary,
        "Request a cannot be satisfied: request a can only be satisfied by a v1.0.0, which requires \
         a provider of Foo (example.com/v1), but no bundle in the catalogs satisfies it."
    );
}

fn prometheus() -> resolver::Catalog {
    catalog(vec![
        b("prometheus", "1.0.0"),
        b("prometheus", "1.0.1").replaces("prometheus.v1.0.0"),
        b("prometheus", "1.2.0").replaces("prometheus.v1.0.1"),
        b("prometheus", "2.0.0").replaces("prometheus.v1.2.0"),
    ])
}

fn installed(package: &str, version: &str) -> Installed {
    Installed::own(
        package,
        BundleLocator::Name(format!("{package}.v{version}")),
    )
}

#[test]
fn t20_legacy_upgrade_follows_the_next_edge_only() {
    let plan = ok(resolve(
        &prometheus(),
        &[Request::new("prometheus")],
        &[installed("prometheus", "1.0.0")],
        &graph(),
    ));
    assert_eq!(versions(&plan), ["prometheus 1.0.1"]);
    let p = plan.get("prometheus").expect("p");
    assert!(
        p.why
            .iter()
            .any(|w| w.to_string() == "an allowed upgrade of the installed prometheus v1.0.0"),
        "{:?}",
        p.why
    );
    let r = p
        .not_chosen
        .iter()
        .find(|r| r.bundle == "prometheus.v2.0.0")
        .expect("listed");
    assert!(
        r.reasons[0].starts_with("not an upgrade edge from the installed prometheus v1.0.0"),
        "{:?}",
        r.reasons
    );
}

#[test]
fn legacy_upgrade_refusal_message() {
    let u = unsat(resolve(
        &prometheus(),
        &[Request::new("prometheus").version("1.2.0")],
        &[installed("prometheus", "1.0.0")],
        &graph(),
    ));
    assert!(
        u.lines.contains(&"installed package prometheus requires at least one of cat-prometheus-prometheus.v1.0.1, cat-prometheus-prometheus.v1.0.0".to_string()),
        "{u}"
    );
}

#[test]
fn t22_semver_upgrade() {
    let plan = ok(resolve(
        &prometheus(),
        &[Request::new("prometheus")],
        &[installed("prometheus", "1.0.0")],
        &opts(),
    ));
    assert_eq!(versions(&plan), ["prometheus 1.2.0"]);
}

#[test]
fn t23_semver_major_refused() {
    let u = unsat(resolve(
        &prometheus(),
        &[Request::new("prometheus").version("2.0.0")],
        &[installed("prometheus", "1.0.0")],
        &opts(),
    ));
    assert!(
        u.lines.contains(&"installed package prometheus requires at least one of cat-prometheus-prometheus.v1.2.0, cat-prometheus-prometheus.v1.0.1, cat-prometheus-prometheus.v1.0.0".to_string()),
        "{u}"
    );
    assert_eq!(u.lines[0], "required package prometheus is mandatory");
    assert!(u.summary.starts_with("Request prometheus cannot be satisfied: request prometheus (version \"2.0.0\") can only be satisfied by prometheus v2.0.0, but the installed prometheus v1.0.0 may only upgrade within \"^1.0.0, != 1.0.0\""), "{}", u.summary);
}

#[test]
fn downgrade_refused_and_ignore_policy() {
    let inst = [installed("prometheus", "1.0.1")];
    let u = unsat(resolve(
        &prometheus(),
        &[Request::new("prometheus").version("1.0.0")],
        &inst,
        &opts(),
    ));
    assert!(u.lines.iter().any(|l| l == "installed package prometheus requires at least one of cat-prometheus-prometheus.v1.2.0, cat-prometheus-prometheus.v1.0.1"), "{u}");
    let plan = ok(resolve(
        &prometheus(),
        &[Request::new("prometheus")
            .version("1.0.0")
            .upgrade_policy(UpgradePolicy::Ignore)],
        &inst,
        &opts(),
    ));
    assert_eq!(versions(&plan), ["prometheus 1.0.0"]);
    let plan = ok(resolve(
        &prometheus(),
        &[Request::new("prometheus")
            .version("2.0.0")
            .upgrade_policy(UpgradePolicy::Ignore)],
        &[installed("prometheus", "1.0.0")],
        &opts(),
    ));
    assert_eq!(versions(&plan), ["prometheus 2.0.0"]);
}

#[test]
fn t25_no_successor_stays() {
    let plan = ok(resolve(
        &prometheus(),
        &[Request::new("prometheus")],
        &[installed("prometheus", "2.0.0")],
        &graph(),
    ));
    assert_eq!(versions(&plan), ["prometheus 2.0.0"]);
    let plan = ok(resolve(
        &prometheus(),
        &[Request::new("prometheus")],
        &[installed("prometheus", "2.0.0")],
        &opts(),
    ));
    assert_eq!(versions(&plan), ["prometheus 2.0.0"]);
}

#[test]
fn t26_do_not_break_dependents() {
    let cat = catalog(vec![
        b("a", "1.0.0").requires("b", "<2.0.0"),
        b("b", "1.0.0"),
        b("b", "1.5.0").replaces("b.v1.0.0"),
        b("b", "2.0.0").replaces("b.v1.5.0"),
    ]);
    let inst = [installed("a", "1.0.0"), installed("b", "1.5.0")];
    let plan = ok(resolve(
        &cat,
        &[Request::new("a"), Request::new("b")],
        &inst,
        &graph(),
    ));
    assert_eq!(versions(&plan), ["a 1.0.0", "b 1.5.0"]);
}

#[test]
fn t28_dependency_admits_prerelease() {
    let cat = catalog(vec![
        b("a", "1.0.0").requires("c", ">=1.0.0"),
        b("c", "1.0.0"),
        b("c", "1.1.0-rc.1"),
    ]);
    let plan = ok(resolve(&cat, &[Request::new("a")], &[], &opts()));
    assert_eq!(versions(&plan), ["a 1.0.0", "c 1.1.0-rc.1"]);
}

#[test]
fn t29_duplicate_request() {
    let cat = t04_catalog();
    assert_eq!(
        input_error(resolve(
            &cat,
            &[Request::new("p"), Request::new("p")],
            &[],
            &opts()
        )),
        "duplicate identifier \"required package p\" in input"
    );
    let each = resolve_each(
        &cat,
        &[Request::new("p"), Request::new("p").version("1.0.0")],
        &[],
        &opts(),
    );
    for (_, result) in each {
        assert_eq!(
            input_error(result),
            "duplicate identifier \"required package p\" in input"
        );
    }
}

#[test]
fn t31_deprecated_is_deprioritised_not_prohibited() {
    let cat = catalog(vec![b("p", "1.0.0"), b("p", "1.1.0").deprecated()]);
    let plan = ok(resolve(
        &cat,
        &[Request::new("p").version("1.1.0")],
        &[],
        &opts(),
    ));
    assert_eq!(versions(&plan), ["p 1.1.0"]);
    let plan = ok(resolve(&cat, &[Request::new("p")], &[], &opts()));
    assert_eq!(versions(&plan), ["p 1.0.0"]);
}

#[test]
fn t32_pubgrub_article() {
    let cat = catalog(vec![
        b("menu", "1.5.0").requires("dropdown", ">=2.0.0 <3.0.0"),
        b("menu", "1.0.0").requires("dropdown", ">=1.0.0 <2.0.0"),
        b("dropdown", "2.0.0").requires("icons", ">=2.0.0 <3.0.0"),
        b("dropdown", "1.0.0").requires("intl", ">=3.0.0 <4.0.0"),
        b("icons", "1.0.0"),
        b("icons", "2.0.0"),
        b("intl", "3.0.0"),
        b("intl", "5.0.0"),
    ]);
    let u = unsat(resolve(
        &cat,
        &[
            Request::new("menu"),
            Request::new("icons").version("1.0.0"),
            Request::new("intl").version("5.0.0"),
        ],
        &[],
        &opts(),
    ));
    assert_eq!(
        u.lines,
        [
            "required package menu is mandatory",
            "required package icons is mandatory",
            "required package intl is mandatory",
            "required package menu requires at least one of cat-menu-menu.v1.5.0, cat-menu-menu.v1.0.0",
            "required package icons requires at least one of cat-icons-icons.v1.0.0",
            "required package intl requires at least one of cat-intl-intl.v5.0.0",
            "cat-menu-menu.v1.5.0 requires at least one of cat-dropdown-dropdown.v2.0.0",
            "cat-menu-menu.v1.0.0 requires at least one of cat-dropdown-dropdown.v1.0.0",
            "cat-dropdown-dropdown.v2.0.0 requires at least one of cat-icons-icons.v2.0.0",
            "cat-dropdown-dropdown.v1.0.0 requires at least one of cat-intl-intl.v3.0.0",
            "icons package uniqueness permits at most 1 of cat-icons-icons.v1.0.0, cat-icons-icons.v2.0.0",
            "intl package uniqueness permits at most 1 of cat-intl-intl.v5.0.0, cat-intl-intl.v3.0.0",
        ]
    );
    assert_eq!(u.conflicting_requests, ["menu", "icons", "intl"]);
}

#[test]
fn t34_skips_successor() {
    let cat = catalog(vec![
        b("p", "1.0.0"),
        b("p", "1.1.0").replaces("p.v1.0.0"),
        b("p", "1.2.0")
            .replaces("p.v1.1.0")
            .skips(&["p.v1.0.0", "p.v1.1.0"]),
    ]);
    let plan = ok(resolve(
        &cat,
        &[Request::new("p")],
        &[installed("p", "1.0.0")],
        &graph(),
    ));
    assert_eq!(versions(&plan), ["p 1.2.0"]);
}

#[test]
fn t35_skip_range_successor() {
    let cat = catalog(vec![
        b("p", "1.0.0"),
        b("p", "1.3.0").skip_range(">=1.0.0 <1.3.0"),
    ]);
    let plan = ok(resolve(
        &cat,
        &[Request::new("p")],
        &[installed("p", "1.0.0")],
        &graph(),
    ));
    assert_eq!(versions(&plan), ["p 1.3.0"]);
    let plan = ok(resolve(
        &cat,
        &[Request::new("p")],
        &[installed("p", "1.3.0")],
        &graph(),
    ));
    assert_eq!(versions(&plan), ["p 1.3.0"]);
}

#[test]
fn graph_edges_to_lower_versions_are_ignored() {
    // A catalog error: 0.9.0 claims to replace 1.0.0. Following it would be a downgrade.
    let cat = catalog(vec![b("p", "1.0.0"), b("p", "0.9.0").replaces("p.v1.0.0")]);
    let plan = ok(resolve(
        &cat,
        &[Request::new("p")],
        &[installed("p", "1.0.0")],
        &graph(),
    ));
    assert_eq!(versions(&plan), ["p 1.0.0"]);
    let rejected = &plan.get("p").expect("p").not_chosen[0];
    assert_eq!(rejected.bundle, "p.v0.9.0");
    assert_eq!(
        rejected.reasons,
        [
            "not an upgrade edge from the installed p v1.0.0: it may only follow its upgrade edges \
          (replaces, skips, skipRange) to a higher version"
        ]
    );
}

#[test]
fn deprecation_notes_are_reported_for_selected_bundles() {
    let cat = catalog(vec![b("p", "1.0.0").deprecated()]);
    let plan = ok(resolve(&cat, &[Request::new("p")], &[], &opts()));
    assert_eq!(
        plan.get("p").expect("p").deprecations,
        ["bundle p.v1.0.0 is deprecated: deprecated"]
    );
    assert!(
        plan.to_string()
            .ends_with("\n  warning: bundle p.v1.0.0 is deprecated: deprecated")
    );
}

#[test]
fn graph_edges_are_limited_to_the_requested_channel() {
    let cat = catalog(vec![
        b("p", "1.0.0").channels(&["stable", "fast"]),
        b("p", "1.1.0").channels(&["fast"]).replaces("p.v1.0.0"),
    ]);
    let plan = ok(resolve(
        &cat,
        &[Request::new("p").channel("stable")],
        &[installed("p", "1.0.0")],
        &graph(),
    ));
    assert_eq!(versions(&plan), ["p 1.0.0"]);
    let plan = ok(resolve(
        &cat,
        &[Request::new("p").channel("fast")],
        &[installed("p", "1.0.0")],
        &graph(),
    ));
    assert_eq!(versions(&plan), ["p 1.1.0"]);
}

fn sbo_constraint() -> serde_json::Value {
    json!({
        "failureMessage": "requires a service binding operator",
        "any": {"constraints": [
            {"package": {"packageName": "rh-service-binding-operator", "versionRange": ">=1.0.0"}},
            {"package": {"packageName": "service-binding-operator", "versionRange": ">=1.0.0"}}
        ]}
    })
}

#[test]
fn t37_olm_constraint_any() {
    let cat = catalog(vec![
        b("d", "0.5.0").constraint(sbo_constraint()),
        b("service-binding-operator", "1.1.0"),
    ]);
    let plan = ok(resolve(&cat, &[Request::new("d")], &[], &opts()));
    assert_eq!(
        versions(&plan),
        ["d 0.5.0", "service-binding-operator 1.1.0"]
    );
    let cat = catalog(vec![
        b("d", "0.5.0").constraint(sbo_constraint()),
        b("service-binding-operator", "1.1.0"),
        b("rh-service-binding-operator", "1.0.0"),
    ]);
    let plan = ok(resolve(&cat, &[Request::new("d")], &[], &opts()));
    assert_eq!(
        versions(&plan),
        ["d 0.5.0", "rh-service-binding-operator 1.0.0"]
    );
}

#[test]
fn t38_all_is_one_bundle() {
    let green = resolver::Gvk::new("example.com", "v1", "Green");
    let constraint = json!({"all": {"constraints": [
        {"package": {"packageName": "blue", "versionRange": ">=1.0.0"}},
        {"gvk": {"group": "example.com", "version": "v1", "kind": "Green"}}
    ]}});
    let cat = catalog(vec![
        b("r", "1.0.0").constraint(constraint.clone()),
        b("blue", "1.0.0"),
        b("green-op", "1.0.0").provides(green.clone()),
    ]);
    let u = unsat(resolve(&cat, &[Request::new("r")], &[], &opts()));
    assert_eq!(
        u.lines.last().map(String::as_str),
        Some("cat-r-r.v1.0.0 has a dependency without any candidates to satisfy it")
    );
    let cat = catalog(vec![
        b("r", "1.0.0").constraint(constraint),
        b("blue", "1.0.0"),
        b("blue", "1.1.0").provides(green.clone()),
        b("green-op", "1.0.0").provides(green),
    ]);
    let plan = ok(resolve(&cat, &[Request::new("r")], &[], &opts()));
    assert_eq!(versions(&plan), ["blue 1.1.0", "r 1.0.0"]);
}

#[test]
fn t40_cel_semver_compare() {
    let rule = r#"properties.exists(p, p.type == "olm.package" && p.value.packageName == "q" && semver_compare(p.value.version, "1.2.0") >= 0)"#;
    let constraint =
        json!({"failureMessage": "q 1.2.0 or later is required", "cel": {"rule": rule}});
    let cat = catalog(vec![
        b("r", "1.0.0").constraint(constraint.clone()),
        b("q", "1.1.0"),
        b("q", "1.2.0"),
    ]);
    let plan = ok(resolve(&cat, &[Request::new("r")], &[], &opts()));
    assert_eq!(versions(&plan), ["q 1.2.0", "r 1.0.0"]);
    let q = plan.get("q").expect("q");
    let r = q
        .not_chosen
        .iter()
        .find(|r| r.bundle == "q.v1.1.0")
        .expect("listed");
    assert!(
        r.reasons[0].starts_with("rejected by the olm.constraint of r v1.0.0"),
        "{:?}",
        r.reasons
    );

    let cat = catalog(vec![
        b("r", "1.0.0").constraint(constraint),
        b("q", "1.1.0"),
    ]);
    let u = unsat(resolve(&cat, &[Request::new("r")], &[], &opts()));
    assert_eq!(
        u.lines.last().map(String::as_str),
        Some(
            "cat-r-r.v1.0.0 has a dependency without any candidates to satisfy it: q 1.2.0 or later is required"
        )
    );
    assert!(
        u.summary.contains("semver_compare(p.value.version"),
        "{}",
        u.summary
    );
    assert!(
        u.summary.contains("q 1.2.0 or later is required"),
        "{}",
        u.summary
    );
}

#[test]
fn t41_two_catalogs() {
    let cat = catalog(vec![
        b("p", "1.0.0").catalog("catA"),
        b("p", "1.0.0").catalog("catB"),
        b("p", "1.1.0").catalog("catB"),
    ]);
    let plan = ok(resolve(&cat, &[Request::new("p")], &[], &opts()));
    let p = plan.get("p").expect("p");
    assert_eq!(
        (p.catalog.as_str(), p.version.as_deref()),
        ("catB", Some("1.1.0"))
    );

    let cat = catalog(vec![
        b("p", "1.0.0").catalog("catB"),
        b("p", "1.0.0").catalog("catA"),
    ]);
    let plan = ok(resolve(&cat, &[Request::new("p")], &[], &opts()));
    assert_eq!(
        plan.get("p").expect("p").catalog,
        "catA",
        "equal priority: catalog name"
    );
    let cat = cat.with_priority("catB", 5);
    let plan = ok(resolve(&cat, &[Request::new("p")], &[], &opts()));
    assert_eq!(
        plan.get("p").expect("p").catalog,
        "catB",
        "higher priority wins"
    );
    let plan = ok(resolve(
        &cat,
        &[Request::new("p").catalogs(["catA"])],
        &[],
        &opts(),
    ));
    assert_eq!(
        plan.get("p").expect("p").catalog,
        "catA",
        "catalog selector"
    );
}

#[test]
fn t43_invalid_user_range() {
    let msg = input_error(resolve(
        &t04_catalog(),
        &[Request::new("p").version(">>1")],
        &[],
        &opts(),
    ));
    assert!(
        msg.starts_with("invalid version range \">>1\": improper constraint: >>1"),
        "{msg}"
    );
}

#[test]
fn t44_max_openshift_version() {
    let cat = catalog(vec![b("p", "1.0.0").max_ocp("4.14"), b("p", "0.9.0")]);
    let options = Options {
        cluster_version: Some("4.15".to_string()),
        ..Options::default()
    };
    let plan = ok(resolve(&cat, &[Request::new("p")], &[], &options));
    assert_eq!(versions(&plan), ["p 0.9.0"]);
    let u = unsat(resolve(
        &cat,
        &[Request::new("p").version("1.0.0")],
        &[],
        &options,
    ));
    assert!(
        u.lines.contains(&"cat-p-p.v1.0.0 is prohibited: olm.maxOpenShiftVersion 4.14 is older than the cluster version 4.15".to_string()),
        "{u}"
    );
    assert!(
        u.summary.contains("olm.maxOpenShiftVersion 4.14"),
        "{}",
        u.summary
    );
    // Off by default.
    let plan = ok(resolve(&cat, &[Request::new("p")], &[], &opts()));
    assert_eq!(versions(&plan), ["p 1.0.0"]);
}

#[test]
fn colliding_bundle_identifiers_are_a_malformed_problem() {
    // `<catalog>-<package>-<name>` is the same string for both bundles, as deppy would build it.
    let mut provider = b("b-c", "1.0.0").catalog("a");
    provider.0.name = "c.v1.0.0".to_string();
    let cat = catalog(vec![
        b("c", "1.0.0").catalog("a-b").requires("b-c", ">=1.0.0"),
        provider,
    ]);
    assert_eq!(
        input_error(resolve(&cat, &[Request::new("c")], &[], &opts())),
        "duplicate identifier \"a-b-c-c.v1.0.0\" in input"
    );
}

#[test]
fn not_chosen_off_keeps_the_selection_and_why() {
    let cat = doc_success_catalog();
    let requests = [Request::new("a").version("0.1.0"), Request::new("b")];
    let full = ok(resolve(&cat, &requests, &[], &opts()));
    let lean = ok(resolve(
        &cat,
        &requests,
        &[],
        &Options {
            not_chosen: false,
            ..opts()
        },
    ));
    assert!(full.selections.iter().any(|s| !s.not_chosen.is_empty()));
    assert!(lean.selections.iter().all(|s| s.not_chosen.is_empty()));
    let without_rejections = |plan: &resolver::Plan| {
        let mut plan = plan.clone();
        for s in &mut plan.selections {
            s.not_chosen.clear();
        }
        plan
    };
    assert_eq!(without_rejections(&full), lean);
}
