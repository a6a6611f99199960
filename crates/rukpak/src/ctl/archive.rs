//! The `.tgz` `rukpakctl run` uploads: deterministic, so the same directory gives the same
//! bytes and digest (the upload server answers 204 for content it already holds).

use std::io::Write;
use std::path::Path;

use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

/// Why a bundle directory could not be archived.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0} is not a directory")]
    NotADirectory(String),
    #[error("{0}: symbolic links cannot be uploaded; copy the file into the bundle")]
    Symlink(String),
    #[error("{0} holds no files")]
    Empty(String),
}

/// A bundle directory as a gzipped tarball.
#[derive(Debug)]
pub struct Archive {
    pub bytes: Vec<u8>,
    /// Hex of the first 8 bytes of the SHA-256 of `bytes`: short enough for a label value.
    pub digest: String,
}

/// Archives the files under `dir`, sorted by path, with zero owners and timestamps and modes
/// reduced to 0644/0755, so that only names, contents and the executable bit count.
pub fn archive_dir(dir: &Path) -> Result<Archive, ArchiveError> {
    let shown = dir.display().to_string();
    if !dir.is_dir() {
        return Err(ArchiveError::NotADirectory(shown));
    }
    let read_err = |path: &Path, source: std::io::Error| ArchiveError::Read {
        path: path.display().to_string(),
        source,
    };
    let mut tar = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::default()));
    let mut files = 0usize;
    for entry in walkdir::WalkDir::new(dir).min_depth(1).sort_by_file_name() {
        let entry = entry.map_err(|e| {
            let path = e.path().unwrap_or(dir).to_owned();
            read_err(&path, e.into())
        })?;
        let relative = entry
            .path()
            .strip_prefix(dir)
            .expect("walkdir stays under its root");
        let file_type = entry.file_type();
        if file_type.is_symlink() {
            return Err(ArchiveError::Symlink(entry.path().display().to_string()));
        }
        let mut header = tar::Header::new_gnu();
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        if file_type.is_dir() {
            header.set_entry_type(tar::EntryType::Directory);
            header.set_mode(0o755);
            header.set_size(0);
            tar.append_data(&mut header, relative, std::io::empty())
                .map_err(|e| read_err(entry.path(), e))?;
            continue;
        }
        let data = std::fs::read(entry.path()).map_err(|e| read_err(entry.path(), e))?;
        header.set_entry_type(tar::EntryType::Regular);
        header.set_mode(if is_executable(&entry) { 0o755 } else { 0o644 });
        header.set_size(data.len() as u64);
        tar.append_data(&mut header, relative, data.as_slice())
            .map_err(|e| read_err(entry.path(), e))?;
        files += 1;
    }
    if files == 0 {
        return Err(ArchiveError::Empty(shown));
    }
    let mut gz = tar.into_inner().map_err(|e| read_err(dir, e))?;
    gz.flush().map_err(|e| read_err(dir, e))?;
    let bytes = gz.finish().map_err(|e| read_err(dir, e))?;
    let digest = hex::encode(&Sha256::digest(&bytes)[..8]);
    Ok(Archive { bytes, digest })
}

fn is_executable(entry: &walkdir::DirEntry) -> bool {
    use std::os::unix::fs::PermissionsExt;
    entry
        .metadata()
        .is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle(dir: &Path) {
        std::fs::create_dir_all(dir.join("manifests")).unwrap();
        std::fs::write(dir.join("manifests/cm.yaml"), "kind: ConfigMap\n").unwrap();
    }

    #[test]
    fn the_same_files_give_the_same_bytes() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        bundle(a.path());
        bundle(b.path());
        let first = archive_dir(a.path()).unwrap();
        assert_eq!(first.bytes, archive_dir(b.path()).unwrap().bytes);
        assert_eq!(first.digest.len(), 16);

        std::fs::write(b.path().join("manifests/cm.yaml"), "kind: Secret\n").unwrap();
        assert_ne!(first.digest, archive_dir(b.path()).unwrap().digest);
    }

    #[test]
    fn entries_are_relative_and_sorted() {
        let dir = tempfile::tempdir().unwrap();
        bundle(dir.path());
        std::fs::write(dir.path().join("manifests/a.yaml"), "kind: Namespace\n").unwrap();
        let archive = archive_dir(dir.path()).unwrap();
        let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(archive.bytes.as_slice()));
        let names: Vec<String> = tar
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert_eq!(
            names,
            ["manifests", "manifests/a.yaml", "manifests/cm.yaml"]
        );
    }

    #[test]
    fn refusals_name_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let err = archive_dir(dir.path()).unwrap_err().to_string();
        assert_eq!(err, format!("{} holds no files", dir.path().display()));

        let missing = dir.path().join("absent");
        let err = archive_dir(&missing).unwrap_err().to_string();
        assert_eq!(err, format!("{} is not a directory", missing.display()));

        bundle(dir.path());
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("manifests/link")).unwrap();
        let err = archive_dir(dir.path()).unwrap_err().to_string();
        assert!(
            err.ends_with(
                "manifests/link: symbolic links cannot be uploaded; copy the file into the bundle"
            ),
            "{err}"
        );
    }
}
