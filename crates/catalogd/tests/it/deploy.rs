//! The manifests in `deploy/catalogd`: the CRD copy has not drifted, the Deployment's
//! flags are ones the binary accepts, and the whole set applies to a real API server with
//! RBAC that allows exactly what the controller does.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

use catalogd::{Context, Storage};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, DeleteParams, ListParams};
use oci::ImageStore;
use olm_api::catalog::Catalog;

use crate::support::{self, RunningController, workspace};

const SERVICE_ACCOUNT: &str = "system:serviceaccount:catalogd-system:catalogd";

fn deploy_dir() -> PathBuf {
    workspace().join("deploy/catalogd")
}

#[test]
fn crd_copy_is_identical_to_the_generated_crd() {
    let generated = workspace().join("config/crd/catalogd.operatorframework.io_catalogs.yaml");
    let copy = deploy_dir().join("crd.yaml");
    let want = std::fs::read(&generated).unwrap();
    let have = std::fs::read(&copy).unwrap();
    assert!(
        want == have,
        "{} differs from {}; refresh it with:\n  cp {} {}",
        copy.display(),
        generated.display(),
        generated.display(),
        copy.display()
    );
}

fn deployment() -> Deployment {
    let text = std::fs::read_to_string(deploy_dir().join("deployment.yaml")).unwrap();
    serde_saphyr::from_str(&text).unwrap()
}

#[test]
fn the_deployment_passes_only_flags_the_binary_accepts() {
    let d = deployment();
    let pod = d.spec.unwrap().template.spec.unwrap();
    let container = &pod.containers[0];
    let args: Vec<String> = container
        .args
        .clone()
        .unwrap()
        .into_iter()
        .map(|a| a.replace("$(POD_NAMESPACE)", "catalogd-system"))
        .collect();
    assert!(args.iter().any(|a| a == "--leader-elect"));
    // Flags are parsed first; with no cluster reachable the binary then stops while
    // connecting, which proves every flag was accepted (a flag error exits 2 earlier).
    let out = Command::new(env!("CARGO_BIN_EXE_catalogd"))
        .args(&args)
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("KUBERNETES_SERVICE_PORT")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("connecting to the Kubernetes API"),
        "{stderr}"
    );

    let bad = Command::new(env!("CARGO_BIN_EXE_catalogd"))
        .args(["--catalogs-server-addr", "8083"])
        .output()
        .unwrap();
    assert_eq!(
        bad.status.code(),
        Some(2),
        "a bad flag value is a usage error"
    );

    let env: Vec<_> = container
        .env
        .iter()
        .flatten()
        .map(|e| e.name.as_str())
        .collect();
    assert!(env.contains(&"POD_NAME") && env.contains(&"POD_NAMESPACE"));
    let security = container.security_context.as_ref().unwrap();
    assert_eq!(security.read_only_root_filesystem, Some(true));
    assert_eq!(
        pod.security_context.as_ref().unwrap().run_as_non_root,
        Some(true)
    );
}

fn run(mut cmd: Command) -> Output {
    cmd.output().expect("kubectl runs")
}

