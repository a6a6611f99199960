//! The index writer without upstream: each update mode, each error case with upstream's
//! message, removals, deprecation, migrations and the never-half-written guarantee.

use std::path::Path;

use rusqlite::Connection;
use serde_json::json;
use sqlite_index::{
    AddError, BundleAnnotations, BundleToAdd, Index, IndexWriter, Mode, TypedValue, WriteError,
};

use crate::write_support::{corpus_bundle, rows};

/// A minimal bundle: a CSV (with the given graph fields) providing one CRD.
fn bundle(
    name: &str,
    version: &str,
    replaces: &str,
    skips: &[&str],
    channels: &str,
    default_channel: &str,
) -> BundleToAdd {
    let mut spec = json!({
        "version": version,
        "customresourcedefinitions": {"owned": [{"name": "widgets.example.com", "version": "v1", "kind": "Widget"}]},
        "install": {"strategy": "deployment", "spec": {"deployments": [{"name": "op", "spec": {"template": {"spec": {"containers": [{"name": "op", "image": format!("example.com/op:{version}")}]}}}}]}},
        "relatedImages": [{"name": "extra", "image": "example.com/extra:1"}]
    });
    if !replaces.is_empty() {
        spec["replaces"] = json!(replaces);
    }
    if !skips.is_empty() {
        spec["skips"] = json!(skips);
    }
    let csv = json!({
        "apiVersion": "operators.coreos.com/v1alpha1",
        "kind": "ClusterServiceVersion",
        "metadata": {"name": name},
        "spec": spec
    });
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "names": {"kind": "Widget", "plural": "widgets"}, "versions": [{"name": "v1"}]}
    });
    let pkg = name.split(".v").next().unwrap().to_string();
    BundleToAdd::new(
        format!("example.com/{pkg}-bundle:{version}"),
        vec![crd, csv],
        BundleAnnotations {
            package: pkg.clone(),
            channels: BundleAnnotations::split_channels(channels),
            default_channel: default_channel.to_string(),
        },
        vec![TypedValue {
            r#type: "olm.package".to_string(),
            value: format!(r#"{{"packageName":"{pkg}","version":"{version}"}}"#),
        }],
        Vec::new(),
    )
    .unwrap()
}

fn with_image(mut b: BundleToAdd, image: &str) -> BundleToAdd {
    b.image = image.to_string();
    b
}

fn new_index(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("index.db");
    IndexWriter::create(&p).unwrap().commit().unwrap();
    p
}

/// Adds `bundles` in one call and commits; returns the error message on failure.
fn add(path: &Path, bundles: &[BundleToAdd], mode: Mode, overwrite: bool) -> Result<(), String> {
    let mut w = IndexWriter::open(path).unwrap();
    w.add_bundles(bundles, mode, overwrite)
        .map_err(|e| e.to_string())?;
    w.commit().unwrap();
    Ok(())
}

/// `(channel, head)` per channel and the default channel of `pkg`.
fn heads(path: &Path, pkg: &str) -> (Vec<(String, String)>, String) {
    let index = Index::open(path).unwrap();
    let p = index.package(pkg).unwrap();
    let mut chans: Vec<(String, String)> =
        p.channels.into_iter().map(|c| (c.name, c.head)).collect();
    chans.sort();
    (chans, p.default_channel)
}

/// The replaces chain of a channel from its head, by bundle name.
fn chain(path: &Path, pkg: &str, channel: &str) -> Vec<String> {
    let conn = Connection::open(path).unwrap();
    rows(
        &conn,
        &format!(
            "SELECT e.depth, e.operatorbundle_name, r.operatorbundle_name FROM channel_entry e LEFT JOIN channel_entry r ON e.replaces = r.entry_id WHERE e.package_name = '{pkg}' AND e.channel_name = '{channel}'"
        ),
    )
}

