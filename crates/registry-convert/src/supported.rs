//! The kinds OLM installs from a bundle besides the CSV and CRDs (operator-registry v1.28's
//! supported-resources list), matched by kind only, as upstream does.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scope {
    /// Placed in the install namespace, whatever namespace the manifest names.
    Namespaced,
    /// Left as written.
    Cluster,
}

const NAMESPACED: &[&str] = &[
    "Service",
    "ServiceAccount",
    "Role",
    "RoleBinding",
    "PrometheusRule",
    "ServiceMonitor",
    "Secret",
    "ConfigMap",
    "PodDisruptionBudget",
];

const CLUSTER: &[&str] = &[
    "ClusterRole",
    "ClusterRoleBinding",
    "PriorityClass",
    "VerticalPodAutoscaler",
    "ConsoleYAMLSample",
    "ConsoleQuickStart",
    "ConsoleCLIDownload",
    "ConsoleLink",
];

pub(crate) fn scope_of(kind: &str) -> Option<Scope> {
    if NAMESPACED.contains(&kind) {
        Some(Scope::Namespaced)
    } else if CLUSTER.contains(&kind) {
        Some(Scope::Cluster)
    } else {
        None
    }
}
