//! Resolver input: bundles from one or more catalogs, indexed for resolution.
//!
//! The input types are deliberately small so that an adapter from parsed FBC (or from a
//! registry+v1 bundle directory) is a few lines: a bundle is its catalog, package, name, image,
//! channel memberships (with their upgrade edges) and typed properties.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, OnceLock};

use semver::Version;
use semver_ranges::{BlangRange, build_id_compare, parse_strict, parse_tolerant};
use serde_json::{Value, json};

use crate::constraint::ConstraintExpr;
use crate::prepared::PreparedCatalog;

/// A GroupVersionKind.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Gvk {
    /// API group.
    pub group: String,
    /// API version.
    pub version: String,
    /// Kind.
    pub kind: String,
}

impl Gvk {
    /// A GVK from its parts.
    pub fn new(
        group: impl Into<String>,
        version: impl Into<String>,
        kind: impl Into<String>,
    ) -> Self {
        Gvk {
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
        }
    }
}

impl fmt::Display for Gvk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}/{})", self.kind, self.group, self.version)
    }
}

/// A bundle property, typed for the ones resolution uses.
#[derive(Debug, Clone, PartialEq)]
pub enum Property {
    /// `olm.package`: the bundle's package and version (and optional release).
    Package {
        /// `packageName`.
        package_name: String,
        /// `version` (strict SemVer).
        version: String,
        /// `release`, a newer optional tie-breaker.
        release: Option<String>,
    },
    /// `olm.gvk`: an API the bundle provides.
    Gvk(Gvk),
    /// `olm.package.required`: a package in a blang range.
    PackageRequired {
        /// `packageName`.
        package_name: String,
        /// `versionRange` (blang v4).
        version_range: String,
    },
    /// `olm.gvk.required`: an API some installed bundle must provide.
    GvkRequired(Gvk),
    /// `olm.constraint`: the raw JSON value (parsed and validated by the resolver).
    Constraint(Value),
    /// `olm.maxOpenShiftVersion`, e.g. `4.15`.
    MaxOpenShiftVersion(String),
    /// Legacy `olm.deprecated`.
    Deprecated,
    /// Any other property, kept for CEL rules.
    Other {
        /// The property type.
        type_name: String,
        /// The property value.
        value: Value,
    },
    /// A property of a known type whose value could not be decoded. The bundle is not
    /// installable; the message says why.
    Invalid {
        /// The property type.
        type_name: String,
        /// The decoding error.
        error: String,
    },
}

impl Property {
    /// Types a raw FBC property (`{"type": …, "value": …}`).
    pub fn from_json(type_name: &str, value: &Value) -> Property {
        let invalid = |error: String| Property::Invalid {
            type_name: type_name.to_string(),
            error,
        };
        let field = |name: &str| -> Result<String, String> {
            match value.get(name) {
                Some(Value::String(s)) => Ok(s.clone()),
                Some(other) => Err(format!("field {name:?} must be a string, found {other}")),
                None => Err(format!("missing field {name:?}")),
            }
        };
        let gvk = || -> Result<Gvk, String> {
            Ok(Gvk::new(field("group")?, field("version")?, field("kind")?))
        };
        match type_name {
            "olm.package" => match (field("packageName"), field("version")) {
                (Ok(package_name), Ok(version)) => Property::Package {
                    package_name,
                    version,
                    release: value
                        .get("release")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                },
                (Err(e), _) | (_, Err(e)) => invalid(e),
            },
            "olm.gvk" => gvk().map(Property::Gvk).unwrap_or_else(invalid),
            "olm.gvk.required" => gvk().map(Property::GvkRequired).unwrap_or_else(invalid),
            "olm.package.required" => match (field("packageName"), field("versionRange")) {
                (Ok(package_name), Ok(version_range)) => Property::PackageRequired {
                    package_name,
                    version_range,
                },
                (Err(e), _) | (_, Err(e)) => invalid(e),
            },
            "olm.constraint" => Property::Constraint(value.clone()),
            "olm.maxOpenShiftVersion" => match value {
                Value::String(s) => Property::MaxOpenShiftVersion(s.clone()),
                Value::Number(n) => Property::MaxOpenShiftVersion(n.to_string()),
                other => invalid(format!(
                    "expected a version string such as \"4.15\", found {other}"
                )),
            },
            "olm.deprecated" => Property::Deprecated,
            _ => Property::Other {
                type_name: type_name.to_string(),
                value: value.clone(),
            },
        }
    }

