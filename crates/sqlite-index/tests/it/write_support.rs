//! Helpers shared by the writer tests: corpus bundles, table dumps for comparisons.

use std::path::Path;

use rusqlite::Connection;
use sqlite_index::BundleToAdd;
pub(crate) use testenv::fixtures::corpus_bundle as bundle_dir;

/// A corpus bundle directory as a bundle to add, with `image` as its pull spec.
pub(crate) fn corpus_bundle(pkg: &str, version: &str, image: &str) -> BundleToAdd {
    let dir = bundle_dir(pkg, version);
    let parsed = fbc::parse_bundle_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    BundleToAdd::from_registry_bundle(&parsed, image).unwrap()
}

fn cell(v: rusqlite::types::ValueRef<'_>) -> String {
    use rusqlite::types::ValueRef;
    match v {
        ValueRef::Null => "NULL".to_string(),
        ValueRef::Integer(i) => format!("int:{i}"),
        ValueRef::Real(f) => format!("real:{f}"),
        // Whitespace-normalized: sqlite_master keeps each CREATE statement's layout verbatim.
        ValueRef::Text(t) => format!(
            "text:{}",
            String::from_utf8_lossy(t)
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        ),
        ValueRef::Blob(b) => format!("blob:{}", String::from_utf8_lossy(b)),
    }
}

