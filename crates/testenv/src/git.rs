//! Git fixtures and servers: repositories built with the `git` CLI, served over `file://`,
//! `git daemon` (`git://`) and HTTPS with Basic auth (`git http-backend` as a CGI behind axum).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::AsyncWriteExt;

use crate::process::{SERVICE_START_TIMEOUT, free_port, spawn_logged, wait_until};
use crate::registry::{Credentials, run_command, write_atomic};
use crate::tls::CertificateAuthority;

/// `git` isolated from the user's and system config, with a fixed identity and date (so
/// commit ids are reproducible) and no credential prompts.
pub fn git_command() -> Command {
    let mut cmd = Command::new("git");
    for var in [
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_ASKPASS",
        "SSH_ASKPASS",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_AUTHOR_NAME", "testenv")
        .env("GIT_AUTHOR_EMAIL", "testenv@example.invalid")
        .env("GIT_COMMITTER_NAME", "testenv")
        .env("GIT_COMMITTER_EMAIL", "testenv@example.invalid")
        .env("GIT_AUTHOR_DATE", "@1767225600 +0000")
        .env("GIT_COMMITTER_DATE", "@1767225600 +0000");
    cmd
}

/// A non-bare repository with a working tree, on branch `main`.
pub struct GitRepo {
    dir: PathBuf,
}

impl GitRepo {
    pub fn init(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let dir = dir.canonicalize()?;
        run_command(
            git_command()
                .arg("init")
                .arg("-q")
                .arg("-b")
                .arg("main")
                .arg(&dir),
        )?;
        Ok(Self { dir })
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    pub fn file_url(&self) -> String {
        format!("file://{}", self.dir.display())
    }

    /// Runs `git <args>` in the repository; returns trimmed stdout.
    pub fn git(&self, args: &[&str]) -> Result<String> {
        let out = run_command(git_command().arg("-C").arg(&self.dir).args(args))?;
        Ok(out.trim().to_owned())
    }

    /// Writes `files` (relative path, content), stages everything and commits; returns the id.
    pub fn commit_files(&self, files: &[(&str, &str)], message: &str) -> Result<String> {
        for (path, content) in files {
            let rel = Path::new(path);
            if rel.is_absolute() || rel.components().any(|c| c.as_os_str() == "..") {
                bail!("fixture path {path:?} must be relative and stay inside the repository");
            }
            let full = self.dir.join(rel);
            if let Some(parent) = full.parent() {
                std::fs::create_dir_all(parent)?;
            }
            write_atomic(&full, content.as_bytes())?;
        }
        self.git(&["add", "-A"])?;
        self.git(&["commit", "-q", "--allow-empty", "-m", message])?;
        self.git(&["rev-parse", "HEAD"])
    }

    /// A lightweight tag at HEAD.
    pub fn tag(&self, name: &str) -> Result<()> {
        self.git(&["tag", name]).map(drop)
    }

    /// An annotated tag at HEAD (clients see it peeled: `refs/tags/<name>^{}`).
    pub fn annotated_tag(&self, name: &str, message: &str) -> Result<()> {
        self.git(&["tag", "-a", name, "-m", message]).map(drop)
    }

    /// A branch at HEAD (HEAD stays where it is).
    pub fn branch(&self, name: &str) -> Result<()> {
        self.git(&["branch", name]).map(drop)
    }

    pub fn switch(&self, branch: &str) -> Result<()> {
        self.git(&["switch", "-q", branch]).map(drop)
    }
}

/// `git daemon` exporting every repository under a root, on a loopback port.
pub struct GitDaemon {
    child: Option<Child>,
    port: u16,
    _log_dir: tempfile::TempDir,
}

impl GitDaemon {
    pub async fn start(root: &Path) -> Result<Self> {
        let root = root
            .canonicalize()
            .with_context(|| format!("git daemon root {}", root.display()))?;
        let mut attempt = 1;
        loop {
            match Self::try_start(&root).await {
                Err(e) if attempt < 3 && format!("{e:#}").contains("in use") => attempt += 1,
                result => return result,
            }
        }
    }

    async fn try_start(root: &Path) -> Result<Self> {
        let log_dir = tempfile::Builder::new()
            .prefix("testenv-git-daemon-")
            .tempdir()?;
        let log = log_dir.path().join("git-daemon.log");
        let port = free_port()?;
        let mut cmd = git_command();
        cmd.arg("daemon")
            .arg("--export-all")
            .arg("--informative-errors")
            .arg("--reuseaddr")
            .arg("--listen=127.0.0.1")
            .arg(format!("--port={port}"))
            .arg(format!("--base-path={}", root.display()))
            .arg(root);
        let mut daemon = Self {
            child: Some(spawn_logged(&mut cmd, &log)?),
            port,
            _log_dir: log_dir,
        };
        wait_until(
            SERVICE_START_TIMEOUT,
            &log,
            daemon.child.as_mut(),
            "git daemon",
            || async { TcpStream::connect(("127.0.0.1", port)).is_ok() },
        )
        .await?;
        Ok(daemon)
    }

    /// `git://127.0.0.1:PORT/<repo>`, `repo` relative to the root.
    pub fn url_for(&self, repo: &str) -> String {
        format!("git://127.0.0.1:{}/{repo}", self.port)
    }

    pub fn stop(self) {}
}

impl Drop for GitDaemon {
    fn drop(&mut self) {
        if let Some(child) = self.child.take() {
            crate::process::stop_child(child, "git daemon");
        }
    }
}

/// HTTPS git server (smart HTTP via `git http-backend`) requiring Basic auth for every request.
/// It runs on its own thread and runtime, so tests may block on the `git` CLI freely.
pub struct GitHttps {
    addr: SocketAddr,
    ca_pem: String,
    credentials: Credentials,
    handle: axum_server::Handle<SocketAddr>,
    thread: Option<std::thread::JoinHandle<()>>,
    dir: tempfile::TempDir,
}

struct CgiState {
    root: PathBuf,
    credentials: Credentials,
}

impl GitHttps {
    pub async fn start(root: &Path, username: &str, password: &str) -> Result<Self> {
        crate::install_crypto_provider();
        let root = root
            .canonicalize()
            .with_context(|| format!("git https root {}", root.display()))?;
        let ca = CertificateAuthority::new("testenv git CA")?;
        let serving = ca.issue_server("127.0.0.1", &["127.0.0.1", "localhost"])?;
        let certs = CertificateDer::pem_slice_iter(serving.cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .context("parsing serving certificate")?;
        let key = PrivateKeyDer::from_pem_slice(serving.key_pem.as_bytes())
            .context("parsing serving key")?;
        let mut tls = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .context("building TLS config")?;
        tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];

        let dir = tempfile::Builder::new()
            .prefix("testenv-git-https-")
            .tempdir()?;
        write_atomic(&dir.path().join("ca.crt"), ca.cert_pem().as_bytes())?;

        // Bound here, so the port is ours and connections queue until the server accepts.
        let listener = TcpListener::bind("127.0.0.1:0").context("binding git https port")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let credentials = Credentials::new(username, password);
        let state = Arc::new(CgiState {
            root,
            credentials: credentials.clone(),
        });
        let app = axum::Router::new().fallback(serve_cgi).with_state(state);
        let handle = axum_server::Handle::new();
        let server_handle = handle.clone();
        let tls = axum_server::tls_rustls::RustlsConfig::from_config(Arc::new(tls));
        let thread = std::thread::Builder::new()
            .name("testenv-git-https".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("building git https runtime");
                runtime.block_on(async move {
                    let server = match axum_server::from_tcp_rustls(listener, tls) {
                        Ok(s) => s,
                        Err(e) => return tracing::error!("git https listener: {e}"),
                    };
                    if let Err(e) = server
                        .handle(server_handle)
                        .serve(app.into_make_service())
                        .await
                    {
                        tracing::error!("git https server: {e}");
                    }
                });
            })?;
        Ok(Self {
            addr,
            ca_pem: ca.cert_pem().to_owned(),
            credentials,
            handle,
            thread: Some(thread),
            dir,
        })
    }

    /// `https://127.0.0.1:PORT/<repo>`, `repo` relative to the root.
    pub fn url_for(&self, repo: &str) -> String {
        format!("https://{}/{repo}", self.addr)
    }

    /// Like [`Self::url_for`] with the credentials in the URL (percent-encoded).
    pub fn url_with_credentials(&self, repo: &str) -> String {
        let c = &self.credentials;
        format!(
            "https://{}:{}@{}/{repo}",
            percent_encode(&c.username),
            percent_encode(&c.password),
            self.addr
        )
    }

    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The CA as a file, for `GIT_SSL_CAINFO` / `http.sslCAInfo`.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.crt")
    }

    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    pub fn stop(self) {}
}

