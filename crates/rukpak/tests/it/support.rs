//! What the test modules share: RukPak started in-process against the test cluster — the
//! Bundle controller, the content server and the webhooks, each over TLS with the built-in
//! CA — and ways to wait for Bundles.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bundle_sources::{GitOptions, Sources};
use controller_runtime::{Listener, ServingCertConfig, ServingCertificate};
use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, ObjectMeta, PostParams};
use oci::{ImageStore, RegistryOptions};
use olm_api::Bundle;
use rukpak::{
    Access, ContentServer, Context, DeploymentContext, Store, Uploads, Webhooks,
    run_bundle_deployment_controller, run_controller,
};
use tokio::sync::watch;

pub(crate) use testenv::fixtures::corpus;

pub(crate) fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The test cluster with the CRDs applied.
pub(crate) async fn cluster() -> Option<testenv::Cluster> {
    let cluster = testenv::cluster().await?;
    cluster
        .apply_crds(&workspace().join("config/crd"))
        .await
        .expect("CRDs apply");
    Some(cluster)
}

/// Creates namespace `name`.
pub(crate) async fn create_namespace(client: &kube::Client, name: &str) {
    let ns: Api<Namespace> = Api::all(client.clone());
    ns.create(
        &PostParams::default(),
        &Namespace {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                ..Default::default()
            },
            ..Default::default()
        },
    )
    .await
    .expect("namespace created");
}

/// How a test's RukPak is set up.
pub(crate) struct Setup {
    /// Label value (`olmrs-test=<label>`) the controller and webhooks are limited to.
    pub(crate) label: String,
    /// The system namespace (created by [`Rukpak::start`]).
    pub(crate) namespace: String,
    pub(crate) registry: RegistryOptions,
    /// Extra CA (PEM) for the http and git sources.
    pub(crate) source_ca: Option<String>,
    /// Check content access with the API server (else open).
    pub(crate) check_access: bool,
    pub(crate) cert_validity: Duration,
    pub(crate) cert_check_interval: Duration,
}

impl Setup {
    pub(crate) fn new() -> Self {
        Self {
            label: testenv::unique_name("rp"),
            namespace: testenv::unique_name("rukpak"),
            registry: RegistryOptions {
                use_http: true,
                ..RegistryOptions::default()
            },
            source_ca: None,
            check_access: false,
            cert_validity: Duration::from_secs(365 * 86400),
            cert_check_interval: Duration::from_secs(60),
        }
    }
}

/// RukPak running in-process for one test; stops when dropped.
pub(crate) struct Rukpak {
    pub(crate) label: String,
    pub(crate) namespace: String,
    pub(crate) store: Store,
    pub(crate) content_url: String,
    pub(crate) webhook_url: String,
    pub(crate) certificate: ServingCertificate,
    pub(crate) webhook_configuration: String,
    client: kube::Client,
    stop: watch::Sender<bool>,
    _storage: tempfile::TempDir,
}

async fn listen(
    app: axum::Router,
    tls: controller_runtime::Tls,
    stop: watch::Receiver<bool>,
) -> SocketAddr {
    let (bound, addr) = tokio::sync::oneshot::channel();
    let listener = Listener {
        tls: Some(tls),
        ..Listener::plain("127.0.0.1:0".parse().unwrap())
    };
    tokio::spawn(listener.serve(app, stop, Some(bound)));
    addr.await.expect("listener bound")
}

