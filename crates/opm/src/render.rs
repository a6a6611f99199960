//! `opm render`: references classified as upstream does (directory with `manifests/` and
//! `metadata/` = bundle directory, other directory = FBC root, file = sqlite database,
//! anything else = image reference, pulled and classified by its labels), rendered,
//! post-processed and merged.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::{Context, Result, anyhow, bail};
use catalog_templates::{BundleRenderError, RenderedBundle};
use fbc::DeclarativeConfig;
use fbc::property::{TYPE_BUNDLE_OBJECT, TYPE_CSV_METADATA};
use fbc::{ObjectProfile, RegistryBundle, parse_bundle_dir};

use crate::migrations::Migrations;

/// Which kinds of references a command accepts (upstream `AllowedRefMask`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RefMask {
    pub bundle_image: bool,
    pub sqlite_file: bool,
    pub catalog_dir: bool,
    pub bundle_dir: bool,
    pub catalog_image: bool,
}

impl RefMask {
    pub const ALL: RefMask = RefMask {
        bundle_image: true,
        sqlite_file: true,
        catalog_dir: true,
        bundle_dir: true,
        catalog_image: true,
    };
    /// `opm migrate` and `alpha render-graph`: catalogs only.
    pub const CATALOGS: RefMask = RefMask {
        bundle_image: false,
        sqlite_file: true,
        catalog_dir: true,
        bundle_dir: false,
        catalog_image: true,
    };
    /// Templates: bundle images only.
    pub const BUNDLE_IMAGES: RefMask = RefMask {
        bundle_image: true,
        sqlite_file: false,
        catalog_dir: false,
        bundle_dir: false,
        catalog_image: false,
    };
}

/// `IMAGE=DIR` pairs naming local bundle directories for bundle image references.
#[derive(Clone, Debug, Default)]
pub struct BundleDirs(HashMap<String, PathBuf>);

impl BundleDirs {
    pub fn parse(entries: &[String]) -> Result<BundleDirs> {
        let mut map = HashMap::new();
        for e in entries.iter().filter(|e| !e.trim().is_empty()) {
            let (image, dir) = e.rsplit_once('=').ok_or_else(|| {
                anyhow!("invalid --bundle-dir-map entry {e:?}: expected IMAGE=DIR")
            })?;
            if image.is_empty() || dir.is_empty() {
                bail!("invalid --bundle-dir-map entry {e:?}: expected IMAGE=DIR");
            }
            map.insert(image.to_string(), PathBuf::from(dir));
        }
        Ok(BundleDirs(map))
    }

    pub fn get(&self, image: &str) -> Option<&Path> {
        self.0.get(image).map(PathBuf::as_path)
    }
}

/// The `--alpha-image-ref-template` subset we support: `{{.Package}}`, `{{.Name}}`,
/// `{{.Version}}` (spaces inside the braces allowed).
#[derive(Clone, Debug)]
pub struct ImageRefTemplate(String);

impl ImageRefTemplate {
    pub fn parse(text: &str) -> Result<ImageRefTemplate> {
        let mut rest = text;
        while let Some(i) = rest.find("{{") {
            let after = &rest[i + 2..];
            let end = after
                .find("}}")
                .ok_or_else(|| anyhow!("invalid image reference template: unclosed action"))?;
            let action = after[..end].trim();
            if !matches!(action, ".Package" | ".Name" | ".Version") {
                bail!(
                    "invalid image reference template: unsupported action {{{{{action}}}}} (only {{{{.Package}}}}, {{{{.Name}}}} and {{{{.Version}}}} are supported)"
                );
            }
            rest = &after[end + 2..];
        }
        Ok(ImageRefTemplate(text.to_string()))
    }

    fn expand(&self, package: &str, name: &str, version: &str) -> String {
        let mut out = String::new();
        let mut rest = self.0.as_str();
        while let Some(i) = rest.find("{{") {
            out.push_str(&rest[..i]);
            let after = &rest[i + 2..];
            let end = after.find("}}").unwrap_or(after.len());
            out.push_str(match after[..end].trim() {
                ".Package" => package,
                ".Name" => name,
                _ => version,
            });
            rest = after.get(end + 2..).unwrap_or("");
        }
        out.push_str(rest);
        out
    }
}

/// A render request.
#[derive(Clone, Debug)]
pub struct Render {
    pub refs: Vec<String>,
    pub allowed: RefMask,
    pub migrations: Option<Migrations>,
    pub image_ref_template: Option<ImageRefTemplate>,
    pub bundle_dirs: BundleDirs,
    /// How images are pulled.
    pub registry: index_image::RegistryAccess,
    /// Warnings for stderr, collected while rendering (a template renders bundles from a
    /// shared reference, hence the lock).
    warnings: Arc<Mutex<Vec<String>>>,
}