#[test]
fn replaces_mode_builds_channels_from_replaces_and_skips() {
    let d = tempfile::tempdir().unwrap();
    let db = new_index(d.path());
    add(
        &db,
        &[
            bundle("w.v1.0.0", "1.0.0", "", &[], "stable", "stable"),
            bundle("w.v1.1.0", "1.1.0", "w.v1.0.0", &[], "stable", "stable"),
            bundle(
                "w.v1.2.0",
                "1.2.0",
                "w.v1.1.0",
                &["w.v1.0.0"],
                "stable,fast",
                "stable",
            ),
        ],
        Mode::Replaces,
        false,
    )
    .unwrap();
    assert_eq!(
        heads(&db, "w"),
        (
            vec![
                ("fast".to_string(), "w.v1.2.0".to_string()),
                ("stable".to_string(), "w.v1.2.0".to_string())
            ],
            "stable".to_string()
        )
    );
    // Head at depth 0; a skip gives a dummy entry of the skipped bundle plus a synthesized
    // entry of the skipper replacing it; the replaces chain follows the CSVs.
    let expected = [
        "int:0 | text:w.v1.2.0 | text:w.v1.1.0",
        "int:1 | text:w.v1.0.0 | NULL",
        "int:1 | text:w.v1.2.0 | text:w.v1.0.0",
        "int:2 | text:w.v1.1.0 | text:w.v1.0.0",
        "int:3 | text:w.v1.0.0 | NULL",
    ];
    assert_eq!(chain(&db, "w", "stable"), expected);
    // The chain is walked from the head in every channel, whatever the older bundles'
    // channel annotations say.
    assert_eq!(chain(&db, "w", "fast"), expected);
    let rendered = Index::open(&db).unwrap().to_declcfg().unwrap();
    let stable = rendered
        .channels
        .iter()
        .find(|c| c.name == "stable")
        .unwrap();
    let head = stable
        .entries
        .iter()
        .find(|e| e.name == "w.v1.2.0")
        .unwrap();
    assert_eq!(head.replaces, "w.v1.1.0");
    assert_eq!(head.skips, vec!["w.v1.0.0".to_string()]);
    let conn = Connection::open(&db).unwrap();
    let provided = rows(
        &conn,
        "SELECT group_name, version, kind, operatorbundle_name FROM api_provider",
    );
    assert_eq!(provided.len(), 3);
    let related = rows(
        &conn,
        "SELECT image FROM related_image WHERE operatorbundle_name = 'w.v1.2.0'",
    );
    assert_eq!(
        related,
        [
            "text:example.com/extra:1",
            "text:example.com/op:1.2.0",
            "text:example.com/w-bundle:1.2.0"
        ]
    );
}

#[test]
fn replaces_mode_error_cases() {
    type Case = (
        &'static str,
        Vec<BundleToAdd>,
        Vec<BundleToAdd>,
        &'static str,
    );
    let cases: Vec<Case> = vec![
        (
            "same image again",
            vec![bundle("w.v1.0.0", "1.0.0", "", &[], "stable", "")],
            vec![bundle("w.v1.0.0", "1.0.0", "", &[], "stable", "")],
            "Bundle example.com/w-bundle:1.0.0 already exists",
        ),
        (
            "same csv, other image",
            vec![bundle("w.v1.0.0", "1.0.0", "", &[], "stable", "")],
            vec![with_image(
                bundle("w.v1.0.0", "1.0.0", "", &[], "stable", ""),
                "example.com/other:1",
            )],
            "Bundle already added that provides package and csv",
        ),
        (
            "replaces a bundle not in the index",
            vec![],
            vec![bundle("w.v1.1.0", "1.1.0", "w.v1.0.0", &[], "stable", "")],
            "Invalid bundle w.v1.1.0, replaces nonexistent bundle w.v1.0.0",
        ),
        (
            "two bundles with the highest version",
            vec![],
            vec![
                bundle("w.v1.0.0", "1.0.0", "", &[], "stable", ""),
                with_image(bundle("w.v1.0.0-b", "1.0.0", "", &[], "beta", ""), "x/y:1"),
            ],
            "more than one bundle with maximum version 1.0.0",
        ),
        (
            "default channel among none of the channels",
            vec![],
            vec![bundle("w.v1.0.0", "1.0.0", "", &[], "stable", "missing")],
            "unable to determine default channel among channel heads: map[stable:{name:w.v1.0.0 version:{Major:1 Minor:0 Patch:0 Pre:[] Build:[]} count:1}]",
        ),
        (
            "a lower version without an edge is pruned",
            vec![bundle("w.v1.1.0", "1.1.0", "", &[], "stable", "")],
            vec![bundle("w.v1.0.0", "1.0.0", "", &[], "stable", "")],
            "add prunes bundle w.v1.0.0 (example.com/w-bundle:1.0.0) from package w, channel stable: this may be due to incorrect channel head (w.v1.1.0, skips/replaces []).",
        ),
        (
            "edge into another package of the request",
            vec![],
            vec![
                bundle("w.v1.0.0", "1.0.0", "", &[], "stable", ""),
                bundle("z.v1.0.0", "1.0.0", "w.v1.0.0", &[], "stable", ""),
            ],
            "bundle w.v1.0.0 must belong to exactly one package, found on: [w z]",
        ),
        (
            "edge into another package of the index",
            vec![bundle("w.v1.0.0", "1.0.0", "", &[], "stable", "")],
            vec![bundle("z.v1.0.0", "1.0.0", "", &["w.v1.0.0"], "stable", "")],
            "bundle w.v1.0.0 belongs to package w on index, cannot be added as an edge for package z",
        ),
    ];
    for (name, first, second, expected) in cases {
        let d = tempfile::tempdir().unwrap();
        let db = new_index(d.path());
        if !first.is_empty() {
            add(&db, &first, Mode::Replaces, false).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        let before = std::fs::read(&db).unwrap();
        let err = add(&db, &second, Mode::Replaces, false).expect_err(name);
        assert!(err.contains(expected), "{name}: {err}");
        // A failed add leaves the index untouched.
        assert_eq!(std::fs::read(&db).unwrap(), before, "{name}: index changed");
    }
}

#[test]
fn substitutes_for_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let db = new_index(d.path());
    let mut b = bundle("w.v1.0.0", "1.0.0", "", &[], "stable", "");
    b.substitutes_for = "w.v0.9.0".to_string();
    let err = add(&db, &[b], Mode::Replaces, false).unwrap_err();
    assert!(
        err.starts_with("SubstitutesFor is an alpha-only feature"),
        "{err}"
    );
}

