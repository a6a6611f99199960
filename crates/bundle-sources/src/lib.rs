//! Where a RukPak `Bundle`'s content comes from, unpacked in-process (no unpack pods).
//!
//! [`Sources::unpack`] writes the content of one `spec.source` into an empty directory and
//! says which pinned source it came from (an image digest, a git commit) or that it is still
//! pending (an upload that has not arrived). One module per source type:
//! `image`, `git`, `http`, `config_maps`, `upload`; `archive` extracts the gzip'd tarballs of
//! `http` and `upload`. Objects the sources read from the system namespace (Secrets,
//! ConfigMaps) come through [`SystemObjects`], so this crate does not talk to the API server
//! itself. Every archive and image is extracted with oci's safe extraction under
//! [`DEFAULT_LIMITS`] (or the limits given to [`Sources::with_limits`]).

mod archive;
mod config_maps;
mod git;
mod http;
mod image;
mod upload;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use oci::{Credentials, ExtractError, ExtractLimits, ImageError, ImageStore};
use olm_api::BundleSource;
use olm_api::bundle::{
    Authorization, ConfigMapSource, GitRef, GitSource, HttpSource, ImageSource, SourceType,
};

pub use config_maps::{ConfigMapsError, config_map_files};
pub use git::{CloneError, GitError, GitOptions, TreeError, fetch as fetch_git};
pub use http::HttpError;

/// The `data` of a Secret, base64-decoded.
pub type SecretData = BTreeMap<String, Vec<u8>>;

/// Bundle limits: bundles are manifests (a CRD is rarely over a few MiB, an object in etcd
/// at most ~1.5 MiB), so these are far below the catalog defaults while leaving room for
/// Helm charts and images built on a small base. `max_total_bytes` also caps an http
/// download and an upload archive.
pub const DEFAULT_LIMITS: ExtractLimits = ExtractLimits {
    max_total_bytes: 256 << 20,
    max_file_bytes: 64 << 20,
    max_entries: 20_000,
    max_path_len: 4096,
};

