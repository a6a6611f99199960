//! The loader's table operations (upstream `pkg/sqlite/load.go`, `loadprocs.go`): the same SQL
//! statements in the same order, so that foreign-key cascades, `INSERT OR REPLACE` semantics
//! and the resulting rows are upstream's. Every function runs inside the caller's transaction.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use super::bundle::{BundleToAdd, marshal_raw};
use super::csv::CsvError;
use super::error::{AddError, WriteError};
use super::graph::{BundleKey, PackageGraph, PackageManifest};
use super::query::{self, bundle_skips_replaces_version, deprecated};
use crate::column::text;
use go_encoding::go_kind;

/// Go's `sql.NullString{String: s, Valid: s != ""}`.
fn null_if_empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

const TYPE_GVK: &str = "olm.gvk";
const TYPE_PACKAGE: &str = "olm.package";
const TYPE_LABEL: &str = "olm.label";
const TYPE_DEPRECATED: &str = "olm.deprecated";

/// `{"group":…,"kind":…,"version":…}` (upstream `GVKProperty`/`GVKDependency` field order).
fn gvk_json(group: &str, kind: &str, version: &str) -> String {
    let mut s = String::from("{\"group\":");
    go_encoding::push_string(&mut s, group, true);
    s.push_str(",\"kind\":");
    go_encoding::push_string(&mut s, kind, true);
    s.push_str(",\"version\":");
    go_encoding::push_string(&mut s, version, true);
    s.push('}');
    s
}

/// `{"packageName":…,"version":…}` (upstream `PackageProperty`, release omitted when empty).
fn package_json(pkg: &str, version: &str) -> String {
    let mut s = String::from("{\"packageName\":");
    go_encoding::push_string(&mut s, pkg, true);
    s.push_str(",\"version\":");
    go_encoding::push_string(&mut s, version, true);
    s.push('}');
    s
}

/// A failure of writing a bundle's rows, with upstream's message.
#[derive(Debug, thiserror::Error)]
enum BundleRowsError {
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error(transparent)]
    Csv(#[from] CsvError),
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    #[error("json: error calling MarshalJSON for type json.RawMessage: {0}")]
    MarshalRaw(serde_json::Error),
    /// A known property type whose field is not a string.
    #[error("json: cannot unmarshal {found} into Go struct field .{field} of type string")]
    PropertyField {
        found: &'static str,
        field: &'static str,
    },
    /// A known property type whose value is not an object.
    #[error("json: cannot unmarshal {0} into Go value of type struct")]
    PropertyValue(&'static str),
}

/// `addOperatorBundle`: the bundle row, its related images, dependencies, properties and APIs.
pub(crate) fn add_operator_bundle(conn: &Connection, b: &BundleToAdd) -> Result<(), AddError> {
    if !b.substitutes_for.is_empty() {
        return Err(AddError::SubstitutesForAlphaOnly);
    }
    // Upstream binds the encoded CSV and manifests as []byte, stored as BLOBs.
    let csv = b.csv_json().into_bytes();
    let manifests = b.bundle_json().into_bytes();
    conn.execute(
        "insert into operatorbundle(name, csv, bundle, bundlepath, version, skiprange, replaces, skips, substitutesfor) values(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            b.name,
            csv,
            manifests,
            b.image,
            b.version,
            b.skip_range,
            b.replaces,
            b.skips.join(","),
            b.substitutes_for
        ],
    )
    .map_err(|e| AddError::Upstream(format!("failed to add bundle {:?}: {e}", b.name)))?;

    let images = b
        .images()
        .map_err(|e| AddError::Upstream(format!("unable to obtain images : {e}")))?;
    for img in images {
        conn.execute(
            "insert into related_image(image, operatorbundle_name) values(?1,?2)",
            params![img, b.name],
        )
        .map_err(|e| {
            AddError::Upstream(format!(
                "failed to add related images {img:?} for bundle {:?}: {e}",
                b.name
            ))
        })?;
    }

    add_dependencies(conn, b)
        .map_err(|e| AddError::Upstream(format!("failed to add dependencies : {e}")))?;
    add_bundle_properties(conn, b)
        .map_err(|e| AddError::Upstream(format!("failed to add properties : {e}")))?;
    add_apis(conn, b).map_err(|e| AddError::Upstream(e.to_string()))
}

