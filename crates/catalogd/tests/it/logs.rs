//! The catalogd binary's log: one line per unpack outcome, no colour when stderr is not a
//! terminal, and `--log-format json`.

use std::process::{Child, Command, Stdio};

use kube::api::Api;
use oci::ImageStore;
use olm_api::catalog::Catalog;

use crate::support::{
    self, corpus, phase, plain_options, push_catalog, start_registry, unpacked_reason,
};

/// The catalogd binary on loopback, for the Catalogs labelled `olmrs-test=<label>`.
fn spawn_catalogd(
    cluster: &testenv::Cluster,
    namespace: &str,
    label: &str,
    storage: &std::path::Path,
    log_format: &str,
) -> Child {
    Command::new(env!("CARGO_BIN_EXE_catalogd"))
        .args(["--namespace", namespace, "--registry-use-http"])
        .args(["--catalog-selector", &format!("olmrs-test={label}")])
        .args(["--catalogs-server-addr", "127.0.0.1:0"])
        .args(["--metrics-bind-address", "127.0.0.1:0"])
        .args(["--health-probe-bind-address", "127.0.0.1:0"])
        .args(["--log-format", log_format])
        .arg("--storage-dir")
        .arg(storage)
        .env("KUBECONFIG", cluster.kubeconfig())
        .env_remove("RUST_LOG")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("catalogd starts")
}

/// Stops catalogd (SIGKILL: its log so far is complete) and returns its stderr.
fn stop(mut child: Child) -> String {
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stderr).unwrap()
}

/// One good and one missing image, unpacked by a catalogd logging in `log_format`; returns
/// its stderr, the two Catalogs' names and the good image's digest.
async fn unpack_two(log_format: &str) -> Option<(String, String, String, String)> {
    let registry = start_registry().await?;
    let label = testenv::unique_name("logs");
    let cluster = support::cluster_with_namespace(&label).await?;
    let storage = tempfile::tempdir().unwrap();
    let pusher = ImageStore::new(storage.path().join("pusher"), plain_options()).unwrap();
    let catalog_dir = corpus().join("catalogs/v4.15/kube-green");
    let digest = push_catalog(&registry, &pusher, &catalog_dir, "v1").await;

    let child = spawn_catalogd(
        &cluster,
        &label,
        &label,
        &storage.path().join("catalogd"),
        log_format,
    );
    let api: Api<Catalog> = Api::all(cluster.client());
    let good = format!("{}/catalogs/test:v1", registry.host_port());
    let missing = format!("{}/catalogs/test:missing", registry.host_port());
    let good =
        support::create_catalog(&api, &support::new_catalog(&label, &good, None, None)).await;
    let bad =
        support::create_catalog(&api, &support::new_catalog(&label, &missing, None, None)).await;
    support::wait_for(&api, &good, "Unpacked", |c| phase(c) == Some("Unpacked")).await;
    support::wait_for(&api, &bad, "ImageNotFound", |c| {
        unpacked_reason(c) == Some("ImageNotFound")
    })
    .await;
    // The log line is written before the status; give it a moment to reach the pipe.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    Some((stop(child), good, bad, digest))
}

#[tokio::test]
async fn text_log_names_each_outcome_without_colour() {
    let Some((log, good, bad, digest)) = unpack_two("text").await else {
        return;
    };
    assert!(
        !log.contains('\u{1b}'),
        "ANSI escapes in a piped log:\n{log}"
    );
    assert!(
        log.lines().any(
            |l| l.contains(&format!("catalog {good}: unpacked {digest} in "))
                && l.contains(&format!("digest=\"{digest}\""))
        ),
        "{log}"
    );
    assert!(
        log.lines().any(
            |l| l.contains(&format!("catalog {bad}: unpack failed after "))
                && l.contains("manifest unknown")
                && l.contains("(ImageNotFound)")
        ),
        "{log}"
    );
}

#[tokio::test]
async fn json_log_is_one_object_per_line() {
    let Some((log, good, bad, digest)) = unpack_two("json").await else {
        return;
    };
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let message = |l: &serde_json::Value| l["fields"]["message"].as_str().unwrap_or("").to_owned();
    let unpacked = lines
        .iter()
        .find(|l| message(l).starts_with(&format!("catalog {good}: unpacked ")))
        .unwrap_or_else(|| panic!("no unpacked line:\n{log}"));
    assert_eq!(unpacked["level"], "INFO");
    assert_eq!(unpacked["fields"]["digest"], digest.as_str());
    assert!(unpacked["fields"]["took_ms"].is_u64(), "{unpacked}");
    let failed = lines
        .iter()
        .find(|l| message(l).starts_with(&format!("catalog {bad}: unpack failed ")))
        .unwrap_or_else(|| panic!("no failure line:\n{log}"));
    assert_eq!(failed["level"], "WARN");
    assert_eq!(failed["fields"]["reason"], "ImageNotFound");
}
