//! The kstatus rules beyond upstream RukPak's table: each kind's verdict and message.

use health::{ComputeError, Evaluation, Status, compute, compute_at};
use jiff::Timestamp;
use serde_json::json;

use crate::obj;

fn eval(status: Status, message: &str) -> Evaluation {
    Evaluation {
        status,
        message: message.to_owned(),
    }
}

#[test]
fn custom_resource_follows_generic_conditions() {
    let cr = |conds: serde_json::Value| {
        obj(
            "example.com/v1",
            "Widget",
            "w",
            json!({"status": {"conditions": conds}}),
        )
    };
    assert_eq!(
        compute(&cr(json!([]))).unwrap(),
        eval(Status::Current, "Resource is current")
    );
    assert_eq!(
        compute(&cr(
            json!([{"type": "Ready", "status": "False", "message": "waiting for db"}])
        ))
        .unwrap(),
        eval(Status::InProgress, "waiting for db")
    );
    assert_eq!(
        compute(&cr(json!([{"type": "Ready", "status": "True"}]))).unwrap(),
        eval(Status::Current, "Resource is Ready")
    );
    // Reconciling and Stalled win over Ready, whatever the order.
    assert_eq!(
        compute(&cr(json!([
            {"type": "Ready", "status": "True"},
            {"type": "Stalled", "status": "True", "message": "bad spec"}
        ])))
        .unwrap(),
        eval(Status::Failed, "bad spec")
    );
    assert_eq!(
        compute(&cr(
            json!([{"type": "Reconciling", "status": "True", "message": "busy"}])
        ))
        .unwrap(),
        eval(Status::InProgress, "busy")
    );
}

