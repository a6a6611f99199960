//! Adding rendered bundles to a file-based catalog (`opm index add` on an FBC index), and
//! removing packages from one. Pure functions over a [`DeclarativeConfig`]; the caller
//! validates the whole catalog afterwards.
//!
//! Per bundle: the `olm.bundle` blob is rendered as `opm render` does (object profile matched
//! to the package, see [`object_profile`]), an entry is added to every channel of its
//! `operators.operatorframework.io.bundle.channels.v1` annotation (channel created if
//! missing) and the `olm.package` is created if missing, its default channel from the
//! `…channel.default.v1` annotation. Entry edges depend on the [`Mode`].

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};

use fbc::blang;
use fbc::property::{self, TYPE_BUNDLE_OBJECT, TYPE_CSV_METADATA, TYPE_PACKAGE};
use fbc::{
    Bundle, Channel, ChannelEntry, DeclarativeConfig, ObjectProfile, Package, RegistryBundle,
};
use fbc::{SCHEMA_CHANNEL, SCHEMA_PACKAGE};

use sqlite_index::Mode;

use crate::error::IndexImageError;

/// A bundle to add: its parsed directory and the image reference it came from.
#[derive(Clone, Copy, Debug)]
pub struct BundleToAdd<'a> {
    pub image: &'a str,
    pub bundle: &'a RegistryBundle,
}

/// Options of an add.
#[derive(Clone, Copy, Debug, Default)]
pub struct AddOptions {
    pub mode: Mode,
    /// `--overwrite-latest`: a bundle of the same package and CSV name that heads every
    /// channel it is in is replaced instead of refused.
    pub overwrite_latest: bool,
}

