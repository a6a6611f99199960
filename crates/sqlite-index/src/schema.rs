//! The upstream index schema at its last migration (operator-registry v1.73.0, migrations
//! 000–013), and creating a database with it.

use rusqlite::Connection;

use crate::error::IndexError;

/// The migration version this crate reads and writes (`013_rm_truncated_deprecations`).
pub const LATEST_VERSION: i64 = 13;

/// The name of the table holding the migration version.
pub const MIGRATIONS_TABLE: &str = "schema_migrations";

/// The tables, index and triggers of a fully migrated index, in creation order. Column names,
/// types and constraints are upstream's; `operatorbundle.replaces/skips/substitutesfor` are the
/// columns migrations 007 and 011 added with `ALTER TABLE`.
pub const DDL: &str = r#"
CREATE TABLE schema_migrations (
    version bigint NOT NULL,
    timestamp DATETIME DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE api (
    group_name TEXT,
    version TEXT,
    kind TEXT,
    plural TEXT NOT NULL,
    PRIMARY KEY(group_name, version, kind)
);
CREATE TABLE operatorbundle (
    name TEXT PRIMARY KEY,
    csv TEXT,
    bundle TEXT,
    bundlepath TEXT,
    skiprange TEXT,
    version TEXT,
    replaces TEXT,
    skips TEXT,
    substitutesfor TEXT
);
CREATE TABLE package (
    name TEXT PRIMARY KEY,
    default_channel TEXT,
    FOREIGN KEY(name, default_channel) REFERENCES channel(package_name, name) ON DELETE CASCADE
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
CREATE TABLE related_image (
    image TEXT,
    operatorbundle_name TEXT,
    FOREIGN KEY(operatorbundle_name) REFERENCES operatorbundle(name) ON DELETE CASCADE
);
CREATE TABLE api_provider (
    group_name TEXT,
    version TEXT,
    kind TEXT,
    operatorbundle_name TEXT,
    operatorbundle_version TEXT,
    operatorbundle_path TEXT,
    FOREIGN KEY(operatorbundle_name, operatorbundle_version, operatorbundle_path) REFERENCES operatorbundle(name, version, bundlepath) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    FOREIGN KEY(group_name, version, kind) REFERENCES api(group_name, version, kind) ON DELETE CASCADE
);
CREATE TABLE api_requirer (
    group_name TEXT,
    version TEXT,
    kind TEXT,
    operatorbundle_name TEXT,
    operatorbundle_version TEXT,
    operatorbundle_path TEXT,
    FOREIGN KEY(operatorbundle_name, operatorbundle_version, operatorbundle_path) REFERENCES operatorbundle(name, version, bundlepath) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    FOREIGN KEY(group_name, version, kind) REFERENCES api(group_name, version, kind) ON DELETE CASCADE
);
CREATE UNIQUE INDEX pk ON operatorbundle(name, version, bundlepath);
CREATE TABLE dependencies (
    type TEXT,
    value TEXT,
    operatorbundle_name TEXT,
    operatorbundle_version TEXT,
    operatorbundle_path TEXT,
    FOREIGN KEY(operatorbundle_name, operatorbundle_version, operatorbundle_path) REFERENCES operatorbundle(name, version, bundlepath) ON DELETE CASCADE
);
CREATE TABLE properties (
    type TEXT,
    value TEXT,
    operatorbundle_name TEXT,
    operatorbundle_version TEXT,
    operatorbundle_path TEXT,
    FOREIGN KEY(operatorbundle_name, operatorbundle_version, operatorbundle_path) REFERENCES operatorbundle(name, version, bundlepath) ON DELETE CASCADE
);
CREATE TABLE deprecated (
    operatorbundle_name TEXT PRIMARY KEY
);
"#;

/// Creates the latest schema in an empty database and records its migration version.
pub fn create_latest(conn: &Connection) -> Result<(), IndexError> {
    conn.execute_batch(DDL)?;
    conn.execute(
        "INSERT INTO schema_migrations (version) VALUES (?1)",
        [LATEST_VERSION],
    )?;
    Ok(())
}

/// The migration version recorded in the database (`None` when it has never been migrated).
/// Upstream reads the first row of `schema_migrations`.
pub fn version(conn: &Connection) -> Result<Option<i64>, IndexError> {
    let exists: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1)",
        [MIGRATIONS_TABLE],
        |r| r.get(0),
    )?;
    if !exists {
        return Ok(None);
    }
    let mut stmt = conn.prepare("SELECT version FROM schema_migrations LIMIT 1")?;
    let mut rows = stmt.query([])?;
    match rows.next()? {
        Some(row) => Ok(Some(row.get(0)?)),
        None => Ok(None),
    }
}
