//! The Bundle controller against the real API server, with real sources: git over
//! `file://`, an image in Debian's docker-registry, ConfigMaps and uploads.

use std::time::Duration;

use kube::api::{Api, DeleteParams, PostParams};
use olm_api::Bundle;

use crate::support::{self, Rukpak, Setup};

fn bundle(name: &str, class: &str, source: serde_json::Value) -> Bundle {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "core.rukpak.io/v1alpha1",
        "kind": "Bundle",
        "metadata": {"name": name},
        "spec": {"provisionerClassName": class, "source": source},
    }))
    .unwrap()
}

fn git_source(url: &str, reference: serde_json::Value) -> serde_json::Value {
    serde_json::json!({"type": "git", "git": {"repository": url, "ref": reference}})
}

async fn create(api: &Api<Bundle>, rukpak: &Rukpak, b: Bundle) -> String {
    let name = b.metadata.name.clone().unwrap();
    api.create(&PostParams::default(), &rukpak.labelled(b))
        .await
        .expect("Bundle created");
    name
}

async fn wait_gone(api: &Api<Bundle>, name: &str) {
    api.delete(name, &DeleteParams::default()).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while api.get_opt(name).await.unwrap().is_some() {
        assert!(tokio::time::Instant::now() < deadline, "{name} not deleted");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A git Bundle unpacks, pins its commit, is served at its contentURL, does not follow its
/// branch, and its content goes with it.
#[tokio::test(flavor = "multi_thread")]
async fn a_git_bundle_is_pinned_served_and_removed_with_its_object() {
    let Some(cluster) = support::cluster().await else {
        return;
    };
    let repos = tempfile::tempdir().unwrap();
    let (repo, commit) = support::plain_bundle_repo(repos.path(), "combo-v0.0.2", "v0.0.2");
    let rukpak = Rukpak::start(&cluster, Setup::new()).await;
    let bundles: Api<Bundle> = Api::all(cluster.client());
    let name = create(
        &bundles,
        &rukpak,
        bundle(
            &testenv::unique_name("git"),
            "core-rukpak-io-plain",
            git_source(&repo.file_url(), serde_json::json!({"branch": "main"})),
        ),
    )
    .await;
    let b = support::wait_for(&bundles, &name, "Unpacked", |b| {
        support::phase(b) == Some("Unpacked")
    })
    .await;
    let status = b.status.clone().unwrap();
    assert_eq!(
        support::unpacked(&b).unwrap(),
        (
            "UnpackSuccessful".into(),
            "Successfully unpacked the git Bundle".into()
        )
    );
    let pinned = status.resolved_source.unwrap().git.unwrap();
    assert_eq!(pinned.ref_.commit.as_deref(), Some(commit.as_str()));
    assert_eq!(pinned.ref_.branch, None);
    assert_eq!(status.observed_generation, Some(1));
    let url = status.content_url.unwrap();
    assert_eq!(url, format!("{}/bundles/{name}.tgz", rukpak.content_url));
    assert!(
        b.metadata
            .finalizers
            .unwrap_or_default()
            .contains(&"core.rukpak.io/delete-cached-bundle".to_owned())
    );

    let client = support::https_client(&rukpak.certificate.ca_pem());
    let body = client
        .get(&url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let mut files = Vec::new();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(&body[..]));
    for entry in archive.entries().unwrap() {
        files.push(
            entry
                .unwrap()
                .path()
                .unwrap()
                .to_string_lossy()
                .into_owned(),
        );
    }
    assert!(files.contains(&"manifests".to_owned()), "{files:?}");
    assert!(
        files.iter().filter(|f| f.ends_with(".yaml")).count() >= 7,
        "{files:?}"
    );

    // The branch moves; the unpacked Bundle does not follow it.
    repo.commit_files(
        &[(
            "manifests/extra.yaml",
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: extra}\n",
        )],
        "more",
    )
    .unwrap();
    bundles
        .patch_metadata(
            &name,
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(
                serde_json::json!({"metadata": {"annotations": {"poke": "1"}}}),
            ),
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let b = bundles.get(&name).await.unwrap();
    let still = b.status.unwrap().resolved_source.unwrap().git.unwrap();
    assert_eq!(still.ref_.commit.as_deref(), Some(commit.as_str()));

    wait_gone(&bundles, &name).await;
    assert_eq!(rukpak.store.current(&name).unwrap(), None);
    rukpak.stop().await;
}

/// What a user gets wrong shows in the `Unpacked` condition, naming the cause.
#[tokio::test(flavor = "multi_thread")]
async fn bad_content_and_missing_sources_fail_with_specific_messages() {
    let Some(cluster) = support::cluster().await else {
        return;
    };
    let repos = tempfile::tempdir().unwrap();
    let (repo, _) = support::plain_bundle_repo(repos.path(), "combo-v0.0.2", "v0.0.2");
    repo.commit_files(
        &[("nested/manifests/sub/ns.yaml", "kind: Namespace\n")],
        "nested",
    )
    .unwrap();
    repo.commit_files(&[("empty/manifests/.keep", "")], "empty")
        .unwrap();
    let rukpak = Rukpak::start(&cluster, Setup::new()).await;
    let bundles: Api<Bundle> = Api::all(cluster.client());
    let url = repo.file_url();
    let cases = [
        (
            git_source(&url, serde_json::json!({"tag": "v9.9.9"})),
            "source bundle content: ",
        ),
        (
            serde_json::json!({"type": "git", "git": {"repository": url, "directory": "nested", "ref": {"branch": "main"}}}),
            "subdirectories are not allowed within the \"manifests\" directory of the bundle image filesystem: found \"manifests/sub\"",
        ),
        (
            serde_json::json!({"type": "git", "git": {"repository": url, "directory": "empty", "ref": {"branch": "main"}}}),
            "invalid bundle: found zero objects: plain+v0 bundles are required to contain at least one object",
        ),
        (
            serde_json::json!({"type": "configMaps", "configMaps": [{"configMap": {"name": "non-exist"}}]}),
            "source bundle content: get configmap",
        ),
    ];
    let mut names = Vec::new();
    for (source, _) in &cases {
        names.push(
            create(
                &bundles,
                &rukpak,
                bundle(
                    &testenv::unique_name("bad"),
                    "core-rukpak-io-plain",
                    source.clone(),
                ),
            )
            .await,
        );
    }
    for (name, (_, expected)) in names.iter().zip(&cases) {
        let b = support::wait_for(&bundles, name, "Failing", |b| {
            support::phase(b) == Some("Failing")
        })
        .await;
        let (reason, message) = support::unpacked(&b).unwrap();
        assert_eq!(reason, "UnpackFailed");
        assert!(
            message.contains(expected),
            "{name}: {message:?} lacks {expected:?}"
        );
        assert_eq!(b.status.unwrap().content_url, None);
    }
    for name in &names {
        wait_gone(&bundles, name).await;
    }
    rukpak.stop().await;
}

/// A Bundle of a class no running provisioner handles keeps an empty status, as upstream.
#[tokio::test(flavor = "multi_thread")]
async fn bundles_of_other_provisioners_are_left_alone() {
    let Some(cluster) = support::cluster().await else {
        return;
    };
    let rukpak = Rukpak::start(&cluster, Setup::new()).await;
    let bundles: Api<Bundle> = Api::all(cluster.client());
    let name = create(
        &bundles,
        &rukpak,
        bundle(
            &testenv::unique_name("other"),
            "non-existent-provisioner",
            git_source(
                "https://example.invalid/x",
                serde_json::json!({"tag": "v1"}),
            ),
        ),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let b = bundles.get(&name).await.unwrap();
    assert_eq!(b.status, None);
    assert_eq!(b.metadata.finalizers, None);
    bundles
        .delete(&name, &DeleteParams::default())
        .await
        .unwrap();
    rukpak.stop().await;
}

/// An image Bundle of the registry provisioner: a corpus bundle pushed to a real registry,
/// pinned to its digest.
#[tokio::test(flavor = "multi_thread")]
async fn an_image_bundle_is_pinned_to_its_digest() {
    let Some(env) = testenv::RegistryEnv::start().await else {
        return;
    };
    let Some(cluster) = support::cluster().await else {
        return;
    };
    let pushed = env.push_bundle("kube-green", "0.7.0").await;
    let rukpak = Rukpak::start(&cluster, Setup::new()).await;
    let bundles: Api<Bundle> = Api::all(cluster.client());
    let name = create(
        &bundles,
        &rukpak,
        bundle(
            &testenv::unique_name("img"),
            "core-rukpak-io-registry",
            serde_json::json!({"type": "image", "image": {"ref": pushed.tag_ref}}),
        ),
    )
    .await;
    let b = support::wait_for(&bundles, &name, "Unpacked", |b| {
        support::phase(b) == Some("Unpacked")
    })
    .await;
    let resolved = b.status.unwrap().resolved_source.unwrap().image.unwrap();
    assert_eq!(resolved.ref_, pushed.digest_ref);
    assert_eq!(resolved.pull_secret, None);
    wait_gone(&bundles, &name).await;
    rukpak.stop().await;
}

/// Content lost from the store (an emptyDir after a restart) is unpacked again from the
/// pinned commit, not from the branch, which has moved on.
#[tokio::test(flavor = "multi_thread")]
async fn lost_content_comes_back_from_the_pinned_commit() {
    let Some(cluster) = support::cluster().await else {
        return;
    };
    let repos = tempfile::tempdir().unwrap();
    let (repo, commit) = support::plain_bundle_repo(repos.path(), "combo-v0.0.2", "v0.0.2");
    let bundles: Api<Bundle> = Api::all(cluster.client());
    let setup = Setup::new();
    let label = setup.label.clone();
    let first = Rukpak::start(&cluster, setup).await;
    let name = create(
        &bundles,
        &first,
        bundle(
            &testenv::unique_name("lost"),
            "core-rukpak-io-plain",
            git_source(&repo.file_url(), serde_json::json!({"branch": "main"})),
        ),
    )
    .await;
    support::wait_for(&bundles, &name, "Unpacked", |b| {
        support::phase(b) == Some("Unpacked")
    })
    .await;
    first.stop().await;

    repo.commit_files(
        &[(
            "manifests/extra.yaml",
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: extra}\n",
        )],
        "moved",
    )
    .unwrap();
    // A new process with empty storage, for the same Bundles.
    let mut setup = Setup::new();
    setup.label = label;
    let second = Rukpak::start(&cluster, setup).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let stored = loop {
        if let Some(s) = second.store.current(&name).unwrap() {
            break s;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "content not restored"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        stored.resolved_source.git.unwrap().ref_.commit.as_deref(),
        Some(commit.as_str())
    );
    // Status follows the store (the record is written first).
    support::wait_for(&bundles, &name, "status naming the new server", |b| {
        support::phase(b) == Some("Unpacked")
            && b.status
                .as_ref()
                .and_then(|s| s.content_url.as_deref())
                .is_some_and(|u| u.starts_with(&second.content_url))
    })
    .await;
    wait_gone(&bundles, &name).await;
    second.stop().await;
}

/// A registry+v1 bundle that converts in no install mode can never be installed: it fails
/// at unpack with the conversion's error (here a CSV that supports no install mode at all).
#[tokio::test(flavor = "multi_thread")]
async fn a_registry_bundle_that_converts_in_no_install_mode_fails_to_unpack() {
    let Some(cluster) = support::cluster().await else {
        return;
    };
    let rukpak = Rukpak::start(&cluster, Setup::new()).await;
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("bundle");
    testenv::fixtures::copy_dir(
        &support::corpus().join("bundles/trident-operator/24.10.0"),
        &dir,
    );
    let csv = dir.join("manifests/trident-operator.v24.10.0.clusterserviceversion.yaml");
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(text.contains("supported: true"));
    std::fs::write(&csv, text.replace("supported: true", "supported: false")).unwrap();
    let source =
        support::registry_bundle_config_maps(&cluster.client(), &rukpak.namespace, &dir).await;
    let bundles: Api<Bundle> = Api::all(cluster.client());
    let name = create(
        &bundles,
        &rukpak,
        bundle(
            &testenv::unique_name("no-mode"),
            "core-rukpak-io-registry",
            source,
        ),
    )
    .await;
    let b = support::wait_for(&bundles, &name, "Failing", |b| {
        support::phase(b) == Some("Failing")
    })
    .await;
    let (reason, message) = support::unpacked(&b).unwrap();
    assert_eq!(reason, "UnpackFailed");
    assert!(
        message
            .starts_with("convert registry+v1 bundle: supported install modes [] do not support"),
        "{message}"
    );
    rukpak.stop().await;
}