    /// The property as CEL rules see it: `{"type": …, "value": …}`.
    pub fn to_json(&self) -> Value {
        let (t, v) = match self {
            Property::Package {
                package_name,
                version,
                release,
            } => {
                let mut v = json!({"packageName": package_name, "version": version});
                if let Some(r) = release {
                    v["release"] = json!(r);
                }
                ("olm.package", v)
            }
            Property::Gvk(g) => (
                "olm.gvk",
                json!({"group": g.group, "version": g.version, "kind": g.kind}),
            ),
            Property::PackageRequired {
                package_name,
                version_range,
            } => (
                "olm.package.required",
                json!({"packageName": package_name, "versionRange": version_range}),
            ),
            Property::GvkRequired(g) => (
                "olm.gvk.required",
                json!({"group": g.group, "version": g.version, "kind": g.kind}),
            ),
            Property::Constraint(v) => ("olm.constraint", v.clone()),
            Property::MaxOpenShiftVersion(s) => ("olm.maxOpenShiftVersion", json!(s)),
            Property::Deprecated => ("olm.deprecated", json!({})),
            Property::Other { type_name, value } => (type_name.as_str(), value.clone()),
            Property::Invalid { type_name, .. } => (type_name.as_str(), Value::Null),
        };
        json!({"type": t, "value": v})
    }
}

/// One channel listing a bundle, with the upgrade edges its entry declares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelEntry {
    /// Channel name.
    pub channel: String,
    /// `replaces`: the bundle name this entry upgrades from.
    pub replaces: Option<String>,
    /// `skips`: bundle names this entry also upgrades from.
    pub skips: Vec<String>,
    /// `skipRange` (blang v4): versions this entry upgrades from.
    pub skip_range: Option<String>,
}

/// A bundle as the resolver needs it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BundleInput {
    /// The catalog the bundle comes from.
    pub catalog: String,
    /// Its package.
    pub package: String,
    /// Its name (e.g. `etcd.v0.9.4`).
    pub name: String,
    /// Its image reference.
    pub image: String,
    /// The channels listing it. A bundle in no channel is still a candidate when a request
    /// names no channel.
    pub channels: Vec<ChannelEntry>,
    /// Its properties, in catalog order.
    pub properties: Vec<Property>,
    /// Set when an `olm.deprecations` entry deprecates the bundle (the message).
    pub deprecation: Option<String>,
}

/// A requirement a bundle declares.
#[derive(Debug, Clone)]
pub(crate) enum Requirement {
    Package {
        package: String,
        range_text: String,
        range: BlangRange,
    },
    Gvk(Gvk),
    Constraint {
        expr: Arc<ConstraintExpr>,
        failure_message: Option<String>,
    },
}

/// A bundle after indexing.
#[derive(Debug, Clone)]
pub(crate) struct Bundle {
    pub(crate) input: BundleInput,
    pub(crate) version: Option<Version>,
    pub(crate) release: Option<String>,
    pub(crate) provides: Vec<Gvk>,
    pub(crate) requirements: Vec<Requirement>,
    /// Errors that make the bundle uninstallable (invalid requirement properties).
    pub(crate) invalid: Vec<String>,
    pub(crate) deprecated: Option<String>,
    /// `olm.maxOpenShiftVersion` as (major, minor), or the parse error.
    pub(crate) max_openshift: Option<Result<(u64, u64), String>>,
    pub(crate) skip_ranges: Vec<(String, Option<BlangRange>)>,
    /// Formatted once at index time: every solve needs them, many times.
    id: String,
    shown: String,
    pub(crate) version_text: Option<String>,
}

impl Bundle {
    /// deppy identifier: `<catalog>-<package>-<name>`.
    pub(crate) fn id(&self) -> String {
        self.id.clone()
    }

    pub(crate) fn id_str(&self) -> &str {
        &self.id
    }

    /// `a v0.1.0`, or the bundle name when the version is unknown.
    pub(crate) fn display(&self) -> String {
        self.shown.clone()
    }

    pub(crate) fn in_channel(&self, channel: &str) -> bool {
        self.input.channels.iter().any(|c| c.channel == channel)
    }
}

/// Errors building a [`Catalog`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    /// The same (catalog, package, bundle name) appears twice.
    #[error("bundle {name:?} of package {package:?} appears twice in catalog {catalog:?}")]
    DuplicateBundle {
        /// Catalog name.
        catalog: String,
        /// Package name.
        package: String,
        /// Bundle name.
        name: String,
    },
}

/// A bundle of the index, as callers refer to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleSummary {
    /// Its catalog.
    pub catalog: String,
    /// Its package.
    pub package: String,
    /// Its name.
    pub name: String,
    /// Its image reference.
    pub image: String,
    /// Its version, when its `olm.package` property holds a valid one.
    pub version: Option<String>,
}

