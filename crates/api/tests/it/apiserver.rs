//! The committed CRDs against a real kube-apiserver: they install, the documented examples
//! (seed-examples.md) apply with `kubectl`, `kubectl get` shows the printer columns, and invalid
//! objects are rejected with messages a person can act on.
//!
//! Without a cluster these tests print a skip reason and pass (in CI they fail instead; see
//! `testenv::cluster`).

use std::cell::RefCell;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};
use testenv::{Cluster, unique_name};

use crate::semver_tables::{INVALID_SEMVER, VALID_SEMVER};

fn crd_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../config/crd")
}

/// A cluster with the committed CRDs installed that deletes, when dropped, every object this
/// test created (the cluster is shared with other tests, some of which run controllers).
struct Session {
    cluster: Cluster,
    created: RefCell<Vec<String>>,
}

impl std::ops::Deref for Session {
    type Target = Cluster;
    fn deref(&self) -> &Cluster {
        &self.cluster
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        for yaml in self.created.take() {
            let mut cmd = self.cluster.kubectl();
            cmd.args(["delete", "-f", "-", "--ignore-not-found", "--wait=false"]);
            // Best effort: a failed cleanup must not hide the test's own result.
            let _ = run(cmd, Some(&yaml));
        }
    }
}

/// `None` when tests must skip (no cluster outside CI).
async fn cluster_with_crds() -> Option<Session> {
    let cluster = testenv::cluster().await?;
    cluster
        .apply_crds(&crd_dir())
        .await
        .expect("the committed CRDs install and become Established");
    Some(Session {
        cluster,
        created: RefCell::new(Vec::new()),
    })
}

fn run(mut cmd: Command, stdin: Option<&str>) -> Output {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("kubectl starts");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin is piped")
            .write_all(input.as_bytes())
            .expect("writing kubectl's stdin");
    }
    child.wait_with_output().expect("kubectl finishes")
}

