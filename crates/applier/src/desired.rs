//! The desired set made ready to apply: identified, defaulted, labelled, ordered, digested.

use std::collections::HashSet;

use health::ObjectRef;
use kube::api::{ApiResource, GroupVersionKind};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::discovery::Mapping;
use crate::error::ApplyError;
use crate::owner::Owner;
use olm_api::bundle_deployment::{LABEL_OWNER_KIND, LABEL_OWNER_NAME};

/// Objects with this annotation get no ownerReference and are never pruned.
pub const KEEP_ANNOTATION: &str = "helm.sh/resource-policy";

/// One object ready to apply.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    pub(crate) reference: ObjectRef,
    pub(crate) resource: ApiResource,
    pub(crate) body: Value,
}

/// The kind of desired object `index`, or why it has none.
pub(crate) fn identify(index: usize, object: &Value) -> Result<GroupVersionKind, ApplyError> {
    let invalid = |reason: &str| ApplyError::InvalidObject {
        index,
        reason: reason.to_owned(),
    };
    let text = |key: &str| {
        object
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let api_version = text("apiVersion").ok_or_else(|| invalid("no apiVersion"))?;
    let kind = text("kind").ok_or_else(|| invalid("no kind"))?;
    let named = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .is_some_and(|n| !n.is_empty());
    if !named {
        return Err(invalid("no metadata.name"));
    }
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    Ok(GroupVersionKind::gvk(group, version, kind))
}

/// Whether the object asks to be kept (`helm.sh/resource-policy: keep`).
pub(crate) fn is_kept(object: &Value) -> bool {
    object
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(KEEP_ANNOTATION))
        .and_then(Value::as_str)
        == Some("keep")
}

/// Defaults and labels `object`: a namespaced object without a namespace goes to
/// `system_namespace`, a cluster-scoped one loses any namespace; server-owned metadata
/// (`resourceVersion`, `uid`, `managedFields`) is dropped; the owner labels are set and,
/// unless kept, a controller ownerReference to the owner is added.
pub(crate) fn prepare(
    owner: &Owner,
    system_namespace: &str,
    mut object: Value,
    mapping: &Mapping,
) -> Prepared {
    let keep = is_kept(&object);
    let meta = object
        .as_object_mut()
        .expect("identified objects are JSON objects")
        .entry("metadata")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .expect("identified objects have a metadata object");
    let namespace = if mapping.namespaced {
        let ns = meta
            .get("namespace")
            .and_then(Value::as_str)
            .filter(|ns| !ns.is_empty())
            .unwrap_or(system_namespace)
            .to_owned();
        meta.insert("namespace".into(), json!(ns));
        Some(ns)
    } else {
        meta.remove("namespace");
        None
    };
    // Server-owned fields from an exported object would make the apply fail or conflict.
    for key in ["resourceVersion", "uid", "managedFields"] {
        meta.remove(key);
    }
    let labels = object_entry(meta, "labels");
    labels.insert(LABEL_OWNER_KIND.into(), json!(owner.kind));
    labels.insert(LABEL_OWNER_NAME.into(), json!(owner.name));
    if !keep {
        let reference = serde_json::to_value(owner.controller_reference())
            .expect("an OwnerReference serializes");
        let refs = meta.entry("ownerReferences").or_insert_with(|| json!([]));
        if !refs.is_array() {
            *refs = json!([]);
        }
        let refs = refs.as_array_mut().expect("just made a list");
        refs.retain(|r| r.get("uid") != reference.get("uid"));
        refs.push(reference);
    }
    let name = meta["name"].as_str().unwrap_or_default().to_owned();
    let r = &mapping.resource;
    Prepared {
        reference: ObjectRef {
            group: r.group.clone(),
            version: r.version.clone(),
            kind: r.kind.clone(),
            namespace,
            name,
        },
        resource: r.clone(),
        body: object,
    }
}

fn object_entry<'a>(map: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let entry = map.entry(key).or_insert_with(|| json!({}));
    if !entry.is_object() {
        *entry = json!({});
    }
    entry.as_object_mut().expect("just made an object")
}

/// Apply order: Namespaces, then CustomResourceDefinitions, then everything else as
/// rendered (a stable sort). The same object twice is an error.
pub(crate) fn order(mut objects: Vec<Prepared>) -> Result<Vec<Prepared>, ApplyError> {
    let mut seen = HashSet::with_capacity(objects.len());
    if let Some(dup) = objects.iter().find(|p| !seen.insert(&p.reference)) {
        return Err(ApplyError::Duplicate(dup.reference.clone()));
    }
    objects.sort_by_key(|p| phase(&p.reference));
    Ok(objects)
}

/// The apply phase of an object: 0 Namespaces, 1 CRDs, 2 the rest.
pub(crate) fn phase(object: &ObjectRef) -> u8 {
    match (object.group.as_str(), object.kind.as_str()) {
        ("", "Namespace") => 0,
        ("apiextensions.k8s.io", "CustomResourceDefinition") => 1,
        _ => 2,
    }
}

