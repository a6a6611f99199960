//! What can go wrong, and the `Installed` reason each failure maps to.

use std::fmt;

use health::ObjectRef;
use kube::api::GroupVersionKind;
use olm_api::bundle_deployment as bd;

/// What an apply does, decided from the inventory (upstream's release state).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Nothing was committed before.
    Install,
    /// The desired set differs from the committed one.
    Upgrade,
    /// The desired set is the committed one; re-applying repairs drift.
    Unchanged,
}

/// A failed apply and what it was doing.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct Failure {
    /// `None` when the inventory could not be read, so the action is unknown.
    pub action: Option<Action>,
    #[source]
    pub error: ApplyError,
}

impl Failure {
    /// The `Installed=False` reason: `InstallFailed`, `UpgradeFailed` or `ReconcileFailed`
    /// by action, `ErrorGettingReleaseState` when the inventory could not be read.
    pub fn reason(&self) -> &'static str {
        match self.action {
            None => bd::REASON_ERROR_GETTING_RELEASE_STATE,
            Some(Action::Install) => bd::REASON_INSTALL_FAILED,
            Some(Action::Upgrade) => bd::REASON_UPGRADE_FAILED,
            Some(Action::Unchanged) => bd::REASON_RECONCILE_FAILED,
        }
    }
}

/// A kind the API server does not serve, displayed as Kubernetes' `NoKindMatchError`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingKind(pub GroupVersionKind);

impl fmt::Display for MissingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let gvk = &self.0;
        let version = crate::discovery::api_version(&gvk.group, &gvk.version);
        write!(
            f,
            "no matches for kind \"{}\" in version \"{version}\"",
            gvk.kind
        )
    }
}

/// An existing object the owner may not take over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub object: ObjectRef,
    /// Its `core.rukpak.io/owner-kind` and `owner-name` labels, when it has them.
    pub owner: Option<(String, String)>,
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.object;
        let at = match &o.namespace {
            Some(ns) => format!("{ns}/{}", o.name),
            None => o.name.clone(),
        };
        write!(f, "{} {at} already exists and ", o.kind)?;
        match &self.owner {
            Some((kind, name)) => write!(f, "is owned by {kind} \"{name}\""),
            None => write!(f, "has no {} label", bd::LABEL_OWNER_NAME),
        }
    }
}

fn joined<T: fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("object {index} of the desired set is invalid: {reason}")]
    InvalidObject { index: usize, reason: String },
    #[error("object {0} appears more than once in the desired set")]
    Duplicate(ObjectRef),
    #[error("required resource not found: {}", joined(.0))]
    ResourcesNotFound(Vec<MissingKind>),
    #[error("discovering the resources of {api_version}: {source}")]
    Discovery {
        api_version: String,
        #[source]
        source: kube::Error,
    },
    #[error("cannot take over existing objects: {}", joined(.0))]
    Ownership(Vec<Conflict>),
    #[error("reading {object}: {source}")]
    Read {
        object: ObjectRef,
        #[source]
        source: kube::Error,
    },
    #[error("listing {resource}{}: {source}", .namespace.as_ref().map(|ns| format!(" in namespace {ns}")).unwrap_or_default())]
    List {
        resource: String,
        namespace: Option<String>,
        #[source]
        source: kube::Error,
    },
    #[error("applying {object}: {source}")]
    Apply {
        object: ObjectRef,
        #[source]
        source: kube::Error,
    },
    #[error("pruning {object}: {source}")]
    Prune {
        object: ObjectRef,
        #[source]
        source: kube::Error,
    },
    #[error("{action} the inventory Secret {namespace}/{name}: {source}")]
    InventoryStore {
        action: &'static str,
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("the inventory in Secret {namespace}/{name} is unreadable: {reason}")]
    InventoryCorrupt {
        namespace: String,
        name: String,
        reason: String,
    },
}
