//! Workloads that really run: kube-controller-manager, kube-scheduler and kwok beside a
//! [`ControlPlane`]. Pods are scheduled onto one fake node whose kubelet kwok simulates
//! (Running, then Ready), so Deployment status, garbage collection and EndpointSlices come
//! from the real controllers, never from the test.

use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::Duration;

use anyhow::{Context, Result};
use k8s_openapi::api::core::v1::{Node, ServiceAccount};
use kube::api::{Api, PostParams};

use super::{Asset, ControlPlane, SA_SIGNER_KEY, SERVING_CA, find_asset, write};
use crate::process::{free_port, spawn_logged, stop_child, wait_until};

/// The fake node kwok manages; every pod of a workload cluster is scheduled onto it.
pub const FAKE_NODE: &str = "kwok-node";

/// kwok manages only nodes with this annotation, so it never touches a real one.
const KWOK_NODE_ANNOTATION: (&str, &str) = ("kwok.x-k8s.io/node", "fake");

/// The controllers a test cluster needs for operator workloads, by their 1.36 names. The node
/// lifecycle controller lifts the `not-ready` taint the API server puts on a new node; taint
/// eviction and IPAM stay off (kwok keeps the node Ready and assigns pod IPs itself).
const CONTROLLERS: &[&str] = &[
    "node-lifecycle-controller",
    "garbage-collector-controller",
    "namespace-controller",
    "deployment-controller",
    "replicaset-controller",
    "statefulset-controller",
    "daemonset-controller",
    "job-controller",
    "pod-garbage-collector-controller",
    "serviceaccount-controller",
    "serviceaccount-token-controller",
    "root-ca-certificate-publisher-controller",
    "clusterrole-aggregation-controller",
    "endpoints-controller",
    "endpointslice-controller",
];

struct Binaries {
    controller_manager: PathBuf,
    scheduler: PathBuf,
    kwok: PathBuf,
    /// kwok's default Stages, which `scripts/build-go-tools.sh` takes from its module.
    kwok_stages: PathBuf,
}

impl Binaries {
    fn find() -> Result<Self> {
        Ok(Self {
            controller_manager: find_asset(
                "TEST_ASSET_KUBE_CONTROLLER_MANAGER",
                "kube-controller-manager",
                Asset::Executable,
            )?,
            scheduler: find_asset(
                "TEST_ASSET_KUBE_SCHEDULER",
                "kube-scheduler",
                Asset::Executable,
            )?,
            kwok: find_asset("TEST_ASSET_KWOK", "kwok", Asset::Executable)?,
            kwok_stages: find_asset("TEST_ASSET_KWOK_STAGES", "kwok-stages.yaml", Asset::File)?,
        })
    }
}

/// The running workload processes. Dropping stops them, kwok first.
pub(super) struct Workloads {
    kwok: Option<Child>,
    scheduler: Option<Child>,
    controller_manager: Option<Child>,
}

impl Workloads {
    pub(super) async fn start(plane: &ControlPlane) -> Result<Self> {
        let binaries = Binaries::find()?;
        let client = super::client_from_kubeconfig(&plane.kubeconfig).await?;
        let http = healthz_client(plane)?;
        let mut workloads = Self {
            kwok: None,
            scheduler: None,
            controller_manager: None,
        };
        workloads
            .start_controller_manager(plane, &binaries, &http, &client)
            .await?;
        workloads.start_scheduler(plane, &binaries, &http).await?;
        workloads.start_kwok(plane, &binaries, &client).await?;
        Ok(workloads)
    }

    pub(super) fn pids(&self) -> Vec<u32> {
        [&self.controller_manager, &self.scheduler, &self.kwok]
            .into_iter()
            .flatten()
            .map(Child::id)
            .collect()
    }

