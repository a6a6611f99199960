//! Catalog content on disk, one directory per unpacked digest, switched in atomically.
//!
//! ```text
//! <root>/<catalog>/current            -> symlink to the digest directory being served
//! <root>/<catalog>/sha256-<hex>/all.json       JSON Lines, canonical form
//! <root>/<catalog>/sha256-<hex>/all.json.gz    the same, gzip (served precompressed)
//! <root>/<catalog>/sha256-<hex>/index.json     byte-offset index for /api/v1/metas
//! <root>/<catalog>/sha256-<hex>/source.json    the image reference it was unpacked from
//! <root>/<catalog>/failed.json                  the last image digest whose content failed
//! ```
//!
//! A digest directory is built under a temporary name and renamed into place, then the
//! `current` link is replaced by rename, so readers see either the old or the new content,
//! never a mix. State is read back from disk (never from the Catalog's status), so a
//! restarted catalogd knows exactly what it can serve.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use flate2::Compression;
use flate2::write::GzEncoder;

use crate::index::MetaIndex;

pub(crate) const ALL_FILE: &str = "all.json";
pub(crate) const INDEX_FILE: &str = "index.json";
/// Where the content came from, so status can be rebuilt from the store after a restart.
pub(crate) const SOURCE_FILE: &str = "source.json";
/// The [`FailedUnpack`] record of a catalog.
const FAILED_FILE: &str = "failed.json";
const CURRENT_LINK: &str = "current";
/// The new `current` link, before it is renamed over the old one.
const CURRENT_LINK_TMP: &str = ".current.tmp";
/// Digest directories being written, before they are renamed into place.
const TMP_PREFIX: &str = ".tmp-";
/// Below this size gzip is not worth it (upstream's gzip handler uses the same threshold).
const GZIP_MIN_BYTES: u64 = 1400;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("invalid catalog name {0:?}: must be a DNS-1123 subdomain")]
    InvalidName(String),
    #[error("invalid digest {0:?}: expected sha256:<64 hex digits>")]
    InvalidDigest(String),
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("reading index {path}: {source}")]
    Index {
        path: PathBuf,
        source: serde_json::Error,
    },
}

fn io_err(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> StoreError + use<> {
    let path = path.to_path_buf();
    move |source| StoreError::Io {
        action,
        path,
        source,
    }
}

/// The image a stored catalog was unpacked from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredSource {
    /// The reference as written in the Catalog spec.
    #[serde(rename = "ref")]
    pub reference: String,
    /// `<repository>@sha256:<hex>`.
    pub resolved_ref: String,
}

/// An image digest whose content failed to unpack, and under which conditions: the
/// controller does not try that digest again while they hold (see `plan::remembered`).
/// Kept on disk so a restarted catalogd remembers it too.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FailedUnpack {
    /// The Catalog object's `metadata.uid`: a recreated Catalog starts afresh.
    pub(crate) uid: String,
    /// Its `metadata.generation` at the failure: a spec change starts afresh.
    pub(crate) generation: Option<i64>,
    /// Its retry annotation's value at the failure: changing it asks for one more attempt.
    pub(crate) retry: Option<String>,
    /// catalogd's settings that judged the content (its limits), as text.
    pub(crate) settings: String,
    /// `sha256:<hex>` of the image manifest.
    pub(crate) digest: String,
    /// The `Unpacked` condition's reason and message for it.
    pub(crate) reason: String,
    pub(crate) message: String,
    /// When the digest was last resolved and found to be this one, in seconds since the
    /// epoch: the next poll is due a poll interval later.
    pub(crate) checked_at: u64,
}

/// What is being served for one catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCatalog {
    pub name: String,
    /// `sha256:<hex>` of the image manifest the content came from.
    pub digest: String,
    pub dir: PathBuf,
    /// When the content was stored: the `Last-Modified` of the served files.
    pub stored_at: SystemTime,
    pub size: u64,
    pub source: Option<StoredSource>,
}

impl StoredCatalog {
    pub fn all_path(&self) -> PathBuf {
        self.dir.join(ALL_FILE)
    }

