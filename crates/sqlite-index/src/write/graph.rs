//! Upgrade graphs of a package as upstream's loaders compute them: the graph read back from the
//! channel entries (`SQLGraphLoader.Generate`), a bundle inserted by semver
//! (`BundleGraphLoader.AddBundleToGraph`), and the replaces-mode package manifest
//! (`SemverPackageManifest`). Upstream uses Go maps; ordered maps here make the result
//! deterministic where upstream's is not (entry ids, ties between equal versions).

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use super::error::AddError;
use fbc::blang::{self, PreRelease, Version};

/// A bundle in a graph (upstream `BundleKey`); field order is Go's for `%v`.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct BundleKey {
    pub bundle_path: String,
    pub version: String,
    pub csv_name: String,
}

impl BundleKey {
    pub(super) fn is_empty(&self) -> bool {
        self.bundle_path.is_empty() && self.version.is_empty() && self.csv_name.is_empty()
    }

    fn go_fmt(&self) -> String {
        format!(
            "{{{} {} {}}}",
            self.bundle_path, self.version, self.csv_name
        )
    }
}

/// A channel: its head and, per node, the nodes it replaces or skips.
#[derive(Clone, Debug, Default)]
pub(crate) struct ChannelGraph {
    pub head: BundleKey,
    pub nodes: BTreeMap<BundleKey, BTreeSet<BundleKey>>,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct PackageGraph {
    pub name: String,
    pub default_channel: String,
    pub channels: BTreeMap<String, ChannelGraph>,
}

/// Channel entries of a package annotated with bundle and replaced-bundle data (upstream
/// `GetChannelEntriesFromPackage`).
pub(crate) struct AnnotatedEntry {
    pub package: String,
    pub channel: String,
    pub bundle: String,
    pub version: String,
    pub bundle_path: String,
    pub replaces: String,
    pub replaces_version: String,
    pub replaces_bundle_path: String,
}

/// The package graph from its channel entries (upstream `SQLGraphLoader.Generate`):
/// `existing` are the bundles with a row, the others' entries are synthetic and no nodes.
pub(crate) fn from_entries(
    pkg: &str,
    default_channel: String,
    entries: &[AnnotatedEntry],
    existing: &BTreeSet<BundleKey>,
) -> Result<PackageGraph, AddError> {
    let mut graph: BTreeMap<String, BTreeMap<BundleKey, BTreeSet<BundleKey>>> = BTreeMap::new();
    let mut candidates: BTreeMap<String, BTreeSet<BundleKey>> = BTreeMap::new();
    for e in entries {
        let ch = graph.entry(e.channel.clone()).or_default();
        let key = BundleKey {
            bundle_path: e.bundle_path.clone(),
            version: e.version.clone(),
            csv_name: e.bundle.clone(),
        };
        // Synthetic entries of bundles that are not in the index are no nodes.
        if !existing.contains(&key) {
            continue;
        }
        ch.insert(key.clone(), BTreeSet::new());
        candidates.entry(e.channel.clone()).or_default().insert(key);
    }
    for e in entries {
        let key = BundleKey {
            bundle_path: e.bundle_path.clone(),
            version: e.version.clone(),
            csv_name: e.bundle.clone(),
        };
        let replaces = BundleKey {
            bundle_path: e.replaces_bundle_path.clone(),
            version: e.replaces_version.clone(),
            csv_name: e.replaces.clone(),
        };
        if !replaces.is_empty() {
            graph
                .entry(e.channel.clone())
                .or_default()
                .entry(key)
                .or_default()
                .insert(replaces.clone());
        }
        if let Some(c) = candidates.get_mut(&e.channel) {
            c.remove(&replaces);
        }
    }
    let mut channels = BTreeMap::new();
    for (name, heads) in candidates {
        if heads.is_empty() {
            return Err(AddError::Upstream(format!(
                "no channel head found for {name}"
            )));
        }
        if heads.len() > 1 {
            let listed: Vec<String> = heads
                .iter()
                .map(|k| format!("{}:{{}}", k.go_fmt()))
                .collect();
            return Err(AddError::Upstream(format!(
                "multiple candidate channel heads found for {name}: map[{}]",
                listed.join(" ")
            )));
        }
        let head = heads.into_iter().next().unwrap_or_default();
        channels.insert(
            name.clone(),
            ChannelGraph {
                head,
                nodes: graph.remove(&name).unwrap_or_default(),
            },
        );
    }
    Ok(PackageGraph {
        name: pkg.to_string(),
        default_channel,
        channels,
    })
}

/// What the semver modes need of the bundle being inserted.
pub(crate) struct SemverInsert<'a> {
    pub name: &'a str,
    pub image: &'a str,
    pub version: &'a str,
    pub channels: &'a [String],
    pub default_channel: &'a str,
    pub inferred_default_channel: String,
}