/// `kubectl apply -f -` with `yaml` on stdin.
fn kubectl_apply(cluster: &Cluster, yaml: &str) -> Output {
    let mut cmd = cluster.kubectl();
    cmd.args(["apply", "-f", "-"]);
    run(cmd, Some(yaml))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_applied(cluster: &Session, yaml: &str) {
    let out = kubectl_apply(cluster, yaml);
    cluster.created.borrow_mut().push(yaml.to_owned());
    assert!(
        out.status.success(),
        "kubectl apply failed:\n{yaml}\nstdout: {}\nstderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains(" created"),
        "stdout: {}",
        text(&out.stdout)
    );
}

/// Applies `yaml`, expects a rejection and returns kubectl's error output.
fn assert_rejected(cluster: &Session, yaml: &str, expected: &[&str]) {
    let out = kubectl_apply(cluster, yaml);
    if out.status.success() {
        cluster.created.borrow_mut().push(yaml.to_owned());
    }
    let stderr = text(&out.stderr);
    assert!(
        !out.status.success(),
        "expected a rejection of:\n{yaml}\nstdout: {}",
        text(&out.stdout)
    );
    for e in expected {
        assert!(
            stderr.contains(e),
            "expected {e:?} in kubectl's error:\n{stderr}\nfor:\n{yaml}"
        );
    }
}

/// `kubectl get <resource> <name> [-o wide]` output.
fn kubectl_get(cluster: &Cluster, resource: &str, name: &str, wide: bool) -> String {
    let mut cmd = cluster.kubectl();
    cmd.args(["get", resource, name]);
    if wide {
        cmd.args(["-o", "wide"]);
    }
    let out = run(cmd, None);
    assert!(
        out.status.success(),
        "kubectl get {resource} {name}: {}",
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// Splits `kubectl get` output into header cells and the first row's cells (columns are
/// separated by two or more spaces).
fn table(output: &str) -> (Vec<String>, Vec<String>) {
    let split = |line: &str| -> Vec<String> {
        line.split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let mut lines = output.lines();
    let header = split(lines.next().unwrap_or_default());
    let row = split(lines.next().unwrap_or_default());
    (header, row)
}

fn api(cluster: &Cluster, group: &str, kind: &str, plural: &str) -> Api<DynamicObject> {
    let resource =
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, "v1alpha1", kind), plural);
    Api::all_with(cluster.client(), &resource)
}

// --- seed-examples.md, verbatim except for names and `<placeholders>` ---------------------

const OPERATOR_TEMPLATE: &str = "\
apiVersion: operators.operatorframework.io/v1alpha1
kind: Operator
metadata:
  name: <operator_name>
spec:
  packageName: <package_name>
  channel: <channel_name>
  version: <version_number>
";

const OPERATOR_CHANNEL: &str = "\
apiVersion: operators.operatorframework.io/v1alpha1
kind: Operator
metadata:
  name: pipelines-operator
spec:
  packageName: openshift-pipelines-operator-rh
  channel: latest
";

const OPERATOR_EXACT_VERSION: &str = "\
apiVersion: operators.operatorframework.io/v1alpha1
kind: Operator
metadata:
  name: pipelines-operator
spec:
  packageName: openshift-pipelines-operator-rh
  version: 1.11.1
";

const OPERATOR_VERSION_RANGE: &str = "\
apiVersion: operators.operatorframework.io/v1alpha1
kind: Operator
metadata:
  name: pipelines-operator
spec:
  packageName: openshift-pipelines-operator-rh
  version: \">1.11.1\"
";

const BUNDLE_IMAGE: &str = "\
apiVersion: core.rukpak.io/v1alpha1
kind: Bundle
metadata:
  name: my-bundle
spec:
  source:
    type: image
    image:
      ref: my-bundle@sha256:xyz123
  provisionerClassName: core-rukpak-io-plain
";

const BUNDLE_GIT: &str = "\
apiVersion: core.rukpak.io/v1alpha1
kind: Bundle
metadata:
  name: combo-tag-ref
spec:
  source:
    type: git
    git:
      ref:
        tag: v0.0.2
      repository: https://github.com/operator-framework/combo
  provisionerClassName: core-rukpak-io-plain
";

const BUNDLE_DEPLOYMENT: &str = "\
apiVersion: core.rukpak.io/v1alpha1
kind: BundleDeployment
metadata:
  name: my-bundle-deployment
spec:
  provisionerClassName: core-rukpak-io-plain
  template:
    metadata:
      labels:
        app: my-bundle
    spec:
      source:
        type: image
        image:
          ref: my-bundle@sha256:xyz123
      provisionerClassName: core-rukpak-io-plain
";

const CATALOG_TEMPLATE: &str = "\
apiVersion: catalogd.operatorframework.io/v1alpha1
kind: Catalog
metadata:
  name: redhat-operators
spec:
  source:
    type: image
    image:
      ref: registry.redhat.io/redhat/redhat-operator-index:v4.15
      pullSecret: <pull_secret_name>
      pollInterval: <poll_interval_duration>
";

/// Gives the object a unique name (tests share one cluster) and fills placeholders.
fn instantiate(yaml: &str, name: &str, unique: &str) -> String {
    yaml.replace(&format!("name: {name}\n"), &format!("name: {unique}\n"))
        .replace("<operator_name>", unique)
        .replace("<package_name>", "openshift-pipelines-operator-rh")
        .replace("<channel_name>", "latest")
        .replace("<version_number>", "1.11.1")
        .replace("<pull_secret_name>", "redhat-pull-secret")
        .replace("<poll_interval_duration>", "24h")
}

#[tokio::test]
async fn seed_examples_apply_with_kubectl() {
    let Some(cluster) = cluster_with_crds().await else {
        return;
    };
    let examples = [
        (OPERATOR_TEMPLATE, "<operator_name>", "operator"),
        (OPERATOR_CHANNEL, "pipelines-operator", "pipelines-operator"),
        (
            OPERATOR_EXACT_VERSION,
            "pipelines-operator",
            "pipelines-operator",
        ),
        (
            OPERATOR_VERSION_RANGE,
            "pipelines-operator",
            "pipelines-operator",
        ),
        (BUNDLE_IMAGE, "my-bundle", "my-bundle"),
        (BUNDLE_GIT, "combo-tag-ref", "combo-tag-ref"),
        (BUNDLE_DEPLOYMENT, "my-bundle-deployment", "my-bd"),
        (CATALOG_TEMPLATE, "redhat-operators", "redhat-operators"),
    ];
    for (yaml, name, prefix) in examples {
        assert_applied(&cluster, &instantiate(yaml, name, &unique_name(prefix)));
    }
    // The same Catalog shape for the other two Red Hat catalogs (seed-examples.md §5).
    for index in ["certified-operator-index", "community-operator-index"] {
        let yaml = instantiate(CATALOG_TEMPLATE, "redhat-operators", &unique_name(index))
            .replace("redhat-operator-index", index)
            .replace("      pullSecret: redhat-pull-secret\n", "");
        assert_applied(&cluster, &yaml);
    }
}

#[tokio::test]
async fn applied_examples_keep_their_values_and_defaults() {
    let Some(cluster) = cluster_with_crds().await else {
        return;
    };
    let name = unique_name("pipelines-operator");
    assert_applied(
        &cluster,
        &instantiate(OPERATOR_EXACT_VERSION, "pipelines-operator", &name),
    );
    let operators: Api<olm_api::Operator> = Api::all(cluster.client());
    let operator = operators
        .get(&name)
        .await
        .expect("the Operator reads back as the typed struct");
    assert_eq!(
        operator.spec.package_name,
        "openshift-pipelines-operator-rh"
    );
    assert_eq!(operator.spec.version.as_deref(), Some("1.11.1"));
    assert_eq!(
        operator.spec.upgrade_constraint_policy,
        olm_api::UpgradeConstraintPolicy::Enforce,
        "upgradeConstraintPolicy defaults to Enforce on the server"
    );

    let bd_name = unique_name("my-bd");
    assert_applied(
        &cluster,
        &instantiate(BUNDLE_DEPLOYMENT, "my-bundle-deployment", &bd_name),
    );
    let bds: Api<olm_api::BundleDeployment> = Api::all(cluster.client());
    let bd = bds
        .get(&bd_name)
        .await
        .expect("the BundleDeployment reads back");
    assert_eq!(
        bd.spec
            .template
            .metadata
            .labels
            .get("app")
            .map(String::as_str),
        Some("my-bundle")
    );
    let image = bd
        .spec
        .template
        .spec
        .source
        .image
        .expect("image source kept");
    assert_eq!(image.ref_, "my-bundle@sha256:xyz123");
}

#[tokio::test]
async fn kubectl_get_shows_the_printer_columns() {
    let Some(cluster) = cluster_with_crds().await else {
        return;
    };

    // Operator: the fully qualified resource name, as the docs use it.
    let op = unique_name("pipelines-operator");
    assert_applied(
        &cluster,
        &instantiate(OPERATOR_CHANNEL, "pipelines-operator", &op),
    );
    let status = json!({
        "apiVersion": "operators.operatorframework.io/v1alpha1",
        "kind": "Operator",
        "status": {
            "resolvedBundleResource": "quay.io/example/pipelines@sha256:abc",
            "installedBundleResource": "quay.io/example/pipelines@sha256:abc",
            "conditions": [
                condition("Resolved", "True", "Success", "resolved to \"quay.io/example/pipelines@sha256:abc\""),
                condition("Installed", "True", "Success", "installed from \"quay.io/example/pipelines@sha256:abc\""),
            ]
        }
    });
    patch_status(
        &cluster,
        "operators.operatorframework.io",
        "Operator",
        "operators",
        &op,
        status,
    )
    .await;
    let (header, row) = table(&kubectl_get(
        &cluster,
        "operator.operators.operatorframework.io",
        &op,
        false,
    ));
    assert_eq!(
        header,
        [
            "NAME",
            "PACKAGE",
            "INSTALLED BUNDLE",
            "RESOLVED",
            "INSTALLED",
            "AGE"
        ]
    );
    assert_eq!(
        row[..5],
        [
            op.as_str(),
            "openshift-pipelines-operator-rh",
            "quay.io/example/pipelines@sha256:abc",
            "True",
            "True"
        ]
    );
    let (header, row) = table(&kubectl_get(
        &cluster,
        "operator.operators.operatorframework.io",
        &op,
        true,
    ));
    assert_eq!(
        header,
        [
            "NAME",
            "PACKAGE",
            "INSTALLED BUNDLE",
            "RESOLVED",
            "INSTALLED",
            "AGE",
            "CHANNEL",
            "VERSION",
            "RESOLVED BUNDLE"
        ]
    );
    assert_eq!(row[6], "latest");

    // Bundle.
    let bundle = unique_name("combo-tag-ref");
    assert_applied(&cluster, &instantiate(BUNDLE_GIT, "combo-tag-ref", &bundle));
    let status = json!({
        "apiVersion": "core.rukpak.io/v1alpha1",
        "kind": "Bundle",
        "status": {"phase": "Unpacked"}
    });
    patch_status(
        &cluster,
        "core.rukpak.io",
        "Bundle",
        "bundles",
        &bundle,
        status,
    )
    .await;
    let (header, row) = table(&kubectl_get(&cluster, "bundles", &bundle, false));
    assert_eq!(header, ["NAME", "TYPE", "PHASE", "AGE"]);
    assert_eq!(row[..3], [bundle.as_str(), "git", "Unpacked"]);
    let (header, _) = table(&kubectl_get(&cluster, "bundles", &bundle, true));
    assert_eq!(
        header,
        [
            "NAME",
            "TYPE",
            "PHASE",
            "AGE",
            "PROVISIONER",
            "RESOLVED SOURCE"
        ]
    );

    // BundleDeployment, through its short name.
    let bd = unique_name("my-bd");
    assert_applied(
        &cluster,
        &instantiate(BUNDLE_DEPLOYMENT, "my-bundle-deployment", &bd),
    );
    let status = json!({
        "apiVersion": "core.rukpak.io/v1alpha1",
        "kind": "BundleDeployment",
        "status": {
            "activeBundle": format!("{bd}-abc"),
            "conditions": [condition("Installed", "True", "InstallationSucceeded", "Instantiated bundle")]
        }
    });
    patch_status(
        &cluster,
        "core.rukpak.io",
        "BundleDeployment",
        "bundledeployments",
        &bd,
        status,
    )
    .await;
    let (header, row) = table(&kubectl_get(&cluster, "bd", &bd, false));
    assert_eq!(header, ["NAME", "ACTIVE BUNDLE", "INSTALL STATE", "AGE"]);
    assert_eq!(
        row[..3],
        [bd.as_str(), &format!("{bd}-abc"), "InstallationSucceeded"]
    );
    let (header, row) = table(&kubectl_get(&cluster, "bds", &bd, true));
    assert_eq!(
        header,
        [
            "NAME",
            "ACTIVE BUNDLE",
            "INSTALL STATE",
            "AGE",
            "PROVISIONER"
        ]
    );
    assert_eq!(row[4], "core-rukpak-io-plain");

    // Catalog.
    let catalog = unique_name("redhat-operators");
    assert_applied(
        &cluster,
        &instantiate(CATALOG_TEMPLATE, "redhat-operators", &catalog),
    );
    let (header, _) = table(&kubectl_get(&cluster, "catalogs", &catalog, false));
    assert_eq!(header, ["NAME", "PHASE", "AGE"]);
    let (header, row) = table(&kubectl_get(&cluster, "catalogs", &catalog, true));
    assert_eq!(
        header,
        ["NAME", "PHASE", "AGE", "REF", "RESOLVED REF", "LAST POLL"]
    );
    assert_eq!(
        row[2],
        "registry.redhat.io/redhat/redhat-operator-index:v4.15"
    );
}

fn condition(type_: &str, status: &str, reason: &str, message: &str) -> Value {
    json!({
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": "2026-01-01T00:00:00Z",
        "observedGeneration": 1
    })
}

async fn patch_status(
    cluster: &Cluster,
    group: &str,
    kind: &str,
    plural: &str,
    name: &str,
    status: Value,
) {
    api(cluster, group, kind, plural)
        .patch_status(
            name,
            &PatchParams::apply("olm-api-tests").force(),
            &Patch::Apply(&status),
        )
        .await
        .unwrap_or_else(|e| panic!("status of {kind} {name}: {e}"));
}

// --- rejections, as users see them with kubectl ---------------------------------------------

fn operator_yaml(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: operators.operatorframework.io/v1alpha1\nkind: Operator\nmetadata:\n  name: {name}\nspec:\n{spec}"
    )
}

#[tokio::test]
async fn invalid_operators_are_rejected_with_clear_messages() {
    let Some(cluster) = cluster_with_crds().await else {
        return;
    };
    let name = unique_name("op");
    assert_rejected(
        &cluster,
        &operator_yaml(&name, "  channel: latest\n"),
        &["spec.packageName: Required value"],
    );
    assert_rejected(
        &cluster,
        &operator_yaml(
            &name,
            "  packageName: pipelines\n  version: \">1.2.3 && <2.3.4\"\n",
        ),
        &["spec.version in body should match '^(\\s*(=||!=|>|<|>=|=>|<=|=<|~|~>|\\^)"],
    );
    assert_rejected(
        &cluster,
        &operator_yaml(
            &name,
            "  packageName: pipelines\n  version: 1.2.3 - 2.3.4\n",
        ),
        &["spec.version in body should match"],
    );
    let long_version = format!(
        "  packageName: pipelines\n  version: \"{}\"\n",
        "1".repeat(65)
    );
    assert_rejected(
        &cluster,
        &operator_yaml(&name, &long_version),
        &["spec.version: Too long", "64"],
    );
    let long_package = format!("  packageName: {}\n", "a".repeat(69));
    assert_rejected(
        &cluster,
        &operator_yaml(&name, &long_package),
        &["spec.packageName: Too long", "48"],
    );
    let long_channel = format!("  packageName: pipelines\n  channel: {}\n", "a".repeat(49));
    assert_rejected(
        &cluster,
        &operator_yaml(&name, &long_channel),
        &["spec.channel: Too long", "48"],
    );
    assert_rejected(
        &cluster,
        &operator_yaml(&name, "  packageName: pipelines\n  channel: Capitalized\n"),
        &["spec.channel in body should match '^[a-z0-9]+([\\.-][a-z0-9]+)*$'"],
    );
    assert_rejected(
        &cluster,
        &operator_yaml(
            &name,
            "  packageName: pipelines\n  upgradeConstraintPolicy: Sometimes\n",
        ),
        &[
            "spec.upgradeConstraintPolicy: Unsupported value: \"Sometimes\"",
            "\"Enforce\"",
            "\"Ignore\"",
        ],
    );
}

/// Admission of each `spec.version` of upstream's tables, through a server-side dry run.
#[tokio::test]
async fn version_tables_match_upstream_admission() {
    let Some(cluster) = cluster_with_crds().await else {
        return;
    };
    let operators = api(
        &cluster,
        "operators.operatorframework.io",
        "Operator",
        "operators",
    );
    let dry_run = PostParams {
        dry_run: true,
        ..Default::default()
    };
    let object = |version: &str| -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "operators.operatorframework.io/v1alpha1",
            "kind": "Operator",
            "metadata": {"name": unique_name("semver")},
            "spec": {"packageName": "prometheus", "version": version}
        }))
        .expect("a DynamicObject")
    };
    for &v in VALID_SEMVER {
        if let Err(e) = operators.create(&dry_run, &object(v)).await {
            panic!("version {v:?} should be admitted: {e}");
        }
    }
    for &v in INVALID_SEMVER {
        match operators.create(&dry_run, &object(v)).await {
            Ok(_) => panic!("version {v:?} should be rejected"),
            Err(e) => assert!(
                e.to_string().contains("spec.version in body should match"),
                "{v:?}: {e}"
            ),
        }
    }
}