impl Drop for GitHttps {
    fn drop(&mut self) {
        self.handle.shutdown();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve_cgi(State(state): State<Arc<CgiState>>, request: Request) -> Response {
    let Some(user) = authorized_user(request.headers(), &state.credentials) else {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Basic realm=\"testenv git\"")],
            "authentication required\n",
        )
            .into_response();
    };
    match run_http_backend(&state.root, &user, request).await {
        Ok(response) => response,
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}\n")).into_response(),
    }
}

fn authorized_user(headers: &axum::http::HeaderMap, expected: &Credentials) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let (user, pass) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
    (user == expected.username && pass == expected.password).then(|| user.to_owned())
}

/// Runs `git http-backend` as a CGI (RFC 3875) for one request.
async fn run_http_backend(root: &Path, user: &str, request: Request) -> Result<Response> {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await?;
    let mut cmd = tokio::process::Command::new("git");
    cmd.arg("http-backend")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("GATEWAY_INTERFACE", "CGI/1.1")
        .env("SERVER_PROTOCOL", "HTTP/1.1")
        .env("REQUEST_METHOD", parts.method.as_str())
        .env("PATH_INFO", parts.uri.path())
        .env("QUERY_STRING", parts.uri.query().unwrap_or(""))
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("REMOTE_USER", user)
        .env("REMOTE_ADDR", "127.0.0.1");
    if let Some(ct) = parts.headers.get(header::CONTENT_TYPE) {
        cmd.env("CONTENT_TYPE", ct.to_str().unwrap_or_default());
    }
    // Other headers as HTTP_*: http-backend needs e.g. Git-Protocol (v2) and Content-Encoding.
    for (name, value) in &parts.headers {
        if name == header::AUTHORIZATION
            || name == header::CONTENT_TYPE
            || name == header::CONTENT_LENGTH
        {
            continue;
        }
        let var = format!("HTTP_{}", name.as_str().to_uppercase().replace('-', "_"));
        cmd.env(var, value.to_str().unwrap_or_default());
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("starting git http-backend")?;
    let mut stdin = child.stdin.take().context("http-backend stdin")?;
    // Feed the body while reading the output, so neither pipe can fill up and block.
    let feed = async move {
        let written = stdin.write_all(&body).await;
        drop(stdin);
        written
    };
    let (fed, output) = tokio::join!(feed, child.wait_with_output());
    let output = output.context("waiting for git http-backend")?;
    fed.context("writing the request body to git http-backend")?;
    if !output.status.success() && output.stdout.is_empty() {
        bail!(
            "git http-backend failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    parse_cgi_response(&output.stdout)
}

/// Splits CGI output into headers (with `Status:` as the status line) and body.
fn parse_cgi_response(out: &[u8]) -> Result<Response> {
    let (head_len, sep_len) = [&b"\r\n\r\n"[..], b"\n\n"]
        .iter()
        .filter_map(|sep| {
            out.windows(sep.len())
                .position(|w| w == *sep)
                .map(|i| (i, sep.len()))
        })
        .min()
        .context("CGI output has no end of headers")?;
    let head = std::str::from_utf8(&out[..head_len]).context("CGI headers are not UTF-8")?;
    let mut response = Response::new(Body::from(out[head_len + sep_len..].to_vec()));
    for line in head.lines() {
        let (name, value) = line
            .split_once(':')
            .with_context(|| format!("bad CGI header line {line:?}"))?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("Status") {
            let code = value.split_whitespace().next().unwrap_or_default();
            *response.status_mut() = StatusCode::from_bytes(code.as_bytes())
                .with_context(|| format!("bad CGI status {value:?}"))?;
        } else {
            response.headers_mut().append(
                axum::http::HeaderName::from_bytes(name.trim().as_bytes())?,
                HeaderValue::from_str(value)?,
            );
        }
    }
    Ok(response)
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgi_status_and_headers_are_parsed() {
        let out = b"Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\nnope";
        let r = parse_cgi_response(out).unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert_eq!(r.headers()[header::CONTENT_TYPE], "text/plain");

        let r = parse_cgi_response(b"Content-Type: x/y\n\nbody").unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert!(parse_cgi_response(b"no header end").is_err());
    }

    #[test]
    fn credentials_are_percent_encoded() {
        assert_eq!(percent_encode("a b@c:d"), "a%20b%40c%3Ad");
    }
}
