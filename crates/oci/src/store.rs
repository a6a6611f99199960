//! [`ImageStore`]: every image operation, against a registry or an `oci:` layout alike,
//! backed by the content-addressed [`BlobCache`].

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol};
use oci_client::errors::OciDistributionError;
use oci_client::secrets::RegistryAuth;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::cache::BlobCache;
use crate::credentials::{Credential, Credentials};
use crate::digest::{Hasher, Sha256Digest};
use crate::error::{ImageError, Operation, classify, error_chain};
use crate::extract::{
    ExtractError, ExtractLimits, ExtractOptions, ExtractStats, LayerFile, extract_layers,
    read_layers, verify_layer,
};
use crate::layout::OciLayout;
use crate::manifest::{
    ACCEPTED_MANIFESTS, Descriptor, ImageManifest, ManifestDocument, Platform, layer_compression,
};
use crate::reference::{ImageRef, RegistryRef};

/// Manifests and configs are read into memory; anything claiming more is refused.
const MAX_CONFIG_BYTES: u64 = 16 << 20;
const PARALLEL_BLOBS: usize = 4;
const UPLOAD_CHUNK: usize = 1 << 20;
const USER_AGENT: &str = concat!("olm-rs-oci/", env!("CARGO_PKG_VERSION"));

/// How to reach registries. Mirrors opm's `--use-http`, `--skip-tls-verify` and `--ca-file`.
#[derive(Clone, Debug, Default)]
pub struct RegistryOptions {
    /// Plain HTTP for every registry.
    pub use_http: bool,
    /// Accept any TLS certificate (test registries only).
    pub skip_tls_verify: bool,
    /// Extra trusted CA certificates (PEM, one or more), on top of the system roots.
    pub ca_pem: Option<String>,
    pub credentials: Credentials,
    /// The platform picked from an image index (default linux/amd64).
    pub platform: Platform,
}

/// An image's manifest and config, plus where its blobs can be fetched from.
#[derive(Clone, Debug)]
pub struct Image {
    /// Where blobs missing from the cache come from (`None`: everything is in the cache).
    pub source: Option<ImageRef>,
    /// The image manifest's digest.
    pub digest: Sha256Digest,
    /// The index digest when the reference named a multi-platform index.
    pub index_digest: Option<Sha256Digest>,
    pub media_type: String,
    pub manifest: ImageManifest,
    pub manifest_bytes: Vec<u8>,
    pub config: serde_json::Value,
    pub config_bytes: Vec<u8>,
}

impl Image {
    /// The config's `config.Labels`.
    pub fn labels(&self) -> BTreeMap<String, String> {
        self.config
            .get("config")
            .and_then(|c| c.get("Labels"))
            .and_then(|l| l.as_object())
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// How errors name the image: the reference it came from, else its digest.
    fn shown(&self) -> String {
        self.source
            .as_ref()
            .map_or_else(|| self.digest.to_string(), ImageRef::to_string)
    }

    /// The config's `rootfs.diff_ids`, one per manifest layer, bottom first. A config that
    /// lists another number, or something other than `sha256:` digests, is refused.
    pub fn diff_ids(&self) -> Result<Vec<Sha256Digest>, ImageError> {
        let invalid = |detail: String| ImageError::InvalidContent {
            reference: self.shown(),
            what: "image config".into(),
            detail,
        };
        let ids = match self.config.get("rootfs").and_then(|r| r.get("diff_ids")) {
            None | Some(serde_json::Value::Null) => &Vec::new(),
            Some(serde_json::Value::Array(ids)) => ids,
            Some(_) => return Err(invalid("rootfs.diff_ids is not a list".into())),
        };
        if ids.len() != self.manifest.layers.len() {
            return Err(ImageError::DiffIdCount {
                image: self.shown(),
                diff_ids: ids.len(),
                layers: self.manifest.layers.len(),
            });
        }
        ids.iter()
            .enumerate()
            .map(|(i, id)| {
                id.as_str()
                    .ok_or_else(|| invalid(format!("rootfs.diff_ids[{i}] is not a string")))
                    .and_then(|id| {
                        Sha256Digest::parse(id)
                            .map_err(|e| invalid(format!("rootfs.diff_ids[{i}]: {e}")))
                    })
            })
            .collect()
    }

    /// A layer's diff_id mismatch, found while reading it, as an error naming the image and
    /// the layer's place in it.
    fn diff_id_mismatch(&self, layer: String, expected: String, actual: String) -> ImageError {
        let index = self
            .config
            .pointer("/rootfs/diff_ids")
            .and_then(serde_json::Value::as_array)
            .and_then(|ids| {
                self.manifest
                    .layers
                    .iter()
                    .zip(ids)
                    .position(|(d, id)| d.digest == layer && id.as_str() == Some(&expected))
            })
            .unwrap_or_default();
        ImageError::DiffIdMismatch {
            image: self.shown(),
            index,
            layer,
            expected,
            actual,
        }
    }

    /// Names the image in a diff_id mismatch of one of its layers.
    fn in_image(&self, e: ImageError) -> ImageError {
        match e {
            ImageError::Extract(ExtractError::DiffIdMismatch {
                layer,
                expected,
                actual,
            }) => self.diff_id_mismatch(layer, expected, actual),
            other => other,
        }
    }

    pub fn platform(&self) -> Option<Platform> {
        Some(Platform {
            os: self.config.get("os")?.as_str()?.to_owned(),
            architecture: self.config.get("architecture")?.as_str()?.to_owned(),
            variant: self
                .config
                .get("variant")
                .and_then(|v| v.as_str())
                .map(str::to_owned),
            os_version: None,
        })
    }
}

/// What a push did. `uploaded == 0` on a repeat push of the same image.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PushReport {
    pub digest: String,
    pub uploaded: usize,
    pub skipped: usize,
    pub mounted: usize,
}

