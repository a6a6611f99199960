//! `rukpakctl` as a user runs it, against the real API server and RukPak with access checked:
//! the kubeconfig holds a client certificate, so the CLI mints ServiceAccount tokens bound to
//! the `bundle-reader` and `bundle-uploader` ClusterRoles of deploy/rukpak.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use kube::api::{Api, PostParams};
use olm_api::{Bundle, BundleDeployment};

use crate::support::{self, Rukpak, Setup};

fn rukpakctl(cluster: &testenv::Cluster, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rukpakctl"));
    cmd.args(args).env("KUBECONFIG", cluster.kubeconfig());
    cmd
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_success(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn assert_failure(out: &Output, stderr: &str) {
    assert_eq!(out.status.code(), Some(1), "stdout: {}", text(&out.stdout));
    assert_eq!(text(&out.stderr).trim_end(), stderr);
}

/// The two ClusterRoles of deploy/rukpak/rbac.yaml the CLI binds its ServiceAccount to.
fn apply_bundle_roles(cluster: &testenv::Cluster) {
    let rbac =
        std::fs::read_to_string(support::workspace().join("deploy/rukpak/rbac.yaml")).unwrap();
    let roles: Vec<&str> = rbac
        .split("\n---\n")
        .filter(|doc| {
            doc.contains("kind: ClusterRole\n")
                && (doc.contains("name: bundle-reader\n")
                    || doc.contains("name: bundle-uploader\n"))
        })
        .collect();
    assert_eq!(roles.len(), 2, "deploy/rukpak/rbac.yaml has both roles");
    let out = cluster.kubectl_stdin(
        &["apply", "--server-side", "-f", "-"],
        &roles.join("\n---\n"),
    );
    assert_success(&out);
}

/// `tar tzv`-style lines → the listed paths of regular files.
fn listed_files(listing: &str) -> BTreeSet<String> {
    listing
        .lines()
        .filter(|l| l.starts_with('-'))
        .map(|l| {
            l.rsplit(' ')
                .next()
                .unwrap()
                .trim_start_matches("./")
                .to_owned()
        })
        .collect()
}

fn files_under(dir: &Path) -> BTreeSet<String> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().strip_prefix(dir).unwrap().display().to_string())
        .collect()
}

async fn start() -> Option<(testenv::Cluster, Rukpak)> {
    let cluster = support::cluster().await?;
    apply_bundle_roles(&cluster);
    let rukpak = Rukpak::start(
        &cluster,
        Setup {
            check_access: true,
            ..Setup::new()
        },
    )
    .await;
    Some((cluster, rukpak))
}

