//! What the source tests share: in-memory system objects, a destination beside which
//! leftovers are checked, corpus tarballs, hostile tarballs and an HTTPS file server.

use std::collections::{BTreeMap, HashMap};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use bundle_sources::{LookupError, SecretData, SourceError, Sources, SystemObjects, Unpack};
use flate2::{Compression, write::GzEncoder};
use k8s_openapi::api::core::v1::ConfigMap;
use oci::{ImageStore, RegistryOptions};
use olm_api::BundleSource;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use testenv::tls::CertificateAuthority;

pub(crate) const NAMESPACE: &str = "rukpak-system";

/// The upload directory of tests that have no uploads.
pub(crate) const NO_UPLOADS: &str = "/nonexistent-uploads";

/// Unpacks `source` of the Bundle `bundle` into a fresh workspace.
pub(crate) async fn unpack(
    sources: &Sources,
    bundle: &str,
    source: &BundleSource,
    objects: &Objects,
) -> (Workspace, Result<Unpack, SourceError>) {
    let ws = Workspace::new();
    let result = sources.unpack(bundle, source, objects, &ws.dest()).await;
    (ws, result)
}

/// The message of an unpack that must have failed.
pub(crate) fn error_message(result: Result<Unpack, SourceError>) -> String {
    match result {
        Ok(unpack) => panic!("expected an error, got {unpack:?}"),
        Err(e) => e.to_string(),
    }
}

/// Secrets and ConfigMaps of the system namespace, held in memory.
#[derive(Default)]
pub(crate) struct Objects {
    pub(crate) secrets: BTreeMap<String, SecretData>,
    pub(crate) config_maps: BTreeMap<String, ConfigMap>,
    /// Every lookup fails with this message (an API server that is down).
    pub(crate) failing: Option<String>,
}

impl Objects {
    pub(crate) fn with_secret(mut self, name: &str, data: &[(&str, &[u8])]) -> Self {
        let data = data
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.to_vec()))
            .collect();
        self.secrets.insert(name.to_owned(), data);
        self
    }

    pub(crate) fn with_config_map(mut self, name: &str, config_map: ConfigMap) -> Self {
        self.config_maps.insert(name.to_owned(), config_map);
        self
    }

    fn check(&self) -> Result<(), LookupError> {
        match &self.failing {
            Some(message) => Err(LookupError {
                message: message.clone(),
            }),
            None => Ok(()),
        }
    }
}

impl SystemObjects for Objects {
    async fn secret(&self, name: &str) -> Result<Option<SecretData>, LookupError> {
        self.check()?;
        Ok(self.secrets.get(name).cloned())
    }

    async fn config_map(&self, name: &str) -> Result<Option<ConfigMap>, LookupError> {
        self.check()?;
        Ok(self.config_maps.get(name).cloned())
    }
}

/// A scratch directory holding the empty destination `content/` and nothing else, so a
/// test can check that a source left nothing beside it.
pub(crate) struct Workspace {
    pub(crate) root: tempfile::TempDir,
}

impl Workspace {
    pub(crate) fn new() -> Self {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("content")).unwrap();
        Workspace { root }
    }

    pub(crate) fn dest(&self) -> PathBuf {
        self.root.path().join("content")
    }

    /// Files under the destination, relative and sorted.
    pub(crate) fn files(&self) -> Vec<String> {
        files_under(&self.dest())
    }

    /// Panics if anything but `content/` (plus `also`) is in the scratch directory.
    pub(crate) fn assert_nothing_beside_dest(&self, also: &[&str]) {
        let mut names: Vec<String> = std::fs::read_dir(self.root.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        let mut expected: Vec<String> = std::iter::once("content")
            .chain(also.iter().copied())
            .map(str::to_owned)
            .collect();
        expected.sort();
        assert_eq!(names, expected, "leftovers beside the destination");
    }
}

/// Regular files under `root`, relative, sorted (symlinks listed with a trailing `@`).
pub(crate) fn files_under(root: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path.strip_prefix(root).unwrap().display().to_string();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.file_type().is_symlink() {
                out.push(format!("{rel}@"));
            } else if meta.is_dir() {
                walk(root, &path, out);
            } else {
                out.push(rel);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

/// `Sources` over a fresh blob cache reaching registries with `options`; uploads under
/// `uploads`.
pub(crate) fn sources(options: RegistryOptions, uploads: &Path) -> (Sources, tempfile::TempDir) {
    let cache = tempfile::tempdir().unwrap();
    let images = ImageStore::new(cache.path().join("blobs"), options).unwrap();
    (Sources::new(NAMESPACE, images, uploads), cache)
}

/// `../shared/corpus/plain/combo-v0.0.2`: a plain bundle with `manifests/`.
pub(crate) fn plain_bundle() -> PathBuf {
    testenv::fixtures::corpus().join("plain/combo-v0.0.2")
}

/// A gzip'd tar of the directory `dir` (its contents at the archive root).
pub(crate) fn tgz_of_dir(dir: &Path) -> Vec<u8> {
    let mut builder = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::default()));
    builder.append_dir_all(".", dir).unwrap();
    builder.into_inner().unwrap().finish().unwrap()
}

