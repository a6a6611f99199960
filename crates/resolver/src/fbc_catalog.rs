//! Building a resolver [`Catalog`] from parsed File-Based Catalogs.
//!
//! One [`fbc::DeclarativeConfig`] per catalog, each under its own name (a bundle is identified by
//! catalog, package and name). Channels become the bundles' channel entries (with `replaces`,
//! `skips`, `skipRange`), raw properties are typed with [`Property::from_json`], and
//! `olm.deprecations` entries become bundle deprecations (which de-prefer a bundle) or package
//! and channel deprecation notes (which are only reported).

use std::collections::{BTreeMap, HashMap, HashSet};

use fbc::DeclarativeConfig;
use serde_json::Value;

use crate::catalog::{Catalog, CatalogError, PackageInfo};
use crate::input::{BundleInput, ChannelEntry, Property};

/// One catalog to index: its name, priority and content.
#[derive(Debug, Clone, Copy)]
pub struct FbcSource<'a> {
    /// The catalog name (appears in bundle identifiers and plans).
    pub name: &'a str,
    /// Higher wins between otherwise equal candidates (default 0).
    pub priority: i32,
    /// The parsed catalog.
    pub config: &'a DeclarativeConfig,
}

impl<'a> FbcSource<'a> {
    /// A catalog with priority 0.
    pub fn new(name: &'a str, config: &'a DeclarativeConfig) -> Self {
        FbcSource {
            name,
            priority: 0,
            config,
        }
    }
}

/// Why FBC content could not be turned into a resolver catalog.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FbcCatalogError {
    /// A catalog name is empty.
    #[error("a catalog name must not be empty")]
    EmptyCatalogName,
    /// Two sources have the same name.
    #[error("catalog name {0:?} is used twice; give each catalog its own name")]
    DuplicateCatalogName(String),
    /// A channel entry names a bundle the catalog does not contain (operator-controller
    /// v0.8.0's message).
    #[error(
        "bundle {bundle:?} not found in catalog {catalog:?} (package {package:?}, channel {channel:?})"
    )]
    MissingChannelBundle {
        /// Catalog name.
        catalog: String,
        /// Package of the channel.
        package: String,
        /// Channel name.
        channel: String,
        /// The entry's bundle name.
        bundle: String,
    },
    /// The same bundle appears twice in one catalog.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
}

/// Indexes the bundles of several FBC catalogs.
///
/// Bundles keep catalog order then file order. A bundle listed in no channel is kept (it is a
/// candidate for requests that name no channel). Bundle-level deprecations de-prefer the bundle;
/// package- and channel-level deprecations are recorded in [`PackageInfo`].
pub fn catalog_from_fbc<'a>(
    sources: impl IntoIterator<Item = FbcSource<'a>>,
) -> Result<Catalog, FbcCatalogError> {
    let sources: Vec<FbcSource<'a>> = sources.into_iter().collect();
    let mut names = HashSet::new();
    for s in &sources {
        if s.name.is_empty() {
            return Err(FbcCatalogError::EmptyCatalogName);
        }
        if !names.insert(s.name) {
            return Err(FbcCatalogError::DuplicateCatalogName(s.name.to_string()));
        }
    }
    let mut inputs = Vec::new();
    let mut infos = Vec::new();
    for source in &sources {
        let (bundles, packages) = bundles_of(source)?;
        inputs.extend(bundles);
        infos.extend(packages);
    }
    let mut catalog = Catalog::from_bundles(inputs)?;
    for source in &sources {
        catalog = catalog.with_priority(source.name, source.priority);
    }
    for (catalog_name, package, info) in infos {
        catalog.set_package_info(&catalog_name, &package, info);
    }
    Ok(catalog)
}

type PackageInfos = Vec<(String, String, PackageInfo)>;

