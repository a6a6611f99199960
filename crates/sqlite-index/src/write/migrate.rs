//! Upstream's schema migrations 000–013 (operator-registry v1.73.0 `pkg/sqlite/migrations`),
//! applied in order from the version recorded in `schema_migrations`, as upstream's
//! `SQLLiteMigrator.Migrate` does. The SQL is upstream's statement for statement (including
//! its quirks, e.g. 005 inserting name-less rows and 009 copying one dependency value over all
//! rows), so a database migrated here is the database upstream would have produced.
//!
//! The caller runs this inside a transaction; upstream applies all pending migrations in one.

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use super::csv;
use super::error::WriteError;
use crate::column::text;
use crate::version::{LATEST_VERSION, MIGRATIONS_TABLE};

/// The recorded version, `-1` when the database was never migrated (upstream `NilVersion`).
pub fn current_version(conn: &Connection) -> Result<i64, WriteError> {
    Ok(crate::version::version(conn)?.unwrap_or(-1))
}

fn ensure_migration_table(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(&format!(
        "CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (
            version bigint NOT NULL,
            timestamp DATETIME DEFAULT CURRENT_TIMESTAMP
        );"
    ))
}

fn set_version(conn: &Connection, version: i64) -> rusqlite::Result<()> {
    ensure_migration_table(conn)?;
    conn.execute(&format!("DELETE FROM {MIGRATIONS_TABLE}"), [])?;
    conn.execute(
        &format!("INSERT INTO {MIGRATIONS_TABLE}(version) values(?1)"),
        [version],
    )?;
    Ok(())
}

/// Applies every migration after the recorded version. A database newer than 013 is left
/// alone, as upstream does (there is no later migration to apply).
pub fn migrate(conn: &Connection) -> Result<(), WriteError> {
    migrate_to(conn, LATEST_VERSION)
}

/// Creates the latest schema in an empty database and records its migration version, by
/// running upstream's migrations 000–013 — the one definition of the schema, so nothing
/// (the cleanup triggers of 007, say) can be missing.
pub fn create_latest(conn: &Connection) -> Result<(), WriteError> {
    migrate(conn)
}

/// Applies the migrations after the recorded version up to `target` (for building databases
/// as older opm releases left them).
pub fn migrate_to(conn: &Connection, target: i64) -> Result<(), WriteError> {
    let from = current_version(conn)? + 1;
    ensure_migration_table(conn)?;
    for version in from.max(0)..=target.min(LATEST_VERSION) {
        up(conn, version).map_err(|e| match e {
            WriteError::Sqlite(e) => WriteError::Migration {
                version,
                message: e.to_string(),
            },
            other => other,
        })?;
        set_version(conn, version)?;
    }
    Ok(())
}

fn up(conn: &Connection, version: i64) -> Result<(), WriteError> {
    match version {
        0 => conn.execute_batch(M000)?,
        1 => m001_related_images(conn)?,
        2 => conn.execute_batch("ALTER TABLE operatorbundle ADD COLUMN bundlepath TEXT;")?,
        3 => m003_required_apis(conn)?,
        4 => m004_cascade_delete(conn)?,
        5 => m005_version_skiprange(conn)?,
        6 => m006_associate_apis_with_bundle(conn)?,
        7 => m007_replaces_skips(conn)?,
        8 => m008_dependencies(conn)?,
        9 => m009_properties(conn)?,
        10 => conn.execute_batch(
            "UPDATE properties
             SET operatorbundle_path = (SELECT bundlepath
                             FROM operatorbundle
                             WHERE operatorbundle_name = operatorbundle.name AND operatorbundle_version = operatorbundle.version)",
        )?,
        11 => conn.execute_batch("ALTER TABLE operatorbundle ADD COLUMN substitutesfor TEXT;")?,
        12 => conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS deprecated (
                operatorbundle_name TEXT PRIMARY KEY
            );
            INSERT OR REPLACE INTO deprecated(operatorbundle_name) SELECT operatorbundle_name FROM properties WHERE properties.type='olm.deprecated';",
        )?,
        13 => conn.execute_batch(
            "DELETE FROM deprecated WHERE deprecated.operatorbundle_name NOT IN (SELECT DISTINCT deprecated.operatorbundle_name FROM (deprecated INNER JOIN operatorbundle ON deprecated.operatorbundle_name = operatorbundle.name))",
        )?,
        _ => {
            return Err(WriteError::Migration {
                version,
                message: "unknown migration".to_string(),
            });
        }
    }
    Ok(())
}

