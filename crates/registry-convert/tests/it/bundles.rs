//! Where the test bundles come from: the shared corpus, and bundles written into temporary
//! directories from a CSV and extra manifests.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// `../shared/corpus` beside the checkout, or `OLMRS_CORPUS`.
pub(crate) fn corpus() -> PathBuf {
    std::env::var_os("OLMRS_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"))
}

/// Every `bundles/<package>/<version>` directory of the corpus, sorted.
pub(crate) fn corpus_bundles() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let root = corpus().join("bundles");
    for package in std::fs::read_dir(&root).expect("reading the corpus") {
        let package = package.expect("corpus entry").path();
        if !package.is_dir() {
            continue;
        }
        for version in std::fs::read_dir(&package).expect("reading a corpus package") {
            let version = version.expect("corpus entry").path();
            if version.join("manifests").is_dir() {
                out.push(version);
            }
        }
    }
    out.sort();
    out
}

/// A registry+v1 bundle in a temporary directory: `csv` plus `extra` manifests (one file each).
pub(crate) fn bundle(csv: &Value, extra: &[Value]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    let manifests = dir.path().join("manifests");
    std::fs::create_dir_all(&manifests).expect("manifests dir");
    std::fs::create_dir_all(dir.path().join("metadata")).expect("metadata dir");
    std::fs::write(
        dir.path().join("metadata/annotations.yaml"),
        "annotations:\n  operators.operatorframework.io.bundle.mediatype.v1: registry+v1\n  operators.operatorframework.io.bundle.package.v1: demo\n",
    )
    .expect("annotations");
    std::fs::write(manifests.join("csv.json"), csv.to_string()).expect("csv");
    for (i, object) in extra.iter().enumerate() {
        std::fs::write(
            manifests.join(format!("object-{i}.json")),
            object.to_string(),
        )
        .expect("manifest");
    }
    dir
}