#[derive(Clone, Debug)]
pub struct Unpacked {
    pub digest: Sha256Digest,
    pub labels: BTreeMap<String, String>,
    pub stats: ExtractStats,
}

/// A registry client and the auth it must be used with. Clients cache tokens per
/// registry, so one is never shared between credentials.
struct Access {
    client: oci_client::Client,
    auth: RegistryAuth,
    authenticated: bool,
    registry: String,
}

#[derive(Clone)]
pub struct ImageStore {
    cache: BlobCache,
    options: Arc<RegistryOptions>,
    clients: Arc<Mutex<HashMap<(String, String), oci_client::Client>>>,
}

impl ImageStore {
    pub fn new(
        cache_dir: impl Into<PathBuf>,
        options: RegistryOptions,
    ) -> Result<Self, ImageError> {
        if let Some(pem) = &options.ca_pem
            && split_pem(pem).is_empty()
        {
            return Err(ImageError::Credentials(
                "the CA bundle holds no PEM certificate".into(),
            ));
        }
        Ok(ImageStore {
            cache: BlobCache::open(cache_dir)?,
            options: Arc::new(options),
            clients: Arc::default(),
        })
    }

    /// The same cache with other registry options (another pull secret, say). Clients are
    /// not shared with `self`.
    pub fn with_options(&self, options: RegistryOptions) -> Result<Self, ImageError> {
        let mut store = ImageStore::new(self.cache.root(), options)?;
        store.cache = self.cache.clone();
        Ok(store)
    }

    pub fn cache(&self) -> &BlobCache {
        &self.cache
    }

    pub fn options(&self) -> &RegistryOptions {
        &self.options
    }

    fn access(&self, r: &RegistryRef) -> Result<Access, ImageError> {
        let registry = r.resolved_registry().to_owned();
        let credential = self
            .options
            .credentials
            .lookup(r.registry(), r.repository());
        let (auth, fingerprint) = match credential {
            None => (RegistryAuth::Anonymous, String::new()),
            Some(c @ Credential::Basic { username, password }) => (
                RegistryAuth::Basic(username.clone(), password.clone()),
                c.fingerprint(),
            ),
            Some(c @ Credential::RegistryToken(t)) => {
                (RegistryAuth::Bearer(t.clone()), c.fingerprint())
            }
            Some(Credential::IdentityToken(_)) => {
                return Err(ImageError::Credentials(format!(
                    "the credential for {} is an identitytoken (OAuth2 refresh token), which is not supported yet; use a username/password or registrytoken entry",
                    r.registry()
                )));
            }
        };
        let authenticated = !fingerprint.is_empty();
        let key = (registry.clone(), fingerprint);
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        let client = match clients.get(&key) {
            Some(c) => c.clone(),
            None => {
                let c = self.new_client()?;
                clients.insert(key, c.clone());
                c
            }
        };
        Ok(Access {
            client,
            auth,
            authenticated,
            registry,
        })
    }