    pub(crate) fn load_index(&self) -> Result<MetaIndex, StoreError> {
        let path = self.dir.join(INDEX_FILE);
        let bytes = fs::read(&path).map_err(io_err("reading", &path))?;
        serde_json::from_slice(&bytes).map_err(|source| StoreError::Index { path, source })
    }
}

/// Identifies one switch of a catalog's `current` link. Every commit renames a freshly
/// created symlink into place, so the link's inode and change time differ after each
/// commit; reading it is a single `lstat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Version {
    dev: u64,
    ino: u64,
    ctime: i64,
    ctime_nsec: i64,
}

#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let root = root.into();
        fs::create_dir_all(&root).map_err(io_err("creating", &root))?;
        Ok(Self { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn catalog_dir(&self, name: &str) -> Result<PathBuf, StoreError> {
        validate_name(name)?;
        Ok(self.root.join(name))
    }

    /// Which commit `current` is for `name` (`None`: nothing stored). Cheap enough to call
    /// on every request, to revalidate what a reader cached from [`Self::current`].
    pub(crate) fn version(&self, name: &str) -> Result<Option<Version>, StoreError> {
        use std::os::unix::fs::MetadataExt;
        let link = self.catalog_dir(name)?.join(CURRENT_LINK);
        match fs::symlink_metadata(&link) {
            Ok(m) => Ok(Some(Version {
                dev: m.dev(),
                ino: m.ino(),
                ctime: m.ctime(),
                ctime_nsec: m.ctime_nsec(),
            })),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err("reading", &link)(e)),
        }
    }

    /// The content being served for `name`, if it is complete on disk.
    pub fn current(&self, name: &str) -> Result<Option<StoredCatalog>, StoreError> {
        let dir = self.catalog_dir(name)?;
        let link = dir.join(CURRENT_LINK);
        let target = match fs::read_link(&link) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err("reading", &link)(e)),
        };
        let Some(digest) = target.to_str().and_then(digest_from_dir_name) else {
            return Ok(None);
        };
        let digest_dir = dir.join(&target);
        let all = digest_dir.join(ALL_FILE);
        let meta = match fs::metadata(&all) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err("reading", &all)(e)),
        };
        if !digest_dir.join(INDEX_FILE).is_file() {
            return Ok(None);
        }
        let source = read_source(&digest_dir);
        Ok(Some(StoredCatalog {
            name: name.to_owned(),
            digest,
            dir: digest_dir,
            stored_at: meta.modified().map_err(io_err("reading", &all))?,
            size: meta.len(),
            source,
        }))
    }

    /// Starts writing the content of `digest` for catalog `name`. Nothing is visible to
    /// readers until [`CatalogWriter::commit`].
    pub fn begin(&self, name: &str, digest: &str) -> Result<CatalogWriter, StoreError> {
        let dir = self.catalog_dir(name)?;
        let final_name = dir_name_for_digest(digest)?;
        fs::create_dir_all(&dir).map_err(io_err("creating", &dir))?;
        let tmp = tempdir_in(&dir, &final_name)?;
        let all = tmp.join(ALL_FILE);
        let file = File::create(&all).map_err(io_err("creating", &all))?;
        Ok(CatalogWriter {
            name: name.to_owned(),
            digest: digest.to_owned(),
            catalog_dir: dir,
            final_name,
            tmp: Some(tmp),
            out: BufWriter::with_capacity(1 << 20, file),
            offset: 0,
            index: MetaIndex::default(),
            source: None,
        })
    }

    /// The failure remembered for `name`, if any. An unreadable record is reported in the
    /// log and treated as none: forgetting a failure only costs one more attempt.
    pub(crate) fn failed_unpack(&self, name: &str) -> Result<Option<FailedUnpack>, StoreError> {
        let path = self.catalog_dir(name)?.join(FAILED_FILE);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err("reading", &path)(e)),
        };
        match serde_json::from_slice(&bytes) {
            Ok(record) => Ok(Some(record)),
            Err(e) => {
                tracing::warn!("ignoring unreadable failure record {}: {e}", path.display());
                Ok(None)
            }
        }
    }

    /// Records `failed` for `name`, replacing any earlier record atomically (written under
    /// a temporary name, synced, renamed), so a crash leaves the old record or the new one.
    pub(crate) fn remember_failure(
        &self,
        name: &str,
        failed: &FailedUnpack,
    ) -> Result<(), StoreError> {
        let dir = self.catalog_dir(name)?;
        fs::create_dir_all(&dir).map_err(io_err("creating", &dir))?;
        // The temporary name is one `unfinished` lists, so a crash leaves nothing behind.
        let tmp = dir.join(format!("{TMP_PREFIX}{FAILED_FILE}"));
        let bytes = serde_json::to_vec(failed).expect("failure record serialises");
        write_synced(&tmp, &bytes)?;
        let path = dir.join(FAILED_FILE);
        fs::rename(&tmp, &path).map_err(io_err("renaming", &tmp))?;
        sync_dir(&dir)
    }

    /// Drops the failure remembered for `name` (there may be none).
    pub(crate) fn forget_failure(&self, name: &str) -> Result<(), StoreError> {
        let path = self.catalog_dir(name)?.join(FAILED_FILE);
        match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_err("removing", &path)(e)),
            _ => Ok(()),
        }
    }

    /// Removes everything stored for `name`.
    pub fn delete(&self, name: &str) -> Result<(), StoreError> {
        let dir = self.catalog_dir(name)?;
        match fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_err("removing", &dir)(e)),
            _ => Ok(()),
        }
    }

    /// Temp directories and links of commits that never finished (the process stopped
    /// mid-write), and failure records never renamed into place: `.tmp-*` and
    /// `.current.tmp` in each catalog's directory. Digest
    /// directories and `current` links are never listed, so served content is untouched.
    pub(crate) fn unfinished(&self) -> Result<Vec<PathBuf>, StoreError> {
        let mut found = Vec::new();
        for name in self.names()? {
            let dir = self.root.join(&name);
            let entries = match fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_err("listing", &dir)(e)),
            };
            for entry in entries {
                let entry = entry.map_err(io_err("listing", &dir))?;
                let file_name = entry.file_name();
                let file_name = file_name.to_string_lossy();
                if file_name.starts_with(TMP_PREFIX) || file_name == CURRENT_LINK_TMP {
                    found.push(entry.path());
                }
            }
        }
        Ok(found)
    }

    /// Names of all catalogs with a directory in the store (for garbage collection).
    pub fn names(&self) -> Result<Vec<String>, StoreError> {
        let mut names = Vec::new();
        for entry in fs::read_dir(&self.root).map_err(io_err("listing", &self.root))? {
            let entry = entry.map_err(io_err("listing", &self.root))?;
            if let Some(n) = entry.file_name().to_str()
                && validate_name(n).is_ok()
            {
                names.push(n.to_owned());
            }
        }
        names.sort();
        Ok(names)
    }
}

