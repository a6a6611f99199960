//! What a controller process sets up once, before anything else: the TLS crypto provider,
//! logging, and the signals that stop it.

use std::future::Future;
use std::pin::Pin;

/// Log filter when `RUST_LOG` is unset: kube's per-request chatter stays quiet.
pub const DEFAULT_LOG_FILTER: &str = "info,kube=warn";

/// Installs aws-lc-rs as rustls' process-wide provider and logs to stderr, filtered by
/// `RUST_LOG` (default [`DEFAULT_LOG_FILTER`]). Call once, first thing in `main`.
pub fn init_process() {
    // Already installed (a test, say) is fine: it is the same provider.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| DEFAULT_LOG_FILTER.into()),
        )
        .init();
}

/// A future that resolves when the process should stop; handed to the controller.
pub type Shutdown = Pin<Box<dyn Future<Output = ()> + Send + Sync + 'static>>;

/// Resolves on SIGTERM (the kubelet stopping the Pod) or ctrl-c.
pub fn terminated() -> Shutdown {
    Box::pin(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    })
}
