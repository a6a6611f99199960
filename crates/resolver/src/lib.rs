//! OLM dependency resolution.
//!
//! Two layers:
//!
//! * [`model`]: a deppy-shaped constraint language (mandatory, prohibited, dependency with
//!   ordered candidates, conflict, at-most, or) with [`model::solve`], which returns the
//!   preferred selection or an irreducible, deterministically ordered explanation. resolvo is
//!   the engine behind it and can be replaced.
//! * the OLM layer: catalogs of bundles ([`Catalog`]), requests ([`Request`]), installed
//!   bundles ([`Installed`]) and [`resolve`], which builds the constraint problem the way
//!   operator-controller v0.8.0 did (with the fixes listed in `docs/resolution.md`) and turns
//!   the answer into a [`Plan`] or an [`Unsatisfiable`] explanation.
//!
//! Modules, each using only the ones listed before it: `input` (the bundle types callers
//! build), `constraint` (`olm.constraint` trees and their CEL rules), `bundle` (a bundle
//! indexed once), `prepared` (request-independent indexes of all bundles), `catalog` (the
//! [`Catalog`]), `fbc_catalog` (a [`Catalog`] from parsed FBC), `request` and `plan` (what
//! callers ask and get back), [`model`] and `resolve` (problem building, plan extraction,
//! rejections and explanations).

mod bundle;
mod catalog;
mod constraint;
mod fbc_catalog;
mod input;
pub mod model;
mod plan;
mod prepared;
mod request;
mod resolve;

pub use catalog::{BundleSummary, Catalog, CatalogError, PackageInfo};
pub use constraint::{
    CelCompileError, ConstraintError, ConstraintExpr, MAX_CEL_RULE_BYTES, MAX_CONSTRAINT_BYTES,
};
pub use fbc_catalog::{FbcCatalogError, FbcSource, catalog_from_fbc};
pub use input::{BundleInput, ChannelEntry, Gvk, Property};
pub use plan::{InputError, Plan, Rejection, ResolveError, Selection, Unsatisfiable, Why};
pub use request::{
    BundleLocator, Installed, Options, OthersPolicy, Request, SuccessorMode, UpgradePolicy,
};
pub use resolve::{resolve, resolve_each};
