//! The object that owns what the applier installs (a `BundleDeployment`).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::Resource;

/// The owner of an applied set: every object gets its labels and (unless kept) a
/// controller ownerReference to it, so deleting the owner garbage-collects the set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub api_version: String,
    pub kind: String,
    pub name: String,
    pub uid: String,
}

impl Owner {
    /// The owner for a stored object; `None` when it has no name or uid yet.
    pub fn of<K: Resource<DynamicType = ()>>(object: &K) -> Option<Owner> {
        Some(Owner {
            api_version: K::api_version(&()).into_owned(),
            kind: K::kind(&()).into_owned(),
            name: object.meta().name.clone()?,
            uid: object.meta().uid.clone()?,
        })
    }

    pub(crate) fn controller_reference(&self) -> OwnerReference {
        OwnerReference {
            api_version: self.api_version.clone(),
            kind: self.kind.clone(),
            name: self.name.clone(),
            uid: self.uid.clone(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }
    }

    /// Whether `labels` name this owner (`core.rukpak.io/owner-kind` and `owner-name`).
    pub(crate) fn is_named_by(
        &self,
        labels: Option<&std::collections::BTreeMap<String, String>>,
    ) -> bool {
        let get = |key: &str| labels.and_then(|l| l.get(key)).map(String::as_str);
        get(olm_api::bundle_deployment::LABEL_OWNER_KIND) == Some(self.kind.as_str())
            && get(olm_api::bundle_deployment::LABEL_OWNER_NAME) == Some(self.name.as_str())
    }
}
