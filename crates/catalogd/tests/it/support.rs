//! What the test modules share: catalogs and registries to test with, and catalogd's
//! pieces (content server, controller, election) started in-process.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use catalogd::{ContentServer, Context, Store, run_controller};
use controller_runtime::LeaderElectionConfig;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Api, ObjectMeta, PostParams};
use oci::{ImageRef, ImageStore, RegistryOptions};
use olm_api::catalog::{
    Catalog, CatalogImageSource, CatalogSource, CatalogSourceType, CatalogSpec,
};
pub(crate) use testenv::fixtures::corpus;
use testenv::registry::Registry;

pub(crate) fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The JSON Lines catalogd must serve for an FBC directory: every meta in walk order.
pub(crate) fn expected_jsonl(dir: &Path) -> String {
    let mut out = String::new();
    fbc::walk_metas(dir, |m: fbc::Meta| -> Result<(), fbc::LoadError> {
        out.push_str(m.blob.get());
        out.push('\n');
        Ok(())
    })
    .unwrap();
    out
}

pub(crate) fn phase(c: &Catalog) -> Option<&str> {
    c.status.as_ref()?.phase.as_deref()
}

pub(crate) fn unpacked_reason(c: &Catalog) -> Option<&str> {
    let s = c.status.as_ref()?;
    olm_api::conditions::find_condition(&s.conditions, "Unpacked").map(|c| c.reason.as_str())
}

pub(crate) fn resolved_ref(c: &Catalog) -> String {
    c.status
        .as_ref()
        .and_then(|s| s.resolved_source.as_ref())
        .and_then(|r| r.image.as_ref())
        .map(|i| i.resolved_ref.clone())
        .unwrap_or_default()
}

/// Builds a catalog image from `fbc_dir`, pushes it as `catalogs/test:<tag>`, returns its digest.
pub(crate) async fn push_catalog(
    registry: &Registry,
    images: &ImageStore,
    fbc_dir: &Path,
    tag: &str,
) -> String {
    let image = oci::catalog_image(None, fbc_dir)
        .unwrap()
        .build(images)
        .await
        .unwrap();
    let dest = format!("{}/catalogs/test:{tag}", registry.host_port());
    let report = images
        .push(&image, &ImageRef::parse(&dest).unwrap())
        .await
        .unwrap();
    report.digest
}

pub(crate) fn plain_options() -> RegistryOptions {
    RegistryOptions {
        use_http: true,
        ..RegistryOptions::default()
    }
}

pub(crate) async fn start_registry() -> Option<Registry> {
    if !testenv::registry::require_binaries(&["docker-registry"]) {
        return None;
    }
    Some(Registry::start_plain().await.expect("registry starts"))
}

/// A Catalog labelled `olmrs-test=<label>`, so only this test's controllers see it.
pub(crate) fn new_catalog(
    label: &str,
    reference: &str,
    poll: Option<&str>,
    pull_secret: Option<&str>,
) -> Catalog {
    let name = testenv::unique_name("cat");
    let mut catalog = Catalog::new(
        &name,
        CatalogSpec {
            source: CatalogSource {
                type_: CatalogSourceType::Image,
                image: Some(CatalogImageSource {
                    ref_: reference.into(),
                    pull_secret: pull_secret.map(Into::into),
                    poll_interval: poll.map(Into::into),
                    insecure_skip_tls_verify: false,
                }),
            },
        },
    );
    catalog.metadata.labels = Some([("olmrs-test".to_owned(), label.to_owned())].into());
    catalog
}

pub(crate) async fn create_catalog(api: &Api<Catalog>, catalog: &Catalog) -> String {
    api.create(&PostParams::default(), catalog)
        .await
        .expect("Catalog created");
    catalog.metadata.name.clone().unwrap()
}

/// Creates a `kubernetes.io/dockerconfigjson` pull secret `name` holding `auth`.
pub(crate) async fn create_pull_secret(secrets: &Api<Secret>, name: &str, auth: &str) {
    let secret: Secret = serde_json::from_value(serde_json::json!({
        "metadata": {"name": name},
        "type": "kubernetes.io/dockerconfigjson",
        "stringData": {".dockerconfigjson": auth},
    }))
    .unwrap();
    secrets
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
}

/// Waits until `pred` holds for the Catalog, returning it; panics with the last status.
pub(crate) async fn wait_for(
    api: &Api<Catalog>,
    name: &str,
    what: &str,
    pred: impl Fn(&Catalog) -> bool,
) -> Catalog {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let c = api.get(name).await.expect("Catalog readable");
        if pred(&c) {
            return c;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}; status: {:#?}",
            c.status
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// GET `<base>/catalogs/<name>/<path>`: status and body.
pub(crate) async fn get_text(base_url: &str, name: &str, path: &str) -> (u16, String) {
    let resp = reqwest::get(format!("{base_url}/catalogs/{name}/{path}"))
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

/// The test cluster with the CRDs applied and a fresh namespace `namespace` created.
pub(crate) async fn cluster_with_namespace(namespace: &str) -> Option<testenv::Cluster> {
    let cluster = testenv::cluster().await?;
    cluster
        .apply_crds(&workspace().join("config/crd"))
        .await
        .expect("CRDs apply");
    let ns: Api<Namespace> = Api::all(cluster.client());
    ns.create(
        &PostParams::default(),
        &Namespace {
            metadata: ObjectMeta {
                name: Some(namespace.to_owned()),
                ..Default::default()
            },
            ..Default::default()
        },
    )
    .await
    .expect("namespace created");
    Some(cluster)
}

/// Serves `store` on a free loopback port; returns its base URL and the server task.
pub(crate) async fn serve_content(store: Store) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    let app = ContentServer::new(store).router();
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (base_url, server)
}

/// A controller running in the background until [`Self::stop`] (or drop).
pub(crate) struct RunningController {
    task: Option<tokio::task::JoinHandle<()>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl RunningController {
    pub(crate) fn start(ctx: Context) -> Self {
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(run_controller(Arc::new(ctx), async move {
            let _ = stopped.await;
        }));
        Self {
            task: Some(task),
            stop: Some(stop),
        }
    }

    /// Shuts the controller down gracefully, waiting up to 20 s for it.
    pub(crate) async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(20), task).await;
        }
    }
}

impl Drop for RunningController {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// An election on `lease` with short lease times, so fail-over happens within seconds;
/// its field manager is the binary's (`catalogd-<identity>`).
pub(crate) fn election(lease: &str, namespace: &str, identity: &str) -> LeaderElectionConfig {
    let mut config = LeaderElectionConfig::new(lease, namespace, identity)
        .for_controller(catalogd::FIELD_MANAGER);
    config.lease_duration = Duration::from_secs(3);
    config.renew_grace = Duration::from_secs(1);
    config
}