/// `content` lists an unpacked Bundle's files, and says why it cannot for a missing or a
/// pending Bundle.
#[tokio::test(flavor = "multi_thread")]
async fn content_lists_the_files_of_an_unpacked_bundle() {
    let Some((cluster, rukpak)) = start().await else {
        return;
    };
    let repos = tempfile::tempdir().unwrap();
    let (repo, _) = support::plain_bundle_repo(repos.path(), "combo-v0.0.2", "v0.0.2");
    let bundles: Api<Bundle> = Api::all(cluster.client());
    let name = testenv::unique_name("ctl-git");
    let git: Bundle = serde_json::from_value(serde_json::json!({
        "metadata": {"name": name},
        "spec": {"provisionerClassName": "core-rukpak-io-plain", "source":
            {"type": "git", "git": {"repository": repo.file_url(), "ref": {"tag": "v0.0.2"}}}},
    }))
    .unwrap();
    bundles
        .create(&PostParams::default(), &rukpak.labelled(git))
        .await
        .unwrap();
    support::wait_for(&bundles, &name, "Unpacked", |b| {
        support::phase(b) == Some("Unpacked")
    })
    .await;

    let ns = rukpak.namespace.clone();
    let out = rukpakctl(&cluster, &["content", &name, "--namespace", &ns])
        .output()
        .unwrap();
    let listing = assert_success(&out);
    assert_eq!(
        listed_files(&listing),
        files_under(&support::corpus().join("plain/combo-v0.0.2"))
    );

    let out = rukpakctl(&cluster, &["content", "absent", "--namespace", &ns])
        .output()
        .unwrap();
    assert_failure(&out, r#"Error: bundle "absent" not found"#);

    let pending = testenv::unique_name("ctl-pending");
    let upload: Bundle = serde_json::from_value(serde_json::json!({
        "metadata": {"name": pending},
        "spec": {"provisionerClassName": "core-rukpak-io-plain", "source": {"type": "upload", "upload": {}}},
    }))
    .unwrap();
    bundles
        .create(&PostParams::default(), &rukpak.labelled(upload))
        .await
        .unwrap();
    support::wait_for(&bundles, &pending, "Pending", |b| {
        support::phase(b) == Some("Pending")
    })
    .await;
    let out = rukpakctl(&cluster, &["content", &pending, "--namespace", &ns])
        .output()
        .unwrap();
    assert_failure(
        &out,
        &format!(
            r#"Error: bundle "{pending}" has no content URL yet (phase "Pending"); wait until it is Unpacked"#
        ),
    );
    rukpak.stop().await;
}

/// Creates the BundleDeployment `run` will apply, labelled for this test's controllers (the
/// labels survive `run`'s server-side apply, which owns only its own fields).
async fn labelled_upload_deployment(rukpak: &Rukpak, client: &kube::Client, name: &str) {
    let bd: BundleDeployment = serde_json::from_value(serde_json::json!({
        "metadata": {"name": name, "labels": {"olmrs-test": rukpak.label}},
        "spec": {
            "provisionerClassName": "core-rukpak-io-plain",
            "template": {
                "metadata": {"labels": {"olmrs-test": rukpak.label}},
                "spec": {"provisionerClassName": "core-rukpak-io-plain",
                         "source": {"type": "upload", "upload": {}}},
            },
        },
    }))
    .unwrap();
    Api::<BundleDeployment>::all(client.clone())
        .create(&PostParams::default(), &bd)
        .await
        .unwrap();
}

/// A bundle directory of one ConfigMap in `namespace`, with `value` in its data.
fn config_map_bundle(dir: &Path, namespace: &str, value: &str) {
    std::fs::create_dir_all(dir.join("manifests")).unwrap();
    std::fs::write(
        dir.join("manifests/cm.yaml"),
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-rukpakctl\n  namespace: {namespace}\ndata:\n  value: {value}\n"),
    )
    .unwrap();
}

/// `run` applies the BundleDeployment, waits for the Bundle its controller generates,
/// uploads the directory through `--address` (the certificate checked for the upload
/// Service's name), says when the content is already there, and pivots when it changes;
/// the BundleDeployment installs what was uploaded.
#[tokio::test(flavor = "multi_thread")]
async fn run_uploads_the_directory_to_the_bundle_of_its_bundle_deployment() {
    let Some((cluster, rukpak)) = start().await else {
        return;
    };
    let client = cluster.client();
    let bd = testenv::unique_name("ctl-run");
    labelled_upload_deployment(&rukpak, &client, &bd).await;
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("bundle");
    config_map_bundle(&dir, &rukpak.namespace, "one");
    let address = rukpak.content_url.trim_start_matches("https://").to_owned();
    let ns = rukpak.namespace.clone();
    let run = || {
        let mut cmd = rukpakctl(&cluster, &["run", &bd]);
        cmd.arg(&dir).args([
            "--system-namespace",
            &ns,
            "--address",
            &address,
            "--timeout",
            "60",
        ]);
        cmd.output().unwrap()
    };
    let uploaded = |out: &Output| {
        let stdout = assert_success(out);
        let applied = format!("bundledeployment.core.rukpak.io \"{bd}\" applied\n");
        let rest = stdout
            .strip_prefix(&applied)
            .unwrap_or_else(|| panic!("{stdout}"));
        rest.strip_prefix("successfully uploaded bundle content for \"")
            .and_then(|r| r.strip_suffix("\"\n"))
            .unwrap_or_else(|| panic!("{stdout}"))
            .to_owned()
    };

    let first = uploaded(&tokio::task::block_in_place(run));
    let config_maps: Api<k8s_openapi::api::core::v1::ConfigMap> =
        Api::namespaced(client.clone(), &ns);
    let installed = |value: &'static str| {
        let config_maps = config_maps.clone();
        async move {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
            loop {
                let cm = config_maps.get_opt("from-rukpakctl").await.unwrap();
                if cm
                    .and_then(|c| c.data)
                    .and_then(|d| d.get("value").cloned())
                    .as_deref()
                    == Some(value)
                {
                    return;
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "the ConfigMap never held {value}"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    installed("one").await;

    let out = tokio::task::block_in_place(run);
    assert_eq!(
        assert_success(&out),
        format!(
            "bundledeployment.core.rukpak.io \"{bd}\" applied\nbundle \"{first}\" is already up-to-date\n"
        )
    );
    let out = rukpakctl(&cluster, &["content", &first, "--namespace", &ns])
        .output()
        .unwrap();
    assert_eq!(listed_files(&assert_success(&out)), files_under(&dir));

    config_map_bundle(&dir, &ns, "two");
    let second = uploaded(&tokio::task::block_in_place(run));
    assert_ne!(first, second, "changed files make a new Bundle");
    installed("two").await;
    rukpak.stop().await;
}

/// Without a BundleDeployment controller the Bundle never appears: `run` says so and which
/// provisioner class it waited for, instead of hanging.
#[tokio::test(flavor = "multi_thread")]
async fn run_says_when_no_bundle_appears() {
    let Some((cluster, rukpak)) = start().await else {
        return;
    };
    let bd = testenv::unique_name("ctl-orphan");
    let dir = support::corpus().join("plain/combo-v0.0.2");
    let out = rukpakctl(&cluster, &["run", &bd])
        .arg(&dir)
        .args(["--system-namespace", &rukpak.namespace, "--timeout", "1"])
        .output()
        .unwrap();
    assert_failure(
        &out,
        &format!(
            "Error: no Bundle of bundledeployment \"{bd}\" appeared within 1s; is a BundleDeployment controller for provisioner class \"core-rukpak-io-plain\" running?"
        ),
    );
    assert!(
        text(&out.stdout).contains(&format!("bundledeployment.core.rukpak.io \"{bd}\" applied"))
    );
    rukpak.stop().await;
}

fn convert(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rukpakctl"))
        .arg("convert")
        .args(args)
        .output()
        .unwrap()
}

/// `convert` previews a registry+v1 bundle's objects without a cluster: one YAML stream,
/// each object after `---`, the Namespace first; refusals name the supported install modes.
#[test]
fn convert_prints_the_plain_objects_or_the_refusal() {
    let bundle = support::corpus().join("bundles/infinispan/2.2.5");
    let out = convert(&[bundle.to_str().unwrap()]);
    let stream = assert_success(&out);
    assert!(
        stream.starts_with(
            "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: infinispan-system\n"
        ),
        "{}",
        &stream[..200.min(stream.len())]
    );
    let kinds = |kind: &str| {
        stream
            .lines()
            .filter(|l| *l == format!("kind: {kind}"))
            .count()
    };
    assert_eq!(
        (
            kinds("ValidatingWebhookConfiguration"),
            kinds("MutatingWebhookConfiguration")
        ),
        (5, 4)
    );
    assert_eq!(
        stream.matches("\n---\n").count() + 1,
        23,
        "one document per object"
    );

    let own = convert(&[
        bundle.to_str().unwrap(),
        "--watch-namespaces",
        "ops",
        "--install-namespace",
        "ops",
    ]);
    assert!(assert_success(&own).contains("olm.targetNamespaces: ops\n"));

    let all_only = support::corpus().join("bundles/trident-operator/24.10.0");
    let out = convert(&[all_only.to_str().unwrap(), "--watch-namespaces", "a"]);
    assert_failure(
        &out,
        &format!(
            "Error: {}: supported install modes [AllNamespaces] do not support target namespaces [a]",
            all_only.display()
        ),
    );
}
