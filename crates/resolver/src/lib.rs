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

mod catalog;
mod constraint;
mod engine;
mod fbc_catalog;
pub mod model;
mod plan;
mod prepared;
mod request;
mod resolve;

pub use catalog::{
    BundleInput, BundleSummary, Catalog, CatalogError, ChannelEntry, Gvk, PackageInfo, Property,
};
pub use constraint::{ConstraintExpr, MAX_CEL_RULE_BYTES, MAX_CONSTRAINT_BYTES};
pub use fbc_catalog::{FbcCatalogError, FbcSource, catalog_from_fbc};
pub use plan::{InputError, Plan, Rejection, ResolveError, Selection, Unsatisfiable, Why};
pub use request::{
    BundleLocator, Installed, Options, OthersPolicy, Request, SuccessorMode, UpgradePolicy,
};
pub use resolve::{resolve, resolve_each};
