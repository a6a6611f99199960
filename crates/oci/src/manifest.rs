//! Manifest, index and descriptor shapes (OCI and Docker v2 schema 2), plus platform selection.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::ImageError;
pub(crate) use crate::extract::LayerCompression;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub(crate) const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub(crate) const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
pub(crate) const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub(crate) const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
pub(crate) const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub(crate) const DOCKER_MANIFEST_LIST: &str =
    "application/vnd.docker.distribution.manifest.list.v2+json";
pub(crate) const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub(crate) const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
pub(crate) const DOCKER_LAYER_TAR: &str = "application/vnd.docker.image.rootfs.diff.tar";
pub(crate) const DOCKER_FOREIGN_LAYER_GZIP: &str =
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
pub(crate) const OCI_NONDISTRIBUTABLE_TAR: &str =
    "application/vnd.oci.image.layer.nondistributable.v1.tar";
pub(crate) const OCI_NONDISTRIBUTABLE_GZIP: &str =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";

/// The annotation that names an image in an OCI layout's `index.json`.
pub(crate) const REF_NAME_ANNOTATION: &str = "org.opencontainers.image.ref.name";

/// Every manifest media type we accept from a registry.
pub(crate) const ACCEPTED_MANIFESTS: &[&str] = &[
    OCI_MANIFEST,
    OCI_INDEX,
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
];

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urls: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageIndex {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub manifests: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// An OS/architecture(/variant) pair, e.g. `linux/amd64` or `linux/arm64/v8`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
}

impl Default for Platform {
    /// linux/amd64, what opm and catalogd assume unless told otherwise.
    fn default() -> Self {
        Platform {
            architecture: "amd64".into(),
            os: "linux".into(),
            variant: None,
            os_version: None,
        }
    }
}

impl Platform {
    /// Parses `os/arch[/variant]`.
    pub fn parse(s: &str) -> Result<Self, ImageError> {
        let parts: Vec<&str> = s.split('/').collect();
        let invalid = || ImageError::InvalidReference {
            reference: s.to_owned(),
            reason: "a platform is os/arch[/variant], e.g. linux/amd64 or linux/arm64/v8".into(),
        };
        if !(2..=3).contains(&parts.len()) || parts.iter().any(|p| p.is_empty()) {
            return Err(invalid());
        }
        Ok(Platform {
            os: parts[0].to_owned(),
            architecture: parts[1].to_owned(),
            variant: parts.get(2).map(|v| (*v).to_owned()),
            os_version: None,
        })
    }

