//! Bundles of one or more catalogs, indexed for resolution.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};

use semver::Version;

use crate::bundle::Bundle;
use crate::input::{BundleInput, Gvk};
use crate::prepared::PreparedCatalog;

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
            let bundle = Bundle::index(input);
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
        self.prepared.get_or_init(|| {
            let priority: Vec<i32> = self
                .bundles
                .iter()
                .map(|b| self.priority(&b.input.catalog))
                .collect();
            Arc::new(PreparedCatalog::new(&self.bundles, &priority, &self.by_gvk))
        })
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
