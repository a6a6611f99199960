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
    let cache = std::env::var_os("OLMRS_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/olm-rs")))?;
    let bin = cache.join("opm/v1.73.0/bin/opm");
    if bin.is_file() {
        return Some(bin);
    }
    crate::unavailable(&format!(
        "upstream opm not found at {} (run scripts/build-go-tools.sh opm)",
        bin.display()
    ));
    None
}
