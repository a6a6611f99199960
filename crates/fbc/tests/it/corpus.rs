//! The read-only corpus at `<workspace>/../shared/corpus`.

use std::path::PathBuf;

pub(crate) fn root() -> PathBuf {
    match std::env::var_os("OLMRS_CORPUS") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"),
    }
}

/// `catalogs/<ocp>/<package>/catalog.yaml`, sorted.
pub(crate) fn catalog_files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for ocp in ["v4.15", "v4.22"] {
        let dir = root().join("catalogs").join(ocp);
        let mut pkgs: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        pkgs.sort();
        for p in pkgs {
            out.push(p.join("catalog.yaml"));
        }
    }
    out
}
