//! The manifests in `deploy/rukpak`: the CRD copies have not drifted, the Deployment's
//! flags are ones the binary accepts, and the set applies to a real API server with RBAC
//! that allows what RukPak does and no more.

use std::path::PathBuf;
use std::process::{Command, Output};

use k8s_openapi::api::apps::v1::Deployment;

use crate::support::workspace;

const SERVICE_ACCOUNT: &str = "system:serviceaccount:rukpak-system:rukpak";

fn deploy_dir() -> PathBuf {
    workspace().join("deploy/rukpak")
}

#[test]
fn crd_copies_are_identical_to_the_generated_crds() {
    for (generated, copy) in [
        ("core.rukpak.io_bundles.yaml", "crd-bundles.yaml"),
        (
            "core.rukpak.io_bundledeployments.yaml",
            "crd-bundledeployments.yaml",
        ),
    ] {
        let generated = workspace().join("config/crd").join(generated);
        let copy = deploy_dir().join(copy);
        assert!(
            std::fs::read(&generated).unwrap() == std::fs::read(&copy).unwrap(),
            "{} differs from {}; refresh it with:\n  cp {} {}",
            copy.display(),
            generated.display(),
            generated.display(),
            copy.display()
        );
    }
}

#[test]
fn the_deployment_passes_only_flags_the_binary_accepts() {
    let text = std::fs::read_to_string(deploy_dir().join("deployment.yaml")).unwrap();
    let d: Deployment = serde_saphyr::from_str(&text).unwrap();
    let pod = d.spec.unwrap().template.spec.unwrap();
    let container = &pod.containers[0];
    let args: Vec<String> = container
        .args
        .clone()
        .unwrap()
        .into_iter()
        .map(|a| a.replace("$(POD_NAMESPACE)", "rukpak-system"))
        .collect();
    // Flags are parsed first; with no cluster reachable the binary then stops while
    // connecting, which proves every flag was accepted (a flag error exits 2 earlier).
    let out = Command::new(env!("CARGO_BIN_EXE_rukpak"))
        .args(&args)
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("KUBERNETES_SERVICE_PORT")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("connecting to the Kubernetes API"),
        "{stderr}"
    );
    let bad = Command::new(env!("CARGO_BIN_EXE_rukpak"))
        .args(["--cert-validity", "soon"])
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .output()
        .unwrap();
    assert_ne!(bad.status.code(), Some(0));
    let security = container.security_context.as_ref().unwrap();
    assert_eq!(security.read_only_root_filesystem, Some(true));
    assert_eq!(pod.security_context.unwrap().run_as_non_root, Some(true));
}

fn run(mut cmd: Command) -> Output {
    cmd.output().expect("kubectl runs")
}

/// Applies every manifest; the webhook configuration only as a server-side dry run, since
/// no RukPak Pod answers it here and it would refuse every Bundle of other tests.
#[tokio::test]
async fn manifests_apply_and_grant_what_rukpak_needs() {
    let Some(cluster) = testenv::cluster().await else {
        return;
    };
    let out = run({
        let mut c = cluster.kubectl();
        c.arg("kustomize").arg(deploy_dir());
        c
    });
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let built = String::from_utf8_lossy(&out.stdout);
    assert!(
        built.contains("image: olm-rs/rukpak:latest"),
        "kustomize rewrote the image"
    );
    for file in [
        "crd-bundles.yaml",
        "crd-bundledeployments.yaml",
        "namespace.yaml",
        "rbac.yaml",
        "service.yaml",
        "deployment.yaml",
    ] {
        let out = run({
            let mut c = cluster.kubectl();
            c.args(["apply", "--server-side", "--force-conflicts", "-f"])
                .arg(deploy_dir().join(file));
            c
        });
        assert!(
            out.status.success(),
            "{file}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = run({
        let mut c = cluster.kubectl();
        c.args(["apply", "--server-side", "--dry-run=server", "-f"])
            .arg(deploy_dir().join("webhook.yaml"));
        c
    });
    assert!(
        out.status.success(),
        "webhook.yaml: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A rerun on the same cluster starts without the installer grant.
    run({
        let mut c = cluster.kubectl();
        c.args(["delete", "--ignore-not-found", "-f"])
            .arg(deploy_dir().join("rbac-installer.yaml"));
        c
    });
    let ns = ["-n", "rukpak-system"];
    let allowed: &[&[&str]] = &[
        &["watch", "bundles.core.rukpak.io"],
        &["list", "bundles.core.rukpak.io"],
        &["patch", "bundles.core.rukpak.io"],
        &["patch", "bundles.core.rukpak.io", "--subresource=status"],
        &["create", "bundles.core.rukpak.io"],
        &["delete", "bundles.core.rukpak.io"],
        &["watch", "bundledeployments.core.rukpak.io"],
        &[
            "patch",
            "bundledeployments.core.rukpak.io",
            "--subresource=status",
        ],
        &["patch", "secrets", ns[0], ns[1]],
        &["delete", "secrets", ns[0], ns[1]],
        &[
            "update",
            "bundles.core.rukpak.io",
            "--subresource=finalizers",
        ],
        &["get", "secrets", ns[0], ns[1]],
        &["create", "secrets", ns[0], ns[1]],
        &["update", "secrets/rukpak-tls", ns[0], ns[1]],
        &["watch", "configmaps", ns[0], ns[1]],
        &["create", "tokenreviews.authentication.k8s.io"],
        &["create", "subjectaccessreviews.authorization.k8s.io"],
        &[
            "update",
            "validatingwebhookconfigurations.admissionregistration.k8s.io/rukpak-validating-webhook-configuration",
        ],
        &[
            "patch",
            "leases.coordination.k8s.io/core.rukpak.io",
            ns[0],
            ns[1],
        ],
        &["create", "events.events.k8s.io", "-n", "default"],
    ];
    for args in allowed {
        assert!(
            cluster.can_i(SERVICE_ACCOUNT, args),
            "rukpak must be allowed: {args:?}"
        );
    }
    let denied: &[&[&str]] = &[
        &["update", "secrets/someone-else", ns[0], ns[1]],
        &["list", "secrets", ns[0], ns[1]],
        &["get", "secrets", "-n", "default"],
        &["update", "bundledeployments.core.rukpak.io"],
        &["create", "pods", ns[0], ns[1]],
        &["update", "configmaps", ns[0], ns[1]],
        &[
            "update",
            "validatingwebhookconfigurations.admissionregistration.k8s.io/other",
        ],
    ];
    for args in denied {
        assert!(
            !cluster.can_i(SERVICE_ACCOUNT, args),
            "rukpak must be denied: {args:?}"
        );
    }

    // Installing content is the separate, cluster-admin-in-effect grant.
    let install = ["create", "clusterroles.rbac.authorization.k8s.io"];
    assert!(!cluster.can_i(SERVICE_ACCOUNT, &install));
    let out = run({
        let mut c = cluster.kubectl();
        c.args(["apply", "--server-side", "-f"])
            .arg(deploy_dir().join("rbac-installer.yaml"));
        c
    });
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(cluster.can_i(SERVICE_ACCOUNT, &install));
}