impl Rukpak {
    /// Starts the controller, the content server and the webhooks, and registers the
    /// webhooks (by URL, scoped to this test's label and namespace) with the API server.
    pub(crate) async fn start(cluster: &testenv::Cluster, setup: Setup) -> Self {
        let client = cluster.client();
        create_namespace(&client, &setup.namespace).await;
        let webhook_configuration = testenv::unique_name("rukpak-webhooks");
        let mut cert_config = ServingCertConfig::new(&setup.namespace, "rukpak-tls", "rukpak");
        cert_config.ip_addresses = vec!["127.0.0.1".parse().unwrap()];
        // `core.<namespace>.svc`: rukpakctl checks the upload server by its Service name.
        cert_config.dns_names = vec!["localhost".into(), format!("core.{}.svc", setup.namespace)];
        cert_config.webhook_configurations = vec![webhook_configuration.clone()];
        cert_config.cert_validity = setup.cert_validity;
        cert_config.check_interval = setup.cert_check_interval;
        let certificate = ServingCertificate::ensure(&client, &cert_config)
            .await
            .expect("serving certificate");
        tokio::spawn(certificate.clone().keep_fresh(client.clone(), cert_config));

        let storage = tempfile::tempdir().unwrap();
        let store = Store::open(storage.path()).unwrap();
        let uploads = Uploads::open(storage.path(), store.scratch(), 64 << 20).unwrap();
        let images = ImageStore::new(storage.path().join("blobs"), setup.registry).unwrap();
        let mut sources =
            Sources::new(&setup.namespace, images, uploads.dir()).with_git_options(GitOptions {
                ca_pem: setup.source_ca.clone().map(String::into_bytes),
                work_dir: Some(store.scratch().to_owned()),
                ..GitOptions::default()
            });
        if let Some(pem) = &setup.source_ca {
            sources = sources.with_http_ca_pem(pem).unwrap();
        }
        let access = if setup.check_access {
            Access::kubernetes(client.clone())
        } else {
            Access::open()
        };
        let (stop, stopping) = watch::channel(false);
        let content = ContentServer::new(store.clone(), uploads.clone(), access, client.clone());
        let content_addr = listen(content.router(), certificate.tls(), stopping.clone()).await;
        let hooks = Webhooks::new(client.clone(), &setup.namespace);
        let webhook_addr = listen(hooks.router(), certificate.tls(), stopping.clone()).await;
        let content_url = format!("https://{content_addr}");
        let webhook_url = format!("https://{webhook_addr}");

        let ctx = Context::new(
            client.clone(),
            store.clone(),
            uploads,
            sources,
            &setup.namespace,
        )
        .external_address(&content_url)
        .selector(Some(format!("olmrs-test={}", setup.label)));
        let mut stopped = stopping.clone();
        tokio::spawn(run_controller(Arc::new(ctx), async move {
            let _ = stopped.wait_for(|s| *s).await;
        }));
        let (deployments, drift) = DeploymentContext::new(
            client.clone(),
            store.clone(),
            &setup.namespace,
            Some(format!("olmrs-test={}", setup.label)),
        );
        let deployments = deployments.certificate_authority(Some(certificate.clone()));
        let mut stopped = stopping.clone();
        tokio::spawn(run_bundle_deployment_controller(
            Arc::new(deployments),
            drift,
            async move {
                let _ = stopped.wait_for(|s| *s).await;
            },
        ));

        let rukpak = Self {
            label: setup.label,
            namespace: setup.namespace,
            store,
            content_url,
            webhook_url,
            certificate,
            webhook_configuration,
            client,
            stop,
            _storage: storage,
        };
        rukpak.register_webhooks().await;
        rukpak
    }

    /// The webhook configuration of deploy/rukpak, pointed at this process by URL and
    /// limited to this test's Bundles and namespace. The certificate fills in `caBundle`.
    async fn register_webhooks(&self) {
        let mut vwc: ValidatingWebhookConfiguration = serde_saphyr::from_str(
            &std::fs::read_to_string(workspace().join("deploy/rukpak/webhook.yaml")).unwrap(),
        )
        .unwrap();
        vwc.metadata.name = Some(self.webhook_configuration.clone());
        for hook in vwc.webhooks.iter_mut().flatten() {
            let path = hook.client_config.service.take().unwrap().path.unwrap();
            hook.client_config.url = Some(format!("{}{path}", self.webhook_url));
            hook.client_config.ca_bundle = Some(k8s_openapi::ByteString(
                self.certificate.ca_pem().into_bytes(),
            ));
            if hook.name == "vbundles.core.rukpak.io" {
                hook.object_selector = Some(label_selector("olmrs-test", &self.label));
            } else {
                hook.namespace_selector = Some(label_selector(
                    "kubernetes.io/metadata.name",
                    &self.namespace,
                ));
            }
        }
        Api::<ValidatingWebhookConfiguration>::all(self.client.clone())
            .create(&PostParams::default(), &vwc)
            .await
            .expect("webhook configuration created");
    }

    /// A Bundle labelled for this test's controller and webhooks.
    pub(crate) fn labelled(&self, mut bundle: Bundle) -> Bundle {
        bundle
            .metadata
            .labels
            .get_or_insert_default()
            .insert("olmrs-test".into(), self.label.clone());
        bundle
    }

