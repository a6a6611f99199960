//! OCI images without a container engine.
//!
//! * [`ImageRef`]: registry references and the `oci:<dir>[:name]` layout transport.
//! * [`ImageStore`]: fetch, pull, push, copy, resolve, inspect and unpack against either,
//!   with a content-addressed [`BlobCache`] and per-credential registry clients.
//! * [`extract_layers`] and [`read_layers`]: safe, limited layer extraction with OCI
//!   whiteouts, to a directory or into memory.
//! * [`ImageBuilder`]: append deterministic layers to a base image (or scratch) and set
//!   labels; [`catalog_image`] and [`bundle_image`] for OLM content.
//!
//! The modules are private; the list below is the API. Lower modules first (none uses one
//! after it): `extract` (with `extract/entry` and `extract/memory`), `error`, `digest`,
//! `reference`, `credentials`, `manifest`, `cache`, `layout`, `parallel_gzip`, `layer`,
//! `store`, `builder`.

mod builder;
mod cache;
mod credentials;
mod digest;
mod error;
mod extract;
mod layer;
mod layout;
mod manifest;
mod parallel_gzip;
mod reference;
mod store;

pub use builder::{ImageBuilder, bundle_annotations, bundle_image, catalog_image};
pub use cache::BlobCache;
pub use credentials::{Credential, Credentials};
pub use digest::Sha256Digest;
pub use error::ImageError;
pub use extract::{
    ExtractError, ExtractLimits, ExtractOptions, ExtractStats, LayerCompression, LayerFile,
    SymlinkPolicy, TEXT_SNIFF_BYTES, extract_layers, read_layers,
};
pub use layer::{BuiltLayer, LayerContent};
pub use layout::OciLayout;
pub use manifest::{
    Descriptor, ImageIndex, ImageManifest, ManifestDocument, OCI_INDEX, OCI_MANIFEST, Platform,
};
pub use reference::{ImageRef, LayoutRef, RegistryRef};
pub use store::{Image, ImageStore, PushReport, RegistryOptions, Unpacked};
