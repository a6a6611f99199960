//! The upstream index schema's version bookkeeping (operator-registry v1.73.0, migrations
//! 000–013): which migration a database is at.

use rusqlite::Connection;

/// The migration version this crate reads and writes (`013_rm_truncated_deprecations`).
pub const LATEST_VERSION: i64 = 13;

/// The name of the table holding the migration version.
pub const MIGRATIONS_TABLE: &str = "schema_migrations";

/// The migration version recorded in the database (`None` when it has never been migrated).
/// Upstream reads the first row of `schema_migrations`.
pub fn version(conn: &Connection) -> rusqlite::Result<Option<i64>> {
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