fn bundle_yaml(name: &str, source: &str) -> String {
    format!(
        "apiVersion: core.rukpak.io/v1alpha1\nkind: Bundle\nmetadata:\n  name: {name}\nspec:\n  provisionerClassName: core-rukpak-io-plain\n  source:\n{source}"
    )
}

/// Upstream's Go types serialise an unset `auth.secret` as `{}`; a Bundle written by a Go client
/// (rukpak's own, operator-controller) must round-trip.
#[tokio::test]
async fn an_empty_auth_secret_from_go_clients_is_accepted() {
    let Some(cluster) = cluster_with_crds().await else {
        return;
    };
    let git = "    type: git\n    git:\n      repository: https://example.com/repo.git\n      ref:\n        tag: v1\n      auth:\n        secret: {}\n";
    assert_applied(&cluster, &bundle_yaml(&unique_name("go-git"), git));
    let http = "    type: http\n    http:\n      url: https://example.com/b.tgz\n      auth:\n        secret: {}\n        insecureSkipVerify: false\n";
    assert_applied(&cluster, &bundle_yaml(&unique_name("go-http"), http));
}

#[tokio::test]
async fn invalid_bundles_are_rejected_with_clear_messages() {
    let Some(cluster) = cluster_with_crds().await else {
        return;
    };
    let name = unique_name("bundle");
    // The type names a member that is not there; another member is.
    assert_rejected(
        &cluster,
        &bundle_yaml(
            &name,
            "    type: git\n    image:\n      ref: my-bundle@sha256:xyz123\n",
        ),
        &[
            "bundle.spec.source.git must be set for source type \"git\"",
            "bundle.spec.source.image may only be set for source type \"image\"",
        ],
    );
    assert_rejected(
        &cluster,
        &bundle_yaml(&name, "    type: image\n"),
        &["bundle.spec.source.image must be set for source type \"image\""],
    );
    assert_rejected(
        &cluster,
        &bundle_yaml(
            &name,
            "    type: image\n    image:\n      ref: x@sha256:abc\n    git:\n      repository: https://example.com/r\n      ref:\n        tag: v1\n",
        ),
        &["bundle.spec.source.git may only be set for source type \"git\""],
    );
    assert_rejected(
        &cluster,
        &bundle_yaml(&name, "    type: configMaps\n    configMaps: []\n"),
        &["bundle.spec.source.configmaps must be set for source type \"configmaps\""],
    );
    assert_rejected(
        &cluster,
        &bundle_yaml(
            &name,
            "    type: git\n    git:\n      repository: https://example.com/r\n      ref:\n        tag: v1\n        branch: main\n",
        ),
        &["exactly one of branch, tag or commit must be set"],
    );
    assert_rejected(
        &cluster,
        &bundle_yaml(
            &name,
            "    type: git\n    git:\n      repository: https://example.com/r\n      directory: ../outside\n      ref:\n        tag: v1\n",
        ),
        &[
            "bundle.spec.source.git.directory begins with \"../\": directory must define path within the repository",
        ],
    );
    assert_rejected(
        &cluster,
        &bundle_yaml(&name, "    type: oci\n"),
        &["spec.source.type: Unsupported value: \"oci\""],
    );
    assert_rejected(
        &cluster,
        &bundle_yaml(&name, "    type: image\n    image:\n      ref: x:1\n")
            .replace("core-rukpak-io-plain", "invalid/class-name"),
        &["spec.provisionerClassName in body should match"],
    );
    let long_name = "b".repeat(53);
    assert_rejected(
        &cluster,
        &bundle_yaml(&long_name, "    type: image\n    image:\n      ref: x:1\n"),
        &["metadata.name: Too long", "52"],
    );
}

