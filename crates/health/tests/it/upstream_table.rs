//! The cases of upstream RukPak's health-check unit table (v0.16.0
//! `internal/healthchecks/builtin_test.go`), with our own fixtures: each object is written
//! as the API server would return it (zero counters omitted), and each case expects the
//! same healthy/unhealthy verdict for the whole set.

use serde_json::{Value, json};

use crate::{obj, problems};

fn deployment(status: Value) -> Value {
    obj("apps/v1", "Deployment", "web", json!({ "status": status }))
}

fn deployment_counts_with(conditions: Value) -> Value {
    deployment(json!({
        "conditions": conditions,
        "replicas": 1, "updatedReplicas": 1, "availableReplicas": 1, "readyReplicas": 1
    }))
}

fn available_deployment() -> Value {
    deployment_counts_with(json!([{"type": "Available", "status": "True"}]))
}

fn stateful_set(body: Value) -> Value {
    obj("apps/v1", "StatefulSet", "db", body)
}

fn ready_stateful_set() -> Value {
    stateful_set(json!({"status": {"readyReplicas": 1, "replicas": 1, "currentReplicas": 1}}))
}

fn rolling_stateful_set(generation: i64, status: Value) -> Value {
    stateful_set(json!({
        "metadata": {"generation": generation},
        "spec": {"updateStrategy": {"type": "RollingUpdate"}, "replicas": 1},
        "status": status
    }))
}

fn daemon_set(available: i64, ready: i64) -> Value {
    let mut status = json!({
        "desiredNumberScheduled": 1, "observedGeneration": 1,
        "currentNumberScheduled": 1, "updatedNumberScheduled": 1
    });
    if available > 0 {
        status["numberAvailable"] = json!(available);
    }
    if ready > 0 {
        status["numberReady"] = json!(ready);
    }
    obj(
        "apps/v1",
        "DaemonSet",
        "agent",
        json!({"metadata": {"generation": 1}, "status": status}),
    )
}

fn replica_set(ready: bool) -> Value {
    let mut status = json!({"replicas": 1, "fullyLabeledReplicas": 1});
    if ready {
        status["availableReplicas"] = json!(1);
        status["readyReplicas"] = json!(1);
    }
    obj(
        "apps/v1",
        "ReplicaSet",
        "web-5d9c",
        json!({ "status": status }),
    )
}

fn running_pod(conditions: Value) -> Value {
    obj(
        "v1",
        "Pod",
        "web-5d9c-x2",
        json!({"status": {"phase": "Running", "conditions": conditions}}),
    )
}

fn api_service(conditions: Value) -> Value {
    obj(
        "apiregistration.k8s.io/v1",
        "APIService",
        "v1.metrics.example.com",
        json!({"status": {"conditions": conditions}}),
    )
}

fn crd(conditions: Value) -> Value {
    obj(
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
        "widgets.example.com",
        json!({"status": {"conditions": conditions}}),
    )
}

fn established() -> Value {
    crd(json!([{
        "type": "Established", "status": "True", "message": "CustomResourceDefinition is established"
    }]))
}

fn assert_healthy(objects: &[Value]) {
    let found = problems(objects);
    assert!(found.is_empty(), "expected healthy, got {found:?}");
}

fn assert_unhealthy(objects: &[Value]) -> Vec<String> {
    let found: Vec<String> = problems(objects).iter().map(ToString::to_string).collect();
    assert!(!found.is_empty(), "expected unhealthy: {objects:?}");
    found
}

#[test]
fn every_supported_kind_healthy() {
    assert_healthy(&[
        available_deployment(),
        ready_stateful_set(),
        daemon_set(1, 1),
        replica_set(true),
        running_pod(json!([{"type": "Ready", "status": "True"}])),
        api_service(json!([{"type": "Available", "status": "True"}])),
        established(),
    ]);
}

#[test]
fn one_unhealthy_object_among_healthy_ones() {
    let found = assert_unhealthy(&[
        available_deployment(),
        ready_stateful_set(),
        daemon_set(0, 0),
    ]);
    assert_eq!(
        found,
        ["(apps/v1, Kind=DaemonSet)(agent): object InProgress: Available: 0/1"]
    );
}

