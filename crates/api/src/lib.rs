//! Kubernetes API types of OLM 1.0 and their CustomResourceDefinitions.
//!
//! | kind | group/version | module |
//! |---|---|---|
//! | `Operator` | `operators.operatorframework.io/v1alpha1` | [`operator`] |
//! | `Bundle` | `core.rukpak.io/v1alpha1` | [`bundle`] |
//! | `BundleDeployment` | `core.rukpak.io/v1alpha1` | [`bundle_deployment`] |
//! | `Catalog` | `catalogd.operatorframework.io/v1alpha1` | [`catalog`] |
//!
//! All kinds are cluster-scoped and have a `status` subresource. The CRDs that are installed in
//! clusters come from [`crd::all`]; `config/crd/*.yaml` is generated from it by `cargo run -p crdgen`.
//! Validation lives in the schema (patterns, enums, CEL `x-kubernetes-validations`), so it is
//! enforced by the API server without a webhook; `docs/api.md` lists every rule.

// kube's `KubeSchema` derive re-emits each struct inside a private module to build its schema,
// and the workspace's `unreachable_pub` lint fires on those copies, not on anything written here.
#![allow(unreachable_pub)]

pub mod bundle;
pub mod bundle_deployment;
pub mod catalog;
pub mod conditions;
pub mod crd;
pub mod operator;

pub use bundle::{Bundle, BundleSource, BundleSpec, BundleStatus};
pub use bundle_deployment::{BundleDeployment, BundleDeploymentSpec, BundleDeploymentStatus};
pub use catalog::{Catalog, CatalogSpec, CatalogStatus};
pub use operator::{Operator, OperatorSpec, OperatorStatus, UpgradeConstraintPolicy};
