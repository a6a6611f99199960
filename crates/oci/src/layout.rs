//! The OCI image layout on disk (`oci-layout`, `index.json`, `blobs/sha256/…`), read and
//! written the way skopeo does. Every blob read is verified; every write is temp + rename.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::digest::{HashingWriter, Sha256Digest};
use crate::error::ImageError;
use crate::manifest::{Descriptor, ImageIndex, OCI_INDEX, REF_NAME_ANNOTATION};

const LAYOUT_FILE: &str = "oci-layout";
const LAYOUT_CONTENT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;

/// An OCI image layout directory.
#[derive(Clone, Debug)]
pub struct OciLayout {
    dir: PathBuf,
}

impl OciLayout {
    /// Opens an existing layout (it must have `oci-layout` and `index.json`).
    pub fn open(dir: &Path) -> Result<Self, ImageError> {
        let layout = OciLayout {
            dir: dir.to_path_buf(),
        };
        if !dir.join(LAYOUT_FILE).is_file() || !dir.join("index.json").is_file() {
            return Err(layout.error("not an OCI image layout (missing oci-layout or index.json)"));
        }
        Ok(layout)
    }

    /// Opens a layout, creating an empty one if the directory is missing or empty.
    pub fn open_or_create(dir: &Path) -> Result<Self, ImageError> {
        let layout = OciLayout {
            dir: dir.to_path_buf(),
        };
        if dir.join(LAYOUT_FILE).is_file() && dir.join("index.json").is_file() {
            return Ok(layout);
        }
        let empty = fs::read_dir(dir).map_or(true, |mut d| d.next().is_none());
        if !empty {
            return Err(layout.error("exists, is not empty and is not an OCI image layout"));
        }
        fs::create_dir_all(dir.join("blobs/sha256"))
            .map_err(|e| ImageError::io(format!("creating {}", dir.display()), e))?;
        layout.write_atomic(&dir.join(LAYOUT_FILE), LAYOUT_CONTENT)?;
        let index = ImageIndex {
            schema_version: 2,
            media_type: Some(OCI_INDEX.into()),
            manifests: Vec::new(),
            annotations: None,
        };
        layout.write_index(&index)?;
        Ok(layout)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn error(&self, detail: impl Into<String>) -> ImageError {
        ImageError::Layout {
            dir: self.dir.clone(),
            detail: detail.into(),
        }
    }

    pub fn read_index(&self) -> Result<ImageIndex, ImageError> {
        let path = self.dir.join("index.json");
        let bytes = fs::read(&path)
            .map_err(|e| ImageError::io(format!("reading {}", path.display()), e))?;
        serde_json::from_slice(&bytes).map_err(|e| self.error(format!("invalid index.json: {e}")))
    }

    fn write_index(&self, index: &ImageIndex) -> Result<(), ImageError> {
        let bytes = serde_json::to_vec(index).map_err(|e| self.error(e.to_string()))?;
        self.write_atomic(&self.dir.join("index.json"), &bytes)
    }

    /// The `index.json` entry called `name`; without a name, the only entry.
    pub fn find(&self, name: Option<&str>) -> Result<Descriptor, ImageError> {
        let index = self.read_index()?;
        let names = || {
            let list: Vec<String> = index
                .manifests
                .iter()
                .map(|d| {
                    d.annotations
                        .as_ref()
                        .and_then(|a| a.get(REF_NAME_ANNOTATION))
                        .cloned()
                        .unwrap_or_else(|| format!("(unnamed {})", d.digest))
                })
                .collect();
            if list.is_empty() {
                "none".to_owned()
            } else {
                list.join(", ")
            }
        };
        match name {
            Some(name) => index
                .manifests
                .iter()
                .find(|d| {
                    d.annotations
                        .as_ref()
                        .and_then(|a| a.get(REF_NAME_ANNOTATION))
                        .is_some_and(|n| n == name)
                })
                .cloned()
                .ok_or_else(|| {
                    self.error(format!("no image named {name:?} (images: {})", names()))
                }),
            None => match index.manifests.as_slice() {
                [only] => Ok(only.clone()),
                [] => Err(self.error("holds no images")),
                _ => Err(self.error(format!(
                    "holds several images; name one with oci:<dir>:<name> (images: {})",
                    names()
                ))),
            },
        }
    }

    pub fn blob_path(&self, digest: &Sha256Digest) -> PathBuf {
        self.dir.join("blobs/sha256").join(digest.hex())
    }

    pub fn has_blob(&self, digest: &Sha256Digest) -> bool {
        fs::symlink_metadata(self.blob_path(digest)).is_ok_and(|m| m.is_file())
    }

    /// Reads and verifies a (small) blob.
    pub fn read_blob(&self, digest: &Sha256Digest) -> Result<Vec<u8>, ImageError> {
        let path = self.blob_path(digest);
        let bytes = fs::read(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                self.error(format!("blob {digest} is missing"))
            } else {
                ImageError::io(format!("reading {}", path.display()), e)
            }
        })?;
        let actual = Sha256Digest::of(&bytes);
        if &actual != digest {
            return Err(ImageError::DigestMismatch {
                what: format!("blob in {}", self.dir.display()),
                expected: digest.to_string(),
                actual: actual.to_string(),
            });
        }
        Ok(bytes)
    }

    pub fn write_blob(&self, data: &[u8]) -> Result<Sha256Digest, ImageError> {
        let digest = Sha256Digest::of(data);
        if !self.has_blob(&digest) {
            self.write_atomic(&self.blob_path(&digest), data)?;
        }
        Ok(digest)
    }

    /// Copies a blob file in, verifying it on the way.
    pub fn copy_blob_from(&self, src: &Path, digest: &Sha256Digest) -> Result<(), ImageError> {
        if self.has_blob(digest) {
            return Ok(());
        }
        let blobs = self.dir.join("blobs/sha256");
        let tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(&blobs)
            .map_err(|e| {
                ImageError::io(format!("creating a temp file in {}", blobs.display()), e)
            })?;
        let mut input = fs::File::open(src)
            .map_err(|e| ImageError::io(format!("opening {}", src.display()), e))?;
        let mut w = HashingWriter::new(tmp);
        std::io::copy(&mut input, &mut w)
            .map_err(|e| ImageError::io(format!("copying {}", src.display()), e))?;
        let (tmp, actual, _) = w.finish();
        if &actual != digest {
            return Err(ImageError::DigestMismatch {
                what: format!("blob copied from {}", src.display()),
                expected: digest.to_string(),
                actual: actual.to_string(),
            });
        }
        tmp.persist(self.blob_path(digest))
            .map_err(|e| ImageError::io("storing a blob in the layout", e.error))?;
        Ok(())
    }

    /// Points `name` at `descriptor` (replacing an entry of that name); without a name,
    /// adds an unnamed entry unless the same digest is already listed.
    pub fn set_ref(
        &self,
        mut descriptor: Descriptor,
        name: Option<&str>,
    ) -> Result<(), ImageError> {
        let mut index = self.read_index()?;
        match name {
            Some(name) => {
                index.manifests.retain(|d| {
                    d.annotations
                        .as_ref()
                        .and_then(|a| a.get(REF_NAME_ANNOTATION))
                        .is_none_or(|n| n != name)
                });
                descriptor
                    .annotations
                    .get_or_insert_with(Default::default)
                    .insert(REF_NAME_ANNOTATION.into(), name.into());
            }
            None => {
                if index
                    .manifests
                    .iter()
                    .any(|d| d.digest == descriptor.digest)
                {
                    return Ok(());
                }
            }
        }
        index.manifests.push(descriptor);
        self.write_index(&index)
    }

    fn write_atomic(&self, path: &Path, data: &[u8]) -> Result<(), ImageError> {
        let parent = path.parent().unwrap_or(&self.dir);
        let mut tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(parent)
            .map_err(|e| {
                ImageError::io(format!("creating a temp file in {}", parent.display()), e)
            })?;
        tmp.write_all(data)
            .and_then(|_| tmp.as_file().sync_all())
            .map_err(|e| ImageError::io(format!("writing {}", path.display()), e))?;
        tmp.persist(path)
            .map_err(|e| ImageError::io(format!("renaming to {}", path.display()), e.error))?;
        Ok(())
    }
}