    fn new_client(&self) -> Result<oci_client::Client, ImageError> {
        let o = &self.options;
        let config = ClientConfig {
            protocol: if o.use_http {
                ClientProtocol::Http
            } else {
                ClientProtocol::Https
            },
            accept_invalid_certificates: o.skip_tls_verify,
            // One streamed PUT per blob: no whole layer in memory, no chunk round trips.
            use_monolithic_push: true,
            extra_root_certificates: o
                .ca_pem
                .as_deref()
                .map(split_pem)
                .unwrap_or_default()
                .into_iter()
                .map(|pem| Certificate {
                    encoding: CertificateEncoding::Pem,
                    data: pem.into_bytes(),
                })
                .collect(),
            // We select platforms ourselves (see `fetch`).
            platform_resolver: None,
            connect_timeout: Some(Duration::from_secs(30)),
            read_timeout: Some(Duration::from_secs(300)),
            user_agent: USER_AGENT,
            ..Default::default()
        };
        oci_client::Client::try_from(config).map_err(|e| {
            ImageError::Credentials(format!("building the registry client: {}", error_chain(&e)))
        })
    }

    fn map_err(
        access: &Access,
        reference: &str,
        op: Operation,
    ) -> impl FnOnce(OciDistributionError) -> ImageError {
        let registry = access.registry.clone();
        let reference = reference.to_owned();
        let authenticated = access.authenticated;
        move |e| classify(e, &registry, &reference, op, authenticated)
    }

    /// The digest `reference` points at now (for a multi-platform image, the index
    /// digest): a HEAD request for registries, `index.json` for layouts. Cheap enough to poll.
    pub async fn resolve_digest(&self, reference: &ImageRef) -> Result<Sha256Digest, ImageError> {
        match reference {
            ImageRef::Registry(r) => {
                if let Some(d) = r.digest() {
                    return Sha256Digest::parse(d);
                }
                let access = self.access(r)?;
                let digest = access
                    .client
                    .fetch_manifest_digest(r.as_oci(), &access.auth)
                    .await
                    .map_err(Self::map_err(&access, &r.to_string(), Operation::Manifest))?;
                Sha256Digest::parse(&digest)
            }
            ImageRef::Layout(l) => {
                let dir = l.dir.clone();
                let name = l.name.clone();
                let d = blocking(move || OciLayout::open(&dir)?.find(name.as_deref())).await?;
                Sha256Digest::parse(&d.digest)
            }
        }
    }

    /// Manifest and config (no layers), with the platform chosen from an index.
    pub async fn fetch(&self, reference: &ImageRef) -> Result<Image, ImageError> {
        let shown = reference.to_string();
        let (bytes, digest) = self.manifest_bytes(reference, None).await?;
        let (bytes, digest, index_digest) = match ManifestDocument::parse(&bytes, &shown)? {
            ManifestDocument::Image(_) => (bytes, digest, None),
            ManifestDocument::Index(index) => {
                let entry = index.select(&self.options.platform, &shown)?;
                let child = Sha256Digest::parse(&entry.digest)?;
                let (child_bytes, child_digest) =
                    self.manifest_bytes(reference, Some(&child)).await?;
                (child_bytes, child_digest, Some(digest))
            }
        };
        let manifest = match ManifestDocument::parse(&bytes, &shown)? {
            ManifestDocument::Image(m) => m,
            ManifestDocument::Index(_) => {
                return Err(ImageError::InvalidContent {
                    reference: shown,
                    what: "image index".into(),
                    detail: "an index entry points at another index".into(),
                });
            }
        };
        let media_type = manifest
            .media_type
            .clone()
            .unwrap_or_else(|| crate::manifest::OCI_MANIFEST.to_owned());
        if manifest.config.size > MAX_CONFIG_BYTES {
            return Err(ImageError::InvalidContent {
                reference: shown,
                what: "config".into(),
                detail: format!(
                    "{} bytes is over the {MAX_CONFIG_BYTES}-byte limit",
                    manifest.config.size
                ),
            });
        }
        let config_path = self.ensure_blob(Some(reference), &manifest.config).await?;
        let config_bytes = tokio::fs::read(&config_path)
            .await
            .map_err(|e| ImageError::io(format!("reading {}", config_path.display()), e))?;
        let config: serde_json::Value =
            serde_json::from_slice(&config_bytes).map_err(|e| ImageError::InvalidContent {
                reference: shown.clone(),
                what: "image config".into(),
                detail: e.to_string(),
            })?;
        Ok(Image {
            source: Some(reference.clone()),
            digest,
            index_digest,
            media_type,
            manifest,
            manifest_bytes: bytes,
            config,
            config_bytes,
        })
    }

