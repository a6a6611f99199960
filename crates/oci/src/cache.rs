//! A content-addressed blob cache: `<root>/blobs/sha256/<hex>`. Blobs are written to
//! `<root>/tmp/`, verified, synced and only then renamed into place, so a partial or
//! corrupt download never becomes a cache entry.
//!
//! `<root>/diff_ids/<layer hex>` records a layer's uncompressed digest once it has been
//! computed (a layer read to its end, or one we built): a fact about the blob's content, so
//! an image built on that layer later needs no second read to trust its `diff_id`.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use crate::digest::{HashingWriter, Sha256Digest};
use crate::error::ImageError;

#[derive(Clone, Debug)]
pub struct BlobCache {
    root: PathBuf,
}

impl BlobCache {
    /// Opens (creating if needed) a cache rooted at `root`.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, ImageError> {
        let root = root.into();
        for dir in [
            root.join("blobs/sha256"),
            root.join("tmp"),
            root.join("diff_ids"),
        ] {
            fs::create_dir_all(&dir)
                .map_err(|e| ImageError::io(format!("creating cache dir {}", dir.display()), e))?;
        }
        Ok(BlobCache { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where downloads are written before they are verified. Anything here that no process
    /// is writing is a leftover of an interrupted download; its owner may remove it.
    pub fn temp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    pub fn path(&self, digest: &Sha256Digest) -> PathBuf {
        self.root.join("blobs/sha256").join(digest.hex())
    }

    pub fn contains(&self, digest: &Sha256Digest) -> bool {
        fs::symlink_metadata(self.path(digest)).is_ok_and(|m| m.is_file())
    }

    /// A temp file on the cache's filesystem, deleted on drop unless committed.
    pub(crate) fn temp_file(&self) -> Result<NamedTempFile, ImageError> {
        tempfile::Builder::new()
            .prefix("blob-")
            .tempfile_in(self.temp_dir())
            .map_err(|e| {
                ImageError::io(
                    format!("creating a temp file in {}", self.root.display()),
                    e,
                )
            })
    }

    /// Moves a fully written temp file into the cache if `actual` is `expected`.
    pub(crate) fn commit(
        &self,
        tmp: NamedTempFile,
        expected: &Sha256Digest,
        actual: &Sha256Digest,
        what: &str,
    ) -> Result<PathBuf, ImageError> {
        if expected != actual {
            return Err(ImageError::DigestMismatch {
                what: what.to_owned(),
                expected: expected.to_string(),
                actual: actual.to_string(),
            });
        }
        tmp.as_file()
            .sync_all()
            .map_err(|e| ImageError::io(format!("syncing {what}"), e))?;
        let dest = self.path(expected);
        if self.contains(expected) {
            return Ok(dest);
        }
        tmp.persist(&dest)
            .map_err(|e| ImageError::io(format!("storing {what} in the cache"), e.error))?;
        Ok(dest)
    }

    /// Stores `data`, returning its digest.
    pub fn insert_bytes(&self, data: &[u8]) -> Result<Sha256Digest, ImageError> {
        let digest = Sha256Digest::of(data);
        if self.contains(&digest) {
            return Ok(digest);
        }
        let mut tmp = self.temp_file()?;
        tmp.write_all(data)
            .map_err(|e| ImageError::io("writing a blob to the cache", e))?;
        self.commit(tmp, &digest, &digest, &format!("blob {digest}"))?;
        Ok(digest)
    }

    /// Copies a file into the cache, verifying it against `expected` on the way.
    pub(crate) fn insert_file(
        &self,
        src: &Path,
        expected: &Sha256Digest,
    ) -> Result<PathBuf, ImageError> {
        if self.contains(expected) {
            return Ok(self.path(expected));
        }
        let mut input = fs::File::open(src)
            .map_err(|e| ImageError::io(format!("opening blob {}", src.display()), e))?;
        let tmp = self.temp_file()?;
        let mut w = HashingWriter::new(tmp);
        std::io::copy(&mut input, &mut w)
            .map_err(|e| ImageError::io(format!("copying blob {}", src.display()), e))?;
        let (tmp, actual, _) = w.finish();
        self.commit(tmp, expected, &actual, &format!("blob {}", src.display()))
    }

    /// Records that the layer blob `layer` decompresses to a stream with digest `diff_id`.
    pub(crate) fn record_diff_id(
        &self,
        layer: &Sha256Digest,
        diff_id: &Sha256Digest,
    ) -> Result<(), ImageError> {
        let path = self.root.join("diff_ids").join(layer.hex());
        if self.diff_id(layer).as_ref() == Some(diff_id) {
            return Ok(());
        }
        let mut tmp = self.temp_file()?;
        tmp.write_all(diff_id.as_str().as_bytes())
            .and_then(|()| tmp.as_file().sync_all())
            .map_err(|e| ImageError::io(format!("recording the diff_id of layer {layer}"), e))?;
        tmp.persist(&path).map_err(|e| {
            ImageError::io(format!("recording the diff_id of layer {layer}"), e.error)
        })?;
        Ok(())
    }

    /// The diff_id recorded for `layer`, if any (an unreadable record counts as none).
    pub(crate) fn diff_id(&self, layer: &Sha256Digest) -> Option<Sha256Digest> {
        let text = fs::read_to_string(self.root.join("diff_ids").join(layer.hex())).ok()?;
        Sha256Digest::parse(&text).ok()
    }

    /// Reads a (small) cached blob, e.g. a manifest or config. Blobs here were verified
    /// when stored.
    pub fn read(&self, digest: &Sha256Digest) -> Result<Vec<u8>, ImageError> {
        let mut data = Vec::new();
        fs::File::open(self.path(digest))
            .and_then(|mut f| f.read_to_end(&mut data))
            .map_err(|e| ImageError::io(format!("reading cached blob {digest}"), e))?;
        Ok(data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_verified_blobs_land() {
        let dir = tempfile::tempdir().unwrap();
        let cache = BlobCache::open(dir.path()).unwrap();
        let d = cache.insert_bytes(b"hello").unwrap();
        assert!(cache.contains(&d));
        assert_eq!(cache.read(&d).unwrap(), b"hello");

        let mut tmp = cache.temp_file().unwrap();
        tmp.write_all(b"tampered").unwrap();
        let wanted = Sha256Digest::of(b"original");
        let err = cache
            .commit(tmp, &wanted, &Sha256Digest::of(b"tampered"), "test blob")
            .unwrap_err();
        assert!(matches!(err, ImageError::DigestMismatch { .. }), "{err}");
        assert!(!cache.contains(&wanted));
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    }
}
