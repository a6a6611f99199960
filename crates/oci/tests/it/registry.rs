//! The image store against a real registry (Debian's docker-registry on loopback), with
//! skopeo as the independent client that checks what we push and produces what we read.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use oci::{
    Credential, Credentials, ExtractOptions, ImageBuilder, ImageError, ImageRef, ImageStore,
    LayerContent, OciLayout, Platform, RegistryOptions, bundle_image, catalog_image,
};
use oci::{Descriptor, ImageIndex, OCI_INDEX, OCI_MANIFEST};
use testenv::FaultProxy;
use testenv::fixtures::corpus;
use testenv::registry::{REGISTRY_BINARIES, Registry, require_binaries, run_command};

fn bundle_dir() -> PathBuf {
    corpus().join("bundles/kube-green/0.7.0")
}

fn plain_options() -> RegistryOptions {
    RegistryOptions {
        use_http: true,
        ..Default::default()
    }
}

fn store(cache: &Path, options: RegistryOptions) -> ImageStore {
    ImageStore::new(cache, options).expect("image store")
}

fn image_ref(s: &str) -> ImageRef {
    ImageRef::parse(s).expect("reference")
}

/// Relative path → content (None for directories) for every entry under `dir`.
fn tree(dir: &Path) -> BTreeMap<String, Option<Vec<u8>>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Option<Vec<u8>>>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path.strip_prefix(root).unwrap().display().to_string();
            let meta = fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                out.insert(rel, None);
                walk(root, &path, out);
            } else {
                out.insert(rel, Some(fs::read(&path).unwrap()));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn assert_same_tree(actual: &Path, expected: &Path) {
    let (a, e) = (tree(actual), tree(expected));
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        e.keys().collect::<Vec<_>>(),
        "file lists differ: {} vs {}",
        actual.display(),
        expected.display()
    );
    for (k, v) in &e {
        assert!(a[k] == *v, "{k} differs");
    }
}

fn skopeo_inspect(
    registry: &Registry,
    reference: &str,
    creds: Option<&testenv::registry::Credentials>,
) -> serde_json::Value {
    let out = run_command(&mut registry.skopeo_inspect(reference, creds)).expect("skopeo inspect");
    serde_json::from_str(&out).expect("inspect JSON")
}

