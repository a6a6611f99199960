//! Read-only queries over a fully migrated index database, with the semantics of upstream's
//! `SQLQuerier` (operator-registry v1.73.0 `pkg/sqlite/query.go`).

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use crate::column::text;
use crate::error::IndexError;
use crate::version;

/// The first bytes of every sqlite 3 database file.
const SQLITE_MAGIC: &[u8] = b"SQLite format 3\0";

/// Whether `path` is a regular file starting with the sqlite 3 header.
pub fn is_sqlite_file(path: &Path) -> std::io::Result<bool> {
    let mut f = File::open(path)?;
    let mut buf = [0u8; 16];
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n == buf.len() && buf == SQLITE_MAGIC)
}

/// A package row with its channels (upstream `GetPackage`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackageRow {
    pub name: String,
    pub default_channel: String,
    pub channels: Vec<ChannelRow>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelRow {
    pub name: String,
    pub head: String,
}

/// A `{type, value}` pair as stored in `properties` or `dependencies`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypedValue {
    pub r#type: String,
    pub value: String,
}

/// One bundle in one channel, as upstream's `ListBundles` returns it: `replaces` is the single
/// predecessor on the replaces chain walked from the channel heads, every other inbound edge
/// of the bundle is in `skips`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BundleRow {
    pub name: String,
    pub package: String,
    pub channel: String,
    pub bundle_path: String,
    pub version: String,
    pub skip_range: String,
    pub replaces: String,
    pub skips: Vec<String>,
    /// The manifests (`operatorbundle.bundle`): concatenated JSON objects; empty when absent.
    pub bundle: String,
    pub properties: Vec<TypedValue>,
    pub dependencies: Vec<TypedValue>,
}

/// An open index database (read-only).
pub struct Index {
    conn: Connection,
    path: PathBuf,
}

/// The replaces chain walked from the entries of minimal depth over the whole table (channel
/// heads have depth 0), the start of both listing queries.
macro_rules! chain_cte {
    () => {
        r#"
WITH RECURSIVE
head_depth (depth) AS (
    SELECT min(depth) FROM channel_entry
),
chain (entry_id, replaces) AS (
    SELECT ce.entry_id, ce.replaces
      FROM channel_entry ce JOIN head_depth h ON ce.depth = h.depth
    UNION
    SELECT ce.entry_id, ce.replaces
      FROM channel_entry ce JOIN chain c ON ce.entry_id = c.replaces
),
"#
    };
}

/// Bundles per channel, edges split into the replaces chain and skips. The chain starts at the
/// entries of minimal depth over the whole table (channel heads have depth 0) and follows
/// `replaces`; an edge that is not on it counts as a skip.
const LIST_BUNDLES: &str = concat!(
    chain_cte!(),
    r#"per_bundle (entry_id, bundle_name, package_name, channel_name, replaces) AS (
    SELECT min(e.entry_id), e.operatorbundle_name, e.package_name, e.channel_name,
           max(target.operatorbundle_name)
      FROM channel_entry e
      LEFT JOIN chain c ON c.entry_id = e.entry_id
      LEFT JOIN channel_entry target ON target.entry_id = c.replaces
     GROUP BY e.operatorbundle_name, e.package_name, e.channel_name
)
SELECT pb.entry_id, b.bundle, b.bundlepath, b.name, pb.package_name, pb.channel_name,
       pb.replaces, b.version, b.skiprange
  FROM per_bundle pb
  JOIN operatorbundle b ON b.name = pb.bundle_name
 ORDER BY pb.entry_id
"#
);

/// Skipped bundle names per (bundle, package, channel), in entry order.
const LIST_SKIPS: &str = concat!(
    chain_cte!(),
    r#"skip_edges (entry_id, skipped) AS (
    SELECT entry_id, replaces FROM channel_entry WHERE replaces IS NOT NULL
    EXCEPT
    SELECT entry_id, replaces FROM chain
)
SELECT e.operatorbundle_name, e.package_name, e.channel_name, s.operatorbundle_name
  FROM skip_edges k
  JOIN channel_entry e ON e.entry_id = k.entry_id
  JOIN channel_entry s ON s.entry_id = k.skipped
 ORDER BY k.entry_id, k.skipped
"#
);

fn opt(v: Option<String>) -> String {
    v.unwrap_or_default()
}