/// One entry of a hand-made tarball.
pub(crate) enum Entry<'a> {
    File(&'a str, &'a [u8]),
    Symlink(&'a str, &'a str),
    HardLink(&'a str, &'a str),
}

/// A gzip'd tar whose names go straight into the headers, so the tar crate's own checks do
/// not stop hostile names.
pub(crate) fn raw_tgz(entries: &[Entry<'_>]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for entry in entries {
        let mut header = tar::Header::new_gnu();
        let (name, kind, data, link): (&str, _, &[u8], Option<&str>) = match entry {
            Entry::File(n, d) => (n, tar::EntryType::Regular, d, None),
            Entry::Symlink(n, t) => (n, tar::EntryType::Symlink, b"", Some(t)),
            Entry::HardLink(n, t) => (n, tar::EntryType::Link, b"", Some(t)),
        };
        header.set_entry_type(kind);
        header.set_mode(0o644);
        header.set_size(data.len() as u64);
        header.set_mtime(0);
        let gnu = header.as_gnu_mut().unwrap();
        gnu.name[..name.len()].copy_from_slice(name.as_bytes());
        if let Some(target) = link {
            gnu.linkname[..target.len()].copy_from_slice(target.as_bytes());
        }
        header.set_cksum();
        builder.append(&header, data).unwrap();
    }
    gzip(&builder.into_inner().unwrap())
}

pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

struct ServerState {
    files: Mutex<HashMap<String, Vec<u8>>>,
    basic_auth: Option<(String, String)>,
}

/// An HTTPS server (certificate from a fresh CA) serving files from memory, optionally
/// behind Basic auth; stops when dropped.
pub(crate) struct FileServer {
    addr: SocketAddr,
    ca: CertificateAuthority,
    state: Arc<ServerState>,
    handle: axum_server::Handle<SocketAddr>,
}

impl FileServer {
    pub(crate) async fn start(basic_auth: Option<(&str, &str)>) -> Self {
        testenv::install_crypto_provider();
        let ca = CertificateAuthority::new("bundle-sources test CA").unwrap();
        let serving = ca
            .issue_server("127.0.0.1", &["127.0.0.1", "localhost"])
            .unwrap();
        let certs = CertificateDer::pem_slice_iter(serving.cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_slice(serving.key_pem.as_bytes()).unwrap();
        let mut tls = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let state = Arc::new(ServerState {
            files: Mutex::default(),
            basic_auth: basic_auth.map(|(u, p)| (u.to_owned(), p.to_owned())),
        });
        let app = axum::Router::new()
            .fallback(serve)
            .with_state(state.clone());
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let handle = axum_server::Handle::new();
        let server = axum_server::from_tcp_rustls(
            listener,
            axum_server::tls_rustls::RustlsConfig::from_config(Arc::new(tls)),
        )
        .unwrap()
        .handle(handle.clone());
        tokio::spawn(async move { server.serve(app.into_make_service()).await });
        FileServer {
            addr,
            ca,
            state,
            handle,
        }
    }

    pub(crate) fn put(&self, path: &str, content: Vec<u8>) {
        self.state
            .files
            .lock()
            .unwrap()
            .insert(path.to_owned(), content);
    }

    /// `https://127.0.0.1:PORT/<path>`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("https://{}/{path}", self.addr)
    }

    pub(crate) fn addr(&self) -> String {
        self.addr.to_string()
    }

    pub(crate) fn ca_pem(&self) -> &str {
        self.ca.cert_pem()
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        self.handle.shutdown();
    }
}

async fn serve(State(state): State<Arc<ServerState>>, request: Request) -> Response {
    if let Some((username, password)) = &state.basic_auth {
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"))
        );
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if given != Some(expected.as_str()) {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Basic realm=\"bundles\"")],
            )
                .into_response();
        }
    }
    let path = request.uri().path().trim_start_matches('/');
    match state.files.lock().unwrap().get(path) {
        Some(content) => content.clone().into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
