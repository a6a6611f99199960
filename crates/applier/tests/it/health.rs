//! Health read back from the cluster through the inventory's effective namespaces.

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::json;

use crate::support::{FIELD_MANAGER, config_map, env};

fn deployment() -> serde_json::Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "web", "image": "example.com/web:1"}]}}}
    })
}

#[tokio::test]
async fn unhealthy_objects_are_reported_by_effective_namespace() {
    let Some(env) = env().await else { return };
    let owner = env.owner("health").await;
    let applier = env.applier();
    let sys = env.system_namespace.clone();
    let applied = applier
        .apply(
            &owner,
            vec![config_map(None, "settings", json!({})), deployment()],
        )
        .await
        .unwrap();

    // No controller-manager runs here, so the Deployment has no status yet.
    let report = applier
        .health(&applied.inventory)
        .await
        .expect_err("not rolled out");
    assert_eq!(
        report.to_string(),
        format!("(apps/v1, Kind=Deployment)({sys}/web): object InProgress: Replicas: 0/1")
    );

    // What the deployment controller would write once the pod is available.
    let deployments: Api<Deployment> = Api::namespaced(env.client.clone(), &sys);
    let status = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "status": {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1,
                   "readyReplicas": 1, "availableReplicas": 1,
                   "conditions": [
                       {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable", "message": "ok"},
                       {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable", "message": "ok"}]}
    });
    deployments
        .patch_status(
            "web",
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&status),
        )
        .await
        .unwrap();
    applier
        .health(&applied.inventory)
        .await
        .expect("rolled out");

    // A missing object is unhealthy too.
    Api::<k8s_openapi::api::core::v1::ConfigMap>::namespaced(env.client.clone(), &sys)
        .delete("settings", &DeleteParams::default())
        .await
        .unwrap();
    let report = applier
        .health(&applied.inventory)
        .await
        .expect_err("a deleted object");
    let text = report.to_string();
    assert!(
        text.starts_with(&format!("(/v1, Kind=ConfigMap)({sys}/settings): ")),
        "{text}"
    );
    assert!(text.contains("not found"), "{text}");
}
