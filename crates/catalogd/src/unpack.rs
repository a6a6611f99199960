//! From an image reference to served content: resolve the digest, skip everything if that
//! digest is already stored or already failed (a remembered failure, see [`crate::plan`]),
//! otherwise pull (in-process, no unpack pod), extract the labelled directory safely
//! (binary files refused at their first bytes), load and validate the FBC, and store it
//! atomically. Failures say whether the image's content determines them.

use std::path::{Path, PathBuf};

use fbc::{Blob, DeclarativeConfig, LoadError};
use oci::{
    ExtractError, ExtractLimits, ExtractOptions, ImageError, ImageRef, ImageStore, RegistryRef,
};
use olm_api::catalog as api;
use olm_labels::INDEX_CONFIGS;

use crate::metrics::Metrics;
use crate::plan::{RETRY_ANNOTATION, Remembered};
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

    /// The constant for a reason read back from disk, if it is one of ours.
    pub(crate) fn known(reason: &str) -> Option<&'static str> {
        [
            IMAGE_NOT_FOUND,
            UNAUTHORIZED,
            REGISTRY_UNREACHABLE,
            MISSING_LABEL,
            INVALID_CATALOG,
            INVALID_REFERENCE,
            PULL_SECRET_NOT_FOUND,
            UNPACK_FAILED,
            FAILED_TO_STORE,
        ]
        .into_iter()
        .find(|r| *r == reason)
    }
}

/// Why an unpack failed, in status-condition terms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct UnpackFailure {
    pub reason: &'static str,
    pub message: String,
    /// Retrying cannot help: an invalid reference, or any failure of a digest-pinned image.
    pub permanent: bool,
    /// The image digest whose content this failure follows from (a refusal of what the
    /// image holds, not of how it was fetched), so retrying that digest cannot help.
    /// `None` for failures that may pass on their own: network, registry, credentials,
    /// catalogd's own disk.
    pub(crate) digest: Option<String>,
}

impl UnpackFailure {
    pub fn new(reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
            permanent: false,
            digest: None,
        }
    }

    /// Any failure of a digest-pinned reference is permanent: retrying cannot change what
    /// the digest names (catalogd.md §3, kept).
    fn pinned(mut self, pinned: bool) -> Self {
        self.permanent |= pinned;
        self
    }

    /// This failure, as one the content of image `digest` determines; the message says
    /// how to have it tried again.
    pub(crate) fn determined_by(mut self, digest: &str) -> Self {
        self.message = format!(
            "{} (image {digest}; not tried again until the image digest or the Catalog's spec changes, or the annotation {RETRY_ANNOTATION} is set to a new value)",
            self.message
        );
        self.digest = Some(digest.to_owned());
        self
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
            permanent: true,
            ..UnpackFailure::new(
                reason::INVALID_REFERENCE,
                format!(
                    "error parsing image reference {reference:?}: only registry references are supported"
                ),
            )
        }),
        Err(e) => Err(UnpackFailure {
            permanent: true,
            ..UnpackFailure::new(
                reason::INVALID_REFERENCE,
                format!("error parsing image reference: {e}"),
            )
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

/// Where and under which limits catalog images are unpacked, and where unpacks are counted.
pub(crate) struct Unpacker<'a> {
    pub(crate) images: &'a ImageStore,
    pub(crate) store: &'a Store,
    pub(crate) unpack_root: &'a Path,
    /// Tar entries one image may hold (`--max-catalog-entries`).
    pub(crate) max_entries: u64,
    pub(crate) metrics: &'a Metrics,
}

impl Unpacker<'_> {
    /// Unpacks `spec_ref` for catalog `name`, unless its digest is already stored or is the
    /// one `remembered` failed for (that failure is returned again, nothing downloaded).
    pub(crate) async fn unpack(
        &self,
        name: &str,
        spec_ref: &str,
        remembered: Option<&Remembered>,
    ) -> Result<Outcome, UnpackFailure> {
        let reference = parse_reference(spec_ref)?;
        let pinned = reference.digest().is_some();
        let digest = self
            .images
            .resolve_digest(&ImageRef::Registry(reference.clone()))
            .await
            .map_err(|e| classify(&e))
            .map_err(|f| f.pinned(pinned))?
            .to_string();
        let current = self
            .store
            .current(name)
            .map_err(|e| store_failure(name, &e))?;
        if let Some(current) = current
            && current.digest == digest
        {
            return Ok(Outcome {
                stored: current,
                downloaded: false,
            });
        }
        if let Some(failure) = remembered
            .map(|r| &r.failure)
            .filter(|f| f.digest.as_deref() == Some(digest.as_str()))
        {
            tracing::info!("catalog {name}: {digest} failed before; not unpacking it again");
            return Err(failure.clone().pinned(pinned));
        }
        let source = StoredSource {
            reference: spec_ref.to_owned(),
            resolved_ref: resolved_ref(&reference, &digest),
        };
        let by_digest = reference.with_digest(&digest);
        let stored = self
            .download(name, by_digest, &digest, source)
            .await
            .map_err(|f| f.pinned(pinned));
        self.metrics.record_unpack(
            stored
                .as_ref()
                .map_or_else(|f| f.reason, |_| api::REASON_UNPACK_SUCCESSFUL),
        );
        Ok(Outcome {
            stored: stored?,
            downloaded: true,
        })
    }

    /// Pulls image `by_digest`, extracts its configs directory, and stores it once it
    /// proves a valid catalog.
    async fn download(
        &self,
        name: &str,
        by_digest: RegistryRef,
        digest: &str,
        source: StoredSource,
    ) -> Result<StoredCatalog, UnpackFailure> {
        // The image's own content can be at fault from here on.
        let content_failure = |e: &ImageError| {
            let failure = classify(e);
            if is_content_error(e) {
                failure.determined_by(digest)
            } else {
                failure
            }
        };
        let image = self
            .images
            .fetch(&ImageRef::Registry(by_digest))
            .await
            .map_err(|e| content_failure(&e))?;
        let Some(configs) = image.labels().get(INDEX_CONFIGS).cloned() else {
            return Err(UnpackFailure::new(
                reason::MISSING_LABEL,
                format!(
                    "catalog image {:?} is missing the required label {INDEX_CONFIGS:?}",
                    source.reference
                ),
            )
            .determined_by(digest));
        };
        let dest = fresh_unpack_dir(self.unpack_root, name, digest)?;
        let paths = ImagePaths::new(&dest, &configs);
        let options = ExtractOptions {
            subtree: Some(configs),
            limits: ExtractLimits {
                max_entries: self.max_entries,
                ..ExtractLimits::default()
            },
            // The loader parses every file of the configs directory as JSON or YAML: binary
            // content fails at its first bytes, before it costs disk.
            require_text: true,
            ..ExtractOptions::default()
        };
        if let Err(e) = self.images.unpack_image(&image, &dest, &options).await {
            let _ = std::fs::remove_dir_all(&dest);
            return Err(content_failure(&e));
        }
        let (store, name_owned, digest_owned) =
            (self.store.clone(), name.to_owned(), digest.to_owned());
        let stored = tokio::task::spawn_blocking(move || {
            store_validated(&store, &name_owned, &digest_owned, &paths, source)
        })
        .await;
        // Whatever the outcome, the extracted files are no longer needed: the store has its
        // own copy, or the content was refused.
        let _ = std::fs::remove_dir_all(&dest);
        stored
            .map_err(|e| UnpackFailure::new(reason::FAILED_TO_STORE, e.to_string()))?
            .map_err(|f| {
                if f.reason == reason::INVALID_CATALOG {
                    f.determined_by(digest)
                } else {
                    f
                }
            })
    }
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
        ImageError::Unreachable { .. }
        | ImageError::TlsVerification { .. }
        | ImageError::PlainHttp { .. } => reason::REGISTRY_UNREACHABLE,
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
        permanent: matches!(e, ImageError::InvalidReference { .. }),
        ..UnpackFailure::new(reason, format!("source catalog content: {e}{hint}"))
    }
}

