//! Serving a router on a socket, plain or TLS, with the same connection limits and the same
//! graceful stop for every listener a controller opens.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use axum::Router;
use axum_server::Handle;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use hyper_util::rt::TokioTimer;
use tokio::sync::watch;

use crate::stall::{StallTimeoutAcceptor, WRITE_STALL_TIMEOUT};

/// Upstream's `http.Server.ReadTimeout` (catalogd's content server). The servers here take
/// GETs without bodies, so a client that has not sent its headers by then is closed
/// (slowloris).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// How long responses in flight may take to finish once stopping starts (upstream: 30 s,
/// within the Pod's termination grace period).
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// How one listener is set up.
#[derive(Clone, Debug)]
pub struct Listener {
    /// Where to listen; port 0 picks a free port (see `bound` in [`Self::serve`]).
    pub addr: SocketAddr,
    /// Serve TLS with this certificate; plain HTTP without.
    pub tls: Option<Tls>,
    pub header_read_timeout: Duration,
    /// How long a client may accept none of a response's bytes (see [`crate::stall`]).
    pub write_stall_timeout: Duration,
    /// How long responses in flight may run once stopping starts.
    pub grace: Duration,
}

/// Where a TLS listener's certificate comes from.
#[derive(Clone, Debug)]
pub enum Tls {
    /// PEM certificate chain and key files, read once at start.
    Files { cert: PathBuf, key: PathBuf },
    /// A configuration its owner reloads when the certificate rotates (see
    /// [`crate::ServingCertificate`]).
    Reloadable(RustlsConfig),
}

impl Tls {
    /// The certificate and key files `cert` and `key`, if both are given.
    pub fn files(cert: Option<PathBuf>, key: Option<PathBuf>) -> Option<Self> {
        cert.zip(key).map(|(cert, key)| Self::Files { cert, key })
    }
}

/// A listener could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    #[error("loading TLS certificate {cert} and key {key}: {source}")]
    Tls {
        cert: PathBuf,
        key: PathBuf,
        source: std::io::Error,
    },
    #[error("serving on {addr}: {source}")]
    Serve {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

impl Listener {
    /// Plain HTTP on `addr` with the default limits and [`SHUTDOWN_GRACE`].
    pub fn plain(addr: SocketAddr) -> Self {
        Self {
            addr,
            tls: None,
            header_read_timeout: HEADER_READ_TIMEOUT,
            write_stall_timeout: WRITE_STALL_TIMEOUT,
            grace: SHUTDOWN_GRACE,
        }
    }

    /// Serves `app` until `stop` turns true, then lets responses in flight finish for up to
    /// `grace`. `bound` (if given) receives the address actually bound (for port 0).
    pub async fn serve(
        self,
        app: Router,
        mut stop: watch::Receiver<bool>,
        bound: Option<tokio::sync::oneshot::Sender<SocketAddr>>,
    ) -> Result<(), ListenError> {
        let handle = Handle::new();
        let on_stop = handle.clone();
        let grace = self.grace;
        tokio::spawn(async move {
            let _ = stop.wait_for(|s| *s).await;
            on_stop.graceful_shutdown(Some(grace));
        });
        if let Some(bound) = bound {
            let handle = handle.clone();
            tokio::spawn(async move {
                if let Some(addr) = handle.listening().await {
                    let _ = bound.send(addr);
                }
            });
        }
        let addr = self.addr;
        let serve_err = |source| ListenError::Serve { addr, source };
        // Handlers may read the peer address (`ConnectInfo<SocketAddr>`), e.g. to limit
        // requests per client.
        let service = app.into_make_service_with_connect_info::<SocketAddr>();
        let stall = StallTimeoutAcceptor {
            timeout: self.write_stall_timeout,
        };
        match self.tls {
            Some(tls) => {
                let config = match tls {
                    Tls::Files { cert, key } => RustlsConfig::from_pem_file(&cert, &key)
                        .await
                        .map_err(|source| ListenError::Tls { cert, key, source })?,
                    Tls::Reloadable(config) => config,
                };
                tracing::info!("serving https on {addr}");
                let acceptor = RustlsAcceptor::new(config).acceptor(stall);
                let mut server = axum_server::bind(addr).acceptor(acceptor).handle(handle);
                limit(server.http_builder(), self.header_read_timeout);
                server.serve(service).await.map_err(serve_err)
            }
            None => {
                tracing::info!("serving http on {addr}");
                let mut server = axum_server::bind(addr).acceptor(stall).handle(handle);
                limit(server.http_builder(), self.header_read_timeout);
                server.serve(service).await.map_err(serve_err)
            }
        }
    }
}

fn limit(
    builder: &mut hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>,
    header_read_timeout: Duration,
) {
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout);
}