#[tokio::test]
async fn bundle_image_is_pushed_inspected_and_unpacked() {
    if !require_binaries(REGISTRY_BINARIES) {
        return;
    }
    let registry = Registry::start_plain().await.unwrap();
    let cache = tempfile::tempdir().unwrap();
    let s = store(cache.path(), plain_options());

    let image = bundle_image(&bundle_dir())
        .unwrap()
        .build(&s)
        .await
        .unwrap();
    let dest = image_ref(&format!(
        "{}/bundles/kube-green:v0.7.0",
        registry.host_port()
    ));
    let report = s.push(&image, &dest).await.unwrap();
    assert_eq!((report.uploaded, report.skipped), (2, 0));
    assert_eq!(report.digest, image.digest.to_string());

    let inspect = skopeo_inspect(&registry, "bundles/kube-green:v0.7.0", None);
    assert_eq!(inspect["Digest"], image.digest.as_str());
    assert_eq!(inspect["Layers"].as_array().unwrap().len(), 1);
    assert_eq!(
        inspect["Layers"][0],
        image.manifest.layers[0].digest.as_str()
    );
    let labels = &inspect["Labels"];
    assert_eq!(
        labels["operators.operatorframework.io.bundle.package.v1"],
        "kube-green"
    );
    assert_eq!(
        labels["operators.operatorframework.io.bundle.mediatype.v1"],
        "registry+v1"
    );
    assert_eq!(
        labels["operators.operatorframework.io.bundle.manifests.v1"],
        "manifests/"
    );
    assert_eq!(inspect["Architecture"], "amd64");
    assert_eq!(inspect["Os"], "linux");

    // Read back with a fresh cache: labels, digest and bytes are what we built.
    let fresh = tempfile::tempdir().unwrap();
    let reader = store(fresh.path(), plain_options());
    assert_eq!(reader.resolve_digest(&dest).await.unwrap(), image.digest);
    assert_eq!(
        reader.labels(&dest).await.unwrap()["operators.operatorframework.io.bundle.channels.v1"],
        "alpha"
    );
    let out = tempfile::tempdir().unwrap();
    let unpacked = reader
        .unpack(
            &dest,
            &out.path().join("bundle"),
            &ExtractOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(unpacked.digest, image.digest);
    assert_same_tree(&out.path().join("bundle"), &bundle_dir());

    // Building again gives the same digest; pushing again uploads nothing.
    let again = bundle_image(&bundle_dir())
        .unwrap()
        .build(&s)
        .await
        .unwrap();
    assert_eq!(again.digest, image.digest);
}

#[tokio::test]
async fn catalog_image_push_twice_pull_cached_and_offline() {
    if !require_binaries(REGISTRY_BINARIES) {
        return;
    }
    let registry = Registry::start_plain().await.unwrap();
    let proxy = FaultProxy::relay(registry.host_port()).await.unwrap();
    let cache = tempfile::tempdir().unwrap();
    let s = store(cache.path(), plain_options());
    let fbc = corpus().join("catalogs/v4.15");

    let image = catalog_image(None, &fbc).unwrap().build(&s).await.unwrap();
    let dest = image_ref(&format!("{}/olm/catalog:v4.15", proxy.addr()));
    let first = s.push(&image, &dest).await.unwrap();
    assert_eq!(first.uploaded, 2);
    let uploads = |reqs: &[String]| {
        reqs.iter()
            .filter(|r| r.contains("/blobs/uploads/"))
            .count()
    };
    assert!(uploads(&proxy.take_requests()) >= 2);

    let second = s.push(&image, &dest).await.unwrap();
    assert_eq!((second.uploaded, second.skipped), (0, 2));
    let reqs = proxy.take_requests();
    assert_eq!(uploads(&reqs), 0, "{reqs:#?}");
    assert_eq!(
        reqs.iter()
            .filter(|r| r.starts_with("HEAD ") && r.contains("/blobs/"))
            .count(),
        2,
        "{reqs:#?}"
    );

    let inspect = skopeo_inspect(&registry, "olm/catalog:v4.15", None);
    assert_eq!(inspect["Labels"][olm_labels::INDEX_CONFIGS], "/configs");
    assert_eq!(inspect["Digest"], image.digest.as_str());

    // Unpack just the labelled directory with a cold cache: equals the FBC tree.
    let cold = tempfile::tempdir().unwrap();
    let reader = store(cold.path(), plain_options());
    let out = tempfile::tempdir().unwrap();
    reader
        .unpack_labelled_dir(
            &dest,
            olm_labels::INDEX_CONFIGS,
            &out.path().join("configs"),
            &ExtractOptions::default(),
        )
        .await
        .unwrap();
    assert_same_tree(&out.path().join("configs"), &fbc);
    assert!(
        proxy
            .take_requests()
            .iter()
            .any(|r| r.starts_with("GET ") && r.contains("/blobs/"))
    );

    // A second pull of the same image downloads no blob.
    reader.pull(&dest).await.unwrap();
    let reqs = proxy.take_requests();
    assert!(!reqs.iter().any(|r| r.contains("/blobs/")), "{reqs:#?}");

    // By digest, with the registry gone, everything comes from the cache.
    registry.stop();
    let pinned = image_ref(&format!("{}/olm/catalog@{}", proxy.addr(), image.digest));
    let out2 = tempfile::tempdir().unwrap();
    reader
        .unpack_labelled_dir(
            &pinned,
            olm_labels::INDEX_CONFIGS,
            &out2.path().join("c"),
            &ExtractOptions::default(),
        )
        .await
        .unwrap();
    assert_same_tree(&out2.path().join("c"), &fbc);
    assert!(proxy.take_requests().is_empty());
    // By tag it needs the registry, and says it is unreachable.
    let err = reader
        .resolve_digest(&image_ref(&format!("{}/olm/catalog:v4.15", proxy.addr())))
        .await;
    assert!(err.is_err());
}

#[tokio::test]
async fn tls_and_basic_auth() {
    if !require_binaries(REGISTRY_BINARIES) {
        return;
    }
    let registry = Registry::start_tls_auth("olm", "s3cret").await.unwrap();
    let host = registry.host_port().to_owned();
    let ca = registry.ca_pem().unwrap().to_owned();
    let cache = tempfile::tempdir().unwrap();

    // Credentials from a docker config.json, scoped to one repository path.
    let config_dir = tempfile::tempdir().unwrap();
    let config = config_dir.path().join("config.json");
    fs::write(
        &config,
        format!(r#"{{"auths":{{"{host}/allowed":{{"auth":"b2xtOnMzY3JldA=="}}}}}}"#),
    )
    .unwrap();
    let credentials = Credentials::from_docker_config_file(&config).unwrap();
    let authed = store(
        cache.path(),
        RegistryOptions {
            ca_pem: Some(ca.clone()),
            credentials,
            ..Default::default()
        },
    );
    let image = bundle_image(&bundle_dir())
        .unwrap()
        .build(&authed)
        .await
        .unwrap();
    let allowed = image_ref(&format!("{host}/allowed/bundle:v1"));
    authed.push(&image, &allowed).await.unwrap();
    assert_eq!(authed.resolve_digest(&allowed).await.unwrap(), image.digest);
    let creds = testenv::registry::Credentials::new("olm", "s3cret");
    assert_eq!(
        skopeo_inspect(&registry, "allowed/bundle:v1", Some(&creds))["Digest"],
        image.digest.as_str()
    );

    // Same store, same registry, a path without credentials: the authenticated client
    // must not be reused (oci-client caches auth per registry).
    let err = authed
        .resolve_digest(&image_ref(&format!("{host}/other/bundle:v1")))
        .await
        .unwrap_err();
    assert!(matches!(err, ImageError::Unauthorized { .. }), "{err}");
    assert!(
        err.to_string().contains("no credentials are configured"),
        "{err}"
    );

    // Wrong password: unauthorized, and the hint says the credentials were rejected.
    let mut wrong = Credentials::new();
    wrong.insert(
        &host,
        Credential::Basic {
            username: "olm".into(),
            password: "nope".into(),
        },
    );
    let bad = authed
        .with_options(RegistryOptions {
            ca_pem: Some(ca.clone()),
            credentials: wrong,
            ..Default::default()
        })
        .unwrap();
    let err = bad.fetch(&allowed).await.unwrap_err();
    assert!(
        matches!(err, ImageError::Unauthorized { ref registry, .. } if *registry == host),
        "{err}"
    );
    assert!(err.to_string().contains("rejected"), "{err}");

    // Without the CA: a TLS verification error pointing at the options.
    let untrusted = authed.with_options(RegistryOptions::default()).unwrap();
    let err = untrusted.resolve_digest(&allowed).await.unwrap_err();
    assert!(matches!(err, ImageError::TlsVerification { .. }), "{err}");
    assert!(err.to_string().contains("--skip-tls-verify"), "{err}");

    // skip-tls-verify plus a Kubernetes pull secret payload.
    let secret =
        format!(r#"{{"auths":{{"https://{host}":{{"username":"olm","password":"s3cret"}}}}}}"#);
    let mut data = BTreeMap::new();
    data.insert(".dockerconfigjson".to_owned(), secret.into_bytes());
    let insecure = authed
        .with_options(RegistryOptions {
            skip_tls_verify: true,
            credentials: Credentials::from_pull_secret(&data).unwrap(),
            ..Default::default()
        })
        .unwrap();
    let out = tempfile::tempdir().unwrap();
    insecure
        .unpack(&allowed, &out.path().join("b"), &ExtractOptions::default())
        .await
        .unwrap();
    assert_same_tree(&out.path().join("b"), &bundle_dir());
}

#[tokio::test]
async fn specific_errors_for_missing_and_unreachable() {
    if !require_binaries(REGISTRY_BINARIES) {
        return;
    }
    let registry = Registry::start_plain().await.unwrap();
    let cache = tempfile::tempdir().unwrap();
    let s = store(cache.path(), plain_options());
    let missing = image_ref(&format!("{}/nothing:here", registry.host_port()));
    for err in [
        s.fetch(&missing).await.unwrap_err(),
        s.resolve_digest(&missing).await.unwrap_err(),
    ] {
        assert!(matches!(err, ImageError::ManifestUnknown { .. }), "{err}");
        assert!(err.to_string().contains("nothing:here"), "{err}");
    }

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let err = s
        .fetch(&image_ref(&format!("127.0.0.1:{port}/x:y")))
        .await
        .unwrap_err();
    assert!(matches!(err, ImageError::Unreachable { .. }), "{err}");

    // HTTPS against a plain-HTTP registry names the flags that fix it.
    let tls = store(cache.path(), RegistryOptions::default());
    let err = tls.resolve_digest(&missing).await.unwrap_err();
    assert!(matches!(err, ImageError::PlainHttp { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "registry {} speaks plain HTTP, not HTTPS (",
            registry.host_port()
        )) && text.ends_with("pass --use-http (opm) or --registry-use-http (catalogd)"),
        "{text}"
    );

    // Plain HTTP against a TLS registry is not mistaken for a missing image.
    let layout = tempfile::tempdir().unwrap();
    let err = s
        .fetch(&image_ref(&format!("oci:{}:v1", layout.path().display())))
        .await
        .unwrap_err();
    assert!(matches!(err, ImageError::Layout { .. }), "{err}");
}

/// Deterministic, incompressible bytes.
fn noise(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

#[tokio::test]
async fn interrupted_download_leaves_nothing_behind() {
    if !require_binaries(REGISTRY_BINARIES) {
        return;
    }
    let registry = Registry::start_plain().await.unwrap();
    let cache = tempfile::tempdir().unwrap();
    let s = store(cache.path(), plain_options());
    let payload = noise(3 << 20);
    let mut content = LayerContent::new();
    content
        .add_bytes("/data/blob.bin", payload.clone())
        .unwrap();
    let image = ImageBuilder::scratch()
        .layer(content, "noise")
        .build(&s)
        .await
        .unwrap();
    s.push(
        &image,
        &image_ref(&format!("{}/big:v1", registry.host_port())),
    )
    .await
    .unwrap();

    let proxy = FaultProxy::cut_after(registry.host_port(), 1 << 20)
        .await
        .unwrap();
    let cold = tempfile::tempdir().unwrap();
    let reader = store(cold.path(), plain_options());
    let through_proxy = image_ref(&format!("{}/big:v1", proxy.addr()));
    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("img");
    let err = reader
        .unpack(&through_proxy, &dest, &ExtractOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, ImageError::Registry { .. }) && err.to_string().contains("interrupted"),
        "{err}"
    );
    assert!(!dest.exists());
    assert_eq!(
        fs::read_dir(out.path()).unwrap().count(),
        0,
        "no temp dir left behind"
    );
    let layer = oci::Sha256Digest::parse(&image.manifest.layers[0].digest).unwrap();
    assert!(!reader.cache().contains(&layer));
    assert_eq!(fs::read_dir(cold.path().join("tmp")).unwrap().count(), 0);

    // The cache is not poisoned: a direct pull with the same cache works.
    let direct = image_ref(&format!("{}/big:v1", registry.host_port()));
    reader
        .unpack(&direct, &dest, &ExtractOptions::default())
        .await
        .unwrap();
    assert_eq!(fs::read(dest.join("data/blob.bin")).unwrap(), payload);
    assert!(reader.cache().contains(&layer));
}

#[tokio::test]
async fn oci_layout_round_trip_through_skopeo() {
    if !require_binaries(REGISTRY_BINARIES) {
        return;
    }
    let registry = Registry::start_plain().await.unwrap();
    let cache = tempfile::tempdir().unwrap();
    let s = store(cache.path(), plain_options());
    let work = tempfile::tempdir().unwrap();
    let layout_dir = work.path().join("layout");

    let image = bundle_image(&bundle_dir())
        .unwrap()
        .build(&s)
        .await
        .unwrap();
    let ours = image_ref(&format!("oci:{}:v1", layout_dir.display()));
    let report = s.push(&image, &ours).await.unwrap();
    assert_eq!(report.uploaded, 2);
    assert_eq!(s.resolve_digest(&ours).await.unwrap(), image.digest);

    // skopeo reads our layout and pushes it; we read it back from the registry.
    run_command(&mut registry.skopeo_push(&layout_dir, "v1", "from-layout:v1", None)).unwrap();
    let remote = image_ref(&format!("{}/from-layout:v1", registry.host_port()));
    assert_eq!(s.resolve_digest(&remote).await.unwrap(), image.digest);

    // skopeo writes a layout; we unpack from it with a cold cache.
    let theirs = work.path().join("theirs");
    run_command(&mut registry.skopeo_pull("from-layout:v1", &theirs, "v2", None)).unwrap();
    let cold = tempfile::tempdir().unwrap();
    let reader = store(cold.path(), plain_options());
    let out = work.path().join("out");
    reader
        .unpack(
            &image_ref(&format!("oci:{}:v2", theirs.display())),
            &out,
            &ExtractOptions::default(),
        )
        .await
        .unwrap();
    assert_same_tree(&out, &bundle_dir());

    // Layout → registry with our own copy, and naming errors are specific.
    let copied = s
        .copy(
            &ours,
            &image_ref(&format!("{}/copied:v1", registry.host_port())),
        )
        .await
        .unwrap();
    assert_eq!(copied.digest, image.digest.to_string());
    let err = s
        .fetch(&image_ref(&format!("oci:{}:nope", layout_dir.display())))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("no image named \"nope\" (images: v1)"),
        "{err}"
    );
}

#[tokio::test]
async fn multi_arch_index_platform_selection() {
    if !require_binaries(REGISTRY_BINARIES) {
        return;
    }
    let registry = Registry::start_plain().await.unwrap();
    let cache = tempfile::tempdir().unwrap();
    let s = store(cache.path(), plain_options());
    let work = tempfile::tempdir().unwrap();
    let layout_dir = work.path().join("multi");

    let mut entries = Vec::new();
    for platform in ["linux/amd64", "linux/arm64"] {
        let p = Platform::parse(platform).unwrap();
        let mut content = LayerContent::new();
        content.add_bytes("/arch.txt", platform).unwrap();
        let image = ImageBuilder::scratch()
            .platform(p.clone())
            .layer(content, "arch marker")
            .build(&s)
            .await
            .unwrap();
        let name = p.architecture.clone();
        s.push(
            &image,
            &image_ref(&format!("oci:{}:{name}", layout_dir.display())),
        )
        .await
        .unwrap();
        entries.push(Descriptor {
            media_type: OCI_MANIFEST.into(),
            digest: image.digest.to_string(),
            size: image.manifest_bytes.len() as u64,
            urls: None,
            annotations: None,
            platform: Some(p),
            artifact_type: None,
        });
    }
    let index = ImageIndex {
        schema_version: 2,
        media_type: Some(OCI_INDEX.into()),
        manifests: entries,
        annotations: None,
    };
    let index_bytes = serde_json::to_vec(&index).unwrap();
    let layout = OciLayout::open(&layout_dir).unwrap();
    let index_digest = layout.write_blob(&index_bytes).unwrap();
    layout
        .set_ref(
            Descriptor {
                media_type: OCI_INDEX.into(),
                digest: index_digest.to_string(),
                size: index_bytes.len() as u64,
                urls: None,
                annotations: None,
                platform: None,
                artifact_type: None,
            },
            Some("multi"),
        )
        .unwrap();
    let mut push = registry.skopeo_push(&layout_dir, "multi", "multi:v1", None);
    push.arg("--all");
    run_command(&mut push).unwrap();

    let remote = image_ref(&format!("{}/multi:v1", registry.host_port()));
    assert_eq!(s.resolve_digest(&remote).await.unwrap(), index_digest);
    for (platform, expected) in [(None, "linux/amd64"), (Some("linux/arm64"), "linux/arm64")] {
        let options = RegistryOptions {
            platform: platform
                .map(|p| Platform::parse(p).unwrap())
                .unwrap_or_default(),
            ..plain_options()
        };
        let cold = tempfile::tempdir().unwrap();
        let reader = store(cold.path(), options);
        let image = reader.fetch(&remote).await.unwrap();
        assert_eq!(image.index_digest.as_ref(), Some(&index_digest));
        let out = work
            .path()
            .join(format!("out-{}", expected.replace('/', "-")));
        reader
            .unpack_image(&image, &out, &ExtractOptions::default())
            .await
            .unwrap();
        assert_eq!(fs::read_to_string(out.join("arch.txt")).unwrap(), expected);
    }
    let s390x = store(
        cache.path(),
        RegistryOptions {
            platform: Platform::parse("linux/s390x").unwrap(),
            ..plain_options()
        },
    );
    let err = s390x.fetch(&remote).await.unwrap_err();
    assert!(matches!(err, ImageError::PlatformNotFound { .. }), "{err}");
    assert!(
        err.to_string().contains("linux/amd64, linux/arm64"),
        "{err}"
    );
    // The layout transport selects platforms the same way.
    let arm = store(
        cache.path(),
        RegistryOptions {
            platform: Platform::parse("linux/arm64").unwrap(),
            ..plain_options()
        },
    );
    let image = arm
        .fetch(&image_ref(&format!("oci:{}:multi", layout_dir.display())))
        .await
        .unwrap();
    assert_eq!(image.platform().unwrap().architecture, "arm64");
}

#[tokio::test]
async fn catalog_update_on_a_base_replaces_configs() {
    if !require_binaries(REGISTRY_BINARIES) {
        return;
    }
    let registry = Registry::start_plain().await.unwrap();
    let cache = tempfile::tempdir().unwrap();
    let s = store(cache.path(), plain_options());
    let v415 = corpus().join("catalogs/v4.15");

    // A base "index" image with an old catalog and a stale serve cache.
    let mut base_content = LayerContent::new();
    base_content
        .add_dir_tree(&v415.join("kube-green"), "/configs/old-package")
        .unwrap();
    base_content
        .add_bytes("/tmp/cache/stale.json", "{}")
        .unwrap();
    base_content.add_bytes("/bin/opm", "#!/bin/sh\n").unwrap();
    let base = ImageBuilder::scratch()
        .layer(base_content, "base")
        .label("keep.me", "yes")
        .build(&s)
        .await
        .unwrap();
    let base_ref = image_ref(&format!("{}/index:base", registry.host_port()));
    s.push(&base, &base_ref).await.unwrap();

    // Rebuild on top of it from the registry, with a cold cache: the base layer is
    // downloaded once, to check its diff_id, and only HEAD-checked on push because the
    // destination already has it.
    let cold = tempfile::tempdir().unwrap();
    let builder_store = store(cold.path(), plain_options());
    let fetched = builder_store.fetch(&base_ref).await.unwrap();
    let updated = catalog_image(Some(fetched), &v415.join("kube-green"))
        .unwrap()
        .build(&builder_store)
        .await
        .unwrap();
    let out_ref = image_ref(&format!("{}/index:updated", registry.host_port()));
    let report = builder_store.push(&updated, &out_ref).await.unwrap();
    assert_eq!((report.uploaded, report.skipped), (2, 1));
    let base_layer = oci::Sha256Digest::parse(&base.manifest.layers[0].digest).unwrap();
    assert!(builder_store.cache().contains(&base_layer));

    let labels = s.labels(&out_ref).await.unwrap();
    assert_eq!(labels["keep.me"], "yes");
    assert_eq!(labels[olm_labels::INDEX_CONFIGS], "/configs");
    let out = tempfile::tempdir().unwrap();
    let root = out.path().join("root");
    s.unpack(&out_ref, &root, &ExtractOptions::default())
        .await
        .unwrap();
    assert_same_tree(&root.join("configs"), &v415.join("kube-green"));
    assert!(!root.join("configs/old-package").exists());
    assert!(!root.join("tmp/cache").exists());
    assert!(root.join("bin/opm").is_file());
}
