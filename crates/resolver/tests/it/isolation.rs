//! Per-Operator isolation (resolution.md §0.2) and joint solving with installed facts.

use crate::support::*;
use resolver::{
    BundleLocator, Installed, Options, OthersPolicy, Property, Request, ResolveError, resolve,
    resolve_each,
};

fn doc_failure_catalog() -> resolver::Catalog {
    catalog(vec![
        b("a", "0.1.0").requires("c", "0.1.0"),
        b("b", "1.0.0").requires("c", "0.2.0"),
        b("c", "0.1.0"),
        b("c", "0.2.0"),
    ])
}

#[test]
fn broken_requests_do_not_affect_others() {
    let cat = catalog(vec![b("good", "1.0.0"), b("other", "2.0.0")]);
    let requests = [
        Request::new("good"),
        Request::new("missing"),
        Request::new("other").version(">>2"),
        Request::new("other2"),
    ];
    let results = resolve_each(&cat, &requests, &[], &Options::default());
    assert_eq!(results.len(), 4);
    assert_eq!(
        versions(results[0].1.as_ref().expect("good resolves")),
        ["good 1.0.0"]
    );
    assert!(
        matches!(&results[1].1, Err(ResolveError::Input(e)) if e.message == "no package \"missing\" found")
    );
    assert!(
        matches!(&results[2].1, Err(ResolveError::Input(e)) if e.message.starts_with("invalid version range \">>2\""))
    );
    // Jointly, the first input error fails the whole problem.
    assert!(resolve(&cat, &requests, &[], &Options::default()).is_err());
}

#[test]
fn documentation_failure_at_controller_level_names_the_installed_owner() {
    let cat = doc_failure_catalog();
    // Operator a resolved first and installed c 0.1.0 on its behalf.
    let installed = [
        Installed::own("a", BundleLocator::Name("a.v0.1.0".into())),
        Installed::dependency_of(
            "c",
            BundleLocator::Image("example.com/c:v0.1.0".into()),
            "a",
        ),
    ];
    let results = resolve_each(
        &cat,
        &[Request::new("a").version("0.1.0"), Request::new("b")],
        &installed,
        &Options::default(),
    );
    assert_eq!(
        versions(results[0].1.as_ref().expect("a keeps its plan")),
        ["a 0.1.0", "c 0.1.0"]
    );
    let Err(ResolveError::Unsatisfiable(u)) = &results[1].1 else {
        panic!("b must fail: {:?}", results[1].1)
    };
    assert!(
        u.lines
            .contains(&"installed package c requires at least one of cat-c-c.v0.1.0".to_string()),
        "{u}"
    );
    assert!(
        u.lines.contains(
            &"c package uniqueness permits at most 1 of cat-c-c.v0.1.0, cat-c-c.v0.2.0".to_string()
        ),
        "{u}"
    );
    assert_eq!(
        u.summary,
        "Request b cannot be satisfied: request b can only be satisfied by b v1.0.0, which requires c v0.2.0 \
         (package c in range \"0.2.0\"), but c v0.1.0 (installed for a) must stay as it is; only one bundle of \
         package c can be installed at a time."
    );
}

#[test]
fn fixed_facts_can_be_made_upgradable() {
    let cat = catalog(vec![
        b("x", "1.0.0").requires("lib", ">=1.1.0"),
        b("lib", "1.0.0"),
        b("lib", "1.1.0").replaces("lib.v1.0.0"),
    ]);
    let installed = [Installed::dependency_of(
        "lib",
        BundleLocator::Name("lib.v1.0.0".into()),
        "someone-else",
    )];
    assert!(matches!(
        resolve(&cat, &[Request::new("x")], &installed, &Options::default()),
        Err(ResolveError::Unsatisfiable(_))
    ));
    let options = Options {
        others: OthersPolicy::Upgradable,
        ..Options::default()
    };
    let plan = ok(resolve(&cat, &[Request::new("x")], &installed, &options));
    assert_eq!(versions(&plan), ["lib 1.1.0", "x 1.0.0"]);
}

#[test]
fn dependencies_installed_for_a_request_follow_its_policy() {
    let cat = catalog(vec![
        b("x", "1.0.0").requires("lib", ">=1.0.0"),
        b("lib", "1.0.0"),
        b("lib", "1.1.0"),
        b("lib", "2.0.0"),
    ]);
    let installed = [
        Installed::own("x", BundleLocator::Version("1.0.0".into())),
        Installed::dependency_of("lib", BundleLocator::Version("1.0.0".into()), "x"),
    ];
    let plan = ok(resolve(
        &cat,
        &[Request::new("x")],
        &installed,
        &Options::default(),
    ));
    assert_eq!(
        versions(&plan),
        ["lib 1.1.0", "x 1.0.0"],
        "semver upgrade of the dependency, not 2.0.0"
    );
}

