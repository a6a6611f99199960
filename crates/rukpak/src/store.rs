//! Unpacked content on disk, one gzipped tarball per Bundle name, as upstream serves it at
//! `/bundles/<name>.tgz`, plus a small record naming the object and the pinned source it
//! came from. Both are written to a temporary file and renamed into place, the record last,
//! so a record always describes a complete tarball; a process killed half-way leaves only
//! temporary files, removed at the next start.
//!
//! Layout under the storage directory: `bundles/<name>.tgz`, `bundles/<name>.json`,
//! `tmp/` (work in progress), `uploads/<name>.tgz` (see [`crate::upload`]).

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;
use olm_api::bundle::BundleSource;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What the store records about the content it holds for one Bundle name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredBundle {
    /// `metadata.uid` of the Bundle the content was unpacked for.
    pub uid: String,
    /// The source pinned at unpack time (`status.resolvedSource`).
    pub resolved_source: BundleSource,
    /// `sha256:<hex>` of the tarball.
    pub digest: String,
    /// Size of the tarball in bytes.
    pub size: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{context} {}: {source}", path.display())]
    Io {
        context: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("store record {}: {source}", path.display())]
    Record {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{name:?} is not a Bundle name")]
    BadName { name: String },
    #[error("extracting {}: {source}", path.display())]
    Extract {
        path: PathBuf,
        #[source]
        source: oci::ExtractError,
    },
}

fn io_err(context: &'static str, path: &Path) -> impl FnOnce(io::Error) -> StoreError {
    let path = path.to_owned();
    move |source| StoreError::Io {
        context,
        path,
        source,
    }
}

/// The content store under one storage directory.
#[derive(Clone, Debug)]
pub struct Store {
    bundles: PathBuf,
    tmp: PathBuf,
}

impl Store {
    /// Opens (creating) the store under `dir` and removes temporary files a previous process
    /// left behind; `dir` must not be in use by another process.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let store = Self {
            bundles: dir.join("bundles"),
            tmp: dir.join("tmp"),
        };
        fs::create_dir_all(&store.bundles).map_err(io_err("creating", &store.bundles))?;
        if store.tmp.exists() {
            fs::remove_dir_all(&store.tmp).map_err(io_err("removing", &store.tmp))?;
        }
        fs::create_dir_all(&store.tmp).map_err(io_err("creating", &store.tmp))?;
        Ok(store)
    }

    /// Where work in progress goes (unpack scratch directories too), emptied at start-up.
    pub fn scratch(&self) -> &Path {
        &self.tmp
    }

    /// The tarball served for `name`, if the name is one.
    pub fn tarball(&self, name: &str) -> Result<PathBuf, StoreError> {
        check_name(name)?;
        Ok(self.bundles.join(format!("{name}.tgz")))
    }

    fn record_path(&self, name: &str) -> Result<PathBuf, StoreError> {
        check_name(name)?;
        Ok(self.bundles.join(format!("{name}.json")))
    }

    /// The record for `name`, if complete content is stored.
    pub fn current(&self, name: &str) -> Result<Option<StoredBundle>, StoreError> {
        let path = self.record_path(name)?;
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err("reading", &path)(e)),
        };
        let record: StoredBundle =
            serde_json::from_slice(&bytes).map_err(|source| StoreError::Record { path, source })?;
        Ok(self.tarball(name)?.is_file().then_some(record))
    }

    /// Stores the files under `content` as the content of `name`, replacing what was there.
    /// Blocking: call it from `spawn_blocking`.
    pub fn write(
        &self,
        name: &str,
        uid: &str,
        resolved_source: &BundleSource,
        content: &Path,
    ) -> Result<StoredBundle, StoreError> {
        let tarball = self.tarball(name)?;
        let record_path = self.record_path(name)?;
        let staged = tempfile::Builder::new()
            .prefix(&format!("{name}.tgz."))
            .tempfile_in(&self.tmp)
            .map_err(io_err("creating a temporary file in", &self.tmp))?;
        let (digest, size) = write_tarball(content, staged.as_file())?;
        let record = StoredBundle {
            uid: uid.to_owned(),
            resolved_source: resolved_source.clone(),
            digest,
            size,
        };
        // The old record goes first: a crash between the renames then leaves no record, and
        // the next reconcile unpacks again instead of trusting a stale one.
        remove_if_present(&record_path)?;
        staged
            .persist(&tarball)
            .map_err(|e| io_err("renaming into", &tarball)(e.error))?;
        let json = serde_json::to_vec(&record).expect("a record serializes");
        write_atomic(&self.tmp, &record_path, &json)?;
        Ok(record)
    }

    /// Extracts the stored tarball of `name` into `dest` (an existing empty directory), with
    /// the same safe extraction as unpacking. Blocking: call it from `spawn_blocking`.
    pub fn extract(&self, name: &str, dest: &Path) -> Result<(), StoreError> {
        let tarball = self.tarball(name)?;
        let layer = oci::LayerFile {
            path: tarball.clone(),
            compression: oci::LayerCompression::Gzip,
            name: format!("{name}.tgz"),
            diff_id: None,
        };
        let options = oci::ExtractOptions {
            symlinks: oci::SymlinkPolicy::AllowWithinRoot,
            ..oci::ExtractOptions::default()
        };
        oci::extract_layers(&[layer], dest, &options)
            .map(|_| ())
            .map_err(|source| StoreError::Extract {
                path: tarball,
                source,
            })
    }

    /// Removes the content of `name`; a name with nothing stored is fine.
    pub fn delete(&self, name: &str) -> Result<(), StoreError> {
        remove_if_present(&self.record_path(name)?)?;
        remove_if_present(&self.tarball(name)?)
    }

    /// Names with a record or a tarball in the store.
    pub fn names(&self) -> Result<Vec<String>, StoreError> {
        let mut names: Vec<String> = fs::read_dir(&self.bundles)
            .map_err(io_err("listing", &self.bundles))?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let file = e.file_name().into_string().ok()?;
                let name = file
                    .strip_suffix(".tgz")
                    .or_else(|| file.strip_suffix(".json"))?;
                Some(name.to_owned())
            })
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }
}

