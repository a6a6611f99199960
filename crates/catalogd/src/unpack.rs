//! From an image reference to served content: resolve the digest, skip everything if that
//! digest is already stored, otherwise pull (in-process, no unpack pod), extract the
//! labelled directory safely, load and validate the FBC, and store it atomically.

use std::path::{Path, PathBuf};

use fbc::{Blob, DeclarativeConfig};
use oci::{ExtractOptions, ImageError, ImageRef, ImageStore, RegistryRef};
use olm_labels::INDEX_CONFIGS;

use crate::store::{Store, StoredCatalog, StoredSource};

/// Condition reasons for a failed unpack. `UnpackFailed` and `FailedToStore` are
/// upstream's; the others split upstream's `UnpackFailed` so users see the cause at a glance.
pub(crate) mod reason {
    pub(crate) const IMAGE_NOT_FOUND: &str = "ImageNotFound";
    pub(crate) const UNAUTHORIZED: &str = "Unauthorized";
    pub(crate) const REGISTRY_UNREACHABLE: &str = "RegistryUnreachable";
    pub(crate) const MISSING_LABEL: &str = "MissingLabel";
    pub(crate) const INVALID_CATALOG: &str = "InvalidCatalog";
    pub(crate) const INVALID_REFERENCE: &str = "InvalidReference";
    pub(crate) const PULL_SECRET_NOT_FOUND: &str = "PullSecretNotFound";
    pub(crate) const UNPACK_FAILED: &str = olm_api::catalog::REASON_UNPACK_FAILED;
    pub(crate) const FAILED_TO_STORE: &str = olm_api::catalog::REASON_FAILED_TO_STORE;
}

/// Why an unpack failed, in status-condition terms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct UnpackFailure {
    pub reason: &'static str,
    pub message: String,
    /// Retrying cannot help: an invalid reference, or any failure of a digest-pinned image.
    pub permanent: bool,
}

impl UnpackFailure {
    pub fn new(reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
            permanent: false,
        }
    }
}

pub(crate) struct Outcome {
    pub(crate) stored: StoredCatalog,
    /// False when the digest was already stored: nothing was downloaded or rewritten.
    pub(crate) downloaded: bool,
}

/// Parses a Catalog's image reference. Only registry references: an `oci:` path would
/// let a Catalog read catalogd's own filesystem.
pub(crate) fn parse_reference(reference: &str) -> Result<RegistryRef, UnpackFailure> {
    match ImageRef::parse(reference) {
        Ok(ImageRef::Registry(r)) => Ok(r),
        Ok(ImageRef::Layout(_)) => Err(UnpackFailure {
            reason: reason::INVALID_REFERENCE,
            message: format!(
                "error parsing image reference {reference:?}: only registry references are supported"
            ),
            permanent: true,
        }),
        Err(e) => Err(UnpackFailure {
            reason: reason::INVALID_REFERENCE,
            message: format!("error parsing image reference: {e}"),
            permanent: true,
        }),
    }
}

/// `<registry>/<repository>@<digest>`, the form of `status.resolvedSource.image.resolvedRef`.
pub(crate) fn resolved_ref(reference: &RegistryRef, digest: &str) -> String {
    format!(
        "{}/{}@{digest}",
        reference.registry(),
        reference.repository()
    )
}

pub(crate) async fn unpack(
    images: &ImageStore,
    store: &Store,
    unpack_root: &Path,
    name: &str,
    spec_ref: &str,
) -> Result<Outcome, UnpackFailure> {
    let reference = parse_reference(spec_ref)?;
    let pinned = reference.digest().is_some();
    let with_permanence = |mut f: UnpackFailure| {
        f.permanent |= pinned;
        f
    };
    let digest = images
        .resolve_digest(&ImageRef::Registry(reference.clone()))
        .await
        .map_err(|e| with_permanence(classify(&e)))?;
    let digest = digest.to_string();
    let current = store
        .current(name)
        .map_err(|e| UnpackFailure::new(reason::FAILED_TO_STORE, e.to_string()))?;
    if let Some(current) = current
        && current.digest == digest
    {
        return Ok(Outcome {
            stored: current,
            downloaded: false,
        });
    }

    let by_digest = ImageRef::Registry(reference.with_digest(&digest));
    let image = images
        .fetch(&by_digest)
        .await
        .map_err(|e| with_permanence(classify(&e)))?;
    let Some(configs) = image.labels().get(INDEX_CONFIGS).cloned() else {
        return Err(with_permanence(UnpackFailure::new(
            reason::MISSING_LABEL,
            format!("catalog image {spec_ref:?} is missing the required label {INDEX_CONFIGS:?}"),
        )));
    };
    let dest = fresh_unpack_dir(unpack_root, name, &digest)?;
    let options = ExtractOptions {
        subtree: Some(configs),
        ..ExtractOptions::default()
    };
    let result = images.unpack_image(&image, &dest, &options).await;
    if let Err(e) = result {
        let _ = std::fs::remove_dir_all(&dest);
        return Err(with_permanence(classify(&e)));
    }

    let source = StoredSource {
        reference: spec_ref.to_owned(),
        resolved_ref: resolved_ref(&reference, &digest),
    };
    let (store, name_owned, dest_owned) = (store.clone(), name.to_owned(), dest.clone());
    let stored = tokio::task::spawn_blocking(move || {
        store_validated(&store, &name_owned, &digest, &dest_owned, source)
    })
    .await
    .map_err(|e| UnpackFailure::new(reason::FAILED_TO_STORE, e.to_string()))?;
    let _ = std::fs::remove_dir_all(&dest);
    let stored = stored.map_err(with_permanence)?;
    Ok(Outcome {
        stored,
        downloaded: true,
    })
}