const M000: &str = r#"
CREATE TABLE IF NOT EXISTS operatorbundle (
    name TEXT PRIMARY KEY,
    csv TEXT UNIQUE,
    bundle TEXT
);
CREATE TABLE IF NOT EXISTS package (
    name TEXT PRIMARY KEY,
    default_channel TEXT,
    FOREIGN KEY(name, default_channel) REFERENCES channel(package_name,name)
);
CREATE TABLE IF NOT EXISTS channel (
    name TEXT,
    package_name TEXT,
    head_operatorbundle_name TEXT,
    PRIMARY KEY(name, package_name),
    FOREIGN KEY(package_name) REFERENCES package(name),
    FOREIGN KEY(head_operatorbundle_name) REFERENCES operatorbundle(name)
);
CREATE TABLE IF NOT EXISTS channel_entry (
    entry_id INTEGER PRIMARY KEY,
    channel_name TEXT,
    package_name TEXT,
    operatorbundle_name TEXT,
    replaces INTEGER,
    depth INTEGER,
    FOREIGN KEY(replaces) REFERENCES channel_entry(entry_id)  DEFERRABLE INITIALLY DEFERRED,
    FOREIGN KEY(channel_name, package_name) REFERENCES channel(name, package_name)
);
CREATE TABLE IF NOT EXISTS api (
    group_name TEXT,
    version TEXT,
    kind TEXT,
    plural TEXT NOT NULL,
    PRIMARY KEY(group_name, version, kind)
);
CREATE TABLE IF NOT EXISTS api_provider (
    group_name TEXT,
    version TEXT,
    kind TEXT,
    channel_entry_id INTEGER,
    FOREIGN KEY(channel_entry_id) REFERENCES channel_entry(entry_id),
    FOREIGN KEY(group_name, version, kind) REFERENCES api(group_name, version, kind)
);
"#;

/// Distinct non-null bundle names (upstream `listBundles`).
fn list_bundles(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare("SELECT DISTINCT name FROM operatorbundle")?;
    let rows = stmt.query_map([], |r| r.get::<_, Option<String>>(0))?;
    let mut out = Vec::new();
    for r in rows {
        if let Some(n) = r? {
            out.push(n);
        }
    }
    Ok(out)
}

/// The stored CSV of a bundle, parsed (upstream `getCSV`); `None` where upstream warns and
/// skips the bundle (no row, NULL or unparsable CSV).
fn stored_csv(conn: &Connection, name: &str) -> rusqlite::Result<Option<Value>> {
    let csv: Option<Option<String>> = conn
        .query_row(
            "SELECT csv FROM operatorbundle WHERE operatorbundle.name=?1",
            [name],
            |r| text(r, 0),
        )
        .optional()?;
    let Some(Some(text)) = csv else {
        return Ok(None);
    };
    match serde_json::from_str::<Value>(&text) {
        Ok(v @ Value::Object(_)) => Ok(Some(v)),
        _ => {
            tracing::warn!("error backfilling from the csv of {name}: invalid JSON");
            Ok(None)
        }
    }
}

fn m001_related_images(conn: &Connection) -> Result<(), WriteError> {
    // Upstream ignores this statement's error.
    let _ = conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS related_image (
            image TEXT,
            operatorbundle_name TEXT,
            FOREIGN KEY(operatorbundle_name) REFERENCES operatorbundle(name)
        );",
    );
    for bundle in list_bundles(conn)? {
        let Some(csv) = stored_csv(conn, &bundle)? else {
            continue;
        };
        let images = match (csv::operator_images(&csv), csv::related_images(&csv)) {
            (Ok(mut a), Ok(b)) => {
                a.extend(b);
                a
            }
            (Err(e), _) | (_, Err(e)) => {
                tracing::warn!("error backfilling related images: {e}");
                continue;
            }
        };
        for img in images {
            if let Err(e) = conn.execute(
                "insert into related_image(image, operatorbundle_name) values(?1,?2)",
                params![img, bundle],
            ) {
                tracing::warn!("error backfilling related images: {e}");
            }
        }
    }
    Ok(())
}

