//! The rule of each built-in kind kstatus knows. Counters missing from `status` count
//! as zero and a missing `spec.replicas` as one, as the workload controllers default it.

use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

use crate::fields::{self, conditions, find, int, string};
use crate::status::{ComputeError, Evaluation};

pub(crate) type Rule = fn(&Value, Timestamp) -> Result<Evaluation, ComputeError>;

/// How long a Pod may stay unschedulable before it counts as Failed.
const SCHEDULE_WINDOW: SignedDuration = SignedDuration::from_secs(15);

/// The rule for a kind (`group` empty for the core group), if it has one.
pub(crate) fn for_kind(group: &str, kind: &str) -> Option<Rule> {
    let rule: Rule = match (group, kind) {
        ("", "Service") => service,
        ("", "Pod") => pod,
        ("", "Secret" | "ConfigMap") | ("batch", "CronJob") => always_ready,
        ("", "PersistentVolumeClaim") => pvc,
        ("apps", "StatefulSet") => stateful_set,
        ("apps" | "extensions", "DaemonSet") => daemon_set,
        ("apps" | "extensions", "Deployment") => deployment,
        ("apps" | "extensions", "ReplicaSet") => replica_set,
        ("policy", "PodDisruptionBudget") => pod_disruption_budget,
        ("batch", "Job") => job,
        ("apiextensions.k8s.io", "CustomResourceDefinition") => crd,
        _ => return None,
    };
    Some(rule)
}

fn always_ready(_: &Value, _: Timestamp) -> Result<Evaluation, ComputeError> {
    Ok(Evaluation::current("Resource is always ready"))
}

/// The first count that falls short of what it should reach, as `<label>: have/want`.
fn shortfall(checks: &[(&str, i64, i64)]) -> Option<Evaluation> {
    checks
        .iter()
        .find(|(_, have, want)| want > have)
        .map(|(label, have, want)| Evaluation::in_progress(format!("{label}: {have}/{want}")))
}

/// More replicas than the spec asks for: old ones still terminating.
fn extra_replicas(replicas: i64, spec: i64) -> Option<Evaluation> {
    (replicas > spec)
        .then(|| Evaluation::in_progress(format!("Pending termination: {}", replicas - spec)))
}

/// `spec.replicas` (default 1, as the controllers default it) and a `status` counter
/// reader (missing counters are zero).
fn replica_counts(obj: &Value) -> (i64, impl Fn(&str) -> i64 + '_) {
    (int(obj, &["spec", "replicas"], 1), move |field: &str| {
        int(obj, &["status", field], 0)
    })
}

fn stateful_set(obj: &Value, _: Timestamp) -> Result<Evaluation, ComputeError> {
    if string(obj, &["spec", "updateStrategy", "type"], "") == "OnDelete" {
        return Ok(Evaluation::current(
            "StatefulSet is using the ondelete update strategy",
        ));
    }
    let (spec, status) = replica_counts(obj);
    let replicas = status("replicas");
    let not_scaled = shortfall(&[
        ("Replicas", replicas, spec),
        ("Ready", status("readyReplicas"), spec),
    ])
    .or_else(|| extra_replicas(replicas, spec));
    if let Some(eval) = not_scaled {
        return Ok(eval);
    }
    let updated = status("updatedReplicas");
    let partition = int(
        obj,
        &["spec", "updateStrategy", "rollingUpdate", "partition"],
        -1,
    );
    if partition != -1 {
        return Ok(
            shortfall(&[("updated", updated, spec - partition)]).unwrap_or_else(|| {
                Evaluation::current(format!("Partition rollout complete. updated: {updated}"))
            }),
        );
    }
    if let Some(eval) = shortfall(&[("current", status("currentReplicas"), spec)]) {
        return Ok(eval);
    }
    if string(obj, &["status", "currentRevision"], "")
        != string(obj, &["status", "updateRevision"], "")
    {
        return Ok(Evaluation::in_progress(
            "Waiting for updated revision to match current",
        ));
    }
    Ok(Evaluation::current(format!(
        "All replicas scheduled as expected. Replicas: {replicas}"
    )))
}

