//! Writing one tree of a commit to disk: regular files with their bytes, directories as
//! directories. Symlinks and submodules are skipped (counted in a debug log): a bundle's
//! content is plain files, and a link could point outside the destination.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use gix::objs::tree::EntryKind;

/// What went wrong writing the tree; shown after `checkout commit "<sha>": `.
#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    #[error("directory {directory:?} does not exist in the repository")]
    DirectoryNotFound { directory: String },
    #[error("{directory:?} is not a directory in the repository")]
    NotADirectory { directory: String },
    #[error("the repository contains an unsafe file name {name:?}")]
    UnsafeName { name: String },
    #[error("the content is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("stopped: the fetch ran out of time")]
    Interrupted,
    #[error("reading git objects: {0}")]
    Objects(String),
    #[error("writing {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What [`write_subtree`] wrote and skipped.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Written {
    pub(super) files: u64,
    pub(super) bytes: u64,
    pub(super) symlinks_skipped: u64,
    pub(super) submodules_skipped: u64,
}

/// Writes the tree at `directory` (cleaned components; empty = the root) of `commit` into `dest`,
/// writing at most `max_bytes` of file content, and stopping once `interrupt` is set (the caller
/// has given up and will discard `dest`).
pub(super) fn write_subtree(
    commit: &gix::Commit<'_>,
    directory: &[&str],
    dest: &Path,
    max_bytes: u64,
    interrupt: &AtomicBool,
) -> Result<Written, TreeError> {
    let root = commit.tree().map_err(objects)?;
    let tree_id = if directory.is_empty() {
        root.id
    } else {
        let entry = root
            .lookup_entry(directory.iter().copied())
            .map_err(objects)?
            .ok_or_else(|| TreeError::DirectoryNotFound {
                directory: directory.join("/"),
            })?;
        if entry.mode().kind() != EntryKind::Tree {
            return Err(TreeError::NotADirectory {
                directory: directory.join("/"),
            });
        }
        entry.object_id()
    };
    let repo = commit.repo;
    let mut written = Written::default();
    // An explicit stack rather than recursion: a hostile repository can nest trees deeply.
    let mut pending = vec![(tree_id, dest.to_path_buf())];
    while let Some((id, dir)) = pending.pop() {
        let tree = repo
            .find_object(id)
            .map_err(objects)?
            .try_into_tree()
            .map_err(objects)?;
        for entry in tree.iter() {
            if interrupt.load(Ordering::Relaxed) {
                return Err(TreeError::Interrupted);
            }
            let entry = entry.map_err(objects)?;
            let path = dir.join(safe_name(entry.filename())?);
            match entry.mode().kind() {
                EntryKind::Tree => {
                    create_dir(&path)?;
                    pending.push((entry.object_id(), path));
                }
                EntryKind::Blob | EntryKind::BlobExecutable => {
                    let blob = entry.object().map_err(objects)?;
                    written.bytes += blob.data.len() as u64;
                    if written.bytes > max_bytes {
                        return Err(TreeError::TooLarge { limit: max_bytes });
                    }
                    write_file(&path, &blob.data)?;
                    written.files += 1;
                }
                EntryKind::Link => written.symlinks_skipped += 1,
                EntryKind::Commit => written.submodules_skipped += 1,
            }
        }
    }
    Ok(written)
}

/// A tree entry name that is one plain path component (git itself refuses others, but the
/// objects come from a server we do not trust).
fn safe_name(name: &gix::bstr::BStr) -> Result<&str, TreeError> {
    let unsafe_name = || TreeError::UnsafeName {
        name: name.to_string(),
    };
    let name = std::str::from_utf8(name).map_err(|_| unsafe_name())?;
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\\', '\0']) {
        return Err(unsafe_name());
    }
    Ok(name)
}

fn create_dir(path: &Path) -> Result<(), TreeError> {
    std::fs::create_dir(path).map_err(|source| TreeError::Write {
        path: path.to_path_buf(),
        source,
    })
}

fn write_file(path: &Path, data: &[u8]) -> Result<(), TreeError> {
    // `create_new`: never follow or overwrite something already there.
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .and_then(|mut file| file.write_all(data))
        .map_err(|source| TreeError::Write {
            path: path.to_path_buf(),
            source,
        })
}

fn objects(error: impl std::fmt::Display) -> TreeError {
    TreeError::Objects(error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_names_are_written() {
        assert_eq!(safe_name("00_crd.yaml".into()).unwrap(), "00_crd.yaml");
        assert_eq!(safe_name("..a".into()).unwrap(), "..a");
        for bad in ["", ".", "..", "a/b", "a\\b", "a\0b"] {
            assert!(
                matches!(safe_name(bad.into()), Err(TreeError::UnsafeName { .. })),
                "{bad:?}"
            );
        }
        assert!(safe_name(gix::bstr::BStr::new(b"\xff")).is_err());
    }
}
