//! Index databases built with the upstream schema, read back and converted to FBC.

use rusqlite::{Connection, params};
use sqlite_index::{Index, IndexError, schema};

fn csv(name: &str, version: &str, related: &str) -> String {
    format!(
        r#"{{"apiVersion":"operators.coreos.com/v1alpha1","kind":"ClusterServiceVersion","metadata":{{"name":"{name}"}},"spec":{{"version":"{version}","icon":[{{"base64data":"PHN2Zz48L3N2Zz4=","mediatype":"image/svg+xml"}}],"relatedImages":[{related}]}}}}"#
    )
}

fn add_bundle(conn: &Connection, name: &str, version: &str, path: &str, with_manifests: bool) {
    let csv = csv(
        name,
        version,
        r#"{"name":"operator","image":"quay.io/etcd/operator:v1"}"#,
    );
    let crd = r#"{"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition","metadata":{"name":"etcdclusters.etcd.database.coreos.com"}}"#;
    let bundle = if with_manifests {
        Some(format!("{crd}\n{csv}"))
    } else {
        None
    };
    conn.execute(
        "INSERT INTO operatorbundle (name, csv, bundle, bundlepath, version, skiprange) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![name, csv, bundle, path, version, if version == "0.9.4" { Some(">=0.9.0 <0.9.4") } else { None }],
    )
    .unwrap();
    for (t, v) in [
        (
            "olm.package",
            format!(r#"{{"packageName": "etcd", "version": "{version}"}}"#),
        ),
        (
            "olm.gvk",
            r#"{"group":"etcd.database.coreos.com","kind":"EtcdCluster","version":"v1beta2"}"#
                .to_string(),
        ),
    ] {
        conn.execute(
            "INSERT INTO properties (type, value, operatorbundle_name, operatorbundle_version, operatorbundle_path) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![t, v, name, version, path],
        )
        .unwrap();
    }
    conn.execute(
        "INSERT INTO dependencies (type, value, operatorbundle_name, operatorbundle_version, operatorbundle_path) VALUES ('olm.package', '{\"packageName\":\"other\",\"version\":\">=1.0.0\"}', ?1, ?2, ?3)",
        params![name, version, path],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO related_image (image, operatorbundle_name) VALUES (?1, ?2)",
        params![format!("quay.io/etcd/extra:{version}"), name],
    )
    .unwrap();
}

/// `etcd` with channel `alpha` = 0.9.4 (head) → 0.9.2 → 0.9.0, and 0.9.4 also skipping 0.9.0,
/// laid out as upstream's loader does: the head at depth 0, a dummy entry for the skipped
/// bundle plus a synthesized entry of the skipping bundle replacing it, then the real chain.
fn fixture() -> Connection {
    let conn = Connection::open_in_memory().unwrap();
    schema::create_latest(&conn).unwrap();
    add_bundle(
        &conn,
        "etcdoperator.v0.9.0",
        "0.9.0",
        "quay.io/etcd/bundle:0.9.0",
        false,
    );
    add_bundle(
        &conn,
        "etcdoperator.v0.9.2",
        "0.9.2",
        "quay.io/etcd/bundle:0.9.2",
        false,
    );
    add_bundle(
        &conn,
        "etcdoperator.v0.9.4",
        "0.9.4",
        "quay.io/etcd/bundle:0.9.4",
        true,
    );
    conn.execute_batch(
        r#"
        INSERT INTO channel (name, package_name, head_operatorbundle_name) VALUES ('alpha', 'etcd', 'etcdoperator.v0.9.4');
        INSERT INTO package (name, default_channel) VALUES ('etcd', 'alpha');
        INSERT INTO channel_entry (entry_id, channel_name, package_name, operatorbundle_name, replaces, depth) VALUES
            (1, 'alpha', 'etcd', 'etcdoperator.v0.9.4', 4, 0),
            (2, 'alpha', 'etcd', 'etcdoperator.v0.9.0', NULL, 1),
            (3, 'alpha', 'etcd', 'etcdoperator.v0.9.4', 2, 1),
            (4, 'alpha', 'etcd', 'etcdoperator.v0.9.2', 5, 2),
            (5, 'alpha', 'etcd', 'etcdoperator.v0.9.0', NULL, 3);
        "#,
    )
    .unwrap();
    conn
}

#[test]
fn lists_packages_and_bundles() {
    let index = Index::from_connection(fixture()).unwrap();
    let pkgs = index.packages().unwrap();
    assert_eq!(pkgs.len(), 1);
    assert_eq!(pkgs[0].default_channel, "alpha");
    assert_eq!(pkgs[0].channels[0].head, "etcdoperator.v0.9.4");
    let bundles = index.bundles().unwrap();
    let head = bundles
        .iter()
        .find(|b| b.name == "etcdoperator.v0.9.4")
        .unwrap();
    assert_eq!(head.replaces, "etcdoperator.v0.9.2");
    assert_eq!(head.skips, vec!["etcdoperator.v0.9.0".to_string()]);
    assert_eq!(head.skip_range, ">=0.9.0 <0.9.4");
    let tail = bundles
        .iter()
        .find(|b| b.name == "etcdoperator.v0.9.0")
        .unwrap();
    assert_eq!(tail.replaces, "");
    assert!(tail.skips.is_empty());
    assert_eq!(head.properties.len(), 2);
}

#[test]
fn converts_like_upstream_render() {
    let index = Index::from_connection(fixture()).unwrap();
    let cfg = index.to_declcfg().unwrap();
    let text = fbc::write::to_string(&cfg, fbc::Format::Yaml);
    // The package icon comes from the default channel head's CSV; entries are sorted by name;
    // properties sorted by (type, value) with objects last; extra related images appended.
    let expected_head = r#"---
image: quay.io/etcd/bundle:0.9.4
name: etcdoperator.v0.9.4
package: etcd
properties:
- type: olm.bundle.object
  value:
    data: eyJhcGlWZXJzaW9uIjoiYXBpZXh0ZW5zaW9ucy5rOHMuaW8vdjEiLCJraW5kIjoiQ3VzdG9tUmVzb3VyY2VEZWZpbml0aW9uIiwibWV0YWRhdGEiOnsibmFtZSI6ImV0Y2RjbHVzdGVycy5ldGNkLmRhdGFiYXNlLmNvcmVvcy5jb20ifX0=
"#;
    assert!(text.contains("schema: olm.package"), "{text}");
    assert!(text.contains("mediatype: image/svg+xml"), "{text}");
    assert!(text.contains(expected_head), "{text}");
    let ch = &cfg.channels[0];
    let names: Vec<&str> = ch.entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "etcdoperator.v0.9.0",
            "etcdoperator.v0.9.2",
            "etcdoperator.v0.9.4"
        ]
    );
    assert_eq!(ch.entries[2].skips, ["etcdoperator.v0.9.0"]);
    let b0 = cfg
        .bundles
        .iter()
        .find(|b| b.name == "etcdoperator.v0.9.0")
        .unwrap();
    let types: Vec<&str> = b0.properties.iter().map(|p| p.r#type.as_str()).collect();
    assert_eq!(types, ["olm.gvk", "olm.package", "olm.package.required"]);
    assert_eq!(
        b0.properties[1].value.get(),
        r#"{"packageName":"etcd","version":"0.9.0"}"#
    );
    assert_eq!(
        b0.properties[2].value.get(),
        r#"{"packageName":"other","versionRange":">=1.0.0"}"#
    );
    // The 0.9.0 row stores no manifests, so no CSV relatedImages: only the table's image.
    let imgs: Vec<&str> = b0.related_images.iter().map(|r| r.image.as_str()).collect();
    assert_eq!(imgs, ["quay.io/etcd/extra:0.9.0"]);
    let b4 = cfg
        .bundles
        .iter()
        .find(|b| b.name == "etcdoperator.v0.9.4")
        .unwrap();
    let imgs: Vec<&str> = b4.related_images.iter().map(|r| r.image.as_str()).collect();
    assert_eq!(
        imgs,
        ["quay.io/etcd/operator:v1", "quay.io/etcd/extra:0.9.4"]
    );
    // Sorted by type here; moving objects last is part of rendering, not of the conversion.
    assert_eq!(b4.properties[0].r#type, "olm.bundle.object");
    assert_eq!(b4.properties.len(), 5);
}

#[test]
fn deprecated_bundles_are_left_out_and_model_is_validated() {
    let conn = fixture();
    conn.execute_batch("PRAGMA foreign_keys = OFF").unwrap();
    conn.execute(
        "INSERT INTO properties (type, value, operatorbundle_name) VALUES ('olm.deprecated', '{}', 'etcdoperator.v0.9.0')",
        [],
    )
    .unwrap();
    let index = Index::from_connection(conn).unwrap();
    let cfg = index.to_declcfg().unwrap();
    assert!(cfg.bundles.iter().all(|b| b.name != "etcdoperator.v0.9.0"));

    let conn = fixture();
    conn.execute_batch("PRAGMA foreign_keys = OFF").unwrap();
    conn.execute(
        "UPDATE operatorbundle SET version = 'not-semver' WHERE name = 'etcdoperator.v0.9.2'",
        [],
    )
    .unwrap();
    let err = Index::from_connection(conn)
        .unwrap()
        .to_declcfg()
        .unwrap_err();
    assert!(
        err.to_string().starts_with(
            "populate channels: convert bundle \"etcdoperator.v0.9.2\": parse version \"not-semver\": "
        ),
        "{err}"
    );
}

#[test]
fn old_and_foreign_databases_are_refused() {
    let conn = Connection::open_in_memory().unwrap();
    conn.execute_batch("CREATE TABLE schema_migrations (version bigint NOT NULL); INSERT INTO schema_migrations VALUES (5);")
        .unwrap();
    let err = Index::from_connection(conn).err().unwrap();
    assert!(matches!(err, IndexError::OldSchema { .. }), "{err}");
    assert!(err.to_string().contains("migration 5"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let not_db = dir.path().join("index.db");
    std::fs::write(&not_db, "hello").unwrap();
    let err = Index::open(&not_db).err().unwrap();
    assert_eq!(
        err.to_string(),
        format!("{}: not an sqlite database", not_db.display())
    );

    let db = dir.path().join("real.db");
    let conn = Connection::open(&db).unwrap();
    schema::create_latest(&conn).unwrap();
    drop(conn);
    let index = Index::open(&db).unwrap();
    assert!(index.packages().unwrap().is_empty());
    assert!(index.to_declcfg().unwrap().is_empty());
}
