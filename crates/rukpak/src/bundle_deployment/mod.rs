//! The BundleDeployment controller (rukpak.md §3).
//!
//! - `naming`: the template hash and the generated Bundle's name, as upstream computes them.
//! - `controller`: the reconcile loop around `plan`; `render`: the objects of an unpacked
//!   Bundle; `drift`: dynamic watches of installed kinds.
//! - `certificates`: serving certificates of registry+v1 webhooks and API services, from
//!   RukPak's CA.
//! - `plan`: which Bundle the template asks for, whether it can be installed, and the
//!   conditions written after an attempt.

mod certificates;
mod controller;
mod drift;
mod naming;
mod plan;
mod render;

pub use certificates::CertificateError;
pub use controller::{
    DeploymentContext, DeploymentError, DriftEvents, run_bundle_deployment_controller,
};
pub use naming::{bundle_name, template_hash};
pub use render::RenderError;
