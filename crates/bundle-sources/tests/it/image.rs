//! The `image` source against the Debian registry: plain, and TLS with htpasswd.

use base64::Engine as _;
use bundle_sources::{SourceError, Sources, Unpack};
use oci::{ImageBuilder, ImageRef, ImageStore, LayerContent, RegistryOptions, bundle_image};
use olm_api::BundleSource;
use olm_api::bundle::{ImageSource, SourceType};
use testenv::RegistryEnv;
use testenv::fixtures::corpus_bundle;
use testenv::registry::{REGISTRY_BINARIES, Registry, require_binaries};

use crate::fixtures::{Objects, Workspace, files_under, sources};

fn image_source(reference: &str, pull_secret: Option<&str>, insecure: bool) -> BundleSource {
    BundleSource {
        type_: SourceType::Image,
        image: Some(ImageSource {
            ref_: reference.to_owned(),
            pull_secret: pull_secret.map(str::to_owned),
            insecure_skip_tls_verify: insecure,
        }),
        git: None,
        config_maps: None,
        http: None,
        upload: None,
    }
}

fn plain_http() -> RegistryOptions {
    RegistryOptions {
        use_http: true,
        ..Default::default()
    }
}

fn uploads() -> &'static std::path::Path {
    std::path::Path::new("/nonexistent-uploads")
}

async fn unpack(
    sources: &Sources,
    source: &BundleSource,
    objects: &Objects,
) -> (Workspace, Result<Unpack, SourceError>) {
    let ws = Workspace::new();
    let result = sources
        .unpack("kube-green", source, objects, &ws.dest())
        .await;
    (ws, result)
}

fn pinned(reference: &str) -> Unpack {
    Unpack::Unpacked {
        resolved: image_source(reference, None, false),
    }
}

#[tokio::test]
async fn a_tag_is_pulled_and_pinned_to_its_digest() {
    let Some(env) = RegistryEnv::start().await else {
        return;
    };
    let pushed = env.push_bundle("kube-green", "0.7.1").await;
    let (sources, _cache) = sources(plain_http(), uploads());

    let (ws, result) = unpack(
        &sources,
        &image_source(&pushed.tag_ref, None, false),
        &Objects::default(),
    )
    .await;

    assert_eq!(result.unwrap(), pinned(&pushed.digest_ref));
    assert_eq!(
        ws.files(),
        files_under(&corpus_bundle("kube-green", "0.7.1"))
    );
    ws.assert_nothing_beside_dest(&[]);
}

#[tokio::test]
async fn a_digest_reference_stays_as_it_is() {
    let Some(env) = RegistryEnv::start().await else {
        return;
    };
    let pushed = env.push_bundle("kube-green", "0.7.0").await;
    let (sources, _cache) = sources(plain_http(), uploads());
    // The pull secret is dropped from the resolved source.
    let objects =
        Objects::default().with_secret("pull", &[(".dockerconfigjson", b"{\"auths\":{}}")]);

    let (ws, result) = unpack(
        &sources,
        &image_source(&pushed.digest_ref, Some("pull"), false),
        &objects,
    )
    .await;

    assert_eq!(result.unwrap(), pinned(&pushed.digest_ref));
    assert_eq!(
        ws.files(),
        files_under(&corpus_bundle("kube-green", "0.7.0"))
    );
}

#[tokio::test]
async fn layers_are_flattened_and_runtime_directories_left_out() {
    let Some(env) = RegistryEnv::start().await else {
        return;
    };
    let bundle = corpus_bundle("kube-green", "0.7.1");
    let mut lower = LayerContent::new();
    lower
        .add_dir_tree(&bundle.join("manifests"), "/manifests")
        .unwrap()
        .add_bytes("/manifests/stale.yaml", "kind: ConfigMap\n")
        .unwrap()
        .add_bytes("/etc/passwd", "root:x:0:0::/root:/bin/sh\n")
        .unwrap()
        .add_bytes("/bin/unpack", "binary")
        .unwrap();
    let mut upper = LayerContent::new();
    upper.remove("/manifests/stale.yaml").unwrap();
    let image = ImageBuilder::scratch()
        .layer(lower, "manifests")
        .layer(upper, "drop stale")
        .build(&env.store)
        .await
        .unwrap();
    let tag_ref = env.reference("bundles/layered:v1");
    env.store
        .push(&image, &ImageRef::parse(&tag_ref).unwrap())
        .await
        .unwrap();
    let (sources, _cache) = sources(plain_http(), uploads());

    let (ws, result) = unpack(
        &sources,
        &image_source(&tag_ref, None, false),
        &Objects::default(),
    )
    .await;

    assert_eq!(
        result.unwrap(),
        pinned(&env.reference(&format!("bundles/layered@{}", image.digest)))
    );
    let expected: Vec<String> = files_under(&bundle.join("manifests"))
        .into_iter()
        .map(|f| format!("manifests/{f}"))
        .collect();
    assert_eq!(ws.files(), expected);
}

