//! The `manifests/` directory of plain+v0 and registry+v1 bundles: it must exist and be flat,
//! and hold only regular files. Structure is checked before any file is read, so a misplaced
//! directory is reported whatever the files hold.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Name of the directory holding a bundle's manifests.
pub(crate) const MANIFESTS: &str = "manifests";

/// `manifests/` is missing or not flat.
#[derive(Debug, thiserror::Error)]
pub enum ManifestsDirError {
    /// Upstream's wording (Go `fs.ReadDir`), which upstream e2e tests match on.
    #[error("readdir manifests: file does not exist")]
    Missing,
    #[error("readdir manifests: not a directory")]
    NotADirectory,
    #[error(
        "\"manifests\" is a symbolic link; the bundle's manifests must be in a directory named \"manifests\""
    )]
    SymlinkedDirectory,
    #[error(
        "subdirectories are not allowed within the \"manifests\" directory of the bundle image filesystem: found \"manifests/{name}\""
    )]
    Subdirectory { name: String },
    #[error(
        "symbolic links are not allowed within the \"manifests\" directory of the bundle image filesystem: found \"manifests/{name}\""
    )]
    Symlink { name: String },
    #[error(
        "only regular files are allowed within the \"manifests\" directory of the bundle image filesystem: found \"manifests/{name}\""
    )]
    NotARegularFile { name: String },
    #[error("{}: {source}", path.display())]
    Io {
        /// Relative to the bundle root.
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// One regular file of `manifests/`.
#[derive(Debug)]
pub(crate) struct ManifestFile {
    /// The file name (lossily decoded when not UTF-8).
    pub(crate) name: String,
    /// `manifests/<name>`, for messages.
    pub(crate) rel: PathBuf,
    /// Where it is on disk.
    pub(crate) path: PathBuf,
}

impl ManifestFile {
    pub(crate) fn read(&self) -> Result<Vec<u8>, ManifestsDirError> {
        fs::read(&self.path).map_err(|source| ManifestsDirError::Io {
            path: self.rel.clone(),
            source,
        })
    }

    pub(crate) fn is_hidden(&self) -> bool {
        self.name.starts_with('.')
    }
}

/// The files of `root/manifests` in name order (byte order, as Go's `fs.ReadDir`), after
/// refusing anything that is not a regular file.
pub(crate) fn list(root: &Path) -> Result<Vec<ManifestFile>, ManifestsDirError> {
    let dir = root.join(MANIFESTS);
    let io_error = |source| ManifestsDirError::Io {
        path: PathBuf::from(MANIFESTS),
        source,
    };
    let meta = match fs::symlink_metadata(&dir) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(ManifestsDirError::Missing),
        Err(e) => return Err(io_error(e)),
    };
    if meta.file_type().is_symlink() {
        return Err(ManifestsDirError::SymlinkedDirectory);
    }
    if !meta.is_dir() {
        return Err(ManifestsDirError::NotADirectory);
    }
    let mut entries = Vec::new();
    for entry in fs::read_dir(&dir).map_err(io_error)? {
        let entry = entry.map_err(io_error)?;
        // The entry's own type: a symlink is reported, never followed.
        let file_type = entry.file_type().map_err(io_error)?;
        entries.push((entry.file_name(), file_type, entry.path()));
    }
    entries.sort_by(|a, b| a.0.as_encoded_bytes().cmp(b.0.as_encoded_bytes()));
    let mut files = Vec::with_capacity(entries.len());
    for (name, file_type, path) in entries {
        let name = name.to_string_lossy().into_owned();
        if file_type.is_dir() {
            return Err(ManifestsDirError::Subdirectory { name });
        }
        if file_type.is_symlink() {
            return Err(ManifestsDirError::Symlink { name });
        }
        if !file_type.is_file() {
            return Err(ManifestsDirError::NotARegularFile { name });
        }
        files.push(ManifestFile {
            rel: Path::new(MANIFESTS).join(&name),
            name,
            path,
        });
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_manifests() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("emptyfile"), "").unwrap();
        let e = list(dir.path()).unwrap_err();
        assert_eq!(e.to_string(), "readdir manifests: file does not exist");
        fs::write(dir.path().join("manifests"), "").unwrap();
        let e = list(dir.path()).unwrap_err();
        assert_eq!(e.to_string(), "readdir manifests: not a directory");
    }

    #[test]
    fn first_subdirectory_in_name_order() {
        let dir = tempfile::tempdir().unwrap();
        let m = dir.path().join("manifests");
        fs::create_dir_all(m.join("subdir")).unwrap();
        fs::create_dir_all(m.join("emptydir")).unwrap();
        fs::write(m.join("a.yaml"), "kind: A\n").unwrap();
        fs::write(m.join("subdir/b.yaml"), "kind: B\n").unwrap();
        let e = list(dir.path()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "subdirectories are not allowed within the \"manifests\" directory of the bundle image filesystem: found \"manifests/emptydir\""
        );
    }

    #[test]
    fn sorted_regular_files_hidden_included() {
        let dir = tempfile::tempdir().unwrap();
        let m = dir.path().join("manifests");
        fs::create_dir_all(&m).unwrap();
        for name in ["b.yaml", ".hidden", "A.json", "a.yaml"] {
            fs::write(m.join(name), "").unwrap();
        }
        let names: Vec<String> = list(dir.path())
            .unwrap()
            .into_iter()
            .map(|f| f.name)
            .collect();
        assert_eq!(names, [".hidden", "A.json", "a.yaml", "b.yaml"]);
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let m = dir.path().join("manifests");
        fs::create_dir_all(&m).unwrap();
        fs::write(dir.path().join("outside.yaml"), "kind: A\n").unwrap();
        std::os::unix::fs::symlink(dir.path().join("outside.yaml"), m.join("link.yaml")).unwrap();
        let e = list(dir.path()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "symbolic links are not allowed within the \"manifests\" directory of the bundle image filesystem: found \"manifests/link.yaml\""
        );

        let other = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(&m, other.path().join("manifests")).unwrap();
        assert!(matches!(
            list(other.path()).unwrap_err(),
            ManifestsDirError::SymlinkedDirectory
        ));
    }
}
