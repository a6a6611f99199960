//! OCI images without a container engine.
//!
//! * [`ImageRef`]: registry references and the `oci:<dir>[:name]` layout transport.
//! * [`ImageStore`]: fetch, pull, push, copy, resolve, inspect and unpack against either,
//!   with a content-addressed [`BlobCache`] and per-credential registry clients.
//! * [`extract`]: safe, limited layer extraction with OCI whiteouts.
//! * [`ImageBuilder`]: append deterministic layers to a base image (or scratch) and set
//!   labels; [`catalog_image`] and [`bundle_image`] for OLM content.

pub mod builder;
pub mod cache;
pub mod credentials;
pub mod digest;
pub mod error;
pub mod extract;
pub mod layer;
pub mod layout;
pub mod manifest;
mod parallel_gzip;
pub mod reference;
pub mod store;

pub use builder::{ImageBuilder, bundle_annotations, bundle_image, catalog_image};
pub use cache::BlobCache;
pub use credentials::{Credential, Credentials};
pub use digest::Sha256Digest;
pub use error::ImageError;
pub use extract::{ExtractError, ExtractLimits, ExtractOptions, SymlinkPolicy};
pub use layer::LayerContent;
pub use layout::OciLayout;
pub use manifest::Platform;
pub use reference::{ImageRef, LayoutRef, RegistryRef};
pub use store::{
    CONFIGS_LABEL, DATABASE_LABEL, Image, ImageStore, PushReport, RegistryOptions, Unpacked,
};
