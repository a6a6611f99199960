//! The admission webhooks registered with the real API server, driven with `kubectl` as
//! users drive them, and the built-in CA that secures them.

use std::process::Output;
use std::time::Duration;

use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, DeleteParams, PostParams};
use olm_api::Bundle;

use crate::support::{self, Rukpak, Setup};

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// seed-examples.md §3: the documented exchange, word for word. The Bundle comes from a
/// local git server holding the combo bundle of the corpus.
#[tokio::test(flavor = "multi_thread")]
async fn changing_a_bundles_spec_is_refused_with_the_documented_message() {
    let Some(cluster) = support::cluster().await else {
        return;
    };
    let repos = tempfile::tempdir().unwrap();
    let (_repo, commit) = support::plain_bundle_repo(repos.path(), "combo-v0.0.2", "v0.0.2");
    let daemon = testenv::git::GitDaemon::start(repos.path()).await.unwrap();
    let rukpak = Rukpak::start(&cluster, Setup::new()).await;

    let manifest = format!(
        "apiVersion: core.rukpak.io/v1alpha1
kind: Bundle
metadata:
  name: combo-tag-ref
  labels:
    olmrs-test: {label}
spec:
  provisionerClassName: core-rukpak-io-plain
  source:
    type: git
    git:
      repository: {url}
      ref:
        tag: v0.0.2
",
        label = rukpak.label,
        url = daemon.url_for("repo"),
    );
    let out = cluster.kubectl_stdin(&["apply", "-f", "-"], &manifest);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "bundle.core.rukpak.io/combo-tag-ref created\n"
    );
    let bundles: Api<Bundle> = Api::all(cluster.client());
    let b = support::wait_for(&bundles, "combo-tag-ref", "Unpacked", |b| {
        support::phase(b) == Some("Unpacked")
    })
    .await;
    let resolved = b.status.as_ref().unwrap().resolved_source.as_ref().unwrap();
    assert_eq!(
        resolved.git.as_ref().unwrap().ref_.commit.as_deref(),
        Some(commit.as_str())
    );

    let out = cluster
        .kubectl()
        .args([
            "patch",
            "bundle",
            "combo-tag-ref",
            "--type=merge",
            "-p",
            r#"{"spec":{"source":{"git":{"ref":{"tag":"v0.0.3"}}}}}"#,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "Error from server (bundle.spec is immutable): admission webhook \"vbundles.core.rukpak.io\" denied the request: bundle.spec is immutable\n"
    );
    // Metadata stays mutable.
    let out = cluster
        .kubectl()
        .args(["label", "bundle", "combo-tag-ref", "team=a"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));

    bundles
        .delete("combo-tag-ref", &DeleteParams::default())
        .await
        .unwrap();
    rukpak.stop().await;
}

/// Checks the API server's own schema cannot make: a path outside the bundle root and a
/// mutable ConfigMap, aggregated into one message.
#[tokio::test(flavor = "multi_thread")]
async fn config_map_sources_are_checked_on_create() {
    let Some(cluster) = support::cluster().await else {
        return;
    };
    let rukpak = Rukpak::start(&cluster, Setup::new()).await;
    let cms: Api<ConfigMap> = Api::namespaced(cluster.client(), &rukpak.namespace);
    cms.create(&PostParams::default(), &config_map("mutable", false))
        .await
        .unwrap();
    let name = testenv::unique_name("cmb");
    let manifest = format!(
        "apiVersion: core.rukpak.io/v1alpha1
kind: Bundle
metadata:
  name: {name}
  labels:
    olmrs-test: {label}
spec:
  provisionerClassName: core-rukpak-io-plain
  source:
    type: configMaps
    configMaps:
    - configMap: {{name: mutable}}
      path: ../outside
",
        label = rukpak.label,
    );
    let out = cluster.kubectl_stdin(&["create", "-f", "-"], &manifest);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        format!(
            "Error from server ([bundle.spec.source.configmaps[0].path is invalid: \"../outside\" is outside bundle root, \
bundle.spec.source.configmaps[0].configmap.name is invalid: configmap \"mutable\" is not immutable]): \
error when creating \"STDIN\": admission webhook \"vbundles.core.rukpak.io\" denied the request: \
[bundle.spec.source.configmaps[0].path is invalid: \"../outside\" is outside bundle root, \
bundle.spec.source.configmaps[0].configmap.name is invalid: configmap \"mutable\" is not immutable]\n"
        )
    );
    rukpak.stop().await;
}

fn config_map(name: &str, immutable: bool) -> ConfigMap {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name},
        "immutable": immutable,
        "data": {format!("{name}.yaml"): "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: from-cm\n"},
    }))
    .unwrap()
}

