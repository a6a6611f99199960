//! File-Based Catalogs (FBC) as `opm` understands them: the typed model, a loader that walks a
//! catalog directory, canonical JSON/YAML writers byte-compatible with upstream `opm`, conversion
//! to the package/channel/bundle model with upstream's validation rules, and rendering of
//! registry+v1 bundle directories into `olm.bundle` blobs.
//!
//! See `docs/fbc.md` for the format as implemented and every validation message.

pub mod blang;
pub mod declcfg;
pub mod decode;
pub mod error;
pub mod go_json;
pub mod go_number;
mod godecode;
pub mod goyaml;
pub mod ignore;
pub mod image_ref;
mod json_canonical;
pub mod load;
pub mod model;
pub mod property;
pub mod raw;
pub mod registry_bundle;
pub mod validate;
pub mod write;

pub use declcfg::{
    Bundle, Channel, ChannelEntry, DeclarativeConfig, Deprecation, DeprecationEntry, Icon, Meta,
    Origin, Package, PackageScopedReference, RelatedImage,
};
pub use decode::{Blob, decode_meta, parse_metas};
pub use error::{LoadError, WriteError};
pub use godecode::DecodeError;
pub use load::{
    LoadOptions, StreamError, for_each_package, list_files, load_file, load_fs, load_fs_with,
    load_str, walk_metas,
};
pub use model::Model;
pub use property::Property;
pub use raw::RawJson;
pub use registry_bundle::{
    BundleError, BundleFile, ObjectProfile, RegistryBundle, parse_bundle_dir, parse_bundle_files,
    parse_bundle_tree, render_bundle_dir,
};
pub use validate::{ValidationError, convert_to_model, validate_model};
pub use write::{Format, write_fs};
