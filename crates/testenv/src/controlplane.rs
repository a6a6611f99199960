//! etcd + kube-apiserver on loopback, started with the flags controller-runtime's envtest uses.
//!
//! Binaries are found the way envtest finds them (`TEST_ASSET_*`, `KUBEBUILDER_ASSETS`), plus
//! the cache that `scripts/build-go-tools.sh` fills, so the two are drop-in compatible.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use base64::Engine;

use crate::process::{free_port, spawn_logged, stop_child, wait_until};
use crate::tls::{CertificateAuthority, key_pair_pem};

mod workloads;

pub use workloads::FAKE_NODE;
use workloads::Workloads;

/// Files of the control plane's `certs` directory the workload processes read too.
const SERVING_CA: &str = "serving-ca.crt";
const SA_SIGNER_KEY: &str = "sa-signer.key";

/// Where the Go-built binaries are.
#[derive(Clone, Debug)]
pub(crate) struct Binaries {
    pub(crate) etcd: PathBuf,
    pub(crate) kube_apiserver: PathBuf,
    pub(crate) kubectl: PathBuf,
}

impl Binaries {
    /// Finds the binaries, or says which one is missing and how to get it.
    pub(crate) fn find() -> Result<Self> {
        Ok(Self {
            etcd: find_asset("TEST_ASSET_ETCD", "etcd", Asset::Executable)?,
            kube_apiserver: find_asset(
                "TEST_ASSET_KUBE_APISERVER",
                "kube-apiserver",
                Asset::Executable,
            )?,
            kubectl: find_asset("TEST_ASSET_KUBECTL", "kubectl", Asset::Executable)?,
        })
    }
}

/// What an asset must be to be taken.
#[derive(Clone, Copy)]
pub(crate) enum Asset {
    Executable,
    File,
}

impl Asset {
    fn describe(self) -> &'static str {
        match self {
            Self::Executable => "an executable file",
            Self::File => "a file",
        }
    }

    fn accepts(self, p: &Path) -> bool {
        match self {
            Self::Executable => is_executable(p),
            Self::File => p.is_file(),
        }
    }
}