#[tokio::test]
async fn invalid_bundle_deployments_are_rejected_with_clear_messages() {
    let Some(cluster) = cluster_with_crds().await else {
        return;
    };
    let name = unique_name("bd");
    let yaml = |name: &str, source: &str| {
        format!(
            "apiVersion: core.rukpak.io/v1alpha1\nkind: BundleDeployment\nmetadata:\n  name: {name}\nspec:\n  provisionerClassName: core-rukpak-io-plain\n  template:\n    spec:\n      provisionerClassName: core-rukpak-io-registry\n      source:\n{source}"
        )
    };
    assert_rejected(
        &cluster,
        &yaml(
            &name,
            "        type: image\n        git:\n          repository: https://example.com/r\n          ref:\n            commit: f5a3711\n",
        ),
        &[
            "bundledeployment.spec.template.spec.source.image must be set for source type \"image\"",
            "bundledeployment.spec.template.spec.source.git may only be set for source type \"git\"",
        ],
    );
    assert_rejected(
        &cluster,
        &yaml(
            &"d".repeat(46),
            "        type: image\n        image:\n          ref: x:1\n",
        ),
        &["metadata.name: Too long", "45"],
    );
    // A valid template still applies, config included.
    let valid = format!(
        "{}  config:\n    any:\n      nested: [1, 2]\n",
        yaml(
            &name,
            "        type: image\n        image:\n          ref: x:1\n"
        )
    );
    assert_applied(&cluster, &valid);
    let bd = api(
        &cluster,
        "core.rukpak.io",
        "BundleDeployment",
        "bundledeployments",
    )
    .get(&name)
    .await
    .expect("the BundleDeployment reads back");
    assert_eq!(
        bd.data["spec"]["config"],
        json!({"any": {"nested": [1, 2]}}),
        "config is preserved"
    );
}

