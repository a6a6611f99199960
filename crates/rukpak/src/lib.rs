//! RukPak: the `Bundle` controller for the `core-rukpak-io-plain`, `-registry` and `-helm`
//! provisioner classes, the content and upload server, and the admission webhooks, in one
//! process on the shared [`controller_runtime`].
//!
//! - `args`: the flags, resolved into a [`Config`] and run ([`Args::run`]).
//! - `plan`: what a reconcile should do and the status it writes; `controller`: the
//!   reconcile loop around it, unpacking with `bundle_sources` and checking the content with
//!   `bundle_format`.
//! - `store`: unpacked content on disk, one tarball per Bundle; `upload`: uploaded archives.
//! - `server`: `/bundles/<name>.tgz` and `/uploads/<name>.tgz`; `access`: who may use them
//!   (TokenReview + SubjectAccessReview, as kube-rbac-proxy does upstream).
//! - `webhook`: `vbundles.core.rukpak.io` and `vconfigmaps.core.rukpak.io`.
//! - `metrics`: unpack counts and durations, registered into the registry the runtime serves.
//! - `bundle_deployment`: the BundleDeployment controller: the generated Bundle, its objects
//!   applied with `applier`, health, drift repair.
//! - `ctl`: `rukpakctl` (binary `src/bin/rukpakctl.rs`): `run` and `content` against a cluster.

mod access;
mod args;
mod bundle_deployment;
mod controller;
mod ctl;
#[cfg(test)]
mod fixtures;
mod metrics;
mod plan;
mod server;
mod store;
mod upload;
mod webhook;

pub use access::{Access, Refusal};
pub use args::{Args, Config, RunError};
pub use bundle_deployment::{
    CertificateError, DeploymentContext, DeploymentError, DriftEvents, RenderError, bundle_name,
    run_bundle_deployment_controller, template_hash,
};
pub use controller::{Context, Error, FIELD_MANAGER, collect_garbage, run_controller};
pub use ctl::{Archive, ArchiveError, CtlArgs, CtlError, archive_dir};
pub use metrics::Metrics;
pub use server::{ContentServer, UPLOAD_RECEIVED};
pub use store::{Store, StoreError, StoredBundle};
pub use upload::{UploadError, Uploads};
pub use webhook::{BUNDLE_PATH, CONFIG_MAP_PATH, Webhooks};
