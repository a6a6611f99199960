//! A real OCI registry on loopback: Debian's `docker-registry` (distribution 2.8) run with our
//! own config, skopeo command builders for it, and a minimal OCI image-layout writer so tests
//! can push images before our own OCI code exists.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use flate2::{Compression, write::GzEncoder};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::process::{SERVICE_START_TIMEOUT, free_port, spawn_logged, wait_until};
use crate::tls::CertificateAuthority;

/// Everything a registry test may run: the registry, skopeo, and htpasswd for Basic auth.
pub const REGISTRY_BINARIES: &[&str] = &["docker-registry", "skopeo", "htpasswd"];

/// The missing-binary policy: true when every binary is on `PATH`. Otherwise fails the test
/// when `CI=true`, else prints `SKIP: <reason>` and returns false so the caller can `return`.
pub fn require_binaries(names: &[&str]) -> bool {
    let missing: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| find_on_path(n).is_none())
        .collect();
    if missing.is_empty() {
        return true;
    }
    crate::unavailable(&format!(
        "not found on PATH: {} (Debian: apt-get install docker-registry skopeo apache2-utils git)",
        missing.join(", ")
    ));
    false
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

/// A username and password for HTTP Basic auth.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl Credentials {
    pub fn new(username: &str, password: &str) -> Self {
        Self {
            username: username.to_owned(),
            password: password.to_owned(),
        }
    }
}

/// A running `docker-registry serve`; stopped (SIGTERM, then SIGKILL) on drop, also on panic.
pub struct Registry {
    child: Option<Child>,
    host_port: String,
    ca_pem: Option<String>,
    credentials: Option<Credentials>,
    dir: tempfile::TempDir,
}

impl Registry {
    /// Plain HTTP, anonymous.
    pub async fn start_plain() -> Result<Self> {
        Self::start(None).await
    }

    /// HTTPS (serving cert from a fresh CA) with htpasswd Basic auth for one bcrypt user.
    pub async fn start_tls_auth(username: &str, password: &str) -> Result<Self> {
        Self::start(Some(Credentials::new(username, password))).await
    }

    async fn start(credentials: Option<Credentials>) -> Result<Self> {
        crate::install_crypto_provider();
        // A free port can be taken between our probe and the registry's bind: retry then.
        let mut attempt = 1;
        loop {
            match Self::try_start(credentials.clone()).await {
                Err(e) if attempt < 3 && format!("{e:#}").contains("address already in use") => {
                    tracing::debug!("registry port race, retrying: {e:#}");
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    async fn try_start(credentials: Option<Credentials>) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("testenv-registry-")
            .tempdir()?;
        let d = dir.path();
        let host_port = format!("127.0.0.1:{}", free_port()?);
        let secret = hex::encode(Sha256::digest(format!("{d:?}{:?}", Instant::now())));
        // JSON is valid YAML, and serde_json quotes the paths for us.
        let mut config = json!({
            "version": "0.1",
            "log": { "level": "info" },
            "storage": {
                "filesystem": { "rootdirectory": d.join("storage") },
                "delete": { "enabled": true },
            },
            "http": { "addr": host_port, "secret": secret },
        });
        let mut ca_pem = None;
        if let Some(creds) = &credentials {
            let ca = CertificateAuthority::new("testenv registry CA")?;
            let serving = ca.issue_server("127.0.0.1", &["127.0.0.1", "localhost"])?;
            write_atomic(&d.join("tls.crt"), serving.cert_pem.as_bytes())?;
            write_atomic(&d.join("tls.key"), serving.key_pem.as_bytes())?;
            // skopeo aborts on anything but CA `*.crt` (or client pairs) in a cert dir.
            fs::create_dir(d.join("ca"))?;
            write_atomic(&d.join("ca/ca.crt"), ca.cert_pem().as_bytes())?;
            // distribution accepts only bcrypt entries (an `$apr1$` entry gets 401).
            let entry = run_command(Command::new("htpasswd").args([
                "-Bbn",
                &creds.username,
                &creds.password,
            ]))?;
            write_atomic(&d.join("htpasswd"), entry.trim().as_bytes())?;
            config["http"]["tls"] =
                json!({ "certificate": d.join("tls.crt"), "key": d.join("tls.key") });
            config["auth"] =
                json!({ "htpasswd": { "realm": "testenv", "path": d.join("htpasswd") } });
            ca_pem = Some(ca.cert_pem().to_owned());
        }
        write_atomic(&d.join("config.yml"), &serde_json::to_vec_pretty(&config)?)?;

        let mut cmd = Command::new("docker-registry");
        cmd.arg("serve").arg(d.join("config.yml"));
        // REGISTRY_* variables override the config file; keep ours authoritative.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("REGISTRY_") {
                cmd.env_remove(key);
            }
        }
        let log = d.join("registry.log");
        let child = spawn_logged(&mut cmd, &log)?;
        // From here on, Drop stops the process if we fail (or the future is dropped).
        let mut registry = Registry {
            child: Some(child),
            host_port,
            ca_pem,
            credentials,
            dir,
        };
        let client = registry.http_client()?;
        let url = format!("{}/v2/", registry.base_url());
        wait_until(
            SERVICE_START_TIMEOUT,
            &log,
            registry.child.as_mut(),
            "docker-registry",
            || async {
                client
                    .get(&url)
                    .send()
                    .await
                    .is_ok_and(|r| matches!(r.status().as_u16(), 200 | 401))
            },
        )
        .await?;
        Ok(registry)
    }

    /// `127.0.0.1:PORT`, as used in image references.
    pub fn host_port(&self) -> &str {
        &self.host_port
    }

    /// `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        let scheme = if self.ca_pem.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.host_port)
    }