fn m003_required_apis(conn: &Connection) -> Result<(), WriteError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS api_requirer (
            group_name TEXT,
            version TEXT,
            kind TEXT,
            channel_entry_id INTEGER,
            FOREIGN KEY(channel_entry_id) REFERENCES channel_entry(entry_id),
            FOREIGN KEY(group_name, version, kind) REFERENCES api(group_name, version, kind)
        );",
    )?;
    let entries: Vec<(i64, String)> = {
        let mut stmt = conn.prepare(
            "SELECT DISTINCT channel_entry.entry_id, operatorbundle.name FROM channel_entry
             INNER JOIN operatorbundle ON operatorbundle.name = channel_entry.operatorbundle_name",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get::<_, Option<i64>>(0)?, r.get::<_, Option<String>>(1)?))
        })?;
        let mut out = Vec::new();
        for r in rows {
            if let (Some(id), Some(name)) = r? {
                out.push((id, name));
            }
        }
        out
    };
    for (entry_id, name) in entries {
        let Some(csv) = stored_csv(conn, &name)? else {
            continue;
        };
        let mut apis = Vec::new();
        // Upstream ignores errors reading the definitions, and skips the bundle on a bad CRD name.
        let (_, required_crds) =
            csv::definitions(&csv, "customresourcedefinitions").unwrap_or_default();
        let mut bad_name = false;
        for d in required_crds {
            match csv::split_crd_name(&d.name) {
                Ok((plural, group)) => apis.push((group, d.version, d.kind, plural)),
                Err(e) => {
                    tracing::warn!(
                        "error backfilling required apis: can't split bad CRD name: {e}"
                    );
                    bad_name = true;
                    break;
                }
            }
        }
        if !bad_name {
            let (_, required_services) =
                csv::definitions(&csv, "apiservicedefinitions").unwrap_or_default();
            for d in required_services {
                apis.push((d.group, d.version, d.kind, d.name));
            }
        }
        for (group, version, kind, plural) in apis {
            conn.execute(
                "insert or replace into api(group_name, version, kind, plural) values(?1, ?2, ?3, ?4)",
                params![group, version, kind, plural],
            )?;
            conn.execute(
                "insert into api_requirer(group_name, version, kind, channel_entry_id) values(?1, ?2, ?3, ?4)",
                params![group, version, kind, entry_id],
            )?;
        }
    }
    Ok(())
}

fn m004_cascade_delete(conn: &Connection) -> Result<(), WriteError> {
    const TABLES: [&str; 7] = [
        "operatorbundle",
        "package",
        "channel",
        "channel_entry",
        "api_provider",
        "related_image",
        "api_requirer",
    ];
    // A no-op inside the migration transaction, as upstream's.
    conn.execute_batch("PRAGMA foreign_keys = 0")?;
    for t in TABLES {
        conn.execute_batch(&format!("ALTER TABLE {t} RENAME TO {t}_old;"))?;
    }
    conn.execute_batch(
        r#"
        CREATE TABLE operatorbundle (
            name TEXT PRIMARY KEY,
            csv TEXT,
            bundle TEXT,
            bundlepath TEXT);
        CREATE TABLE package (
            name TEXT PRIMARY KEY,
            default_channel TEXT,
            FOREIGN KEY(name, default_channel) REFERENCES channel(package_name,name) ON DELETE CASCADE
        );
        CREATE TABLE channel (
            name TEXT,
            package_name TEXT,
            head_operatorbundle_name TEXT,
            PRIMARY KEY(name, package_name),
            FOREIGN KEY(head_operatorbundle_name) REFERENCES operatorbundle(name) ON DELETE CASCADE
        );
        CREATE TABLE channel_entry (
            entry_id INTEGER PRIMARY KEY,
            channel_name TEXT,
            package_name TEXT,
            operatorbundle_name TEXT,
            replaces INTEGER,
            depth INTEGER,
            FOREIGN KEY(replaces) REFERENCES channel_entry(entry_id) DEFERRABLE INITIALLY DEFERRED,
            FOREIGN KEY(channel_name, package_name) REFERENCES channel(name, package_name) ON DELETE CASCADE
        );
        CREATE TABLE api_provider (
            group_name TEXT,
            version TEXT,
            kind TEXT,
            channel_entry_id INTEGER,
            PRIMARY KEY(group_name, version, kind, channel_entry_id),
            FOREIGN KEY(channel_entry_id) REFERENCES channel_entry(entry_id) ON DELETE CASCADE,
            FOREIGN KEY(group_name, version, kind) REFERENCES api(group_name, version, kind)
        );
        CREATE TABLE related_image (
            image TEXT,
            operatorbundle_name TEXT,
            FOREIGN KEY(operatorbundle_name) REFERENCES operatorbundle(name) ON DELETE CASCADE
        );
        CREATE TABLE api_requirer (
            group_name TEXT,
            version TEXT,
            kind TEXT,
            channel_entry_id INTEGER,
            PRIMARY KEY(group_name, version, kind, channel_entry_id),
            FOREIGN KEY(channel_entry_id) REFERENCES channel_entry(entry_id) ON DELETE CASCADE,
            FOREIGN KEY(group_name, version, kind) REFERENCES api(group_name, version, kind)
        );
        "#,
    )?;
    for t in TABLES {
        conn.execute_batch(&format!(
            r#"INSERT INTO {t} SELECT * FROM "{t}_old"; DROP TABLE "{t}_old";"#
        ))?;
    }
    conn.execute_batch("PRAGMA foreign_keys = 1")?;
    Ok(())
}