/// Writes one catalog's JSON Lines, the index and the gzip copy into a temp directory.
/// Dropped without `commit`, it removes what it wrote.
pub struct CatalogWriter {
    name: String,
    digest: String,
    catalog_dir: PathBuf,
    final_name: String,
    tmp: Option<PathBuf>,
    out: BufWriter<File>,
    offset: u64,
    index: MetaIndex,
    source: Option<StoredSource>,
}

impl CatalogWriter {
    /// Records where the content comes from (kept next to it as `source.json`).
    pub fn set_source(&mut self, source: StoredSource) {
        self.source = Some(source);
    }

    /// Appends one meta; `line` is its canonical compact JSON, without the newline.
    pub fn push(
        &mut self,
        schema: &str,
        package: &str,
        name: &str,
        line: &str,
    ) -> Result<(), StoreError> {
        let len = line.len() as u64 + 1;
        self.index.add(schema, package, name, (self.offset, len));
        self.offset += len;
        let path = self.tmp_path().join(ALL_FILE);
        self.out
            .write_all(line.as_bytes())
            .and_then(|()| self.out.write_all(b"\n"))
            .map_err(io_err("writing", &path))
    }

    fn tmp_path(&self) -> &Path {
        self.tmp.as_deref().expect("temp dir present until commit")
    }