    /// The CA that signed the serving certificate (TLS mode only).
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// A directory holding only `ca.crt`, for skopeo's `--*-cert-dir` (TLS mode only).
    pub fn ca_cert_dir(&self) -> Option<PathBuf> {
        self.ca_pem.as_ref().map(|_| self.dir.path().join("ca"))
    }

    pub fn credentials(&self) -> Option<&Credentials> {
        self.credentials.as_ref()
    }

    /// A reqwest client that trusts only this registry's CA (no credentials attached).
    pub fn http_client(&self) -> Result<reqwest::Client> {
        let mut builder = reqwest::Client::builder().timeout(Duration::from_secs(10));
        if let Some(pem) = &self.ca_pem {
            builder = builder.tls_certs_only([reqwest::Certificate::from_pem(pem.as_bytes())?]);
        }
        builder.build().context("building registry HTTP client")
    }

    /// `docker://127.0.0.1:PORT/<repo:tag or repo@digest>`.
    pub fn docker_ref(&self, reference: &str) -> String {
        format!("docker://{}/{reference}", self.host_port)
    }

    /// `skopeo copy oci:<layout>:<tag> docker://HOST/<reference>`.
    pub fn skopeo_push(
        &self,
        layout: &Path,
        tag: &str,
        reference: &str,
        creds: Option<&Credentials>,
    ) -> Command {
        let mut cmd = skopeo();
        cmd.arg("copy")
            .args(self.skopeo_access("--dest-", creds))
            .arg(format!("oci:{}:{tag}", layout.display()))
            .arg(self.docker_ref(reference));
        cmd
    }

    /// `skopeo copy docker://HOST/<reference> oci:<layout>:<tag>`.
    pub fn skopeo_pull(
        &self,
        reference: &str,
        layout: &Path,
        tag: &str,
        creds: Option<&Credentials>,
    ) -> Command {
        let mut cmd = skopeo();
        cmd.arg("copy")
            .args(self.skopeo_access("--src-", creds))
            .arg(self.docker_ref(reference))
            .arg(format!("oci:{}:{tag}", layout.display()));
        cmd
    }

    /// `skopeo inspect docker://HOST/<reference>` (JSON with `Digest` and `Labels`).
    pub fn skopeo_inspect(&self, reference: &str, creds: Option<&Credentials>) -> Command {
        let mut cmd = skopeo();
        cmd.arg("inspect")
            .args(self.skopeo_access("--", creds))
            .arg(self.docker_ref(reference));
        cmd
    }

    /// TLS and credential flags for one side (`--src-`, `--dest-`, or `--` for inspect).
    fn skopeo_access(&self, prefix: &str, creds: Option<&Credentials>) -> Vec<String> {
        let mut args = match self.ca_cert_dir() {
            Some(dir) => vec![format!("{prefix}cert-dir={}", dir.display())],
            None => vec![format!("{prefix}tls-verify=false")],
        };
        args.push(match creds {
            Some(c) => format!("{prefix}creds={}:{}", c.username, c.password),
            // Never pick up a developer's stored registry logins.
            None => format!("{prefix}no-creds"),
        });
        args
    }

    pub fn stop(mut self) {
        self.stop_process();
    }