#[test]
fn overwrite_latest_replaces_only_channel_heads() {
    let d = tempfile::tempdir().unwrap();
    let db = new_index(d.path());
    add(
        &db,
        &[
            bundle("w.v1.0.0", "1.0.0", "", &[], "stable", ""),
            bundle("w.v1.1.0", "1.1.0", "w.v1.0.0", &[], "stable", ""),
        ],
        Mode::Replaces,
        false,
    )
    .unwrap();
    // The head can be overwritten by a rebuilt image.
    let rebuilt = with_image(
        bundle("w.v1.1.0", "1.1.0", "w.v1.0.0", &[], "stable", ""),
        "example.com/w-bundle:1.1.0-rebuilt",
    );
    add(&db, &[rebuilt], Mode::Replaces, true).unwrap();
    let conn = Connection::open(&db).unwrap();
    assert_eq!(
        rows(
            &conn,
            "SELECT bundlepath FROM operatorbundle WHERE name = 'w.v1.1.0'"
        ),
        ["text:example.com/w-bundle:1.1.0-rebuilt"]
    );
    drop(conn);
    // A bundle below the head cannot.
    let below = with_image(
        bundle("w.v1.0.0", "1.0.0", "", &[], "stable", ""),
        "example.com/w-bundle:1.0.0-rebuilt",
    );
    let err = add(&db, &[below], Mode::Replaces, true).unwrap_err();
    assert_eq!(
        err,
        "Cannot overwrite a bundle that is not at the head of a channel using --overwrite-latest"
    );
    // Without the flag the same CSV is refused.
    let again = with_image(
        bundle("w.v1.1.0", "1.1.0", "w.v1.0.0", &[], "stable", ""),
        "example.com/w-bundle:1.1.0-third",
    );
    let err = add(&db, &[again], Mode::Replaces, false).unwrap_err();
    assert_eq!(err, "Bundle already added that provides package and csv");
}

#[test]
fn semver_mode_orders_by_version_and_clears_non_heads() {
    let d = tempfile::tempdir().unwrap();
    let db = new_index(d.path());
    for v in ["1.1.0", "1.0.0", "1.2.0"] {
        add(
            &db,
            &[bundle(&format!("w.v{v}"), v, "", &[], "stable", "")],
            Mode::Semver,
            false,
        )
        .unwrap();
    }
    assert_eq!(
        heads(&db, "w"),
        (
            vec![("stable".to_string(), "w.v1.2.0".to_string())],
            "stable".to_string()
        )
    );
    assert_eq!(
        chain(&db, "w", "stable"),
        [
            "int:0 | text:w.v1.2.0 | text:w.v1.1.0",
            "int:1 | text:w.v1.1.0 | text:w.v1.0.0",
            "int:2 | text:w.v1.0.0 | NULL",
        ]
    );
    let conn = Connection::open(&db).unwrap();
    assert_eq!(
        rows(
            &conn,
            "SELECT name FROM operatorbundle WHERE csv IS NULL AND bundle IS NULL"
        ),
        ["text:w.v1.0.0", "text:w.v1.1.0"]
    );
}

