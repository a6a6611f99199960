//! Health of Kubernetes objects, as RukPak reports it on a `BundleDeployment`.
//!
//! No kube, no tokio: objects come in as `serde_json` values (what a GET returns).
//!
//! - `status`: the kstatus-style computation (the behaviour of
//!   `sigs.k8s.io/cli-utils` `pkg/kstatus/status`): generic properties first (deletion,
//!   observed generation, `Reconciling`/`Stalled` conditions), then a rule per built-in
//!   kind, then a `Ready` condition, else `Current`.
//! - `rules`: the per-kind rules (Deployment, StatefulSet, DaemonSet, ReplicaSet, Pod,
//!   PersistentVolumeClaim, PodDisruptionBudget, Job, Service, CustomResourceDefinition).
//! - `report`: RukPak's verdict per object (`APIService` needs `Available`, everything
//!   else must be `Current`), the object reference and the joined error text of
//!   `Healthy=False/Unhealthy`.

mod fields;
mod report;
mod rules;
mod status;

pub use report::{ObjectProblem, ObjectRef, Unhealthy, check_object};
pub use status::{ComputeError, Evaluation, Status, compute, compute_at};