/// Whether `e`, met while fetching or extracting an image by digest, is a fault of that
/// image's content (the same bytes fail the same way every time) rather than of the
/// network, the registry, credentials or catalogd's disk. Blob digests are verified as
/// they download, so a digest mismatch is a transfer fault, not the image's.
pub(crate) fn is_content_error(e: &ImageError) -> bool {
    match e {
        ImageError::Extract(ExtractError::Io { .. }) => false,
        ImageError::Extract(_)
        | ImageError::DiffIdMismatch { .. }
        | ImageError::DiffIdCount { .. }
        | ImageError::PlatformNotFound { .. }
        | ImageError::UnsupportedMediaType { .. }
        | ImageError::InvalidContent { .. } => true,
        _ => false,
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

    #[test]
    fn content_errors_are_told_from_transient_ones() {
        let extract = |e| ImageError::Extract(e);
        let layer = || DIGEST.to_owned();
        for e in [
            extract(ExtractError::NotText {
                layer: layer(),
                entry: "configs/a.json".into(),
                detail: "NUL byte at offset 0".into(),
            }),
            extract(ExtractError::TooManyEntries {
                layer: layer(),
                limit: 1,
            }),
            extract(ExtractError::Corrupt {
                layer: layer(),
                detail: "bad header".into(),
            }),
            ImageError::InvalidContent {
                reference: "r".into(),
                what: "config".into(),
                detail: "too big".into(),
            },
        ] {
            assert!(is_content_error(&e), "{e}");
        }
        for e in [
            extract(ExtractError::Io {
                context: "writing".into(),
                source: std::io::Error::from(std::io::ErrorKind::StorageFull),
            }),
            ImageError::Unreachable {
                registry: "r".into(),
                detail: "refused".into(),
            },
            ImageError::Unauthorized {
                registry: "r".into(),
                reference: "r/c".into(),
                hint: String::new(),
            },
            ImageError::BlobUnknown {
                reference: "r/c".into(),
                digest: layer(),
            },
            ImageError::DigestMismatch {
                what: "blob".into(),
                expected: layer(),
                actual: layer(),
            },
        ] {
            assert!(!is_content_error(&e), "{e}");
        }
    }
}