impl Render {
    pub fn new(refs: Vec<String>, allowed: RefMask) -> Render {
        Render {
            refs,
            allowed,
            migrations: None,
            image_ref_template: None,
            bundle_dirs: BundleDirs::default(),
            registry: index_image::RegistryAccess::default(),
            warnings: Arc::default(),
        }
    }

    /// The warnings rendering has produced so far, for the command's outcome.
    pub fn take_warnings(&self) -> Vec<String> {
        std::mem::take(&mut *self.warnings.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Renders every reference and merges the results in reference order.
    pub fn run(&self) -> Result<DeclarativeConfig> {
        let mut out = DeclarativeConfig::default();
        for r in &self.refs {
            let mut cfg = self
                .render_reference(r)
                .with_context(|| format!("render reference {r:?}"))?;
            post_process(&mut cfg);
            if let Some(m) = &self.migrations {
                m.apply(&mut cfg).context("migrate")?;
            }
            out.merge(cfg);
        }
        Ok(out)
    }

    fn render_reference(&self, r: &str) -> Result<DeclarativeConfig> {
        let path = Path::new(r);
        let meta = match std::fs::metadata(path) {
            Ok(meta) => meta,
            // Not an image reference either: a mistyped path is the likelier mistake.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return self.render_image(r).map_err(|e| {
                    if is_invalid_reference(&e) {
                        e.context(format!(
                            "no such file or directory {r:?}; tried as an image reference instead"
                        ))
                    } else {
                        e
                    }
                });
            }
            Err(_) => return self.render_image(r),
        };
        if meta.is_dir() {
            if is_bundle_dir(path)? {
                if !self.allowed.bundle_dir {
                    bail!("cannot render bundle directory {r:?}: not allowed");
                }
                let b = self.render_bundle_dir(path, None)?;
                return Ok(DeclarativeConfig {
                    bundles: vec![b.bundle],
                    ..Default::default()
                });
            }
            if !self.allowed.catalog_dir {
                bail!("cannot render declarative config directory: not allowed");
            }
            return Ok(fbc::load_fs(path)?);
        }
        if !sqlite_index::is_sqlite_file(path)? {
            bail!("ref {r:?} has unsupported file type: not an sqlite database");
        }
        if !self.allowed.sqlite_file {
            bail!("cannot render sqlite file: not allowed");
        }
        tracing::warn!(
            "DEPRECATION NOTICE: Sqlite-based catalogs and their related subcommands are deprecated. Support for them will be removed in a future release. Please migrate your catalog workflows to the new file-based catalog format."
        );
        let index = sqlite_index::Index::open(path)?;
        Ok(index.to_declcfg()?)
    }

    fn render_image(&self, r: &str) -> Result<DeclarativeConfig> {
        if let Some(dir) = self.bundle_dirs.get(r) {
            if !self.allowed.bundle_image {
                bail!("cannot render bundle image: not allowed");
            }
            let b = self.render_bundle_dir(dir, Some(r))?;
            return Ok(DeclarativeConfig {
                bundles: vec![b.bundle],
                ..Default::default()
            });
        }
        crate::runtime::block_on(self.pull_and_render(r))?
    }

    /// Pulls an image and renders it by its labels, as upstream: the sqlite database label
    /// first, then the file-based catalog label, then the bundle package label.
    async fn pull_and_render(&self, r: &str) -> Result<DeclarativeConfig> {
        use index_image::ImageKind;
        let store = self.registry.store()?;
        let image = index_image::fetch(&store, r).await?;
        let labels = image.labels();
        let work = tempfile_dir()?;
        match ImageKind::of(&labels) {
            ImageKind::Sqlite { database } => {
                if !self.allowed.catalog_image {
                    bail!("cannot render sqlite image: not allowed");
                }
                let db =
                    index_image::unpack_database(&store, &image, r, &database, work.path()).await?;
                tracing::warn!(
                    "DEPRECATION NOTICE: Sqlite-based catalogs and their related subcommands are deprecated. Support for them will be removed in a future release. Please migrate your catalog workflows to the new file-based catalog format."
                );
                // The unpacked copy is ours: bring an older schema up to date, as upstream
                // migrates every database it renders.
                sqlite_index::IndexWriter::open(&db)?.commit()?;
                let index = sqlite_index::Index::open(&db)?;
                Ok(index.to_declcfg()?)
            }
            ImageKind::Fbc { configs } => {
                if !self.allowed.catalog_image {
                    bail!("cannot render declarative config image: not allowed");
                }
                let dest = work.path().join("configs");
                index_image::unpack_dir(&store, &image, r, &configs, &dest).await?;
                Ok(fbc::load_fs(&dest)?)
            }
            ImageKind::Bundle => {
                if !self.allowed.bundle_image {
                    bail!("cannot render bundle image: not allowed");
                }
                let b = self.pull_bundle(&store, r).await?;
                Ok(DeclarativeConfig {
                    bundles: vec![b.bundle],
                    ..Default::default()
                })
            }
            ImageKind::Unknown => {
                if labels.is_empty() {
                    bail!("render {r:?}: image type could not be determined: image has no labels");
                }
                let list: Vec<String> = labels.iter().map(|(k, v)| format!("  {k}={v}")).collect();
                bail!(
                    "render {r:?}: image type could not be determined, found labels\n{}",
                    list.join("\n")
                )
            }
        }
    }

    /// Pulls a bundle image and renders it with `image` = the reference as written.
    async fn pull_bundle(&self, store: &oci::ImageStore, r: &str) -> Result<RenderedBundle> {
        let pulled = index_image::pull_bundle(store, r).await?;
        self.render_parsed(pulled.bundle, Some(r))
            .with_context(|| format!("render bundle image {r}"))
    }

    /// Renders a bundle directory; `image` is the reference it stands for (`None`: a directory
    /// given directly, whose image is empty unless the image reference template fills it).
    pub fn render_bundle_dir(&self, dir: &Path, image: Option<&str>) -> Result<RenderedBundle> {
        let parsed = parse_bundle_dir(dir)?;
        self.render_parsed(parsed, image)
            .with_context(|| format!("render bundle directory {}", dir.display()))
    }

    fn render_parsed(&self, parsed: RegistryBundle, image: Option<&str>) -> Result<RenderedBundle> {
        // Upstream skips these files too (and its `render` discards the log saying so); the
        // rendered bundle lacks them, so say which.
        self.warnings
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(parsed.skipped.iter().map(|s| format!("warning: {s}")));
        let image = match (image, &self.image_ref_template) {
            (Some(i), _) => i.to_string(),
            (None, Some(t)) => t.expand(&parsed.package, &parsed.name, &parsed.version),
            (None, None) => String::new(),
        };
        let bundle = parsed.render(&image, ObjectProfile::BundleObjects)?;
        Ok(RenderedBundle {
            bundle,
            csv: Some(parsed.csv().object.clone()),
        })
    }

    /// A bundle image for a template, post-processed and migrated like any render.
    pub fn render_template_bundle(
        &self,
        image: &str,
    ) -> Result<Vec<RenderedBundle>, BundleRenderError> {
        let inner = || -> Result<Vec<RenderedBundle>> {
            let rendered = match self.bundle_dirs.get(image) {
                Some(d) => self.render_bundle_dir(d, Some(image))?,
                None => {
                    if !self.allowed.bundle_image {
                        bail!("cannot render bundle image: not allowed");
                    }
                    crate::runtime::block_on(async {
                        let store = self.registry.store()?;
                        self.pull_bundle(&store, image).await
                    })??
                }
            };
            let mut cfg = DeclarativeConfig {
                bundles: vec![rendered.bundle],
                ..Default::default()
            };
            post_process(&mut cfg);
            if let Some(m) = &self.migrations {
                m.apply(&mut cfg).context("migrate")?;
            }
            Ok(cfg
                .bundles
                .into_iter()
                .map(|bundle| RenderedBundle {
                    bundle,
                    csv: rendered.csv.clone(),
                })
                .collect())
        };
        inner().map_err(|e| BundleRenderError(format!("render reference {image:?}: {e:#}")))
    }
}

