//! The BundleDeployment controller (rukpak.md §3).
//!
//! - `naming`: the template hash and the generated Bundle's name, as upstream computes them.
//! - `plan`: which Bundle the template asks for, whether it can be installed, and the
//!   conditions written after an attempt.

mod naming;
mod plan;

pub use naming::{bundle_name, template_hash};
