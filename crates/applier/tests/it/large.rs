//! No size ceiling: 5,000 objects and 20 MiB of manifests, with the inventory split over
//! several Secrets (a small shard size forces the split the compact encoding otherwise
//! avoids at this size).

use std::time::Instant;

use applier::{Action, INVENTORY_LABEL, inventory_secret_name};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams};
use serde_json::json;

use crate::support::{config_map, env};

const OBJECTS: usize = 5000;
const SHARD_BYTES: usize = 4 * 1024;

#[tokio::test]
async fn five_thousand_objects_and_twenty_mib_install_and_prune() {
    let Some(env) = env().await else { return };
    let owner = env.owner("large").await;
    let applier = env.applier().with_shard_bytes(SHARD_BYTES);
    let filler = "x".repeat(4200);
    let set: Vec<_> = (0..OBJECTS)
        .map(|i| config_map(None, &format!("large-{i:05}"), json!({"payload": filler})))
        .collect();
    let bytes: usize = set
        .iter()
        .map(|o| serde_json::to_vec(o).unwrap().len())
        .sum();
    assert!(bytes >= 20 * 1024 * 1024, "{bytes} bytes of manifests");

    let started = Instant::now();
    let plan = applier.plan(&owner, set.clone()).await.expect("large plan");
    let planned = started.elapsed();
    applier.apply_plan(&plan).await.expect("large apply");
    let applied = started.elapsed();
    let installed = applier.commit(plan).await.expect("large commit");
    eprintln!(
        "{OBJECTS} objects: planned in {planned:?}, applied by {applied:?}, committed by {:?}",
        started.elapsed()
    );
    assert_eq!(installed.action, Action::Install);
    assert_eq!(installed.inventory.objects.len(), OBJECTS);

    let secrets: Api<Secret> = Api::namespaced(env.client.clone(), &env.system_namespace);
    let selector = format!("{INVENTORY_LABEL}={}", owner.name);
    let shards = secrets
        .list_metadata(&ListParams::default().labels(&selector))
        .await
        .unwrap();
    assert!(
        shards.items.len() > 1,
        "the inventory is split: {} Secrets",
        shards.items.len()
    );
    assert!(
        secrets
            .get_opt(&inventory_secret_name(&owner))
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        applier.inventory(&owner).await.unwrap().unwrap(),
        installed.inventory
    );

    let fewer: Vec<_> = set[..OBJECTS - 10].to_vec();
    let upgraded = applier.apply(&owner, fewer).await.expect("large upgrade");
    assert_eq!(upgraded.action, Action::Upgrade);
    assert_eq!(upgraded.pruned.len(), 10);
    let stored = applier.inventory(&owner).await.unwrap().unwrap();
    assert_eq!(stored.objects.len(), OBJECTS - 10);
    // Shards the new head no longer names are gone.
    let after = secrets
        .list_metadata(&ListParams::default().labels(&selector))
        .await
        .unwrap();
    let head = secrets.get(&inventory_secret_name(&owner)).await.unwrap();
    let named = String::from_utf8(head.data.unwrap()["shards"].0.clone()).unwrap();
    assert_eq!(after.items.len(), named.lines().count() + 1);
}