/// Sorted rows of `sql`, each cell with its storage class.
pub(crate) fn rows(conn: &Connection, sql: &str) -> Vec<String> {
    let mut stmt = conn.prepare(sql).unwrap();
    let n = stmt.column_count();
    let mut out: Vec<String> = stmt
        .query_map([], |r| {
            Ok((0..n)
                .map(|i| cell(r.get_ref(i).unwrap()))
                .collect::<Vec<_>>()
                .join(" | "))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    out.sort();
    out
}

/// Every table of an index, normalized so that two equivalent indexes compare equal:
/// channel entries by bundle names (entry ids differ with upstream's map order); with
/// `entry_depths` false also without depths (semver modes place synthetic entries in map
/// order).
pub(crate) fn dump(path: &Path, entry_depths: bool) -> Vec<(String, Vec<String>)> {
    let conn = Connection::open(path).unwrap();
    let entries = if entry_depths {
        "SELECT e.channel_name, e.package_name, e.operatorbundle_name, e.depth, r.operatorbundle_name FROM channel_entry e LEFT JOIN channel_entry r ON e.replaces = r.entry_id"
    } else {
        "SELECT e.channel_name, e.package_name, e.operatorbundle_name, r.operatorbundle_name FROM channel_entry e LEFT JOIN channel_entry r ON e.replaces = r.entry_id"
    };
    [
        ("schema_migrations", "SELECT version FROM schema_migrations"),
        (
            "operatorbundle",
            "SELECT name, csv, bundle, bundlepath, skiprange, version, replaces, skips, substitutesfor FROM operatorbundle",
        ),
        ("package", "SELECT * FROM package"),
        ("channel", "SELECT * FROM channel"),
        ("channel_entry", entries),
        ("api", "SELECT * FROM api"),
        ("api_provider", "SELECT * FROM api_provider"),
        ("api_requirer", "SELECT * FROM api_requirer"),
        ("related_image", "SELECT * FROM related_image"),
        ("dependencies", "SELECT * FROM dependencies"),
        ("properties", "SELECT * FROM properties"),
        ("deprecated", "SELECT * FROM deprecated"),
        (
            "schema",
            "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'",
        ),
    ]
    .into_iter()
    .map(|(t, sql)| (t.to_string(), rows(&conn, sql)))
    .collect()
}

/// Asserts two dumps are equal, naming the first differing table and rows.
pub(crate) fn assert_same_tables(what: &str, ours: &Path, theirs: &Path, entry_depths: bool) {
    let a = dump(ours, entry_depths);
    let b = dump(theirs, entry_depths);
    for ((t, ra), (_, rb)) in a.iter().zip(b.iter()) {
        if ra != rb {
            let only_ours: Vec<&String> = ra.iter().filter(|r| !rb.contains(r)).collect();
            let only_theirs: Vec<&String> = rb.iter().filter(|r| !ra.contains(r)).collect();
            panic!(
                "{what}: table {t} differs\n  only ours ({}): {:#?}\n  only upstream ({}): {:#?}",
                only_ours.len(),
                only_ours.iter().take(6).collect::<Vec<_>>(),
                only_theirs.len(),
                only_theirs.iter().take(6).collect::<Vec<_>>()
            );
        }
    }
}

/// An index as opm wrote it at migration 000: one bundle in one channel.
pub(crate) fn write_v0_index(path: &Path) {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(
        "PRAGMA foreign_keys = OFF;
         CREATE TABLE schema_migrations (version bigint NOT NULL, timestamp DATETIME DEFAULT CURRENT_TIMESTAMP);
         INSERT INTO schema_migrations(version) VALUES (0);
         CREATE TABLE operatorbundle (name TEXT PRIMARY KEY, csv TEXT UNIQUE, bundle TEXT);
         CREATE TABLE package (name TEXT PRIMARY KEY, default_channel TEXT, FOREIGN KEY(name, default_channel) REFERENCES channel(package_name,name));
         CREATE TABLE channel (name TEXT, package_name TEXT, head_operatorbundle_name TEXT, PRIMARY KEY(name, package_name), FOREIGN KEY(package_name) REFERENCES package(name), FOREIGN KEY(head_operatorbundle_name) REFERENCES operatorbundle(name));
         CREATE TABLE channel_entry (entry_id INTEGER PRIMARY KEY, channel_name TEXT, package_name TEXT, operatorbundle_name TEXT, replaces INTEGER, depth INTEGER, FOREIGN KEY(replaces) REFERENCES channel_entry(entry_id) DEFERRABLE INITIALLY DEFERRED, FOREIGN KEY(channel_name, package_name) REFERENCES channel(name, package_name));
         CREATE TABLE api (group_name TEXT, version TEXT, kind TEXT, plural TEXT NOT NULL, PRIMARY KEY(group_name, version, kind));
         CREATE TABLE api_provider (group_name TEXT, version TEXT, kind TEXT, channel_entry_id INTEGER, FOREIGN KEY(channel_entry_id) REFERENCES channel_entry(entry_id), FOREIGN KEY(group_name, version, kind) REFERENCES api(group_name, version, kind));",
    )
    .unwrap();
    let csv = r#"{"kind":"ClusterServiceVersion","metadata":{"name":"w.v1.0.0","annotations":{"olm.skipRange":"<1.0.0"}},"spec":{"version":"1.0.0","install":{"strategy":"deployment","spec":{"deployments":[{"name":"op","spec":{"template":{"spec":{"containers":[{"name":"op","image":"example.com/op:1"}]}}}}]}},"relatedImages":[{"name":"x","image":"example.com/x:1"}],"customresourcedefinitions":{"required":[{"name":"gadgets.example.com","version":"v1","kind":"Gadget"}]}}}"#;
    conn.execute(
        "INSERT INTO operatorbundle(name, csv, bundle) VALUES ('w.v1.0.0', ?1, ?1)",
        [csv],
    )
    .unwrap();
    conn.execute_batch(
        "INSERT INTO package VALUES ('w', 'stable');
         INSERT INTO channel VALUES ('stable', 'w', 'w.v1.0.0');
         INSERT INTO channel_entry VALUES (1, 'stable', 'w', 'w.v1.0.0', NULL, 0);",
    )
    .unwrap();
}

/// An index as opm left it at migration 004 (cascading deletes, before versions, properties
/// and dependencies): package `w` with channel `stable` = w.v1.1.0 → w.v1.0.0, 1.1.0 also
/// skipping w.v0.9.0, one provided and one required API, related images.
pub(crate) fn write_v4_index(path: &Path) {
    let mut conn = Connection::open(path).unwrap();
    let tx = conn.transaction().unwrap();
    sqlite_index::migrate::migrate_to(&tx, 4).unwrap();
    tx.execute_batch("PRAGMA defer_foreign_keys = ON").unwrap();
    let csv = |name: &str, version: &str, replaces: &str| {
        format!(
            r#"{{"kind":"ClusterServiceVersion","metadata":{{"name":"{name}","annotations":{{"olm.skipRange":"<{version}"}}}},"spec":{{"version":"{version}","replaces":"{replaces}","relatedImages":[{{"name":"x","image":"example.com/x:{version}"}}]}}}}"#
        )
    };
    for (name, version, replaces) in [("w.v1.0.0", "1.0.0", ""), ("w.v1.1.0", "1.1.0", "w.v1.0.0")]
    {
        let c = csv(name, version, replaces);
        tx.execute(
            "INSERT INTO operatorbundle(name, csv, bundle, bundlepath) VALUES (?1, ?2, ?2, ?3)",
            [name, &c, &format!("example.com/w:{version}")],
        )
        .unwrap();
        tx.execute(
            "INSERT INTO related_image VALUES (?1, ?2)",
            [&format!("example.com/x:{version}"), name],
        )
        .unwrap();
    }
    tx.execute_batch(
        "PRAGMA defer_foreign_keys = ON;
         INSERT INTO package VALUES ('w', 'stable');
         INSERT INTO channel VALUES ('stable', 'w', 'w.v1.1.0');
         INSERT INTO channel_entry VALUES (1, 'stable', 'w', 'w.v1.1.0', 3, 0);
         INSERT INTO channel_entry VALUES (2, 'stable', 'w', 'w.v0.9.0', NULL, 1);
         INSERT INTO channel_entry VALUES (3, 'stable', 'w', 'w.v1.1.0', 2, 1);
         INSERT INTO channel_entry VALUES (4, 'stable', 'w', 'w.v1.0.0', NULL, 2);
         UPDATE channel_entry SET replaces = 4 WHERE entry_id = 1;
         INSERT INTO api VALUES ('example.com', 'v1', 'Widget', 'widgets');
         INSERT INTO api VALUES ('example.com', 'v1', 'Gadget', 'gadgets');
         INSERT INTO api_provider VALUES ('example.com', 'v1', 'Widget', 1);
         INSERT INTO api_provider VALUES ('example.com', 'v1', 'Widget', 4);
         INSERT INTO api_requirer VALUES ('example.com', 'v1', 'Gadget', 1);",
    )
    .unwrap();
    tx.commit().unwrap();
}

/// An index as opm left it at migration 006 (APIs keyed by bundle, before replaces/skips
/// columns, dependencies and properties): package `w`, channel `stable` = w.v1.1.0 → w.v1.0.0,
/// 1.1.0 also skipping w.v0.9.0.
pub(crate) fn write_v6_index(path: &Path) {
    let mut conn = Connection::open(path).unwrap();
    let tx = conn.transaction().unwrap();
    sqlite_index::migrate::migrate_to(&tx, 6).unwrap();
    tx.execute_batch("PRAGMA defer_foreign_keys = ON").unwrap();
    for (name, version) in [("w.v1.0.0", "1.0.0"), ("w.v1.1.0", "1.1.0")] {
        let c = format!(
            r#"{{"kind":"ClusterServiceVersion","metadata":{{"name":"{name}"}},"spec":{{"version":"{version}"}}}}"#
        );
        tx.execute(
            "INSERT INTO operatorbundle(name, csv, bundle, bundlepath, version, skiprange) VALUES (?1, ?2, ?2, ?3, ?4, '')",
            [name, &c, &format!("example.com/w:{version}"), version],
        )
        .unwrap();
        tx.execute(
            "INSERT INTO api_provider VALUES ('example.com', 'v1', 'Widget', ?1, ?2, ?3)",
            [name, version, &format!("example.com/w:{version}")],
        )
        .unwrap();
    }
    tx.execute_batch(
        "PRAGMA defer_foreign_keys = ON;
         INSERT INTO package VALUES ('w', 'stable');
         INSERT INTO channel VALUES ('stable', 'w', 'w.v1.1.0');
         INSERT INTO channel_entry VALUES (1, 'stable', 'w', 'w.v1.1.0', 4, 0);
         INSERT INTO channel_entry VALUES (2, 'stable', 'w', 'w.v0.9.0', NULL, 1);
         INSERT INTO channel_entry VALUES (3, 'stable', 'w', 'w.v1.1.0', 2, 1);
         INSERT INTO channel_entry VALUES (4, 'stable', 'w', 'w.v1.0.0', NULL, 2);
         INSERT INTO api VALUES ('example.com', 'v1', 'Widget', 'widgets');
         INSERT INTO api VALUES ('example.com', 'v1', 'Gadget', 'gadgets');
         INSERT INTO api_requirer VALUES ('example.com', 'v1', 'Gadget', 'w.v1.1.0', '1.1.0', 'example.com/w:1.1.0');",
    )
    .unwrap();
    tx.commit().unwrap();
}
