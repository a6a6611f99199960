//! How a test gets a cluster: attach to the one the test command started (or any cluster
//! named by `OLMRS_EXISTING_CLUSTER` / `USE_EXISTING_CLUSTER`), else start a private one.
//! A test whose pods must really run asks for [`cluster_with_workloads`]: the cluster named by
//! `OLMRS_WORKLOADS_KUBECONFIG`, else a private one with controllers, scheduler and kwok.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::wait::{await_condition, conditions};

use crate::controlplane::{Binaries, ControlPlane, client_from_kubeconfig};

/// A cluster a test can use. Cluster-scoped names must come from [`unique_name`].
pub struct Cluster {
    client: kube::Client,
    kubeconfig: PathBuf,
    kubectl: PathBuf,
    // Only set when this test started its own control plane; dropping it stops the processes.
    _owned: Option<ControlPlane>,
}

/// Returns a cluster, or `None` after printing why tests needing one are skipped.
/// In CI a missing cluster is a failure, never a skip.
pub async fn cluster() -> Option<Cluster> {
    crate::install_crypto_provider();
    match connect().await {
        Ok(c) => Some(c),
        Err(e) => {
            crate::unavailable(&format!("no Kubernetes control plane: {e:#}"));
            None
        }
    }
}

/// Like [`cluster`], for tests whose workloads must really run: a cluster with
/// kube-controller-manager, kube-scheduler and kwok's fake node
/// ([`FAKE_NODE`](crate::FAKE_NODE)). It is the one `OLMRS_WORKLOADS_KUBECONFIG` names (the
/// test command starts one; so does `testenv-controlplane --workloads`), else a private one.
pub async fn cluster_with_workloads() -> Option<Cluster> {
    crate::install_crypto_provider();
    let connected = match std::env::var_os(WORKLOADS_KUBECONFIG) {
        Some(kubeconfig) => attach(PathBuf::from(kubeconfig)).await,
        None => match ControlPlane::start_with_workloads().await {
            Ok(plane) => own(plane).await,
            Err(e) => Err(e),
        },
    };
    match connected {
        Ok(c) => Some(c),
        Err(e) => {
            crate::unavailable(&format!(
                "no Kubernetes cluster with workloads (${WORKLOADS_KUBECONFIG} unset or \
                 unusable): {e:#}"
            ));
            None
        }
    }
}

/// Names the kubeconfig of a cluster running workloads, for [`cluster_with_workloads`].
const WORKLOADS_KUBECONFIG: &str = "OLMRS_WORKLOADS_KUBECONFIG";

fn existing_cluster_requested() -> bool {
    ["OLMRS_EXISTING_CLUSTER", "USE_EXISTING_CLUSTER"]
        .iter()
        .any(|v| std::env::var(v).is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true")))
}

async fn connect() -> Result<Cluster> {
    if existing_cluster_requested() {
        let kubeconfig = std::env::var_os("KUBECONFIG")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".kube/config")))
            .context("an existing cluster was requested but neither KUBECONFIG nor HOME is set")?;
        return attach(kubeconfig).await;
    }
    own(ControlPlane::start().await?).await
}

async fn attach(kubeconfig: PathBuf) -> Result<Cluster> {
    let client = client_from_kubeconfig(&kubeconfig).await?;
    let kubectl = Binaries::find()
        .map(|b| b.kubectl)
        .unwrap_or_else(|_| PathBuf::from("kubectl"));
    Ok(Cluster {
        client,
        kubeconfig,
        kubectl,
        _owned: None,
    })
}

async fn own(plane: ControlPlane) -> Result<Cluster> {
    let kubeconfig = plane.kubeconfig_path().to_path_buf();
    let client = client_from_kubeconfig(&kubeconfig).await?;
    Ok(Cluster {
        client,
        kubeconfig,
        kubectl: plane.binaries.kubectl.clone(),
        _owned: Some(plane),
    })
}

impl Cluster {
    pub fn client(&self) -> kube::Client {
        self.client.clone()
    }

    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// `kubectl` (the one built with the API server), already pointed at this cluster.
    pub fn kubectl(&self) -> Command {
        let mut cmd = Command::new(&self.kubectl);
        cmd.arg("--kubeconfig").arg(&self.kubeconfig);
        cmd
    }

    /// Runs kubectl with these arguments and `stdin` as its standard input, e.g.
    /// `kubectl_stdin(&["apply", "-f", "-"], yaml)`, and returns what it printed.
    pub fn kubectl_stdin(&self, args: &[&str], stdin: &str) -> std::process::Output {
        let mut child = self
            .kubectl()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kubectl runs");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("write stdin");
        child.wait_with_output().expect("kubectl finishes")
    }

    /// `kubectl auth can-i --as <user> <args>`: whether `user` may do it. Panics when
    /// kubectl answers neither yes nor no (a typo in `args`, an unreachable server).
    pub fn can_i(&self, user: &str, args: &[&str]) -> bool {
        let out = self
            .kubectl()
            .args(["auth", "can-i", "--as", user])
            .args(args)
            .output()
            .expect("kubectl runs");
        let answer = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        match (out.status.code(), answer.as_str()) {
            (Some(0), "yes") => true,
            (Some(1), "no") => false,
            _ => panic!(
                "kubectl auth can-i {args:?}: {:?} {answer} {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ),
        }
    }

    /// Server-side applies every `*.yaml` CRD in `dir` and waits until each is Established.
    pub async fn apply_crds(&self, dir: &Path) -> Result<()> {
        let api: Api<CustomResourceDefinition> = Api::all(self.client.clone());
        let mut names = Vec::new();
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
            .collect();
        entries.sort();
        for path in entries {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            let crd: CustomResourceDefinition = serde_saphyr::from_str(&text)
                .with_context(|| format!("parsing CRD {}", path.display()))?;
            let name = crd.metadata.name.clone().context("CRD without a name")?;
            api.patch(
                &name,
                &PatchParams::apply("olmrs-testenv").force(),
                &Patch::Apply(&crd),
            )
            .await
            .with_context(|| format!("applying CRD {name}"))?;
            names.push(name);
        }
        for name in names {
            tokio::time::timeout(
                Duration::from_secs(60),
                await_condition(api.clone(), &name, conditions::is_crd_established()),
            )
            .await
            .with_context(|| format!("CRD {name} not Established after 60s"))?
            .with_context(|| format!("waiting for CRD {name}"))?;
        }
        Ok(())
    }
}

/// A DNS-1123 name unique to this test process and call, for cluster-scoped objects and
/// namespaces (tests share one control plane per run).
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let prefix: String = prefix
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(40)
        .collect();
    format!("{prefix}-{:x}{:x}-{n}", std::process::id(), nanos & 0xfff)
}
