//! The content and upload server with access checked by the real API server: tokens of
//! ServiceAccounts, the `bundle-reader` and `bundle-uploader` rules.

use std::time::Duration;

use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::api::{Api, DeleteParams, PostParams};
use olm_api::Bundle;

use crate::support::{self, Rukpak, Setup};

/// A ServiceAccount bound to a ClusterRole with `rules`; returns a token for it.
async fn account_with(
    cluster: &testenv::Cluster,
    namespace: &str,
    rules: serde_json::Value,
) -> (String, String) {
    let name = testenv::unique_name("sa");
    let client = cluster.client();
    let sa: ServiceAccount =
        serde_json::from_value(serde_json::json!({"metadata": {"name": name}})).unwrap();
    Api::<ServiceAccount>::namespaced(client.clone(), namespace)
        .create(&PostParams::default(), &sa)
        .await
        .unwrap();
    let role: ClusterRole =
        serde_json::from_value(serde_json::json!({"metadata": {"name": name}, "rules": rules}))
            .unwrap();
    Api::<ClusterRole>::all(client.clone())
        .create(&PostParams::default(), &role)
        .await
        .unwrap();
    let binding: ClusterRoleBinding = serde_json::from_value(serde_json::json!({
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
    }))
    .unwrap();
    Api::<ClusterRoleBinding>::all(client)
        .create(&PostParams::default(), &binding)
        .await
        .unwrap();
    let out = cluster
        .kubectl()
        .args(["create", "token", &name, "-n", namespace])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        name,
        String::from_utf8(out.stdout).unwrap().trim().to_owned(),
    )
}

fn combo_tgz() -> Vec<u8> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    builder
        .append_dir_all(".", support::corpus().join("plain/combo-v0.0.2"))
        .unwrap();
    builder.into_inner().unwrap().finish().unwrap()
}

/// `rukpakctl run`'s flow by hand: an upload Bundle waits, the upload is accepted only
/// with the right permission, the Bundle unpacks, and its content is readable only with
/// `get` on `/bundles/*`.
#[tokio::test(flavor = "multi_thread")]
async fn uploads_and_content_need_the_right_permissions() {
    let Some(cluster) = support::cluster().await else {
        return;
    };
    let mut setup = Setup::new();
    setup.check_access = true;
    let rukpak = Rukpak::start(&cluster, setup).await;
    let (_, reader) = account_with(
        &cluster,
        &rukpak.namespace,
        serde_json::json!([{"nonResourceURLs": ["/bundles/*"], "verbs": ["get"]}]),
    )
    .await;
    let (_, uploader) = account_with(
        &cluster,
        &rukpak.namespace,
        serde_json::json!([{"nonResourceURLs": ["/uploads/*"], "verbs": ["update"]}]),
    )
    .await;

    let bundles: Api<Bundle> = Api::all(cluster.client());
    let name = testenv::unique_name("up");
    let bundle: Bundle = serde_json::from_value(serde_json::json!({
        "apiVersion": "core.rukpak.io/v1alpha1",
        "kind": "Bundle",
        "metadata": {"name": name},
        "spec": {"provisionerClassName": "core-rukpak-io-plain", "source": {"type": "upload", "upload": {}}},
    }))
    .unwrap();
    bundles
        .create(&PostParams::default(), &rukpak.labelled(bundle))
        .await
        .unwrap();
    let b = support::wait_for(&bundles, &name, "Pending", |b| {
        support::phase(b) == Some("Pending")
    })
    .await;
    assert_eq!(
        support::unpacked(&b).unwrap(),
        (
            "UnpackPending".into(),
            "waiting for bundle to be uploaded".into()
        )
    );

    let client = support::https_client(&rukpak.certificate.ca_pem());
    let upload_url = format!("{}/uploads/{name}.tgz", rukpak.content_url);
    let put = |token: Option<&str>, body: Vec<u8>| {
        let mut request = client.put(&upload_url).body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    let tgz = combo_tgz();
    assert_eq!(put(None, tgz.clone()).await.unwrap().status(), 401);
    let refused = put(Some(&reader), tgz.clone()).await.unwrap();
    assert_eq!(refused.status(), 403);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .starts_with("Forbidden (user=system:serviceaccount:")
    );
    assert_eq!(
        put(Some(&uploader), tgz.clone()).await.unwrap().status(),
        201
    );

    let b = support::wait_for(&bundles, &name, "Unpacked", |b| {
        support::phase(b) == Some("Unpacked")
    })
    .await;
    assert_eq!(
        support::unpacked(&b).unwrap().1,
        "Successfully unpacked the upload Bundle"
    );
    assert_eq!(
        put(Some(&uploader), tgz.clone()).await.unwrap().status(),
        204
    );
    let changed = put(Some(&uploader), combo_tgz_with_extra()).await.unwrap();
    assert_eq!(changed.status(), 409);
    assert_eq!(
        changed.text().await.unwrap(),
        "bundle has already been unpacked, cannot change content of existing bundle\n"
    );

    let content_url = b.status.unwrap().content_url.unwrap();
    let get = |token: &str| client.get(&content_url).bearer_auth(token).send();
    assert_eq!(get(&uploader).await.unwrap().status(), 403);
    let ok = get(&reader).await.unwrap();
    assert_eq!(ok.status(), 200);
    assert!(ok.headers().contains_key("etag"));
    assert!(!ok.bytes().await.unwrap().is_empty());

    bundles
        .delete(&name, &DeleteParams::default())
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while bundles.get_opt(&name).await.unwrap().is_some() {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(get(&reader).await.unwrap().status(), 404);
    rukpak.stop().await;
}

fn combo_tgz_with_extra() -> Vec<u8> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    builder
        .append_dir_all(".", support::corpus().join("plain/combo-v0.0.2"))
        .unwrap();
    let body = b"apiVersion: v1\nkind: Namespace\nmetadata: {name: extra}\n";
    let mut header = tar::Header::new_gnu();
    header.set_size(body.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    builder
        .append_data(&mut header, "manifests/extra.yaml", &body[..])
        .unwrap();
    builder.into_inner().unwrap().finish().unwrap()
}