fn m005_version_skiprange(conn: &Connection) -> Result<(), WriteError> {
    conn.execute_batch(
        "ALTER TABLE operatorbundle ADD COLUMN skiprange TEXT;
         ALTER TABLE operatorbundle ADD COLUMN version TEXT;",
    )?;
    for bundle in list_bundles(conn)? {
        let Some(csv) = stored_csv(conn, &bundle)? else {
            continue;
        };
        let skip_range = csv::skip_range(&csv);
        let version = csv::version(&csv).unwrap_or_default();
        // Upstream inserts a new (name-less) row here instead of updating the bundle.
        if let Err(e) = conn.execute(
            "insert into operatorbundle(version, skiprange) values(?1,?2)",
            params![version, skip_range],
        ) {
            tracing::warn!("error backfilling versioning: {e}");
        }
    }
    Ok(())
}

type ApiRow = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn api_rows(conn: &Connection, sql: &str) -> rusqlite::Result<Vec<ApiRow>> {
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt.query_map([], |r| {
        Ok((
            text(r, 0)?,
            text(r, 1)?,
            text(r, 2)?,
            text(r, 3)?,
            text(r, 4)?,
            text(r, 5)?,
        ))
    })?;
    let mut out: Vec<ApiRow> = Vec::new();
    for r in rows {
        let row = r?;
        // Upstream skips rows missing group, version, kind or bundle name, and keys the rest
        // by (bundle, version, path) into sets.
        if row.0.is_none() || row.1.is_none() || row.2.is_none() || row.3.is_none() {
            continue;
        }
        if !out.contains(&row) {
            out.push(row);
        }
    }
    Ok(out)
}