/// An asset named by `env`, else `name` in the first asset directory holding it.
pub(crate) fn find_asset(env: &str, name: &str, kind: Asset) -> Result<PathBuf> {
    if let Some(p) = std::env::var_os(env) {
        let p = PathBuf::from(p);
        if kind.accepts(&p) {
            return Ok(p);
        }
        bail!("{env}={} is not {}", p.display(), kind.describe());
    }
    let dirs = asset_dirs();
    dirs.iter()
        .map(|d| d.join(name))
        .find(|p| kind.accepts(p))
        .with_context(|| {
            format!(
                "{name} not found (looked in ${env}, $KUBEBUILDER_ASSETS and {}); \
                 build it with scripts/build-go-tools.sh",
                dirs.iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
}

fn asset_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(d) = std::env::var_os("KUBEBUILDER_ASSETS") {
        dirs.push(PathBuf::from(d));
    }
    if let Some(c) = crate::fixtures::cache_dir() {
        dirs.push(c.join("assets"));
    }
    dirs.push(PathBuf::from("/usr/local/kubebuilder/bin"));
    dirs
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// A running etcd + kube-apiserver pair, optionally with [workloads](Self::start_workloads).
/// Dropping it stops every process it started (SIGTERM, then SIGKILL) and removes its
/// directory, unless a panic (a failing test) is unwinding: then the logs stay.
pub struct ControlPlane {
    // Declared first so they drop before `dir` removes their data, and the workload
    // processes before the API server they talk to.
    workloads: Option<Workloads>,
    apiserver: Option<Child>,
    etcd: Option<Child>,
    pub(crate) binaries: Binaries,
    pub server_url: String,
    kubeconfig: PathBuf,
    // Issues the API server's serving certificate, and those of the workload processes.
    serving_ca: CertificateAuthority,
    timeout: Duration,
    dir: tempfile::TempDir,
}

impl ControlPlane {
    /// Starts etcd, then the API server, and waits until `/readyz` answers.
    pub async fn start() -> Result<Self> {
        let binaries = Binaries::find()?;
        let dir = tempfile::Builder::new()
            .prefix("olmrs-controlplane-")
            .tempdir()
            .context("creating control-plane directory")?;
        let timeout = start_timeout();
        let mut plane = Self {
            workloads: None,
            apiserver: None,
            etcd: None,
            binaries,
            server_url: String::new(),
            kubeconfig: dir.path().join("kubeconfig"),
            serving_ca: CertificateAuthority::new("olmrs-serving-ca")?,
            timeout,
            dir,
        };
        plane.start_etcd(timeout).await?;
        plane.start_apiserver(timeout).await?;
        Ok(plane)
    }

    /// [`start`](Self::start), then [`start_workloads`](Self::start_workloads).
    pub async fn start_with_workloads() -> Result<Self> {
        let mut plane = Self::start().await?;
        plane.start_workloads().await?;
        Ok(plane)
    }

    /// Starts kube-controller-manager, kube-scheduler and kwok with one fake node
    /// ([`FAKE_NODE`](crate::FAKE_NODE)), so Deployments get pods that are scheduled, Running
    /// and Ready, and owners' deletions cascade. Waits until each has shown it works.
    pub async fn start_workloads(&mut self) -> Result<()> {
        if self.workloads.is_none() {
            self.workloads = Some(Workloads::start(self).await?);
        }
        Ok(())
    }

    /// Whether [`start_workloads`](Self::start_workloads) ran.
    pub fn has_workloads(&self) -> bool {
        self.workloads.is_some()
    }
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// PIDs of the processes this control plane started (etcd, kube-apiserver and the
    /// workload processes).
    pub fn pids(&self) -> Vec<u32> {
        let mut pids: Vec<u32> = [&self.etcd, &self.apiserver]
            .into_iter()
            .flatten()
            .map(Child::id)
            .collect();
        pids.extend(self.workloads.iter().flat_map(Workloads::pids));
        pids
    }

    async fn start_etcd(&mut self, timeout: Duration) -> Result<()> {
        let client_port = free_port()?;
        let peer_port = free_port()?;
        let url = format!("http://127.0.0.1:{client_port}");
        let data = self.dir.path().join("etcd");
        let mut cmd = Command::new(&self.binaries.etcd);
        cmd.arg(format!("--data-dir={}", data.display()))
            .arg(format!("--listen-client-urls={url}"))
            .arg(format!("--advertise-client-urls={url}"))
            .arg(format!("--listen-peer-urls=http://127.0.0.1:{peer_port}"))
            .arg(format!(
                "--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}"
            ))
            .arg(format!(
                "--initial-cluster=default=http://127.0.0.1:{peer_port}"
            ))
            // Tests do not need durability; fsync dominates etcd latency on small disks.
            .arg("--unsafe-no-fsync=true");
        let log = self.dir.path().join("etcd.log");
        self.etcd = Some(spawn_logged(&mut cmd, &log)?);
        let health = format!("{url}/health");
        let http = reqwest::Client::new();
        wait_until(timeout, &log, self.etcd.as_mut(), "etcd", || {
            let req = http.get(&health).send();
            async move { matches!(req.await, Ok(r) if r.status().is_success()) }
        })
        .await?;
        self.server_url = url; // temporarily: the etcd URL, replaced once the API server is up
        Ok(())
    }

    async fn start_apiserver(&mut self, timeout: Duration) -> Result<()> {
        let etcd_url = std::mem::take(&mut self.server_url);
        let certs = self.dir.path().join("certs");
        fs::create_dir_all(&certs)?;
        let serving_ca = &self.serving_ca;
        let client_ca = CertificateAuthority::new("olmrs-client-ca")?;
        let serving = serving_ca.issue_server("kube-apiserver", &["127.0.0.1", "localhost"])?;
        // envtest's admin identity: CN default, O system:masters.
        let admin = client_ca.issue_client("default", &["system:masters"])?;
        let (sa_key, sa_pub) = key_pair_pem()?;
        write(&certs.join("apiserver.crt"), &serving.cert_pem)?;
        write(&certs.join("apiserver.key"), &serving.key_pem)?;
        write(&certs.join("client-cert-auth-ca.crt"), client_ca.cert_pem())?;
        write(&certs.join(SERVING_CA), serving_ca.cert_pem())?;
        write(&certs.join(SA_SIGNER_KEY), &sa_key)?;
        // The verifying side reads public keys only (PKIX); the signer reads the PKCS#8 key.
        write(&certs.join("sa-signer.pub"), &sa_pub)?;

        let port = free_port()?;
        let url = format!("https://127.0.0.1:{port}");
        let mut cmd = Command::new(&self.binaries.kube_apiserver);
        cmd.arg("--service-cluster-ip-range=10.0.0.0/24")
            .arg("--allow-privileged=true")
            .arg("--disable-admission-plugins=ServiceAccount")
            .arg(format!("--cert-dir={}", certs.display()))
            .arg("--authorization-mode=RBAC")
            .arg(format!("--secure-port={port}"))
            .arg("--bind-address=127.0.0.1")
            .arg("--advertise-address=127.0.0.1")
            .arg(format!("--service-account-issuer={url}/"))
            .arg(format!(
                "--service-account-key-file={}",
                certs.join("sa-signer.pub").display()
            ))
            .arg(format!(
                "--service-account-signing-key-file={}",
                certs.join(SA_SIGNER_KEY).display()
            ))
            .arg(format!("--etcd-servers={etcd_url}"))
            .arg(format!(
                "--client-ca-file={}",
                certs.join("client-cert-auth-ca.crt").display()
            ));
        let log = self.dir.path().join("kube-apiserver.log");
        self.apiserver = Some(spawn_logged(&mut cmd, &log)?);

        write(
            &self.kubeconfig,
            &kubeconfig_yaml(&url, serving_ca.cert_pem(), &admin.cert_pem, &admin.key_pem),
        )?;
        let client = client_from_kubeconfig(&self.kubeconfig).await?;
        wait_until(
            timeout,
            &log,
            self.apiserver.as_mut(),
            "kube-apiserver",
            || {
                let client = client.clone();
                async move {
                    let req = http::Request::get("/readyz")
                        .body(Vec::new())
                        .expect("static request");
                    matches!(client.request_text(req).await, Ok(body) if body.trim() == "ok")
                }
            },
        )
        .await?;
        self.server_url = url;
        Ok(())
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        drop(self.workloads.take());
        // The API server first: it would otherwise log etcd errors while shutting down.
        if let Some(child) = self.apiserver.take() {
            stop_child(child, "kube-apiserver");
        }
        if let Some(child) = self.etcd.take() {
            stop_child(child, "etcd");
        }
        // A failing test unwinds through here: keep every process's log for the post-mortem.
        if std::thread::panicking() {
            self.dir.disable_cleanup(true);
            eprintln!(
                "control-plane logs kept in {} (the test failed)",
                self.dir.path().display()
            );
        }
    }
}

fn start_timeout() -> Duration {
    // envtest's variable; its default (20 s) is too short for a cold API server on 2 cores.
    std::env::var("KUBEBUILDER_CONTROLPLANE_START_TIMEOUT")
        .ok()
        .and_then(|v| v.trim_end_matches('s').parse::<u64>().ok())
        .map_or(Duration::from_secs(120), Duration::from_secs)
}

fn write(path: &Path, content: &str) -> Result<()> {
    fs::write(path, content).with_context(|| format!("writing {}", path.display()))
}

fn kubeconfig_yaml(server: &str, ca_pem: &str, cert_pem: &str, key_pem: &str) -> String {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: olmrs-test
  cluster:
    server: {server}
    certificate-authority-data: {ca}
users:
- name: admin
  user:
    client-certificate-data: {cert}
    client-key-data: {key}
contexts:
- name: olmrs-test
  context:
    cluster: olmrs-test
    user: admin
current-context: olmrs-test
",
        ca = b64(ca_pem),
        cert = b64(cert_pem),
        key = b64(key_pem),
    )
}

/// A client for the cluster a kubeconfig file names (its current context).
pub(crate) async fn client_from_kubeconfig(path: &Path) -> Result<kube::Client> {
    crate::install_crypto_provider();
    let kubeconfig = kube::config::Kubeconfig::read_from(path)
        .with_context(|| format!("reading kubeconfig {}", path.display()))?;
    let config = kube::Config::from_custom_kubeconfig(
        kubeconfig,
        &kube::config::KubeConfigOptions::default(),
    )
    .await
    .context("loading kubeconfig")?;
    kube::Client::try_from(config).context("building Kubernetes client")
}