fn deployment(obj: &Value, _: Timestamp) -> Result<Evaluation, ComputeError> {
    // Without a progress deadline the controller never sets `Progressing`, so the
    // deployment counts as progressing (the controller treats MaxInt32 as "none").
    let mut progressing = int(
        obj,
        &["spec", "progressDeadlineSeconds"],
        i64::from(i32::MAX),
    ) == i64::from(i32::MAX);
    let mut available = false;
    for c in conditions(obj)? {
        match c.type_.as_str() {
            "Progressing" if c.reason == "ProgressDeadlineExceeded" => {
                return Ok(Evaluation::failed("Progress deadline exceeded"));
            }
            "Progressing" if c.status == "True" && c.reason == "NewReplicaSetAvailable" => {
                progressing = true;
            }
            "Available" if c.status == "True" => available = true,
            _ => {}
        }
    }
    let (spec, status) = replica_counts(obj);
    let (replicas, updated) = (status("replicas"), status("updatedReplicas"));
    let rolling = shortfall(&[("Replicas", replicas, spec), ("Updated", updated, spec)])
        .or_else(|| extra_replicas(replicas, spec))
        .or_else(|| {
            shortfall(&[
                ("Available", status("availableReplicas"), updated),
                ("Ready", status("readyReplicas"), spec),
            ])
        });
    if let Some(eval) = rolling {
        return Ok(eval);
    }
    if !progressing {
        return Ok(Evaluation::in_progress("ReplicaSet not Available"));
    }
    if !available {
        return Ok(Evaluation::in_progress("Deployment not Available"));
    }
    Ok(Evaluation::current(format!(
        "Deployment is available. Replicas: {replicas}"
    )))
}

fn replica_set(obj: &Value, _: Timestamp) -> Result<Evaluation, ComputeError> {
    if find(&conditions(obj)?, "ReplicaFailure", "True").is_some() {
        return Ok(Evaluation::in_progress(
            "Replica Failure condition. Check Pods",
        ));
    }
    let (spec, status) = replica_counts(obj);
    let replicas = status("replicas");
    let not_ready = shortfall(&[
        ("Labelled", status("fullyLabeledReplicas"), spec),
        ("Available", status("availableReplicas"), spec),
        ("Ready", status("readyReplicas"), spec),
    ])
    .or_else(|| extra_replicas(replicas, spec));
    Ok(not_ready.unwrap_or_else(|| {
        Evaluation::current(format!("ReplicaSet is available. Replicas: {replicas}"))
    }))
}

fn daemon_set(obj: &Value, _: Timestamp) -> Result<Evaluation, ComputeError> {
    // A DaemonSet the controller has seen always has both generations; unlike the generic
    // check, their absence means "not observed yet".
    let kind = fields::kind(obj);
    if fields::strict_int(obj, &["metadata", "generation"])?.is_none() {
        return Ok(Evaluation::in_progress(format!(
            "{kind} metadata.generation not found"
        )));
    }
    if fields::strict_int(obj, &["status", "observedGeneration"])?.is_none() {
        return Ok(Evaluation::in_progress(format!(
            "{kind} status.observedGeneration not found"
        )));
    }
    let desired = int(obj, &["status", "desiredNumberScheduled"], -1);
    if desired == -1 {
        return Ok(Evaluation::in_progress(
            "Missing .status.desiredNumberScheduled",
        ));
    }
    let count = |field: &str| int(obj, &["status", field], 0);
    let not_ready = shortfall(&[
        ("Current", count("currentNumberScheduled"), desired),
        ("Updated", count("updatedNumberScheduled"), desired),
        ("Available", count("numberAvailable"), desired),
        ("Ready", count("numberReady"), desired),
    ]);
    Ok(not_ready.unwrap_or_else(|| {
        Evaluation::current(format!(
            "All replicas scheduled as expected. Replicas: {desired}"
        ))
    }))
}

fn pvc(obj: &Value, _: Timestamp) -> Result<Evaluation, ComputeError> {
    let phase = string(obj, &["status", "phase"], "unknown");
    if phase != "Bound" {
        return Ok(Evaluation::in_progress(format!(
            "PVC is not Bound. phase: {phase}"
        )));
    }
    Ok(Evaluation::current("PVC is Bound"))
}

