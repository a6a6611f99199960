//! From an image reference to served content: resolve the digest, skip everything if that
//! digest is already stored, otherwise pull (in-process, no unpack pod), extract the
//! labelled directory safely, load and validate the FBC, and store it atomically.

use std::path::{Path, PathBuf};

use fbc::{Blob, DeclarativeConfig, LoadError};
use oci::{
    ExtractError, ExtractLimits, ExtractOptions, ImageError, ImageRef, ImageStore, RegistryRef,
};
use olm_labels::INDEX_CONFIGS;

use crate::store::{Store, StoreError, StoredCatalog, StoredSource};

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

/// Tar entries a catalog image may hold, all layers together, base image included. Real
/// catalogs are far below: 23 entries in the corpus's largest configs directory, 561 in the
/// 5,068-bundle benchmark catalog (one directory and file per package). Same as bundles.
pub(crate) const DEFAULT_MAX_ENTRIES: u64 = 100_000;

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
    max_entries: u64,
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
    let current = store.current(name).map_err(|e| store_failure(name, &e))?;
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
    let paths = ImagePaths::new(&dest, &configs);
    let options = ExtractOptions {
        subtree: Some(configs),
        limits: ExtractLimits {
            max_entries,
            ..ExtractLimits::default()
        },
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
    let (store, name_owned) = (store.clone(), name.to_owned());
    let stored = tokio::task::spawn_blocking(move || {
        store_validated(&store, &name_owned, &digest, &paths, source)
    })
    .await;
    // Whatever the outcome, the extracted files are no longer needed: the store has its
    // own copy, or the content was refused.
    let _ = std::fs::remove_dir_all(&dest);
    let stored = stored
        .map_err(|e| UnpackFailure::new(reason::FAILED_TO_STORE, e.to_string()))?
        .map_err(with_permanence)?;
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
        tracing::warn!("catalog {name}: creating {}: {e}", parent.display());
        UnpackFailure::new(
            reason::UNPACK_FAILED,
            format!("creating the unpack directory in catalogd's storage: {e}"),
        )
    })?;
    Ok(parent.join(digest.replace(':', "-")))
}

/// Where the unpacked configs directory is on disk and in the image. Conditions name files as
/// the image's author sees them (`/configs/foo/catalog.json`), never catalogd's storage.
struct ImagePaths {
    root: PathBuf,
    /// The configs directory of the image (its label), absolute and normalised.
    configs: PathBuf,
}

impl ImagePaths {
    fn new(root: &Path, configs_label: &str) -> Self {
        Self {
            root: root.to_path_buf(),
            configs: Path::new("/").join(configs_label).components().collect(),
        }
    }

    /// `path` (under the unpack root) as a path in the image.
    fn in_image(&self, path: &Path) -> PathBuf {
        match path.strip_prefix(&self.root) {
            Ok(rel) => self.configs.join(rel),
            // Every path the loader reports is under the root; keep only the name otherwise.
            Err(_) => self.configs.join(path.file_name().unwrap_or_default()),
        }
    }

    fn load_error(&self, mut e: LoadError) -> LoadError {
        match &mut e {
            LoadError::Io { path, .. }
            | LoadError::Syntax { path, .. }
            | LoadError::Document { path, .. }
            | LoadError::NotADirectory { path } => *path = self.in_image(path),
        }
        e
    }

    /// `file:line: ` of a meta, in the image, for a message about it.
    fn origin(&self, origin: Option<&fbc::Origin>) -> String {
        origin.map_or_else(String::new, |o| {
            format!("{}:{}: ", self.in_image(&o.path).display(), o.line)
        })
    }
}

/// A store failure for a condition: what failed and why, without catalogd's storage paths
/// (they go to the log).
fn store_failure(name: &str, e: &StoreError) -> UnpackFailure {
    tracing::warn!("catalog {name}: storing: {e}");
    let message = match e {
        StoreError::Io { action, source, .. } => {
            format!("storing the catalog in catalogd's storage: {action} failed: {source}")
        }
        StoreError::Index { source, .. } => {
            format!("storing the catalog in catalogd's storage: reading its index failed: {source}")
        }
        StoreError::InvalidName(_) | StoreError::InvalidDigest(_) => e.to_string(),
    };
    UnpackFailure::new(reason::FAILED_TO_STORE, message)
}

