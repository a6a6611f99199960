//! Pulling registry+v1 bundle images: fetched concurrently, checked to be bundles by label,
//! and parsed from `manifests/` and `metadata/` as upstream's image input does.

use std::path::Path;

use futures::{StreamExt, TryStreamExt};
use oci::{ExtractLimits, Image, ImageStore};

use crate::error::{IndexImageError, describe_labels};
use crate::kind::fetch;

/// Bundle images pulled at once.
const PARALLEL_BUNDLES: usize = 8;

/// A bundle's files are held in memory while it is parsed, so a hostile image must not be
/// able to make one large: real bundles are a few MB (documented in docs/images.md).
fn bundle_limits() -> ExtractLimits {
    ExtractLimits {
        max_total_bytes: 256 << 20,
        max_file_bytes: 64 << 20,
        max_entries: 100_000,
        ..ExtractLimits::default()
    }
}

/// A pulled and parsed bundle image.
#[derive(Debug)]
pub struct PulledBundle {
    /// The reference exactly as given (it becomes the bundle's `image`; tags are not
    /// resolved, as upstream).
    pub reference: String,
    pub image: Image,
    pub bundle: fbc::RegistryBundle,
}

/// Pulls one bundle image.
pub async fn pull_bundle(
    store: &ImageStore,
    reference: &str,
) -> Result<PulledBundle, IndexImageError> {
    let image = fetch(store, reference).await?;
    let labels = image.labels();
    if !labels.contains_key(olm_labels::BUNDLE_PACKAGE) {
        return Err(IndexImageError::NotABundle {
            image: reference.to_string(),
            labels: describe_labels(&labels),
        });
    }
    // Only manifests/ and metadata/ matter, and bundles are small: they are read from the
    // cached layers into memory instead of being unpacked into a temp tree and deleted.
    let files = store
        .read_image_files(&image, &["manifests", "metadata"], &bundle_limits())
        .await
        .map_err(IndexImageError::image(format!(
            "unpack bundle image {reference}"
        )))?;
    let root = std::path::PathBuf::from(reference);
    let bundle = tokio::task::spawn_blocking(move || fbc::parse_bundle_tree(&root, files))
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
    })
}

impl PulledBundle {
    /// A skipped manifest's path inside the image (the parser names it under the reference).
    fn path_in_image<'a>(&self, skipped: &'a fbc::SkippedManifest) -> &'a Path {
        skipped
            .path
            .strip_prefix(&self.reference)
            .unwrap_or(&skipped.path)
    }

    /// The manifests left out that hold no object (empty files, files without a kind, a second
    /// CSV), worded for stderr.
    pub(crate) fn skip_warnings(&self) -> impl Iterator<Item = String> + '_ {
        self.bundle.skipped.iter().map(|s| {
            format!(
                "bundle image {}: {}: skipped: {}",
                self.reference,
                self.path_in_image(s).display(),
                s.reason
            )
        })
    }
}

/// For `index add`: a manifest that could not be parsed would be missing from the index (a CRD
/// left out is a failed install later), so the bundle is refused, naming the file.
async fn pull_complete_bundle(
    store: &ImageStore,
    reference: &str,
) -> Result<PulledBundle, IndexImageError> {
    let pulled = pull_bundle(store, reference).await?;
    match pulled.bundle.skipped.iter().find(|s| s.loses_content()) {
        Some(s) => Err(IndexImageError::UnparsableManifest {
            image: pulled.reference.clone(),
            path: pulled.path_in_image(s).to_path_buf(),
            reason: s.reason.clone(),
        }),
        None => Ok(pulled),
    }
}

/// Pulls every bundle (several at once), in the order given. The first failure wins.
pub(crate) async fn pull_bundles(
    store: &ImageStore,
    references: &[String],
) -> Result<Vec<PulledBundle>, IndexImageError> {
    let pulls: Vec<_> = references
        .iter()
        .map(|r| pull_complete_bundle(store, r))
        .collect();
    futures::stream::iter(pulls)
        .buffered(PARALLEL_BUNDLES)
        .try_collect()
        .await
}

/// Like [`pull_bundles`], but a bundle that fails is reported and left out (`--permissive`).
pub(crate) async fn pull_bundles_permissive(
    store: &ImageStore,
    references: &[String],
) -> (Vec<PulledBundle>, Vec<IndexImageError>) {
    let pulls: Vec<_> = references
        .iter()
        .map(|r| pull_complete_bundle(store, r))
        .collect();
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