#[test]
fn every_object_unhealthy() {
    let found = assert_unhealthy(&[
        deployment_counts_with(json!([{
            "type": "Available", "status": "False", "message": "Something went wrong"
        }])),
        stateful_set(json!({"status": {"replicas": 1, "currentReplicas": 1}})),
        daemon_set(0, 0),
        replica_set(false),
        running_pod(json!([{"type": "Ready", "status": "False"}])),
        api_service(
            json!([{"type": "Available", "status": "False", "message": "Something went wrong"}]),
        ),
        crd(json!([{
            "type": "Established", "status": "False",
            "message": "CustomResourceDefinition is not established"
        }])),
    ]);
    assert_eq!(
        found,
        [
            "(apps/v1, Kind=Deployment)(web): object InProgress: Deployment not Available",
            "(apps/v1, Kind=StatefulSet)(db): object InProgress: Ready: 0/1",
            "(apps/v1, Kind=DaemonSet)(agent): object InProgress: Available: 0/1",
            "(apps/v1, Kind=ReplicaSet)(web-5d9c): object InProgress: Available: 0/1",
            "(/v1, Kind=Pod)(web-5d9c-x2): object InProgress: Pod is running but is not Ready",
            "(apiregistration.k8s.io/v1, Kind=APIService)(v1.metrics.example.com): Something went wrong",
            "(apiextensions.k8s.io/v1, Kind=CustomResourceDefinition)(widgets.example.com): \
             object Failed: CustomResourceDefinition is not established",
        ]
    );
}

#[test]
fn kind_without_rules_is_healthy() {
    assert_healthy(&[obj("v1", "Service", "web", json!({}))]);
}

#[test]
fn ready_running_pod_is_healthy() {
    assert_healthy(&[running_pod(json!([{"type": "Ready", "status": "True"}]))]);
}

#[test]
fn api_service_without_conditions_is_unhealthy() {
    let found = assert_unhealthy(&[api_service(Value::Null)]);
    assert!(
        found[0].ends_with(": Available condition not found"),
        "{found:?}"
    );
}

#[test]
fn crd_without_conditions_is_unhealthy() {
    assert_unhealthy(&[crd(Value::Null)]);
}

#[test]
fn deployment_without_conditions_is_unhealthy() {
    assert_unhealthy(&[deployment_counts_with(Value::Null)]);
}

#[test]
fn rolling_stateful_set_without_conditions_is_healthy() {
    assert_healthy(&[rolling_stateful_set(
        1,
        json!({"observedGeneration": 1, "readyReplicas": 1, "replicas": 1, "currentReplicas": 1}),
    )]);
}

#[test]
fn daemon_set_without_conditions_is_healthy() {
    assert_healthy(&[daemon_set(1, 1)]);
}

#[test]
fn replica_set_without_conditions_is_healthy() {
    assert_healthy(&[replica_set(true)]);
}

#[test]
fn api_service_with_only_other_conditions_is_unhealthy() {
    assert_unhealthy(&[api_service(json!([{"type": "testing", "status": "True"}]))]);
}

#[test]
fn crd_with_only_names_accepted_is_unhealthy() {
    assert_unhealthy(&[crd(json!([{
        "type": "NamesAccepted", "status": "True",
        "message": "CustomResourceDefinition names have been accepted"
    }]))]);
}

#[test]
fn deployment_with_only_progressing_is_unhealthy() {
    assert_unhealthy(&[deployment_counts_with(
        json!([{"type": "Progressing", "status": "True"}]),
    )]);
}

#[test]
fn running_pod_with_only_initialized_is_unhealthy() {
    assert_unhealthy(&[running_pod(
        json!([{"type": "Initialized", "status": "True"}]),
    )]);
}

// Upstream lists this case twice (same object, same expectation).
#[test]
fn api_service_with_only_other_conditions_is_unhealthy_again() {
    assert_unhealthy(&[api_service(json!([{"type": "testing", "status": "True"}]))]);
}

#[test]
fn stateful_set_with_unobserved_generation_is_unhealthy() {
    let found = assert_unhealthy(&[rolling_stateful_set(
        2,
        json!({"observedGeneration": 1, "readyReplicas": 1, "replicas": 1}),
    )]);
    assert_eq!(
        found,
        ["(apps/v1, Kind=StatefulSet)(db): object InProgress: \
          StatefulSet generation is 2, but latest observed generation is 1"]
    );
}

#[test]
fn stateful_set_with_unready_replicas_is_unhealthy() {
    assert_unhealthy(&[rolling_stateful_set(
        2,
        json!({"observedGeneration": 2, "updatedReplicas": 1, "replicas": 1}),
    )]);
}

#[test]
fn stateful_set_with_mismatched_revisions_is_unhealthy() {
    let found = assert_unhealthy(&[rolling_stateful_set(
        2,
        json!({
            "currentRevision": "db-7f", "updateRevision": "db-6c", "observedGeneration": 2,
            "readyReplicas": 1, "updatedReplicas": 1, "replicas": 1, "currentReplicas": 1
        }),
    )]);
    assert!(
        found[0].ends_with("Waiting for updated revision to match current"),
        "{found:?}"
    );
}

#[test]
fn on_delete_stateful_set_is_healthy() {
    assert_healthy(&[stateful_set(json!({
        "spec": {"updateStrategy": {"type": "OnDelete"}}, "status": {}
    }))]);
}
