//! registry+v1 bundle directories (`manifests/` + `metadata/`) and their rendering into an
//! `olm.bundle` blob, reproducing upstream `opm render` (pkg/registry parse.go,
//! registry_to_model.go, alpha/action/render.go).
//!
//! * `files`: reading a bundle's files from a directory or an image's file map;
//! * `parse`: the manifests and `metadata/` files into a [`RegistryBundle`];
//! * `csv`: the typed view of the ClusterServiceVersion every other step reads;
//! * `render`: the `olm.bundle` blob;
//! * `csv_metadata`: the `olm.csv.metadata` value, written in Go struct order.

mod csv;
mod csv_metadata;
mod files;
mod parse;
mod render;

use std::path::{Path, PathBuf};

use crate::error::LoadError;

pub use csv::CsvError;
pub use csv_metadata::csv_metadata_json;
pub use files::{BundleFile, parse_bundle_dir, parse_bundle_tree};
pub use parse::{
    Annotations, Manifest, RegistryBundle, SkipReason, SkippedManifest, parse_bundle_files,
};
pub use render::{ObjectProfile, render_bundle_dir};

/// CSV annotation carrying extra properties as a JSON list.
pub const CSV_ANNOTATION_PROPERTIES: &str = "olm.properties";
/// CSV annotation with the bundle's skip range.
pub const CSV_ANNOTATION_SKIP_RANGE: &str = "olm.skipRange";

/// A bundle directory could not be parsed or rendered.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Syntax(#[from] LoadError),
    /// The ClusterServiceVersion (or a CRD it refers to) has a malformed field.
    #[error("{}: {source}", path.display())]
    Csv {
        path: PathBuf,
        #[source]
        source: CsvError,
    },
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
    /// The bundle is incomplete and some manifests could not be parsed: those may be why.
    #[error(
        "{incomplete} (manifests left out because they could not be parsed: {})",
        join_lost(lost)
    )]
    LostManifests {
        incomplete: Box<BundleError>,
        lost: Vec<SkippedManifest>,
    },
}

fn join_lost(lost: &[SkippedManifest]) -> String {
    let lost: Vec<String> = lost.iter().map(ToString::to_string).collect();
    lost.join("; ")
}

fn invalid(path: &Path, message: impl Into<String>) -> BundleError {
    BundleError::Invalid {
        path: path.to_path_buf(),
        message: message.into(),
    }
}
