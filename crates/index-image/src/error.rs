//! Errors of index operations: each names the image, bundle or package involved and says
//! what to do about it.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum IndexImageError {
    /// A registry or layout operation failed (the source names the registry and reference).
    // The cause is part of the message (not a `source`), so `{:#}` chains don't repeat it.
    #[error("{context}: {cause}")]
    Image {
        context: String,
        cause: oci::ImageError,
    },

    #[error(
        "image {image} is not an operator bundle: it has no operators.operatorframework.io.bundle.package.v1 label ({labels})"
    )]
    NotABundle { image: String, labels: String },

    #[error("bundle image {image}: {cause}")]
    Bundle {
        image: String,
        cause: fbc::BundleError,
    },

    /// `index add` refuses a bundle that would be added without one of its manifests.
    #[error(
        "bundle image {image}: failed to decode: {}:{reason}; the bundle is not added without this manifest",
        path.display()
    )]
    UnparsableManifest {
        image: String,
        /// The file inside the image (`manifests/…`).
        path: PathBuf,
        reason: fbc::SkipReason,
    },

    #[error(
        "index image {image} has neither the operators.operatorframework.io.index.database.v1 label (sqlite index) nor the operators.operatorframework.io.index.configs.v1 label (file-based catalog) ({labels})"
    )]
    UnknownIndexKind { image: String, labels: String },

    /// The catalog would not be valid after the change; nothing was written or pushed.
    #[error("the updated catalog is invalid, nothing was pushed:\n{0}")]
    Validation(fbc::ValidationError),

    #[error("reading the catalog of {image}: {cause}")]
    Load {
        image: String,
        cause: fbc::LoadError,
    },

    #[error(transparent)]
    Write(#[from] fbc::WriteError),

    /// The sqlite database could not be changed (upstream's wording).
    #[error("{0}")]
    Database(String),

    #[error("{context}: {cause}")]
    Io {
        context: String,
        cause: std::io::Error,
    },

    #[error("{0} already exists; remove it or choose another output location")]
    OutputExists(PathBuf),

    /// A refused request or graph change, with upstream's wording where it has one.
    #[error("{0}")]
    Invalid(String),

    /// The operation makes no sense for this kind of index.
    #[error("{0}")]
    Unsupported(String),
}

impl IndexImageError {
    pub(crate) fn image(context: impl Into<String>) -> impl FnOnce(oci::ImageError) -> Self {
        let context = context.into();
        move |cause| IndexImageError::Image { context, cause }
    }

    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let context = context.into();
        move |cause| IndexImageError::Io { context, cause }
    }
}

/// `k=v, k=v` for error messages, or `no labels`.
pub(crate) fn describe_labels(labels: &std::collections::BTreeMap<String, String>) -> String {
    if labels.is_empty() {
        return "the image has no labels".into();
    }
    let list: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("labels: {}", list.join(", "))
}
