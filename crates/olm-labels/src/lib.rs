//! The label and annotation keys of OLM's image formats, defined once.
//!
//! The same keys are image labels (on bundle and index images, read by `oci` and
//! `index-image`) and annotations (in a bundle's `metadata/annotations.yaml`, read by `fbc`
//! and `sqlite-index`), so they live here, below every crate that needs them, rather than
//! in any one of them (as uv keeps its environment variable names in `uv-static`).

/// The bundle's package name.
pub const BUNDLE_PACKAGE: &str = "operators.operatorframework.io.bundle.package.v1";
/// The channels the bundle belongs to, comma-separated.
pub const BUNDLE_CHANNELS: &str = "operators.operatorframework.io.bundle.channels.v1";
/// The channel a new package defaults to.
pub const BUNDLE_DEFAULT_CHANNEL: &str = "operators.operatorframework.io.bundle.channel.default.v1";
/// The bundle format; `registry+v1` for the format this project converts.
pub const BUNDLE_MEDIATYPE: &str = "operators.operatorframework.io.bundle.mediatype.v1";
/// The directory in a bundle image that holds its manifests (`manifests/`).
pub const BUNDLE_MANIFESTS: &str = "operators.operatorframework.io.bundle.manifests.v1";
/// The directory in a bundle image that holds its metadata (`metadata/`).
pub const BUNDLE_METADATA: &str = "operators.operatorframework.io.bundle.metadata.v1";
/// The directory in a bundle image that holds scorecard test configuration.
pub const TEST_CONFIG: &str = "operators.operatorframework.io.test.config.v1";
/// The directory in a catalog image that holds its file-based catalog.
pub const INDEX_CONFIGS: &str = "operators.operatorframework.io.index.configs.v1";
/// The path of the sqlite database in a sqlite index image.
pub const INDEX_DATABASE: &str = "operators.operatorframework.io.index.database.v1";
