//! Where tests find their inputs: the shared corpus of real catalogs and bundles, and the
//! upstream Go tools built by `scripts/build-go-tools.sh`.

use std::path::{Path, PathBuf};

/// `../shared/corpus` beside the checkout, or `OLMRS_CORPUS`.
pub fn corpus() -> PathBuf {
    std::env::var_os("OLMRS_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"))
}

/// A bundle directory of the corpus: `bundles/<package>/<version>`.
pub fn corpus_bundle(package: &str, version: &str) -> PathBuf {
    corpus().join("bundles").join(package).join(version)
}

/// The upstream opm the differential tests compare with (v1.73.0), or `None` after
/// [`crate::unavailable`] (which fails in CI).
pub fn upstream_opm() -> Option<PathBuf> {
    let bin = cache_dir()?.join("opm/v1.73.0/bin/opm");
    present(bin, "upstream opm", "run scripts/build-go-tools.sh opm")
}

/// The helm binary (v3.21.4) `scripts/build-go-tools.sh helm` builds: `OLMRS_HELM` (which
/// `scripts/test` exports), else the build cache; or `None` after [`crate::unavailable`].
pub fn helm() -> Option<PathBuf> {
    let bin = match std::env::var_os("OLMRS_HELM") {
        Some(path) => PathBuf::from(path),
        None => cache_dir()?.join("helm/v3.21.4/bin/helm"),
    };
    present(
        bin,
        "helm",
        "set OLMRS_HELM or run scripts/build-go-tools.sh helm",
    )
}

/// `bin` if it exists, else `None` after [`crate::unavailable`] says what is missing and `how`
/// to get it.
fn present(bin: PathBuf, what: &str, how: &str) -> Option<PathBuf> {
    if bin.is_file() {
        return Some(bin);
    }
    crate::unavailable(&format!("{what} not found at {} ({how})", bin.display()));
    None
}

/// Where `scripts/build-go-tools.sh` caches what it builds, found the way the script finds it.
pub(crate) fn cache_dir() -> Option<PathBuf> {
    std::env::var_os("OLMRS_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("olm-rs")))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/olm-rs")))
}

/// Copies the directory tree `from` to `to` (created if missing), e.g. a corpus bundle to
/// change in a test.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("creating a directory");
    for entry in std::fs::read_dir(from).expect("reading a directory to copy") {
        let entry = entry.expect("reading a directory to copy");
        let dest = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), &dest).expect("copying a file");
        }
    }
}