/// Package-level metadata of one catalog: not used to choose bundles, only reported.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackageInfo {
    /// `defaultChannel` of the `olm.package` blob.
    pub default_channel: Option<String>,
    /// The message of an `olm.deprecations` entry for the package itself.
    pub deprecation: Option<String>,
    /// Deprecated channels of the package: channel name → message.
    pub channel_deprecations: BTreeMap<String, String>,
}

/// Bundles of one or more catalogs, indexed for resolution. Cheap to share: build it once per
/// catalog content change.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    pub(crate) bundles: Vec<Bundle>,
    pub(crate) by_package: BTreeMap<String, Vec<usize>>,
    pub(crate) by_gvk: HashMap<Gvk, Vec<usize>>,
    pub(crate) priorities: BTreeMap<String, i32>,
    /// catalog → package → package metadata.
    pub(crate) packages: BTreeMap<String, BTreeMap<String, PackageInfo>>,
    /// Request-independent indexes, built on first use (or by [`Catalog::prepare`]) and
    /// dropped whenever the preference order can change.
    pub(crate) prepared: OnceLock<Arc<PreparedCatalog>>,
}

impl Catalog {
    /// Indexes bundles (from any number of catalogs). Catalog priorities default to 0.
    pub fn from_bundles(
        bundles: impl IntoIterator<Item = BundleInput>,
    ) -> Result<Catalog, CatalogError> {
        let mut catalog = Catalog::default();
        let mut seen = std::collections::HashSet::new();
        for input in bundles {
            if !seen.insert((
                input.catalog.clone(),
                input.package.clone(),
                input.name.clone(),
            )) {
                return Err(CatalogError::DuplicateBundle {
                    catalog: input.catalog,
                    package: input.package,
                    name: input.name,
                });
            }
            catalog.priorities.entry(input.catalog.clone()).or_insert(0);
            let index = catalog.bundles.len();
            let bundle = index_bundle(input);
            catalog
                .by_package
                .entry(bundle.input.package.clone())
                .or_default()
                .push(index);
            for g in &bundle.provides {
                let list = catalog.by_gvk.entry(g.clone()).or_default();
                if list.last() != Some(&index) {
                    list.push(index);
                }
            }
            catalog.bundles.push(bundle);
        }
        Ok(catalog)
    }

    /// Sets a catalog's priority (higher wins between otherwise equal candidates).
    pub fn with_priority(mut self, catalog: &str, priority: i32) -> Self {
        self.priorities.insert(catalog.to_string(), priority);
        self.prepared = OnceLock::new();
        self
    }

    /// Builds the request-independent indexes every resolution uses (preference order, channel
    /// heads, requirement candidates) now, instead of during the first resolution. Cheap to
    /// call again: they are built once per catalog.
    pub fn prepare(&self) {
        self.prepared();
    }

    pub(crate) fn prepared(&self) -> &PreparedCatalog {
        self.prepared
            .get_or_init(|| Arc::new(PreparedCatalog::new(self)))
    }

    /// Preference inside one package with no channel given: not deprecated, version descending
    /// (none last), build metadata, release, catalog priority (`priority[b]` of each bundle),
    /// catalog name, bundle name.
    pub(crate) fn cmp_preference_with(&self, a: usize, b: usize, priority: &[i32]) -> Ordering {
        let (x, y) = (&self.bundles[a], &self.bundles[b]);
        x.deprecated
            .is_some()
            .cmp(&y.deprecated.is_some())
            .then_with(|| cmp_version(x, y))
            .then_with(|| y.release.cmp(&x.release))
            .then_with(|| priority[b].cmp(&priority[a]))
            .then_with(|| x.input.catalog.cmp(&y.input.catalog))
            .then_with(|| x.input.name.cmp(&y.input.name))
    }

    /// Records package-level metadata (default channel, package and channel deprecations) of
    /// `package` in `catalog`.
    pub fn set_package_info(&mut self, catalog: &str, package: &str, info: PackageInfo) {
        self.priorities.entry(catalog.to_string()).or_insert(0);
        self.packages
            .entry(catalog.to_string())
            .or_default()
            .insert(package.to_string(), info);
    }

    /// Package-level metadata of `package` in `catalog`, if any was recorded.
    pub fn package_info(&self, catalog: &str, package: &str) -> Option<&PackageInfo> {
        self.packages.get(catalog)?.get(package)
    }

    /// The catalogs known to this index (from bundles or package metadata), by name.
    pub fn catalog_names(&self) -> impl Iterator<Item = &str> {
        self.priorities.keys().map(String::as_str)
    }

    /// Package names, sorted.
    pub fn package_names(&self) -> impl Iterator<Item = &str> {
        self.by_package.keys().map(String::as_str)
    }