    /// Makes the content durable and switches `current` to it atomically; older digests
    /// of this catalog are removed afterwards.
    pub fn commit(mut self) -> Result<StoredCatalog, StoreError> {
        let tmp = self.tmp_path().to_path_buf();
        let all = tmp.join(ALL_FILE);
        self.out.flush().map_err(io_err("writing", &all))?;
        self.out
            .get_ref()
            .sync_all()
            .map_err(io_err("syncing", &all))?;

        let index_path = tmp.join(INDEX_FILE);
        let index = serde_json::to_vec(&self.index).expect("index serialises");
        write_synced(&index_path, &index)?;
        if let Some(source) = &self.source {
            let bytes = serde_json::to_vec(source).expect("source serialises");
            write_synced(&tmp.join(SOURCE_FILE), &bytes)?;
        }
        if self.offset > GZIP_MIN_BYTES {
            gzip_copy(&all, &tmp.join(format!("{ALL_FILE}.gz")))?;
        }
        sync_dir(&tmp)?;

        let final_dir = self.catalog_dir.join(&self.final_name);
        if final_dir.exists() {
            // A previous attempt for the same digest (e.g. interrupted before the link
            // switch); the fresh copy replaces it.
            fs::remove_dir_all(&final_dir).map_err(io_err("removing", &final_dir))?;
        }
        fs::rename(&tmp, &final_dir).map_err(io_err("renaming", &tmp))?;
        self.tmp = None;

        let link_tmp = self.catalog_dir.join(CURRENT_LINK_TMP);
        let _ = fs::remove_file(&link_tmp);
        std::os::unix::fs::symlink(&self.final_name, &link_tmp)
            .map_err(io_err("linking", &link_tmp))?;
        let link = self.catalog_dir.join(CURRENT_LINK);
        fs::rename(&link_tmp, &link).map_err(io_err("switching", &link))?;
        sync_dir(&self.catalog_dir)?;

        self.remove_stale();
        let meta = fs::metadata(final_dir.join(ALL_FILE)).map_err(io_err("reading", &final_dir))?;
        Ok(StoredCatalog {
            name: self.name.clone(),
            digest: self.digest.clone(),
            dir: final_dir,
            stored_at: meta.modified().map_err(io_err("reading", &all))?,
            size: meta.len(),
            source: self.source.clone(),
        })
    }

    /// Old digest directories and abandoned temp dirs; the failure record is the
    /// controller's to forget. Open files keep working: a reader in the middle of a
    /// response holds its file descriptor.
    fn remove_stale(&self) {
        let Ok(entries) = fs::read_dir(&self.catalog_dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if name != self.final_name
                && name != CURRENT_LINK
                && name != FAILED_FILE
                && !name.starts_with(".current")
            {
                let path = entry.path();
                if let Err(e) = fs::remove_dir_all(&path) {
                    tracing::warn!("removing stale catalog content {}: {e}", path.display());
                }
            }
        }
    }
}

impl Drop for CatalogWriter {
    fn drop(&mut self) {
        if let Some(tmp) = self.tmp.take() {
            let _ = fs::remove_dir_all(tmp);
        }
    }
}

