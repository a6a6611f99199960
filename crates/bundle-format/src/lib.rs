//! Unpack-time checks of RukPak Bundle content, per provisioner class: what the Bundle
//! controller runs right after a source has written the content into a directory, before the
//! content is stored and served (`docs/rukpak-bundle-formats.md`).
//!
//! * `manifests_dir`: the `manifests/` directory both plain+v0 and registry+v1 require (present,
//!   flat, regular files only);
//! * `plain`: plain+v0, every file of `manifests/` read as a stream of Kubernetes objects;
//! * `registry`: registry+v1, validated with `fbc`'s bundle parser, refusing every manifest that
//!   parser would leave out ([`read_registry`] hands the parsed bundle on, for conversion);
//! * `helm`: helm+v3, the chart directory, `Chart.yaml` metadata validated as Helm does, and
//!   `values.yaml`.
//!
//! YAML is parsed with `fbc`'s budgeted parser on a grown stack, so hostile nesting is an error,
//! not a crash.

#[cfg(test)]
mod fixtures;
mod helm;
mod manifests_dir;
mod plain;
mod registry;

use std::fmt;
use std::path::{Path, PathBuf};

use olm_api::bundle::{PROVISIONER_HELM, PROVISIONER_PLAIN, PROVISIONER_REGISTRY};

pub use helm::{ChartValidationError, HelmError};
pub use manifests_dir::ManifestsDirError;
pub use plain::{DocumentLocation, PlainError, objects as plain_objects};
pub use registry::{RegistryError, read as read_registry};

/// A bundle format, chosen by the Bundle's provisioner class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    PlainV0,
    RegistryV1,
    HelmV3,
}

impl Format {
    /// The format a provisioner class unpacks; `None` for a class no provisioner of ours owns.
    pub fn for_provisioner(class: &str) -> Option<Format> {
        match class {
            PROVISIONER_PLAIN => Some(Format::PlainV0),
            PROVISIONER_REGISTRY => Some(Format::RegistryV1),
            PROVISIONER_HELM => Some(Format::HelmV3),
            _ => None,
        }
    }

    /// The format's name as users write it: `plain+v0`, `registry+v1`, `helm+v3`.
    pub fn name(self) -> &'static str {
        match self {
            Format::PlainV0 => "plain+v0",
            Format::RegistryV1 => "registry+v1",
            Format::HelmV3 => "helm+v3",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Content that passed [`check`], with what the check learnt about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checked {
    pub format: Format,
    pub summary: Summary,
}

/// What a check learnt, per format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Summary {
    /// plain+v0: the number of objects, `List`s counted by their items.
    Plain { objects: usize },
    /// registry+v1: the package annotation, the ClusterServiceVersion's name and `spec.version`
    /// (empty when absent), and the number of manifests (the CSV included).
    Registry {
        package: String,
        csv_name: String,
        version: String,
        manifests: usize,
    },
    /// helm+v3: `Chart.yaml` name and version, and the chart's directory (the root, or its only
    /// subdirectory).
    Helm {
        name: String,
        version: String,
        chart_root: PathBuf,
    },
}

/// Why content is not a valid bundle of its format. The `Display` text is the whole message for
/// a Bundle condition; it keeps the upstream wording users and upstream tests match on.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error("get objects from bundle manifests: {0}")]
    Plain(PlainError),
    #[error(
        "invalid bundle: found zero objects: plain+v0 bundles are required to contain at least one object"
    )]
    ZeroObjects,
    #[error("invalid registry+v1 bundle: {0}")]
    Registry(RegistryError),
    #[error(transparent)]
    Helm(HelmError),
}

/// Checks the content under `root` (a directory on disk) for `format`.
pub fn check(format: Format, root: &Path) -> Result<Checked, FormatError> {
    let summary = match format {
        Format::PlainV0 => match plain::count_objects(root).map_err(FormatError::Plain)? {
            0 => return Err(FormatError::ZeroObjects),
            objects => Summary::Plain { objects },
        },
        Format::RegistryV1 => registry::check(root).map_err(FormatError::Registry)?,
        Format::HelmV3 => helm::check(root).map_err(FormatError::Helm)?,
    };
    Ok(Checked { format, summary })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provisioner_classes() {
        assert_eq!(
            Format::for_provisioner("core-rukpak-io-plain"),
            Some(Format::PlainV0)
        );
        assert_eq!(
            Format::for_provisioner("core-rukpak-io-registry"),
            Some(Format::RegistryV1)
        );
        assert_eq!(
            Format::for_provisioner("core-rukpak-io-helm"),
            Some(Format::HelmV3)
        );
        assert_eq!(Format::for_provisioner("core-rukpak-io-plainx"), None);
        assert_eq!(Format::RegistryV1.to_string(), "registry+v1");
    }
}