    /// Whether an index entry's platform satisfies this wanted platform. A wanted platform
    /// without a variant accepts any variant; arm64's implicit variant is `v8`.
    pub fn matches(&self, candidate: &Platform) -> bool {
        if self.os != candidate.os || self.architecture != candidate.architecture {
            return false;
        }
        let norm = |p: &Platform| match (p.architecture.as_str(), p.variant.as_deref()) {
            ("arm64", None) => Some("v8".to_owned()),
            (_, v) => v.map(str::to_owned),
        };
        match &self.variant {
            None => true,
            Some(_) => norm(self) == norm(candidate),
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// A parsed manifest document: a single image or an index of images.
#[derive(Clone, Debug)]
pub enum ManifestDocument {
    Image(ImageManifest),
    Index(ImageIndex),
}

impl ManifestDocument {
    /// Parses a manifest or index; the `mediaType` field (or, when absent, the document's
    /// shape) decides which.
    pub fn parse(bytes: &[u8], reference: &str) -> Result<Self, ImageError> {
        let invalid = |detail: String| ImageError::InvalidContent {
            reference: reference.to_owned(),
            what: "manifest".into(),
            detail,
        };
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| invalid(e.to_string()))?;
        let media_type = value.get("mediaType").and_then(|m| m.as_str());
        let schema = value.get("schemaVersion").and_then(|v| v.as_u64());
        if schema != Some(2) {
            return Err(ImageError::UnsupportedMediaType {
                reference: reference.to_owned(),
                what: "manifest".into(),
                media_type: format!(
                    "{} (schemaVersion {})",
                    media_type.unwrap_or("unknown"),
                    schema.map_or("missing".into(), |s| s.to_string())
                ),
            });
        }
        let is_index = match media_type {
            Some(OCI_INDEX | DOCKER_MANIFEST_LIST) => true,
            Some(OCI_MANIFEST | DOCKER_MANIFEST) => false,
            Some(other) => {
                return Err(ImageError::UnsupportedMediaType {
                    reference: reference.to_owned(),
                    what: "manifest".into(),
                    media_type: other.to_owned(),
                });
            }
            None => value.get("manifests").is_some(),
        };
        if is_index {
            serde_json::from_value(value)
                .map(ManifestDocument::Index)
                .map_err(|e| invalid(format!("image index: {e}")))
        } else {
            serde_json::from_value(value)
                .map(ManifestDocument::Image)
                .map_err(|e| invalid(format!("image manifest: {e}")))
        }
    }
}

impl ImageIndex {
    /// The entry for `wanted`, or a [`ImageError::PlatformNotFound`] listing what exists.
    pub fn select(&self, wanted: &Platform, reference: &str) -> Result<&Descriptor, ImageError> {
        let candidates: Vec<&Descriptor> = self
            .manifests
            .iter()
            .filter(|d| matches!(d.media_type.as_str(), OCI_MANIFEST | DOCKER_MANIFEST))
            .collect();
        // Exact variant first, then any variant when none was asked for.
        candidates
            .iter()
            .find(|d| {
                d.platform
                    .as_ref()
                    .is_some_and(|p| wanted.matches(p) && p.variant == wanted.variant)
            })
            .or_else(|| {
                candidates
                    .iter()
                    .find(|d| d.platform.as_ref().is_some_and(|p| wanted.matches(p)))
            })
            .copied()
            .ok_or_else(|| ImageError::PlatformNotFound {
                reference: reference.to_owned(),
                wanted: wanted.to_string(),
                available: {
                    let list: Vec<String> = self
                        .manifests
                        .iter()
                        .map(|d| {
                            d.platform
                                .as_ref()
                                .map_or_else(|| "unspecified".to_owned(), Platform::to_string)
                        })
                        .collect();
                    if list.is_empty() {
                        "none".to_owned()
                    } else {
                        list.join(", ")
                    }
                },
            })
    }
}

pub(crate) fn layer_compression(
    media_type: &str,
    reference: &str,
) -> Result<LayerCompression, ImageError> {
    match media_type {
        OCI_LAYER_GZIP
        | DOCKER_LAYER_GZIP
        | DOCKER_FOREIGN_LAYER_GZIP
        | OCI_NONDISTRIBUTABLE_GZIP => Ok(LayerCompression::Gzip),
        OCI_LAYER_TAR | DOCKER_LAYER_TAR | OCI_NONDISTRIBUTABLE_TAR => Ok(LayerCompression::None),
        other => Err(ImageError::UnsupportedMediaType {
            reference: reference.to_owned(),
            what: if other == OCI_LAYER_ZSTD {
                "layer (zstd layers are not supported yet)".into()
            } else {
                "layer".into()
            },
            media_type: other.to_owned(),
        }),
    }
}

/// The OCI equivalent of a Docker media type (same bytes, same digest), so an image built
/// on a Docker-format base can be written as one consistent OCI manifest.
pub(crate) fn oci_media_type(media_type: &str) -> &str {
    match media_type {
        DOCKER_LAYER_GZIP => OCI_LAYER_GZIP,
        DOCKER_LAYER_TAR => OCI_LAYER_TAR,
        DOCKER_CONFIG => OCI_CONFIG,
        DOCKER_FOREIGN_LAYER_GZIP => OCI_NONDISTRIBUTABLE_GZIP,
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(platform: &str) -> Descriptor {
        Descriptor {
            media_type: OCI_MANIFEST.into(),
            digest: format!("sha256:{platform}"),
            size: 1,
            urls: None,
            annotations: None,
            platform: Some(Platform::parse(platform).unwrap()),
            artifact_type: None,
        }
    }

    #[test]
    fn platform_selection() {
        let index = ImageIndex {
            schema_version: 2,
            media_type: Some(OCI_INDEX.into()),
            manifests: vec![
                entry("linux/arm/v7"),
                entry("linux/arm64/v8"),
                entry("linux/amd64"),
            ],
            annotations: None,
        };
        let pick = |p: &str| {
            index
                .select(&Platform::parse(p).unwrap(), "x")
                .map(|d| d.digest.clone())
        };
        assert_eq!(pick("linux/amd64").unwrap(), "sha256:linux/amd64");
        assert_eq!(pick("linux/arm64").unwrap(), "sha256:linux/arm64/v8");
        assert_eq!(pick("linux/arm").unwrap(), "sha256:linux/arm/v7");
        let err = pick("linux/s390x").unwrap_err().to_string();
        assert!(err.contains("linux/s390x"), "{err}");
        assert!(
            err.contains("linux/arm/v7, linux/arm64/v8, linux/amd64"),
            "{err}"
        );
        assert!(Platform::parse("linux").is_err());
        assert_eq!(Platform::default().to_string(), "linux/amd64");
    }

    #[test]
    fn manifest_kinds_are_told_apart() {
        let index = br#"{"schemaVersion":2,"manifests":[]}"#;
        assert!(matches!(
            ManifestDocument::parse(index, "x").unwrap(),
            ManifestDocument::Index(_)
        ));
        let v1 = br#"{"schemaVersion":1,"name":"x"}"#;
        assert!(
            ManifestDocument::parse(v1, "x")
                .unwrap_err()
                .to_string()
                .contains("schemaVersion 1")
        );
        let art = br#"{"schemaVersion":2,"mediaType":"application/vnd.cncf.helm.chart"}"#;
        assert!(matches!(
            ManifestDocument::parse(art, "x").unwrap_err(),
            ImageError::UnsupportedMediaType { .. }
        ));
    }
}
