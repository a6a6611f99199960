//! The package → channel → bundle model a catalog converts into (upstream `alpha/model`), with
//! bundles repeated in every channel that lists them.

use std::collections::BTreeMap;

use crate::blang;
use crate::declcfg::{
    Bundle, Channel, ChannelEntry, DeclarativeConfig, Deprecation, DeprecationEntry, Icon, Package,
    PackageScopedReference, RelatedImage, SCHEMA_BUNDLE, SCHEMA_CHANNEL, SCHEMA_DEPRECATIONS,
    SCHEMA_PACKAGE,
};
use crate::property::{Property, TYPE_BUNDLE_OBJECT};

/// A validated catalog.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Model {
    pub packages: BTreeMap<String, ModelPackage>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ModelPackage {
    pub name: String,
    pub description: String,
    pub icon: Option<Icon>,
    /// Name of the default channel ("" when unset).
    pub default_channel: String,
    pub channels: BTreeMap<String, ModelChannel>,
    pub deprecation: Option<ModelDeprecation>,
    /// Package properties (carried in FBC, not part of upstream's model).
    pub properties: Vec<Property>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ModelChannel {
    pub name: String,
    pub package: String,
    pub bundles: BTreeMap<String, ModelBundle>,
    pub deprecation: Option<ModelDeprecation>,
    pub properties: Vec<Property>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ModelBundle {
    pub name: String,
    pub package: String,
    pub channel: String,
    pub image: String,
    pub replaces: String,
    pub skips: Vec<String>,
    pub skip_range: String,
    pub properties: Vec<Property>,
    pub related_images: Vec<RelatedImage>,
    pub version: blang::Version,
    /// v1.73 release ("" when none).
    pub release: String,
    pub deprecation: Option<ModelDeprecation>,
}

impl ModelBundle {
    /// Whether the bundle carries its manifests (`olm.bundle.object`), which excuses a missing
    /// image.
    pub fn has_objects(&self) -> bool {
        self.properties
            .iter()
            .any(|p| p.r#type == TYPE_BUNDLE_OBJECT)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModelDeprecation {
    pub message: String,
}

/// A channel without exactly one head.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HeadError {
    #[error("no channel head found in graph")]
    None,
    #[error("multiple channel heads found in graph: {}", .0.join(", "))]
    Multiple(Vec<String>),
}

impl ModelChannel {
    /// The single bundle no other bundle replaces or skips (upstream `Channel.Head`).
    pub fn head(&self) -> Result<&ModelBundle, HeadError> {
        let mut incoming: std::collections::HashSet<&str> = Default::default();
        for b in self.bundles.values() {
            if !b.replaces.is_empty() {
                incoming.insert(&b.replaces);
            }
            for s in &b.skips {
                incoming.insert(s);
            }
        }
        let heads: Vec<&ModelBundle> = self
            .bundles
            .values()
            .filter(|b| !incoming.contains(b.name.as_str()))
            .collect();
        match heads.len() {
            0 => Err(HeadError::None),
            1 => Ok(heads[0]),
            _ => Err(HeadError::Multiple(
                heads.iter().map(|b| b.name.clone()).collect(),
            )),
        }
    }
}

impl Model {
    /// Upstream `ConvertFromModel`: packages, channels (entries sorted by name), bundles
    /// (once each, even when in several channels) and deprecations.
    pub fn to_declcfg(&self) -> DeclarativeConfig {
        let mut cfg = DeclarativeConfig::default();
        for pkg in self.packages.values() {
            cfg.packages.push(Package {
                schema: SCHEMA_PACKAGE.to_string(),
                name: pkg.name.clone(),
                default_channel: pkg.default_channel.clone(),
                icon: pkg.icon.clone(),
                description: pkg.description.clone(),
                properties: pkg.properties.clone(),
                origin: None,
            });
            let mut deprecation_entries = Vec::new();
            if let Some(d) = &pkg.deprecation {
                deprecation_entries.push(DeprecationEntry {
                    reference: PackageScopedReference {
                        schema: SCHEMA_PACKAGE.to_string(),
                        name: String::new(),
                    },
                    message: d.message.clone(),
                });
            }
            let mut bundles: BTreeMap<&str, &ModelBundle> = BTreeMap::new();
            for ch in pkg.channels.values() {
                let entries = ch
                    .bundles
                    .values()
                    .map(|b| {
                        bundles.entry(&b.name).or_insert(b);
                        ChannelEntry {
                            name: b.name.clone(),
                            replaces: b.replaces.clone(),
                            skips: b.skips.clone(),
                            skip_range: b.skip_range.clone(),
                        }
                    })
                    .collect();
                cfg.channels.push(Channel {
                    schema: SCHEMA_CHANNEL.to_string(),
                    name: ch.name.clone(),
                    package: pkg.name.clone(),
                    entries,
                    properties: ch.properties.clone(),
                    origin: None,
                });
                if let Some(d) = &ch.deprecation {
                    deprecation_entries.push(DeprecationEntry {
                        reference: PackageScopedReference {
                            schema: SCHEMA_CHANNEL.to_string(),
                            name: ch.name.clone(),
                        },
                        message: d.message.clone(),
                    });
                }
            }
            for b in bundles.values() {
                cfg.bundles.push(Bundle {
                    schema: SCHEMA_BUNDLE.to_string(),
                    name: b.name.clone(),
                    package: pkg.name.clone(),
                    image: b.image.clone(),
                    properties: b.properties.clone(),
                    related_images: b.related_images.clone(),
                    origin: None,
                });
                if let Some(d) = &b.deprecation {
                    deprecation_entries.push(DeprecationEntry {
                        reference: PackageScopedReference {
                            schema: SCHEMA_BUNDLE.to_string(),
                            name: b.name.clone(),
                        },
                        message: d.message.clone(),
                    });
                }
            }
            if !deprecation_entries.is_empty() {
                cfg.deprecations.push(Deprecation {
                    schema: SCHEMA_DEPRECATIONS.to_string(),
                    package: pkg.name.clone(),
                    entries: deprecation_entries,
                    origin: None,
                });
            }
        }
        cfg
    }
}