    fn stop_process(&mut self) {
        if let Some(child) = self.child.take() {
            crate::process::stop_child(child, "docker-registry");
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop_process();
    }
}

/// skopeo without a signature policy file: test images are unsigned.
fn skopeo() -> Command {
    let mut cmd = Command::new("skopeo");
    cmd.arg("--insecure-policy");
    cmd
}

/// Digests of an image written by [`write_oci_layout`].
#[derive(Clone, Debug)]
pub struct OciLayoutImage {
    pub manifest_digest: String,
    pub config_digest: String,
    pub layer_digest: String,
}

/// Writes a fresh OCI image layout in `dir` holding one image tagged `tag`: one gzip layer
/// with `files` (relative paths, mode 0644, parents created) and a config carrying `labels`.
pub fn write_oci_layout(
    dir: &Path,
    tag: &str,
    files: &[(&str, &[u8])],
    labels: &[(&str, &str)],
) -> Result<OciLayoutImage> {
    let mut tar = tar::Builder::new(Vec::new());
    let dirs: BTreeSet<&Path> = files
        .iter()
        .flat_map(|(p, _)| Path::new(p).ancestors().skip(1))
        .filter(|p| !p.as_os_str().is_empty())
        .collect();
    for d in dirs {
        tar_entry(&mut tar, d, tar::EntryType::Directory, 0o755, &[])?;
    }
    for (path, data) in files {
        tar_entry(
            &mut tar,
            Path::new(path),
            tar::EntryType::Regular,
            0o644,
            data,
        )?;
    }
    let layer_tar = tar.into_inner()?;
    let diff_id = sha256_digest(&layer_tar);
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    std::io::Write::write_all(&mut gz, &layer_tar)?;
    write_oci_layout_with_layer(dir, tag, &gz.finish()?, &diff_id, labels)
}

/// [`write_oci_layout`] with a ready-made gzip layer whose uncompressed digest is `diff_id`,
/// for layers too big or too odd to build from files in memory.
pub fn write_oci_layout_with_layer(
    dir: &Path,
    tag: &str,
    layer_gz: &[u8],
    diff_id: &str,
    labels: &[(&str, &str)],
) -> Result<OciLayoutImage> {
    if dir.join("index.json").exists() {
        bail!("{} already holds an OCI layout", dir.display());
    }
    fs::create_dir_all(dir.join("blobs/sha256"))
        .with_context(|| format!("creating {}", dir.display()))?;
    let (layer_digest, layer_size) = write_blob(dir, layer_gz)?;

    let labels: BTreeMap<&str, &str> = labels.iter().copied().collect();
    let config = json!({
        "architecture": "amd64",
        "os": "linux",
        "config": { "Labels": labels },
        "rootfs": { "type": "layers", "diff_ids": [diff_id] },
    });
    let (config_digest, config_size) = write_blob(dir, &serde_json::to_vec(&config)?)?;
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest, "size": config_size,
        },
        "layers": [{
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": layer_digest, "size": layer_size,
        }],
    });
    let (manifest_digest, manifest_size) = write_blob(dir, &serde_json::to_vec(&manifest)?)?;
    let index = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest, "size": manifest_size,
            "annotations": { "org.opencontainers.image.ref.name": tag },
        }],
    });
    write_atomic(&dir.join("index.json"), &serde_json::to_vec(&index)?)?;
    write_atomic(
        &dir.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )?;
    Ok(OciLayoutImage {
        manifest_digest,
        config_digest,
        layer_digest,
    })
}

/// A gzip tar layer holding one file `name` of `size` zero bytes: a decompression bomb for
/// extraction tests. Each MiB of zeros is its own gzip member (a valid multi-member stream),
/// so 2 GiB cost about 2 MB. Its diff_id is not computed (hashing 2 GiB takes longer than
/// the tests that use it): such tests expect the file to be refused long before its end,
/// where a diff_id would be checked.
pub fn zeros_layer(name: &str, size: u64) -> Result<Vec<u8>> {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_mode(0o644);
    header.set_size(size);
    header.set_mtime(0);
    header.set_path(name).context("zeros layer file name")?;
    header.set_cksum();
    let gz = |data: &[u8]| -> Result<Vec<u8>> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        std::io::Write::write_all(&mut enc, data)?;
        Ok(enc.finish()?)
    };
    let mut layer = gz(header.as_bytes())?;
    let mib = gz(&vec![0u8; 1 << 20])?;
    for _ in 0..size >> 20 {
        layer.extend_from_slice(&mib);
    }
    // The rest of the file, its padding to 512 bytes, and the two end-of-archive blocks.
    let tail = (size & ((1 << 20) - 1)) + (512 - size % 512) % 512 + 1024;
    layer.extend(gz(&vec![0u8; tail as usize])?);
    Ok(layer)
}

fn tar_entry(
    tar: &mut tar::Builder<Vec<u8>>,
    path: &Path,
    kind: tar::EntryType,
    mode: u32,
    data: &[u8],
) -> Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_mode(mode);
    header.set_size(data.len() as u64);
    header.set_mtime(0);
    tar.append_data(&mut header, path, data)
        .with_context(|| format!("adding {} to the layer", path.display()))
}

fn sha256_digest(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

fn write_blob(layout: &Path, data: &[u8]) -> Result<(String, usize)> {
    let digest = sha256_digest(data);
    let hex = digest.trim_start_matches("sha256:");
    write_atomic(&layout.join("blobs/sha256").join(hex), data)?;
    Ok((digest, data.len()))
}

pub(crate) fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let name = path.file_name().context("write target has no file name")?;
    let tmp = path.with_file_name(format!(".{}.tmp", name.to_string_lossy()));
    fs::write(&tmp, data).with_context(|| format!("writing {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))
}

/// Runs a command to completion; its stdout on success, an error with stderr otherwise.
pub fn run_command(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {:?}", cmd.get_program()))?;
    if !out.status.success() {
        bail!(
            "{:?} failed ({}):\n{}",
            cmd,
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
