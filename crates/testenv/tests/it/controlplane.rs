//! The control-plane harness serves real traffic: a CRD round-trips through kubectl and
//! the Rust client, and the API server enforces the schema.

use kube::api::{Api, DynamicObject, GroupVersionKind};
use kube::discovery::ApiResource;

const CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.testenv.olmrs.dev
spec:
  group: testenv.olmrs.dev
  scope: Cluster
  names: {plural: widgets, singular: widget, kind: Widget, listKind: WidgetList}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [size]
            properties:
              size: {type: integer, minimum: 1}
"#;

#[tokio::test]
async fn crd_round_trips_through_kubectl_and_client() {
    let Some(cluster) = testenv::cluster().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("widgets.yaml"), CRD).unwrap();
    cluster
        .apply_crds(dir.path())
        .await
        .expect("CRD applies and becomes Established");

    let name = testenv::unique_name("widget");
    let obj = format!(
        "apiVersion: testenv.olmrs.dev/v1\nkind: Widget\nmetadata:\n  name: {name}\nspec:\n  size: 3\n"
    );
    let out = cluster.kubectl_stdin(&["apply", "-f", "-"], &obj);
    assert!(
        out.status.success(),
        "kubectl apply: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("widget.testenv.olmrs.dev/{name} created")
    );

    // Read back through the Rust client.
    let gvk = GroupVersionKind::gvk("testenv.olmrs.dev", "v1", "Widget");
    let api: Api<DynamicObject> = Api::all_with(cluster.client(), &ApiResource::from_gvk(&gvk));
    let got = api
        .get(&name)
        .await
        .expect("object readable with the client");
    assert_eq!(got.data["spec"]["size"], 3);

    // The API server, not us, enforces the schema.
    let bad = obj.replace("size: 3", "size: 0");
    let out = cluster.kubectl_stdin(&["apply", "-f", "-"], &bad);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("spec.size: Invalid value: 0"),
        "unexpected error: {stderr}"
    );

    let out = cluster
        .kubectl()
        .args(["delete", "widget", &name])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn server_reports_its_version() {
    let Some(cluster) = testenv::cluster().await else {
        return;
    };
    let info = cluster
        .client()
        .apiserver_version()
        .await
        .expect("/version answers");
    assert_eq!(info.major, "1");
    assert!(
        info.git_version.starts_with("v1."),
        "ldflags should stamp the version, got {}",
        info.git_version
    );
}

/// `--help` prints usage and exits, instead of being taken for the state directory.
#[test]
fn controlplane_binary_has_help_and_rejects_a_missing_directory() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_testenv-controlplane"))
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let help = run(&["--help"]);
    assert!(help.status.success(), "{help:?}");
    let stdout = String::from_utf8_lossy(&help.stdout);
    assert!(
        stdout.contains("Usage: testenv-controlplane [OPTIONS] <STATE_DIR>"),
        "{stdout}"
    );
    let missing = run(&[]);
    assert_eq!(missing.status.code(), Some(2), "{missing:?}");
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(stderr.contains("<STATE_DIR>"), "{stderr}");
    // Neither run started anything or created a directory.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
