//! registry+v1 bundles converted to plain Kubernetes objects, as the registry provisioner and
//! `rukpakctl convert` need them (`docs/registry-conversion.md`). Upstream's conversion (rukpak
//! v0.16) with its defects fixed, plus what upstream refused: every install mode, OLM v0's
//! deployment configuration, webhooks (validating, mutating, conversion), owned API services
//! and their serving certificates.
//!
//! * `options`: [`ConvertOptions`], read from a BundleDeployment's `spec.config`;
//! * `csv`: the ClusterServiceVersion fields the conversion reads;
//! * `install_mode`: target namespaces checked against the CSV's install modes;
//! * `rbac`: Roles, ClusterRoles and their bindings from the CSV's permissions;
//! * `deployment`: Deployments, pod template annotations and the configuration merge;
//! * `serving`: Services, certificates, webhook configurations, conversion webhooks and
//!   APIServices;
//! * `supported`: the other kinds a bundle may ship;
//! * `convert`: [`convert`], putting it together in upstream's order;
//! * `yaml`: [`to_yaml_stream`];
//! * `error`: [`ConvertError`].
//!
//! The output is deterministic (no certificates are generated here), so a controller's digest
//! of the desired objects is stable.

mod convert;
mod csv;
mod deployment;
mod error;
mod install_mode;
mod options;
mod rbac;
mod serving;
mod supported;
mod yaml;

pub use convert::{Converted, convert};
pub use deployment::{OPERATOR_NAMESPACE_ANNOTATION, TARGET_NAMESPACES_ANNOTATION};
pub use error::ConvertError;
pub use options::{CONFIG_KEYS, CertificateMode, ConfigError, ConvertOptions, DeploymentConfig};
pub use serving::{CERT_MANAGER_INJECT_CA_ANNOTATION, CertificateRequest, INJECT_CA_ANNOTATION};
pub use yaml::to_yaml_stream;