/// The `version` of a bundle blob's `olm.package` property.
pub(crate) fn bundle_version(b: &Bundle) -> Option<String> {
    b.properties
        .iter()
        .filter(|p| p.r#type == TYPE_PACKAGE)
        .find_map(|p| property::parse_package(&p.value).ok())
        .map(|p| p.version)
}

/// Which object properties new bundles of `package` get: `olm.csv.metadata` when the
/// package's bundles (or, for a new package, the catalog's) use it and none carries
/// `olm.bundle.object`; otherwise one `olm.bundle.object` per manifest (opm's default).
pub fn object_profile(cfg: &DeclarativeConfig, package: &str) -> ObjectProfile {
    let style = |bundles: &mut dyn Iterator<Item = &Bundle>| {
        let (mut meta, mut objects) = (false, false);
        for b in bundles {
            for p in &b.properties {
                meta |= p.r#type == TYPE_CSV_METADATA;
                objects |= p.r#type == TYPE_BUNDLE_OBJECT;
            }
        }
        if meta && !objects {
            ObjectProfile::CsvMetadata
        } else {
            ObjectProfile::BundleObjects
        }
    };
    if cfg.bundles.iter().any(|b| b.package == package) {
        style(&mut cfg.bundles.iter().filter(|b| b.package == package))
    } else {
        style(&mut cfg.bundles.iter())
    }
}

fn parse_version(v: &str) -> Option<blang::Version> {
    blang::parse_version(v).ok()
}

/// Adds `bundles` to `cfg`; returns the names of the packages that changed. Bundles are
/// added package by package in ascending version order (as upstream).
pub fn add_bundles(
    cfg: &mut DeclarativeConfig,
    bundles: &[BundleToAdd<'_>],
    options: AddOptions,
) -> Result<BTreeSet<String>, IndexImageError> {
    let mut order: Vec<&BundleToAdd<'_>> = bundles.iter().collect();
    // Same (package, CSV name) twice in one request cannot both be added.
    let mut seen = BTreeSet::new();
    for b in &order {
        if !seen.insert((&b.bundle.package, &b.bundle.name)) {
            return Err(IndexImageError::Invalid(format!(
                "bundle {} (package {}) is given twice in --bundles",
                b.bundle.name, b.bundle.package
            )));
        }
    }
    order.sort_by(|a, b| {
        a.bundle.package.cmp(&b.bundle.package).then_with(|| {
            match (
                parse_version(&a.bundle.version),
                parse_version(&b.bundle.version),
            ) {
                (Some(x), Some(y)) => x.compare(&y),
                (None, Some(_)) => Ordering::Less,
                (Some(_), None) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            }
        })
    });
    let mut changed = BTreeSet::new();
    for b in order {
        add_one(cfg, b, options)?;
        changed.insert(b.bundle.package.clone());
    }
    // A channel emptied by an overwrite and not refilled is dropped.
    cfg.channels
        .retain(|c| !(changed.contains(&c.package) && c.entries.is_empty()));
    Ok(changed)
}

fn channel_heads(ch: &Channel) -> BTreeSet<&str> {
    let mut incoming: BTreeSet<&str> = BTreeSet::new();
    for e in &ch.entries {
        if !e.replaces.is_empty() {
            incoming.insert(&e.replaces);
        }
        incoming.extend(e.skips.iter().map(String::as_str));
    }
    ch.entries
        .iter()
        .map(|e| e.name.as_str())
        .filter(|n| !incoming.contains(n))
        .collect()
}

fn add_one(
    cfg: &mut DeclarativeConfig,
    add: &BundleToAdd<'_>,
    options: AddOptions,
) -> Result<(), IndexImageError> {
    let rb = add.bundle;
    let pkg = rb.package.as_str();
    let name = rb.name.as_str();
    if !options.overwrite_latest
        && let Some(existing) = cfg
            .bundles
            .iter()
            .find(|b| b.package == pkg && b.image == add.image)
    {
        return Err(IndexImageError::Invalid(format!(
            "Bundle {} already exists (as {} in package {pkg})",
            add.image, existing.name
        )));
    }
    if let Some(existing) = cfg
        .bundles
        .iter()
        .find(|b| b.package == pkg && b.name == name)
    {
        if !options.overwrite_latest {
            return Err(IndexImageError::Invalid(format!(
                "Bundle already added that provides package {pkg} and csv {name} (image {}); to replace a channel head, pass --overwrite-latest",
                existing.image
            )));
        }
        for ch in cfg.channels.iter().filter(|c| c.package == pkg) {
            if ch.entries.iter().any(|e| e.name == name) && !channel_heads(ch).contains(name) {
                return Err(IndexImageError::Invalid(format!(
                    "Cannot overwrite a bundle that is not at the head of a channel using --overwrite-latest: {name} is not the head of channel {} of package {pkg}",
                    ch.name
                )));
            }
        }
        cfg.bundles
            .retain(|b| !(b.package == pkg && b.name == name));
        for ch in cfg.channels.iter_mut().filter(|c| c.package == pkg) {
            ch.entries.retain(|e| e.name != name);
        }
    }

    let channels: Vec<String> = rb
        .annotations
        .channels
        .iter()
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty())
        .collect();
    if channels.is_empty() {
        return Err(IndexImageError::Invalid(format!(
            "bundle {} ({name}) names no channel: its annotation operators.operatorframework.io.bundle.channels.v1 is empty",
            add.image
        )));
    }
    let default_annotation = rb.annotations.default_channel.trim().to_string();
    let new_version = parse_version(&rb.version);
    if options.mode != Mode::Replaces && new_version.is_none() {
        return Err(IndexImageError::Invalid(format!(
            "bundle {} ({name}) has no valid semver version ({:?}), which --mode {} needs",
            add.image,
            rb.version,
            if options.mode == Mode::Semver {
                "semver"
            } else {
                "semver-skippatch"
            }
        )));
    }

    // Versions of the package's bundles, for ordering and the default channel.
    let versions: HashMap<String, blang::Version> = cfg
        .bundles
        .iter()
        .filter(|b| b.package == pkg)
        .filter_map(|b| Some((b.name.clone(), parse_version(&bundle_version(b)?)?)))
        .collect();

    match cfg.packages.iter_mut().find(|p| p.name == pkg) {
        Some(p) => {
            // As upstream: the highest version's default-channel annotation wins.
            let highest = match &new_version {
                Some(v) => versions
                    .values()
                    .all(|other| v.compare(other) == Ordering::Greater),
                None => versions.is_empty(),
            };
            if highest && !default_annotation.is_empty() {
                p.default_channel = default_annotation.clone();
            }
        }
        None => {
            let default_channel = if !default_annotation.is_empty() {
                default_annotation.clone()
            } else if channels.len() == 1 {
                channels[0].clone()
            } else {
                return Err(IndexImageError::Invalid(format!(
                    "unable to determine default channel for new package {pkg}: bundle {} lists channels {} and has no operators.operatorframework.io.bundle.channel.default.v1 annotation",
                    add.image,
                    channels.join(",")
                )));
            };
            cfg.packages.push(Package {
                schema: SCHEMA_PACKAGE.to_string(),
                name: pkg.to_string(),
                default_channel,
                ..Default::default()
            });
        }
    }

    let profile = object_profile(cfg, pkg);
    let blob = rb
        .render(add.image, profile)
        .map_err(|cause| IndexImageError::Bundle {
            image: add.image.to_string(),
            cause,
        })?;
    cfg.bundles.push(blob);

    for ch_name in &channels {
        let idx = match cfg
            .channels
            .iter()
            .position(|c| c.package == pkg && &c.name == ch_name)
        {
            Some(i) => i,
            None => {
                cfg.channels.push(Channel {
                    schema: SCHEMA_CHANNEL.to_string(),
                    name: ch_name.clone(),
                    package: pkg.to_string(),
                    ..Default::default()
                });
                cfg.channels.len() - 1
            }
        };
        let ch = &mut cfg.channels[idx];
        let mut entry = ChannelEntry {
            name: name.to_string(),
            replaces: String::new(),
            skips: rb.skips.clone(),
            skip_range: rb.skip_range.clone(),
        };
        match (options.mode, &new_version) {
            (Mode::Replaces, _) | (_, None) => entry.replaces = rb.replaces.clone(),
            (mode, Some(nv)) => insert_by_semver(ch, &mut entry, nv, &versions, mode)?,
        }
        ch.entries.push(entry);
    }
    Ok(())
}

/// Places `entry` (version `nv`) in `ch` by version: it replaces the greatest lower version
/// and the least higher version now replaces it; with skip-patch it also skips the lower
/// patches of its major.minor.
fn insert_by_semver(
    ch: &mut Channel,
    entry: &mut ChannelEntry,
    nv: &blang::Version,
    versions: &HashMap<String, blang::Version>,
    mode: Mode,
) -> Result<(), IndexImageError> {
    let mut lower: Option<(usize, &blang::Version)> = None;
    let mut higher: Option<(usize, &blang::Version)> = None;
    for (i, e) in ch.entries.iter().enumerate() {
        let Some(v) = versions.get(&e.name) else {
            return Err(IndexImageError::Invalid(format!(
                "cannot order channel {} of package {} by semver: bundle {} has no valid version",
                ch.name, ch.package, e.name
            )));
        };
        match v.compare(nv) {
            Ordering::Equal => {
                return Err(IndexImageError::Invalid(format!(
                    "Bundle version {nv} already added to index (bundle {} in channel {})",
                    e.name, ch.name
                )));
            }
            Ordering::Less => {
                if lower.is_none_or(|(_, l)| v.compare(l) == Ordering::Greater) {
                    lower = Some((i, v));
                }
            }
            Ordering::Greater => {
                if higher.is_none_or(|(_, h)| v.compare(h) == Ordering::Less) {
                    higher = Some((i, v));
                }
            }
        }
    }
    let same_minor = |v: &blang::Version| v.major == nv.major && v.minor == nv.minor;
    if mode == Mode::SemverSkipPatch {
        // Replacing a lower patch that is also skipped would strand everything below it
        // (the replaces walk stops at skipped bundles), so the new bundle replaces the
        // greatest version of an earlier minor and skips the lower patches of its own.
        let mut below: Option<(usize, &blang::Version)> = None;
        for (i, e) in ch.entries.iter().enumerate() {
            let v = &versions[&e.name];
            if v.compare(nv) != Ordering::Less {
                continue;
            }
            if same_minor(v) {
                if !entry.skips.contains(&e.name) {
                    entry.skips.push(e.name.clone());
                }
            } else if below.is_none_or(|(_, b)| v.compare(b) == Ordering::Greater) {
                below = Some((i, v));
            }
        }
        if let Some((i, _)) = below {
            entry.replaces = ch.entries[i].name.clone();
        }
    } else if let Some((i, _)) = lower {
        entry.replaces = ch.entries[i].name.clone();
    }
    if let Some((i, hv)) = higher {
        let h = &mut ch.entries[i];
        if mode == Mode::SemverSkipPatch && same_minor(hv) {
            if !h.skips.contains(&entry.name) {
                h.skips.push(entry.name.clone());
            }
        } else {
            h.replaces = entry.name.clone();
        }
    }
    Ok(())
}

/// Removes every blob of `packages`; returns the ones that were present.
pub fn remove_packages(cfg: &mut DeclarativeConfig, packages: &[String]) -> BTreeSet<String> {
    let gone: BTreeSet<&str> = packages.iter().map(String::as_str).collect();
    let present: BTreeSet<String> = cfg
        .packages
        .iter()
        .map(|p| p.name.clone())
        .chain(cfg.bundles.iter().map(|b| b.package.clone()))
        .filter(|p| gone.contains(p.as_str()))
        .collect();
    retain_packages(cfg, |p| !gone.contains(p));
    present
}

/// Keeps only the blobs whose package passes `keep` (package-less blobs are kept).
pub(crate) fn retain_packages(cfg: &mut DeclarativeConfig, keep: impl Fn(&str) -> bool) {
    cfg.packages.retain(|p| keep(&p.name));
    cfg.channels.retain(|c| keep(&c.package));
    cfg.bundles.retain(|b| keep(&b.package));
    cfg.deprecations.retain(|d| keep(&d.package));
    cfg.others
        .retain(|m| m.package.is_empty() || keep(&m.package));
}

/// The blobs of one package.
pub(crate) fn package_subset(cfg: &DeclarativeConfig, package: &str) -> DeclarativeConfig {
    DeclarativeConfig {
        packages: cfg
            .packages
            .iter()
            .filter(|p| p.name == package)
            .cloned()
            .collect(),
        channels: cfg
            .channels
            .iter()
            .filter(|c| c.package == package)
            .cloned()
            .collect(),
        bundles: cfg
            .bundles
            .iter()
            .filter(|b| b.package == package)
            .cloned()
            .collect(),
        deprecations: cfg
            .deprecations
            .iter()
            .filter(|d| d.package == package)
            .cloned()
            .collect(),
        others: cfg
            .others
            .iter()
            .filter(|m| m.package == package)
            .cloned()
            .collect(),
    }
}