#[test]
fn semver_mode_error_cases() {
    let cases: Vec<(&str, BundleToAdd, &str)> = vec![
        (
            "same version, other image",
            with_image(
                bundle("w.v1.0.0-r", "1.0.0", "", &[], "stable", ""),
                "x/y:2",
            ),
            "Bundle version 1.0.0 already added to index",
        ),
        (
            "not a semver version",
            bundle("w.v1", "1.0", "", &[], "stable", ""),
            "Bundle version 1.0 is not valid",
        ),
    ];
    for (name, b, expected) in cases {
        let d = tempfile::tempdir().unwrap();
        let db = new_index(d.path());
        add(
            &db,
            &[bundle("w.v1.0.0", "1.0.0", "", &[], "stable", "")],
            Mode::Semver,
            false,
        )
        .unwrap();
        let err = add(&db, &[b], Mode::Semver, false).expect_err(name);
        assert_eq!(err, expected, "{name}");
    }
    let d = tempfile::tempdir().unwrap();
    let db = new_index(d.path());
    let err = add(
        &db,
        &[bundle("w.v1.0.0", "1.0.0", "", &[], "", "")],
        Mode::Semver,
        false,
    )
    .unwrap_err();
    assert_eq!(err, "Default channel is missing and can't be inferred");
}

#[test]
fn semver_skippatch_replaces_lower_patches() {
    let d = tempfile::tempdir().unwrap();
    let db = new_index(d.path());
    for v in ["1.0.0", "1.0.1", "1.0.2"] {
        add(
            &db,
            &[bundle(&format!("w.v{v}"), v, "", &[], "stable", "")],
            Mode::SemverSkipPatch,
            false,
        )
        .unwrap();
    }
    // 1.0.2 replaces 1.0.1 (its greatest lower version) and skips 1.0.0; the skipped patches
    // leave the node set, so they appear only as synthetic entries.
    let rendered = Index::open(&db).unwrap().to_declcfg().unwrap();
    let stable = &rendered.channels[0];
    let head = stable
        .entries
        .iter()
        .find(|e| e.name == "w.v1.0.2")
        .unwrap();
    let mut edges: Vec<String> = head.skips.clone();
    edges.push(head.replaces.clone());
    edges.retain(|e| !e.is_empty());
    edges.sort();
    assert_eq!(edges, ["w.v1.0.0", "w.v1.0.1"]);
}

#[test]
fn corpus_bundles_in_replaces_mode_render() {
    let d = tempfile::tempdir().unwrap();
    let db = new_index(d.path());
    let bundles: Vec<BundleToAdd> = ["0.3.0", "0.3.1", "0.4.0"]
        .iter()
        .map(|v| corpus_bundle("kube-green", v, &format!("quay.io/kube-green/bundle:{v}")))
        .collect();
    add(&db, &bundles, Mode::Replaces, false).unwrap();
    let cfg = Index::open(&db).unwrap().to_declcfg().unwrap();
    assert_eq!(cfg.packages[0].default_channel, "alpha");
    assert_eq!(cfg.bundles.len(), 3);
    let conn = Connection::open(&db).unwrap();
    // Manifests are stored as upstream stores them: BLOBs of JSON lines.
    assert_eq!(
        rows(
            &conn,
            "SELECT DISTINCT typeof(csv), typeof(bundle) FROM operatorbundle"
        ),
        ["text:blob | text:blob"]
    );
}

fn populated(dir: &Path) -> std::path::PathBuf {
    let db = new_index(dir);
    add(
        &db,
        &[
            bundle("w.v1.0.0", "1.0.0", "", &[], "stable", ""),
            bundle("w.v1.1.0", "1.1.0", "w.v1.0.0", &[], "stable", ""),
            bundle("w.v1.2.0", "1.2.0", "w.v1.1.0", &[], "stable", ""),
            bundle("z.v2.0.0", "2.0.0", "", &[], "alpha", ""),
        ],
        Mode::Replaces,
        false,
    )
    .unwrap();
    db
}

