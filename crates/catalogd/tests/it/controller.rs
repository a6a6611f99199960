//! The Catalog controller against a real kube-apiserver and a real registry: catalog
//! images are built from the corpus with our image builder and pushed to Debian's
//! docker-registry; the controller and content server run in-process.

use std::time::Duration;

use catalogd::{Context, Metrics, RETRY_ANNOTATION, Storage, Store};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use oci::{ImageBuilder, ImageRef, ImageStore, LayerContent, RegistryOptions};
use olm_api::catalog::Catalog;
use testenv::FaultProxy;
use testenv::registry::Registry;

use crate::support::{
    self, RunningController, corpus, expected_jsonl, phase, plain_options, push_catalog,
    resolved_ref, start_registry, unpacked_reason,
};

/// One controller + content server scoped to this test's Catalogs by a label.
struct Harness {
    cluster: testenv::Cluster,
    label: String,
    namespace: String,
    storage: tempfile::TempDir,
    base_url: String,
    controller: Option<RunningController>,
    _server: tokio::task::JoinHandle<()>,
    registry_options: RegistryOptions,
    /// `--max-catalog-entries`, if not the default.
    max_entries: Option<u64>,
    /// Shared by every controller this harness starts, so counts survive a restart.
    metrics: Metrics,
}

impl Harness {
    async fn start(registry_options: RegistryOptions) -> Option<Self> {
        let label = testenv::unique_name("catalogd");
        let namespace = label.clone();
        let cluster = support::cluster_with_namespace(&namespace).await?;
        let storage = tempfile::tempdir().unwrap();
        let store = Store::open(storage.path().join("catalogs")).unwrap();
        let (base_url, server) = support::serve_content(store).await;
        let mut h = Self {
            cluster,
            label,
            namespace,
            storage,
            base_url,
            controller: None,
            _server: server,
            registry_options,
            max_entries: None,
            metrics: Metrics::default(),
        };
        h.start_controller();
        Some(h)
    }

    fn start_controller(&mut self) {
        let storage = Storage::open(self.storage.path(), self.registry_options.clone()).unwrap();
        let mut ctx = Context::builder(self.cluster.client(), storage)
            .namespace(&self.namespace)
            .external_address(&self.base_url)
            .selector(Some(format!("olmrs-test={}", self.label)))
            .metrics(self.metrics.clone());
        if let Some(max) = self.max_entries {
            ctx = ctx.max_catalog_entries(max);
        }
        let ctx = ctx.build();
        self.controller = Some(RunningController::start(ctx));
    }

    async fn stop_controller(&mut self) {
        if let Some(controller) = self.controller.take() {
            controller.stop().await;
        }
    }

    fn api(&self) -> Api<Catalog> {
        Api::all(self.cluster.client())
    }

    async fn create(
        &self,
        reference: &str,
        poll: Option<&str>,
        pull_secret: Option<&str>,
    ) -> String {
        let catalog = support::new_catalog(&self.label, reference, poll, pull_secret);
        support::create_catalog(&self.api(), &catalog).await
    }

    /// Waits until `pred` holds for the Catalog, returning it; panics with the last status.
    async fn wait_for(&self, name: &str, what: &str, pred: impl Fn(&Catalog) -> bool) -> Catalog {
        support::wait_for(&self.api(), name, what, pred).await
    }

    async fn wait_unpacked(&self, name: &str) -> Catalog {
        self.wait_for(name, "Unpacked", |c| phase(c) == Some("Unpacked"))
            .await
    }

    async fn get_content(&self, name: &str) -> (u16, String) {
        support::get_text(&self.base_url, name, "all.json").await
    }

