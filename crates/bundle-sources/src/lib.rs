//! Where a RukPak `Bundle`'s content comes from, unpacked in-process (no unpack pods).
//!
//! [`Sources::unpack`] writes the content of one `spec.source` into an empty directory and
//! says which pinned source it came from (an image digest, a git commit) or that it is still
//! pending (an upload that has not arrived). One module per source type:
//! `image`, `git`, `http`, `config_maps`, `upload`. Objects the sources read from the system
//! namespace (Secrets, ConfigMaps) come through [`SystemObjects`], so this crate does not talk
//! to the API server itself.

mod git;

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use olm_api::BundleSource;

pub use git::{CloneError, GitError, GitOptions, TreeError, fetch as fetch_git};

/// The `data` of a Secret, base64-decoded.
pub type SecretData = BTreeMap<String, Vec<u8>>;

/// Reads the objects a source refers to, in the provisioner's system namespace.
pub trait SystemObjects: Send + Sync {
    /// The Secret `name`, or `None` when it does not exist.
    fn secret(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<SecretData>, LookupError>> + Send;
    /// The ConfigMap `name`, or `None` when it does not exist.
    fn config_map(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<ConfigMap>, LookupError>> + Send;
}

/// Reading an object through [`SystemObjects`] failed (not a "not found").
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct LookupError {
    pub message: String,
}

/// What one unpack produced.
#[derive(Clone, Debug, PartialEq)]
pub enum Unpack {
    /// The content is in the destination directory; `resolved` is the source pinned to what
    /// was read (`status.resolvedSource`).
    Unpacked { resolved: BundleSource },
    /// Nothing to unpack yet (e.g. `waiting for bundle to be uploaded`); the destination is
    /// left empty.
    Pending { message: String },
}

/// Why a source could not be unpacked. Messages are shown in the Bundle's `Unpacked`
/// condition after `source bundle content: `.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Git(#[from] GitError),
}
