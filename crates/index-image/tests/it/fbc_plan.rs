//! The pure planning half of FBC `index add`/`rm`: graph edits, refusals, the minimal file
//! rewrite, and the serve-cache rule. No registry needed.

use std::collections::BTreeSet;

use fbc::{DeclarativeConfig, Format, ObjectProfile};
use index_image::drop_serve_cache;
use index_image::plan_rewrite;
use index_image::{AddOptions, BundleToAdd, Mode, add_bundles, object_profile};
use testenv::fixtures::corpus;

fn bundle(package: &str, version: &str) -> fbc::RegistryBundle {
    fbc::parse_bundle_dir(&corpus().join("bundles").join(package).join(version)).unwrap()
}

fn add(
    cfg: &mut DeclarativeConfig,
    bundles: &[(&str, &fbc::RegistryBundle)],
    options: AddOptions,
) -> Result<BTreeSet<String>, index_image::IndexImageError> {
    let adds: Vec<BundleToAdd<'_>> = bundles
        .iter()
        .map(|(image, bundle)| BundleToAdd { image, bundle })
        .collect();
    add_bundles(cfg, &adds, options)
}

#[test]
fn overwrite_latest_replaces_only_a_head() {
    let (b030, b031) = (bundle("kube-green", "0.3.0"), bundle("kube-green", "0.3.1"));
    let mut cfg = DeclarativeConfig::default();
    add(
        &mut cfg,
        &[("r/kg:0.3.0", &b030), ("r/kg:0.3.1", &b031)],
        AddOptions::default(),
    )
    .unwrap();
    fbc::convert_to_model(&cfg).unwrap();

    let err = add(
        &mut cfg.clone(),
        &[("r/kg:0.3.1-rebuilt", &b031)],
        AddOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with(
            "Bundle already added that provides package kube-green and csv kube-green.v0.3.1"
        ),
        "{err}"
    );
    let overwrite = AddOptions {
        overwrite_latest: true,
        ..Default::default()
    };
    let mut replaced = cfg.clone();
    add(&mut replaced, &[("r/kg:0.3.1-rebuilt", &b031)], overwrite).unwrap();
    fbc::convert_to_model(&replaced).unwrap();
    let images: Vec<&str> = replaced.bundles.iter().map(|b| b.image.as_str()).collect();
    assert_eq!(images, ["r/kg:0.3.0", "r/kg:0.3.1-rebuilt"]);

    let err = add(&mut cfg, &[("r/kg:0.3.0-rebuilt", &b030)], overwrite)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("Cannot overwrite a bundle that is not at the head of a channel using --overwrite-latest"),
        "{err}"
    );
}

#[test]
fn refusals_are_specific() {
    let b = bundle("kube-green", "0.3.0");
    let mut cfg = DeclarativeConfig::default();
    let err = add(&mut cfg, &[("a", &b), ("b", &b)], AddOptions::default())
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "bundle kube-green.v0.3.0 (package kube-green) is given twice in --bundles"
    );
    add(&mut cfg, &[("a", &b)], AddOptions::default()).unwrap();
    let semver = AddOptions {
        mode: Mode::Semver,
        ..Default::default()
    };
    let mut other = bundle("kube-green", "0.3.1");
    other.version = "0.3.0".into();
    other.name = "kube-green.v0.3.0-again".into();
    let err = add(&mut cfg, &[("c", &other)], semver)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("Bundle version 0.3.0 already added to index"),
        "{err}"
    );
    assert_eq!(
        Mode::parse("Semver-SkipPatch").unwrap(),
        Mode::SemverSkipPatch
    );
    assert_eq!(
        Mode::parse("latest").unwrap_err().to_string(),
        "Invalid channel update mode latest specified"
    );
}