    /// A manifest's bytes and digest: `child` (by digest) or what `reference` names.
    /// Manifests asked for by digest come from the cache when present.
    async fn manifest_bytes(
        &self,
        reference: &ImageRef,
        child: Option<&Sha256Digest>,
    ) -> Result<(Vec<u8>, Sha256Digest), ImageError> {
        match reference {
            ImageRef::Registry(r) => {
                let r = match child {
                    Some(d) => r.with_digest(d.as_str()),
                    None => r.clone(),
                };
                let pinned = r.digest().map(Sha256Digest::parse).transpose()?;
                if let Some(d) = &pinned
                    && self.cache.contains(d)
                {
                    return Ok((self.cache.read(d)?, d.clone()));
                }
                let access = self.access(&r)?;
                let (bytes, _) = access
                    .client
                    .pull_manifest_raw(r.as_oci(), &access.auth, ACCEPTED_MANIFESTS)
                    .await
                    .map_err(Self::map_err(&access, &r.to_string(), Operation::Manifest))?;
                let actual = Sha256Digest::of(&bytes);
                if let Some(d) = pinned
                    && d != actual
                {
                    return Err(ImageError::DigestMismatch {
                        what: format!("manifest {r}"),
                        expected: d.to_string(),
                        actual: actual.to_string(),
                    });
                }
                let cache = self.cache.clone();
                let data = bytes.to_vec();
                blocking(move || cache.insert_bytes(&data)).await?;
                Ok((bytes.to_vec(), actual))
            }
            ImageRef::Layout(l) => {
                let dir = l.dir.clone();
                let name = l.name.clone();
                let child = child.cloned();
                blocking(move || {
                    let layout = OciLayout::open(&dir)?;
                    let digest = match child {
                        Some(d) => d,
                        None => Sha256Digest::parse(&layout.find(name.as_deref())?.digest)?,
                    };
                    Ok((layout.read_blob(&digest)?, digest))
                })
                .await
            }
        }
    }

    /// Manifest, config and every layer in the cache.
    pub async fn pull(&self, reference: &ImageRef) -> Result<Image, ImageError> {
        let image = self.fetch(reference).await?;
        self.ensure_layers(&image).await?;
        Ok(image)
    }

    async fn ensure_layers(&self, image: &Image) -> Result<Vec<PathBuf>, ImageError> {
        let source = image.source.as_ref();
        // Futures collected first: a `.map(|d| …)` closure over borrowed descriptors makes
        // the whole future fail the `Send` check in callers such as kube's Controller.
        let fetches: Vec<_> = image
            .manifest
            .layers
            .iter()
            .map(|d| self.ensure_blob(source, d))
            .collect();
        futures::stream::iter(fetches)
            .buffered(PARALLEL_BLOBS)
            .try_collect()
            .await
    }