fn read_source(dir: &Path) -> Option<StoredSource> {
    let bytes = fs::read(dir.join(SOURCE_FILE)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn validate_name(name: &str) -> Result<(), StoreError> {
    let ok = !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name.as_bytes()[name.len() - 1].is_ascii_alphanumeric();
    if ok {
        Ok(())
    } else {
        Err(StoreError::InvalidName(name.to_owned()))
    }
}

fn dir_name_for_digest(digest: &str) -> Result<String, StoreError> {
    match digest.strip_prefix("sha256:") {
        Some(hex) if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Ok(format!("sha256-{}", hex.to_ascii_lowercase()))
        }
        _ => Err(StoreError::InvalidDigest(digest.to_owned())),
    }
}

fn digest_from_dir_name(dir: &str) -> Option<String> {
    let hex = dir.strip_prefix("sha256-")?;
    (hex.len() == 64).then(|| format!("sha256:{hex}"))
}

fn tempdir_in(parent: &Path, stem: &str) -> Result<PathBuf, StoreError> {
    let pid = std::process::id();
    for attempt in 0u32..1000 {
        let path = parent.join(format!("{TMP_PREFIX}{stem}-{pid}-{attempt}"));
        match fs::create_dir(&path) {
            Ok(()) => return Ok(path),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io_err("creating", &path)(e)),
        }
    }
    Err(io_err("creating", parent)(io::Error::other(
        "no free temporary directory name",
    )))
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let mut f = File::create(path).map_err(io_err("creating", path))?;
    f.write_all(bytes).map_err(io_err("writing", path))?;
    f.sync_all().map_err(io_err("syncing", path))
}