fn m006_associate_apis_with_bundle(conn: &Connection) -> Result<(), WriteError> {
    conn.execute_batch(
        "CREATE TABLE api_provider_new (
            group_name TEXT,
            version TEXT,
            kind TEXT,
            operatorbundle_name TEXT,
            operatorbundle_version TEXT,
            operatorbundle_path TEXT,
            FOREIGN KEY(operatorbundle_name, operatorbundle_version, operatorbundle_path) REFERENCES operatorbundle(name, version, bundlepath) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
            FOREIGN KEY(group_name, version, kind) REFERENCES api(group_name, version, kind) ON DELETE CASCADE
        );
        CREATE TABLE api_requirer_new (
            group_name TEXT,
            version TEXT,
            kind TEXT,
            operatorbundle_name TEXT,
            operatorbundle_version TEXT,
            operatorbundle_path TEXT,
            FOREIGN KEY(operatorbundle_name, operatorbundle_version, operatorbundle_path) REFERENCES operatorbundle(name, version, bundlepath) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
            FOREIGN KEY(group_name, version, kind) REFERENCES api(group_name, version, kind) ON DELETE CASCADE
        );
        CREATE UNIQUE INDEX pk ON operatorbundle(name, version, bundlepath);",
    )?;
    let provided = api_rows(
        conn,
        "SELECT api_provider.group_name, api_provider.version, api_provider.kind, operatorbundle.name, operatorbundle.version, operatorbundle.bundlepath
         FROM api_provider
         INNER JOIN channel_entry ON channel_entry.entry_id = api_provider.channel_entry_id
         INNER JOIN operatorbundle ON operatorbundle.name = channel_entry.operatorbundle_name",
    )?;
    let required = api_rows(
        conn,
        "SELECT api_requirer.group_name, api_requirer.version, api_requirer.kind, operatorbundle.name, operatorbundle.version, operatorbundle.bundlepath
         FROM api_requirer
         INNER JOIN channel_entry ON channel_entry.entry_id = api_requirer.channel_entry_id
         INNER JOIN operatorbundle ON operatorbundle.name = channel_entry.operatorbundle_name",
    )?;
    for (table, rows) in [
        ("api_provider_new", provided),
        ("api_requirer_new", required),
    ] {
        for (g, v, k, name, bv, path) in rows {
            conn.execute(
                &format!("INSERT INTO {table}(group_name, version, kind, operatorbundle_name, operatorbundle_version, operatorbundle_path) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
                params![g, v, k, name, bv, path],
            )?;
        }
    }
    conn.execute_batch(
        "DROP TABLE api_provider;
         DROP TABLE api_requirer;
         ALTER TABLE api_provider_new RENAME TO api_provider;
         ALTER TABLE api_requirer_new RENAME TO api_requirer;",
    )?;
    Ok(())
}

fn m007_replaces_skips(conn: &Connection) -> Result<(), WriteError> {
    conn.execute_batch(
        "ALTER TABLE operatorbundle ADD COLUMN replaces TEXT;
        ALTER TABLE operatorbundle ADD COLUMN skips TEXT;
        CREATE TRIGGER api_provider_cleanup
        AFTER DELETE ON api_provider
        WHEN NOT EXISTS (SELECT 1 FROM api_provider JOIN api_requirer WHERE
            (api_provider.group_name = OLD.group_name AND api_provider.version = OLD.version AND api_provider.kind = OLD.kind) OR
            (api_requirer.group_name = OLD.group_name AND api_requirer.version = OLD.version AND api_requirer.kind = OLD.kind))
        BEGIN
            DELETE FROM api WHERE group_name = OLD.group_name AND version = OLD.version AND kind = OLD.kind;
        END;
        CREATE TRIGGER api_requirer_cleanup
        AFTER DELETE ON api_requirer
        WHEN NOT EXISTS (SELECT 1 FROM api_provider JOIN api_requirer WHERE
            (api_provider.group_name = OLD.group_name AND api_provider.version = OLD.version AND api_provider.kind = OLD.kind) OR
            (api_requirer.group_name = OLD.group_name AND api_requirer.version = OLD.version AND api_requirer.kind = OLD.kind))
        BEGIN
            DELETE FROM api WHERE group_name = OLD.group_name AND version = OLD.version AND kind = OLD.kind;
        END;",
    )?;
    for bundle in list_bundles(conn)? {
        // The first replacee in depth order is the replaces, the others are skips.
        let names: Vec<Option<String>> = {
            let mut stmt = conn.prepare(
                "SELECT DISTINCT replaces.operatorbundle_name
                 FROM channel_entry
                 LEFT OUTER JOIN channel_entry replaces ON channel_entry.replaces = replaces.entry_id
                 WHERE channel_entry.operatorbundle_name = ?1
                 ORDER BY channel_entry.depth ASC",
            )?;
            let rows = stmt.query_map([&bundle], |r| text(r, 0))?;
            rows.collect::<Result<_, _>>()?
        };
        let mut it = names.into_iter();
        let replaces = it.next().flatten().unwrap_or_default();
        let skips: Vec<String> = it.flatten().collect();
        conn.execute(
            "update operatorbundle SET replaces = ?1, skips = ?2 WHERE name = ?3;",
            params![replaces, skips.join(","), bundle],
        )?;
    }
    Ok(())
}

/// `json.Marshal` of a `map[string]string` (keys sorted), as bytes: upstream binds `[]byte`,
/// which the driver stores as a BLOB.
fn json_map(pairs: &[(&str, &str)]) -> Vec<u8> {
    let mut sorted = pairs.to_vec();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let mut s = String::from("{");
    for (i, (k, v)) in sorted.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        go_encoding::push_string(&mut s, k, true);
        s.push(':');
        go_encoding::push_string(&mut s, v, true);
    }
    s.push('}');
    s.into_bytes()
}

