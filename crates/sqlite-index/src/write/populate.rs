//! Adding bundles: upstream's `populate` (pkg/lib/registry/registry.go) and
//! `DirectoryPopulator` (pkg/registry/populator.go) — overwrite detection, the global sanity
//! checks, the three update modes and the final reachability check.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::str::FromStr;

use rusqlite::Connection;

use super::bundle::BundleToAdd;
use super::error::AddError;
use super::graph::{self, BundleKey, PackageGraph, SemverInsert, VersionedBundle};
use super::{load, query};

/// How a package's upgrade graph is updated (`--mode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// Channel heads by highest version, edges from the CSVs' `replaces`/`skips`.
    #[default]
    Replaces,
    /// Each bundle inserted between its semver neighbours in every channel.
    Semver,
    /// Like `Semver`, and a bundle also replaces every lower patch of its minor version.
    SemverSkipPatch,
}

/// `--mode` parsing failure, phrased as upstream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid channel update mode {0} specified")]
pub struct InvalidMode(pub String);

impl Mode {
    /// Case-insensitive, as upstream's `GetModeFromString` (the [`FromStr`] of `Mode`).
    pub fn parse(s: &str) -> Result<Mode, InvalidMode> {
        s.parse()
    }
}

impl FromStr for Mode {
    type Err = InvalidMode;

    /// Case-insensitive, as upstream's `GetModeFromString`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_lowercase().as_str() {
            "replaces" => Ok(Mode::Replaces),
            "semver" => Ok(Mode::Semver),
            "semver-skippatch" => Ok(Mode::SemverSkipPatch),
            _ => Err(InvalidMode(s.to_string())),
        }
    }
}

pub(crate) fn add_bundles(
    conn: &Connection,
    bundles: &[BundleToAdd],
    mode: Mode,
    overwrite: bool,
) -> Result<(), AddError> {
    // Bundles whose CSV name is already in the index are overwritten (per package).
    let mut overwritten: BTreeMap<String, Vec<String>> = BTreeMap::new();
    if overwrite {
        for b in bundles {
            match query::bundle_path_of(conn, &b.name)? {
                None => continue,
                Some(p) if p.is_empty() => return Err(AddError::OverwriteNeedsImage),
                Some(_) => overwritten
                    .entry(b.package().to_string())
                    .or_default()
                    .push(b.name.clone()),
            }
        }
    }
    global_sanity_check(conn, bundles, !overwritten.is_empty())?;
    match mode {
        Mode::Replaces => {
            for (pkg, names) in &overwritten {
                if let Some(first) = names.first() {
                    load::remove_overwritten_channel_head(conn, pkg, first)?;
                }
            }
            load_replaces(conn, bundles)?;
        }
        Mode::Semver | Mode::SemverSkipPatch => {
            for b in bundles {
                load_semver(conn, b, mode == Mode::SemverSkipPatch)?;
            }
            load::clear_non_head_bundles(conn)?;
        }
    }
    check_for_bundles(conn, bundles)
}

fn global_sanity_check(
    conn: &Connection,
    bundles: &[BundleToAdd],
    overwrite: bool,
) -> Result<(), AddError> {
    let images: BTreeSet<&str> = bundles.iter().map(|b| b.image.as_str()).collect();
    let mut errs: Vec<AddError> = Vec::new();
    let mut attempted: BTreeSet<&str> = BTreeSet::new();
    for b in bundles {
        let mut valid_overwrite = false;
        let Some(paths) = query::bundle_paths_for_package(conn, b.package())? else {
            // Upstream takes a malformed package as "first load" and skips every check.
            return Ok(());
        };
        for p in &paths {
            if images.contains(p.as_str()) {
                errs.push(AddError::BundleImageAlreadyAdded {
                    image: b.image.clone(),
                });
            }
        }
        for channel in query::list_channels(conn, b.package())? {
            if !query::bundle_in_channel(conn, b.package(), &channel, &b.name)? {
                continue;
            }
            if !overwrite {
                errs.push(AddError::PackageVersionAlreadyAdded);
                break;
            }
            if !query::bundle_replaced_in_channel(conn, &b.name, b.package(), &channel)? {
                valid_overwrite = true;
                continue;
            }
            errs.push(AddError::OverwriteNotHead);
            valid_overwrite = false;
            break;
        }
        if valid_overwrite && !attempted.insert(b.package()) {
            errs.push(AddError::OverwriteMoreThanOne);
            break;
        }
    }
    if let Err(e) = validate_edge_bundle_package(conn, bundles) {
        errs.push(e);
    }
    match AddError::aggregate(errs) {
        None => Ok(()),
        Some(e) => Err(e),
    }
}

