//! Loading the catalogs named on the command line: FBC directories and catalog images.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use fbc::DeclarativeConfig;
use oci::{Credentials, ExtractOptions, ImageRef, ImageStore, RegistryOptions};

/// The catalogs named on the command line, in load order (directories, then images).
pub(crate) struct CatalogSources {
    pub(crate) dirs: Vec<(String, PathBuf)>,
    pub(crate) images: Vec<(String, String)>,
    pub(crate) priorities: BTreeMap<String, i32>,
    pub(crate) access: ImageAccess,
}

impl CatalogSources {
    /// The priority of a catalog (0 unless `--priority` set one).
    pub(crate) fn priority(&self, name: &str) -> i32 {
        self.priorities.get(name).copied().unwrap_or(0)
    }
}

/// One loaded catalog.
pub(crate) struct LoadedCatalog {
    pub(crate) name: String,
    /// The directory or image reference it came from.
    pub(crate) source: String,
    pub(crate) priority: i32,
    pub(crate) config: DeclarativeConfig,
}

/// Where images are fetched from and cached.
pub(crate) struct ImageAccess {
    pub(crate) cache: Option<PathBuf>,
    pub(crate) use_http: bool,
    pub(crate) skip_tls_verify: bool,
    pub(crate) ca_file: Option<PathBuf>,
    pub(crate) auth_file: Option<PathBuf>,
}

/// Reads an FBC directory (or single file).
fn load_dir(name: &str, dir: &Path) -> anyhow::Result<DeclarativeConfig> {
    if !dir.exists() {
        anyhow::bail!("catalog {name}: {} does not exist", dir.display());
    }
    let config = if dir.is_dir() {
        fbc::load_fs(dir)
    } else {
        fbc::load_file(dir)
    }
    .with_context(|| format!("catalog {name}: loading {}", dir.display()))?;
    if config.bundles.is_empty() {
        anyhow::bail!(
            "catalog {name}: {} holds no olm.bundle blobs; is it a file-based catalog directory?",
            dir.display()
        );
    }
    Ok(config)
}

fn default_cache() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(x).join("olm-rs/images");
    }
    if let Some(h) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(h).join(".cache/olm-rs/images");
    }
    std::env::temp_dir().join("olm-rs-images")
}

/// Unpacks the configs directory of each image and loads it. Images are fetched one after the
/// other; blobs are cached, so a second run reads nothing from the registry.
fn load_images(
    images: &[(String, String)],
    access: &ImageAccess,
) -> anyhow::Result<Vec<(DeclarativeConfig, Duration)>> {
    if images.is_empty() {
        return Ok(Vec::new());
    }
    let mut options = RegistryOptions {
        use_http: access.use_http,
        skip_tls_verify: access.skip_tls_verify,
        ..RegistryOptions::default()
    };
    if let Some(ca) = &access.ca_file {
        options.ca_pem =
            Some(std::fs::read_to_string(ca).with_context(|| format!("reading {}", ca.display()))?);
    }
    if let Some(auth) = &access.auth_file {
        options.credentials = Credentials::from_docker_config_file(auth)
            .with_context(|| format!("reading registry credentials from {}", auth.display()))?;
    }
    let cache = access.cache.clone().unwrap_or_else(default_cache);
    let store = ImageStore::new(&cache, options)
        .with_context(|| format!("opening the image cache {}", cache.display()))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime for image pulls")?;
    let mut out = Vec::new();
    for (name, reference) in images {
        let started = Instant::now();
        let parsed = ImageRef::parse(reference)
            .with_context(|| format!("catalog {name}: invalid image reference"))?;
        let scratch = tempfile::tempdir().context("creating a temporary directory")?;
        let dest = scratch.path().join("configs");
        runtime
            .block_on(store.unpack_labelled_dir(
                &parsed,
                olm_labels::INDEX_CONFIGS,
                &dest,
                &ExtractOptions::default(),
            ))
            .with_context(|| format!("catalog {name}: unpacking {reference}"))?;
        let config = load_dir(name, &dest)?;
        out.push((config, started.elapsed()));
    }
    Ok(out)
}

/// Loads every catalog: directories first, then images, in command-line order.
pub(crate) fn load(sources: &CatalogSources) -> anyhow::Result<Vec<LoadedCatalog>> {
    let mut out = Vec::new();
    for (name, dir) in &sources.dirs {
        out.push(LoadedCatalog {
            priority: sources.priority(name),
            source: dir.display().to_string(),
            name: name.clone(),
            config: load_dir(name, dir)?,
        });
    }
    let loaded = load_images(&sources.images, &sources.access)?;
    for ((name, reference), (config, took)) in sources.images.iter().zip(loaded) {
        tracing::info!(catalog = %name, image = %reference, ms = took.as_secs_f64() * 1e3, "catalog image loaded");
        out.push(LoadedCatalog {
            priority: sources.priority(name),
            source: reference.clone(),
            name: name.clone(),
            config,
        });
    }
    Ok(out)
}
