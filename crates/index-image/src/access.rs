//! How opm reaches registries: TLS flags, a CA bundle, credentials from the usual auth files,
//! and the blob cache shared by every command.

use std::path::{Path, PathBuf};

use oci::{Credentials, ImageStore, RegistryOptions};

use crate::error::IndexImageError;

/// The environment variable naming the blob cache directory.
pub const CACHE_DIR_ENV: &str = "OPM_CACHE_DIR";

/// Registry access as the opm flags describe it.
#[derive(Clone, Debug, Default)]
pub struct RegistryAccess {
    /// `--use-http` (or the deprecated `--skip-tls`).
    pub use_http: bool,
    /// `--skip-tls-verify`.
    pub skip_tls_verify: bool,
    /// `--ca-file`: extra trusted CA certificates (PEM).
    pub ca_file: Option<PathBuf>,
    /// An explicit auth file; otherwise [`auth_file_candidates`] are tried.
    pub auth_file: Option<PathBuf>,
    /// The blob cache; otherwise [`default_cache_dir`].
    pub cache_dir: Option<PathBuf>,
}

/// Where credentials are looked for, in order: `REGISTRY_AUTH_FILE` (podman, skopeo),
/// `$DOCKER_CONFIG/config.json`, `~/.docker/config.json`. The first existing file wins.
pub fn auth_file_candidates() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(p) = std::env::var_os("REGISTRY_AUTH_FILE").filter(|p| !p.is_empty()) {
        out.push(PathBuf::from(p));
    }
    if let Some(d) = std::env::var_os("DOCKER_CONFIG").filter(|p| !p.is_empty()) {
        out.push(PathBuf::from(d).join("config.json"));
    }
    if let Some(h) = std::env::var_os("HOME").filter(|p| !p.is_empty()) {
        out.push(PathBuf::from(h).join(".docker/config.json"));
    }
    out
}

/// `$OPM_CACHE_DIR`, else `$XDG_CACHE_HOME/olm-rs/opm`, else `~/.cache/olm-rs/opm`, else a
/// directory under the system temp dir.
pub fn default_cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os(CACHE_DIR_ENV).filter(|p| !p.is_empty()) {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME").filter(|p| !p.is_empty()) {
        return PathBuf::from(d).join("olm-rs/opm");
    }
    if let Some(h) = std::env::var_os("HOME").filter(|p| !p.is_empty()) {
        return PathBuf::from(h).join(".cache/olm-rs/opm");
    }
    std::env::temp_dir().join("olm-rs-opm-cache")
}

impl RegistryAccess {
    /// The credentials file in use, if any.
    pub fn auth_file(&self) -> Option<PathBuf> {
        match &self.auth_file {
            Some(p) => Some(p.clone()),
            None => auth_file_candidates().into_iter().find(|p| p.is_file()),
        }
    }

    /// Registry options: TLS flags, the CA bundle, credentials.
    pub fn options(&self) -> Result<RegistryOptions, IndexImageError> {
        if self.use_http && self.skip_tls_verify {
            return Err(IndexImageError::Invalid(
                "invalid flag combination: --use-http and --skip-tls-verify cannot both be true"
                    .into(),
            ));
        }
        let ca_pem =
            match &self.ca_file {
                Some(p) => Some(std::fs::read_to_string(p).map_err(IndexImageError::io(
                    format!("reading the CA file {}", p.display()),
                ))?),
                None => None,
            };
        let credentials = match self.auth_file() {
            Some(p) => load_credentials(&p)?,
            None => Credentials::new(),
        };
        Ok(RegistryOptions {
            use_http: self.use_http,
            skip_tls_verify: self.skip_tls_verify,
            ca_pem,
            credentials,
            ..Default::default()
        })
    }

    /// An image store over the blob cache with these options.
    pub fn store(&self) -> Result<ImageStore, IndexImageError> {
        let cache = self.cache_dir.clone().unwrap_or_else(default_cache_dir);
        ImageStore::new(&cache, self.options()?).map_err(IndexImageError::image(format!(
            "opening the blob cache {}",
            cache.display()
        )))
    }
}

fn load_credentials(path: &Path) -> Result<Credentials, IndexImageError> {
    Credentials::from_docker_config_file(path).map_err(IndexImageError::image(format!(
        "reading registry credentials from {}",
        path.display()
    )))
}