    /// The cached path of a blob, fetching it from `source` if needed.
    pub async fn ensure_blob(
        &self,
        source: Option<&ImageRef>,
        descriptor: &Descriptor,
    ) -> Result<PathBuf, ImageError> {
        let digest = Sha256Digest::parse(&descriptor.digest)?;
        if self.cache.contains(&digest) {
            return Ok(self.cache.path(&digest));
        }
        match source {
            None => Err(ImageError::Build(format!(
                "blob {digest} is neither in the cache nor available from a source image"
            ))),
            Some(ImageRef::Registry(r)) => self.download_blob(r, &digest, descriptor.size).await,
            Some(ImageRef::Layout(l)) => {
                let dir = l.dir.clone();
                let cache = self.cache.clone();
                blocking(move || {
                    let layout = OciLayout::open(&dir)?;
                    let src = layout.blob_path(&digest);
                    if !layout.has_blob(&digest) {
                        return Err(ImageError::Layout {
                            dir,
                            detail: format!("blob {digest} is missing"),
                        });
                    }
                    cache.insert_file(&src, &digest)
                })
                .await
            }
        }
    }

    async fn download_blob(
        &self,
        r: &RegistryRef,
        digest: &Sha256Digest,
        size: u64,
    ) -> Result<PathBuf, ImageError> {
        let access = self.access(r)?;
        let shown = r.to_string();
        let tmp = self.cache.temp_file()?;
        let file = tmp
            .reopen()
            .map_err(|e| ImageError::io("opening a cache temp file", e))?;
        let mut file = tokio::fs::File::from_std(file);
        let mut stream = access
            .client
            .pull_blob_stream(r.as_oci(), digest.as_str())
            .await
            .map_err(Self::map_err(&access, &shown, Operation::Blob))?;
        let mut hasher = Hasher::default();
        let mut received = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| {
                blob_stream_error(e, &access.registry, &shown, digest, received, size)
            })?;
            received += chunk.len() as u64;
            if received > size {
                return Err(ImageError::DigestMismatch {
                    what: format!(
                        "blob {digest} of {shown} (more bytes than its descriptor's {size})"
                    ),
                    expected: digest.to_string(),
                    actual: "an oversized blob".into(),
                });
            }
            hasher.update(&chunk);
            file.write_all(&chunk)
                .await
                .map_err(|e| ImageError::io(format!("writing blob {digest} to the cache"), e))?;
        }
        file.flush()
            .await
            .map_err(|e| ImageError::io(format!("writing blob {digest} to the cache"), e))?;
        drop(file);
        let (actual, len) = hasher.finish();
        if len != size && actual == *digest {
            tracing::warn!(%digest, len, size, "blob size differs from its descriptor");
        }
        let cache = self.cache.clone();
        let expected = digest.clone();
        let what = format!("blob {digest} of {shown}");
        blocking(move || cache.commit(tmp, &expected, &actual, &what)).await
    }

    /// Labels from the image config.
    pub async fn labels(
        &self,
        reference: &ImageRef,
    ) -> Result<BTreeMap<String, String>, ImageError> {
        Ok(self.fetch(reference).await?.labels())
    }

    /// Unpacks the whole image (layers flattened, whiteouts applied) into `dest`, which
    /// must not exist yet. Extraction happens in a sibling temp dir renamed into place, so
    /// a failure leaves nothing behind.
    pub async fn unpack(
        &self,
        reference: &ImageRef,
        dest: &Path,
        options: &ExtractOptions,
    ) -> Result<Unpacked, ImageError> {
        let image = self.fetch(reference).await?;
        self.unpack_image(&image, dest, options).await
    }

    /// Unpacks only the directory a label names (e.g. [`olm_labels::INDEX_CONFIGS`] → `/configs`).
    pub async fn unpack_labelled_dir(
        &self,
        reference: &ImageRef,
        label: &str,
        dest: &Path,
        options: &ExtractOptions,
    ) -> Result<Unpacked, ImageError> {
        let image = self.fetch(reference).await?;
        let dir = image
            .labels()
            .get(label)
            .cloned()
            .ok_or_else(|| ImageError::InvalidContent {
                reference: reference.to_string(),
                what: "labels".into(),
                detail: format!("the image has no {label} label"),
            })?;
        let options = ExtractOptions {
            subtree: Some(dir),
            ..options.clone()
        };
        self.unpack_image(&image, dest, &options).await
    }

    pub async fn unpack_image(
        &self,
        image: &Image,
        dest: &Path,
        options: &ExtractOptions,
    ) -> Result<Unpacked, ImageError> {
        if tokio::fs::symlink_metadata(dest).await.is_ok() {
            return Err(ImageError::DestinationExists(dest.to_path_buf()));
        }
        let layers = self.layer_files(image).await?;
        let dest = dest.to_path_buf();
        let options = options.clone();
        let cache = self.cache.clone();
        let stats = blocking(move || {
            let parent = match dest.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            };
            std::fs::create_dir_all(&parent)
                .map_err(|e| ImageError::io(format!("creating {}", parent.display()), e))?;
            let tmp = tempfile::Builder::new()
                .prefix(".unpack-")
                .tempdir_in(&parent)
                .map_err(|e| {
                    ImageError::io(format!("creating a temp dir in {}", parent.display()), e)
                })?;
            let stats = extract_layers(&layers, tmp.path(), &options)?;
            record_diff_ids(&cache, &layers)?;
            let kept = tmp.keep();
            std::fs::set_permissions(&kept, std::os::unix::fs::PermissionsExt::from_mode(0o755))
                .and_then(|_| std::fs::rename(&kept, &dest))
                .map_err(|e| {
                    let _ = std::fs::remove_dir_all(&kept);
                    ImageError::io(
                        format!("moving the unpacked image to {}", dest.display()),
                        e,
                    )
                })?;
            Ok(stats)
        })
        .await
        .map_err(|e| image.in_image(e))?;
        Ok(Unpacked {
            digest: image.digest.clone(),
            labels: image.labels(),
            stats,
        })
    }

    /// Applies the image's layers (fetched if missing) onto `dest`, an existing empty
    /// directory, with the same safety rules and limits as [`Self::unpack_image`]. Nothing is
    /// written beside `dest`; on failure `dest` may hold part of the image and is the
    /// caller's to discard.
    pub async fn extract_image_into(
        &self,
        image: &Image,
        dest: &Path,
        options: &ExtractOptions,
    ) -> Result<ExtractStats, ImageError> {
        let layers = self.layer_files(image).await?;
        let dest = dest.to_path_buf();
        let options = options.clone();
        let cache = self.cache.clone();
        blocking(move || {
            let stats = extract_layers(&layers, &dest, &options)?;
            record_diff_ids(&cache, &layers)?;
            Ok(stats)
        })
        .await
        .map_err(|e| image.in_image(e))
    }

    /// The regular files under `dirs` (e.g. `manifests`) of an image, read into memory with
    /// the same safety rules and limits as [`Self::unpack_image`]; keyed by image path
    /// (`manifests/csv.yaml`). For small images such as bundles: nothing touches the disk
    /// besides the blob cache.
    pub async fn read_image_files(
        &self,
        image: &Image,
        dirs: &[&str],
        limits: &ExtractLimits,
    ) -> Result<BTreeMap<String, Vec<u8>>, ImageError> {
        let layers = self.layer_files(image).await?;
        let dirs: Vec<String> = dirs.iter().map(|d| (*d).to_owned()).collect();
        let limits = limits.clone();
        let cache = self.cache.clone();
        blocking(move || {
            let dirs: Vec<&str> = dirs.iter().map(String::as_str).collect();
            let files = read_layers(&layers, &dirs, &limits)?;
            record_diff_ids(&cache, &layers)?;
            Ok(files)
        })
        .await
        .map_err(|e| image.in_image(e))
    }

    /// Checks that every layer of `image` decompresses to its config's `rootfs.diff_ids`
    /// entry, so an image built on it carries no wrong one. A layer already read to its end
    /// (extracted, read into memory, or built here) is known from the cache's record; any
    /// other is read now, fetched first if the cache lacks it, under the default
    /// total-size limit.
    pub async fn verify_diff_ids(&self, image: &Image) -> Result<(), ImageError> {
        let diff_ids = image.diff_ids()?;
        let shown = image.shown();
        for (descriptor, expected) in image.manifest.layers.iter().zip(diff_ids) {
            let digest = Sha256Digest::parse(&descriptor.digest)?;
            let actual = match self.cache.diff_id(&digest) {
                Some(known) => known,
                None => {
                    let layer = LayerFile {
                        path: self.ensure_blob(image.source.as_ref(), descriptor).await?,
                        compression: layer_compression(&descriptor.media_type, &shown)?,
                        name: descriptor.digest.clone(),
                        diff_id: None,
                    };
                    let cache = self.cache.clone();
                    blocking(move || {
                        let actual =
                            Sha256Digest::parse(&verify_layer(&layer, &ExtractLimits::default())?)?;
                        cache.record_diff_id(&digest, &actual)?;
                        Ok(actual)
                    })
                    .await?
                }
            };
            if actual != expected {
                return Err(image.diff_id_mismatch(
                    descriptor.digest.clone(),
                    expected.to_string(),
                    actual.to_string(),
                ));
            }
        }
        Ok(())
    }

    /// The image's layers in the blob cache (fetched if missing), bottom first.
    async fn layer_files(&self, image: &Image) -> Result<Vec<LayerFile>, ImageError> {
        let diff_ids = image.diff_ids()?;
        let paths = self.ensure_layers(image).await?;
        let shown = image.shown();
        image
            .manifest
            .layers
            .iter()
            .zip(paths)
            .zip(diff_ids)
            .map(|((d, path), diff_id)| {
                Ok(LayerFile {
                    path,
                    compression: layer_compression(&d.media_type, &shown)?,
                    name: d.digest.clone(),
                    diff_id: Some(diff_id.to_string()),
                })
            })
            .collect()
    }

    /// Copies an image from one place to another (registry or layout, either side).
    pub async fn copy(&self, from: &ImageRef, to: &ImageRef) -> Result<PushReport, ImageError> {
        let image = self.fetch(from).await?;
        self.push(&image, to).await
    }

    /// Pushes blobs the destination lacks (checked with HEAD), then the manifest.
    pub async fn push(&self, image: &Image, dest: &ImageRef) -> Result<PushReport, ImageError> {
        match dest {
            ImageRef::Registry(r) => self.push_registry(image, r).await,
            ImageRef::Layout(l) => {
                let mut report = PushReport {
                    digest: image.digest.to_string(),
                    ..Default::default()
                };
                let layout = {
                    let dir = l.dir.clone();
                    blocking(move || OciLayout::open_or_create(&dir)).await?
                };
                for d in image.manifest.layers.iter().chain([&image.manifest.config]) {
                    let digest = Sha256Digest::parse(&d.digest)?;
                    if layout.has_blob(&digest) {
                        report.skipped += 1;
                        continue;
                    }
                    let path = self.ensure_blob(image.source.as_ref(), d).await?;
                    let layout = layout.clone();
                    blocking(move || layout.copy_blob_from(&path, &digest)).await?;
                    report.uploaded += 1;
                }
                let layout2 = layout.clone();
                let bytes = image.manifest_bytes.clone();
                let descriptor = Descriptor {
                    media_type: image.media_type.clone(),
                    digest: image.digest.to_string(),
                    size: image.manifest_bytes.len() as u64,
                    urls: None,
                    annotations: None,
                    platform: image.platform(),
                    artifact_type: None,
                };
                let name = l.name.clone();
                blocking(move || {
                    layout2.write_blob(&bytes)?;
                    layout2.set_ref(descriptor, name.as_deref())
                })
                .await?;
                Ok(report)
            }
        }
    }

    async fn push_registry(
        &self,
        image: &Image,
        dest: &RegistryRef,
    ) -> Result<PushReport, ImageError> {
        if let Some(d) = dest.digest()
            && d != image.digest.as_str()
        {
            return Err(ImageError::InvalidReference {
                reference: dest.to_string(),
                reason: format!(
                    "pushing by digest, but the image's digest is {}",
                    image.digest
                ),
            });
        }
        let access = self.access(dest)?;
        // blob_exists and mount_blob don't register credentials themselves.
        access
            .client
            .store_auth_if_needed(&access.registry, &access.auth)
            .await;
        let shown = dest.to_string();
        let mut report = PushReport {
            digest: image.digest.to_string(),
            ..Default::default()
        };
        let mount_from = match &image.source {
            Some(ImageRef::Registry(src))
                if src.resolved_registry() == dest.resolved_registry()
                    && src.repository() != dest.repository()
                    && self
                        .options
                        .credentials
                        .lookup(src.registry(), src.repository())
                        == self
                            .options
                            .credentials
                            .lookup(dest.registry(), dest.repository()) =>
            {
                Some(src.clone())
            }
            _ => None,
        };
        for d in image.manifest.layers.iter().chain([&image.manifest.config]) {
            let digest = Sha256Digest::parse(&d.digest)?;
            let exists = access
                .client
                .blob_exists(dest.as_oci(), digest.as_str())
                .await
                .map_err(Self::map_err(&access, &shown, Operation::Push))?;
            if exists {
                report.skipped += 1;
                continue;
            }
            if let Some(src) = &mount_from {
                let mounted = access
                    .client
                    .mount_blob(dest.as_oci(), src.as_oci(), digest.as_str())
                    .await;
                if mounted.is_ok() {
                    report.mounted += 1;
                    continue;
                }
                tracing::debug!(%digest, "cross-repository mount refused, uploading");
            }
            let path = self.ensure_blob(image.source.as_ref(), d).await?;
            let stream = file_stream(path).await?;
            access
                .client
                .push_blob_stream(dest.as_oci(), stream, digest.as_str(), Some(d.size))
                .await
                .map_err(Self::map_err(&access, &shown, Operation::Push))?;
            report.uploaded += 1;
        }
        let content_type = image
            .media_type
            .parse()
            .map_err(|_| ImageError::InvalidContent {
                reference: shown.clone(),
                what: "manifest".into(),
                detail: format!(
                    "media type {:?} is not a valid header value",
                    image.media_type
                ),
            })?;
        access
            .client
            .push_manifest_raw(dest.as_oci(), image.manifest_bytes.clone(), content_type)
            .await
            .map_err(Self::map_err(&access, &shown, Operation::Push))?;
        Ok(report)
    }
}