fn add_dependencies(conn: &Connection, b: &BundleToAdd) -> Result<(), BundleRowsError> {
    let version = null_if_empty(&b.version);
    let path = null_if_empty(&b.image);
    let insert = |t: &str, value: Vec<u8>| {
        conn.execute(
            "insert into dependencies(type, value, operatorbundle_name, operatorbundle_version, operatorbundle_path) values(?1, ?2, ?3, ?4, ?5)",
            params![t, value, b.name, version, path],
        )
        .map(|_| ())
    };
    // Upstream binds json.RawMessage / []byte values, stored as BLOBs.
    for d in &b.dependencies {
        insert(&d.r#type, d.value.clone().into_bytes())?;
    }
    for api in b.required_apis()? {
        insert(
            TYPE_GVK,
            gvk_json(&api.group, &api.kind, &api.version).into_bytes(),
        )?;
    }
    Ok(())
}

pub(crate) fn add_property(
    conn: &Connection,
    t: &str,
    value: &str,
    bundle: &str,
    version: &str,
    path: &str,
) -> rusqlite::Result<()> {
    conn.execute(
        "insert into properties(type, value, operatorbundle_name, operatorbundle_version, operatorbundle_path) values(?1, ?2, ?3, ?4, ?5)",
        params![t, value, bundle, null_if_empty(version), null_if_empty(path)],
    )?;
    Ok(())
}

/// Upstream validates known property types by unmarshalling them into their Go structs.
fn check_property_value(t: &str, value: &str) -> Result<(), BundleRowsError> {
    let v: Value = serde_json::from_str(value)?;
    let fields: &[&str] = match t {
        TYPE_LABEL => &["label"],
        TYPE_PACKAGE => &["packageName", "version"],
        TYPE_GVK => &["group", "kind", "version"],
        _ => return Ok(()),
    };
    match &v {
        Value::Null => Ok(()),
        Value::Object(m) => {
            for f in fields {
                for (k, fv) in m {
                    if k.eq_ignore_ascii_case(f) && !matches!(fv, Value::String(_) | Value::Null) {
                        return Err(BundleRowsError::PropertyField {
                            found: go_kind(fv),
                            field: f,
                        });
                    }
                }
            }
            Ok(())
        }
        other => Err(BundleRowsError::PropertyValue(go_kind(other))),
    }
}

fn add_bundle_properties(conn: &Connection, b: &BundleToAdd) -> Result<(), BundleRowsError> {
    // A set upstream (a Go map): insertion order is irrelevant, duplicates collapse.
    let mut props: BTreeSet<(String, String)> = BTreeSet::new();
    for p in &b.properties {
        let raw = if p.value.trim().is_empty() {
            "null"
        } else {
            p.value.as_str()
        };
        serde_json::from_str::<&serde_json::value::RawValue>(raw)
            .map_err(BundleRowsError::MarshalRaw)?;
        props.insert((p.r#type.clone(), marshal_raw(raw)));
    }
    for api in b.provided_apis()? {
        props.insert((
            TYPE_GVK.to_string(),
            gvk_json(&api.group, &api.kind, &api.version),
        ));
    }
    let annotation = super::csv::annotation(b.csv(), "olm.properties");
    let has_annotation = b
        .csv()
        .get("metadata")
        .and_then(|m| m.get("annotations"))
        .and_then(|a| a.get("olm.properties"))
        .is_some();
    if has_annotation {
        use serde_json::value::RawValue;
        let items: Vec<BTreeMap<String, &RawValue>> = serde_json::from_str(&annotation)?;
        for item in items {
            let get = |key: &str| {
                item.iter()
                    .filter(|(k, _)| k.eq_ignore_ascii_case(key))
                    .map(|(_, v)| *v)
                    .next_back()
            };
            let typ = match get("type") {
                None => String::new(),
                Some(t) => serde_json::from_str::<Option<String>>(t.get())?.unwrap_or_default(),
            };
            let raw = get("value").map(|v| v.get()).unwrap_or("null");
            check_property_value(&typ, raw)?;
            props.insert((typ, marshal_raw(raw)));
        }
    }
    if deprecated(conn, &b.name)? {
        props.insert((TYPE_DEPRECATED.to_string(), "{}".to_string()));
    }
    for (t, v) in props {
        add_property(conn, &t, &v, &b.name, &b.version, &b.image)?;
    }
    Ok(())
}

fn add_apis(conn: &Connection, b: &BundleToAdd) -> Result<(), BundleRowsError> {
    let provided = b.provided_apis()?;
    let required = b.required_apis()?;
    let version = null_if_empty(&b.version);
    let path = null_if_empty(&b.image);
    for (table, apis) in [("api_provider", provided), ("api_requirer", required)] {
        for api in apis {
            conn.execute(
                "insert or ignore into api(group_name, version, kind, plural) values(?1, ?2, ?3, ?4)",
                params![api.group, api.version, api.kind, api.plural],
            )?;
            conn.execute(
                &format!("insert into {table}(group_name, version, kind, operatorbundle_name, operatorbundle_version, operatorbundle_path) values(?1, ?2, ?3, ?4, ?5, ?6)"),
                params![api.group, api.version, api.kind, b.name, version, path],
            )?;
        }
    }
    Ok(())
}

/// Deletes a package's rows so that they can be recomputed (upstream `rmPackage`).
pub(crate) fn rm_package(conn: &Connection, pkg: &str) -> Result<(), AddError> {
    conn.execute("DELETE FROM package WHERE name = ?1", [pkg])
        .map_err(|e| AddError::Upstream(format!("unable to delete the package {pkg}: {e}")))?;
    conn.execute("DELETE FROM channel WHERE package_name = ?1", [pkg])
        .map_err(|e| AddError::Upstream(format!("unable to delete channel: {e}")))?;
    conn.execute("DELETE FROM channel_entry WHERE package_name = ?1", [pkg])?;
    Ok(())
}

fn insert_entry(
    conn: &Connection,
    channel: &str,
    pkg: &str,
    bundle: &str,
    depth: i64,
) -> rusqlite::Result<i64> {
    conn.execute(
        "insert into channel_entry(channel_name, package_name, operatorbundle_name, depth) values(?1, ?2, ?3, ?4)",
        params![channel, pkg, bundle, depth],
    )?;
    Ok(conn.last_insert_rowid())
}

fn set_replaces(conn: &Connection, replaces_id: i64, entry_id: i64) -> rusqlite::Result<()> {
    conn.execute(
        "update channel_entry set replaces = ?1 where entry_id = ?2",
        params![replaces_id, entry_id],
    )?;
    Ok(())
}

/// A failed step of [`insert_skip`].
enum SkipEntryError {
    /// Inserting the skipped bundle's entry.
    Skipped(rusqlite::Error),
    /// Inserting the skipping bundle's synthesized entry.
    Synthesized(rusqlite::Error),
    /// Making the synthesized entry replace the skipped one.
    Link {
        skipped_id: i64,
        synthesized_id: i64,
        source: rusqlite::Error,
    },
}

/// A skip edge as both of upstream's channel writers store it: an entry for the skipped
/// bundle and a synthesized entry of `bundle` at the same depth that replaces it.
fn insert_skip(
    conn: &Connection,
    channel: &str,
    pkg: &str,
    skipped: &str,
    bundle: &str,
    depth: i64,
) -> Result<(), SkipEntryError> {
    let skipped_id =
        insert_entry(conn, channel, pkg, skipped, depth).map_err(SkipEntryError::Skipped)?;
    let synthesized_id =
        insert_entry(conn, channel, pkg, bundle, depth).map_err(SkipEntryError::Synthesized)?;
    set_replaces(conn, skipped_id, synthesized_id).map_err(|source| SkipEntryError::Link {
        skipped_id,
        synthesized_id,
        source,
    })
}

/// Writes a package's channels and replaces chains from its bundle rows, walking each
/// channel from its head (upstream `addPackageChannels`, used by the replaces mode).
pub(crate) fn add_package_channels(
    conn: &Connection,
    manifest: &PackageManifest,
) -> Result<(), AddError> {
    let pkg = &manifest.package_name;
    conn.execute("insert into package(name) values(?1)", [pkg])
        .map_err(|e| AddError::Upstream(format!("failed to add package {pkg:?}: {e}")))?;
    let mut errs: Vec<AddError> = Vec::new();
    let mut channels = Vec::new();
    let mut has_default = false;
    for c in &manifest.channels {
        if deprecated(conn, &c.current_csv).unwrap_or(true) {
            // Channels that start with a deprecated bundle are elided.
            continue;
        }
        if let Err(e) = conn.execute(
            "insert into channel(name, package_name, head_operatorbundle_name) values(?1, ?2, ?3)",
            params![c.name, pkg, c.current_csv],
        ) {
            errs.push(AddError::Upstream(format!(
                "failed to add channel {:?} in package {pkg:?}: {e}",
                c.name
            )));
            continue;
        }
        if c.name == manifest.default_channel || manifest.channels.len() == 1 {
            has_default = true;
            if let Err(e) = conn.execute(
                "update package set default_channel = ?1 where name = ?2",
                params![c.name, pkg],
            ) {
                errs.push(AddError::Upstream(format!(
                    "failed to add default channel {:?} in package {pkg:?}: {e}",
                    c.name
                )));
                continue;
            }
        }
        channels.push(c);
    }
    if !has_default {
        errs.push(AddError::NoDefaultChannelSpecified(pkg.clone()));
    }

    for c in channels {
        let mut current_id = match insert_entry(conn, &c.name, pkg, &c.current_csv, 0) {
            Ok(id) => id,
            Err(e) => {
                errs.push(AddError::Upstream(format!(
                    "failed to add channel {:?} in package {pkg:?}: {e}",
                    c.name
                )));
                continue;
            }
        };
        let mut entry_csv = c.current_csv.clone();
        let mut depth: i64 = 1;
        let mut seen: BTreeSet<String> = BTreeSet::from([entry_csv.clone()]);
        loop {
            let (replaces, skips, version) = match bundle_skips_replaces_version(conn, &entry_csv) {
                Ok(v) => v,
                Err(e) => {
                    errs.push(e);
                    break;
                }
            };
            let path = query::bundle_path_of(conn, &entry_csv)?.unwrap_or_default();
            if let Err(e) = add_property(
                conn,
                TYPE_PACKAGE,
                &package_json(pkg, &version),
                &entry_csv,
                &version,
                &path,
            ) {
                errs.push(AddError::Upstream(e.to_string()));
                break;
            }
            if deprecated(conn, &entry_csv)? {
                // The package is truncated below a deprecated bundle.
                break;
            }
            for skip in &skips {
                if let Err(e) = insert_skip(conn, &c.name, pkg, skip, &entry_csv, depth) {
                    errs.push(AddError::Upstream(match e {
                        SkipEntryError::Skipped(e) => format!(
                            "failed to add channel {:?} for skipped version {skip:?} in package {pkg:?}: {e}",
                            c.name
                        ),
                        SkipEntryError::Synthesized(e) => format!(
                            "failed to add channel {:?} for replaces {entry_csv:?} in package {pkg:?}: {e}",
                            c.name
                        ),
                        SkipEntryError::Link { source, .. } => source.to_string(),
                    }));
                    continue;
                }
                depth += 1;
            }
            if replaces.is_empty() {
                break;
            }
            let replaced_id = match insert_entry(conn, &c.name, pkg, &replaces, depth) {
                Ok(id) => id,
                Err(e) => {
                    errs.push(AddError::Upstream(format!(
                        "failed to add channel {:?} for replaces {replaces:?} in package {pkg:?}: {e}",
                        c.name
                    )));
                    break;
                }
            };
            if !seen.insert(replaces.clone()) {
                errs.push(AddError::Cycle {
                    bundle: entry_csv.clone(),
                    replaces: replaces.clone(),
                });
                break;
            }
            if let Err(e) = set_replaces(conn, replaced_id, current_id) {
                errs.push(AddError::Upstream(e.to_string()));
                break;
            }
            if bundle_skips_replaces_version(conn, &replaces).is_err() {
                errs.push(AddError::ReplacesMissing {
                    head: c.current_csv.clone(),
                    replaces: replaces.clone(),
                });
                break;
            }
            current_id = replaced_id;
            entry_csv = replaces;
            depth += 1;
        }
    }
    match AddError::aggregate(errs) {
        None => Ok(()),
        Some(e) => Err(e),
    }
}

/// Writes a package from its graph (upstream `AddPackageChannelsFromGraph`, used by the semver
/// modes). Upstream commits even when some statements failed and returns the errors; the
/// caller here rolls back instead.
pub(crate) fn add_package_channels_from_graph(
    conn: &Connection,
    graph: &PackageGraph,
) -> Result<(), AddError> {
    let pkg = &graph.name;
    let mut errs: Vec<AddError> = Vec::new();
    if let Err(e) = conn.execute("insert or replace into package(name) values(?1)", [pkg]) {
        errs.push(AddError::Upstream(format!(
            "failed to insert or replace package ({pkg}): {e}"
        )));
    }
    for (name, channel) in &graph.channels {
        if let Err(e) = conn.execute(
            "insert or replace into channel(name, package_name, head_operatorbundle_name) values(?1, ?2, ?3)",
            params![name, pkg, channel.head.csv_name],
        ) {
            errs.push(AddError::Upstream(format!(
                "failed to insert or update channel ({name}) for package ({pkg}) with head ({}) : {e}",
                channel.head.csv_name
            )));
        }
    }
    if let Err(e) = conn.execute(
        "update package set default_channel = ?1 where name = ?2",
        params![graph.default_channel, pkg],
    ) {
        errs.push(AddError::Upstream(format!(
            "the default channel ({}) does not exist: failed to set default channel ({}) for package ({pkg}): {e}",
            graph.default_channel, graph.default_channel
        )));
    }

    for (channel_name, channel) in &graph.channels {
        let mut current = channel.head.clone();
        let mut depth: i64 = 0;
        let mut previous_id: i64 = 0;
        if let Err(e) = conn.execute(
            "delete from channel_entry where channel_name = ?1 and package_name = ?2",
            params![channel_name, pkg],
        ) {
            errs.push(AddError::Upstream(format!(
                "failed to delete channel entry for channel name ({channel_name}) and package ({pkg}): {e}"
            )));
            break;
        }
        // Bounded by the node count: a malformed graph cannot loop forever.
        let mut steps = 0usize;
        loop {
            steps += 1;
            if steps > channel.nodes.len() + 1 {
                errs.push(AddError::Upstream(format!(
                    "Invalid graph: replaces chain of channel {channel_name} loops"
                )));
                break;
            }
            let id = match insert_entry(conn, channel_name, pkg, &current.csv_name, depth) {
                Ok(id) => id,
                Err(e) => {
                    errs.push(AddError::Upstream(format!(
                        "failed to insert channel_entry for channel ({channel_name}) and bundle ({}): {e}",
                        current.csv_name
                    )));
                    break;
                }
            };
            if previous_id != 0
                && let Err(e) = set_replaces(conn, id, previous_id)
            {
                errs.push(AddError::Upstream(format!(
                    "failed to update channel_entry to set replaces ({id}) for entry ({previous_id}): {e}"
                )));
            }
            let mut synthetic: Vec<&BundleKey> = Vec::new();
            let mut next: Option<&BundleKey> = None;
            if let Some(replaces) = channel.nodes.get(&current) {
                for r in replaces {
                    if channel.nodes.contains_key(r) {
                        next = Some(r);
                    } else {
                        synthetic.push(r);
                    }
                }
            }
            for (synthetic_depth, s) in (depth + 1..).zip(synthetic) {
                let inserted = insert_skip(
                    conn,
                    channel_name,
                    pkg,
                    &s.csv_name,
                    &current.csv_name,
                    synthetic_depth,
                );
                let failed_entry = |bundle: &str, e: &rusqlite::Error| {
                    AddError::Upstream(format!(
                        "failed to insert channel_entry for channel ({channel_name}) and bundle ({bundle}): {e}"
                    ))
                };
                match inserted {
                    Ok(()) => {}
                    Err(SkipEntryError::Skipped(e)) => {
                        errs.push(failed_entry(&s.csv_name, &e));
                        break;
                    }
                    Err(SkipEntryError::Synthesized(e)) => {
                        errs.push(failed_entry(&current.csv_name, &e));
                        break;
                    }
                    Err(SkipEntryError::Link {
                        skipped_id,
                        synthesized_id,
                        source,
                    }) => errs.push(AddError::Upstream(format!(
                        "failed to update channel_entry to set replaces ({skipped_id}) for entry ({synthesized_id}): {source}"
                    ))),
                }
            }
            let Some(next) = next else {
                let expected = channel.nodes.len() as i64 - 1;
                if expected != depth {
                    errs.push(AddError::Upstream(format!(
                        "Invalid graph: some (non-bottom) nodes defined in the graph were not mentioned as replacements of any node ({expected} != {depth})"
                    )));
                }
                break;
            };
            current = next.clone();
            previous_id = id;
            depth += 1;
        }
    }
    match AddError::aggregate(errs) {
        None => Ok(()),
        Some(e) => Err(e),
    }
}

/// Drops the manifests of every bundle that heads no channel (semver modes).
pub(crate) fn clear_non_head_bundles(conn: &Connection) -> Result<(), AddError> {
    conn.execute(
        r#"update operatorbundle set bundle = null, csv = null
        where (bundlepath != null or bundlepath != "")
        and name not in (
            select operatorbundle.name from operatorbundle
            join channel on channel.head_operatorbundle_name = operatorbundle.name
        )"#,
        [],
    )
    .map_err(|e| AddError::Upstream(format!("Error deleting previous bundles: {e}")))?;
    Ok(())
}

/// Deletes a bundle row, its API rows and its channel entries (upstream `rmBundle`).
pub(crate) fn rm_bundle(conn: &Connection, name: &str) -> rusqlite::Result<()> {
    conn.execute(
        "DELETE FROM operatorbundle WHERE operatorbundle.name=?1",
        [name],
    )?;
    conn.execute(
        "DELETE FROM api_provider WHERE api_provider.operatorbundle_name=?1",
        [name],
    )?;
    conn.execute(
        "DELETE FROM api_requirer WHERE api_requirer.operatorbundle_name=?1",
        [name],
    )?;
    conn.execute(
        "DELETE FROM channel_entry WHERE channel_entry.operatorbundle_name=?1",
        [name],
    )?;
    Ok(())
}

/// Removes a package and everything only it referenced (upstream
/// `DeprecationAwareLoader.RemovePackage`).
pub(crate) fn remove_package(conn: &Connection, pkg: &str) -> Result<(), WriteError> {
    conn.execute(
        "DELETE FROM deprecated WHERE deprecated.operatorbundle_name IN (SELECT DISTINCT deprecated.operatorbundle_name FROM (deprecated INNER JOIN channel_entry ON deprecated.operatorbundle_name = channel_entry.operatorbundle_name) WHERE channel_entry.package_name = ?1)",
        [pkg],
    )?;
    let names: Vec<String> = {
        let mut stmt = conn.prepare(
            "SELECT DISTINCT channel_entry.operatorbundle_name FROM channel_entry WHERE channel_entry.package_name=?1",
        )?;
        let rows = stmt.query_map([pkg], |r| text(r, 0))?;
        let mut out = Vec::new();
        for r in rows {
            out.push(r?.unwrap_or_default());
        }
        out
    };
    if names.is_empty() {
        return Err(WriteError::PackageNotFound(pkg.to_string()));
    }
    for n in &names {
        rm_bundle(conn, n)?;
    }
    conn.execute("DELETE FROM package WHERE package.name=?1", [pkg])?;
    conn.execute("DELETE FROM channel WHERE package_name = ?1", [pkg])?;
    remove_stranded_bundles(conn)
}

/// Removes bundles without channel entries (except deprecated ones) and deprecated bundles of
/// unknown packages (upstream `RemoveStrandedBundles`).
pub(crate) fn remove_stranded_bundles(conn: &Connection) -> Result<(), WriteError> {
    conn.execute(
        "DELETE FROM operatorbundle WHERE name NOT IN(select operatorbundle_name from channel_entry) AND name NOT IN (SELECT operatorbundle_name FROM deprecated)",
        [],
    )?;
    rm_stranded_deprecated(conn)
}

fn rm_stranded_deprecated(conn: &Connection) -> Result<(), WriteError> {
    let mut known: BTreeSet<String> = BTreeSet::new();
    {
        let mut stmt = conn.prepare("SELECT DISTINCT name FROM package")?;
        let rows = stmt.query_map([], |r| text(r, 0))?;
        for r in rows {
            match r? {
                Some(p) if !p.is_empty() => {
                    known.insert(p);
                }
                other => {
                    return Err(WriteError::Upstream(format!(
                        "invalid package {}",
                        go_null_string(other.as_deref())
                    )));
                }
            }
        }
    }
    let rows: Vec<(Option<String>, Option<String>)> = {
        let mut stmt = conn.prepare(
            "select distinct operatorbundle_name, value from properties where type = ?1",
        )?;
        let rows = stmt.query_map([TYPE_PACKAGE], |r| Ok((text(r, 0)?, text(r, 1)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    for (bundle, value) in rows {
        let bundle = match bundle {
            Some(b) if !b.is_empty() => b,
            other => {
                return Err(WriteError::Upstream(format!(
                    "invalid bundle {}",
                    go_null_string(other.as_deref())
                )));
            }
        };
        let value = match value {
            Some(v) if !v.is_empty() => v,
            other => {
                return Err(WriteError::Upstream(format!(
                    "invalid package property on {}: {}",
                    go_null_string(Some(&bundle)),
                    go_null_string(other.as_deref())
                )));
            }
        };
        let parsed: Value =
            serde_json::from_str(&value).map_err(|e| WriteError::Upstream(e.to_string()))?;
        let pkg = parsed
            .as_object()
            .and_then(|m| {
                m.iter()
                    .filter(|(k, _)| k.eq_ignore_ascii_case("packageName"))
                    .map(|(_, v)| v)
                    .next_back()
            })
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !known.contains(pkg) {
            rm_bundle(conn, &bundle)?;
        }
    }
    conn.execute(
        "DELETE FROM deprecated WHERE deprecated.operatorbundle_name NOT IN (SELECT DISTINCT name FROM operatorbundle)",
        [],
    )?;
    Ok(())
}

/// Go's `%v` of a `sql.NullString`.
fn go_null_string(s: Option<&str>) -> String {
    match s {
        Some(s) => format!("{{{s} true}}"),
        None => "{ false}".to_string(),
    }
}

/// Removes the overwritten channel head so that its replacement can take its place (upstream
/// `RemoveOverwrittenChannelHead`).
pub(crate) fn remove_overwritten_channel_head(
    conn: &Connection,
    pkg: &str,
    bundle: &str,
) -> Result<(), AddError> {
    let replaced_by = conn
        .query_row(
            "SELECT DISTINCT operatorbundle.name AS replaces, channel_entry.channel_name
            FROM channel_entry
            LEFT OUTER JOIN channel_entry replaces
                ON replaces.replaces = channel_entry.entry_id
            INNER JOIN operatorbundle
                ON replaces.operatorbundle_name = operatorbundle.name
            WHERE channel_entry.package_name = ?1
            AND channel_entry.operatorbundle_name = ?2
            LIMIT 1",
            params![pkg, bundle],
            |r| Ok((text(r, 0)?, text(r, 1)?)),
        )
        .optional()?;
    if let Some((replaced_by, channel)) = replaced_by {
        return Err(AddError::OverwriteReplaced {
            bundle: bundle.to_string(),
            package: pkg.to_string(),
            replaced_by: replaced_by.unwrap_or_default(),
            channel: channel.unwrap_or_default(),
        });
    }
    let rows: Vec<(Option<String>, Option<String>)> = {
        let mut stmt = conn.prepare(
            "SELECT replaces.name as replaces, channel_entry.channel_name, min(depth)
            from channel_entry
            LEFT JOIN (
                SELECT entry_id, name FROM channel_entry
                    INNER JOIN operatorbundle
                    ON channel_entry.operatorbundle_name = operatorbundle.name
            ) AS replaces
            ON channel_entry.replaces = replaces.entry_id
            WHERE channel_entry.package_name = ?1
                AND channel_entry.operatorbundle_name = ?2
            GROUP BY channel_name",
        )?;
        let rows = stmt.query_map(params![pkg, bundle], |r| Ok((text(r, 0)?, text(r, 1)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    for (replaces, channel) in rows {
        let Some(channel) = channel else {
            return Err(AddError::Upstream(format!(
                "channel name column corrupt for bundle {bundle}"
            )));
        };
        match replaces {
            Some(r) if !r.is_empty() => {
                // Promote the replaced bundle so that removing the head keeps the channel.
                conn.execute(
                    "UPDATE channel SET head_operatorbundle_name = ?1 WHERE package_name = ?2 AND name = ?3 AND head_operatorbundle_name = ?4",
                    params![r, pkg, channel, bundle],
                )?;
            }
            _ => {
                conn.execute(
                    "UPDATE channel SET head_operatorbundle_name = NULL WHERE name = ?1 AND package_name = ?2 AND name IN (SELECT default_channel FROM package WHERE name = ?3)",
                    params![channel, pkg, pkg],
                )?;
            }
        }
    }
    rm_bundle(conn, bundle)?;
    conn.execute(
        "DELETE FROM deprecated WHERE deprecated.operatorbundle_name = ?1",
        [bundle],
    )?;
    Ok(())
}

/// A bundle on the replaces chain below a deprecated bundle (upstream `tailBundle`).
struct TailBundle {
    channels: Vec<String>,
    replaces: Vec<String>,
    replaced_by: Vec<String>,
}

fn split_concat(s: Option<String>) -> Vec<String> {
    match s {
        Some(s) if !s.is_empty() => s.split(',').map(str::to_string).collect(),
        _ => Vec::new(),
    }
}

fn tail_from_bundle(
    conn: &Connection,
    head: &str,
) -> Result<HashMap<String, TailBundle>, WriteError> {
    let default_head: Option<Option<String>> = conn
        .query_row(
            "SELECT head_operatorbundle_name FROM channel
            INNER JOIN package ON channel.name = package.default_channel AND channel.package_name = package.name
            INNER JOIN channel_entry on channel.package_name = channel_entry.package_name
            WHERE channel_entry.operatorbundle_name = ?1
            LIMIT 1",
            [head],
            |r| text(r, 0),
        )
        .optional()?;
    let default_head = match default_head {
        None => {
            return Err(WriteError::Upstream(format!(
                "error getting default channel head for {head}: sql: no rows in result set"
            )));
        }
        Some(Some(h)) if !h.is_empty() => h,
        Some(h) => {
            return Err(WriteError::Upstream(format!(
                "invalid default channel head '{}' for {head}",
                h.unwrap_or_default()
            )));
        }
    };
    let mut stmt = conn.prepare(
        "WITH RECURSIVE
        replaces_entry (operatorbundle_name, replaces, replaced_by, channel_name, package_name) AS (
        SELECT channel_entry.operatorbundle_name, replaces.operatorbundle_name, replaced_by.operatorbundle_name, channel_entry.channel_name, channel_entry.package_name
            FROM channel_entry
            LEFT OUTER JOIN channel_entry AS replaces
                ON replaces.entry_id = channel_entry.replaces
            LEFT OUTER JOIN channel_entry AS replaced_by
                ON channel_entry.entry_id = replaced_by.replaces
            WHERE channel_entry.operatorbundle_name = ?1
        UNION
        SELECT channel_entry.operatorbundle_name, replaces.operatorbundle_name, replaced_by.operatorbundle_name, channel_entry.channel_name, channel_entry.package_name
            FROM channel_entry
            JOIN replaces_entry
                ON replaces_entry.replaces = channel_entry.operatorbundle_name
            LEFT OUTER JOIN channel_entry AS replaces
                ON channel_entry.replaces = replaces.entry_id
            LEFT OUTER JOIN channel_entry AS replaced_by
                ON channel_entry.entry_id = replaced_by.replaces
        )
    SELECT
        replaces_entry.operatorbundle_name,
        operatorbundle.version,
        operatorbundle.bundlepath,
        GROUP_CONCAT(DISTINCT replaces_entry.channel_name),
        GROUP_CONCAT(DISTINCT replaces_entry.replaces),
        GROUP_CONCAT(DISTINCT replaces_entry.replaced_by)
    FROM replaces_entry
    LEFT OUTER JOIN operatorbundle
        ON operatorbundle.name = replaces_entry.operatorbundle_name
    GROUP BY replaces_entry.operatorbundle_name, replaces_entry.package_name
    ORDER BY replaces_entry.channel_name, replaces_entry.replaces, replaces_entry.replaced_by",
    )?;
    let rows = stmt.query_map([head], |r| {
        Ok((text(r, 0)?, text(r, 3)?, text(r, 4)?, text(r, 5)?))
    })?;
    let mut out = HashMap::new();
    for row in rows {
        let (bundle, channels, replaces, replaced_by) = row?;
        let bundle = match bundle {
            Some(b) if !b.is_empty() => b,
            other => {
                return Err(WriteError::Upstream(format!(
                    "invalid tail bundle {} for {head}",
                    go_null_string(other.as_deref())
                )));
            }
        };
        if bundle == default_head {
            return Err(WriteError::RemovingDefaultChannel);
        }
        out.insert(
            bundle,
            TailBundle {
                channels: split_concat(channels),
                replaces: split_concat(replaces),
                replaced_by: split_concat(replaced_by),
            },
        );
    }
    Ok(out)
}

fn rm_shared_channel_entry(
    conn: &Connection,
    bundle: &str,
    unshared: &str,
) -> rusqlite::Result<()> {
    if unshared.is_empty() {
        return Ok(());
    }
    conn.execute(
        "UPDATE channel_entry
            SET replaces=NULL
        WHERE replaces IN (
            SELECT entry_id FROM channel_entry
            WHERE operatorbundle_name = ?1
              AND channel_name IN (
                  SELECT channel_name FROM channel_entry
                  WHERE operatorbundle_name = ?2
            ))",
        params![bundle, unshared],
    )?;
    conn.execute(
        "DELETE FROM channel_entry
        WHERE operatorbundle_name = ?1
          AND channel_name IN (
              SELECT channel_name
              FROM channel_entry
              WHERE operatorbundle_name = ?2
              )",
        params![bundle, unshared],
    )?;
    Ok(())
}

/// The outcome of [`deprecate_bundle`] for an image that is not in the index.
pub(crate) enum Deprecated {
    Done,
    NotInIndex,
}

/// Deprecates the bundle with image `path` and truncates the channels below it (upstream
/// `DeprecateBundle`).
pub(crate) fn deprecate_bundle(conn: &Connection, path: &str) -> Result<Deprecated, WriteError> {
    let row = conn
        .query_row(
            "SELECT name, version FROM operatorbundle WHERE bundlepath=?1 LIMIT 1",
            [path],
            |r| Ok((text(r, 0)?, text(r, 1)?)),
        )
        .optional()?;
    let (name, version) = match row {
        Some((Some(n), Some(v))) => (n, v),
        _ => return Ok(Deprecated::NotInIndex),
    };
    let tail = tail_from_bundle(conn, &name)?;

    let head_channels: BTreeSet<&str> = tail
        .get(&name)
        .map(|t| t.channels.iter().map(String::as_str).collect())
        .unwrap_or_default();
    let mut queue: Vec<String> = vec![name.clone()];
    let mut seen: BTreeSet<String> = BTreeSet::from([name.clone()]);
    let mut i = 0;
    'deprecate: while i < queue.len() {
        let bundle = queue[i].clone();
        i += 1;
        let Some(t) = tail.get(&bundle) else {
            continue;
        };
        for b in &t.replaces {
            if seen.insert(b.clone()) {
                queue.push(b.clone());
            }
        }
        if bundle == name {
            continue;
        }
        rm_shared_channel_entry(conn, &bundle, &name)?;
        if t.channels.len() > head_channels.len() {
            // The bundle is also in channels the deprecated bundle is not in.
            continue;
        }
        for c in &t.channels {
            if !head_channels.contains(c.as_str()) {
                continue 'deprecate;
            }
        }
        for b in &t.replaced_by {
            if !tail.contains_key(b) {
                // Replaced by a bundle outside the truncated tail: keep it.
                continue 'deprecate;
            }
        }
        rm_bundle(conn, &bundle)?;
    }
    conn.execute(
        "UPDATE channel_entry SET replaces=NULL WHERE operatorbundle_name=?1",
        [&name],
    )?;
    conn.execute(
        "DELETE FROM channel WHERE head_operatorbundle_name=?1",
        [&name],
    )?;
    add_property(conn, TYPE_DEPRECATED, "{}", &name, &version, path)?;
    conn.execute(
        "INSERT OR REPLACE INTO deprecated(operatorbundle_name) VALUES(?1)",
        [&name],
    )?;
    rm_stranded_deprecated(conn)?;
    Ok(Deprecated::Done)
}