type BundleApis = Vec<(
    (Option<String>, Option<String>, Option<String>),
    Vec<[String; 3]>,
)>;

/// `(group, version, kind)` per `(bundle, version, path)` of an api table (upstream
/// `getRequiredAPIs` / `getProvidedAPIs`).
fn apis_by_bundle(conn: &Connection, table: &str) -> rusqlite::Result<BundleApis> {
    let rows = api_rows(
        conn,
        &format!(
            "SELECT group_name, version, kind, operatorbundle_name, operatorbundle_version, operatorbundle_path FROM {table}"
        ),
    )?;
    let mut out: BundleApis = Vec::new();
    for (g, v, k, name, bv, path) in rows {
        let key = (name, bv, path);
        let api = [
            g.unwrap_or_default(),
            v.unwrap_or_default(),
            k.unwrap_or_default(),
        ];
        match out.iter_mut().find(|(k, _)| *k == key) {
            Some((_, apis)) => {
                if !apis.contains(&api) {
                    apis.push(api);
                }
            }
            None => out.push((key, vec![api])),
        }
    }
    Ok(out)
}

/// `dependencies` (008) and `properties` (009): `{type, value}` rows of a bundle. The
/// statement is upstream's to the byte, as sqlite keeps it in `sqlite_master`.
fn create_typed_values_table(conn: &Connection, table: &str) -> rusqlite::Result<()> {
    conn.execute_batch(&format!(
        "CREATE TABLE IF NOT EXISTS {table} (
            type TEXT,
            value TEXT,
            operatorbundle_name TEXT,
            operatorbundle_version TEXT,
            operatorbundle_path TEXT,
            FOREIGN KEY(operatorbundle_name, operatorbundle_version, operatorbundle_path) REFERENCES operatorbundle(name, version, bundlepath) ON DELETE CASCADE
        );"
    ))
}

fn m008_dependencies(conn: &Connection) -> Result<(), WriteError> {
    create_typed_values_table(conn, "dependencies")?;
    for ((name, version, path), apis) in apis_by_bundle(conn, "api_requirer")? {
        for [g, v, k] in apis {
            let value = json_map(&[
                ("type", "olm.gvk"),
                ("group", &g),
                ("version", &v),
                ("kind", &k),
            ]);
            conn.execute(
                "INSERT INTO dependencies(type, value, operatorbundle_name, operatorbundle_version, operatorbundle_path) VALUES (?1, ?2, ?3, ?4, ?5)",
                params!["olm.gvk", value, name, version, path],
            )?;
        }
    }
    Ok(())
}

fn m009_properties(conn: &Connection) -> Result<(), WriteError> {
    create_typed_values_table(conn, "properties")?;
    for ((name, version, path), apis) in apis_by_bundle(conn, "api_provider")? {
        let pkg: String = conn
            .query_row(
                "SELECT DISTINCT package_name FROM channel_entry WHERE channel_entry.operatorbundle_name=?1",
                [&name],
                |r| text(r, 0),
            )
            .optional()?
            .flatten()
            .unwrap_or_default();
        let bundle_version = version.clone().unwrap_or_default();
        let value = json_map(&[("packageName", &pkg), ("version", &bundle_version)]);
        conn.execute(
            "INSERT INTO properties(type, value, operatorbundle_name, operatorbundle_version, operatorbundle_path) VALUES (?1, ?2, ?3, ?4, ?5)",
            params!["olm.package", value, name, version, path],
        )?;
        for [g, v, k] in apis {
            let value = json_map(&[("group", &g), ("version", &v), ("kind", &k)]);
            conn.execute(
                "INSERT INTO properties(type, value, operatorbundle_name, operatorbundle_version, operatorbundle_path) VALUES (?1, ?2, ?3, ?4, ?5)",
                params!["olm.gvk", value, name, version, path],
            )?;
        }
    }
    conn.execute_batch(
        r#"UPDATE dependencies
        SET value = (SELECT json_remove(value, "$.type")
                    FROM dependencies
                    WHERE operatorbundle_name=dependencies.operatorbundle_name)"#,
    )?;
    Ok(())
}