/// Inserts a bundle into each of its channels between the greatest lower and the least higher
/// version; with `skippatch` it also replaces every lower patch of the same minor, which leave
/// the channel (upstream `AddBundleToGraph`).
pub(crate) fn add_bundle_to_graph(
    b: &SemverInsert<'_>,
    mut graph: PackageGraph,
    skippatch: bool,
) -> Result<PackageGraph, AddError> {
    let to_add = blang::parse_version(b.version)
        .map_err(|_| AddError::InvalidVersion(b.version.to_string()))?;
    let new_key = BundleKey {
        csv_name: b.name.to_string(),
        version: to_add.to_string(),
        bundle_path: b.image.to_string(),
    };
    if !b.default_channel.is_empty() {
        graph.default_channel = b.default_channel.to_string();
    }
    if graph.default_channel.is_empty() {
        if b.inferred_default_channel.is_empty() {
            return Err(AddError::DefaultChannelMissing);
        }
        graph.default_channel = b.inferred_default_channel.clone();
    }
    for channel in b.channels {
        let Some(ch) = graph.channels.get_mut(channel) else {
            graph.channels.insert(
                channel.clone(),
                ChannelGraph {
                    head: new_key.clone(),
                    nodes: BTreeMap::from([(new_key.clone(), BTreeSet::new())]),
                },
            );
            continue;
        };
        let mut replaces: BTreeSet<BundleKey> = BTreeSet::new();
        let mut lowest_ahead: Option<(BundleKey, Version)> = None;
        let mut greatest_behind: Option<(BundleKey, Version)> = None;
        let mut skip_patch: Vec<BundleKey> = Vec::new();
        for node in ch.nodes.keys() {
            let v = blang::parse_version(&node.version).map_err(|_| {
                AddError::Upstream(format!(
                    "Unable to parse existing bundle version stored in index {} {} {}",
                    node.csv_name, node.version, node.bundle_path
                ))
            })?;
            match v.compare(&to_add) {
                Ordering::Equal => {
                    return Err(AddError::VersionAlreadyAdded(b.version.to_string()));
                }
                Ordering::Greater => {
                    if lowest_ahead
                        .as_ref()
                        .is_none_or(|(_, lv)| v.compare(lv) == Ordering::Less)
                    {
                        lowest_ahead = Some((node.clone(), v.clone()));
                    }
                }
                Ordering::Less => {
                    if greatest_behind
                        .as_ref()
                        .is_none_or(|(_, gv)| v.compare(gv) == Ordering::Greater)
                    {
                        greatest_behind = Some((node.clone(), v.clone()));
                    }
                }
            }
            if skippatch
                && v.major == to_add.major
                && v.minor == to_add.minor
                && to_add.compare(&v) == Ordering::Greater
            {
                skip_patch.push(node.clone());
                replaces.insert(node.clone());
            }
        }
        if let Some((g, _)) = greatest_behind {
            replaces.insert(g);
        }
        match lowest_ahead {
            Some((l, _)) => {
                ch.nodes.insert(l, BTreeSet::from([new_key.clone()]));
            }
            None => ch.head = new_key.clone(),
        }
        for c in skip_patch {
            ch.nodes.remove(&c);
        }
        ch.nodes.insert(new_key.clone(), replaces);
    }
    Ok(graph)
}

/// A bundle as `SemverPackageManifest` sees it.
pub(crate) struct VersionedBundle {
    pub name: String,
    pub package: String,
    pub version: String,
    pub channels: Vec<String>,
    pub default_channel: String,
}

#[derive(Clone, Debug)]
pub(crate) struct PackageChannel {
    pub name: String,
    pub current_csv: String,
}

#[derive(Clone, Debug)]
pub(crate) struct PackageManifest {
    pub package_name: String,
    pub default_channel: String,
    pub channels: Vec<PackageChannel>,
}

/// A build id that is not a valid pre-release (upstream's message; `reason` is blang's).
#[derive(Debug, thiserror::Error)]
#[error("failed to convert build-id of {version} to prerelease version for comparison: {reason}")]
pub(crate) struct BuildIdError {
    version: String,
    reason: blang::BlangError,
}

/// upstream `libsemver.BuildIdCompare`: semver order, then build ids compared as pre-releases
/// (no build id sorts before any).
pub(crate) fn build_id_compare(a: &Version, b: &Version) -> Result<Ordering, BuildIdError> {
    let c = a.compare(b);
    if c != Ordering::Equal {
        return Ok(c);
    }
    let as_pre = |v: &Version| -> Result<Version, BuildIdError> {
        let pre = v
            .build
            .iter()
            .map(|b| blang::parse_prerelease(b))
            .collect::<Result<Vec<PreRelease>, _>>()
            .map_err(|reason| BuildIdError {
                version: v.to_string(),
                reason,
            })?;
        Ok(Version {
            major: u64::from(!pre.is_empty()),
            minor: 0,
            patch: 0,
            pre,
            build: Vec::new(),
        })
    };
    Ok(as_pre(a)?.compare(&as_pre(b)?))
}