/// Bundle names are DNS subdomains (at most 52 characters by the CRD); anything else is
/// refused before it can name a file.
fn check_name(name: &str) -> Result<(), StoreError> {
    let ok = !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && !name.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(StoreError::BadName {
            name: name.to_owned(),
        })
    }
}

fn remove_if_present(path: &Path) -> Result<(), StoreError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_err("removing", path)(e)),
        _ => Ok(()),
    }
}

/// Writes `bytes` to `dest` through a temporary file in `tmp` and a rename.
pub(crate) fn write_atomic(tmp: &Path, dest: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let mut staged = tempfile::NamedTempFile::new_in(tmp)
        .map_err(io_err("creating a temporary file in", tmp))?;
    staged
        .write_all(bytes)
        .and_then(|()| staged.as_file().sync_all())
        .map_err(io_err("writing", staged.path()))?;
    staged
        .persist(dest)
        .map_err(|e| io_err("renaming into", dest)(e.error))?;
    Ok(())
}

/// A deterministic gzipped tar of the regular files and directories under `root`: sorted
/// paths, owner 0, time 0, permission bits kept. Symlinks and special files are left out,
/// as upstream's store does. Returns the tarball's digest and size.
fn write_tarball(root: &Path, out: &File) -> Result<(String, u64), StoreError> {
    let hashing = HashingWriter {
        inner: BufWriter::new(out),
        hasher: Sha256::new(),
        written: 0,
    };
    let mut builder = tar::Builder::new(GzEncoder::new(hashing, Compression::default()));
    builder.mode(tar::HeaderMode::Deterministic);
    for entry in walkdir::WalkDir::new(root).min_depth(1).sort_by_file_name() {
        let entry = entry.map_err(|e| {
            let path = e.path().unwrap_or(root).to_owned();
            io_err("reading", &path)(e.into())
        })?;
        let relative = entry
            .path()
            .strip_prefix(root)
            .expect("walk stays under root");
        let file_type = entry.file_type();
        if file_type.is_dir() {
            builder
                .append_dir(relative, entry.path())
                .map_err(io_err("archiving", entry.path()))?;
        } else if file_type.is_file() {
            let mut file = File::open(entry.path()).map_err(io_err("opening", entry.path()))?;
            builder
                .append_file(relative, &mut file)
                .map_err(io_err("archiving", entry.path()))?;
        }
    }
    let encoder = builder.into_inner().map_err(io_err("archiving", root))?;
    let mut hashing = encoder.finish().map_err(io_err("compressing", root))?;
    hashing.inner.flush().map_err(io_err("writing", root))?;
    hashing
        .inner
        .get_ref()
        .sync_all()
        .map_err(io_err("syncing", root))?;
    let digest = format!("sha256:{}", hex::encode(hashing.hasher.finalize()));
    Ok((digest, hashing.written))
}

struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    written: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::BundleFixture;
    use std::io::Read;

    fn content() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("manifests")).unwrap();
        fs::write(dir.path().join("manifests/ns.yaml"), "kind: Namespace\n").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("manifests/link")).unwrap();
        dir
    }

    fn entries(tgz: &Path) -> Vec<(String, Vec<u8>)> {
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(File::open(tgz).unwrap()));
        archive
            .entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                assert_eq!(e.header().uid().unwrap(), 0);
                let path = e.path().unwrap().to_string_lossy().into_owned();
                let mut body = Vec::new();
                e.read_to_end(&mut body).unwrap();
                (path, body)
            })
            .collect()
    }

    #[test]
    fn content_is_stored_as_a_deterministic_tarball_without_symlinks() {
        let root = tempfile::tempdir().unwrap();
        let store = Store::open(root.path()).unwrap();
        let source = BundleFixture::git("b", "v1").build().spec.source;
        let dir = content();
        let first = store.write("b", "u1", &source, dir.path()).unwrap();
        let again = store.write("b", "u1", &source, dir.path()).unwrap();
        assert_eq!(first.digest, again.digest, "same files, same bytes");
        assert_eq!(store.current("b").unwrap(), Some(first));
        assert_eq!(
            entries(&store.tarball("b").unwrap()),
            vec![
                ("manifests".to_owned(), vec![]),
                (
                    "manifests/ns.yaml".to_owned(),
                    b"kind: Namespace\n".to_vec()
                )
            ]
        );
        assert_eq!(store.names().unwrap(), ["b"]);
        store.delete("b").unwrap();
        assert_eq!(store.current("b").unwrap(), None);
        store.delete("b").unwrap();
        assert!(store.names().unwrap().is_empty());
    }

    #[test]
    fn a_tarball_without_its_record_is_not_content_and_leftovers_go_at_start() {
        let root = tempfile::tempdir().unwrap();
        let store = Store::open(root.path()).unwrap();
        fs::write(store.tarball("b").unwrap(), b"half").unwrap();
        fs::write(store.scratch().join("b.tgz.x"), b"interrupted").unwrap();
        assert_eq!(store.current("b").unwrap(), None);
        let store = Store::open(root.path()).unwrap();
        assert_eq!(fs::read_dir(store.scratch()).unwrap().count(), 0);
    }

    #[test]
    fn names_that_are_not_bundle_names_never_reach_the_filesystem() {
        let store = Store::open(tempfile::tempdir().unwrap().path()).unwrap();
        for bad in ["", "../x", "a/b", ".hidden", "UPPER"] {
            assert!(
                matches!(store.tarball(bad), Err(StoreError::BadName { .. })),
                "{bad}"
            );
        }
    }
}
