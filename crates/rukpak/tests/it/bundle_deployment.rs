//! The BundleDeployment controller against the real API server: the corpus's plain combo
//! bundle installed from git, drift repaired, a pivot that prunes, a failed pivot that keeps
//! the old content, unknown kinds named together.

use std::time::Duration;

use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::ClusterRole;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use olm_api::conditions::find_condition;
use olm_api::{Bundle, BundleDeployment};

use crate::support::{self, Rukpak, Setup};

fn bundle_deployment(rukpak: &Rukpak, name: &str, source: serde_json::Value) -> BundleDeployment {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "core.rukpak.io/v1alpha1",
        "kind": "BundleDeployment",
        "metadata": {"name": name, "labels": {"olmrs-test": rukpak.label}},
        "spec": {
            "provisionerClassName": "core-rukpak-io-plain",
            "template": {
                "metadata": {"labels": {"olmrs-test": rukpak.label}},
                "spec": {"provisionerClassName": "core-rukpak-io-plain", "source": source},
            },
        },
    }))
    .unwrap()
}

/// A condition's status, reason and message.
fn condition(bd: &BundleDeployment, type_: &str) -> Option<(String, String, String)> {
    let c = find_condition(&bd.status.as_ref()?.conditions, type_)?;
    Some((c.status.clone(), c.reason.clone(), c.message.clone()))
}

fn installed_by(bd: &BundleDeployment, bundle: &str) -> bool {
    bd.status.as_ref().and_then(|s| s.active_bundle.as_deref()) == Some(bundle)
        && condition(bd, "Installed").is_some_and(|c| c.0 == "True")
}

/// Objects carry the owner labels and a controlling ownerReference to the BundleDeployment.
fn assert_owned(meta: &kube::api::ObjectMeta, bd: &BundleDeployment) {
    let labels = meta.labels.clone().unwrap_or_default();
    assert_eq!(
        labels.get("core.rukpak.io/owner-kind").map(String::as_str),
        Some("BundleDeployment")
    );
    assert_eq!(
        labels.get("core.rukpak.io/owner-name"),
        bd.metadata.name.as_ref()
    );
    let owner = &meta.owner_references.as_ref().expect("ownerReferences")[0];
    assert_eq!(Some(&owner.uid), bd.metadata.uid.as_ref());
    assert_eq!(owner.controller, Some(true));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plain_bundle_is_installed_repaired_and_pivoted() {
    let Some(cluster) = support::cluster().await else {
        return;
    };
    let client = cluster.client();
    let unique = testenv::unique_name("combo");
    let repos = tempfile::tempdir().unwrap();
    let repo = combo_repo(repos.path(), &unique);
    let rukpak = Rukpak::start(&cluster, Setup::new()).await;
    let bds: Api<BundleDeployment> = Api::all(client.clone());
    let bundles: Api<Bundle> = Api::all(client.clone());
    let name = unique.clone();
    let git = |tag: &str| serde_json::json!({"type": "git", "git": {"repository": repo.file_url(), "ref": {"tag": tag}}});
    bds.create(
        &PostParams::default(),
        &bundle_deployment(&rukpak, &name, git("v0.0.2")),
    )
    .await
    .unwrap();

    let expected = rukpak::bundle_name(
        &name,
        &rukpak::template_hash(&bds.get(&name).await.unwrap().spec.template),
    );
    let bd = support::wait_for(&bds, &name, "Installed", |bd| installed_by(bd, &expected)).await;
    assert_eq!(
        condition(&bd, "HasValidBundle").unwrap(),
        (
            "True".into(),
            "UnpackSuccessful".into(),
            format!("Successfully unpacked the {expected} Bundle")
        )
    );
    assert_eq!(
        condition(&bd, "Installed").unwrap(),
        (
            "True".into(),
            "InstallationSucceeded".into(),
            format!("Instantiated bundle {expected} successfully")
        )
    );
    // No kube-controller-manager here: the Deployment never becomes Available.
    let (status, reason, message) = condition(&bd, "Healthy").unwrap();
    assert_eq!((status.as_str(), reason.as_str()), ("False", "Unhealthy"));
    assert!(
        message.contains(&format!(
            "(apps/v1, Kind=Deployment)({unique}/{unique}-operator): object InProgress"
        )),
        "{message}"
    );

    let operator = format!("{unique}-operator");
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), &unique);
    let account = accounts.get(&operator).await.unwrap();
    assert_owned(&account.metadata, &bd);
    let roles: Api<ClusterRole> = Api::all(client.clone());
    assert_owned(&roles.get(&operator).await.unwrap().metadata, &bd);

    // Drift: a deleted object comes back.
    accounts
        .delete(&operator, &DeleteParams::default())
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(back) = accounts.get_opt(&operator).await.unwrap()
            && back.metadata.uid != account.metadata.uid
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the deleted ServiceAccount was not restored"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // A failed pivot: the new Bundle cannot unpack; the old content stays installed.
    let patch =
        |tag: &str| serde_json::json!({"spec": {"template": {"spec": {"source": git(tag)}}}});
    bds.patch(
        &name,
        &PatchParams::default(),
        &Patch::Merge(patch("v9.9.9")),
    )
    .await
    .unwrap();
    let bd = support::wait_for(&bds, &name, "UnpackFailed", |bd| {
        condition(bd, "HasValidBundle").is_some_and(|c| c.1 == "UnpackFailed")
    })
    .await;
    assert!(
        condition(&bd, "HasValidBundle")
            .unwrap()
            .2
            .starts_with("Failed to unpack the ")
    );
    assert!(
        installed_by(&bd, &expected),
        "the old Bundle stays active: {:#?}",
        bd.status
    );
    assert!(bundles.get_opt(&expected).await.unwrap().is_some());

    // A pivot that drops objects prunes them; the failed Bundle is gone.
    bds.patch(
        &name,
        &PatchParams::default(),
        &Patch::Merge(patch("v0.0.3")),
    )
    .await
    .unwrap();
    let next = rukpak::bundle_name(
        &name,
        &rukpak::template_hash(&bds.get(&name).await.unwrap().spec.template),
    );
    support::wait_for(&bds, &name, "the pivot", |bd| installed_by(bd, &next)).await;
    assert!(roles.get_opt(&operator).await.unwrap().is_none(), "pruned");
    assert!(accounts.get_opt(&operator).await.unwrap().is_some());
    let owned: Vec<String> = bundles
        .list(
            &kube::api::ListParams::default().labels(&format!("core.rukpak.io/owner-name={name}")),
        )
        .await
        .unwrap()
        .items
        .iter()
        .map(ResourceExt::name_any)
        .collect();
    // The old Bundle is kept while the new content is unhealthy (§7.2); the failed one is not.
    assert_eq!(owned.len(), 2, "{owned:?}");
    assert!(
        owned.contains(&expected) && owned.contains(&next),
        "{owned:?}"
    );

    rukpak.stop().await;
}