#[derive(Clone)]
struct Candidate {
    name: String,
    version: Version,
    count: usize,
}

impl Candidate {
    /// Whether `self` takes `other`'s place as the highest version; an equal version adds
    /// `other`'s count to `self`'s, so that a tie is reported later.
    fn outranks(&mut self, other: &Candidate) -> Result<bool, AddError> {
        match build_id_compare(&self.version, &other.version)
            .map_err(|e| AddError::Upstream(e.to_string()))?
        {
            Ordering::Less => Ok(false),
            Ordering::Equal => {
                self.count += other.count;
                Ok(true)
            }
            Ordering::Greater => Ok(true),
        }
    }
}

/// Go's `%+v` of a blang `Version` reached through an unexported field (no `String()`).
fn go_version_struct(v: &Version) -> String {
    let pre: Vec<String> = v
        .pre
        .iter()
        .map(|p| match p {
            PreRelease::Num(n) => format!("{{VersionStr: VersionNum:{n} IsNum:true}}"),
            PreRelease::Alpha(s) => format!("{{VersionStr:{s} VersionNum:0 IsNum:false}}"),
        })
        .collect();
    format!(
        "{{Major:{} Minor:{} Patch:{} Pre:[{}] Build:[{}]}}",
        v.major,
        v.minor,
        v.patch,
        pre.join(" "),
        v.build.join(" ")
    )
}

/// Channel heads and default channel of a package by semver (upstream
/// `SemverPackageManifest`): the highest version heads each channel, and the default channel
/// comes from the last bundle that raised the package's maximum version and had one.
pub(crate) fn semver_package_manifest(
    bundles: &[VersionedBundle],
) -> Result<PackageManifest, AddError> {
    let mut heads: BTreeMap<String, Candidate> = BTreeMap::new();
    let mut pkg_name = String::new();
    let mut default_channel = String::new();
    let mut max = Candidate {
        name: String::new(),
        version: Version {
            major: 0,
            minor: 0,
            patch: 0,
            pre: Vec::new(),
            build: Vec::new(),
        },
        count: 0,
    };
    for b in bundles {
        if !pkg_name.is_empty() && pkg_name != b.package {
            return Err(AddError::Upstream(
                "more than one package in input".to_string(),
            ));
        }
        pkg_name = b.package.clone();
        let raw = if b.version.is_empty() {
            // Unversioned bundles sort below every real version.
            "0.0.0-z"
        } else {
            b.version.as_str()
        };
        let version = blang::parse_version(raw).map_err(|e| {
            AddError::Upstream(format!(
                "error parsing bundle {} version {raw}: {e}",
                b.name
            ))
        })?;
        let mut current = Candidate {
            name: b.name.clone(),
            version,
            count: 1,
        };
        for channel in &b.channels {
            let Some(head) = heads.get(channel) else {
                heads.insert(channel.clone(), current.clone());
                continue;
            };
            if !current.outranks(head)? {
                continue;
            }
            heads.insert(channel.clone(), current.clone());
        }
        if !current.outranks(&max)? {
            continue;
        }
        max = current;
        if !b.default_channel.is_empty() {
            default_channel = b.default_channel.clone();
        }
    }
    if max.count > 1 {
        return Err(AddError::MaxVersionNotUnique(max.version.to_string()));
    }
    let mut manifest = PackageManifest {
        package_name: pkg_name,
        default_channel: default_channel.clone(),
        channels: Vec::new(),
    };
    let mut default_found = heads.len() == 1 && default_channel.is_empty();
    for (channel, head) in &heads {
        if head.count > 1 {
            return Err(AddError::ChannelHeadNotUnique(channel.clone()));
        }
        if heads.len() == 1 {
            manifest.default_channel = channel.clone();
        }
        default_found = default_found || *channel == default_channel;
        manifest.channels.push(PackageChannel {
            name: channel.clone(),
            current_csv: head.name.clone(),
        });
    }
    if !default_found {
        let listed: Vec<String> = heads
            .iter()
            .map(|(c, h)| {
                format!(
                    "{c}:{{name:{} version:{} count:{}}}",
                    h.name,
                    go_version_struct(&h.version),
                    h.count
                )
            })
            .collect();
        return Err(AddError::NoDefaultChannel(format!(
            "map[{}]",
            listed.join(" ")
        )));
    }
    Ok(manifest)
}
