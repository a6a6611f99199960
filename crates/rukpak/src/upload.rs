//! Uploaded content (`source.type: upload`, rukpak.md §5.5): `PUT /uploads/<bundle>.tgz`
//! stores the archive at `uploads/<bundle>.tgz` under the storage directory, where the
//! upload source unpacks it; the file goes when its Bundle does.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use futures::StreamExt;
use sha2::{Digest, Sha256};

/// Upload files, one per Bundle name.
#[derive(Clone, Debug)]
pub struct Uploads {
    dir: PathBuf,
    tmp: PathBuf,
    max_bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("the upload is larger than {limit} bytes (--max-upload-bytes)")]
    TooLarge { limit: u64 },
    #[error("reading the request body: {0}")]
    Body(String),
    #[error("{context} {}: {source}", path.display())]
    Io {
        context: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

fn io_err(context: &'static str, path: &Path) -> impl FnOnce(io::Error) -> UploadError {
    let path = path.to_owned();
    move |source| UploadError::Io {
        context,
        path,
        source,
    }
}

/// An upload received into a temporary file, not yet in place.
pub struct Staged {
    file: tempfile::NamedTempFile,
    digest: [u8; 32],
}

impl Uploads {
    /// Uploads under `storage_dir/uploads`, staged in `tmp` (on the same filesystem).
    pub fn open(storage_dir: &Path, tmp: &Path, max_bytes: u64) -> Result<Self, UploadError> {
        let dir = storage_dir.join("uploads");
        fs::create_dir_all(&dir).map_err(io_err("creating", &dir))?;
        Ok(Self {
            dir,
            tmp: tmp.to_owned(),
            max_bytes,
        })
    }

    /// The directory the upload source reads `<bundle>.tgz` from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the upload of `name` is kept. `name` must already be a checked Bundle name.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.tgz"))
    }

    /// Streams `body` into a temporary file, refusing more than the size limit.
    pub async fn stage(&self, body: axum::body::Body) -> Result<Staged, UploadError> {
        let mut file = tempfile::NamedTempFile::new_in(&self.tmp)
            .map_err(io_err("creating a temporary file in", &self.tmp))?;
        let mut hasher = Sha256::new();
        let mut written: u64 = 0;
        let mut stream = body.into_data_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| UploadError::Body(e.to_string()))?;
            written += chunk.len() as u64;
            if written > self.max_bytes {
                return Err(UploadError::TooLarge {
                    limit: self.max_bytes,
                });
            }
            hasher.update(&chunk);
            file.write_all(&chunk)
                .map_err(io_err("writing", file.path()))?;
        }
        file.as_file()
            .sync_all()
            .map_err(io_err("syncing", file.path()))?;
        Ok(Staged {
            file,
            digest: hasher.finalize().into(),
        })
    }

    /// Whether `staged` holds exactly what is stored for `name` already.
    pub fn is_unchanged(&self, name: &str, staged: &Staged) -> Result<bool, UploadError> {
        let path = self.path(name);
        match fs::File::open(&path) {
            Ok(mut f) => {
                let mut hasher = Sha256::new();
                io::copy(&mut f, &mut hasher).map_err(io_err("reading", &path))?;
                Ok(<[u8; 32]>::from(hasher.finalize()) == staged.digest)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_err("reading", &path)(e)),
        }
    }

    /// Moves `staged` into place for `name`.
    pub fn commit(&self, name: &str, staged: Staged) -> Result<(), UploadError> {
        let path = self.path(name);
        staged
            .file
            .persist(&path)
            .map_err(|e| io_err("renaming into", &path)(e.error))?;
        Ok(())
    }

    /// Removes the upload of `name`, if any.
    pub fn delete(&self, name: &str) -> Result<(), UploadError> {
        let path = self.path(name);
        match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_err("removing", &path)(e)),
            _ => Ok(()),
        }
    }

    /// Removes uploads whose name `keep` rejects; returns how many went.
    pub fn sweep(&self, keep: impl Fn(&str) -> bool) -> Result<usize, UploadError> {
        let mut removed = 0;
        for entry in fs::read_dir(&self.dir).map_err(io_err("listing", &self.dir))? {
            let entry = entry.map_err(io_err("listing", &self.dir))?;
            let file = entry.file_name();
            let Some(name) = file.to_str().and_then(|f| f.strip_suffix(".tgz")) else {
                continue;
            };
            if !keep(name) {
                self.delete(name)?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uploads(max: u64) -> (tempfile::TempDir, Uploads) {
        let dir = tempfile::tempdir().unwrap();
        let tmp = dir.path().join("tmp");
        fs::create_dir(&tmp).unwrap();
        let uploads = Uploads::open(dir.path(), &tmp, max).unwrap();
        (dir, uploads)
    }

    #[tokio::test]
    async fn uploads_are_staged_compared_and_committed() {
        let (_dir, uploads) = uploads(1024);
        let staged = uploads.stage(axum::body::Body::from("abc")).await.unwrap();
        assert!(!uploads.is_unchanged("b", &staged).unwrap());
        uploads.commit("b", staged).unwrap();
        assert_eq!(fs::read(uploads.path("b")).unwrap(), b"abc");
        let same = uploads.stage(axum::body::Body::from("abc")).await.unwrap();
        assert!(uploads.is_unchanged("b", &same).unwrap());
        let other = uploads.stage(axum::body::Body::from("abd")).await.unwrap();
        assert!(!uploads.is_unchanged("b", &other).unwrap());
    }

    #[tokio::test]
    async fn oversized_uploads_are_refused_while_streaming() {
        let (_dir, uploads) = uploads(2);
        let err = uploads
            .stage(axum::body::Body::from("abc"))
            .await
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            "the upload is larger than 2 bytes (--max-upload-bytes)"
        );
    }

    #[tokio::test]
    async fn sweep_keeps_only_what_is_asked_for() {
        let (_dir, uploads) = uploads(1024);
        for name in ["a", "b"] {
            let s = uploads
                .stage(axum::body::Body::from(name.to_owned()))
                .await
                .unwrap();
            uploads.commit(name, s).unwrap();
        }
        assert_eq!(uploads.sweep(|n| n == "a").unwrap(), 1);
        assert!(uploads.path("a").exists());
        assert!(!uploads.path("b").exists());
    }
}
