//! The `image` source against the Debian registry: plain, and TLS with htpasswd.

use base64::Engine as _;
use std::path::Path;

use bundle_sources::{SourceError, Sources, Unpack};
use oci::{ImageBuilder, ImageRef, ImageStore, LayerContent, RegistryOptions, bundle_image};
use olm_api::BundleSource;
use olm_api::bundle::{ImageSource, SourceType};
use testenv::RegistryEnv;
use testenv::fixtures::corpus_bundle;
use testenv::registry::{REGISTRY_BINARIES, Registry, require_binaries};

use crate::fixtures::{
    NO_UPLOADS, Objects, Workspace, error_message, files_under, sources, unpack,
};

fn image_source(reference: &str, pull_secret: Option<&str>, insecure: bool) -> BundleSource {
    BundleSource {
        image: Some(ImageSource {
            ref_: reference.to_owned(),
            pull_secret: pull_secret.map(str::to_owned),
            insecure_skip_tls_verify: insecure,
        }),
        ..BundleSource::of_type(SourceType::Image)
    }
}

fn plain_http() -> (Sources, tempfile::TempDir) {
    let options = RegistryOptions {
        use_http: true,
        ..Default::default()
    };
    sources(options, Path::new(NO_UPLOADS))
}

/// Unpacks `source` for the Bundle `kube-green`.
async fn pull(
    sources: &Sources,
    source: &BundleSource,
    objects: &Objects,
) -> (Workspace, Result<Unpack, SourceError>) {
    unpack(sources, "kube-green", source, objects).await
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
    let (sources, _cache) = plain_http();

    let (ws, result) = pull(
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
    let (sources, _cache) = plain_http();
    // The pull secret is dropped from the resolved source.
    let objects =
        Objects::default().with_secret("pull", &[(".dockerconfigjson", b"{\"auths\":{}}")]);

    let (ws, result) = pull(
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
    let (sources, _cache) = plain_http();

    let (ws, result) = pull(
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
    let (sources, _cache) = plain_http();
    let unknown = env.reference("bundles/kube-green:9.9.9");
    assert_fails(
        &sources,
        &image_source(&unknown, None, false),
        &Objects::default(),
        "manifest unknown: ",
        &unknown,
    )
    .await;

    // A port nothing listens on (the registry's own, once it is stopped).
    let host = env.host().to_owned();
    drop(env);
    let cases = [
        (
            format!("{host}/bundles/kube-green:0.7.1"),
            format!("registry {host} is unreachable: "),
        ),
        (
            "Not A Reference".to_owned(),
            r#"invalid image reference "Not A Reference""#.to_owned(),
        ),
        (
            "oci:/tmp/layout".to_owned(),
            r#"invalid image reference "oci:/tmp/layout""#.to_owned(),
        ),
    ];
    for (reference, prefix) in cases {
        let source = image_source(&reference, None, false);
        assert_fails(&sources, &source, &Objects::default(), &prefix, "").await;
    }
}

/// Checks that pulling `source` fails with a message starting with `prefix` and containing
/// `part`, leaving nothing behind.
async fn assert_fails(
    sources: &Sources,
    source: &BundleSource,
    objects: &Objects,
    prefix: &str,
    part: &str,
) {
    let (ws, result) = pull(sources, source, objects).await;
    let message = error_message(result);
    assert!(
        message.starts_with(prefix) && message.contains(part),
        "{message}"
    );
    assert!(ws.files().is_empty());
    ws.assert_nothing_beside_dest(&[]);
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
        Path::new(NO_UPLOADS),
    );
    let (untrusting, _cache2) = sources(RegistryOptions::default(), Path::new(NO_UPLOADS));
    let bundle_files = files_under(&corpus_bundle("kube-green", "0.7.1"));

    for (sources, insecure) in [(&trusting, false), (&untrusting, true)] {
        let source = image_source(&tag_ref, Some("good"), insecure);
        let (ws, result) = pull(sources, &source, &objects).await;
        assert_eq!(result.unwrap(), pinned(&digest_ref));
        assert_eq!(ws.files(), bundle_files);
    }

    let refused = format!("unauthorized: registry {host} refused access");
    let cases = [
        (
            &trusting,
            Some("wrong"),
            refused.as_str(),
            "credentials for",
        ),
        (&trusting, None, &refused, "no credentials are configured"),
        (
            &trusting,
            Some("absent"),
            "secret rukpak-system/absent (named in bundle.spec.source.image.pullSecret) was not found",
            "",
        ),
        (
            &trusting,
            Some("opaque"),
            "pull secret rukpak-system/opaque is unusable: ",
            "neither a .dockerconfigjson nor a .dockercfg key",
        ),
        // Without the registry's CA, only a Bundle that skips verification gets through.
        (
            &untrusting,
            Some("good"),
            &format!("TLS verification failed for registry {host}"),
            "",
        ),
    ];
    for (sources, secret, prefix, part) in cases {
        let source = image_source(&tag_ref, secret, false);
        assert_fails(sources, &source, &objects, prefix, part).await;
    }
}
