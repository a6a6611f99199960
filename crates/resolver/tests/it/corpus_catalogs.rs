//! Resolution over the real catalogs of the corpus (`shared/corpus/catalogs/v4.15` and `v4.22`,
//! read in place; `OLMRS_CORPUS` overrides the location).
//!
//! Expectations are computed here from the raw FBC (channel entries, `olm.package` versions,
//! requirements), independently of the resolver's own indexes:
//!
//! * a bare request picks the highest version of the package (any channel), and a request for
//!   the default channel picks that channel's head;
//! * version ranges picked from each package's real versions select the highest match;
//! * from every installed bundle, Enforce + graph successors give the highest direct successor
//!   (replaces, skips, skipRange) or keep the installed bundle, and never a downgrade; semver
//!   successors stay within the caret range.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::OnceLock;

use fbc::DeclarativeConfig;
use resolver::{
    BundleLocator, Catalog, FbcSource, Installed, Options, Plan, Request, ResolveError,
    SuccessorMode, catalog_from_fbc, resolve,
};
use semver_ranges::{BlangRange, Version, parse_strict};
use serde_json::Value;

fn corpus() -> PathBuf {
    match std::env::var_os("OLMRS_CORPUS") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"),
    }
}

/// One loaded corpus catalog with what the tests compute from it.
struct Loaded {
    name: &'static str,
    config: DeclarativeConfig,
    catalog: Catalog,
}

fn load(version: &'static str) -> Loaded {
    let dir = corpus().join("catalogs").join(version);
    let config = fbc::load_fs(&dir).unwrap_or_else(|e| panic!("loading {}: {e}", dir.display()));
    let catalog = catalog_from_fbc([FbcSource::new(version, &config)]).expect("indexes");
    Loaded {
        name: version,
        config,
        catalog,
    }
}

fn v415() -> &'static Loaded {
    static L: OnceLock<Loaded> = OnceLock::new();
    L.get_or_init(|| load("v4.15"))
}

fn v422() -> &'static Loaded {
    static L: OnceLock<Loaded> = OnceLock::new();
    L.get_or_init(|| load("v4.22"))
}

/// What the test knows about one bundle, from the raw FBC.
#[derive(Debug, Clone)]
struct Raw {
    name: String,
    version: Version,
    /// All of its requirements have at least one candidate in this catalog.
    installable: bool,
}

impl Loaded {
    fn packages(&self) -> Vec<String> {
        let names: BTreeSet<String> = self
            .config
            .packages
            .iter()
            .map(|p| p.name.clone())
            .collect();
        names.into_iter().collect()
    }

    fn json(p: &fbc::Property) -> Value {
        serde_json::from_str(p.value.get()).expect("corpus property values are JSON")
    }

