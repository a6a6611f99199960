//! Reading a bundle's files: from a directory on disk or from an image's file map, in the name
//! order upstream reads them.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use super::parse::parse_bundle_files;
use super::{BundleError, RegistryBundle, invalid};

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BundleError + '_ {
    move |source| BundleError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn sorted_entries(dir: &Path) -> Result<Vec<(String, PathBuf, bool)>, BundleError> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let is_dir = fs::metadata(entry.path())
            .map(|m| m.is_dir())
            .unwrap_or(false);
        out.push((
            entry.file_name().to_string_lossy().into_owned(),
            entry.path(),
            is_dir,
        ));
    }
    out.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    Ok(out)
}

fn read_text(path: &Path) -> Result<String, BundleError> {
    let bytes = fs::read(path).map_err(io(path))?;
    text_of(path, bytes)
}

fn text_of(path: &Path, bytes: Vec<u8>) -> Result<String, BundleError> {
    String::from_utf8(bytes).map_err(|_| invalid(path, "file is not valid UTF-8"))
}

/// Parses a registry+v1 bundle directory.
pub fn parse_bundle_dir(dir: &Path) -> Result<RegistryBundle, BundleError> {
    let read = |sub: &str, skip_hidden: bool| -> Result<Vec<BundleFile>, BundleError> {
        let mut files = Vec::new();
        for (name, path, is_dir) in sorted_entries(&dir.join(sub))? {
            if is_dir || (skip_hidden && name.starts_with('.')) {
                continue;
            }
            files.push(BundleFile {
                text: read_text(&path),
                path,
            });
        }
        Ok(files)
    };
    let manifests = read("manifests", true)?;
    let metadata = read("metadata", false)?;
    parse_bundle_files(dir, manifests, metadata)
}

/// Parses a registry+v1 bundle whose files are given by path relative to the bundle root
/// (`manifests/csv.yaml`), as read from an image without unpacking it: the same files
/// [`parse_bundle_dir`] reads. `root` only names the bundle in messages.
pub fn parse_bundle_tree(
    root: &Path,
    files: BTreeMap<String, Vec<u8>>,
) -> Result<RegistryBundle, BundleError> {
    let mut manifests = Vec::new();
    let mut metadata = Vec::new();
    // Name order within a directory is the map's order; nested files are not read.
    for (rel, bytes) in files {
        let (dir, name) = match rel.split_once('/') {
            Some((dir, name)) if !name.contains('/') => (dir, name),
            _ => continue,
        };
        let list = match dir {
            "manifests" if !name.starts_with('.') => &mut manifests,
            "metadata" => &mut metadata,
            _ => continue,
        };
        let path = root.join(&rel);
        list.push(BundleFile {
            text: text_of(&path, bytes),
            path,
        });
    }
    parse_bundle_files(root, manifests, metadata)
}

/// One file of a bundle, already read (its text, or why it could not be read as text).
#[derive(Debug)]
pub struct BundleFile {
    pub path: PathBuf,
    pub text: Result<String, BundleError>,
}

impl BundleFile {
    pub fn new(path: impl Into<PathBuf>, text: impl Into<String>) -> Self {
        BundleFile {
            path: path.into(),
            text: Ok(text.into()),
        }
    }
}
