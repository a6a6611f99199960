//! Deployments from the CSV's install strategy: the pod template annotated as OLM v0 does
//! (CSV annotations, `olm.targetNamespaces`, `olm.operatorNamespace`), then merged with the
//! deployment configuration the way OLM v0 merges `Subscription.spec.config`.

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::DeploymentConfig;
use crate::csv::{Csv, DeploymentSpec};
use crate::install_mode::Targets;

pub const TARGET_NAMESPACES_ANNOTATION: &str = "olm.targetNamespaces";
pub const OPERATOR_NAMESPACE_ANNOTATION: &str = "olm.operatorNamespace";

pub(crate) fn deployment(
    spec: &DeploymentSpec,
    csv: &Csv,
    install_namespace: &str,
    targets: &Targets,
    config: &DeploymentConfig,
) -> Value {
    let mut body = spec.spec.clone();
    let template = object_at(&mut body, "template");
    let template_metadata = object_at(template, "metadata");
    let annotations = object_at(template_metadata, "annotations");
    // The template's own annotations win over the CSV's.
    add_missing(annotations, &csv.annotations);
    annotations.insert(
        TARGET_NAMESPACES_ANNOTATION.into(),
        targets.annotation().into(),
    );
    annotations.insert(
        OPERATOR_NAMESPACE_ANNOTATION.into(),
        install_namespace.into(),
    );
    let mut metadata = json!({"name": spec.name, "namespace": install_namespace});
    if !spec.label.is_empty() {
        metadata["labels"] = json!(spec.label);
    }
    let mut deployment = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata,
        "spec": Value::Object(body),
    });
    apply_config(&mut deployment, config);
    deployment
}

/// The object under `key`, created (or replacing a non-object) when missing.
pub(crate) fn object_at<'a>(
    map: &'a mut Map<String, Value>,
    key: &str,
) -> &'a mut Map<String, Value> {
    let slot = map
        .entry(key.to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    match slot {
        Value::Object(map) => map,
        _ => unreachable!("just made an object"),
    }
}

/// The array under `key`, created (or replacing a non-array) when missing.
fn array_at<'a>(map: &'a mut Map<String, Value>, key: &str) -> &'a mut Vec<Value> {
    let slot = map
        .entry(key.to_owned())
        .or_insert_with(|| Value::Array(Vec::new()));
    if !slot.is_array() {
        *slot = Value::Array(Vec::new());
    }
    match slot {
        Value::Array(list) => list,
        _ => unreachable!("just made an array"),
    }
}

fn to_values<T: Serialize>(items: &[T]) -> Vec<Value> {
    items
        .iter()
        .map(|item| serde_json::to_value(item).unwrap_or(Value::Null))
        .collect()
}

/// The pod spec of a Deployment object built by [`deployment`].
pub(crate) fn pod_spec(deployment: &mut Value) -> &mut Map<String, Value> {
    let Value::Object(root) = deployment else {
        unreachable!("deployments are built as objects")
    };
    let spec = object_at(root, "spec");
    let template = object_at(spec, "template");
    object_at(template, "spec")
}

/// Each container of `pod`, as an object.
pub(crate) fn containers(
    pod: &mut Map<String, Value>,
) -> impl Iterator<Item = &mut Map<String, Value>> {
    array_at(pod, "containers")
        .iter_mut()
        .filter_map(Value::as_object_mut)
}

fn apply_config(deployment: &mut Value, config: &DeploymentConfig) {
    if !config.annotations.is_empty() {
        add_annotations(deployment, &config.annotations);
    }
    let pod = pod_spec(deployment);
    let env = to_values(&config.env);
    let env_from = to_values(&config.env_from);
    let mounts = to_values(&config.volume_mounts);
    let resources = config
        .resources
        .as_ref()
        .map(|r| serde_json::to_value(r).unwrap_or(Value::Null));
    for container in containers(pod) {
        if !env.is_empty() {
            merge_env(array_at(container, "env"), &env);
        }
        if !env_from.is_empty() {
            append_missing(array_at(container, "envFrom"), &env_from);
        }
        if !mounts.is_empty() {
            replace_by_name(array_at(container, "volumeMounts"), &mounts);
        }
        if let Some(resources) = &resources {
            container.insert("resources".into(), resources.clone());
        }
    }
    if !config.volumes.is_empty() {
        replace_by_name(array_at(pod, "volumes"), &to_values(&config.volumes));
    }
    if !config.tolerations.is_empty() {
        append_missing(
            array_at(pod, "tolerations"),
            &to_values(&config.tolerations),
        );
    }
    if let Some(selector) = &config.node_selector {
        pod.insert("nodeSelector".into(), json!(selector));
    }
    if let Some(affinity) = &config.affinity {
        override_affinity(pod, serde_json::to_value(affinity).unwrap_or(Value::Null));
    }
}

/// OLM v0: a config annotation is added to the Deployment and its pod template unless the
/// object already has that key.
fn add_annotations(deployment: &mut Value, extra: &std::collections::BTreeMap<String, String>) {
    let Value::Object(root) = deployment else {
        return;
    };
    add_missing(object_at(object_at(root, "metadata"), "annotations"), extra);
    let template = object_at(object_at(root, "spec"), "template");
    add_missing(
        object_at(object_at(template, "metadata"), "annotations"),
        extra,
    );
}