/// Timeout of an `http` source's whole download, as upstream's client.
pub const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads the objects a source refers to, in the provisioner's system namespace.
pub trait SystemObjects: Send + Sync {
    /// The Secret `name`, or `None` when it does not exist.
    fn secret(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<SecretData>, LookupError>> + Send;
    /// The ConfigMap `name`, or `None` when it does not exist.
    fn config_map(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<ConfigMap>, LookupError>> + Send;
}

/// Reading an object through [`SystemObjects`] failed (not a "not found").
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct LookupError {
    pub message: String,
}

/// What one unpack produced.
#[derive(Clone, Debug, PartialEq)]
pub enum Unpack {
    /// The content is in the destination directory; `resolved` is the source pinned to what
    /// was read (`status.resolvedSource`).
    Unpacked { resolved: BundleSource },
    /// Nothing to unpack yet (e.g. `waiting for bundle to be uploaded`); the destination is
    /// left empty.
    Pending { message: String },
}

/// Why a source could not be unpacked. Messages are shown in the Bundle's `Unpacked`
/// condition after `source bundle content: `.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// `source.type` names a member that is not set (the webhook's wording).
    #[error("bundle.spec.source.{member} must be set for source type \"{member}\"")]
    MissingMember { member: &'static str },
    #[error("secret {namespace}/{name} (named in {field}) was not found")]
    SecretNotFound {
        namespace: String,
        name: String,
        field: &'static str,
    },
    #[error("get secret {namespace}/{name}: {source}")]
    SecretLookup {
        namespace: String,
        name: String,
        #[source]
        source: LookupError,
    },
    #[error("secret {namespace}/{name} has no {key:?} key, needed for basic auth")]
    SecretKeyMissing {
        namespace: String,
        name: String,
        key: &'static str,
    },
    #[error("pull secret {namespace}/{name} is unusable: {source}")]
    PullSecret {
        namespace: String,
        name: String,
        #[source]
        source: ImageError,
    },
    #[error("get configmap {namespace}/{name}: {detail}")]
    ConfigMapLookup {
        namespace: String,
        name: String,
        detail: String,
    },
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error(transparent)]
    ConfigMaps(#[from] ConfigMapsError),
    #[error("{archive}: gzip: invalid header")]
    NotGzip { archive: String },
    #[error("{archive}: the archive is larger than the {limit}-byte limit for bundles")]
    ArchiveTooLarge { archive: String, limit: u64 },
    #[error(transparent)]
    Extract(#[from] ExtractError),
    #[error("bundle name {0:?} cannot name an upload file")]
    UploadName(String),
    #[error("invalid CA bundle for http sources: {0}")]
    CaBundle(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Git(#[from] GitError),
}

/// Unpacks Bundle sources. Holds everything that does not come from the Bundle: the image
/// store (blob cache, registry CA, TLS settings), the system namespace, the upload
/// directory, limits and the http and git settings.
#[derive(Clone)]
pub struct Sources {
    images: ImageStore,
    namespace: String,
    uploads_dir: PathBuf,
    limits: ExtractLimits,
    http_timeout: Duration,
    http_roots: Vec<reqwest::Certificate>,
    git: GitOptions,
}

impl Sources {
    /// Sources reading Secrets and ConfigMaps of `namespace`, pulling with `images`, and
    /// finding uploads at `<uploads_dir>/<bundle>.tgz`; [`DEFAULT_LIMITS`],
    /// [`DEFAULT_HTTP_TIMEOUT`], system roots only for http, default git options.
    pub fn new(
        namespace: impl Into<String>,
        images: ImageStore,
        uploads_dir: impl Into<PathBuf>,
    ) -> Self {
        Sources {
            images,
            namespace: namespace.into(),
            uploads_dir: uploads_dir.into(),
            limits: DEFAULT_LIMITS,
            http_timeout: DEFAULT_HTTP_TIMEOUT,
            http_roots: Vec::new(),
            git: GitOptions::default(),
        }
    }

    /// Limits of every extraction and of http and upload archives.
    pub fn with_limits(mut self, limits: ExtractLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Timeout of a whole http download.
    pub fn with_http_timeout(mut self, timeout: Duration) -> Self {
        self.http_timeout = timeout;
        self
    }

    /// Trusts the certificates of `pem` (one or more) for `http` sources, on top of the
    /// system roots.
    pub fn with_http_ca_pem(mut self, pem: &str) -> Result<Self, SourceError> {
        let certs = reqwest::Certificate::from_pem_bundle(pem.as_bytes())
            .map_err(|e| SourceError::CaBundle(e.to_string()))?;
        if certs.is_empty() {
            return Err(SourceError::CaBundle("no PEM certificate in it".into()));
        }
        self.http_roots = certs;
        Ok(self)
    }

    /// Passed to every git fetch.
    pub fn with_git_options(mut self, git: GitOptions) -> Self {
        self.git = git;
        self
    }

    pub fn limits(&self) -> &ExtractLimits {
        &self.limits
    }

    /// Writes the content of `source` (of the Bundle `bundle_name`) into `dest`, an existing
    /// empty directory. Only `dest` is written to, apart from a temp file beside it that is
    /// always removed; on error `dest` may hold part of the content and is the caller's to
    /// discard.
    pub async fn unpack(
        &self,
        bundle_name: &str,
        source: &BundleSource,
        objects: &impl SystemObjects,
        dest: &Path,
    ) -> Result<Unpack, SourceError> {
        let copied = || Unpack::Unpacked {
            resolved: source.clone(),
        };
        match source.type_ {
            SourceType::Image => {
                let image = member(source.image.as_ref(), "image")?;
                self.unpack_image(image, objects, dest).await
            }
            SourceType::Git => {
                let git = member(source.git.as_ref(), "git")?;
                self.unpack_git(git, objects, dest).await
            }
            SourceType::ConfigMaps => {
                let entries = source
                    .config_maps
                    .as_deref()
                    .filter(|c| !c.is_empty())
                    .ok_or(SourceError::MissingMember {
                        member: "configmaps",
                    })?;
                self.unpack_config_maps(entries, objects, dest).await?;
                Ok(copied())
            }
            SourceType::Http => {
                let http = member(source.http.as_ref(), "http")?;
                self.unpack_http(bundle_name, http, objects, dest).await?;
                Ok(copied())
            }
            SourceType::Upload => {
                member(source.upload.as_ref(), "upload")?;
                match upload::unpack(&self.uploads_dir, bundle_name, dest, &self.limits).await? {
                    upload::Outcome::Unpacked => Ok(copied()),
                    upload::Outcome::Missing => Ok(Unpack::Pending {
                        message: upload::WAITING_MESSAGE.into(),
                    }),
                }
            }
        }
    }

    async fn unpack_image(
        &self,
        image: &ImageSource,
        objects: &impl SystemObjects,
        dest: &Path,
    ) -> Result<Unpack, SourceError> {
        let credentials = match &image.pull_secret {
            Some(name) => Some(self.pull_credentials(name, objects).await?),
            None => None,
        };
        let pinned = image::pull(&self.images, image, credentials, &self.limits, dest).await?;
        Ok(Unpack::Unpacked {
            resolved: BundleSource {
                image: Some(ImageSource {
                    ref_: pinned,
                    pull_secret: None,
                    insecure_skip_tls_verify: false,
                }),
                ..BundleSource::of_type(SourceType::Image)
            },
        })
    }

    async fn unpack_git(
        &self,
        git: &GitSource,
        objects: &impl SystemObjects,
        dest: &Path,
    ) -> Result<Unpack, SourceError> {
        let secret = match git.auth.as_ref().and_then(Authorization::secret_name) {
            Some(name) => Some(
                self.secret(name, "bundle.spec.source.git.auth.secret", objects)
                    .await?,
            ),
            None => None,
        };
        let commit = git::fetch(git, secret.as_ref(), dest, &self.git).await?;
        let mut resolved = git.clone();
        resolved.ref_ = GitRef {
            commit: Some(commit),
            ..GitRef::default()
        };
        Ok(Unpack::Unpacked {
            resolved: BundleSource {
                git: Some(resolved),
                ..BundleSource::of_type(SourceType::Git)
            },
        })
    }

    async fn unpack_config_maps(
        &self,
        entries: &[ConfigMapSource],
        objects: &impl SystemObjects,
        dest: &Path,
    ) -> Result<(), SourceError> {
        let mut maps = Vec::with_capacity(entries.len());
        for entry in entries {
            let config_map = self.config_map(&entry.config_map.name, objects).await?;
            maps.push((entry.clone(), config_map));
        }
        let files = config_map_files(&maps)?;
        let target = dest.to_path_buf();
        tokio::task::spawn_blocking(move || config_maps::write_files(&target, &files))
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))
            .and_then(|written| written)
            .map_err(|e| SourceError::Io {
                context: format!("writing configmap files to {}", dest.display()),
                source: e,
            })
    }

    async fn unpack_http(
        &self,
        bundle_name: &str,
        http: &HttpSource,
        objects: &impl SystemObjects,
        dest: &Path,
    ) -> Result<(), SourceError> {
        let basic_auth = match http.auth.as_ref().and_then(Authorization::secret_name) {
            Some(name) => {
                let data = self
                    .secret(name, "bundle.spec.source.http.auth.secret", objects)
                    .await?;
                Some(self.basic_auth(name, &data)?)
            }
            None => None,
        };
        let request = http::Request {
            url: &http.url,
            basic_auth,
            insecure_skip_verify: http.auth.as_ref().is_some_and(|a| a.insecure_skip_verify),
        };
        self.download_and_extract(bundle_name, &request, dest).await
    }

    async fn download_and_extract(
        &self,
        bundle_name: &str,
        request: &http::Request<'_>,
        dest: &Path,
    ) -> Result<(), SourceError> {
        let parent = dest.parent().unwrap_or(Path::new("."));
        let temp = tempfile::Builder::new()
            .prefix(&format!(".{bundle_name}-http-"))
            .suffix(".tgz")
            .tempfile_in(parent)
            .map_err(|e| SourceError::Io {
                context: format!("creating a download file in {}", parent.display()),
                source: e,
            })?;
        let settings = http::HttpSettings {
            timeout: self.http_timeout,
            extra_roots: self.http_roots.clone(),
            max_bytes: self.limits.max_total_bytes,
        };
        let mut file = tokio::fs::File::from_std(temp.reopen().map_err(|e| SourceError::Io {
            context: format!("opening {}", temp.path().display()),
            source: e,
        })?);
        http::download(&settings, request, &mut file, temp.path()).await?;
        drop(file);
        archive::extract_tgz(temp.path(), request.url, dest, &self.limits).await?;
        Ok(())
    }

    /// The Secret `name` of the system namespace; its absence is an error naming `field`.
    async fn secret(
        &self,
        name: &str,
        field: &'static str,
        objects: &impl SystemObjects,
    ) -> Result<SecretData, SourceError> {
        objects
            .secret(name)
            .await
            .map_err(|source| SourceError::SecretLookup {
                namespace: self.namespace.clone(),
                name: name.to_owned(),
                source,
            })?
            .ok_or_else(|| SourceError::SecretNotFound {
                namespace: self.namespace.clone(),
                name: name.to_owned(),
                field,
            })
    }

    async fn pull_credentials(
        &self,
        name: &str,
        objects: &impl SystemObjects,
    ) -> Result<Credentials, SourceError> {
        let data = self
            .secret(name, "bundle.spec.source.image.pullSecret", objects)
            .await?;
        Credentials::from_pull_secret(&data).map_err(|source| SourceError::PullSecret {
            namespace: self.namespace.clone(),
            name: name.to_owned(),
            source,
        })
    }

    fn basic_auth(&self, name: &str, data: &SecretData) -> Result<(String, String), SourceError> {
        let value = |key: &'static str| {
            data.get(key)
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .ok_or_else(|| SourceError::SecretKeyMissing {
                    namespace: self.namespace.clone(),
                    name: name.to_owned(),
                    key,
                })
        };
        Ok((value("username")?, value("password")?))
    }

    async fn config_map(
        &self,
        name: &str,
        objects: &impl SystemObjects,
    ) -> Result<ConfigMap, SourceError> {
        let lookup = |detail: String| SourceError::ConfigMapLookup {
            namespace: self.namespace.clone(),
            name: name.to_owned(),
            detail,
        };
        objects
            .config_map(name)
            .await
            .map_err(|e| lookup(e.message))?
            .ok_or_else(|| lookup(format!("ConfigMap {name:?} not found")))
    }
}

/// The member `type` names, or the webhook's error for it.
fn member<'a, T>(value: Option<&'a T>, name: &'static str) -> Result<&'a T, SourceError> {
    value.ok_or(SourceError::MissingMember { member: name })
}
