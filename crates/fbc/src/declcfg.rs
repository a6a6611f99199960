//! The typed File-Based Catalog blobs (`olm.package`, `olm.channel`, `olm.bundle`,
//! `olm.deprecations`) and the opaque `Meta` kept for every other schema.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use crate::property::Property;
use crate::raw::RawJson;

pub const SCHEMA_PACKAGE: &str = "olm.package";
pub const SCHEMA_CHANNEL: &str = "olm.channel";
pub const SCHEMA_BUNDLE: &str = "olm.bundle";
pub const SCHEMA_DEPRECATIONS: &str = "olm.deprecations";

/// Where a blob was read from: the file and the 1-based line its document starts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub path: Arc<Path>,
    pub line: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.path.display(), self.line)
    }
}

/// `olm.package`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Package {
    pub schema: String,
    pub name: String,
    pub default_channel: String,
    pub icon: Option<Icon>,
    pub description: String,
    pub properties: Vec<Property>,
    pub origin: Option<Origin>,
}

/// A package icon; `data` holds the decoded bytes (written back as standard base64).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Icon {
    pub data: Vec<u8>,
    pub media_type: String,
}

/// `olm.channel`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Channel {
    pub schema: String,
    pub name: String,
    pub package: String,
    pub entries: Vec<ChannelEntry>,
    pub properties: Vec<Property>,
    pub origin: Option<Origin>,
}

/// One upgrade-graph node of a channel.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChannelEntry {
    pub name: String,
    pub replaces: String,
    pub skips: Vec<String>,
    pub skip_range: String,
}

/// `olm.bundle`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Bundle {
    pub schema: String,
    pub name: String,
    pub package: String,
    pub image: String,
    pub properties: Vec<Property>,
    pub related_images: Vec<RelatedImage>,
    pub origin: Option<Origin>,
}

/// An image a bundle needs (for mirroring); `name` may be empty.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RelatedImage {
    pub name: String,
    pub image: String,
}

/// `olm.deprecations` (at most one per package).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Deprecation {
    pub schema: String,
    pub package: String,
    pub entries: Vec<DeprecationEntry>,
    pub origin: Option<Origin>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeprecationEntry {
    pub reference: PackageScopedReference,
    pub message: String,
}

/// What a deprecation entry points at: the package (no name), a channel or a bundle.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PackageScopedReference {
    pub schema: String,
    pub name: String,
}

impl fmt::Display for PackageScopedReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.name.is_empty() {
            write!(f, "{{schema: {:?}}}", self.schema)
        } else {
            write!(f, "{{schema: {:?}, name: {:?}}}", self.schema, self.name)
        }
    }
}

/// Any blob, with the envelope keys found case-insensitively and the canonical JSON (sorted keys,
/// compact, Go number format, no HTML escaping) that every writer and server re-emits.
#[derive(Clone, Debug, PartialEq)]
pub struct Meta {
    pub schema: String,
    pub package: String,
    pub name: String,
    pub blob: RawJson,
    pub origin: Option<Origin>,
}

/// Everything read from a catalog, grouped by kind in file order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DeclarativeConfig {
    pub packages: Vec<Package>,
    pub channels: Vec<Channel>,
    pub bundles: Vec<Bundle>,
    pub deprecations: Vec<Deprecation>,
    /// Blobs of any other schema, passed through untouched.
    pub others: Vec<Meta>,
}

impl DeclarativeConfig {
    /// Appends everything in `other`.
    pub fn merge(&mut self, other: DeclarativeConfig) {
        self.packages.extend(other.packages);
        self.channels.extend(other.channels);
        self.bundles.extend(other.bundles);
        self.deprecations.extend(other.deprecations);
        self.others.extend(other.others);
    }

    pub fn is_empty(&self) -> bool {
        self.packages.is_empty()
            && self.channels.is_empty()
            && self.bundles.is_empty()
            && self.deprecations.is_empty()
            && self.others.is_empty()
    }

    /// Number of blobs of all kinds.
    pub fn len(&self) -> usize {
        self.packages.len()
            + self.channels.len()
            + self.bundles.len()
            + self.deprecations.len()
            + self.others.len()
    }
}