/// Adds each annotation whose key is not there yet.
fn add_missing(
    annotations: &mut Map<String, Value>,
    extra: &std::collections::BTreeMap<String, String>,
) {
    for (key, value) in extra {
        annotations
            .entry(key.clone())
            .or_insert_with(|| value.clone().into());
    }
}

fn name_of(item: &Value) -> Option<&str> {
    item.get("name").and_then(Value::as_str)
}

/// OLM v0's env merge: existing variables keep their place (a configured one of the same name
/// replaces the value), then the configured ones that are new, in their order.
fn merge_env(existing: &mut Vec<Value>, configured: &[Value]) {
    for item in existing.iter_mut() {
        if let Some(replacement) = configured
            .iter()
            .rev()
            .find(|c| name_of(c) == name_of(item))
        {
            *item = replacement.clone();
        }
    }
    for item in configured {
        let later = configured
            .iter()
            .rev()
            .find(|c| name_of(c) == name_of(item))
            .unwrap_or(item);
        if !existing.iter().any(|e| name_of(e) == name_of(item)) {
            existing.push(later.clone());
        }
    }
}

/// Replaces the item of the same name, or appends (volumes and volume mounts).
pub(crate) fn replace_by_name(existing: &mut Vec<Value>, new: &[Value]) {
    for item in new {
        match existing.iter_mut().find(|e| name_of(e) == name_of(item)) {
            Some(slot) => *slot = item.clone(),
            None => existing.push(item.clone()),
        }
    }
}

/// Appends what is not already there, compared whole (envFrom sources, tolerations).
fn append_missing(existing: &mut Vec<Value>, new: &[Value]) {
    for item in new {
        if !existing.contains(item) {
            existing.push(item.clone());
        }
    }
}

/// OLM v0's affinity override: an empty configured affinity removes the pod's; otherwise each
/// kind the config sets replaces the pod's (an empty one removes it), and an affinity left
/// empty is removed.
fn override_affinity(pod: &mut Map<String, Value>, configured: Value) {
    let empty = |v: &Value| v.as_object().is_none_or(Map::is_empty);
    let pod_is_empty = pod.get("affinity").is_none_or(empty);
    if pod_is_empty || empty(&configured) {
        match empty(&configured) {
            true => pod.remove("affinity"),
            false => pod.insert("affinity".into(), configured),
        };
        return;
    }
    let Some(Value::Object(configured)) = Some(configured) else {
        return;
    };
    let affinity = object_at(pod, "affinity");
    for (kind, value) in configured {
        if empty(&value) {
            affinity.remove(&kind);
        } else {
            affinity.insert(kind, value);
        }
    }
    if affinity.is_empty() {
        pod.remove("affinity");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(affinity: Value) -> Map<String, Value> {
        let mut pod = Map::new();
        if !affinity.is_null() {
            pod.insert("affinity".into(), affinity);
        }
        pod
    }

    #[test]
    fn affinity_override_per_kind() {
        let node =
            json!({"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": []}});
        let pod_affinity = json!({"preferredDuringSchedulingIgnoredDuringExecution": []});
        // No affinity on the pod: the configured one is taken whole.
        let mut p = pod(Value::Null);
        override_affinity(&mut p, json!({"nodeAffinity": node}));
        assert_eq!(p["affinity"], json!({"nodeAffinity": node}));
        // An existing kind not configured stays; a configured one replaces.
        let mut p = pod(json!({"podAffinity": pod_affinity, "nodeAffinity": {"x": 1}}));
        override_affinity(&mut p, json!({"nodeAffinity": node}));
        assert_eq!(
            p["affinity"],
            json!({"podAffinity": pod_affinity, "nodeAffinity": node})
        );
        // An empty kind removes that kind only; an emptied affinity goes away.
        let mut p = pod(json!({"podAffinity": pod_affinity, "podAntiAffinity": pod_affinity}));
        override_affinity(&mut p, json!({"podAntiAffinity": {}}));
        assert_eq!(p["affinity"], json!({"podAffinity": pod_affinity}));
        override_affinity(&mut p, json!({"podAffinity": {}}));
        assert!(!p.contains_key("affinity"));
        // An empty affinity removes the pod's.
        let mut p = pod(json!({"podAffinity": pod_affinity}));
        override_affinity(&mut p, json!({}));
        assert!(!p.contains_key("affinity"));
    }

    #[test]
    fn env_merge_keeps_order_and_last_configured_value() {
        let mut env = vec![
            json!({"name": "A", "value": "1"}),
            json!({"name": "B", "value": "2"}),
        ];
        merge_env(
            &mut env,
            &[
                json!({"name": "C", "value": "3"}),
                json!({"name": "A", "value": "x"}),
                json!({"name": "C", "value": "4"}),
            ],
        );
        assert_eq!(
            env,
            [
                json!({"name": "A", "value": "x"}),
                json!({"name": "B", "value": "2"}),
                json!({"name": "C", "value": "4"}),
            ]
        );
    }
}