#[test]
fn remove_and_prune_packages() {
    let d = tempfile::tempdir().unwrap();
    let db = populated(d.path());
    let mut w = IndexWriter::open(&db).unwrap();
    w.remove_packages(&["z"]).unwrap();
    let err = w.remove_packages(&["nope"]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "error deleting packages from database: error removing operator package nope: no package found for packagename nope"
    );
    w.commit().unwrap();
    let index = Index::open(&db).unwrap();
    assert_eq!(index.package_names().unwrap(), ["w"]);
    drop(index);

    let d = tempfile::tempdir().unwrap();
    let db = populated(d.path());
    let mut w = IndexWriter::open(&db).unwrap();
    w.prune(&["z"]).unwrap();
    w.commit().unwrap();
    let conn = Connection::open(&db).unwrap();
    assert_eq!(
        rows(&conn, "SELECT name FROM operatorbundle"),
        ["text:z.v2.0.0"]
    );
    assert!(
        rows(
            &conn,
            "SELECT * FROM api_provider WHERE operatorbundle_name LIKE 'w.%'"
        )
        .is_empty()
    );
}

#[test]
fn deprecate_truncate_cuts_the_channel_below() {
    let d = tempfile::tempdir().unwrap();
    let db = populated(d.path());
    let mut w = IndexWriter::open(&db).unwrap();
    let err = w
        .deprecate_truncate(&["example.com/nope:1"], false)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "target bundlepaths for deprecation missing from registry: [example.com/nope:1]"
    );
    let err = w
        .deprecate_truncate(&["example.com/w-bundle:1.2.0"], false)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "error deprecating bundle example.com/w-bundle:1.2.0: Bundle deprecation causing default channel removal"
    );
    w.deprecate_truncate(&["example.com/w-bundle:1.1.0"], false)
        .unwrap();
    w.commit().unwrap();
    let conn = Connection::open(&db).unwrap();
    assert_eq!(rows(&conn, "SELECT * FROM deprecated"), ["text:w.v1.1.0"]);
    assert_eq!(
        rows(
            &conn,
            "SELECT name FROM operatorbundle WHERE name LIKE 'w.%'"
        ),
        ["text:w.v1.1.0", "text:w.v1.2.0"]
    );
    drop(conn);
    // The deprecated bundle is left out of the rendered catalog.
    let cfg = Index::open(&db).unwrap().to_declcfg().unwrap();
    let names: Vec<&str> = cfg.bundles.iter().map(|b| b.name.as_str()).collect();
    assert!(
        !names.contains(&"w.v1.1.0") && names.contains(&"w.v1.2.0"),
        "{names:?}"
    );

    // With package removal, listing every channel head removes the package.
    let d = tempfile::tempdir().unwrap();
    let db = populated(d.path());
    let mut w = IndexWriter::open(&db).unwrap();
    w.deprecate_truncate(&["example.com/z-bundle:2.0.0"], true)
        .unwrap();
    w.commit().unwrap();
    assert_eq!(Index::open(&db).unwrap().package_names().unwrap(), ["w"]);
}

#[test]
fn prune_stranded_removes_bundles_without_entries() {
    let d = tempfile::tempdir().unwrap();
    let db = new_index(d.path());
    add(
        &db,
        &[bundle("w.v1.0.0", "1.0.0", "", &[], "stable", "")],
        Mode::Replaces,
        false,
    )
    .unwrap();
    // 1.1.0 does not replace 1.0.0: 1.0.0 leaves the channel but keeps its row.
    add(
        &db,
        &[bundle("w.v1.1.0", "1.1.0", "", &[], "stable", "")],
        Mode::Replaces,
        false,
    )
    .unwrap();
    let count = |db: &Path| {
        Connection::open(db)
            .unwrap()
            .query_row("SELECT count(*) FROM operatorbundle", [], |r| {
                r.get::<_, i64>(0)
            })
            .unwrap()
    };
    assert_eq!(count(&db), 2);
    let mut w = IndexWriter::open(&db).unwrap();
    w.prune_stranded().unwrap();
    w.commit().unwrap();
    assert_eq!(count(&db), 1);
}