    /// Ready once `/healthz` answers and the service-account controller has created the
    /// `default` ServiceAccount: then the controllers' informers have synced.
    async fn start_controller_manager(
        &mut self,
        plane: &ControlPlane,
        binaries: &Binaries,
        http: &reqwest::Client,
        client: &kube::Client,
    ) -> Result<()> {
        let name = "kube-controller-manager";
        let certs = plane.dir().join("certs");
        let mut cmd = Command::new(&binaries.controller_manager);
        cmd.arg(format!("--kubeconfig={}", plane.kubeconfig.display()))
            .arg("--leader-elect=false")
            // Every controller acts as the admin identity of the kubeconfig, which needs no
            // per-controller RBAC and no token for each.
            .arg("--use-service-account-credentials=false")
            .arg(format!("--controllers={}", CONTROLLERS.join(",")))
            .arg(format!(
                "--service-account-private-key-file={}",
                certs.join(SA_SIGNER_KEY).display()
            ))
            .arg(format!(
                "--root-ca-file={}",
                certs.join(SERVING_CA).display()
            ));
        let healthz = serve_healthz(plane, name, &mut cmd)?;
        let log = plane.dir().join(format!("{name}.log"));
        self.controller_manager = Some(spawn_logged(&mut cmd, &log)?);
        let service_accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), "default");
        wait_until(
            plane.timeout,
            &log,
            self.controller_manager.as_mut(),
            name,
            || {
                let service_accounts = service_accounts.clone();
                let healthz = http.get(&healthz).send();
                async move {
                    matches!(healthz.await, Ok(r) if r.status().is_success())
                        && matches!(service_accounts.get_opt("default").await, Ok(Some(_)))
                }
            },
        )
        .await
    }

    async fn start_scheduler(
        &mut self,
        plane: &ControlPlane,
        binaries: &Binaries,
        http: &reqwest::Client,
    ) -> Result<()> {
        let name = "kube-scheduler";
        // The scheduler's own flags for these are deprecated in favour of its config file.
        let config = plane.dir().join("kube-scheduler.yaml");
        write(
            &config,
            &format!(
                "apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection:
  kubeconfig: {}
leaderElection:
  leaderElect: false
",
                plane.kubeconfig.display()
            ),
        )?;
        let mut cmd = Command::new(&binaries.scheduler);
        cmd.arg(format!("--config={}", config.display()));
        let healthz = serve_healthz(plane, name, &mut cmd)?;
        let log = plane.dir().join(format!("{name}.log"));
        self.scheduler = Some(spawn_logged(&mut cmd, &log)?);
        wait_until(plane.timeout, &log, self.scheduler.as_mut(), name, || {
            let healthz = http.get(&healthz).send();
            async move { matches!(healthz.await, Ok(r) if r.status().is_success()) }
        })
        .await
    }

    /// Creates the fake node, then starts kwok; ready once kwok has made the node Ready and
    /// the node lifecycle controller has lifted its taints, so pods can be scheduled.
    async fn start_kwok(
        &mut self,
        plane: &ControlPlane,
        binaries: &Binaries,
        client: &kube::Client,
    ) -> Result<()> {
        let nodes: Api<Node> = Api::all(client.clone());
        nodes
            .create(&PostParams::default(), &fake_node()?)
            .await
            .context("creating the fake node")?;
        let home = plane.dir().join("kwok");
        std::fs::create_dir_all(&home).with_context(|| format!("creating {}", home.display()))?;
        let (key, value) = KWOK_NODE_ANNOTATION;
        let mut cmd = Command::new(&binaries.kwok);
        cmd.arg(format!("--kubeconfig={}", plane.kubeconfig.display()))
            .arg(format!("--config={}", binaries.kwok_stages.display()))
            .arg("--manage-all-nodes=false")
            .arg(format!(
                "--manage-nodes-with-annotation-selector={key}={value}"
            ))
            // kwok also reads ~/.kwok/kwok.yaml when it exists: not a developer's.
            .env("HOME", &home);
        let log = plane.dir().join("kwok.log");
        self.kwok = Some(spawn_logged(&mut cmd, &log)?);
        wait_until(plane.timeout, &log, self.kwok.as_mut(), "kwok", || {
            let nodes = nodes.clone();
            async move { matches!(nodes.get_opt(FAKE_NODE).await, Ok(Some(n)) if schedulable(&n)) }
        })
        .await
    }
}

impl Drop for Workloads {
    fn drop(&mut self) {
        for (child, what) in [
            (self.kwok.take(), "kwok"),
            (self.scheduler.take(), "kube-scheduler"),
            (self.controller_manager.take(), "kube-controller-manager"),
        ] {
            if let Some(child) = child {
                stop_child(child, what);
            }
        }
    }
}

/// Adds a loopback HTTPS port with a certificate from the plane's serving CA to `cmd`, and
/// returns the `/healthz` URL there (the components allow it without authentication).
fn serve_healthz(plane: &ControlPlane, name: &str, cmd: &mut Command) -> Result<String> {
    let port = free_port()?;
    let serving = plane.serving_ca.issue_server(name, &["127.0.0.1"])?;
    let certs = plane.dir().join("certs");
    let (cert, key) = (
        certs.join(format!("{name}.crt")),
        certs.join(format!("{name}.key")),
    );
    write(&cert, &serving.cert_pem)?;
    write(&key, &serving.key_pem)?;
    cmd.arg("--bind-address=127.0.0.1")
        .arg(format!("--secure-port={port}"))
        .arg(format!("--tls-cert-file={}", cert.display()))
        .arg(format!("--tls-private-key-file={}", key.display()));
    Ok(format!("https://127.0.0.1:{port}/healthz"))
}

fn healthz_client(plane: &ControlPlane) -> Result<reqwest::Client> {
    let ca = reqwest::Certificate::from_pem(plane.serving_ca.cert_pem().as_bytes())
        .context("parsing the serving CA")?;
    reqwest::Client::builder()
        .tls_certs_only([ca])
        .timeout(Duration::from_secs(5))
        .build()
        .context("building the health-check client")
}

/// A node kwok will manage, sized so that test workloads never wait for room. The os and
/// arch labels are the ones operators' node selectors ask for.
fn fake_node() -> Result<Node> {
    let (key, value) = KWOK_NODE_ANNOTATION;
    let resources = serde_json::json!({"cpu": "64", "memory": "256Gi", "pods": "1000"});
    serde_json::from_value(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": FAKE_NODE,
            "annotations": {key: value},
            "labels": {
                "kubernetes.io/hostname": FAKE_NODE,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": kube_arch(),
                "type": "kwok",
            },
        },
        "status": {"allocatable": resources, "capacity": resources},
    }))
    .context("building the fake node")
}

/// This machine's architecture as Kubernetes names it (Go's `GOARCH`).
fn kube_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

fn schedulable(node: &Node) -> bool {
    let ready = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
    let tainted = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .is_some_and(|t| !t.is_empty());
    ready && !tainted
}