/// `kubectl apply --server-side -k deploy/catalogd`, asserting every object was applied.
fn apply_manifests(cluster: &testenv::Cluster) {
    let mut apply = cluster.kubectl();
    apply
        .args(["apply", "--server-side", "--force-conflicts", "-k"])
        .arg(deploy_dir());
    let out = run(apply);
    assert!(
        out.status.success(),
        "kubectl apply -k deploy/catalogd failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let applied = String::from_utf8_lossy(&out.stdout);
    for object in [
        "customresourcedefinition.apiextensions.k8s.io/catalogs.catalogd.operatorframework.io",
        "namespace/catalogd-system",
        "serviceaccount/catalogd",
        "clusterrole.rbac.authorization.k8s.io/catalogd-manager",
        "role.rbac.authorization.k8s.io/catalogd-events",
        "deployment.apps/catalogd",
        "service/catalogd-catalogserver",
    ] {
        assert!(applied.contains(object), "{object} not applied:\n{applied}");
    }
}

#[tokio::test]
async fn manifests_apply_and_grant_exactly_what_the_controller_needs() {
    let Some(cluster) = testenv::cluster().await else {
        return;
    };
    apply_manifests(&cluster);

    let service: Api<Service> = Api::namespaced(cluster.client(), "catalogd-system");
    let service = service.get("catalogd-catalogserver").await.unwrap();
    let port = &service.spec.unwrap().ports.unwrap()[0];
    assert_eq!(port.port, 80);
    let deployments: Api<Deployment> = Api::namespaced(cluster.client(), "catalogd-system");
    let d = deployments.get("catalogd").await.unwrap();
    let pod = d.spec.unwrap().template.spec.unwrap();
    assert_eq!(pod.service_account_name.as_deref(), Some("catalogd"));
    assert_eq!(
        pod.containers[0].image.as_deref(),
        Some("olm-rs/catalogd:latest"),
        "kustomize rewrote the image"
    );

    let ns = ["-n", "catalogd-system"];
    let allowed: &[&[&str]] = &[
        &["watch", "catalogs.catalogd.operatorframework.io"],
        &["list", "catalogs.catalogd.operatorframework.io"],
        &["get", "catalogs.catalogd.operatorframework.io"],
        &["patch", "catalogs.catalogd.operatorframework.io"],
        &[
            "patch",
            "catalogs.catalogd.operatorframework.io",
            "--subresource=status",
        ],
        &[
            "update",
            "catalogs.catalogd.operatorframework.io",
            "--subresource=finalizers",
        ],
        &["get", "secrets", ns[0], ns[1]],
        &["list", "secrets", ns[0], ns[1]],
        &["watch", "secrets", ns[0], ns[1]],
        &["create", "leases.coordination.k8s.io", ns[0], ns[1]],
        &[
            "get",
            "leases.coordination.k8s.io/catalogd-operator-lock",
            ns[0],
            ns[1],
        ],
        &[
            "patch",
            "leases.coordination.k8s.io/catalogd-operator-lock",
            ns[0],
            ns[1],
        ],
        &["create", "events.events.k8s.io", "-n", "default"],
        &["patch", "events.events.k8s.io", "-n", "default"],
    ];
    for args in allowed {
        assert!(
            cluster.can_i(SERVICE_ACCOUNT, args),
            "catalogd must be allowed: {args:?}"
        );
    }
    let denied: &[&[&str]] = &[
        &["delete", "secrets", ns[0], ns[1]],
        &["create", "secrets", ns[0], ns[1]],
        &["update", "secrets", ns[0], ns[1]],
        &["get", "secrets", "-n", "default"],
        &["list", "secrets", "--all-namespaces"],
        &["create", "catalogs.catalogd.operatorframework.io"],
        &["delete", "catalogs.catalogd.operatorframework.io"],
        &["update", "catalogs.catalogd.operatorframework.io"],
        &[
            "patch",
            "leases.coordination.k8s.io/someone-elses-lock",
            ns[0],
            ns[1],
        ],
        &[
            "delete",
            "leases.coordination.k8s.io/catalogd-operator-lock",
            ns[0],
            ns[1],
        ],
        &["create", "leases.coordination.k8s.io", "-n", "default"],
        &["create", "events.events.k8s.io", "-n", "kube-system"],
        &["create", "pods", ns[0], ns[1]],
        &["get", "configmaps", ns[0], ns[1]],
    ];
    for args in denied {
        assert!(
            !cluster.can_i(SERVICE_ACCOUNT, args),
            "catalogd must be denied: {args:?}"
        );
    }
}

/// A client that acts as catalogd's ServiceAccount (impersonation by the test's admin).
async fn service_account_client(cluster: &testenv::Cluster) -> kube::Client {
    let kubeconfig = kube::config::Kubeconfig::read_from(cluster.kubeconfig()).unwrap();
    let mut config = kube::Config::from_custom_kubeconfig(
        kubeconfig,
        &kube::config::KubeConfigOptions::default(),
    )
    .await
    .unwrap();
    config.auth_info.impersonate = Some(SERVICE_ACCOUNT.into());
    kube::Client::try_from(config).unwrap()
}

/// The RBAC is not only narrow but sufficient: the controller, acting as the
/// ServiceAccount, elects itself, reads a pull secret, adds the finalizer, writes status,
/// records Events and removes the finalizer on deletion.
#[tokio::test]
async fn the_controller_works_with_only_the_service_accounts_permissions() {
    let Some(registry) = support::start_registry().await else {
        return;
    };
    let Some(cluster) = testenv::cluster().await else {
        return;
    };
    apply_manifests(&cluster);
    let namespace = "catalogd-system";
    let client = service_account_client(&cluster).await;

    let storage = tempfile::tempdir().unwrap();
    let pusher = ImageStore::new(storage.path().join("pusher"), support::plain_options()).unwrap();
    let fbc_dir = support::corpus().join("catalogs/v4.22/cat-facts-operator");
    support::push_catalog(&registry, &pusher, &fbc_dir, "v1").await;
    let secrets: Api<Secret> = Api::namespaced(cluster.client(), namespace);
    let secret_name = testenv::unique_name("creds");
    let auth = format!(
        r#"{{"auths":{{"{}":{{"username":"u","password":"p"}}}}}}"#,
        registry.host_port()
    );
    support::create_pull_secret(&secrets, &secret_name, &auth).await;

    let identity = testenv::unique_name("rbac");
    let election_config = support::election("catalogd-operator-lock", namespace, &identity);
    let mut election = controller_runtime::elect(client.clone(), election_config)
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(30), election.wait_until_leader())
        .await
        .expect("leadership within 30s")
        .unwrap();

    let opened = Storage::open(storage.path(), support::plain_options()).unwrap();
    let store = opened.store.clone();
    let label = testenv::unique_name("rbac");
    let ctx = Context::builder(client, opened)
        .namespace(namespace)
        .external_address("http://catalogd-catalogserver.catalogd-system.svc")
        .leader(election.receiver())
        .selector(Some(format!("olmrs-test={label}")))
        .instance(identity.clone())
        .build();
    let controller = RunningController::start(ctx);

    let catalogs: Api<Catalog> = Api::all(cluster.client());
    let reference = format!("{}/catalogs/test:v1", registry.host_port());
    let catalog = support::new_catalog(&label, &reference, Some("0s"), Some(&secret_name));
    let name = support::create_catalog(&catalogs, &catalog).await;
    let c = support::wait_for(&catalogs, &name, "Unpacked", |c| {
        support::phase(c) == Some("Unpacked")
    })
    .await;
    assert!(
        c.metadata
            .finalizers
            .unwrap_or_default()
            .contains(&olm_api::catalog::FINALIZER_DELETE_SERVER_CACHE.to_owned())
    );
    assert_eq!(
        store.current(&name).unwrap().unwrap().size,
        support::expected_jsonl(&fbc_dir).len() as u64
    );
    let events: Api<Event> = Api::namespaced(cluster.client(), "default");
    let recorded = events
        .list(&ListParams::default())
        .await
        .unwrap()
        .into_iter()
        .any(|e| {
            e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name.as_str())
                && e.reporting_instance.as_deref() == Some(identity.as_str())
        });
    assert!(recorded, "the ServiceAccount could record an Event");

    catalogs
        .delete(&name, &DeleteParams::default())
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while catalogs.get_opt(&name).await.unwrap().is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the finalizer was not removed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(store.current(&name).unwrap().is_none());

    controller.stop().await;
    election.step_down().await.unwrap();
    secrets
        .delete(&secret_name, &DeleteParams::default())
        .await
        .unwrap();
}
