//! A controller killed between applying and writing the inventory converges on restart.
//! `plan` + `apply_plan` without `commit` leaves exactly the state such a kill leaves:
//! the objects applied and recorded as pending, the committed inventory unchanged.

use applier::Action;
use serde_json::json;

use crate::support::{config_map, env, names};

#[tokio::test]
async fn killed_first_install_converges_on_rerun() {
    let Some(env) = env().await else { return };
    let owner = env.owner("crash-install").await;
    let applier = env.applier();
    let set = vec![
        config_map(None, "a", json!({})),
        config_map(None, "b", json!({})),
    ];

    let plan = applier.plan(&owner, set.clone()).await.unwrap();
    applier.apply_plan(&plan).await.unwrap();
    drop(plan); // killed here: no commit
    let stored = applier
        .inventory(&owner)
        .await
        .unwrap()
        .expect("pending inventory");
    assert_eq!(stored.digest, None);
    assert_eq!(names(&stored.pending).len(), 2);

    let rerun = applier
        .apply(&owner, set)
        .await
        .expect("the objects are ours, so the rerun passes");
    assert_eq!(
        rerun.action,
        Action::Install,
        "nothing was committed before"
    );
    assert!(rerun.pruned.is_empty());
    let sys = &env.system_namespace;
    assert_eq!(
        names(&rerun.inventory.objects),
        [format!("ConfigMap/{sys}/a"), format!("ConfigMap/{sys}/b")]
    );
    assert!(rerun.inventory.pending.is_empty());
}

#[tokio::test]
async fn objects_of_a_killed_upgrade_are_pruned_when_the_next_set_drops_them() {
    let Some(env) = env().await else { return };
    let owner = env.owner("crash-upgrade").await;
    let applier = env.applier();
    let sys = env.system_namespace.clone();
    let committed = applier
        .apply(&owner, vec![config_map(None, "base", json!({}))])
        .await
        .unwrap();

    // The upgrade to {base, orphan} is killed after applying.
    let plan = applier
        .plan(
            &owner,
            vec![
                config_map(None, "base", json!({})),
                config_map(None, "orphan", json!({})),
            ],
        )
        .await
        .unwrap();
    assert_eq!(plan.action(), Action::Upgrade);
    applier.apply_plan(&plan).await.unwrap();
    drop(plan);
    assert!(env.config_map(&sys, "orphan").await.is_some());
    let stored = applier.inventory(&owner).await.unwrap().unwrap();
    assert_eq!(
        stored.digest, committed.inventory.digest,
        "the committed inventory is unchanged"
    );
    assert_eq!(
        names(&stored.pending),
        [
            format!("ConfigMap/{sys}/base"),
            format!("ConfigMap/{sys}/orphan")
        ]
    );

    // On restart the desired set has moved on; the orphan is found through `pending`.
    let next = applier
        .apply(
            &owner,
            vec![
                config_map(None, "base", json!({})),
                config_map(None, "newer", json!({})),
            ],
        )
        .await
        .expect("restart converges");
    assert_eq!(names(&next.pruned), [format!("ConfigMap/{sys}/orphan")]);
    assert!(env.config_map(&sys, "orphan").await.is_none());
    assert_eq!(
        names(&next.inventory.objects),
        [
            format!("ConfigMap/{sys}/base"),
            format!("ConfigMap/{sys}/newer")
        ]
    );
    assert!(next.inventory.pending.is_empty());
}
