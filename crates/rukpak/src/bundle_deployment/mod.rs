//! The BundleDeployment controller (rukpak.md §3).
//!
//! - `naming`: the template hash and the generated Bundle's name, as upstream computes them.

mod naming;

pub use naming::{bundle_name, template_hash};
