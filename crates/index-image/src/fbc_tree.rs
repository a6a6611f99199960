//! A file-based catalog directory and the minimal set of file changes that carry a change
//! to some of its packages: only files holding blobs of a changed package are rewritten or
//! deleted, every other file (and every blob of another package sharing a file) is kept.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use fbc::{DeclarativeConfig, Format};
use oci::LayerContent;

use crate::error::IndexImageError;
use crate::fbc_add::package_subset;

/// File changes relative to the catalog root (paths `/`-separated, relative).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rewrite {
    pub writes: BTreeMap<String, Vec<u8>>,
    pub deletes: BTreeSet<String>,
}

impl Rewrite {
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty() && self.deletes.is_empty()
    }

    /// Applies the changes to a catalog directory on disk (each write atomic).
    pub fn apply(&self, root: &Path) -> Result<(), IndexImageError> {
        for rel in &self.deletes {
            let p = root.join(rel);
            std::fs::remove_file(&p)
                .map_err(IndexImageError::io(format!("removing {}", p.display())))?;
        }
        for (rel, data) in &self.writes {
            fbc::write::write_file_atomically(&root.join(rel), data)?;
        }
        Ok(())
    }

    /// The image layer carrying the changes under `configs_dir` (e.g. `/configs`): rewritten
    /// files, and whiteouts for deleted ones.
    pub fn layer(&self, configs_dir: &str) -> Result<LayerContent, IndexImageError> {
        let base = configs_dir.trim_end_matches('/');
        let mut layer = LayerContent::new();
        for rel in &self.deletes {
            layer
                .remove(&format!("{base}/{rel}"))
                .map_err(IndexImageError::image("building the catalog layer"))?;
        }
        for (rel, data) in &self.writes {
            layer
                .add_bytes(&format!("{base}/{rel}"), data.clone())
                .map_err(IndexImageError::image("building the catalog layer"))?;
        }
        Ok(layer)
    }
}

/// The format a catalog file is written in: by extension, else by its first character.
pub(crate) fn file_format(path: &Path) -> Format {
    match path.extension().and_then(|e| e.to_str()) {
        Some("json") => Format::Json,
        Some("yaml" | "yml") => Format::Yaml,
        _ => match std::fs::read(path) {
            Ok(data) if data.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') => {
                Format::Json
            }
            Ok(_) => Format::Yaml,
            Err(_) => Format::Json,
        },
    }
}

/// The format most catalog files under `files` use (JSON on a tie or when there are none).
pub(crate) fn prevailing_format(files: &BTreeSet<PathBuf>) -> Format {
    let yaml = files
        .iter()
        .filter(|f| file_format(f) == Format::Yaml)
        .count();
    if yaml * 2 > files.len() {
        Format::Yaml
    } else {
        Format::Json
    }
}