    /// The bundles of a package in index order (catalog order, then file order).
    pub fn bundles_of<'s>(&'s self, package: &str) -> impl Iterator<Item = BundleSummary> + 's {
        self.package(package).iter().map(|&i| {
            let b = &self.bundles[i];
            BundleSummary {
                catalog: b.input.catalog.clone(),
                package: b.input.package.clone(),
                name: b.input.name.clone(),
                image: b.input.image.clone(),
                version: b.version.as_ref().map(Version::to_string),
            }
        })
    }

    /// Number of bundles.
    pub fn len(&self) -> usize {
        self.bundles.len()
    }

    /// True when there are no bundles.
    pub fn is_empty(&self) -> bool {
        self.bundles.is_empty()
    }

    pub(crate) fn priority(&self, catalog: &str) -> i32 {
        self.priorities.get(catalog).copied().unwrap_or(0)
    }

    pub(crate) fn package(&self, package: &str) -> &[usize] {
        self.by_package
            .get(package)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }
}

/// Version descending (build metadata compared), no version last.
fn cmp_version(x: &Bundle, y: &Bundle) -> Ordering {
    match (&x.version, &y.version) {
        (Some(v), Some(w)) => build_id_compare(w, v),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

fn index_bundle(input: BundleInput) -> Bundle {
    let mut version = None;
    let mut release = None;
    let mut package_props = 0;
    let mut provides = Vec::new();
    let mut requirements = Vec::new();
    let mut invalid = Vec::new();
    let mut deprecated = input.deprecation.clone();
    let mut max_openshift = None;
    for p in &input.properties {
        match p {
            Property::Package {
                version: v,
                release: r,
                ..
            } => {
                package_props += 1;
                version = parse_strict(v).ok();
                release = r.clone();
            }
            Property::Gvk(g) => {
                if !provides.contains(g) {
                    provides.push(g.clone());
                }
            }
            Property::PackageRequired {
                package_name,
                version_range,
            } => match BlangRange::parse(version_range) {
                Ok(range) => requirements.push(Requirement::Package {
                    package: package_name.clone(),
                    range_text: version_range.clone(),
                    range,
                }),
                Err(e) => invalid.push(format!(
                    "error parsing bundle required package semver range for bundle {:?} (required package {package_name:?}): {e}",
                    input.name
                )),
            },
            Property::GvkRequired(g) => requirements.push(Requirement::Gvk(g.clone())),
            Property::Constraint(raw) => match ConstraintExpr::from_property(raw) {
                Ok((expr, failure_message)) => requirements.push(Requirement::Constraint {
                    expr: Arc::new(expr),
                    failure_message,
                }),
                Err(e) => invalid.push(format!("invalid olm.constraint property: {e}")),
            },
            Property::MaxOpenShiftVersion(s) => {
                max_openshift = Some(parse_max_openshift(s));
            }
            Property::Deprecated => {
                if deprecated.is_none() {
                    deprecated = Some("bundle is marked olm.deprecated".to_string());
                }
            }
            Property::Invalid { type_name, error } => {
                if matches!(
                    type_name.as_str(),
                    "olm.package.required" | "olm.gvk.required" | "olm.constraint"
                ) {
                    invalid.push(format!("invalid {type_name} property: {error}"));
                }
            }
            Property::Other { .. } => {}
        }
    }
    if package_props != 1 {
        // Missing or duplicate olm.package: no version (sorted last, never matches a range).
        version = None;
    }
    let skip_ranges = input
        .channels
        .iter()
        .filter_map(|c| c.skip_range.clone())
        .map(|text| {
            let parsed = BlangRange::parse(&text).ok();
            (text, parsed)
        })
        .collect();
    let id = format!("{}-{}-{}", input.catalog, input.package, input.name);
    let shown = match &version {
        Some(v) => format!("{} v{v}", input.package),
        None => format!(
            "{} (bundle {}, no valid version)",
            input.package, input.name
        ),
    };
    let version_text = version.as_ref().map(Version::to_string);
    Bundle {
        id,
        shown,
        version_text,
        input,
        version,
        release,
        provides,
        requirements,
        invalid,
        deprecated,
        max_openshift,
        skip_ranges,
    }
}

/// `olm.maxOpenShiftVersion`: blang `ParseTolerant` after stripping quotes; only major.minor
/// matter.
fn parse_max_openshift(raw: &str) -> Result<(u64, u64), String> {
    let trimmed = raw.trim().trim_matches('"');
    if trimmed.is_empty() {
        return Err("olm.maxOpenShiftVersion is empty".to_string());
    }
    parse_tolerant(trimmed)
        .map(|v| (v.major, v.minor))
        .map_err(|e| format!("invalid olm.maxOpenShiftVersion {raw:?}: {e}"))
}