#[test]
fn uncommitted_writer_leaves_no_trace() {
    let d = tempfile::tempdir().unwrap();
    let db = populated(d.path());
    let before = std::fs::read(&db).unwrap();
    {
        let mut w = IndexWriter::open(&db).unwrap();
        w.remove_packages(&["w"]).unwrap();
        // Readable before commit, the target untouched.
        assert_eq!(w.read().unwrap().package_names().unwrap(), ["z"]);
        assert_eq!(std::fs::read(&db).unwrap(), before);
    }
    assert_eq!(std::fs::read(&db).unwrap(), before);
    let left: Vec<_> = std::fs::read_dir(d.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, [std::ffi::OsString::from("index.db")]);
}

#[test]
fn create_refuses_existing_and_open_refuses_non_sqlite() {
    let d = tempfile::tempdir().unwrap();
    let db = new_index(d.path());
    assert!(matches!(
        IndexWriter::create(&db),
        Err(WriteError::Exists { .. })
    ));
    let junk = d.path().join("junk.db");
    std::fs::write(&junk, "not a database").unwrap();
    assert!(matches!(
        IndexWriter::open(&junk),
        Err(WriteError::NotSqlite { .. })
    ));
    assert!(matches!(
        IndexWriter::open(&d.path().join("missing.db")),
        Err(WriteError::Io { .. })
    ));
}

#[test]
fn old_databases_are_migrated_with_backfills() {
    let d = tempfile::tempdir().unwrap();
    let db = d.path().join("old.db");
    crate::write_support::write_v4_index(&db);
    IndexWriter::open(&db).unwrap().commit().unwrap();
    let conn = Connection::open(&db).unwrap();
    assert_eq!(
        rows(&conn, "SELECT version FROM schema_migrations"),
        ["int:13"]
    );
    // 007 backfilled replaces (first replacee by depth) and skips from the channel entries.
    assert_eq!(
        rows(
            &conn,
            "SELECT name, replaces, skips FROM operatorbundle WHERE name IS NOT NULL"
        ),
        [
            "text:w.v1.0.0 | text: | text:",
            "text:w.v1.1.0 | text:w.v1.0.0 | text:w.v0.9.0"
        ]
    );
    // 005 inserts name-less rows with the versions instead of updating the bundles (upstream).
    assert_eq!(
        rows(
            &conn,
            "SELECT version, skiprange FROM operatorbundle WHERE name IS NULL"
        ),
        ["text:1.0.0 | text:<1.0.0", "text:1.1.0 | text:<1.1.0"]
    );
    // 006 re-keyed the API rows by bundle; 008 and 009 derived dependencies and properties.
    assert_eq!(
        rows(
            &conn,
            "SELECT group_name, kind, operatorbundle_name FROM api_provider"
        ),
        [
            "text:example.com | text:Widget | text:w.v1.0.0",
            "text:example.com | text:Widget | text:w.v1.1.0"
        ]
    );
    assert_eq!(
        rows(&conn, "SELECT type FROM dependencies"),
        ["text:olm.gvk"]
    );
    assert_eq!(
        rows(&conn, "SELECT DISTINCT type FROM properties"),
        ["text:olm.gvk", "text:olm.package"]
    );
    assert_eq!(
        rows(
            &conn,
            "SELECT name FROM sqlite_master WHERE type = 'trigger'"
        ),
        ["text:api_provider_cleanup", "text:api_requirer_cleanup"]
    );
}

#[test]
fn v0_database_with_bundles_fails_migration_004_like_upstream() {
    // Migration 004 renames tables with foreign keys enforced (its PRAGMA is a no-op inside
    // the migration transaction), so dropping the renamed parents violates the references
    // SQLite rewrote; upstream fails the same way.
    let d = tempfile::tempdir().unwrap();
    let db = d.path().join("old.db");
    crate::write_support::write_v0_index(&db);
    let before = std::fs::read(&db).unwrap();
    let err = IndexWriter::open(&db).err().unwrap();
    assert_eq!(
        err.to_string(),
        "migration 4: FOREIGN KEY constraint failed"
    );
    assert_eq!(std::fs::read(&db).unwrap(), before);
}

#[test]
fn mode_parsing_is_case_insensitive() {
    assert_eq!("SemVer".parse::<Mode>().unwrap(), Mode::Semver);
    assert_eq!(
        "semver-skippatch".parse::<Mode>().unwrap(),
        Mode::SemverSkipPatch
    );
    assert_eq!(
        "latest".parse::<Mode>().unwrap_err().to_string(),
        "Invalid channel update mode latest specified"
    );
    // Errors carry upstream's phrasing through the aggregate too.
    let agg = AddError::Upstream("a".into());
    assert_eq!(agg.to_string(), "a");
}
