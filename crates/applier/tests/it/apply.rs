//! Apply, prune, refusals: unknown kinds, a CRD with its instances, ownership conflicts.

use applier::{Action, ApplyError, KEEP_ANNOTATION};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::api::rbac::v1::ClusterRole;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ObjectMeta, PostParams};
use olm_api::bundle_deployment::{LABEL_OWNER_KIND, LABEL_OWNER_NAME};
use serde_json::json;

use crate::support::{config_map, create_namespace, env, names, namespace};

#[tokio::test]
async fn applies_then_prunes_what_the_next_set_drops() {
    let Some(env) = env().await else { return };
    let owner = env.owner("apply-prune").await;
    let applier = env.applier();
    let ns = testenv::unique_name("apply-prune");
    let role = testenv::unique_name("apply-prune-role");
    let sys = env.system_namespace.as_str();
    let kept = {
        let mut cm = config_map(None, "kept", json!({"k": "v"}));
        cm["metadata"]["annotations"] = json!({KEEP_ANNOTATION: "keep"});
        cm
    };
    let first = vec![
        config_map(None, "defaulted", json!({"one": "1"})),
        config_map(Some(&ns), "dropped", json!({})),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
               "metadata": {"name": role, "namespace": "ignored"}, "rules": []}),
        kept,
        namespace(&ns),
    ];
    let installed = applier
        .apply(&owner, first.clone())
        .await
        .expect("first apply");
    assert_eq!(installed.action, Action::Install);
    assert_eq!(
        names(&installed.inventory.objects),
        [
            format!("Namespace//{ns}"),
            format!("ConfigMap/{sys}/defaulted"),
            format!("ConfigMap/{ns}/dropped"),
            format!("ClusterRole//{role}"),
            format!("ConfigMap/{sys}/kept"),
        ]
    );
    let defaulted = env
        .config_map(sys, "defaulted")
        .await
        .expect("defaulted to the system namespace");
    let labels = defaulted.metadata.labels.clone().unwrap_or_default();
    assert_eq!(labels.get(LABEL_OWNER_NAME), Some(&owner.name));
    assert_eq!(
        labels.get(LABEL_OWNER_KIND).map(String::as_str),
        Some("BundleDeployment")
    );
    let refs = defaulted
        .metadata
        .owner_references
        .clone()
        .unwrap_or_default();
    assert!(
        refs.iter()
            .any(|r| r.uid == owner.uid && r.controller == Some(true)),
        "{refs:?}"
    );
    let kept = env.config_map(sys, "kept").await.expect("kept ConfigMap");
    assert!(
        kept.metadata.owner_references.is_none(),
        "a kept object gets no ownerReference"
    );

    let again = applier.apply(&owner, first).await.expect("same set again");
    assert_eq!(again.action, Action::Unchanged);
    assert!(again.pruned.is_empty());

    let second = vec![
        namespace(&ns),
        config_map(None, "defaulted", json!({"two": "2"})),
        config_map(Some(&ns), "added", json!({})),
    ];
    let upgraded = applier.apply(&owner, second).await.expect("second apply");
    assert_eq!(upgraded.action, Action::Upgrade);
    assert_eq!(
        names(&upgraded.pruned),
        [
            format!("ClusterRole//{role}"),
            format!("ConfigMap/{ns}/dropped")
        ],
        "pruned in reverse apply order, the kept object left alone"
    );
    assert!(env.config_map(&ns, "dropped").await.is_none());
    assert!(
        env.config_map(sys, "kept").await.is_some(),
        "helm.sh/resource-policy: keep is never pruned"
    );
    let roles: Api<ClusterRole> = Api::all(env.client.clone());
    assert!(roles.get_opt(&role).await.unwrap().is_none());
    let data = env
        .config_map(sys, "defaulted")
        .await
        .unwrap()
        .data
        .unwrap_or_default();
    assert_eq!(
        data.keys().collect::<Vec<_>>(),
        ["two"],
        "fields we stopped setting are removed"
    );
    let stored = applier
        .inventory(&owner)
        .await
        .unwrap()
        .expect("an inventory");
    assert_eq!(stored, upgraded.inventory);
    assert!(stored.pending.is_empty());
}

#[tokio::test]
async fn unknown_kinds_are_named_together_and_nothing_is_applied() {
    let Some(env) = env().await else { return };
    let owner = env.owner("unknown-kinds").await;
    let applier = env.applier();
    let olm = |api_version: &str, kind: &str| json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": "x"}});
    let set = vec![
        config_map(None, "first", json!({})),
        olm("operators.coreos.com/v1alpha1", "CatalogSource"),
        olm("operators.coreos.com/v1alpha1", "ClusterServiceVersion"),
        olm("operators.coreos.com/v1", "OLMConfig"),
        olm("operators.coreos.com/v1", "OperatorGroup"),
    ];
    let failure = applier.apply(&owner, set).await.expect_err("unknown kinds");
    assert_eq!(failure.reason(), "InstallFailed");
    let message = failure.to_string();
    assert!(
        message.starts_with("required resource not found: "),
        "{message}"
    );
    for kind in [
        "CatalogSource",
        "ClusterServiceVersion",
        "OLMConfig",
        "OperatorGroup",
    ] {
        assert!(
            message.contains(&format!("no matches for kind \"{kind}\"")),
            "{kind}: {message}"
        );
    }
    assert!(
        env.config_map(&env.system_namespace, "first")
            .await
            .is_none(),
        "nothing applied"
    );
    assert_eq!(applier.inventory(&owner).await.unwrap(), None);
}