fn catalog_yaml(name: &str, image: &str) -> String {
    format!(
        "apiVersion: catalogd.operatorframework.io/v1alpha1\nkind: Catalog\nmetadata:\n  name: {name}\nspec:\n  source:\n    type: image\n{image}"
    )
}

#[tokio::test]
async fn invalid_catalogs_are_rejected_with_clear_messages() {
    let Some(cluster) = cluster_with_crds().await else {
        return;
    };
    let name = unique_name("catalog");
    assert_rejected(
        &cluster,
        &catalog_yaml(
            &name,
            "    image:\n      ref: quay.io/operatorhubio/catalog:latest\n      pollInterval: -1h\n",
        ),
        &["pollInterval must not be negative; use 0s to disable polling"],
    );
    assert_rejected(
        &cluster,
        &catalog_yaml(
            &name,
            "    image:\n      ref: quay.io/operatorhubio/catalog@sha256:c7f11097a628f092d8bad148406aa0e0951094a03445fd4bc0775431ef683a41\n      pollInterval: 24h\n",
        ),
        &["cannot specify PollInterval while using digest-based image"],
    );
    assert_rejected(
        &cluster,
        &catalog_yaml(
            &name,
            "    image:\n      ref: quay.io/operatorhubio/catalog:latest\n      pollInterval: 1d\n",
        ),
        &["spec.source.image.pollInterval in body should match"],
    );
    assert_rejected(
        &cluster,
        &catalog_yaml(
            &name,
            "    image:\n      ref: quay.io/operatorhubio/catalog:latest\n      pollInterval: soon\n",
        ),
        &["spec.source.image.pollInterval"],
    );
    assert_rejected(
        &cluster,
        &catalog_yaml(&name, ""),
        &["spec.source.image must be set for source type \"image\""],
    );
    assert_rejected(
        &cluster,
        &catalog_yaml(&name, "    image:\n      ref: x:1\n").replace("type: image", "type: git"),
        &["spec.source.type: Unsupported value: \"git\""],
    );
    // 0s disables polling and is admitted for tags; digests without pollInterval are admitted.
    assert_applied(
        &cluster,
        &catalog_yaml(
            &name,
            "    image:\n      ref: quay.io/operatorhubio/catalog:latest\n      pollInterval: 0s\n",
        ),
    );
    assert_applied(
        &cluster,
        &catalog_yaml(
            &unique_name("catalog"),
            "    image:\n      ref: quay.io/operatorhubio/catalog@sha256:c7f11097a628f092d8bad148406aa0e0951094a03445fd4bc0775431ef683a41\n",
        ),
    );
}
