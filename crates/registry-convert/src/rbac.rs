//! RBAC from the CSV's `permissions` and `clusterPermissions`: a Role and RoleBinding per
//! namespaced permission and target namespace, a ClusterRole and ClusterRoleBinding per cluster
//! permission; in AllNamespaces mode namespaced permissions become cluster-wide. Role and
//! binding share a name derived from the permission entry, as upstream names them.

use go_encoding::{GoObject, push_string};
use serde_json::{Value, json};
use sha2::{Digest, Sha224};

use crate::csv::{Csv, Permission, PolicyRule};
use crate::install_mode::Targets;

/// Kubernetes' limit for a label-like name; upstream's truncation could exceed it by one.
const MAX_NAME_LENGTH: usize = 63;

/// The RBAC objects, grouped in upstream's output order.
#[derive(Debug, Default)]
pub(crate) struct Rbac {
    pub(crate) roles: Vec<Value>,
    pub(crate) role_bindings: Vec<Value>,
    pub(crate) cluster_roles: Vec<Value>,
    pub(crate) cluster_role_bindings: Vec<Value>,
}

/// The rule every promoted permission gains in AllNamespaces mode: the operator must be able
/// to list the namespaces it watches.
fn namespaces_rule() -> PolicyRule {
    PolicyRule {
        verbs: Some(vec!["get".into(), "list".into(), "watch".into()]),
        api_groups: vec![String::new()],
        resources: vec!["namespaces".into()],
        ..PolicyRule::default()
    }
}

pub(crate) fn service_account_name(name: &str) -> &str {
    if name.is_empty() { "default" } else { name }
}

pub(crate) fn rbac(csv: &Csv, install_namespace: &str, targets: &Targets) -> Rbac {
    let mut out = Rbac::default();
    let mut cluster: Vec<(&Permission, Option<PolicyRule>)> =
        csv.cluster_permissions.iter().map(|p| (p, None)).collect();
    if targets.is_all_namespaces() {
        cluster.extend(csv.permissions.iter().map(|p| (p, Some(namespaces_rule()))));
    } else {
        for namespace in targets.namespaces() {
            for permission in &csv.permissions {
                let name = role_name(&csv.name, permission);
                let sa = service_account_name(&permission.service_account_name);
                out.roles.push(json!({
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "Role",
                    "metadata": {"name": name, "namespace": namespace},
                    "rules": rules(permission, None),
                }));
                out.role_bindings.push(binding(
                    "RoleBinding",
                    "Role",
                    &name,
                    Some(namespace),
                    install_namespace,
                    sa,
                ));
            }
        }
    }
    for (permission, extra) in cluster {
        let name = role_name(&csv.name, permission);
        let sa = service_account_name(&permission.service_account_name);
        // A namespaced permission equal to a cluster permission has its name; one ClusterRole
        // then holds the rules of both.
        if let Some(existing) = out
            .cluster_roles
            .iter_mut()
            .find(|role| role["metadata"]["name"] == name.as_str())
        {
            if let (Some(rules), Value::Array(more)) =
                (existing["rules"].as_array_mut(), rules(permission, extra))
            {
                for rule in more {
                    if !rules.contains(&rule) {
                        rules.push(rule);
                    }
                }
            }
            continue;
        }
        out.cluster_roles.push(json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": name},
            "rules": rules(permission, extra),
        }));
        out.cluster_role_bindings.push(binding(
            "ClusterRoleBinding",
            "ClusterRole",
            &name,
            None,
            install_namespace,
            sa,
        ));
    }
    out
}

fn rules(permission: &Permission, extra: Option<PolicyRule>) -> Value {
    match (&permission.rules, extra) {
        (None, None) => Value::Null,
        (rules, extra) => rules
            .iter()
            .flatten()
            .chain(extra.as_ref())
            .map(PolicyRule::to_value)
            .collect(),
    }
}

/// A binding of one ServiceAccount (in the install namespace) to a role of the same name.
pub(crate) fn binding(
    kind: &str,
    role_kind: &str,
    name: &str,
    namespace: Option<&str>,
    sa_namespace: &str,
    sa: &str,
) -> Value {
    let mut metadata = json!({"name": name});
    if let Some(namespace) = namespace {
        metadata["namespace"] = namespace.into();
    }
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": kind,
        "metadata": metadata,
        "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": sa_namespace}],
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": name},
    })
}

/// `<csv>-<serviceaccount>-<hash>`, the prefix cut so the whole stays within 63 characters. The
/// hash covers the permission entry as the CSV states it (without the promoted namespaces
/// rule), so names match upstream's wherever upstream's fit.
pub(crate) fn role_name(csv_name: &str, permission: &Permission) -> String {
    let hash = permission_hash(permission);
    let mut base = format!(
        "{csv_name}-{}",
        service_account_name(&permission.service_account_name)
    );
    let room = MAX_NAME_LENGTH - 1 - hash.len();
    if base.len() > room {
        let mut cut = room;
        while !base.is_char_boundary(cut) {
            cut -= 1;
        }
        base.truncate(cut);
    }
    format!("{base}-{hash}")
}

/// Base-36 SHA-224 of the entry encoded as Go's `json.Encoder` encodes the typed struct (HTML
/// characters escaped, a trailing newline).
fn permission_hash(permission: &Permission) -> String {
    let mut json = String::new();
    let mut object = GoObject::new(&mut json);
    object.str("serviceAccountName", &permission.service_account_name);
    let out = object.key("rules");
    match &permission.rules {
        None => out.push_str("null"),
        Some(rules) => {
            out.push('[');
            for (i, rule) in rules.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_rule(out, rule);
            }
            out.push(']');
        }
    }
    object.end();
    json.push('\n');
    go_encoding::big_int_text36(&Sha224::digest(json.as_bytes()))
}

fn push_rule(out: &mut String, rule: &PolicyRule) {
    let mut object = GoObject::new(out);
    let verbs = object.key("verbs");
    match &rule.verbs {
        None => verbs.push_str("null"),
        Some(list) => push_list(verbs, list),
    }
    for (key, list) in [
        ("apiGroups", &rule.api_groups),
        ("resources", &rule.resources),
        ("resourceNames", &rule.resource_names),
        ("nonResourceURLs", &rule.non_resource_urls),
    ] {
        if !list.is_empty() {
            push_list(object.key(key), list);
        }
    }
    object.end();
}

fn push_list(out: &mut String, items: &[String]) {
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_string(out, item, true);
    }
    out.push(']');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_never_exceed_63_characters() {
        let permission = Permission {
            service_account_name: "sa".into(),
            rules: Some(vec![]),
        };
        let hash = permission_hash(&permission);
        // A base exactly filling 63 with the hash is where upstream produced 64 characters.
        let csv_name = "c".repeat(MAX_NAME_LENGTH - hash.len() - "-sa".len());
        let name = role_name(&csv_name, &permission);
        assert_eq!(name.len(), MAX_NAME_LENGTH, "{name}");
        assert!(name.ends_with(&format!("-{hash}")));
        let short = role_name("op.v1", &permission);
        assert_eq!(short, format!("op.v1-sa-{hash}"));
    }
}