fn is_invalid_reference(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        let image_error = match cause.downcast_ref::<index_image::IndexImageError>() {
            Some(index_image::IndexImageError::Image { cause, .. }) => Some(cause),
            _ => cause.downcast_ref::<oci::ImageError>(),
        };
        matches!(image_error, Some(oci::ImageError::InvalidReference { .. }))
    })
}

/// A directory is a bundle when it has both `manifests/` and `metadata/` subdirectories.
pub(crate) fn is_bundle_dir(dir: &Path) -> Result<bool> {
    let mut manifests = false;
    let mut metadata = false;
    for e in std::fs::read_dir(dir).with_context(|| format!("read {}", dir.display()))? {
        let e = e?;
        if e.file_type()?.is_dir() {
            match e.file_name().to_str() {
                Some("manifests") => manifests = true,
                Some("metadata") => metadata = true,
                _ => {}
            }
        }
    }
    Ok(manifests && metadata)
}

/// Upstream's per-reference clean-up: object properties last, related images by image.
pub(crate) fn post_process(cfg: &mut DeclarativeConfig) {
    for b in &mut cfg.bundles {
        let (objs, mut rest): (Vec<_>, Vec<_>) = std::mem::take(&mut b.properties)
            .into_iter()
            .partition(|p| p.r#type == TYPE_BUNDLE_OBJECT || p.r#type == TYPE_CSV_METADATA);
        rest.extend(objs);
        b.properties = rest;
        b.related_images.sort_by(|x, y| x.image.cmp(&y.image));
    }
}

fn tempfile_dir() -> Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix("opm-render-")
        .tempdir()
        .context("creating a temp dir to unpack the image")
}