/// The corpus's combo bundle in a git repository, tagged `v0.0.2`, and `v0.0.3` without its
/// ClusterRole and ClusterRoleBinding. Its cluster-wide names are made unique (namespace,
/// CRD group, operator name): without kube-controller-manager nothing is garbage-collected,
/// and the cluster is shared.
fn combo_repo(parent: &std::path::Path, unique: &str) -> testenv::git::GitRepo {
    let repo = testenv::git::GitRepo::init(&parent.join("repo")).unwrap();
    let manifests = support::corpus().join("plain/combo-v0.0.2/manifests");
    std::fs::create_dir(repo.path().join("manifests")).unwrap();
    for entry in std::fs::read_dir(&manifests).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("combo.io", &format!("{unique}.io"))
            .replace("combo-operator", &format!("{unique}-operator"))
            .replace("name: combo\n", &format!("name: {unique}\n"))
            .replace("namespace: combo\n", &format!("namespace: {unique}\n"));
        let file = path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .replace("combo.io", &format!("{unique}.io"));
        std::fs::write(repo.path().join("manifests").join(file), text).unwrap();
    }
    repo.git(&["add", "-A"]).unwrap();
    repo.git(&["commit", "-q", "-m", "v0.0.2"]).unwrap();
    repo.tag("v0.0.2").unwrap();
    repo.git(&[
        "rm",
        "-q",
        "manifests/04_cluster_role.yaml",
        "manifests/05_cluster_role_binding.yaml",
    ])
    .unwrap();
    repo.git(&["commit", "-q", "-m", "v0.0.3"]).unwrap();
    repo.tag("v0.0.3").unwrap();
    repo
}

