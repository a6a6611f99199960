//! The loader's read queries (upstream `pkg/sqlite/load.go`, `query.go`): what the writers
//! look up in the index being changed, with upstream's SQL so that ties and NULLs come out as
//! upstream's do.

use std::collections::BTreeSet;

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use super::bundle::BundleAnnotations;
use super::error::AddError;
use super::graph::{self, AnnotatedEntry, BundleKey, PackageGraph};
use crate::column::text;

/// Whether the bundle has a row in `deprecated`.
pub(crate) fn deprecated(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
    Ok(conn
        .query_row(
            "SELECT * FROM deprecated WHERE operatorbundle_name = ?1",
            [name],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// `(replaces, skips, version)` of a bundle row (upstream `getBundleSkipsReplacesVersion`).
pub(crate) fn bundle_skips_replaces_version(
    conn: &Connection,
    name: &str,
) -> Result<(String, Vec<String>, String), AddError> {
    let row = conn
        .query_row(
            "SELECT replaces, skips, version FROM operatorbundle WHERE operatorbundle.name=?1 LIMIT 1",
            [name],
            |r| Ok((text(r, 0)?, text(r, 1)?, text(r, 2)?)),
        )
        .optional()?;
    let Some((replaces, skips, version)) = row else {
        return Err(AddError::Upstream(format!(
            "no bundle found for bundlename {name}"
        )));
    };
    let skips = match skips {
        Some(s) if !s.is_empty() => s.split(',').map(str::to_string).collect(),
        _ => Vec::new(),
    };
    Ok((
        replaces.unwrap_or_default(),
        skips,
        version.unwrap_or_default(),
    ))
}

/// Bundle paths of upstream `ListBundles` (bundles with a channel entry).
pub(crate) fn listed_bundle_paths(conn: &Connection) -> rusqlite::Result<BTreeSet<String>> {
    let mut stmt = conn.prepare(
        "SELECT DISTINCT b.bundlepath FROM channel_entry e JOIN operatorbundle b ON b.name = e.operatorbundle_name \
         WHERE b.version IS NOT NULL AND e.channel_name IS NOT NULL",
    )?;
    let rows = stmt.query_map([], |r| text(r, 0))?;
    let mut out = BTreeSet::new();
    for r in rows {
        if let Some(p) = r? {
            out.insert(p);
        }
    }
    Ok(out)
}

/// Package names (upstream `ListPackages`).
pub(crate) fn list_packages(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare("SELECT DISTINCT name FROM package")?;
    let rows = stmt.query_map([], |r| text(r, 0))?;
    let mut out = Vec::new();
    for r in rows {
        if let Some(p) = r? {
            out.push(p);
        }
    }
    Ok(out)
}

/// Channel names of a package (upstream `ListChannels`).
pub(crate) fn list_channels(conn: &Connection, pkg: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt =
        conn.prepare("SELECT DISTINCT name FROM channel WHERE channel.package_name=?1")?;
    let rows = stmt.query_map([pkg], |r| text(r, 0))?;
    let mut out = Vec::new();
    for r in rows {
        if let Some(c) = r? {
            out.push(c);
        }
    }
    Ok(out)
}

/// Channel entries of a package annotated with bundle and replaced-bundle data (upstream
/// `GetChannelEntriesFromPackage`).
pub(crate) fn channel_entries_from_package(
    conn: &Connection,
    pkg: &str,
) -> rusqlite::Result<Vec<AnnotatedEntry>> {
    let mut stmt = conn.prepare(
        "SELECT channel_entry.package_name, channel_entry.channel_name, channel_entry.operatorbundle_name, op_bundle.version, op_bundle.bundlepath, replaces.operatorbundle_name, replacesbundle.version, replacesbundle.bundlepath
        FROM channel_entry
        LEFT JOIN channel_entry replaces ON channel_entry.replaces = replaces.entry_id
        LEFT JOIN operatorbundle op_bundle ON channel_entry.operatorbundle_name = op_bundle.name
        LEFT JOIN operatorbundle replacesbundle ON replaces.operatorbundle_name = replacesbundle.name
        WHERE channel_entry.package_name = ?1",
    )?;
    let rows = stmt.query_map([pkg], |r| {
        let s = |i| text(r, i).map(Option::unwrap_or_default);
        Ok(AnnotatedEntry {
            package: s(0)?,
            channel: s(1)?,
            bundle: s(2)?,
            version: s(3)?,
            bundle_path: s(4)?,
            replaces: s(5)?,
            replaces_version: s(6)?,
            replaces_bundle_path: s(7)?,
        })
    })?;
    rows.collect()
}

/// `(name, path, version)` of the bundles in a package's channel entries (upstream
/// `GetBundlesForPackage`).
pub(crate) fn bundles_for_package(
    conn: &Connection,
    pkg: &str,
) -> Result<BTreeSet<BundleKey>, AddError> {
    let mut stmt = conn.prepare(
        "SELECT DISTINCT name, bundlepath, version FROM operatorbundle
        INNER JOIN channel_entry ON operatorbundle.name=channel_entry.operatorbundle_name
        WHERE channel_entry.package_name=?1",
    )?;
    let rows = stmt.query_map([pkg], |r| {
        Ok(BundleKey {
            csv_name: text(r, 0)?.unwrap_or_default(),
            bundle_path: text(r, 1)?.unwrap_or_default(),
            version: text(r, 2)?.unwrap_or_default(),
        })
    })?;
    let mut out = BTreeSet::new();
    for r in rows {
        let key = r?;
        if key.is_empty() {
            return Err(AddError::Upstream(format!(
                "Index malformed: cannot find identifier for bundle in package {pkg}"
            )));
        }
        out.insert(key);
    }
    Ok(out)
}

/// A bundle of a package as upstream's `ListRegistryBundles` rebuilds it from the index.
pub(crate) struct ExistingBundle {
    pub name: String,
    pub version: String,
    pub channels: Vec<String>,
    pub default_channel: String,
}

/// A package's default channel, empty when it has none (upstream `GetDefaultChannelForPackage`
/// scanning into a `sql.NullString`).
pub(crate) fn default_channel(conn: &Connection, pkg: &str) -> rusqlite::Result<String> {
    Ok(conn
        .query_row(
            "SELECT DISTINCT default_channel FROM package WHERE name=?1 LIMIT 1",
            [pkg],
            |r| text(r, 0),
        )
        .optional()?
        .flatten()
        .unwrap_or_default())
}

pub(crate) fn registry_bundles(
    conn: &Connection,
    pkg: &str,
) -> Result<Vec<ExistingBundle>, AddError> {
    let rows: Vec<(Option<String>, Option<String>, Option<String>)> = {
        let mut stmt = conn.prepare(
            "SELECT DISTINCT operatorbundle.name, operatorbundle.version, operatorbundle.bundle, channel_entry.package_name
            FROM operatorbundle
            LEFT OUTER JOIN channel_entry ON operatorbundle.name = channel_entry.operatorbundle_name WHERE channel_entry.package_name=?1",
        )?;
        let rows = stmt.query_map([pkg], |r| Ok((text(r, 0)?, text(r, 1)?, text(r, 2)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    let default_channel = default_channel(conn, pkg)?;
    let mut out = Vec::new();
    for (name, version, manifests) in rows {
        let Some(name) = name else {
            return Err(AddError::Upstream(
                "bundle name column corrupted".to_string(),
            ));
        };
        let channels: Vec<String> = {
            let mut stmt = conn.prepare_cached(
                "SELECT DISTINCT channel_entry.channel_name
                FROM channel_entry
                INNER JOIN operatorbundle ON channel_entry.operatorbundle_name = operatorbundle.name
                WHERE operatorbundle.name = ?1",
            )?;
            let rows = stmt.query_map([&name], |r| text(r, 0))?;
            let mut out = Vec::new();
            for r in rows {
                match r? {
                    Some(c) => out.push(c),
                    None => {
                        return Err(AddError::Upstream(format!(
                            "unable to list channels for bundle {name}: channel name column corrupt for bundle {name}"
                        )));
                    }
                }
            }
            out
        };
        let mut version = version.unwrap_or_default();
        let manifests = manifests.unwrap_or_default();
        // The manifests must parse; without a stored version the CSV's is used.
        let mut csv_version = None;
        for obj in serde_json::Deserializer::from_str(&manifests).into_iter::<Value>() {
            let obj = obj.map_err(|e| {
                AddError::Upstream(format!(
                    "unable to unmarshal bundle {name} from database: {e}"
                ))
            })?;
            if obj.get("kind").and_then(Value::as_str) == Some("ClusterServiceVersion")
                && csv_version.is_none()
            {
                csv_version = Some(super::csv::version(&obj).unwrap_or_default());
            }
        }
        if version.is_empty() {
            version = csv_version.unwrap_or_default();
        }
        // Upstream joins the channels with "," and splits them again.
        let channels = BundleAnnotations::split_channels(&channels.join(","));
        out.push(ExistingBundle {
            name,
            version,
            channels,
            default_channel: default_channel.clone(),
        });
    }
    Ok(out)
}

/// Whether `(package, channel, bundle)` has an entry whose bundle row exists (upstream
/// `GetBundle` succeeding).
pub(crate) fn bundle_in_channel(
    conn: &Connection,
    pkg: &str,
    channel: &str,
    bundle: &str,
) -> rusqlite::Result<bool> {
    Ok(conn
        .query_row(
            "SELECT DISTINCT channel_entry.entry_id FROM operatorbundle INNER JOIN channel_entry ON operatorbundle.name=channel_entry.operatorbundle_name
             WHERE channel_entry.package_name=?1 AND channel_entry.channel_name=?2 AND operatorbundle_name=?3 LIMIT 1",
            params![pkg, channel, bundle],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// Whether a bundle with a row replaces `bundle` in the channel (upstream
/// `GetBundleThatReplaces` succeeding).
pub(crate) fn bundle_replaced_in_channel(
    conn: &Connection,
    bundle: &str,
    pkg: &str,
    channel: &str,
) -> rusqlite::Result<bool> {
    Ok(conn
        .query_row(
            "SELECT DISTINCT replaces.entry_id
             FROM channel_entry
             LEFT OUTER JOIN channel_entry replaces ON replaces.replaces = channel_entry.entry_id
             INNER JOIN operatorbundle ON replaces.operatorbundle_name = operatorbundle.name
             WHERE channel_entry.operatorbundle_name = ?1 AND channel_entry.package_name = ?2 AND channel_entry.channel_name = ?3 LIMIT 1",
            params![bundle, pkg, channel],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// Bundle paths of a package's bundles; `None` when one is empty (upstream returns
/// "Index malformed" there, which the sanity check treats as "skip the checks").
pub(crate) fn bundle_paths_for_package(
    conn: &Connection,
    pkg: &str,
) -> rusqlite::Result<Option<Vec<String>>> {
    let mut stmt = conn.prepare(
        "SELECT DISTINCT bundlepath FROM operatorbundle
        INNER JOIN channel_entry ON operatorbundle.name=channel_entry.operatorbundle_name
        WHERE channel_entry.package_name=?1",
    )?;
    let rows = stmt.query_map([pkg], |r| text(r, 0))?;
    let mut out = Vec::new();
    for r in rows {
        match r? {
            Some(p) if p.is_empty() => return Ok(None),
            p => out.push(p.unwrap_or_default()),
        }
    }
    Ok(Some(out))
}

/// `bundlepath` of a bundle row, `None` when there is no row (upstream
/// `GetBundlePathIfExists`).
pub(crate) fn bundle_path_of(conn: &Connection, name: &str) -> rusqlite::Result<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT bundlepath FROM operatorbundle WHERE operatorbundle.name=?1 LIMIT 1",
            [name],
            |r| text(r, 0),
        )
        .optional()?
        .map(Option::unwrap_or_default))
}

/// Package of the bundle with image `path` if it heads its package's default channel.
pub(crate) fn package_from_default_channel_head(
    conn: &Connection,
    path: &str,
) -> rusqlite::Result<String> {
    let mut stmt = conn.prepare(
        "SELECT package_name FROM package, channel
        WHERE channel.package_name == package.name
        AND package.default_channel == channel.name
        AND channel.head_operatorbundle_name = (SELECT name FROM operatorbundle WHERE bundlepath=?1 LIMIT 1)",
    )?;
    let rows = stmt.query_map([path], |r| text(r, 0))?;
    let mut last = String::new();
    for r in rows {
        last = r?.unwrap_or_default();
    }
    Ok(last)
}

/// Image of a channel's head bundle ("" when none).
pub(crate) fn bundle_path_for_channel_head(
    conn: &Connection,
    pkg: &str,
    channel: &str,
) -> rusqlite::Result<String> {
    let mut stmt = conn.prepare(
        "SELECT bundlepath FROM operatorbundle
        INNER JOIN channel ON channel.head_operatorbundle_name = operatorbundle.name
        WHERE channel.package_name = ?1 AND channel.name = ?2",
    )?;
    let rows = stmt.query_map(params![pkg, channel], |r| text(r, 0))?;
    let mut last = String::new();
    for r in rows {
        last = r?.unwrap_or_default();
    }
    Ok(last)
}

/// The package graph from the index, `None` when the package (or its default channel) is not
/// there (upstream `SQLGraphLoader.Generate`, `ErrPackageNotInDatabase`).
pub(crate) fn package_graph(
    conn: &Connection,
    pkg: &str,
) -> Result<Option<PackageGraph>, AddError> {
    let default_channel: Option<Option<String>> = conn
        .query_row(
            "SELECT default_channel FROM package WHERE package.name=?1",
            [pkg],
            |r| text(r, 0),
        )
        .optional()?;
    let Some(Some(default_channel)) = default_channel else {
        return Ok(None);
    };
    let entries = channel_entries_from_package(conn, pkg)?;
    let existing = bundles_for_package(conn, pkg)?;
    graph::from_entries(pkg, default_channel, &entries, &existing).map(Some)
}
