//! The Dockerfiles `--generate` writes, byte-compatible with upstream v1.73.0's generators
//! (`pkg/containertools/dockerfilegenerator.go`).

use olm_labels::{INDEX_CONFIGS, INDEX_DATABASE};

use crate::kind::{DEFAULT_CONFIGS_PATH, DEFAULT_DATABASE_PATH};

/// Upstream's default `--binary-image` for generated index Dockerfiles.
pub(crate) const DEFAULT_BINARY_IMAGE: &str = "quay.io/operator-framework/opm:latest";
/// Upstream's default `--out-dockerfile`.
pub const DEFAULT_DOCKERFILE: &str = "index.Dockerfile";

/// The sqlite index Dockerfile; `database_path` is the database's path in the build context
/// (`database/index.db`).
pub(crate) fn sqlite_index(binary_image: &str, database_path: &str) -> String {
    let binary = if binary_image.is_empty() {
        DEFAULT_BINARY_IMAGE
    } else {
        binary_image
    };
    format!(
        "FROM {binary}\nLABEL {INDEX_DATABASE}={DEFAULT_DATABASE_PATH}\nADD {database_path} {DEFAULT_DATABASE_PATH}\nEXPOSE 50051\nENTRYPOINT [\"/bin/opm\"]\nCMD [\"registry\", \"serve\", \"--database\", \"{DEFAULT_DATABASE_PATH}\"]\n"
    )
}

/// The file-based catalog Dockerfile (upstream's config generator); `configs_path` is the
/// catalog directory in the build context.
pub(crate) fn fbc_index(binary_image: &str, configs_path: &str) -> String {
    let binary = if binary_image.is_empty() {
        DEFAULT_BINARY_IMAGE
    } else {
        binary_image
    };
    format!(
        "FROM {binary}\nLABEL {INDEX_CONFIGS}={DEFAULT_CONFIGS_PATH}\nADD {configs_path} {DEFAULT_CONFIGS_PATH}\nEXPOSE 50051\nENTRYPOINT [\"/bin/opm\"]\nCMD [\"serve\",\"{DEFAULT_CONFIGS_PATH}\"]\n"
    )
}