fn bundles_of(source: &FbcSource<'_>) -> Result<(Vec<BundleInput>, PackageInfos), FbcCatalogError> {
    let cfg = source.config;
    let catalog = source.name;

    let known: HashSet<(&str, &str)> = cfg
        .bundles
        .iter()
        .map(|b| (b.package.as_str(), b.name.as_str()))
        .collect();
    let mut entries: HashMap<(&str, &str), Vec<ChannelEntry>> = HashMap::new();
    for ch in &cfg.channels {
        for e in &ch.entries {
            if !known.contains(&(ch.package.as_str(), e.name.as_str())) {
                return Err(FbcCatalogError::MissingChannelBundle {
                    catalog: catalog.to_string(),
                    package: ch.package.clone(),
                    channel: ch.name.clone(),
                    bundle: e.name.clone(),
                });
            }
            entries
                .entry((ch.package.as_str(), e.name.as_str()))
                .or_default()
                .push(ChannelEntry {
                    channel: ch.name.clone(),
                    replaces: non_empty(&e.replaces),
                    skips: e.skips.clone(),
                    skip_range: non_empty(&e.skip_range),
                });
        }
    }

    let mut bundle_deprecations: HashMap<(&str, &str), &str> = HashMap::new();
    let mut infos: BTreeMap<String, PackageInfo> = BTreeMap::new();
    for p in &cfg.packages {
        infos.entry(p.name.clone()).or_default().default_channel = non_empty(&p.default_channel);
    }
    for d in &cfg.deprecations {
        for e in &d.entries {
            match e.reference.schema.as_str() {
                fbc::SCHEMA_BUNDLE => {
                    bundle_deprecations
                        .insert((d.package.as_str(), e.reference.name.as_str()), &e.message);
                }
                fbc::SCHEMA_CHANNEL => {
                    infos
                        .entry(d.package.clone())
                        .or_default()
                        .channel_deprecations
                        .insert(e.reference.name.clone(), e.message.clone());
                }
                fbc::SCHEMA_PACKAGE => {
                    infos.entry(d.package.clone()).or_default().deprecation =
                        Some(e.message.clone());
                }
                // The FBC loader validates reference schemas; anything else names nothing the
                // resolver knows.
                _ => {}
            }
        }
    }

    let bundles = cfg
        .bundles
        .iter()
        .map(|b| {
            let key = (b.package.as_str(), b.name.as_str());
            BundleInput {
                catalog: catalog.to_string(),
                package: b.package.clone(),
                name: b.name.clone(),
                image: b.image.clone(),
                channels: entries.remove(&key).unwrap_or_default(),
                properties: b.properties.iter().map(typed_property).collect(),
                deprecation: bundle_deprecations.get(&key).map(|m| m.to_string()),
            }
        })
        .collect();
    let infos = infos
        .into_iter()
        .map(|(package, info)| (catalog.to_string(), package, info))
        .collect();
    Ok((bundles, infos))
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

fn typed_property(p: &fbc::Property) -> Property {
    let raw = p.value.get();
    if raw.is_empty() {
        return Property::from_json(&p.r#type, &Value::Null);
    }
    match serde_json::from_str::<Value>(raw) {
        Ok(value) => Property::from_json(&p.r#type, &value),
        Err(e) => Property::Invalid {
            type_name: p.r#type.clone(),
            error: format!("value is not valid JSON: {e}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn load(text: &str) -> DeclarativeConfig {
        fbc::load_str(Path::new("catalog.yaml"), text).expect("valid FBC")
    }

    const CATALOG: &str = r#"---
schema: olm.package
name: p
defaultChannel: stable
---
schema: olm.channel
package: p
name: stable
entries:
- name: p.v1.0.0
- name: p.v1.1.0
  replaces: p.v1.0.0
  skips: [p.v0.9.0]
  skipRange: ">=0.5.0 <1.1.0"
---
schema: olm.channel
package: p
name: fast
entries:
- name: p.v1.1.0
---
schema: olm.bundle
package: p
name: p.v1.0.0
image: example.com/p:v1.0.0
properties:
- type: olm.package
  value: {packageName: p, version: 1.0.0}
---
schema: olm.bundle
package: p
name: p.v1.1.0
image: example.com/p:v1.1.0
properties:
- type: olm.package
  value: {packageName: p, version: 1.1.0}
- type: olm.package.required
  value: {packageName: q, versionRange: ">=1.0.0"}
- type: olm.gvk
  value: {group: example.com, version: v1, kind: Foo}
---
schema: olm.bundle
package: p
name: p.v0.9.0
image: example.com/p:v0.9.0
properties:
- type: olm.package
  value: {packageName: p, version: 0.9.0}
---
schema: olm.deprecations
package: p
entries:
- reference: {schema: olm.bundle, name: p.v1.0.0}
  message: p.v1.0.0 has a CVE
- reference: {schema: olm.channel, name: fast}
  message: use stable
- reference: {schema: olm.package}
  message: p is end of life
"#;

    #[test]
    fn channels_properties_and_deprecations_are_carried_over() {
        let cfg = load(CATALOG);
        let cat = catalog_from_fbc([FbcSource::new("cat", &cfg)]).expect("catalog");
        assert_eq!(cat.len(), 3);
        let b = |name: &str| {
            cat.bundles
                .iter()
                .find(|b| b.input.name == name)
                .expect("bundle")
        };
        let v110 = b("p.v1.1.0");
        assert_eq!(v110.input.channels.len(), 2);
        assert_eq!(
            v110.input.channels[0],
            ChannelEntry {
                channel: "stable".into(),
                replaces: Some("p.v1.0.0".into()),
                skips: vec!["p.v0.9.0".into()],
                skip_range: Some(">=0.5.0 <1.1.0".into()),
            }
        );
        assert_eq!(v110.input.channels[1].channel, "fast");
        assert_eq!(v110.input.channels[1].replaces, None);
        assert_eq!(v110.requirements.len(), 1);
        assert_eq!(v110.provides.len(), 1);
        assert_eq!(
            v110.version.as_ref().map(|v| v.to_string()),
            Some("1.1.0".into())
        );
        assert!(b("p.v0.9.0").input.channels.is_empty());
        assert_eq!(
            b("p.v1.0.0").deprecated.as_deref(),
            Some("p.v1.0.0 has a CVE")
        );
        assert_eq!(v110.deprecated, None);
        let info = cat.package_info("cat", "p").expect("package info");
        assert_eq!(info.default_channel.as_deref(), Some("stable"));
        assert_eq!(info.deprecation.as_deref(), Some("p is end of life"));
        assert_eq!(
            info.channel_deprecations.get("fast").map(String::as_str),
            Some("use stable")
        );
    }

    #[test]
    fn several_catalogs_keep_their_names_and_priorities() {
        let cfg = load(CATALOG);
        let mut low = FbcSource::new("low", &cfg);
        low.priority = -1;
        let cat = catalog_from_fbc([FbcSource::new("high", &cfg), low]).expect("catalog");
        assert_eq!(cat.len(), 6);
        assert_eq!(cat.priority("low"), -1);
        assert_eq!(cat.priority("high"), 0);
        assert_eq!(cat.catalog_names().collect::<Vec<_>>(), ["high", "low"]);
    }

    #[test]
    fn bad_sources_are_specific_errors() {
        let cfg = load(CATALOG);
        assert_eq!(
            catalog_from_fbc([FbcSource::new("a", &cfg), FbcSource::new("a", &cfg)])
                .expect_err("duplicate")
                .to_string(),
            "catalog name \"a\" is used twice; give each catalog its own name"
        );
        assert_eq!(
            catalog_from_fbc([FbcSource::new("", &cfg)]).expect_err("empty"),
            FbcCatalogError::EmptyCatalogName
        );
        let mut broken = cfg.clone();
        broken.channels[0].entries[0].name = "p.v7.0.0".into();
        assert_eq!(
            catalog_from_fbc([FbcSource::new("cat", &broken)])
                .expect_err("missing bundle")
                .to_string(),
            "bundle \"p.v7.0.0\" not found in catalog \"cat\" (package \"p\", channel \"stable\")"
        );
        let mut twice = cfg.clone();
        let again = twice.bundles[0].clone();
        twice.bundles.push(again);
        assert!(matches!(
            catalog_from_fbc([FbcSource::new("cat", &twice)]),
            Err(FbcCatalogError::Catalog(
                CatalogError::DuplicateBundle { .. }
            ))
        ));
    }

    #[test]
    fn undecodable_property_values_make_invalid_properties() {
        let p = fbc::Property::new(
            "olm.package.required",
            fbc::RawJson::new("{\"packageName\": 3}"),
        );
        assert!(matches!(typed_property(&p), Property::Invalid { .. }));
        let p = fbc::Property::new("olm.gvk", fbc::RawJson::new("not json"));
        match typed_property(&p) {
            Property::Invalid { error, .. } => {
                assert!(error.starts_with("value is not valid JSON"))
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
