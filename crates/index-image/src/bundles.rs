//! Pulling registry+v1 bundle images: fetched concurrently, checked to be bundles by label,
//! unpacked into a temp dir and parsed as upstream's image input does (`manifests/`,
//! `metadata/`).

use futures::{StreamExt, TryStreamExt};
use oci::{ExtractOptions, Image, ImageStore};

use crate::error::{IndexImageError, describe_labels};
use crate::kind::{BUNDLE_PACKAGE_LABEL, fetch};

/// Bundle images pulled at once.
const PARALLEL_BUNDLES: usize = 8;

/// A pulled and parsed bundle image.
#[derive(Debug)]
pub struct PulledBundle {
    /// The reference exactly as given (it becomes the bundle's `image`; tags are not
    /// resolved, as upstream).
    pub reference: String,
    pub image: Image,
    pub bundle: fbc::RegistryBundle,
    /// The unpacked image (kept for callers that load bundles from disk).
    pub dir: tempfile::TempDir,
}

impl PulledBundle {
    pub fn root(&self) -> std::path::PathBuf {
        self.dir.path().join("bundle")
    }
}

/// Pulls one bundle image.
pub async fn pull_bundle(
    store: &ImageStore,
    reference: &str,
) -> Result<PulledBundle, IndexImageError> {
    let image = fetch(store, reference).await?;
    let labels = image.labels();
    if !labels.contains_key(BUNDLE_PACKAGE_LABEL) {
        return Err(IndexImageError::NotABundle {
            image: reference.to_string(),
            labels: describe_labels(&labels),
        });
    }
    let dir = tempfile::Builder::new()
        .prefix("opm-bundle-")
        .tempdir()
        .map_err(IndexImageError::io("creating a temp dir for a bundle"))?;
    let root = dir.path().join("bundle");
    store
        .unpack_image(&image, &root, &ExtractOptions::default())
        .await
        .map_err(IndexImageError::image(format!(
            "unpack bundle image {reference}"
        )))?;
    let parse_root = root.clone();
    let bundle = tokio::task::spawn_blocking(move || fbc::parse_bundle_dir(&parse_root))
        .await
        .map_err(|e| IndexImageError::Invalid(format!("parsing bundle {reference}: {e}")))?
        .map_err(|cause| IndexImageError::Bundle {
            image: reference.to_string(),
            cause,
        })?;
    for w in &bundle.warnings {
        tracing::warn!(bundle = reference, "{w}");
    }
    Ok(PulledBundle {
        reference: reference.to_string(),
        image,
        bundle,
        dir,
    })
}

/// Pulls every bundle (several at once), in the order given. The first failure wins.
pub async fn pull_bundles(
    store: &ImageStore,
    references: &[String],
) -> Result<Vec<PulledBundle>, IndexImageError> {
    let pulls: Vec<_> = references.iter().map(|r| pull_bundle(store, r)).collect();
    futures::stream::iter(pulls)
        .buffered(PARALLEL_BUNDLES)
        .try_collect()
        .await
}

/// Like [`pull_bundles`], but a bundle that fails is reported and left out (`--permissive`).
pub async fn pull_bundles_permissive(
    store: &ImageStore,
    references: &[String],
) -> (Vec<PulledBundle>, Vec<IndexImageError>) {
    let pulls: Vec<_> = references.iter().map(|r| pull_bundle(store, r)).collect();
    let results: Vec<_> = futures::stream::iter(pulls)
        .buffered(PARALLEL_BUNDLES)
        .collect()
        .await;
    let mut ok = Vec::new();
    let mut errs = Vec::new();
    for r in results {
        match r {
            Ok(b) => ok.push(b),
            Err(e) => errs.push(e),
        }
    }
    (ok, errs)
}