#[tokio::test]
async fn registry_failures_have_distinct_messages() {
    let Some(env) = RegistryEnv::start().await else {
        return;
    };
    let (sources, _cache) = sources(plain_http(), uploads());

    let unknown = env.reference("bundles/kube-green:9.9.9");
    let (ws, result) = unpack(
        &sources,
        &image_source(&unknown, None, false),
        &Objects::default(),
    )
    .await;
    let message = result.unwrap_err().to_string();
    assert!(message.starts_with("manifest unknown: "), "{message}");
    assert!(message.contains(&unknown), "{message}");
    ws.assert_nothing_beside_dest(&[]);

    // A port nothing listens on (the registry's own, once it is stopped).
    let host = env.host().to_owned();
    drop(env);
    let gone = format!("{host}/bundles/kube-green:0.7.1");
    let (_, result) = unpack(
        &sources,
        &image_source(&gone, None, false),
        &Objects::default(),
    )
    .await;
    let message = result.unwrap_err().to_string();
    assert!(
        message.starts_with(&format!("registry {host} is unreachable: ")),
        "{message}"
    );

    let (_, result) = unpack(
        &sources,
        &image_source("Not A Reference", None, false),
        &Objects::default(),
    )
    .await;
    let message = result.unwrap_err().to_string();
    assert!(
        message.starts_with("invalid image reference \"Not A Reference\""),
        "{message}"
    );

    let (_, result) = unpack(
        &sources,
        &image_source("oci:/tmp/layout", None, false),
        &Objects::default(),
    )
    .await;
    let message = result.unwrap_err().to_string();
    assert!(
        message.starts_with("invalid image reference \"oci:/tmp/layout\""),
        "{message}"
    );
}

/// A dockerconfigjson pull secret for `host`.
fn pull_secret(host: &str, username: &str, password: &str) -> Vec<u8> {
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
    serde_json::to_vec(&serde_json::json!({ "auths": { host: { "auth": auth } } })).unwrap()
}

#[tokio::test]
async fn a_private_registry_needs_the_pull_secret() {
    if !require_binaries(REGISTRY_BINARIES) {
        return;
    }
    let registry = Registry::start_tls_auth("puller", "pa55word")
        .await
        .unwrap();
    let host = registry.host_port().to_owned();
    let ca = registry.ca_pem().unwrap().to_owned();
    let mut credentials = oci::Credentials::new();
    credentials.insert(
        &host,
        oci::Credential::Basic {
            username: "puller".into(),
            password: "pa55word".into(),
        },
    );
    let home = tempfile::tempdir().unwrap();
    let pusher = ImageStore::new(
        home.path().join("push-cache"),
        RegistryOptions {
            ca_pem: Some(ca.clone()),
            credentials,
            ..Default::default()
        },
    )
    .unwrap();
    let image = bundle_image(&corpus_bundle("kube-green", "0.7.1"))
        .unwrap()
        .build(&pusher)
        .await
        .unwrap();
    let tag_ref = format!("{host}/private/kube-green:0.7.1");
    pusher
        .push(&image, &ImageRef::parse(&tag_ref).unwrap())
        .await
        .unwrap();
    let digest_ref = format!("{host}/private/kube-green@{}", image.digest);
    let objects = Objects::default()
        .with_secret(
            "good",
            &[(
                ".dockerconfigjson",
                &pull_secret(&host, "puller", "pa55word"),
            )],
        )
        .with_secret(
            "wrong",
            &[(".dockerconfigjson", &pull_secret(&host, "puller", "nope"))],
        )
        .with_secret("opaque", &[("token", b"abc")]);
    let (trusting, _cache) = sources(
        RegistryOptions {
            ca_pem: Some(ca),
            ..Default::default()
        },
        uploads(),
    );

    let (ws, result) = unpack(
        &trusting,
        &image_source(&tag_ref, Some("good"), false),
        &objects,
    )
    .await;
    assert_eq!(result.unwrap(), pinned(&digest_ref));
    assert_eq!(
        ws.files(),
        files_under(&corpus_bundle("kube-green", "0.7.1"))
    );

    let (ws, result) = unpack(
        &trusting,
        &image_source(&tag_ref, Some("wrong"), false),
        &objects,
    )
    .await;
    let message = result.unwrap_err().to_string();
    assert!(
        message.starts_with(&format!("unauthorized: registry {host} refused access"))
            && message.contains("credentials for")
            && message.contains("were rejected"),
        "{message}"
    );
    ws.assert_nothing_beside_dest(&[]);

    let (_, result) = unpack(&trusting, &image_source(&tag_ref, None, false), &objects).await;
    let message = result.unwrap_err().to_string();
    assert!(
        message.starts_with("unauthorized: ") && message.contains("no credentials are configured"),
        "{message}"
    );

    let (_, result) = unpack(
        &trusting,
        &image_source(&tag_ref, Some("absent"), false),
        &objects,
    )
    .await;
    assert_eq!(
        result.unwrap_err().to_string(),
        "secret rukpak-system/absent (named in bundle.spec.source.image.pullSecret) was not found"
    );

    let (_, result) = unpack(
        &trusting,
        &image_source(&tag_ref, Some("opaque"), false),
        &objects,
    )
    .await;
    let message = result.unwrap_err().to_string();
    assert!(
        message.starts_with("pull secret rukpak-system/opaque is unusable: ")
            && message.contains("neither a .dockerconfigjson nor a .dockercfg key"),
        "{message}"
    );

    // Without the registry's CA: refused, unless the Bundle skips verification.
    let (untrusting, _cache2) = sources(RegistryOptions::default(), uploads());
    let (_, result) = unpack(
        &untrusting,
        &image_source(&tag_ref, Some("good"), false),
        &objects,
    )
    .await;
    let message = result.unwrap_err().to_string();
    assert!(
        message.starts_with(&format!("TLS verification failed for registry {host}")),
        "{message}"
    );

    let (ws, result) = unpack(
        &untrusting,
        &image_source(&tag_ref, Some("good"), true),
        &objects,
    )
    .await;
    assert_eq!(result.unwrap(), pinned(&digest_ref));
    assert_eq!(
        ws.files(),
        files_under(&corpus_bundle("kube-green", "0.7.1"))
    );
}