/// A registry+v1 bundle with validating and mutating webhooks (the corpus's infinispan
/// 2.2.5), on a cluster whose pods really run: converted in AllNamespaces mode, its webhook
/// certificate issued by RukPak's CA and its `caBundle`s injected, its Deployment Available
/// (so `Healthy=True`). A TLS client trusting only the injected `caBundle` reaches a server
/// that serves the issued certificate under the Service's name.
#[tokio::test(flavor = "multi_thread")]
async fn a_registry_bundle_with_webhooks_is_installed_with_certificates() {
    let Some(cluster) = support::workload_cluster().await else {
        return;
    };
    let client = cluster.client();
    let rukpak = Rukpak::start(&cluster, Setup::new()).await;
    let corpus_bundle = support::corpus().join("bundles/infinispan/2.2.5");
    let expected =
        registry_convert::convert(&corpus_bundle, &registry_convert::ConvertOptions::default())
            .unwrap();
    let source =
        support::registry_bundle_config_maps(&client, &rukpak.namespace, &corpus_bundle).await;
    let name = testenv::unique_name("infinispan");
    let mut bd = bundle_deployment(&rukpak, &name, source);
    bd.spec.template.spec.provisioner_class_name = "core-rukpak-io-registry".into();
    let bds: Api<BundleDeployment> = Api::all(client.clone());
    bds.create(&PostParams::default(), &bd).await.unwrap();

    let bd = support::wait_for(&bds, &name, "Installed and Healthy", |bd| {
        condition(bd, "Installed").is_some_and(|c| c.0 == "True")
            && condition(bd, "Healthy").is_some_and(|c| c.0 == "True")
    })
    .await;
    assert_eq!(
        condition(&bd, "Healthy").unwrap(),
        (
            "True".into(),
            "Healthy".into(),
            "BundleDeployment is healthy".into()
        )
    );

    let ca_bundle = rukpak.certificate.ca_pem();
    let hooks: Api<k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration> =
        Api::all(client.clone());
    let mutating: Api<k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration> =
        Api::all(client.clone());
    let mut injected = 0;
    for object in expected.objects.iter().filter(|o| {
        o["kind"]
            .as_str()
            .is_some_and(|k| k.ends_with("WebhookConfiguration"))
    }) {
        let hook_name = object["metadata"]["name"].as_str().unwrap();
        let bundles: Vec<Vec<u8>> = match object["kind"].as_str().unwrap() {
            "ValidatingWebhookConfiguration" => hooks
                .get(hook_name)
                .await
                .unwrap()
                .webhooks
                .unwrap_or_default()
                .into_iter()
                .map(|w| w.client_config.ca_bundle.unwrap().0)
                .collect(),
            _ => mutating
                .get(hook_name)
                .await
                .unwrap()
                .webhooks
                .unwrap_or_default()
                .into_iter()
                .map(|w| w.client_config.ca_bundle.unwrap().0)
                .collect(),
        };
        for bundle in bundles {
            assert_eq!(String::from_utf8(bundle).unwrap(), ca_bundle, "{hook_name}");
            injected += 1;
        }
    }
    assert_eq!(injected, 9, "4 mutating and 5 validating webhooks");

    assert!(!expected.certificates.is_empty());
    for request in &expected.certificates {
        let secrets: Api<k8s_openapi::api::core::v1::Secret> =
            Api::namespaced(client.clone(), &request.namespace);
        let secret = secrets.get(&request.secret_name).await.unwrap();
        assert_eq!(secret.type_.as_deref(), Some("kubernetes.io/tls"));
        assert_owned(&secret.metadata, &bd);
        let data = secret.data.unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("tls.crt"), &data["tls.crt"].0).unwrap();
        std::fs::write(dir.path().join("tls.key"), &data["tls.key"].0).unwrap();
        let (stop, stopping) = tokio::sync::watch::channel(false);
        let (bound, addr) = tokio::sync::oneshot::channel();
        let listener = controller_runtime::Listener {
            tls: Some(controller_runtime::Tls::Files {
                cert: dir.path().join("tls.crt"),
                key: dir.path().join("tls.key"),
            }),
            ..controller_runtime::Listener::plain("127.0.0.1:0".parse().unwrap())
        };
        let app = axum::Router::new().route("/", axum::routing::get(|| async { "webhook" }));
        tokio::spawn(listener.serve(app, stopping, Some(bound)));
        let addr = addr.await.unwrap();
        let host = &request.dns_names[0];
        let client = reqwest::Client::builder()
            .tls_certs_only(reqwest::Certificate::from_pem_bundle(ca_bundle.as_bytes()).unwrap())
            .resolve(host, addr)
            .build()
            .unwrap();
        let body = client
            .get(format!("https://{host}:{}/", addr.port()))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(
            body, "webhook",
            "served under {host}, trusted through the injected caBundle"
        );
        let _ = stop.send(true);
    }
    rukpak.stop().await;
}

