//! Start-up sweep of what interrupted unpacks left on disk. A process that is killed or
//! aborts mid-unpack runs no cleanup, so its scratch files would stay until the volume is
//! recreated. The sweep runs before reconciling starts, when this process is the only
//! writer of its storage directory (every replica has its own).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::store::Store;

/// What the sweep removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Removed {
    /// Top-level leftovers (an unpack directory, a temp file) removed.
    pub(crate) entries: u64,
    /// Bytes of regular files inside them.
    pub(crate) bytes: u64,
}

/// Removes the unpack scratch area's contents, the blob cache's temp files and the store's
/// unfinished commits. Served content (digest directories, `current` links) and verified
/// blobs stay. Failures are logged, never fatal: a leftover only costs disk.
pub(crate) fn sweep(unpack_root: &Path, blob_tmp: &Path, store: &Store) -> Removed {
    let mut paths = children(unpack_root);
    paths.extend(children(blob_tmp));
    match store.unfinished() {
        Ok(found) => paths.extend(found),
        Err(e) => tracing::warn!("listing unfinished catalog content: {e}"),
    }
    let mut removed = Removed::default();
    for path in paths {
        let bytes = file_bytes(&path);
        let result = match fs::symlink_metadata(&path) {
            Ok(m) if m.is_dir() => fs::remove_dir_all(&path),
            Ok(_) => fs::remove_file(&path),
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => {
                removed.entries += 1;
                removed.bytes += bytes;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!("removing leftover {}: {e}", path.display()),
        }
    }
    removed
}

fn children(dir: &Path) -> Vec<PathBuf> {
    match fs::read_dir(dir) {
        Ok(entries) => entries.flatten().map(|e| e.path()).collect(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => {
            tracing::warn!("listing {}: {e}", dir.display());
            Vec::new()
        }
    }
}

/// Total size of the regular files at or under `path`, symlinks not followed.
fn file_bytes(path: &Path) -> u64 {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return 0;
    };
    if meta.is_file() {
        return meta.len();
    }
    if !meta.is_dir() {
        return 0;
    }
    children(path).iter().map(|p| file_bytes(p)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoredSource;

    const DIGEST: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

    #[test]
    fn leftovers_go_and_served_content_stays() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(tmp.path().join("catalogs")).unwrap();
        let mut writer = store.begin("served", DIGEST).unwrap();
        writer.set_source(StoredSource {
            reference: "example.com/c:v1".into(),
            resolved_ref: format!("example.com/c@{DIGEST}"),
        });
        writer
            .push(
                "olm.package",
                "p",
                "p",
                r#"{"schema":"olm.package","name":"p"}"#,
            )
            .unwrap();
        let served = writer.commit().unwrap();
        let served_bytes = fs::read(served.all_path()).unwrap();

        // What a killed process leaves: an extraction in progress, a half-written blob,
        // a store commit that never renamed, and a link that never switched.
        let unpack = tmp.path().join("unpack");
        let partial = unpack.join("served/.unpack-abc/configs/p");
        fs::create_dir_all(&partial).unwrap();
        fs::write(partial.join("catalog.json"), vec![b'x'; 1000]).unwrap();
        let blob_tmp = tmp.path().join("blobs/tmp");
        fs::create_dir_all(&blob_tmp).unwrap();
        fs::write(blob_tmp.join("blob-xyz"), vec![0u8; 500]).unwrap();
        let catalog_dir = tmp.path().join("catalogs/served");
        let unfinished = catalog_dir.join(".tmp-sha256-22-1-0");
        fs::create_dir(&unfinished).unwrap();
        fs::write(unfinished.join("all.json"), vec![b'{'; 24]).unwrap();
        std::os::unix::fs::symlink("sha256-22", catalog_dir.join(".current.tmp")).unwrap();

        let removed = sweep(&unpack, &blob_tmp, &store);
        assert_eq!(
            removed,
            Removed {
                entries: 4,
                bytes: 1524
            }
        );
        assert_eq!(fs::read_dir(&unpack).unwrap().count(), 0);
        assert_eq!(fs::read_dir(&blob_tmp).unwrap().count(), 0);
        assert!(!unfinished.exists());
        assert!(fs::symlink_metadata(catalog_dir.join(".current.tmp")).is_err());
        let still = store.current("served").unwrap().unwrap();
        assert_eq!(still.digest, DIGEST);
        assert_eq!(fs::read(still.all_path()).unwrap(), served_bytes);

        // Nothing left: nothing removed, and a missing scratch area is no error.
        fs::remove_dir(&unpack).unwrap();
        assert_eq!(sweep(&unpack, &blob_tmp, &store), Removed::default());
    }
}
