//! The inventory's Secrets: shards replaced atomically through the head, damage reported.

use applier::{INVENTORY_LABEL, inventory_secret_name};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, ListParams};
use serde_json::json;

use crate::support::{config_map, env};

#[tokio::test]
async fn a_missing_shard_is_reported_as_unreadable_release_state() {
    let Some(env) = env().await else { return };
    let owner = env.owner("shards").await;
    // Tiny shards: even three objects need several Secrets.
    let applier = env.applier().with_shard_bytes(64);
    let set: Vec<_> = (0..3)
        .map(|i| config_map(None, &format!("s-{i}"), json!({})))
        .collect();
    applier.apply(&owner, set.clone()).await.expect("install");

    let secrets: Api<Secret> = Api::namespaced(env.client.clone(), &env.system_namespace);
    let selector = format!("{INVENTORY_LABEL}={}", owner.name);
    let listed = secrets
        .list_metadata(&ListParams::default().labels(&selector))
        .await
        .unwrap();
    let head = inventory_secret_name(&owner);
    let shard = listed
        .items
        .iter()
        .filter_map(|s| s.metadata.name.clone())
        .find(|n| *n != head)
        .expect("at least one shard besides the head");
    secrets
        .delete(&shard, &DeleteParams::default())
        .await
        .unwrap();

    let failure = applier
        .apply(&owner, set)
        .await
        .expect_err("damaged inventory");
    assert_eq!(failure.reason(), "ErrorGettingReleaseState");
    let message = failure.to_string();
    assert!(
        message.starts_with(&format!(
            "reading the inventory Secret {}/{shard}: ",
            env.system_namespace
        )),
        "{message}"
    );
}