impl Index {
    /// Opens `path` read-only. The database must be fully migrated (upstream would migrate it in
    /// place; we never write to an input).
    pub fn open(path: &Path) -> Result<Index, IndexError> {
        let io = |source| IndexError::Io {
            path: path.to_path_buf(),
            source,
        };
        if !is_sqlite_file(path).map_err(io)? {
            return Err(IndexError::NotSqlite {
                path: path.to_path_buf(),
            });
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        let index = Index {
            conn,
            path: path.to_path_buf(),
        };
        index.check_version()?;
        Ok(index)
    }

    /// Wraps an open connection (e.g. an in-memory database) after checking its version.
    pub fn from_connection(conn: Connection) -> Result<Index, IndexError> {
        let index = Index {
            conn,
            path: PathBuf::new(),
        };
        index.check_version()?;
        Ok(index)
    }

    fn check_version(&self) -> Result<(), IndexError> {
        match version::version(&self.conn)? {
            Some(v) if v == version::LATEST_VERSION => Ok(()),
            Some(v) if v > version::LATEST_VERSION => Err(IndexError::NewerSchema {
                found: v,
                latest: version::LATEST_VERSION,
            }),
            Some(v) => Err(IndexError::OldSchema {
                found: v.to_string(),
                latest: version::LATEST_VERSION,
            }),
            None => Err(IndexError::OldSchema {
                found: "none (no schema_migrations table)".to_string(),
                latest: version::LATEST_VERSION,
            }),
        }
    }

    /// The file the index was opened from (empty for wrapped connections).
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Distinct package names, in table order.
    pub fn package_names(&self) -> Result<Vec<String>, IndexError> {
        let mut stmt = self.conn.prepare("SELECT DISTINCT name FROM package")?;
        let rows = stmt.query_map([], |r| text(r, 0))?;
        let mut out = Vec::new();
        for r in rows {
            if let Some(name) = r? {
                out.push(name);
            }
        }
        Ok(out)
    }

    /// A package with its channels; a package without channels is "not found", as upstream.
    pub fn package(&self, name: &str) -> Result<PackageRow, IndexError> {
        let mut stmt = self.conn.prepare(
            "SELECT DISTINCT p.name, p.default_channel, c.name, c.head_operatorbundle_name \
             FROM package p JOIN channel c ON c.package_name = p.name WHERE p.name = ?1",
        )?;
        let rows = stmt.query_map([name], |r| {
            Ok((
                opt(text(r, 0)?),
                opt(text(r, 1)?),
                opt(text(r, 2)?),
                opt(text(r, 3)?),
            ))
        })?;
        let mut pkg: Option<PackageRow> = None;
        for row in rows {
            let (pname, default_channel, cname, head) = row?;
            let p = pkg.get_or_insert_with(|| PackageRow {
                name: pname,
                default_channel,
                channels: Vec::new(),
            });
            p.channels.push(ChannelRow { name: cname, head });
        }
        pkg.ok_or_else(|| IndexError::Convert(format!("package {name} not found")))
    }

    /// Every package with its channels.
    pub fn packages(&self) -> Result<Vec<PackageRow>, IndexError> {
        self.package_names()?
            .iter()
            .map(|n| self.package(n))
            .collect()
    }

    fn typed_values(&self, table: &str, bundle: &str) -> Result<Vec<TypedValue>, IndexError> {
        // `table` is one of two constants, never user input.
        let sql = format!(
            "SELECT type, value FROM {table} WHERE operatorbundle_name = ?1 ORDER BY rowid"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map([bundle], |r| {
            Ok(TypedValue {
                r#type: opt(text(r, 0)?),
                value: opt(text(r, 1)?),
            })
        })?;
        let mut out: Vec<TypedValue> = Vec::new();
        for r in rows {
            let v = r?;
            // Upstream drops repeated (type, value) pairs, keeping the first.
            if !out.contains(&v) {
                out.push(v);
            }
        }
        Ok(out)
    }

    /// Every bundle of every channel (upstream `ListBundles`). Rows without a name, version,
    /// bundle path or channel are skipped, as upstream does.
    pub fn bundles(&self) -> Result<Vec<BundleRow>, IndexError> {
        let mut skips: std::collections::HashMap<(String, String, String), Vec<String>> =
            Default::default();
        {
            let mut stmt = self.conn.prepare(LIST_SKIPS)?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    opt(text(r, 0)?),
                    opt(text(r, 1)?),
                    opt(text(r, 2)?),
                    opt(text(r, 3)?),
                ))
            })?;
            for row in rows {
                let (b, p, c, s) = row?;
                skips.entry((b, p, c)).or_default().push(s);
            }
        }
        let mut stmt = self.conn.prepare(LIST_BUNDLES)?;
        type Raw = (
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let rows = stmt.query_map([], |r| -> rusqlite::Result<Raw> {
            Ok((
                text(r, 1)?,
                text(r, 2)?,
                text(r, 3)?,
                text(r, 4)?,
                text(r, 5)?,
                text(r, 6)?,
                text(r, 7)?,
                text(r, 8)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (bundle, path, name, package, channel, replaces, version, skip_range) = row?;
            let (Some(name), Some(version), Some(bundle_path), Some(channel)) =
                (name, version, path, channel)
            else {
                continue;
            };
            let package = opt(package);
            let skips = skips
                .remove(&(name.clone(), package.clone(), channel.clone()))
                .unwrap_or_default();
            out.push(BundleRow {
                properties: self.typed_values("properties", &name)?,
                dependencies: self.typed_values("dependencies", &name)?,
                name,
                package,
                channel,
                bundle_path,
                version,
                skip_range: opt(skip_range),
                replaces: opt(replaces),
                skips,
                bundle: opt(bundle),
            });
        }
        Ok(out)
    }

    /// The head bundle of a channel and its stored CSV JSON (upstream `GetBundleForChannel`).
    pub fn channel_head(
        &self,
        package: &str,
        channel: &str,
    ) -> Result<Option<(String, String)>, IndexError> {
        Ok(self
            .conn
            .query_row(
                "SELECT b.name, b.csv FROM operatorbundle b JOIN channel c \
                 ON c.head_operatorbundle_name = b.name WHERE c.name = ?1 AND c.package_name = ?2",
                [channel, package],
                |r| Ok((opt(text(r, 0)?), opt(text(r, 1)?))),
            )
            .optional()?)
    }

    /// `(image, bundle name)` rows of `related_image`, skipping rows with NULLs.
    pub fn related_images(&self) -> Result<Vec<(String, String)>, IndexError> {
        let mut stmt = self
            .conn
            .prepare("SELECT image, operatorbundle_name FROM related_image ORDER BY rowid")?;
        let rows = stmt.query_map([], |r| Ok((text(r, 0)?, text(r, 1)?)))?;
        let mut out = Vec::new();
        for r in rows {
            if let (Some(i), Some(b)) = r? {
                out.push((i, b));
            }
        }
        Ok(out)
    }
}