#[test]
fn csv_metadata_catalogs_get_csv_metadata_bundles() {
    // The 4.22 catalogs carry olm.csv.metadata: a new package follows the catalog.
    let mut cfg = fbc::load_fs(&corpus().join("catalogs/v4.22/cat-facts-operator")).unwrap();
    assert_eq!(
        object_profile(&cfg, "cat-facts-operator"),
        ObjectProfile::CsvMetadata
    );
    assert_eq!(
        object_profile(&cfg, "kube-green"),
        ObjectProfile::CsvMetadata
    );
    let b = bundle("kube-green", "0.3.0");
    add(&mut cfg, &[("r/kg:0.3.0", &b)], AddOptions::default()).unwrap();
    fbc::convert_to_model(&cfg).unwrap();
    let added = cfg
        .bundles
        .iter()
        .find(|x| x.image == "r/kg:0.3.0")
        .unwrap();
    let types: BTreeSet<&str> = added.properties.iter().map(|p| p.r#type.as_str()).collect();
    assert!(types.contains("olm.csv.metadata"), "{types:?}");
    assert!(!types.contains("olm.bundle.object"), "{types:?}");
    // A catalog with bundle objects (4.15) keeps them.
    let kg = fbc::load_fs(&corpus().join("catalogs/v4.15/kube-green")).unwrap();
    assert_eq!(object_profile(&kg, "other"), ObjectProfile::BundleObjects);
}

#[test]
fn rewrite_touches_only_changed_packages() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    // kube-green alone in its own file; two packages sharing one file.
    let kg = fbc::load_fs(&corpus().join("catalogs/v4.15/kube-green")).unwrap();
    std::fs::create_dir_all(r.join("kube-green")).unwrap();
    std::fs::write(
        r.join("kube-green/catalog.yaml"),
        fbc::write::to_string(&kg, Format::Yaml),
    )
    .unwrap();
    std::fs::write(
        r.join("shared.json"),
        "{\"schema\":\"olm.package\",\"name\":\"a\",\"defaultChannel\":\"s\"}\n{\"schema\":\"olm.channel\",\"package\":\"a\",\"name\":\"s\",\"entries\":[{\"name\":\"a.v1\"}]}\n{\"schema\":\"olm.bundle\",\"package\":\"a\",\"name\":\"a.v1\",\"image\":\"r/a:1\",\"properties\":[{\"type\":\"olm.package\",\"value\":{\"packageName\":\"a\",\"version\":\"1.0.0\"}}]}\n{\"schema\":\"olm.package\",\"name\":\"b\",\"defaultChannel\":\"s\"}\n{\"schema\":\"olm.channel\",\"package\":\"b\",\"name\":\"s\",\"entries\":[{\"name\":\"b.v1\"}]}\n{\"schema\":\"olm.bundle\",\"package\":\"b\",\"name\":\"b.v1\",\"image\":\"r/b:1\",\"properties\":[{\"type\":\"olm.package\",\"value\":{\"packageName\":\"b\",\"version\":\"1.0.0\"}}]}\n",
    )
    .unwrap();
    let before = fbc::load_fs(r).unwrap();

    // Removing package a rewrites the shared file with b only; kube-green is untouched.
    let mut after = before.clone();
    let removed = index_image::remove_packages(&mut after, &["a".to_string()]);
    assert_eq!(removed, BTreeSet::from(["a".to_string()]));
    let rw = plan_rewrite(r, &before, &after, &removed, Format::Json).unwrap();
    assert!(rw.deletes.is_empty());
    assert_eq!(rw.writes.keys().collect::<Vec<_>>(), ["shared.json"]);
    let text = String::from_utf8(rw.writes["shared.json"].clone()).unwrap();
    assert!(
        text.contains("\"b.v1\"") && !text.contains("\"a.v1\""),
        "{text}"
    );

    // Changing kube-green rewrites its own file in its own format, nothing else.
    let mut after = before.clone();
    let b = bundle("kube-green", "0.7.1");
    let existing = after.bundles.iter().any(|x| x.name == "kube-green.v0.7.1");
    if !existing {
        let changed = add(&mut after, &[("r/kg:0.7.1", &b)], AddOptions::default()).unwrap();
        let rw = plan_rewrite(r, &before, &after, &changed, Format::Json).unwrap();
        assert_eq!(
            rw.writes.keys().collect::<Vec<_>>(),
            ["kube-green/catalog.yaml"]
        );
        assert!(rw.deletes.is_empty());
        let text = String::from_utf8(rw.writes["kube-green/catalog.yaml"].clone()).unwrap();
        assert!(
            text.starts_with("---\n") || text.starts_with("defaultChannel"),
            "YAML kept"
        );
        assert!(text.contains("r/kg:0.7.1"));
    }

    // Moving a shared package to a new file: b goes to b/catalog.json, shared.json keeps a.
    let mut after = before.clone();
    let c = bundle("cat-facts-operator", "1.0.0");
    let changed = add(&mut after, &[("r/cf:1.0.0", &c)], AddOptions::default()).unwrap();
    let rw = plan_rewrite(r, &before, &after, &changed, Format::Json).unwrap();
    assert_eq!(
        rw.writes.keys().collect::<Vec<_>>(),
        ["cat-facts-operator/catalog.json"]
    );
}

#[test]
fn stale_serve_cache_is_dropped_with_its_flags() {
    let cmd = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let (dirs, new) = drop_serve_cache(&cmd(&["serve", "/configs", "--cache-dir=/tmp/cache"]));
    assert_eq!(dirs, ["/tmp/cache"]);
    assert_eq!(new.unwrap(), cmd(&["serve", "/configs"]));
    let (dirs, new) = drop_serve_cache(&cmd(&[
        "serve",
        "/configs",
        "--cache-dir",
        "/var/cache/opm",
        "--cache-enforce-integrity=true",
    ]));
    assert_eq!(dirs, ["/tmp/cache", "/var/cache/opm"]);
    assert_eq!(new.unwrap(), cmd(&["serve", "/configs"]));
    let (dirs, new) = drop_serve_cache(&cmd(&["serve", "/configs"]));
    assert_eq!(dirs, ["/tmp/cache"]);
    assert!(new.is_none(), "a command without a cache is kept");
}