fn gzip_copy(src: &Path, dst: &Path) -> Result<(), StoreError> {
    let mut input = File::open(src).map_err(io_err("reading", src))?;
    let out = File::create(dst).map_err(io_err("creating", dst))?;
    // Level 6 is the usual web default: most of the size win for a fraction of level 9's time.
    let mut gz = GzEncoder::new(BufWriter::new(out), Compression::new(6));
    io::copy(&mut input, &mut gz).map_err(io_err("compressing", src))?;
    let out = gz.finish().map_err(io_err("compressing", dst))?;
    let file = out
        .into_inner()
        .map_err(|e| io_err("writing", dst)(e.into_error()))?;
    file.sync_all().map_err(io_err("syncing", dst))
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("syncing", dir))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::MetaQuery;

    const D1: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    const D2: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

    fn write(store: &Store, name: &str, digest: &str, lines: &[(&str, &str, &str, &str)]) {
        let mut w = store.begin(name, digest).unwrap();
        for (s, p, n, l) in lines {
            w.push(s, p, n, l).unwrap();
        }
        w.commit().unwrap();
    }

    #[test]
    fn commit_switches_content_and_removes_the_old_digest() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(tmp.path()).unwrap();
        assert_eq!(store.current("cat").unwrap(), None);

        write(
            &store,
            "cat",
            D1,
            &[("olm.package", "", "a", r#"{"name":"a"}"#)],
        );
        let first = store.current("cat").unwrap().unwrap();
        assert_eq!(first.digest, D1);
        assert_eq!(
            fs::read_to_string(first.all_path()).unwrap(),
            "{\"name\":\"a\"}\n"
        );

        write(
            &store,
            "cat",
            D2,
            &[
                ("olm.package", "", "b", r#"{"name":"b"}"#),
                ("olm.bundle", "b", "b.v1", r#"{"name":"b.v1"}"#),
            ],
        );
        let second = store.current("cat").unwrap().unwrap();
        assert_eq!(second.digest, D2);
        assert!(!first.dir.exists(), "old digest removed after the switch");
        let idx = second.load_index().unwrap();
        let q = MetaQuery {
            package: Some("b".into()),
            ..Default::default()
        };
        assert_eq!(idx.query(&q), Some(vec![(13, 16)]));
    }

    #[test]
    fn an_abandoned_writer_leaves_the_served_content_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(tmp.path()).unwrap();
        write(
            &store,
            "cat",
            D1,
            &[("olm.package", "", "a", r#"{"name":"a"}"#)],
        );
        {
            let mut w = store.begin("cat", D2).unwrap();
            w.push("olm.package", "", "z", "{}").unwrap();
            // dropped: e.g. the FBC turned out invalid half-way
        }
        assert_eq!(store.current("cat").unwrap().unwrap().digest, D1);
        let entries: Vec<_> = fs::read_dir(tmp.path().join("cat")).unwrap().collect();
        assert_eq!(
            entries.len(),
            2,
            "only the digest dir and the current link remain"
        );
    }

    #[test]
    fn version_changes_with_every_commit_and_deletion() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(tmp.path()).unwrap();
        assert_eq!(store.version("cat").unwrap(), None);
        write(&store, "cat", D1, &[("olm.package", "", "a", "{}")]);
        let v1 = store.version("cat").unwrap().unwrap();
        assert_eq!(
            store.version("cat").unwrap(),
            Some(v1),
            "stable without commits"
        );
        write(&store, "cat", D2, &[("olm.package", "", "b", "{}")]);
        let v2 = store.version("cat").unwrap().unwrap();
        assert_ne!(v1, v2);
        // Even the same digest again (a re-commit) is a new version.
        write(&store, "cat", D2, &[("olm.package", "", "b", "{}")]);
        assert_ne!(store.version("cat").unwrap().unwrap(), v2);
        store.delete("cat").unwrap();
        assert_eq!(store.version("cat").unwrap(), None);
    }

    #[test]
    fn large_content_gets_a_gzip_copy() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(tmp.path()).unwrap();
        let line = format!(r#"{{"name":"{}"}}"#, "x".repeat(2000));
        write(&store, "big", D1, &[("olm.package", "", "x", &line)]);
        let cur = store.current("big").unwrap().unwrap();
        assert!(cur.dir.join("all.json.gz").is_file());
    }

    #[test]
    fn names_and_digests_are_validated() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(tmp.path()).unwrap();
        assert!(matches!(
            store.begin("../x", D1),
            Err(StoreError::InvalidName(_))
        ));
        assert!(matches!(
            store.begin("ok", "sha256:zz"),
            Err(StoreError::InvalidDigest(_))
        ));
        assert!(matches!(
            store.current("Bad"),
            Err(StoreError::InvalidName(_))
        ));
    }

    #[test]
    fn delete_removes_everything() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(tmp.path()).unwrap();
        write(&store, "cat", D1, &[("olm.package", "", "a", "{}")]);
        assert_eq!(store.names().unwrap(), vec!["cat".to_owned()]);
        store.delete("cat").unwrap();
        assert_eq!(store.current("cat").unwrap(), None);
        assert!(store.names().unwrap().is_empty());
        store.delete("cat").unwrap();
    }

    #[test]
    fn a_failure_record_survives_reopening_and_goes_when_forgotten_or_with_the_catalog() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(tmp.path()).unwrap();
        assert_eq!(store.failed_unpack("cat").unwrap(), None);
        let record = FailedUnpack {
            uid: "u1".into(),
            generation: Some(2),
            retry: None,
            settings: "max-catalog-entries=10".into(),
            digest: D2.into(),
            reason: "InvalidCatalog".into(),
            message: "invalid catalog: x".into(),
            checked_at: 1_700_000_000,
        };
        store.remember_failure("cat", &record).unwrap();
        let reopened = Store::open(tmp.path()).unwrap();
        assert_eq!(reopened.failed_unpack("cat").unwrap(), Some(record.clone()));
        assert_eq!(
            reopened.current("cat").unwrap(),
            None,
            "a record is no content"
        );
        assert!(reopened.unfinished().unwrap().is_empty());

        // Unreadable: forgotten, not an error.
        fs::write(tmp.path().join("cat").join(FAILED_FILE), b"{").unwrap();
        assert_eq!(store.failed_unpack("cat").unwrap(), None);

        store.remember_failure("cat", &record).unwrap();
        write(&store, "cat", D1, &[("olm.package", "", "a", "{}")]);
        assert_eq!(
            store.failed_unpack("cat").unwrap(),
            Some(record.clone()),
            "committing leaves it to the controller"
        );
        store.forget_failure("cat").unwrap();
        store.forget_failure("cat").unwrap();
        assert_eq!(store.failed_unpack("cat").unwrap(), None);
        store.remember_failure("cat", &record).unwrap();
        store.delete("cat").unwrap();
        assert_eq!(store.failed_unpack("cat").unwrap(), None);
    }
}