    /// `catalogd_unpacks_total{reason}`: images downloaded and unpacked with that outcome.
    fn unpacks(&self, reason: &str) -> u64 {
        let mut registry = prometheus_client::registry::Registry::default();
        self.metrics.register(&mut registry);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        let prefix = format!("catalogd_unpacks_total{{reason=\"{reason}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .map_or(0, |n| n.parse().unwrap())
    }

    fn unpacked_message(c: &Catalog) -> String {
        olm_api::conditions::find_condition(&c.status.as_ref().unwrap().conditions, "Unpacked")
            .unwrap()
            .message
            .clone()
    }

    /// Waits until the Catalog fails with `reason`, returning the `Unpacked` message.
    async fn wait_failed(&self, name: &str, reason: &str) -> String {
        let c = self
            .wait_for(name, reason, |c| unpacked_reason(c) == Some(reason))
            .await;
        Self::unpacked_message(&c)
    }
}

#[tokio::test]
async fn catalog_unpacks_polls_new_digests_and_is_deleted() {
    let Some(registry) = start_registry().await else {
        return;
    };
    let Some(h) = Harness::start(plain_options()).await else {
        return;
    };
    let pusher = ImageStore::new(h.storage.path().join("pusher"), plain_options()).unwrap();
    let v1 = corpus().join("catalogs/v4.15/kube-green");
    let v2 = corpus().join("catalogs/v4.22/kairos-operator");
    let d1 = push_catalog(&registry, &pusher, &v1, "v1").await;
    let reference = format!("{}/catalogs/test:v1", registry.host_port());

    let name = h.create(&reference, Some("1s"), None).await;
    let c = h.wait_unpacked(&name).await;
    let status = c.status.as_ref().unwrap();
    assert_eq!(
        resolved_ref(&c),
        format!("{}/catalogs/test@{d1}", registry.host_port())
    );
    assert_eq!(
        status.content_url.as_deref(),
        Some(format!("{}/catalogs/{name}/all.json", h.base_url).as_str())
    );
    assert_eq!(status.observed_generation, c.metadata.generation);
    assert!(status.last_unpacked.is_some());
    let cond = olm_api::conditions::find_condition(&status.conditions, "Unpacked").unwrap();
    assert_eq!(cond.reason, "UnpackSuccessful");
    assert_eq!(
        cond.message,
        format!(
            "successfully unpacked the catalog image {:?}",
            resolved_ref(&c)
        )
    );
    let (code, body) = h.get_content(&name).await;
    assert_eq!(code, 200);
    assert_eq!(
        body,
        expected_jsonl(&v1),
        "served content is the source, canonical, in walk order"
    );

    // A new digest under the same tag is picked up by polling.
    let d2 = push_catalog(&registry, &pusher, &v2, "v1").await;
    assert_ne!(d1, d2);
    let c = h
        .wait_for(&name, "the new digest", |c| resolved_ref(c).ends_with(&d2))
        .await;
    assert_eq!(phase(&c), Some("Unpacked"));
    let (_, body) = h.get_content(&name).await;
    assert_eq!(body, expected_jsonl(&v2));

    // Deletion removes the content (the finalizer runs first).
    h.api()
        .delete(&name, &DeleteParams::default())
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while h.api().get_opt(&name).await.unwrap().is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "Catalog not deleted"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(h.get_content(&name).await.0, 404);
    assert!(!h.storage.path().join("catalogs").join(&name).exists());
}

#[tokio::test]
async fn zero_poll_interval_does_not_poll_and_restart_recovers_from_disk() {
    let Some(registry) = start_registry().await else {
        return;
    };
    let Some(mut h) = Harness::start(plain_options()).await else {
        return;
    };
    let pusher = ImageStore::new(h.storage.path().join("pusher"), plain_options()).unwrap();
    let v1 = corpus().join("catalogs/v4.22/cat-facts-operator");
    let d1 = push_catalog(&registry, &pusher, &v1, "v1").await;
    let reference = format!("{}/catalogs/test:v1", registry.host_port());
    let name = h.create(&reference, Some("0s"), None).await;
    let c = h.wait_unpacked(&name).await;
    assert!(resolved_ref(&c).ends_with(&d1));

    push_catalog(
        &registry,
        &pusher,
        &corpus().join("catalogs/v4.22/ecr-secret-operator"),
        "v1",
    )
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let c = h.api().get(&name).await.unwrap();
    assert!(resolved_ref(&c).ends_with(&d1), "0s must not poll");

    // Restart with the registry gone: state comes from disk, nothing needs the network.
    h.stop_controller().await;
    registry.stop();
    h.start_controller();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let c = h.api().get(&name).await.unwrap();
    assert_eq!(phase(&c), Some("Unpacked"), "{:#?}", c.status);
    assert_eq!(h.get_content(&name).await.1, expected_jsonl(&v1));

    // Lost storage: status must not keep claiming content that is gone.
    h.stop_controller().await;
    std::fs::remove_dir_all(h.storage.path().join("catalogs").join(&name)).unwrap();
    h.start_controller();
    let c = h
        .wait_for(&name, "a failure once content is gone", |c| {
            phase(c) == Some("Failing")
        })
        .await;
    assert_eq!(unpacked_reason(&c), Some("RegistryUnreachable"));
    assert_eq!(c.status.as_ref().unwrap().content_url, None);
}

#[tokio::test]
async fn registry_outage_keeps_old_content_served() {
    let Some(registry) = start_registry().await else {
        return;
    };
    let Some(h) = Harness::start(plain_options()).await else {
        return;
    };
    let pusher = ImageStore::new(h.storage.path().join("pusher"), plain_options()).unwrap();
    let v1 = corpus().join("catalogs/v4.15/ecr-secret-operator");
    push_catalog(&registry, &pusher, &v1, "v1").await;
    let name = h
        .create(
            &format!("{}/catalogs/test:v1", registry.host_port()),
            Some("1s"),
            None,
        )
        .await;
    h.wait_unpacked(&name).await;
    registry.stop();
    let c = h
        .wait_for(&name, "RegistryUnreachable", |c| {
            unpacked_reason(c) == Some("RegistryUnreachable")
        })
        .await;
    assert_eq!(phase(&c), Some("Failing"));
    assert!(
        c.status.as_ref().unwrap().content_url.is_some(),
        "old content still described"
    );
    let (code, body) = h.get_content(&name).await;
    assert_eq!(code, 200);
    assert_eq!(body, expected_jsonl(&v1));
}

#[tokio::test]
async fn bad_images_report_their_condition() {
    let Some(registry) = start_registry().await else {
        return;
    };
    let Some(h) = Harness::start(plain_options()).await else {
        return;
    };
    let pusher = ImageStore::new(h.storage.path().join("pusher"), plain_options()).unwrap();
    let host = registry.host_port();

    // No such tag.
    let missing = h
        .create(&format!("{host}/catalogs/test:nope"), Some("0s"), None)
        .await;
    // Builds and pushes `image` as `catalogs/<repo>:v1`, and creates a Catalog for it.
    let catalog_for = async |image: ImageBuilder, repo: &str| {
        let image = image.build(&pusher).await.unwrap();
        let reference = format!("{host}/catalogs/{repo}:v1");
        pusher
            .push(&image, &ImageRef::parse(&reference).unwrap())
            .await
            .unwrap();
        h.create(&reference, Some("0s"), None).await
    };
    // An image without the configs label.
    let mut content = LayerContent::new();
    content
        .add_bytes("/configs/catalog.json", b"{}".to_vec())
        .unwrap();
    let nolabel = catalog_for(ImageBuilder::scratch().layer(content, "test"), "nolabel").await;
    // Invalid FBC: a channel of a package that does not exist.
    let bad = tempfile::tempdir().unwrap();
    std::fs::write(
        bad.path().join("catalog.json"),
        r#"{"schema":"olm.channel","package":"ghost","name":"stable","entries":[{"name":"ghost.v1"}]}"#,
    )
    .unwrap();
    let invalid = catalog_for(oci::catalog_image(None, bad.path()).unwrap(), "invalid").await;
    // Malformed JSON in a subdirectory of a non-default configs directory.
    let mut content = LayerContent::new();
    content
        .add_bytes(
            "/srv/fbc/foo/catalog.json",
            b"{\"schema\":\"olm.package\",\"name\":\"foo\"}\n{\"schema\": ".to_vec(),
        )
        .unwrap();
    let malformed = ImageBuilder::scratch()
        .layer(content, "test")
        .label(olm_labels::INDEX_CONFIGS, "/srv/fbc/");
    let malformed = catalog_for(malformed, "malformed").await;

    // `exact`: the whole message before the image digest, else a part of it. Files are
    // named as they are in the image, never by catalogd's unpack directory.
    for (name, reason, needle, exact) in [
        (&missing, "ImageNotFound", "nope", false),
        (
            &nolabel,
            "MissingLabel",
            "operators.operatorframework.io.index.configs.v1",
            false,
        ),
        (&invalid, "InvalidCatalog", "ghost", false),
        (
            &malformed,
            "InvalidCatalog",
            "invalid catalog: /srv/fbc/foo/catalog.json:2:11: EOF while parsing a value",
            true,
        ),
    ] {
        let c = h
            .wait_for(name, reason, |c| unpacked_reason(c) == Some(reason))
            .await;
        assert_eq!(phase(&c), Some("Failing"));
        let cond =
            olm_api::conditions::find_condition(&c.status.as_ref().unwrap().conditions, "Unpacked")
                .unwrap();
        if exact {
            assert!(
                cond.message
                    .starts_with(&format!("{needle} (image sha256:")),
                "{}",
                cond.message
            );
        } else {
            assert!(cond.message.contains(needle), "{reason}: {}", cond.message);
        }
        assert!(!cond.message.contains(&*h.storage.path().to_string_lossy()));
        assert_eq!(h.get_content(name).await.0, 404);
    }
}

#[tokio::test]
async fn start_removes_unpack_leftovers_and_entry_limit_fails_one_catalog() {
    let Some(registry) = start_registry().await else {
        return;
    };
    let Some(mut h) = Harness::start(plain_options()).await else {
        return;
    };
    let pusher = ImageStore::new(h.storage.path().join("pusher"), plain_options()).unwrap();
    let host = registry.host_port();
    let small = corpus().join("catalogs/v4.15/kube-green");
    push_catalog(&registry, &pusher, &small, "v1").await;
    let served = h
        .create(&format!("{host}/catalogs/test:v1"), Some("0s"), None)
        .await;
    h.wait_unpacked(&served).await;

    // What a killed catalogd leaves: a half-extracted image and a half-downloaded blob.
    h.stop_controller().await;
    let partial = h.storage.path().join("unpack/gone/.unpack-x/configs/p");
    std::fs::create_dir_all(&partial).unwrap();
    std::fs::write(partial.join("catalog.json"), b"{").unwrap();
    let blob = h.storage.path().join("blobs/tmp/blob-x");
    std::fs::write(&blob, b"partial").unwrap();
    h.max_entries = Some(20);
    h.start_controller();
    let unpack = h.storage.path().join("unpack");
    assert_eq!(std::fs::read_dir(&unpack).unwrap().count(), 0);
    assert!(!blob.exists());
    assert_eq!(h.get_content(&served).await.1, expected_jsonl(&small));

    // 30 packages in one layer: over the lowered limit, counting directories too.
    let mut content = LayerContent::new();
    for i in 0..30 {
        content
            .add_bytes(
                &format!("/configs/p{i}/catalog.json"),
                format!(r#"{{"schema":"olm.package","name":"p{i}"}}"#).into_bytes(),
            )
            .unwrap();
    }
    let image = ImageBuilder::scratch()
        .layer(content, "test")
        .label(olm_labels::INDEX_CONFIGS, "/configs")
        .build(&pusher)
        .await
        .unwrap();
    let reference = format!("{host}/catalogs/many:v1");
    pusher
        .push(&image, &ImageRef::parse(&reference).unwrap())
        .await
        .unwrap();
    let many = h.create(&reference, Some("0s"), None).await;
    let message = h.wait_failed(&many, "UnpackFailed").await;
    assert!(
        message.contains("more than 20 entries in the image (limit)")
            && message.contains("--max-catalog-entries"),
        "{message}"
    );
    // The failure left nothing behind and the other catalog is still served.
    assert_eq!(std::fs::read_dir(unpack.join(&many)).unwrap().count(), 0);
    assert_eq!(h.get_content(&served).await.1, expected_jsonl(&small));
}

#[tokio::test]
async fn private_registry_needs_the_pull_secret() {
    if !testenv::registry::require_binaries(&["docker-registry", "htpasswd"]) {
        return;
    }
    let registry = Registry::start_tls_auth("alice", "s3cret")
        .await
        .expect("registry starts");
    let options = RegistryOptions {
        ca_pem: registry.ca_pem().map(str::to_owned),
        ..RegistryOptions::default()
    };
    let Some(h) = Harness::start(options.clone()).await else {
        return;
    };
    let mut push_options = options;
    let auth = format!(
        r#"{{"auths":{{"{}":{{"username":"alice","password":"s3cret"}}}}}}"#,
        registry.host_port()
    );
    push_options.credentials = oci::Credentials::from_docker_config_json(auth.as_bytes()).unwrap();
    let pusher = ImageStore::new(h.storage.path().join("pusher"), push_options).unwrap();
    let v1 = corpus().join("catalogs/v4.15/kube-green");
    push_catalog(&registry, &pusher, &v1, "v1").await;

    let name = h
        .create(
            &format!("{}/catalogs/test:v1", registry.host_port()),
            Some("0s"),
            Some("creds"),
        )
        .await;
    let c = h
        .wait_for(&name, "Unauthorized", |c| {
            unpacked_reason(c) == Some("Unauthorized")
        })
        .await;
    let cond =
        olm_api::conditions::find_condition(&c.status.as_ref().unwrap().conditions, "Unpacked")
            .unwrap();
    assert!(
        cond.message.contains("\"creds\" was not found"),
        "{}",
        cond.message
    );

    // Adding the Secret is enough: the controller watches pull secrets.
    let secrets: Api<Secret> = Api::namespaced(h.cluster.client(), &h.namespace);
    support::create_pull_secret(&secrets, "creds", &auth).await;
    h.wait_unpacked(&name).await;
    assert_eq!(h.get_content(&name).await.1, expected_jsonl(&v1));
}

#[tokio::test]
async fn content_failures_are_unpacked_once_per_digest_until_a_retry_is_asked() {
    let Some(registry) = start_registry().await else {
        return;
    };
    let Some(mut h) = Harness::start(plain_options()).await else {
        return;
    };
    let proxy = FaultProxy::relay(registry.host_port()).await.unwrap();
    let pusher = ImageStore::new(h.storage.path().join("pusher"), plain_options()).unwrap();
    // 1 MiB of NUL bytes where the catalog should be: about 1 KiB compressed.
    let mut content = LayerContent::new();
    content
        .add_bytes("/configs/foo/catalog.json", vec![0; 1 << 20])
        .unwrap();
    let image = ImageBuilder::scratch()
        .layer(content, "test")
        .label(olm_labels::INDEX_CONFIGS, "/configs")
        .build(&pusher)
        .await
        .unwrap();
    let tag = format!("{}/catalogs/nul:v1", registry.host_port());
    let tag = ImageRef::parse(&tag).unwrap();
    let bad = pusher.push(&image, &tag).await.unwrap().digest;
    let name = h
        .create(
            &format!("{}/catalogs/nul:v1", proxy.addr()),
            Some("1s"),
            None,
        )
        .await;
    let message = h.wait_failed(&name, "UnpackFailed").await;
    assert_eq!(
        message,
        format!(
            "source catalog content: \"configs/foo/catalog.json\" is not text (NUL byte at offset 0); a catalog file must be JSON or YAML (image {bad}; not tried again until the image digest or the Catalog's spec changes, or the annotation {RETRY_ANNOTATION} is set to a new value)"
        )
    );
    assert_eq!(h.unpacks("UnpackFailed"), 1);
    assert!(
        proxy.take_requests().iter().any(|r| r.contains("/blobs/")),
        "the first attempt downloads the image"
    );

    // Polls every second, and a restart: the tag is resolved again and again, the digest
    // it names is neither downloaded nor unpacked again.
    tokio::time::sleep(Duration::from_secs(4)).await;
    h.stop_controller().await;
    h.start_controller();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let requests = proxy.take_requests();
    let polls = requests
        .iter()
        .filter(|r| r.contains("/catalogs/nul/manifests/v1 "))
        .count();
    assert!(polls >= 4, "the tag is still polled: {requests:#?}");
    assert!(
        !requests.iter().any(|r| r.contains("/blobs/")),
        "{requests:#?}"
    );
    assert_eq!(h.unpacks("UnpackFailed"), 1, "one attempt for the digest");
    let c = h.api().get(&name).await.unwrap();
    assert_eq!(Harness::unpacked_message(&c), message, "status as it was");

    // Asking for a retry is worth exactly one more attempt.
    let annotate =
        |value: &str| serde_json::json!({"metadata": {"annotations": {RETRY_ANNOTATION: value}}});
    h.api()
        .patch(&name, &PatchParams::default(), &Patch::Merge(annotate("1")))
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while h.unpacks("UnpackFailed") < 2 {
        assert!(tokio::time::Instant::now() < deadline, "no retry");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        h.unpacks("UnpackFailed"),
        2,
        "one attempt per retry request"
    );

    // A new digest under the tag is unpacked at the next poll, and the failure forgotten.
    let good = oci::catalog_image(None, &corpus().join("catalogs/v4.15/kube-green"))
        .unwrap()
        .build(&pusher)
        .await
        .unwrap();
    let fixed = pusher.push(&good, &tag).await.unwrap().digest;
    let c = h
        .wait_for(&name, "the fixed digest", |c| {
            phase(c) == Some("Unpacked") && resolved_ref(c).ends_with(&fixed)
        })
        .await;
    assert_eq!(h.unpacks("UnpackSuccessful"), 1, "{:#?}", c.status);
    assert_eq!(h.unpacks("UnpackFailed"), 2);
    assert!(
        !h.storage
            .path()
            .join("catalogs")
            .join(&name)
            .join("failed.json")
            .exists()
    );
}

/// Bytes this process has handed to `write(2)` and its kin so far (`wchar` in
/// `/proc/self/io`): catalogd runs in-process here, so this counts what it writes.
fn bytes_written_by_this_process() -> u64 {
    let io = std::fs::read_to_string("/proc/self/io").unwrap();
    io.lines()
        .find_map(|l| l.strip_prefix("wchar: "))
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn a_huge_binary_file_fails_at_its_first_bytes() {
    if !testenv::registry::require_binaries(&["docker-registry", "skopeo"]) {
        return;
    }
    let Some(registry) = start_registry().await else {
        return;
    };
    let Some(h) = Harness::start(plain_options()).await else {
        return;
    };
    // A 2 MB image holding 2 GiB of zeros where the catalog should be. Its diff_id was
    // taken once from catalogd reading the layer to its end (without the text check);
    // nothing here depends on it, since the file is refused long before the layer's end.
    let layout = tempfile::tempdir().unwrap();
    let layer = testenv::registry::zeros_layer("configs/foo/catalog.json", 2 << 30).unwrap();
    let diff_id = "sha256:9077acf05fdb8e89e408de2d9575e31078da9b446459a1e5591d194f68949f90";
    testenv::registry::write_oci_layout_with_layer(
        layout.path(),
        "v1",
        &layer,
        diff_id,
        &[(olm_labels::INDEX_CONFIGS, "/configs")],
    )
    .unwrap();
    testenv::registry::run_command(&mut registry.skopeo_push(
        layout.path(),
        "v1",
        "catalogs/zeros:v1",
        None,
    ))
    .unwrap();

    let before = bytes_written_by_this_process();
    let name = h
        .create(
            &format!("{}/catalogs/zeros:v1", registry.host_port()),
            Some("0s"),
            None,
        )
        .await;
    let message = h.wait_failed(&name, "UnpackFailed").await;
    let written = bytes_written_by_this_process() - before;
    assert!(
        message.starts_with(
            "source catalog content: \"configs/foo/catalog.json\" is not text (NUL byte at offset 0); a catalog file must be JSON or YAML (image sha256:"
        ),
        "{message}"
    );
    // The 2 MB layer in the blob cache, status and Events (2.2 MB in all when measured);
    // other tests of this process write too, but nowhere near the 2 GiB the file would take.
    assert!(written < 256 << 20, "{written} bytes written");
    assert_eq!(h.unpacks("UnpackFailed"), 1);
}

/// HTTPS to a plain-HTTP registry: the condition says so and names the flag that fixes it.
#[tokio::test]
async fn a_plain_http_registry_names_registry_use_http() {
    let Some(registry) = start_registry().await else {
        return;
    };
    let Some(h) = Harness::start(RegistryOptions::default()).await else {
        return;
    };
    let reference = format!("{}/catalogs/test:v1", registry.host_port());
    let name = h.create(&reference, None, None).await;
    let message = h.wait_failed(&name, "RegistryUnreachable").await;
    assert!(
        message.starts_with(&format!(
            "source catalog content: registry {} speaks plain HTTP, not HTTPS (",
            registry.host_port()
        )) && message.ends_with("pass --use-http (opm) or --registry-use-http (catalogd)"),
        "{message}"
    );
}