fn relative(root: &Path, path: &Path) -> Result<String, IndexImageError> {
    let rel = path.strip_prefix(root).map_err(|_| {
        IndexImageError::Invalid(format!(
            "catalog file {} is outside the catalog root {}",
            path.display(),
            root.display()
        ))
    })?;
    Ok(rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/"))
}

#[derive(Clone, Copy)]
enum BlobAt {
    Package(usize),
    Channel(usize),
    Bundle(usize),
    Deprecation(usize),
    Other(usize),
}

/// Every blob of `cfg` with the file it came from and its package (no copies).
fn blob_index(cfg: &DeclarativeConfig) -> Vec<(Option<&Path>, &str, BlobAt)> {
    let mut out = Vec::new();
    for (i, p) in cfg.packages.iter().enumerate() {
        out.push((
            p.origin.as_ref().map(|o| &*o.path),
            p.name.as_str(),
            BlobAt::Package(i),
        ));
    }
    for (i, c) in cfg.channels.iter().enumerate() {
        out.push((
            c.origin.as_ref().map(|o| &*o.path),
            c.package.as_str(),
            BlobAt::Channel(i),
        ));
    }
    for (i, b) in cfg.bundles.iter().enumerate() {
        out.push((
            b.origin.as_ref().map(|o| &*o.path),
            b.package.as_str(),
            BlobAt::Bundle(i),
        ));
    }
    for (i, d) in cfg.deprecations.iter().enumerate() {
        out.push((
            d.origin.as_ref().map(|o| &*o.path),
            d.package.as_str(),
            BlobAt::Deprecation(i),
        ));
    }
    for (i, m) in cfg.others.iter().enumerate() {
        out.push((
            m.origin.as_ref().map(|o| &*o.path),
            m.package.as_str(),
            BlobAt::Other(i),
        ));
    }
    out
}

fn copy_blob(cfg: &DeclarativeConfig, at: BlobAt, out: &mut DeclarativeConfig) {
    match at {
        BlobAt::Package(i) => out.packages.push(cfg.packages[i].clone()),
        BlobAt::Channel(i) => out.channels.push(cfg.channels[i].clone()),
        BlobAt::Bundle(i) => out.bundles.push(cfg.bundles[i].clone()),
        BlobAt::Deprecation(i) => out.deprecations.push(cfg.deprecations[i].clone()),
        BlobAt::Other(i) => out.others.push(cfg.others[i].clone()),
    }
}

/// The files of `before` (loaded from `root`, origins intact) to rewrite or delete so that
/// the catalog holds `after`, where only the packages in `changed` differ. A changed
/// package is written back to its own file when it had exactly one file to itself, else to
/// `<package>/catalog.<ext>` (`new_format` for new packages); blobs of other packages that
/// shared a file with it stay in that file.
pub fn plan_rewrite(
    root: &Path,
    before: &DeclarativeConfig,
    after: &DeclarativeConfig,
    changed: &BTreeSet<String>,
    new_format: Format,
) -> Result<Rewrite, IndexImageError> {
    // The files holding a changed package, then the blobs of other packages they also hold.
    let index = blob_index(before);
    let mut touched: BTreeSet<PathBuf> = BTreeSet::new();
    let mut files_of: BTreeMap<&str, BTreeSet<PathBuf>> = BTreeMap::new();
    for (origin, package, _) in &index {
        if let Some(path) = origin
            && changed.contains(*package)
        {
            touched.insert(path.to_path_buf());
            files_of
                .entry(package)
                .or_default()
                .insert(path.to_path_buf());
        }
    }
    let mut remaining: BTreeMap<PathBuf, DeclarativeConfig> = BTreeMap::new();
    for (origin, package, at) in &index {
        if let Some(path) = origin
            && !changed.contains(*package)
            && touched.contains(*path)
        {
            copy_blob(
                before,
                *at,
                remaining.entry(path.to_path_buf()).or_default(),
            );
        }
    }

    let mut outputs: BTreeMap<PathBuf, DeclarativeConfig> = BTreeMap::new();
    for f in &touched {
        outputs.insert(f.clone(), remaining.get(f).cloned().unwrap_or_default());
    }
    for pkg in changed {
        let content = package_subset(after, pkg);
        if content.is_empty() {
            continue;
        }
        let own = files_of.get(pkg.as_str()).and_then(|files| {
            let only = files.iter().next().filter(|_| files.len() == 1)?;
            outputs
                .get(only)
                .filter(|rest| rest.is_empty())
                .map(|_| only)
        });
        let target = match own {
            Some(f) => f.clone(),
            None => {
                let format = match files_of.get(pkg.as_str()).and_then(|f| f.iter().next()) {
                    Some(f) => file_format(f),
                    None => new_format,
                };
                if pkg.contains(['/', '\\']) || pkg == "." || pkg == ".." {
                    return Err(IndexImageError::Invalid(format!(
                        "package name {pkg:?} is not a valid directory name"
                    )));
                }
                root.join(pkg)
                    .join(format!("catalog.{}", format.extension()))
            }
        };
        if !outputs.contains_key(&target) {
            // A file nobody touched: keep what it holds.
            let existing = if target.is_file() {
                fbc::load_file(&target).map_err(|cause| IndexImageError::Load {
                    image: root.display().to_string(),
                    cause,
                })?
            } else {
                DeclarativeConfig::default()
            };
            outputs.insert(target.clone(), existing);
        }
        if let Some(out) = outputs.get_mut(&target) {
            out.merge(content);
        }
    }

    let mut rewrite = Rewrite::default();
    for (path, cfg) in outputs {
        let rel = relative(root, &path)?;
        if cfg.is_empty() {
            if touched.contains(&path) {
                rewrite.deletes.insert(rel);
            }
            continue;
        }
        let format = if path.exists() {
            file_format(&path)
        } else {
            match path.extension().and_then(|e| e.to_str()) {
                Some("yaml" | "yml") => Format::Yaml,
                _ => Format::Json,
            }
        };
        rewrite
            .writes
            .insert(rel, fbc::write::to_string(&cfg, format).into_bytes());
    }
    Ok(rewrite)
}

/// Every file a loaded catalog's blobs came from.
pub(crate) fn origin_files(cfg: &DeclarativeConfig) -> BTreeSet<PathBuf> {
    blob_index(cfg)
        .into_iter()
        .filter_map(|(o, _, _)| o.map(Path::to_path_buf))
        .collect()
}