/// Loads every meta in walk order, writing each to the store as it goes, then validates
/// the whole catalog; only a valid catalog is committed (an invalid one leaves the
/// previous content served).
fn store_validated(
    store: &Store,
    name: &str,
    digest: &str,
    paths: &ImagePaths,
    source: StoredSource,
) -> Result<StoredCatalog, UnpackFailure> {
    let store_err = |e: StoreError| store_failure(name, &e);
    let mut writer = store.begin(name, digest).map_err(store_err)?;
    writer.set_source(source);
    let mut cfg = DeclarativeConfig::default();
    let mut failure: Option<UnpackFailure> = None;
    let walked = fbc::walk_metas(&paths.root, |meta: fbc::Meta| -> Result<(), LoadError> {
        if let Err(e) = writer.push(&meta.schema, &meta.package, &meta.name, meta.blob.get()) {
            failure.get_or_insert(store_err(e));
            return Ok(());
        }
        let at = paths.origin(meta.origin.as_ref());
        match fbc::decode_meta(meta) {
            Ok(Blob::Package(p)) => cfg.packages.push(p),
            Ok(Blob::Channel(c)) => cfg.channels.push(c),
            Ok(Blob::Bundle(b)) => cfg.bundles.push(b),
            Ok(Blob::Deprecation(d)) => cfg.deprecations.push(d),
            Ok(Blob::Other(m)) => cfg.others.push(m),
            Err(e) => {
                failure.get_or_insert(UnpackFailure::new(
                    reason::INVALID_CATALOG,
                    format!("invalid catalog: {at}{e}"),
                ));
            }
        }
        Ok(())
    });
    if let Err(e) = walked {
        return Err(UnpackFailure::new(
            reason::INVALID_CATALOG,
            format!("invalid catalog: {}", paths.load_error(e)),
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

/// A failure of catalogd's own disk while pulling or unpacking, for a condition: the
/// system error without the path (the log has it), which is catalogd's, not the image's.
pub(crate) fn storage_failure(e: &ImageError) -> Option<UnpackFailure> {
    let detail = match e {
        ImageError::Io { source, .. } | ImageError::Extract(ExtractError::Io { source, .. }) => {
            source.to_string()
        }
        ImageError::DestinationExists(_) => "the unpack directory already exists".into(),
        _ => return None,
    };
    tracing::warn!("unpacking into catalogd's storage: {e}");
    Some(UnpackFailure::new(
        reason::UNPACK_FAILED,
        format!("source catalog content: writing to catalogd's storage failed: {detail}"),
    ))
}

/// Maps an image error to a condition reason; the message is the error's own, which
/// names the registry and what to do.
pub(crate) fn classify(e: &ImageError) -> UnpackFailure {
    if let Some(failure) = storage_failure(e) {
        return failure;
    }
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
    // Over the entry limit: say which setting it is, for a legitimate image.
    let hint = match e {
        ImageError::Extract(ExtractError::TooManyEntries { .. }) => {
            "; catalogd refuses catalog images with more tar entries than --max-catalog-entries, counting every layer"
        }
        _ => "",
    };
    UnpackFailure {
        reason,
        message: format!("source catalog content: {e}{hint}"),
        permanent: matches!(e, ImageError::InvalidReference { .. }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

    /// Loads `files` as an image whose configs label is `label`, returning the failure.
    fn load_failure(label: &str, files: &[(&str, &str)]) -> (UnpackFailure, tempfile::TempDir) {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(tmp.path().join("catalogs")).unwrap();
        let root = tmp.path().join("unpack/test/sha256-0");
        for (path, text) in files {
            let path = root.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let source = StoredSource {
            reference: "example.com/c:v1".into(),
            resolved_ref: format!("example.com/c@{DIGEST}"),
        };
        let failure = store_validated(
            &store,
            "test",
            DIGEST,
            &ImagePaths::new(&root, label),
            source,
        )
        .unwrap_err();
        (failure, tmp)
    }

    #[test]
    fn load_errors_name_the_file_and_line_in_the_image() {
        for (label, file, text, want) in [
            (
                "/configs/",
                "foo/catalog.json",
                "{\"schema\":\"olm.package\",\"name\":\"foo\"}\n{\"schema\": ",
                "invalid catalog: /configs/foo/catalog.json:2:11: EOF while parsing a value",
            ),
            // A blob that does not decode; the line is where its document starts.
            (
                "configs",
                "foo/catalog.yaml",
                "schema: olm.package\nname: foo\n---\nschema: olm.bundle\nname: b\npackage: foo\nproperties: 7\n",
                "invalid catalog: /configs/foo/catalog.yaml:3: parse bundle: properties: expected an array, found a number",
            ),
        ] {
            let (failure, tmp) = load_failure(label, &[(file, text)]);
            assert_eq!(failure.reason, reason::INVALID_CATALOG);
            assert_eq!(failure.message, want);
            assert!(!failure.message.contains(&*tmp.path().to_string_lossy()));
        }
    }

    #[test]
    fn paths_map_under_the_labelled_directory() {
        let root = Path::new("/var/cache/catalogd-storage/unpack/c/sha256-1");
        for (label, want) in [
            ("/configs", "/configs/a/b.json"),
            ("configs/", "/configs/a/b.json"),
            ("/./srv//fbc/", "/srv/fbc/a/b.json"),
            ("/", "/a/b.json"),
        ] {
            let paths = ImagePaths::new(root, label);
            assert_eq!(paths.in_image(&root.join("a/b.json")), Path::new(want));
        }
        let paths = ImagePaths::new(root, "/configs");
        assert_eq!(paths.in_image(root), Path::new("/configs"));
        // Not under the root (never reported by the loader): no storage directory shown.
        assert_eq!(
            paths.in_image(Path::new("/var/cache/catalogd-storage/x.json")),
            Path::new("/configs/x.json")
        );
    }

    #[test]
    fn entry_limit_failures_name_the_flag() {
        let e = ImageError::Extract(ExtractError::TooManyEntries {
            layer: DIGEST.into(),
            limit: 20,
        });
        let failure = classify(&e);
        assert_eq!(failure.reason, reason::UNPACK_FAILED);
        assert_eq!(
            failure.message,
            format!(
                "source catalog content: layer {DIGEST}: more than 20 entries in the image (limit); catalogd refuses catalog images with more tar entries than --max-catalog-entries, counting every layer"
            )
        );
    }

    #[test]
    fn storage_failures_name_no_storage_path() {
        let io = || std::io::Error::from(std::io::ErrorKind::StorageFull);
        let image = ImageError::Io {
            context: "creating a temp dir in /var/cache/catalogd-storage/unpack/c".into(),
            source: io(),
        };
        let failure = classify(&image);
        assert_eq!(failure.reason, reason::UNPACK_FAILED);
        assert_eq!(
            failure.message,
            "source catalog content: writing to catalogd's storage failed: no storage space"
        );
        let extract = ImageError::Extract(ExtractError::Io {
            context: "creating /var/cache/catalogd-storage/unpack/c/.unpack-x/foo".into(),
            source: io(),
        });
        assert_eq!(classify(&extract).message, failure.message);

        let store = StoreError::Io {
            action: "writing",
            path: "/var/cache/catalogd-storage/catalogs/c/sha256-1/all.json".into(),
            source: io(),
        };
        let failure = store_failure("c", &store);
        assert_eq!(failure.reason, reason::FAILED_TO_STORE);
        assert_eq!(
            failure.message,
            "storing the catalog in catalogd's storage: writing failed: no storage space"
        );
    }
}