#[tokio::test]
async fn a_crd_and_its_instances_in_one_set_fail_before_anything_is_applied() {
    let Some(env) = env().await else { return };
    let owner = env.owner("crd-and-cr").await;
    let group = format!("{}.example.com", testenv::unique_name("g"));
    let crd_name = format!("widgets.{group}");
    let set = vec![
        json!({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": crd_name},
            "spec": {"group": group, "scope": "Namespaced",
                     "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
                     "versions": [{"name": "v1", "served": true, "storage": true,
                                   "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}
        }),
        json!({"apiVersion": format!("{group}/v1"), "kind": "Widget", "metadata": {"name": "w"}}),
    ];
    let failure = env
        .applier()
        .apply(&owner, set)
        .await
        .expect_err("CR before its CRD exists");
    assert!(
        matches!(failure.error, ApplyError::ResourcesNotFound(_)),
        "{failure}"
    );
    assert_eq!(
        failure.to_string(),
        format!(
            "required resource not found: no matches for kind \"Widget\" in version \"{group}/v1\""
        )
    );
    let crds: Api<CustomResourceDefinition> = Api::all(env.client.clone());
    assert!(
        crds.get_opt(&crd_name).await.unwrap().is_none(),
        "the CRD was not applied either"
    );
}

#[tokio::test]
async fn existing_objects_of_others_are_refused_and_foreign_namespaces_left_alone() {
    let Some(env) = env().await else { return };
    let applier = env.applier();
    let sys = env.system_namespace.clone();
    create_by_hand(&env.client, &sys, "manual").await;
    let first = env.owner("owner-a").await;
    let second = env.owner("owner-b").await;

    let failure = applier
        .apply(
            &first,
            vec![
                config_map(None, "manual", json!({})),
                config_map(None, "mine", json!({})),
            ],
        )
        .await
        .expect_err("a hand-made object is not taken over");
    assert_eq!(failure.reason(), "InstallFailed");
    assert_eq!(
        failure.to_string(),
        format!(
            "cannot take over existing objects: ConfigMap {sys}/manual already exists and has no core.rukpak.io/owner-name label"
        )
    );
    assert!(
        env.config_map(&sys, "mine").await.is_none(),
        "nothing applied"
    );

    applier
        .apply(&first, vec![config_map(None, "shared", json!({}))])
        .await
        .expect("first owner installs");
    let failure = applier
        .apply(&second, vec![config_map(None, "shared", json!({"b": "b"}))])
        .await
        .expect_err("a second owner conflicts");
    assert_eq!(
        failure.to_string(),
        format!(
            "cannot take over existing objects: ConfigMap {sys}/shared already exists and is owned by BundleDeployment \"{}\"",
            first.name
        )
    );
    let shared = env.config_map(&sys, "shared").await.unwrap();
    assert_eq!(
        shared.metadata.labels.unwrap()[LABEL_OWNER_NAME],
        first.name
    );

    // A pre-existing Namespace in the set is neither a conflict nor taken over.
    let foreign = testenv::unique_name("foreign");
    create_namespace(&env.client, &foreign).await;
    let applied = applier
        .apply(
            &second,
            vec![
                namespace(&foreign),
                config_map(Some(&foreign), "in-foreign", json!({})),
            ],
        )
        .await
        .expect("a foreign Namespace is left alone");
    assert_eq!(
        names(&applied.inventory.objects),
        [format!("ConfigMap/{foreign}/in-foreign")]
    );
    let ns = Api::<Namespace>::all(env.client.clone())
        .get(&foreign)
        .await
        .unwrap();
    assert!(
        !ns.metadata
            .labels
            .unwrap_or_default()
            .contains_key(LABEL_OWNER_NAME)
    );
}

/// Past 32 objects of one resource in one namespace the ownership check lists instead of
/// reading each object; a conflict is found the same way.
#[tokio::test]
async fn ownership_of_many_objects_is_checked_by_listing() {
    let Some(env) = env().await else { return };
    let owner = env.owner("many").await;
    let ns = testenv::unique_name("many");
    create_namespace(&env.client, &ns).await;
    let cms = create_by_hand(&env.client, &ns, "many-17").await;
    let set: Vec<_> = (0..40)
        .map(|i| config_map(Some(&ns), &format!("many-{i}"), json!({})))
        .collect();
    let failure = env
        .applier()
        .apply(&owner, set.clone())
        .await
        .expect_err("one of them is not ours");
    assert_eq!(
        failure.to_string(),
        format!(
            "cannot take over existing objects: ConfigMap {ns}/many-17 already exists and has no core.rukpak.io/owner-name label"
        )
    );
    cms.delete("many-17", &Default::default()).await.unwrap();
    let applied = env
        .applier()
        .apply(&owner, set.clone())
        .await
        .expect("all free now");
    assert_eq!(applied.inventory.objects.len(), 40);
    let again = env
        .applier()
        .apply(&owner, set)
        .await
        .expect("ours, found by listing");
    assert_eq!(again.action, Action::Unchanged);
}

/// Creates an unlabelled ConfigMap, as someone doing it by hand would; returns the API.
async fn create_by_hand(client: &kube::Client, namespace: &str, name: &str) -> Api<ConfigMap> {
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let manual = ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        ..ConfigMap::default()
    };
    cms.create(&PostParams::default(), &manual)
        .await
        .expect("ConfigMap created");
    cms
}
