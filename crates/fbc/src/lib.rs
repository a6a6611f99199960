//! File-Based Catalogs (FBC) as `opm` understands them: the typed model, a loader that walks a
//! catalog directory, canonical JSON/YAML writers byte-compatible with upstream `opm`, conversion
//! to the package/channel/bundle model with upstream's validation rules, and rendering of
//! registry+v1 bundle directories into `olm.bundle` blobs. Reading and writing JSON and YAML the
//! way Go does is the `go-encoding` crate's job; this crate applies it to catalogs.
//!
//! Layout: `declcfg` (the blobs), `decode` (one file into blobs), `load` (directories,
//! `.indexignore`), [`write`](mod@write) (canonical output), `model` + `validate` (the
//! package/channel/bundle model and its rules), [`property`] (typed property values), [`blang`]
//! (Go blang semver), `registry_bundle` (registry+v1 directories: reading files, parsing, the
//! typed CSV view, rendering, the `olm.csv.metadata` writer), `image_ref` (pull-spec syntax).
//! Modules are private except the three namespaces whose functions are named relative to them;
//! everything else is re-exported below.
//!
//! See `docs/fbc.md` for the format as implemented and every validation message.

pub mod blang;
mod declcfg;
mod decode;
mod error;
mod ignore;
mod image_ref;
mod load;
mod model;
pub mod property;
mod raw;
mod registry_bundle;
mod validate;
pub mod write;

pub use declcfg::{
    Bundle, Channel, ChannelEntry, DeclarativeConfig, Deprecation, DeprecationEntry, Icon, Meta,
    Origin, Package, PackageScopedReference, RelatedImage, SCHEMA_BUNDLE, SCHEMA_CHANNEL,
    SCHEMA_DEPRECATIONS, SCHEMA_PACKAGE,
};
pub use decode::{
    Blob, BlobError, Document, decode_meta, parse_documents, parse_first_document, parse_metas,
};
pub use error::{LoadError, WriteError};
pub use go_encoding::DecodeError;
pub use image_ref::{PullSpecError, validate_pull_spec};
pub use load::{
    INDEX_IGNORE_FILENAME, LoadOptions, StreamError, for_each_package, list_files, load_file,
    load_fs, load_fs_with, load_str, walk_metas,
};
pub use model::{HeadError, Model, ModelBundle, ModelChannel, ModelDeprecation, ModelPackage};
pub use property::{Property, PropertyError};
pub use raw::RawJson;
pub use registry_bundle::{
    Annotations, BundleError, BundleFile, CSV_ANNOTATION_PROPERTIES, CSV_ANNOTATION_SKIP_RANGE,
    CsvError, Manifest, ObjectProfile, RegistryBundle, SkipReason, SkippedManifest,
    csv_metadata_json, parse_bundle_dir, parse_bundle_files, parse_bundle_tree, render_bundle_dir,
};
pub use validate::{ValidationError, convert_to_model, validate_model};
pub use write::{Format, write_fs};