    fn version_of(b: &fbc::Bundle) -> Version {
        let p = b
            .properties
            .iter()
            .find(|p| p.r#type == "olm.package")
            .expect("every corpus bundle has olm.package");
        let v = Self::json(p)["version"]
            .as_str()
            .expect("version string")
            .to_string();
        parse_strict(&v).expect("corpus versions are strict SemVer")
    }

    /// One level deep is exact here: corpus requirements point outside the catalog or at
    /// dependency-free bundles.
    fn installable(&self, b: &fbc::Bundle) -> bool {
        b.properties.iter().all(|p| match p.r#type.as_str() {
            "olm.package.required" => {
                let v = Self::json(p);
                let package = v["packageName"].as_str().expect("packageName");
                let range = BlangRange::parse(v["versionRange"].as_str().expect("versionRange"))
                    .expect("valid range");
                self.config
                    .bundles
                    .iter()
                    .any(|o| o.package == package && range.matches(&Self::version_of(o)))
            }
            "olm.gvk.required" => {
                let want = Self::json(p);
                self.config.bundles.iter().any(|o| {
                    o.properties
                        .iter()
                        .any(|q| q.r#type == "olm.gvk" && Self::json(q) == want)
                })
            }
            "olm.constraint" => panic!("the corpus has no olm.constraint; extend the test"),
            _ => true,
        })
    }

    fn bundles(&self, package: &str) -> Vec<Raw> {
        self.config
            .bundles
            .iter()
            .filter(|b| b.package == package)
            .map(|b| Raw {
                name: b.name.clone(),
                version: Self::version_of(b),
                installable: self.installable(b),
            })
            .collect()
    }

    fn raw(&self, package: &str, name: &str) -> Raw {
        self.bundles(package)
            .into_iter()
            .find(|b| b.name == name)
            .expect("bundle exists")
    }

    fn default_channel(&self, package: &str) -> String {
        self.config
            .packages
            .iter()
            .find(|p| p.name == package)
            .map(|p| p.default_channel.clone())
            .expect("package blob")
    }

    /// Bundle names listed in `channel`.
    fn members(&self, package: &str, channel: &str) -> Vec<String> {
        self.config
            .channels
            .iter()
            .filter(|c| c.package == package && c.name == channel)
            .flat_map(|c| c.entries.iter().map(|e| e.name.clone()))
            .collect()
    }

    /// Entries of `channel` that no other entry of it replaces or skips.
    fn heads(&self, package: &str, channel: &str) -> Vec<String> {
        let ch = self
            .config
            .channels
            .iter()
            .find(|c| c.package == package && c.name == channel)
            .expect("channel exists");
        let mut replaced = BTreeSet::new();
        for e in &ch.entries {
            if !e.replaces.is_empty() {
                replaced.insert(e.replaces.as_str());
            }
            replaced.extend(e.skips.iter().map(String::as_str));
        }
        ch.entries
            .iter()
            .filter(|e| !replaced.contains(e.name.as_str()))
            .map(|e| e.name.clone())
            .collect()
    }

    /// Direct graph successors of `installed` with a higher version (any channel).
    fn successors(&self, package: &str, installed: &Raw) -> Vec<String> {
        let versions: BTreeMap<String, Version> = self
            .bundles(package)
            .into_iter()
            .map(|b| (b.name, b.version))
            .collect();
        let mut out = BTreeSet::new();
        for ch in self.config.channels.iter().filter(|c| c.package == package) {
            for e in &ch.entries {
                let edge = e.replaces == installed.name
                    || e.skips.contains(&installed.name)
                    || (!e.skip_range.is_empty()
                        && BlangRange::parse(&e.skip_range)
                            .expect("valid skipRange")
                            .matches(&installed.version));
                if edge && versions[&e.name].cmp_precedence(&installed.version).is_gt() {
                    out.insert(e.name.clone());
                }
            }
        }
        out.into_iter().collect()
    }
}

/// The bundles among `set` with the highest version (ties on precedence all qualify).
fn highest(set: &[Raw]) -> Vec<String> {
    let Some(top) = set
        .iter()
        .map(|b| &b.version)
        .max_by(|a, b| a.cmp_precedence(b))
    else {
        return Vec::new();
    };
    set.iter()
        .filter(|b| b.version.cmp_precedence(top).is_eq())
        .map(|b| b.name.clone())
        .collect()
}

fn selected(plan: &Plan, package: &str) -> String {
    plan.get(package)
        .unwrap_or_else(|| panic!("{package} is in the plan:\n{plan}"))
        .bundle
        .clone()
}

/// `expected` empty → the result must be unsatisfiable because of missing dependencies;
/// otherwise the selected bundle must be one of `expected`. Returns the selection.
fn check(
    cat: &Loaded,
    what: &str,
    package: &str,
    result: Result<Plan, ResolveError>,
    expected: &[String],
) -> Option<String> {
    match (result, expected.is_empty()) {
        (Ok(plan), false) => {
            let got = selected(&plan, package);
            assert!(
                expected.contains(&got),
                "{} {package} {what}: selected {got}, expected one of {expected:?}",
                cat.name
            );
            Some(got)
        }
        (Err(ResolveError::Unsatisfiable(u)), true) => {
            let text = u.to_string();
            assert!(
                text.contains("has a dependency without any candidates to satisfy it"),
                "{} {package} {what}: the explanation must name the missing dependency:\n{text}",
                cat.name
            );
            None
        }
        (Ok(plan), true) => panic!(
            "{} {package} {what}: expected unsatisfiable (dependencies missing), got\n{plan}",
            cat.name
        ),
        (Err(e), _) => panic!(
            "{} {package} {what}: expected one of {expected:?}, got\n{e}",
            cat.name
        ),
    }
}

fn installable_only(set: Vec<Raw>) -> Vec<Raw> {
    set.into_iter().filter(|b| b.installable).collect()
}

fn bare_and_default_channel(cat: &Loaded) -> String {
    let mut table = String::new();
    for package in cat.packages() {
        let all = cat.bundles(&package);
        let bare_expected = highest(&installable_only(all.clone()));
        let bare = check(
            cat,
            "bare request",
            &package,
            resolve(
                &cat.catalog,
                &[Request::new(&package)],
                &[],
                &Options::default(),
            ),
            &bare_expected,
        );

        let default = cat.default_channel(&package);
        let heads = cat.heads(&package, &default);
        let members = cat.members(&package, &default);
        let installable_heads: Vec<Raw> = all
            .iter()
            .filter(|b| b.installable && heads.contains(&b.name))
            .cloned()
            .collect();
        // Heads are preferred; when none can be installed the resolver falls back to the
        // channel's other bundles, newest first.
        let head_expected = if installable_heads.is_empty() {
            all.iter()
                .filter(|b| members.contains(&b.name))
                .cloned()
                .collect()
        } else {
            installable_heads
        };
        let in_default = check(
            cat,
            "default channel",
            &package,
            resolve(
                &cat.catalog,
                &[Request::new(&package).channel(&default)],
                &[],
                &Options::default(),
            ),
            &highest(&installable_only(head_expected)),
        );
        let show = |s: &Option<String>| s.clone().unwrap_or_else(|| "unsatisfiable".into());
        let note = if bare == in_default {
            ""
        } else {
            "  # a newer bundle outside the default channel"
        };
        table.push_str(&format!(
            "{package}: bare={} default({default})={}{note}\n",
            show(&bare),
            show(&in_default)
        ));
    }
    table
}

#[test]
fn v4_15_bare_requests_and_default_channel_heads() {
    insta::assert_snapshot!(bare_and_default_channel(v415()));
}

#[test]
fn v4_22_bare_requests_and_default_channel_heads() {
    insta::assert_snapshot!(bare_and_default_channel(v422()));
}

type Admits = Box<dyn Fn(&Version) -> bool>;

/// Three Masterminds ranges per package built from its release versions: `>=lowest, <middle`,
/// `~major.minor` of the lowest, and an exact pin of the lowest.
fn ranges_are_honoured(cat: &Loaded) -> usize {
    let mut checked = 0;
    for package in cat.packages() {
        let all = cat.bundles(&package);
        let mut releases: Vec<Version> = all
            .iter()
            .map(|b| b.version.clone())
            .filter(|v| v.pre.is_empty())
            .collect();
        releases.sort_by(|a, b| a.cmp_precedence(b));
        releases.dedup_by(|a, b| a.cmp_precedence(b).is_eq());
        let Some(lowest) = releases.first().cloned() else {
            continue;
        };
        let middle = releases[releases.len() / 2].clone();
        let cases: Vec<(String, Admits)> = vec![
            (format!(">={lowest}, <{middle}"), {
                let (l, m) = (lowest.clone(), middle.clone());
                Box::new(move |v: &Version| {
                    v.pre.is_empty() && v.cmp_precedence(&l).is_ge() && v.cmp_precedence(&m).is_lt()
                })
            }),
            (format!("~{}.{}", lowest.major, lowest.minor), {
                let l = lowest.clone();
                Box::new(move |v: &Version| {
                    v.pre.is_empty() && v.major == l.major && v.minor == l.minor
                })
            }),
            (lowest.to_string(), {
                let l = lowest.clone();
                Box::new(move |v: &Version| v.cmp_precedence(&l).is_eq())
            }),
        ];
        for (range, admits) in cases {
            let matching: Vec<Raw> = all.iter().filter(|b| admits(&b.version)).cloned().collect();
            let result = resolve(
                &cat.catalog,
                &[Request::new(&package).version(&range)],
                &[],
                &Options::default(),
            );
            if matching.is_empty() {
                let expected = format!("no package {package:?} matching version {range:?} found");
                assert!(
                    matches!(&result, Err(ResolveError::Input(e)) if e.message == expected),
                    "{} {package} {range}: expected {expected:?}, got {result:?}",
                    cat.name
                );
            } else {
                check(
                    cat,
                    &format!("version {range:?}"),
                    &package,
                    result,
                    &highest(&installable_only(matching)),
                );
            }
            checked += 1;
        }
    }
    checked
}

#[test]
fn v4_15_version_ranges_pick_the_highest_match() {
    assert!(ranges_are_honoured(v415()) >= 30);
}

#[test]
fn v4_22_version_ranges_pick_the_highest_match() {
    assert!(ranges_are_honoured(v422()) >= 30);
}

/// From every bundle as the installed one: graph and semver successors with Enforce.
fn upgrades_follow_edges(cat: &Loaded) -> (usize, usize) {
    let graph = Options {
        successors: SuccessorMode::Graph,
        ..Options::default()
    };
    let semver = Options::default();
    let (mut moved, mut stayed) = (0, 0);
    for package in cat.packages() {
        let all = cat.bundles(&package);
        for inst in &all {
            let installed = [Installed::own(
                package.clone(),
                BundleLocator::Name(inst.name.clone()),
            )];
            let request = [Request::new(&package)];

            // Graph: the highest installable direct successor, else stay (if installable).
            let successors: Vec<Raw> = cat
                .successors(&package, inst)
                .iter()
                .map(|n| cat.raw(&package, n))
                .collect();
            let mut expected = highest(&installable_only(successors));
            if expected.is_empty() && inst.installable {
                expected = vec![inst.name.clone()];
            }
            let got = check(
                cat,
                &format!("installed {} (graph)", inst.name),
                &package,
                resolve(&cat.catalog, &request, &installed, &graph),
                &expected,
            );
            if let Some(got) = got {
                let v = &cat.raw(&package, &got).version;
                assert!(
                    v.cmp_precedence(&inst.version).is_ge(),
                    "{package}: downgrade from {} to {got}",
                    inst.name
                );
                if got == inst.name {
                    stayed += 1;
                } else {
                    moved += 1;
                }
            }

            // Semver: Masterminds v3.2.1 `^v, != v` (pre-release gate: pre-releases only
            // when the installed version is itself a pre-release).
            let caret: Vec<Raw> = all
                .iter()
                .filter(|b| {
                    let (v, i) = (&b.version, &inst.version);
                    let same_line = if i.major > 0 {
                        v.major == i.major
                    } else if i.minor > 0 {
                        v.major == 0 && v.minor == i.minor
                    } else {
                        false
                    };
                    let gate = v.pre.is_empty() || !i.pre.is_empty();
                    same_line && gate && v.cmp_precedence(i).is_gt()
                })
                .cloned()
                .collect();
            let mut expected = highest(&installable_only(caret));
            if expected.is_empty() && inst.installable {
                expected = vec![inst.name.clone()];
            }
            check(
                cat,
                &format!("installed {} (semver)", inst.name),
                &package,
                resolve(&cat.catalog, &request, &installed, &semver),
                &expected,
            );
        }
    }
    (moved, stayed)
}

#[test]
fn v4_15_upgrades_follow_edges_and_never_downgrade() {
    let (moved, stayed) = upgrades_follow_edges(v415());
    // Both outcomes occur in real catalogs; a resolver that always stays (or always moves)
    // fails here.
    assert!(moved > 50 && stayed > 5, "moved {moved}, stayed {stayed}");
}

#[test]
fn v4_22_upgrades_follow_edges_and_never_downgrade() {
    let (moved, stayed) = upgrades_follow_edges(v422());
    assert!(moved > 50 && stayed > 5, "moved {moved}, stayed {stayed}");
}