    pub(crate) async fn stop(self) {
        let _ = Api::<ValidatingWebhookConfiguration>::all(self.client.clone())
            .delete(&self.webhook_configuration, &DeleteParams::default())
            .await;
        let _ = self.stop.send(true);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn label_selector(
    key: &str,
    value: &str,
) -> k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector {
    k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector {
        match_labels: Some([(key.to_owned(), value.to_owned())].into()),
        ..Default::default()
    }
}

/// Waits until `pred` holds for the Bundle, returning it; panics with the last status.
pub(crate) async fn wait_for<K>(
    api: &Api<K>,
    name: &str,
    what: &str,
    pred: impl Fn(&K) -> bool,
) -> K
where
    K: Clone + std::fmt::Debug + serde::de::DeserializeOwned + serde::Serialize,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let object = api.get(name).await.expect("object readable");
        if pred(&object) {
            return object;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}; status: {:#}",
            serde_json::to_value(&object).expect("objects serialize")["status"]
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The test cluster whose pods really run (see `testenv::cluster_with_workloads`), with the
/// CRDs applied.
pub(crate) async fn workload_cluster() -> Option<testenv::Cluster> {
    let cluster = testenv::cluster_with_workloads().await?;
    cluster
        .apply_crds(&workspace().join("config/crd"))
        .await
        .expect("CRDs apply");
    Some(cluster)
}

pub(crate) fn phase(b: &Bundle) -> Option<&str> {
    b.status.as_ref()?.phase.as_deref()
}

/// The `Unpacked` condition's reason and message.
pub(crate) fn unpacked(b: &Bundle) -> Option<(String, String)> {
    let c = olm_api::conditions::find_condition(&b.status.as_ref()?.conditions, "Unpacked")?;
    Some((c.reason.clone(), c.message.clone()))
}

/// A reqwest client trusting `ca_pem` only.
pub(crate) fn https_client(ca_pem: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_certs_only(reqwest::Certificate::from_pem_bundle(ca_pem.as_bytes()).unwrap())
        .build()
        .unwrap()
}

/// A git repository holding `../shared/corpus/plain/<bundle>` at its root, committed and
/// tagged `tag`. Returns the repository and the commit.
pub(crate) fn plain_bundle_repo(
    parent: &Path,
    bundle: &str,
    tag: &str,
) -> (testenv::git::GitRepo, String) {
    let repo = testenv::git::GitRepo::init(&parent.join("repo")).unwrap();
    testenv::fixtures::copy_dir(&corpus().join("plain").join(bundle), repo.path());
    repo.git(&["add", "-A"]).unwrap();
    repo.git(&["commit", "-q", "-m", bundle]).unwrap();
    repo.tag(tag).unwrap();
    let commit = repo.git(&["rev-parse", "HEAD"]).unwrap().trim().to_owned();
    (repo, commit)
}

/// Two immutable ConfigMaps in `namespace` holding a corpus registry+v1 bundle's `manifests/`
/// and `metadata/`, and the configMaps source naming them.
pub(crate) async fn registry_bundle_config_maps(
    client: &kube::Client,
    namespace: &str,
    bundle: &std::path::Path,
) -> serde_json::Value {
    let api: Api<k8s_openapi::api::core::v1::ConfigMap> =
        Api::namespaced(client.clone(), namespace);
    let mut entries = Vec::new();
    for dir in ["manifests", "metadata"] {
        let data: std::collections::BTreeMap<String, String> = std::fs::read_dir(bundle.join(dir))
            .unwrap()
            .map(|e| {
                let path = e.unwrap().path();
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                (name, std::fs::read_to_string(&path).unwrap())
            })
            .collect();
        let name = testenv::unique_name(dir);
        let cm: k8s_openapi::api::core::v1::ConfigMap = serde_json::from_value(serde_json::json!({
            "metadata": {"name": name}, "immutable": true, "data": data,
        }))
        .unwrap();
        api.create(&PostParams::default(), &cm).await.unwrap();
        entries.push(serde_json::json!({"configMap": {"name": name}, "path": dir}));
    }
    serde_json::json!({"type": "configMaps", "configMaps": entries})
}