#[test]
fn observed_generation_and_deletion_come_first() {
    let stale = obj(
        "example.com/v1",
        "Widget",
        "w",
        json!({"metadata": {"generation": 3}, "status": {"observedGeneration": 2}}),
    );
    assert_eq!(
        compute(&stale).unwrap(),
        eval(
            Status::InProgress,
            "Widget generation is 3, but latest observed generation is 2"
        )
    );
    let deleting = obj(
        "v1",
        "ConfigMap",
        "c",
        json!({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"}}),
    );
    assert_eq!(compute(&deleting).unwrap().status, Status::Terminating);
}

#[test]
fn deployment_past_its_progress_deadline_failed() {
    let d = obj(
        "apps/v1",
        "Deployment",
        "web",
        json!({
            "spec": {"progressDeadlineSeconds": 600},
            "status": {"conditions": [{"type": "Progressing", "status": "False",
                                        "reason": "ProgressDeadlineExceeded"}]}
        }),
    );
    assert_eq!(
        compute(&d).unwrap(),
        eval(Status::Failed, "Progress deadline exceeded")
    );
}

#[test]
fn deployment_with_deadline_needs_new_replica_set_available() {
    let d = |reason: &str| {
        obj(
            "apps/v1",
            "Deployment",
            "web",
            json!({
                "spec": {"progressDeadlineSeconds": 600, "replicas": 2},
                "status": {"replicas": 2, "updatedReplicas": 2, "readyReplicas": 2,
                           "availableReplicas": 2,
                           "conditions": [{"type": "Progressing", "status": "True", "reason": reason},
                                          {"type": "Available", "status": "True"}]}
            }),
        )
    };
    assert_eq!(
        compute(&d("ReplicaSetUpdated")).unwrap(),
        eval(Status::InProgress, "ReplicaSet not Available")
    );
    assert_eq!(
        compute(&d("NewReplicaSetAvailable")).unwrap(),
        eval(Status::Current, "Deployment is available. Replicas: 2")
    );
}

#[test]
fn daemon_set_never_observed_is_in_progress() {
    let ds = obj("apps/v1", "DaemonSet", "agent", json!({"status": {}}));
    assert_eq!(
        compute(&ds).unwrap(),
        eval(
            Status::InProgress,
            "DaemonSet metadata.generation not found"
        )
    );
}

#[test]
fn pod_phases() {
    let pod = |status: serde_json::Value| {
        obj(
            "v1",
            "Pod",
            "p",
            json!({"metadata": {"creationTimestamp": "2026-01-01T00:00:00Z"}, "status": status}),
        )
    };
    let unschedulable = pod(json!({"phase": "Pending", "conditions": [
        {"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}]}));
    let created: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
    let soon = created + jiff::SignedDuration::from_secs(5);
    let later = created + jiff::SignedDuration::from_secs(60);
    assert_eq!(
        compute_at(&unschedulable, soon).unwrap(),
        eval(Status::InProgress, "Pod has not been scheduled")
    );
    assert_eq!(
        compute_at(&unschedulable, later).unwrap(),
        eval(Status::Failed, "Pod could not be scheduled")
    );
    let crashing = pod(json!({"phase": "Running", "containerStatuses": [
        {"name": "manager", "state": {"waiting": {"reason": "CrashLoopBackOff"}}},
        {"name": "proxy", "state": {"running": {}}}]}));
    assert_eq!(
        compute(&crashing).unwrap(),
        eval(Status::Failed, "Containers in CrashLoop state: manager")
    );
    assert_eq!(
        compute(&pod(json!({"phase": "Succeeded"}))).unwrap().status,
        Status::Current
    );
    assert_eq!(
        compute(&pod(json!({}))).unwrap(),
        eval(Status::InProgress, "Pod phase not available")
    );
    assert_eq!(
        compute(&pod(json!({"phase": "Exploded"}))),
        Err(ComputeError::UnknownPodPhase("Exploded".into()))
    );
}

#[test]
fn job_states() {
    let job = |status: serde_json::Value| {
        obj(
            "batch/v1",
            "Job",
            "migrate",
            json!({"spec": {"completions": 3}, "status": status}),
        )
    };
    assert_eq!(
        compute(&job(json!({}))).unwrap(),
        eval(Status::InProgress, "Job not started")
    );
    assert_eq!(
        compute(&job(
            json!({"startTime": "2026-01-01T00:00:00Z", "active": 1, "succeeded": 1})
        ))
        .unwrap(),
        eval(
            Status::Current,
            "Job in progress. success:1, active: 1, failed: 0"
        )
    );
    assert_eq!(
        compute(&job(
            json!({"failed": 2, "conditions": [{"type": "Failed", "status": "True"}]})
        ))
        .unwrap(),
        eval(Status::Failed, "Job Failed. failed: 2/3")
    );
    assert_eq!(
        compute(&job(
            json!({"succeeded": 3, "conditions": [{"type": "Complete", "status": "True"}]})
        ))
        .unwrap(),
        eval(Status::Current, "Job Completed. succeeded: 3/3")
    );
}

#[test]
fn service_pvc_pdb_and_crd() {
    let lb = obj(
        "v1",
        "Service",
        "s",
        json!({"spec": {"type": "LoadBalancer"}}),
    );
    assert_eq!(compute(&lb).unwrap().status, Status::InProgress);
    let pvc = obj(
        "v1",
        "PersistentVolumeClaim",
        "data",
        json!({"status": {"phase": "Pending"}}),
    );
    assert_eq!(
        compute(&pvc).unwrap(),
        eval(Status::InProgress, "PVC is not Bound. phase: Pending")
    );
    let pdb = obj(
        "policy/v1",
        "PodDisruptionBudget",
        "web",
        json!({"metadata": {"generation": 2}, "status": {"observedGeneration": 1}}),
    );
    assert_eq!(compute(&pdb).unwrap().status, Status::InProgress);
    let installing = obj(
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
        "w",
        json!({"status": {"conditions": [
            {"type": "Established", "status": "False", "reason": "Installing"}]}}),
    );
    assert_eq!(
        compute(&installing).unwrap(),
        eval(Status::InProgress, "Install in progress")
    );
}

#[test]
fn malformed_conditions_are_an_error() {
    let bad = obj(
        "example.com/v1",
        "Widget",
        "w",
        json!({"status": {"conditions": "Ready"}}),
    );
    assert!(matches!(
        compute(&bad),
        Err(ComputeError::MalformedConditions(_))
    ));
}

#[test]
fn stateful_set_partition_and_replica_set_failure() {
    let sts = |updated: i64| {
        obj(
            "apps/v1",
            "StatefulSet",
            "db",
            json!({
                "spec": {"replicas": 3, "updateStrategy": {"type": "RollingUpdate",
                                                           "rollingUpdate": {"partition": 1}}},
                "status": {"replicas": 3, "readyReplicas": 3, "updatedReplicas": updated}
            }),
        )
    };
    assert_eq!(
        compute(&sts(1)).unwrap(),
        eval(Status::InProgress, "updated: 1/2")
    );
    assert_eq!(
        compute(&sts(2)).unwrap(),
        eval(Status::Current, "Partition rollout complete. updated: 2")
    );
    let rs = obj(
        "apps/v1",
        "ReplicaSet",
        "web-1",
        json!({"status": {"conditions": [{"type": "ReplicaFailure", "status": "True"}]}}),
    );
    assert_eq!(
        compute(&rs).unwrap(),
        eval(Status::InProgress, "Replica Failure condition. Check Pods")
    );
    let scaling_down = obj(
        "apps/v1",
        "Deployment",
        "web",
        json!({"spec": {"replicas": 1},
               "status": {"replicas": 3, "updatedReplicas": 1}}),
    );
    assert_eq!(
        compute(&scaling_down).unwrap(),
        eval(Status::InProgress, "Pending termination: 2")
    );
}
