//! Content trees written to temporary directories, for unit tests.

use std::fs;

use tempfile::TempDir;

/// A directory holding `files` (paths relative to it, parents created).
pub(crate) fn tree<T: AsRef<[u8]>>(files: &[(&str, T)]) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, content) in files {
        let path = dir.path().join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
    }
    dir
}

/// [`tree`] with a `manifests/` directory, empty unless `files` put something there.
pub(crate) fn bundle<T: AsRef<[u8]>>(files: &[(&str, T)]) -> TempDir {
    let dir = tree(files);
    fs::create_dir_all(dir.path().join("manifests")).unwrap();
    dir
}
