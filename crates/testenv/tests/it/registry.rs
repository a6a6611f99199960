//! The loopback registry serves real traffic: images written as OCI layouts are pushed with
//! skopeo and read back, and the TLS registry refuses anonymous clients.

use std::path::Path;
use std::process::Output;

use testenv::registry::{
    Credentials, OciLayoutImage, Registry, require_binaries, run_command, write_oci_layout,
};

fn sample_image(dir: &Path) -> OciLayoutImage {
    write_oci_layout(
        dir,
        "v1",
        &[
            (
                "configs/catalog.json",
                br#"{"schema":"olm.package","name":"demo"}"#,
            ),
            ("README", b"demo catalog\n"),
        ],
        &[(
            "operators.operatorframework.io.index.configs.v1",
            "/configs",
        )],
    )
    .expect("writing OCI layout")
}

/// Parses `skopeo inspect` output and checks it describes `image`.
fn assert_inspect_matches(stdout: &str, image: &OciLayoutImage) {
    let inspect: serde_json::Value = serde_json::from_str(stdout).expect("inspect JSON");
    assert_eq!(
        inspect["Digest"],
        image.manifest_digest.as_str(),
        "{inspect}"
    );
    assert_eq!(
        inspect["Labels"]["operators.operatorframework.io.index.configs.v1"], "/configs",
        "{inspect}"
    );
    assert_eq!(
        inspect["Layers"][0],
        image.layer_digest.as_str(),
        "{inspect}"
    );
}

fn assert_unauthorized(out: &Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "expected failure, got success");
    assert!(
        stderr.contains("401") || stderr.to_lowercase().contains("unauthorized"),
        "expected an authentication error, got:\n{stderr}"
    );
}

#[test]
fn layout_is_valid_for_skopeo() {
    if !require_binaries(&["skopeo"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let image = sample_image(dir.path());
    let out = run_command(
        std::process::Command::new("skopeo")
            .args(["inspect".into(), format!("oci:{}:v1", dir.path().display())]),
    )
    .expect("skopeo inspect oci:");
    assert_inspect_matches(&out, &image);
    assert!(
        write_oci_layout(dir.path(), "v2", &[], &[]).is_err(),
        "an existing layout must not be overwritten"
    );
}

#[tokio::test]
async fn plain_registry_push_and_inspect() {
    if !require_binaries(&["docker-registry", "skopeo"]) {
        return;
    }
    let registry = Registry::start_plain().await.expect("starting registry");
    assert!(registry.host_port().starts_with("127.0.0.1:"));
    assert!(registry.ca_pem().is_none() && registry.ca_cert_dir().is_none());

    let layout = tempfile::tempdir().unwrap();
    let image = sample_image(layout.path());
    run_command(&mut registry.skopeo_push(layout.path(), "v1", "olm/catalog:v1", None))
        .expect("skopeo push");
    let out = run_command(&mut registry.skopeo_inspect("olm/catalog:v1", None)).expect("inspect");
    assert_inspect_matches(&out, &image);

    // The manifest is also served by digest over the registry API.
    let url = format!(
        "{}/v2/olm/catalog/manifests/{}",
        registry.base_url(),
        image.manifest_digest
    );
    let response = registry
        .http_client()
        .unwrap()
        .get(url)
        .header("Accept", "application/vnd.oci.image.manifest.v1+json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["Docker-Content-Digest"],
        image.manifest_digest.as_str()
    );

    // And copies back to a layout with the same manifest.
    let back = tempfile::tempdir().unwrap();
    run_command(&mut registry.skopeo_pull("olm/catalog:v1", back.path(), "copy", None))
        .expect("skopeo pull");
    let index = std::fs::read_to_string(back.path().join("index.json")).unwrap();
    assert!(index.contains(&image.manifest_digest), "{index}");
    registry.stop();
}

#[tokio::test]
async fn tls_auth_registry_requires_credentials() {
    if !require_binaries(&["docker-registry", "skopeo", "htpasswd"]) {
        return;
    }
    let registry = Registry::start_tls_auth("olm", "s3cret pass")
        .await
        .expect("starting TLS registry");
    let creds = registry.credentials().cloned().expect("credentials");
    assert_eq!(creds, Credentials::new("olm", "s3cret pass"));
    let ca_dir = registry.ca_cert_dir().expect("CA dir");
    let entries: Vec<_> = std::fs::read_dir(&ca_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(entries, ["ca.crt"]);
    assert!(registry.ca_pem().unwrap().contains("BEGIN CERTIFICATE"));

    let layout = tempfile::tempdir().unwrap();
    let image = sample_image(layout.path());

    // Anonymous and wrong-password pushes are refused.
    let out = registry
        .skopeo_push(layout.path(), "v1", "olm/catalog:v1", None)
        .output()
        .unwrap();
    assert_unauthorized(&out);
    let wrong = Credentials::new("olm", "wrong");
    let out = registry
        .skopeo_push(layout.path(), "v1", "olm/catalog:v1", Some(&wrong))
        .output()
        .unwrap();
    assert_unauthorized(&out);

    run_command(&mut registry.skopeo_push(layout.path(), "v1", "olm/catalog:v1", Some(&creds)))
        .expect("skopeo push with credentials");
    let out = run_command(&mut registry.skopeo_inspect("olm/catalog:v1", Some(&creds)))
        .expect("inspect with credentials");
    assert_inspect_matches(&out, &image);

    let out = registry
        .skopeo_inspect("olm/catalog:v1", None)
        .output()
        .unwrap();
    assert_unauthorized(&out);

    // The raw API over HTTPS (trusting only our CA) challenges anonymous clients.
    let response = registry
        .http_client()
        .unwrap()
        .get(format!("{}/v2/", registry.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(response.headers().contains_key("WWW-Authenticate"));
}