/// Every bundle named as a replaces/skips edge, or added, belongs to one package only.
fn validate_edge_bundle_package(
    conn: &Connection,
    bundles: &[BundleToAdd],
) -> Result<(), AddError> {
    let mut expected: HashMap<&str, &str> = HashMap::new();
    for b in bundles {
        let names = b
            .skips
            .iter()
            .map(String::as_str)
            .chain([b.replaces.as_str(), b.name.as_str()]);
        for name in names {
            if name.is_empty() {
                continue;
            }
            if let Some(pkg) = expected.get(name)
                && *pkg != b.package()
            {
                let mut packages = vec![pkg.to_string(), b.package().to_string()];
                packages.sort();
                return Err(AddError::EdgeInTwoPackages {
                    bundle: name.to_string(),
                    packages,
                });
            }
            expected.insert(name, b.package());
        }
    }
    if expected.is_empty() {
        return Ok(());
    }
    for pkg in query::list_packages(conn)? {
        for e in query::channel_entries_from_package(conn, &pkg)? {
            if let Some(bundle_pkg) = expected.get(e.bundle.as_str())
                && *bundle_pkg != e.package
            {
                return Err(AddError::EdgeInOtherPackage {
                    bundle: e.bundle,
                    index_package: e.package,
                    package: bundle_pkg.to_string(),
                });
            }
        }
    }
    Ok(())
}

fn load_replaces(conn: &Connection, bundles: &[BundleToAdd]) -> Result<(), AddError> {
    let mut errs = Vec::new();
    let mut packages: BTreeMap<&str, Vec<&BundleToAdd>> = BTreeMap::new();
    for b in bundles {
        if let Err(e) = load::add_operator_bundle(conn, b) {
            errs.push(e);
            continue;
        }
        packages.entry(b.package()).or_default().push(b);
    }
    for (pkg, added) in packages {
        let result = (|| -> Result<(), AddError> {
            let mut all: Vec<VersionedBundle> = query::registry_bundles(conn, pkg)?
                .into_iter()
                .map(|e| VersionedBundle {
                    name: e.name,
                    package: pkg.to_string(),
                    version: e.version,
                    channels: e.channels,
                    default_channel: e.default_channel,
                })
                .collect();
            all.extend(added.iter().map(|b| VersionedBundle {
                name: b.name.clone(),
                package: b.package().to_string(),
                version: b.version.clone(),
                channels: b.channels().to_vec(),
                default_channel: b.annotations.default_channel.clone(),
            }));
            let manifest = graph::semver_package_manifest(&all)?;
            load::rm_package(conn, &manifest.package_name)?;
            load::add_package_channels(conn, &manifest)
        })();
        if let Err(e) = result {
            errs.push(e);
        }
    }
    match AddError::aggregate(errs) {
        None => Ok(()),
        Some(e) => Err(e),
    }
}

fn load_semver(conn: &Connection, b: &BundleToAdd, skippatch: bool) -> Result<(), AddError> {
    let existing = query::package_graph(conn, b.package())?.unwrap_or_else(|| PackageGraph {
        name: b.package().to_string(),
        ..Default::default()
    });
    let insert = SemverInsert {
        name: &b.name,
        image: &b.image,
        version: &b.version,
        channels: b.channels(),
        default_channel: &b.annotations.default_channel,
        inferred_default_channel: b.annotations.select_default_channel(),
    };
    let updated = graph::add_bundle_to_graph(&insert, existing, skippatch)?;
    let prefix = format!("error loading bundle {} into db: ", b.name);
    load::add_operator_bundle(conn, b).map_err(|e| e.context(&prefix))?;
    load::add_package_channels_from_graph(conn, &updated).map_err(|e| e.context(&prefix))
}

/// Every added bundle must be reachable from the head of each of its channels (upstream
/// `checkForBundles`).
fn check_for_bundles(conn: &Connection, bundles: &[BundleToAdd]) -> Result<(), AddError> {
    let mut errs = Vec::new();
    for b in bundles {
        let graph = match query::package_graph(conn, b.package()) {
            Ok(Some(g)) => g,
            Ok(None) => {
                errs.push(AddError::Upstream(format!(
                    "unable to verify added bundles for package {}: Package not in database",
                    b.package()
                )));
                continue;
            }
            Err(e) => {
                errs.push(AddError::Upstream(format!(
                    "unable to verify added bundles for package {}: {e}",
                    b.package()
                )));
                continue;
            }
        };
        for channel in b.channels() {
            let empty = graph::ChannelGraph::default();
            let ch = graph.channels.get(channel).unwrap_or(&empty);
            let mut queue: Vec<&BundleKey> = vec![&ch.head];
            let mut seen: BTreeSet<&BundleKey> = BTreeSet::new();
            let mut found = false;
            let mut i = 0;
            while i < queue.len() {
                let k = queue[i];
                i += 1;
                if k.bundle_path == b.image {
                    found = true;
                    break;
                }
                if !seen.insert(k) {
                    continue;
                }
                if let Some(edges) = ch.nodes.get(k) {
                    queue.extend(edges.iter());
                }
            }
            if found {
                continue;
            }
            let mut head_skips: Vec<String> = ch
                .nodes
                .get(&ch.head)
                .map(|s| s.iter().map(|k| k.csv_name.clone()).collect())
                .unwrap_or_default();
            head_skips.sort();
            errs.push(AddError::Pruned {
                bundle: b.name.clone(),
                image: b.image.clone(),
                package: b.package().to_string(),
                channel: channel.clone(),
                head: ch.head.csv_name.clone(),
                head_skips,
            });
        }
    }
    match AddError::aggregate(errs) {
        None => Ok(()),
        Some(e) => Err(e),
    }
}