/// Deleting a BundleDeployment on a cluster with the garbage collector removes what it
/// installed, its Bundle and its inventory, and leaves a Namespace that existed before.
#[tokio::test(flavor = "multi_thread")]
async fn deletion_removes_what_was_installed_and_keeps_a_pre_existing_namespace() {
    let Some(cluster) = support::workload_cluster().await else {
        return;
    };
    let client = cluster.client();
    let rukpak = Rukpak::start(&cluster, Setup::new()).await;
    let kept = testenv::unique_name("pre-existing");
    let created = testenv::unique_name("created");
    support::create_namespace(&client, &kept).await;
    let manifests = serde_json::json!({
        "namespaces.yaml": format!(
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {kept}\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: {created}\n"
        ),
        "config.yaml": format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: one\n  namespace: {kept}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: two\n  namespace: {created}\n"
        ),
    });
    let cm_name = testenv::unique_name("plain");
    let cm: k8s_openapi::api::core::v1::ConfigMap = serde_json::from_value(serde_json::json!({
        "metadata": {"name": cm_name}, "immutable": true, "data": manifests,
    }))
    .unwrap();
    Api::<k8s_openapi::api::core::v1::ConfigMap>::namespaced(client.clone(), &rukpak.namespace)
        .create(&PostParams::default(), &cm)
        .await
        .unwrap();
    let name = testenv::unique_name("delete-me");
    let source = serde_json::json!({"type": "configMaps", "configMaps": [{"configMap": {"name": cm_name}, "path": "manifests"}]});
    let bds: Api<BundleDeployment> = Api::all(client.clone());
    bds.create(
        &PostParams::default(),
        &bundle_deployment(&rukpak, &name, source),
    )
    .await
    .unwrap();
    let bd = support::wait_for(&bds, &name, "Installed", |bd| {
        condition(bd, "Installed").is_some_and(|c| c.0 == "True")
    })
    .await;
    let active = bd.status.unwrap().active_bundle.unwrap();

    bds.delete(&name, &DeleteParams::foreground())
        .await
        .unwrap();
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let in_kept: Api<k8s_openapi::api::core::v1::ConfigMap> =
        Api::namespaced(client.clone(), &kept);
    let bundles: Api<Bundle> = Api::all(client.clone());
    let inventory: Api<k8s_openapi::api::core::v1::Secret> =
        Api::namespaced(client.clone(), &rukpak.namespace);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let gone = bds.get_opt(&name).await.unwrap().is_none()
            && bundles.get_opt(&active).await.unwrap().is_none()
            && in_kept.get_opt("one").await.unwrap().is_none()
            && namespaces.get_opt(&created).await.unwrap().is_none()
            && inventory
                .list(
                    &kube::api::ListParams::default()
                        .labels(&format!("{}={name}", applier::INVENTORY_LABEL)),
                )
                .await
                .unwrap()
                .items
                .is_empty();
        if gone {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "what the BundleDeployment installed was not all collected"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let still = namespaces.get(&kept).await.unwrap();
    assert!(
        still.metadata.deletion_timestamp.is_none(),
        "the pre-existing Namespace is kept"
    );
    rukpak.stop().await;
}

/// No size ceiling (upstream's Helm release Secret failed at etcd's 1 MiB): a plain bundle of
/// 5,000 ConfigMaps and 20 MiB of manifests, from git, installs.
#[tokio::test(flavor = "multi_thread")]
async fn a_bundle_of_five_thousand_objects_and_twenty_mebibytes_installs() {
    let Some(cluster) = support::cluster().await else {
        return;
    };
    let client = cluster.client();
    let namespace = testenv::unique_name("large");
    let repos = tempfile::tempdir().unwrap();
    let repo = testenv::git::GitRepo::init(&repos.path().join("repo")).unwrap();
    std::fs::create_dir(repo.path().join("manifests")).unwrap();
    let filler = "x".repeat(4096);
    let mut text = format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {namespace}\n");
    for i in 0..5000 {
        text.push_str(&format!(
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\n  namespace: {namespace}\ndata:\n  filler: {filler}\n"
        ));
    }
    assert!(text.len() > 20 << 20, "{} bytes", text.len());
    std::fs::write(repo.path().join("manifests/objects.yaml"), text).unwrap();
    repo.git(&["add", "-A"]).unwrap();
    repo.git(&["commit", "-q", "-m", "large"]).unwrap();
    let rukpak = Rukpak::start(&cluster, Setup::new()).await;
    let name = testenv::unique_name("large");
    let source = serde_json::json!({"type": "git", "git": {"repository": repo.file_url(), "ref": {"branch": "main"}}});
    let bds: Api<BundleDeployment> = Api::all(client.clone());
    bds.create(
        &PostParams::default(),
        &bundle_deployment(&rukpak, &name, source),
    )
    .await
    .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
    let bd = loop {
        let bd = bds.get(&name).await.unwrap();
        if condition(&bd, "Installed").is_some_and(|c| c.0 == "True") {
            break bd;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not installed: {:#?}",
            bd.status
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    assert_eq!(
        condition(&bd, "Healthy").unwrap().0,
        "True",
        "ConfigMaps are ready at once"
    );
    let config_maps: Api<k8s_openapi::api::core::v1::ConfigMap> =
        Api::namespaced(client.clone(), &namespace);
    let owned = config_maps
        .list_metadata(
            &kube::api::ListParams::default().labels(&format!("core.rukpak.io/owner-name={name}")),
        )
        .await
        .unwrap();
    assert_eq!(owned.items.len(), 5000);
    rukpak.stop().await;
}