/// Records the diff_ids of layers that were just read to their end and matched.
fn record_diff_ids(cache: &BlobCache, layers: &[LayerFile]) -> Result<(), ImageError> {
    for layer in layers {
        if let Some(diff_id) = &layer.diff_id {
            cache.record_diff_id(
                &Sha256Digest::parse(&layer.name)?,
                &Sha256Digest::parse(diff_id)?,
            )?;
        }
    }
    Ok(())
}

/// A file as a stream of 1 MiB chunks, for streamed uploads.
async fn file_stream(
    path: PathBuf,
) -> Result<
    impl futures::Stream<Item = Result<bytes::Bytes, OciDistributionError>> + Send + 'static,
    ImageError,
> {
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|e| ImageError::io(format!("opening {}", path.display()), e))?;
    Ok(futures::stream::try_unfold(file, |mut file| async move {
        let mut buf = bytes::BytesMut::zeroed(UPLOAD_CHUNK);
        let mut filled = 0;
        while filled < UPLOAD_CHUNK {
            let n = file.read(&mut buf[filled..]).await?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        if filled == 0 {
            return Ok(None);
        }
        buf.truncate(filled);
        Ok(Some((buf.freeze(), file)))
    }))
}

fn blob_stream_error(
    e: std::io::Error,
    registry: &str,
    reference: &str,
    digest: &Sha256Digest,
    received: u64,
    size: u64,
) -> ImageError {
    if let Some(oci_client::errors::DigestError::VerificationError { expected, actual }) = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<oci_client::errors::DigestError>())
    {
        return ImageError::DigestMismatch {
            what: format!("blob {digest} of {reference}"),
            expected: expected.clone(),
            actual: actual.clone(),
        };
    }
    ImageError::Registry {
        registry: registry.to_owned(),
        reference: reference.to_owned(),
        detail: format!(
            "download of blob {digest} was interrupted after {received} of {size} bytes: {}",
            error_chain(&e)
        ),
    }
}

fn split_pem(pem: &str) -> Vec<String> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let mut out = Vec::new();
    let mut rest = pem;
    while let Some(start) = rest.find(BEGIN) {
        let Some(end) = rest[start..].find(END) else {
            break;
        };
        let stop = start + end + END.len();
        out.push(format!("{}\n", &rest[start..stop]));
        rest = &rest[stop..];
    }
    out
}

/// Runs blocking filesystem work off the async threads.
pub(crate) async fn blocking<T, F>(f: F) -> Result<T, ImageError>
where
    F: FnOnce() -> Result<T, ImageError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        ImageError::io(
            "a blocking image task failed",
            std::io::Error::other(e.to_string()),
        )
    })?
}