#[test]
fn installed_bundle_missing_from_catalogs_is_an_input_error() {
    let cat = catalog(vec![b("p", "1.0.0")]);
    let installed = [Installed::own(
        "p",
        BundleLocator::Image("example.com/p:v9".into()),
    )];
    let msg = input_error(resolve(
        &cat,
        &[Request::new("p")],
        &installed,
        &Options::default(),
    ));
    assert_eq!(
        msg,
        "bundle with image \"example.com/p:v9\" for package \"p\" not found in available catalogs but is currently installed"
    );
}

#[test]
fn skipped_catalogs_are_named_on_failure() {
    let cat = doc_failure_catalog();
    let options = Options {
        skipped_catalogs: vec![(
            "broken".into(),
            "error fetching catalog contents: 404".into(),
        )],
        ..Options::default()
    };
    let err = resolve(
        &cat,
        &[Request::new("a").version("0.1.0"), Request::new("b")],
        &[],
        &options,
    )
    .expect_err("unsat");
    assert!(
        err.to_string()
            .ends_with("catalog broken was skipped: error fetching catalog contents: 404"),
        "{err}"
    );
}

#[test]
fn smallest_conflicting_set_of_requests() {
    let cat = catalog(vec![
        b("a", "0.1.0").requires("c", "0.1.0"),
        b("b", "1.0.0").requires("c", "0.2.0"),
        b("c", "0.1.0"),
        b("c", "0.2.0"),
        b("d", "1.0.0"),
        b("e", "1.0.0"),
    ]);
    let requests = [
        Request::new("d"),
        Request::new("a"),
        Request::new("e"),
        Request::new("b"),
    ];
    let u = unsat(resolve(&cat, &requests, &[], &Options::default()));
    assert_eq!(u.conflicting_requests, ["a", "b"]);
}

#[test]
fn invalid_requirement_makes_the_bundle_uninstallable_and_says_why() {
    let cat = catalog(vec![
        b("a", "1.0.0"),
        b("a", "2.0.0").requires("x", ">=1.0"),
        b("x", "1.0.0"),
    ]);
    let plan = ok(resolve(
        &cat,
        &[Request::new("a")],
        &[],
        &Options::default(),
    ));
    assert_eq!(versions(&plan), ["a 1.0.0"]);
    let rejected = &plan.get("a").expect("a").not_chosen[0];
    assert!(
        rejected.reasons[0].starts_with(
            "error parsing bundle required package semver range for bundle \"a.v2.0.0\""
        ),
        "{rejected}"
    );
    let u = unsat(resolve(
        &cat,
        &[Request::new("a").version("2.0.0")],
        &[],
        &Options::default(),
    ));
    assert!(
        u.lines.iter().any(|l| l.starts_with(
            "cat-a-a.v2.0.0 is prohibited: error parsing bundle required package semver range"
        )),
        "{u}"
    );
}

#[test]
fn properties_from_raw_json() {
    let p = Property::from_json(
        "olm.package.required",
        &serde_json::json!({"packageName": "x", "versionRange": ">=1.0.0"}),
    );
    assert_eq!(
        p,
        Property::PackageRequired {
            package_name: "x".into(),
            version_range: ">=1.0.0".into()
        }
    );
    let p = Property::from_json("olm.gvk", &serde_json::json!({"group": "g", "kind": "K"}));
    assert!(
        matches!(p, Property::Invalid { ref error, .. } if error == "missing field \"version\"")
    );
    let p = Property::from_json("olm.maxOpenShiftVersion", &serde_json::json!(4.15));
    assert_eq!(p, Property::MaxOpenShiftVersion("4.15".into()));
    let p = Property::from_json("custom.thing", &serde_json::json!({"k": 1}));
    assert_eq!(
        p.to_json(),
        serde_json::json!({"type": "custom.thing", "value": {"k": 1}})
    );
}

#[test]
fn deterministic_plan_regardless_of_input_order() {
    let bundles = || {
        vec![
            b("a", "1.0.0").requires("b", ">=1.0.0"),
            b("b", "1.0.0").catalog("z"),
            b("b", "1.0.0").catalog("y"),
            b("b", "0.9.0"),
        ]
    };
    let forward = ok(resolve(
        &catalog(bundles()),
        &[Request::new("a")],
        &[],
        &Options::default(),
    ));
    let mut reversed_input = bundles();
    reversed_input.reverse();
    let backward = ok(resolve(
        &catalog(reversed_input),
        &[Request::new("a")],
        &[],
        &Options::default(),
    ));
    assert_eq!(forward, backward);
    assert_eq!(forward.get("b").expect("b").catalog, "y");
}