/// SHA-256 (hex) over the prepared objects in apply order: equal digests mean the same
/// desired set, so the apply is `Unchanged`.
pub(crate) fn digest(objects: &[Prepared]) -> String {
    let mut hasher = Sha256::new();
    for p in objects {
        hasher.update(serde_json::to_vec(&p.body).expect("JSON values serialize"));
        hasher.update(b"\n");
    }
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner() -> Owner {
        Owner {
            api_version: "core.rukpak.io/v1alpha1".into(),
            kind: "BundleDeployment".into(),
            name: "shop".into(),
            uid: "uid-1".into(),
        }
    }

    fn mapping(group: &str, kind: &str, plural: &str, namespaced: bool) -> Mapping {
        let gvk = GroupVersionKind::gvk(group, "v1", kind);
        Mapping {
            resource: ApiResource::from_gvk_with_plural(&gvk, plural),
            namespaced,
        }
    }

    fn prep(object: Value, m: &Mapping) -> Prepared {
        prepare(&owner(), "rukpak-system", object, m)
    }

    #[test]
    fn namespaced_objects_default_to_the_system_namespace() {
        let cm = mapping("", "ConfigMap", "configmaps", true);
        let p = prep(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}),
            &cm,
        );
        assert_eq!(p.reference.namespace.as_deref(), Some("rukpak-system"));
        assert_eq!(p.body["metadata"]["namespace"], "rukpak-system");
        assert_eq!(p.body["metadata"]["labels"][LABEL_OWNER_NAME], "shop");
        assert_eq!(
            p.body["metadata"]["labels"][LABEL_OWNER_KIND],
            "BundleDeployment"
        );
        assert_eq!(p.body["metadata"]["ownerReferences"][0]["uid"], "uid-1");
        assert_eq!(p.body["metadata"]["ownerReferences"][0]["controller"], true);
        let explicit = prep(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "x"}}),
            &cm,
        );
        assert_eq!(explicit.reference.namespace.as_deref(), Some("x"));
    }

    #[test]
    fn exported_metadata_is_cleaned_and_null_lists_replaced() {
        let cm = mapping("", "ConfigMap", "configmaps", true);
        let p = prep(
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": "a", "resourceVersion": "12", "uid": "u",
                                "managedFields": [], "labels": null, "ownerReferences": null}}),
            &cm,
        );
        let meta = p.body["metadata"].as_object().unwrap();
        assert!(!meta.contains_key("resourceVersion") && !meta.contains_key("uid"));
        assert!(!meta.contains_key("managedFields"));
        assert_eq!(meta["labels"][LABEL_OWNER_NAME], "shop");
        assert_eq!(meta["ownerReferences"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn cluster_scoped_objects_lose_a_namespace_and_kept_ones_get_no_owner_reference() {
        let cr = mapping(
            "rbac.authorization.k8s.io",
            "ClusterRole",
            "clusterroles",
            false,
        );
        let p = prep(
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                   "metadata": {"name": "r", "namespace": "x",
                                "annotations": {KEEP_ANNOTATION: "keep"}}}),
            &cr,
        );
        assert_eq!(p.reference.namespace, None);
        assert!(p.body["metadata"].get("namespace").is_none());
        assert!(p.body["metadata"].get("ownerReferences").is_none());
        assert_eq!(p.body["metadata"]["labels"][LABEL_OWNER_NAME], "shop");
    }

    #[test]
    fn namespaces_then_crds_then_rendered_order() {
        let cm = mapping("", "ConfigMap", "configmaps", true);
        let ns = mapping("", "Namespace", "namespaces", false);
        let crd = mapping(
            "apiextensions.k8s.io",
            "CustomResourceDefinition",
            "customresourcedefinitions",
            false,
        );
        let obj = |kind: &str, name: &str, m: &Mapping| {
            prep(
                json!({"apiVersion": "v1", "kind": kind, "metadata": {"name": name}}),
                m,
            )
        };
        let ordered = order(vec![
            obj("ConfigMap", "z", &cm),
            obj("CustomResourceDefinition", "c", &crd),
            obj("ConfigMap", "a", &cm),
            obj("Namespace", "n", &ns),
        ])
        .unwrap();
        let names: Vec<_> = ordered.iter().map(|p| p.reference.name.as_str()).collect();
        assert_eq!(names, ["n", "c", "z", "a"]);
        let err = order(vec![obj("ConfigMap", "a", &cm), obj("ConfigMap", "a", &cm)]).unwrap_err();
        assert!(matches!(err, ApplyError::Duplicate(_)), "{err}");
    }

    #[test]
    fn digest_changes_with_content_and_order() {
        let cm = mapping("", "ConfigMap", "configmaps", true);
        let a = prep(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}),
            &cm,
        );
        let b = prep(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b"}}),
            &cm,
        );
        let b2 = prep(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b"}, "data": {"k": "v"}}),
            &cm,
        );
        let ab = digest(&[a.clone(), b.clone()]);
        assert_eq!(ab, digest(&[a.clone(), b.clone()]));
        assert_ne!(ab, digest(&[b.clone(), a.clone()]));
        assert_ne!(ab, digest(&[a, b2]));
    }

    #[test]
    fn objects_without_identity_are_refused() {
        let err = identify(3, &json!({"apiVersion": "v1", "metadata": {"name": "a"}})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "object 3 of the desired set is invalid: no kind"
        );
        let gvk = identify(
            0,
            &json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "a"}}),
        )
        .unwrap();
        assert_eq!(gvk, GroupVersionKind::gvk("apps", "v1", "Deployment"));
    }
}