/// `vconfigmaps.core.rukpak.io`: ConfigMaps a Bundle uses can be neither deleted nor
/// created mutable.
#[tokio::test(flavor = "multi_thread")]
async fn config_maps_in_use_are_protected() {
    let Some(cluster) = support::cluster().await else {
        return;
    };
    let rukpak = Rukpak::start(&cluster, Setup::new()).await;
    let cms: Api<ConfigMap> = Api::namespaced(cluster.client(), &rukpak.namespace);
    // The webhook matches ConfigMaps by name across all Bundles, as upstream: unique names.
    let (used, later) = (testenv::unique_name("used"), testenv::unique_name("later"));
    cms.create(&PostParams::default(), &config_map(&used, true))
        .await
        .unwrap();
    let bundles: Api<Bundle> = Api::all(cluster.client());
    let name = testenv::unique_name("cmb");
    let bundle: Bundle = serde_json::from_value(serde_json::json!({
        "apiVersion": "core.rukpak.io/v1alpha1",
        "kind": "Bundle",
        "metadata": {"name": name},
        "spec": {
            "provisionerClassName": "core-rukpak-io-plain",
            "source": {"type": "configMaps", "configMaps": [
                {"configMap": {"name": used}, "path": "manifests"},
                {"configMap": {"name": later}, "path": "manifests"},
            ]},
        },
    }))
    .unwrap();
    bundles
        .create(&PostParams::default(), &rukpak.labelled(bundle))
        .await
        .unwrap();

    let err = cms
        .delete(&used, &DeleteParams::default())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains(&format!(
            "admission webhook \"vconfigmaps.core.rukpak.io\" denied the request: configmap \"{used}\" is in-use by bundle \"{name}\""
        )),
        "{err}"
    );
    let err = cms
        .create(&PostParams::default(), &config_map(&later, false))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains(&format!(
            "configmap \"{later}\" is referenced in .spec.source.configMaps[].configMap.name by bundles [{name}]; referenced configmaps must have .immutable == true"
        )),
        "{err}"
    );
    cms.create(&PostParams::default(), &config_map(&later, true))
        .await
        .expect("an immutable ConfigMap is fine");
    let b = support::wait_for(&bundles, &name, "Unpacked", |b| {
        support::phase(b) == Some("Unpacked")
    })
    .await;
    assert_eq!(
        support::unpacked(&b).unwrap().1,
        "Successfully unpacked the configMaps Bundle"
    );

    bundles
        .delete(&name, &DeleteParams::default())
        .await
        .unwrap();
    // Once the Bundle is gone the ConfigMap is free.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while bundles.get_opt(&name).await.unwrap().is_some() {
        assert!(tokio::time::Instant::now() < deadline, "Bundle not deleted");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    cms.delete(&used, &DeleteParams::default()).await.unwrap();
    rukpak.stop().await;
}

/// The built-in CA: the certificate lives in a Secret, is renewed before it expires, the
/// listeners switch to the new one without a restart, and `caBundle` stays current.
#[tokio::test(flavor = "multi_thread")]
async fn the_serving_certificate_is_renewed_and_reloaded() {
    let Some(cluster) = support::cluster().await else {
        return;
    };
    let mut setup = Setup::new();
    setup.cert_validity = Duration::from_secs(9);
    setup.cert_check_interval = Duration::from_secs(1);
    let rukpak = Rukpak::start(&cluster, setup).await;
    let secrets: Api<Secret> = Api::namespaced(cluster.client(), &rukpak.namespace);
    let cert_of = |s: &Secret| s.data.as_ref().unwrap()["tls.crt"].0.clone();
    let first = cert_of(&secrets.get("rukpak-tls").await.unwrap());

    let vwcs: Api<ValidatingWebhookConfiguration> = Api::all(cluster.client());
    let vwc = vwcs.get(&rukpak.webhook_configuration).await.unwrap();
    let ca = rukpak.certificate.ca_pem().into_bytes();
    for hook in vwc.webhooks.unwrap() {
        assert_eq!(hook.client_config.ca_bundle.unwrap().0, ca);
    }

    // Renewal is due with a third of 9 s left: within about 6 s.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let renewed = loop {
        let now = cert_of(&secrets.get("rukpak-tls").await.unwrap());
        if now != first {
            break now;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "certificate not renewed"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_ne!(renewed, first);
    tokio::time::sleep(Duration::from_secs(2)).await;
    // The same CA is still trusted, and the API server still reaches the webhook.
    let client = support::https_client(&rukpak.certificate.ca_pem());
    let resp = client
        .get(format!("{}/bundles/none.tgz", rukpak.content_url))
        .send()
        .await
        .expect("TLS with the renewed certificate");
    assert_eq!(resp.status(), 404);
    let out = cluster
        .kubectl()
        .args(["create", "configmap", "probe", "-n", &rukpak.namespace])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    rukpak.stop().await;
}