fn pod(obj: &Value, now: Timestamp) -> Result<Evaluation, ComputeError> {
    let conds = conditions(obj)?;
    match string(obj, &["status", "phase"], "") {
        "Succeeded" => Ok(Evaluation::current("Pod has completed successfully")),
        "Failed" => Ok(Evaluation::current(
            "Pod has completed, but not successfully",
        )),
        "Running" => {
            if find(&conds, "Ready", "True").is_some() {
                return Ok(Evaluation::current("Pod is Ready"));
            }
            let looping = crash_looping_containers(obj);
            if !looping.is_empty() {
                return Ok(Evaluation::failed(format!(
                    "Containers in CrashLoop state: {}",
                    looping.join(",")
                )));
            }
            Ok(Evaluation::in_progress("Pod is running but is not Ready"))
        }
        "Pending" => {
            let unschedulable =
                find(&conds, "PodScheduled", "False").is_some_and(|c| c.reason == "Unschedulable");
            if !unschedulable {
                return Ok(Evaluation::in_progress("Pod is in the Pending phase"));
            }
            let created = string(obj, &["metadata", "creationTimestamp"], "")
                .parse::<Timestamp>()
                .ok();
            // Within the window (or with no usable creation time) it may still be scheduled.
            match created {
                Some(created) if now.duration_since(created) > SCHEDULE_WINDOW => {
                    Ok(Evaluation::failed("Pod could not be scheduled"))
                }
                _ => Ok(Evaluation::in_progress("Pod has not been scheduled")),
            }
        }
        "" => Ok(Evaluation::in_progress("Pod phase not available")),
        other => Err(ComputeError::UnknownPodPhase(other.to_owned())),
    }
}

/// Names of containers waiting with reason `CrashLoopBackOff`.
fn crash_looping_containers(obj: &Value) -> Vec<&str> {
    let Some(statuses) =
        fields::at(obj, &["status", "containerStatuses"]).and_then(Value::as_array)
    else {
        return Vec::new();
    };
    statuses
        .iter()
        .filter(|cs| {
            fields::at(cs, &["state", "waiting", "reason"]).and_then(Value::as_str)
                == Some("CrashLoopBackOff")
        })
        .filter_map(|cs| cs.get("name").and_then(Value::as_str))
        .collect()
}

/// The disruption controller sets no conditions; an observed generation (checked
/// generically) is all there is to wait for.
fn pod_disruption_budget(_: &Value, _: Timestamp) -> Result<Evaluation, ComputeError> {
    Ok(Evaluation::current("AllowedDisruptions has been computed."))
}

fn job(obj: &Value, _: Timestamp) -> Result<Evaluation, ComputeError> {
    let parallelism = int(obj, &["spec", "parallelism"], 1);
    let completions = int(obj, &["spec", "completions"], parallelism);
    let succeeded = int(obj, &["status", "succeeded"], 0);
    let active = int(obj, &["status", "active"], 0);
    let failed = int(obj, &["status", "failed"], 0);
    for c in conditions(obj)? {
        match (c.type_.as_str(), c.status.as_str()) {
            ("Complete", "True") => {
                return Ok(Evaluation::current(format!(
                    "Job Completed. succeeded: {succeeded}/{completions}"
                )));
            }
            ("Failed", "True") => {
                return Ok(Evaluation::failed(format!(
                    "Job Failed. failed: {failed}/{completions}"
                )));
            }
            _ => {}
        }
    }
    if string(obj, &["status", "startTime"], "").is_empty() {
        return Ok(Evaluation::in_progress("Job not started"));
    }
    Ok(Evaluation::current(format!(
        "Job in progress. success:{succeeded}, active: {active}, failed: {failed}"
    )))
}

fn service(obj: &Value, _: Timestamp) -> Result<Evaluation, ComputeError> {
    let is_lb = string(obj, &["spec", "type"], "ClusterIP") == "LoadBalancer";
    if is_lb && string(obj, &["spec", "clusterIP"], "").is_empty() {
        return Ok(Evaluation::in_progress(
            "ClusterIP not set. Service type: LoadBalancer",
        ));
    }
    Ok(Evaluation::current("Service is ready"))
}

fn crd(obj: &Value, _: Timestamp) -> Result<Evaluation, ComputeError> {
    for c in conditions(obj)? {
        match (c.type_.as_str(), c.status.as_str()) {
            ("NamesAccepted", "False") => return Ok(Evaluation::failed(c.message)),
            ("Established", "False") if c.reason != "Installing" => {
                return Ok(Evaluation::failed(c.message));
            }
            ("Established", "True") => return Ok(Evaluation::current("CRD is established")),
            _ => {}
        }
    }
    Ok(Evaluation::in_progress("Install in progress"))
}