fn fresh_unpack_dir(root: &Path, name: &str, digest: &str) -> Result<PathBuf, UnpackFailure> {
    let parent = root.join(name);
    // Older digests of this catalog are never needed again: the store has its own copy.
    let _ = std::fs::remove_dir_all(&parent);
    std::fs::create_dir_all(&parent).map_err(|e| {
        UnpackFailure::new(
            reason::UNPACK_FAILED,
            format!("creating {}: {e}", parent.display()),
        )
    })?;
    Ok(parent.join(digest.replace(':', "-")))
}

/// Loads every meta in walk order, writing each to the store as it goes, then validates
/// the whole catalog; only a valid catalog is committed (an invalid one leaves the
/// previous content served).
fn store_validated(
    store: &Store,
    name: &str,
    digest: &str,
    dir: &Path,
    source: StoredSource,
) -> Result<StoredCatalog, UnpackFailure> {
    let store_err =
        |e: crate::store::StoreError| UnpackFailure::new(reason::FAILED_TO_STORE, e.to_string());
    let mut writer = store.begin(name, digest).map_err(store_err)?;
    writer.set_source(source);
    let mut cfg = DeclarativeConfig::default();
    let mut failure: Option<UnpackFailure> = None;
    let walked = fbc::walk_metas(dir, |meta: fbc::Meta| -> Result<(), fbc::LoadError> {
        if let Err(e) = writer.push(&meta.schema, &meta.package, &meta.name, meta.blob.get()) {
            failure.get_or_insert(store_err(e));
            return Ok(());
        }
        match fbc::decode_meta(meta) {
            Ok(Blob::Package(p)) => cfg.packages.push(p),
            Ok(Blob::Channel(c)) => cfg.channels.push(c),
            Ok(Blob::Bundle(b)) => cfg.bundles.push(b),
            Ok(Blob::Deprecation(d)) => cfg.deprecations.push(d),
            Ok(Blob::Other(m)) => cfg.others.push(m),
            Err(e) => {
                failure.get_or_insert(UnpackFailure::new(
                    reason::INVALID_CATALOG,
                    format!("invalid catalog: {e}"),
                ));
            }
        }
        Ok(())
    });
    if let Err(e) = walked {
        return Err(UnpackFailure::new(
            reason::INVALID_CATALOG,
            format!("invalid catalog: {e}"),
        ));
    }
    if let Some(f) = failure {
        return Err(f);
    }
    let model = fbc::convert_to_model(&cfg).map_err(|e| {
        UnpackFailure::new(reason::INVALID_CATALOG, format!("invalid catalog: {e}"))
    })?;
    fbc::validate_model(&model).map_err(|e| {
        UnpackFailure::new(reason::INVALID_CATALOG, format!("invalid catalog: {e}"))
    })?;
    writer.commit().map_err(store_err)
}

/// Maps an image error to a condition reason; the message is the error's own, which
/// names the registry and what to do.
pub(crate) fn classify(e: &ImageError) -> UnpackFailure {
    let reason = match e {
        ImageError::Unauthorized { .. } => reason::UNAUTHORIZED,
        ImageError::ManifestUnknown { .. } | ImageError::BlobUnknown { .. } => {
            reason::IMAGE_NOT_FOUND
        }
        ImageError::Unreachable { .. } | ImageError::TlsVerification { .. } => {
            reason::REGISTRY_UNREACHABLE
        }
        ImageError::InvalidReference { .. } => reason::INVALID_REFERENCE,
        _ => reason::UNPACK_FAILED,
    };
    UnpackFailure {
        reason,
        message: format!("source catalog content: {e}"),
        permanent: matches!(e, ImageError::InvalidReference { .. }),
    }
}
