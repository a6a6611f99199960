//! catalogd: reconciles `Catalog` objects and serves their content over HTTP.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use axum::Router;
use axum::routing::get;
use catalogd::controller::{self, Context};
use catalogd::leader::{self, LeaderElectionConfig};
use catalogd::listen::Listener;
use catalogd::server::ContentServer;
use catalogd::store::Store;
use clap::Parser;
use oci::{ImageStore, RegistryOptions};
use tokio::sync::watch;

/// How long in-flight responses may take to finish after SIGTERM (upstream: 30 s).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

#[derive(Parser, Debug)]
#[command(
    name = "catalogd",
    version,
    about = "Unpacks Catalog images and serves their content"
)]
struct Args {
    /// Namespace catalogd runs in; pull secrets are read from here.
    #[arg(long, env = "POD_NAMESPACE", default_value = "catalogd-system")]
    namespace: String,
    /// Where unpacked catalogs and the blob cache are kept.
    #[arg(long, default_value = "/var/cache/catalogd")]
    storage_dir: PathBuf,
    /// Listen address of the catalog content server.
    #[arg(long, default_value = ":8083", value_parser = listen_addr)]
    catalogs_server_addr: SocketAddr,
    /// Base URL clients use to reach the content server; `status.contentURL` is
    /// `<this>/catalogs/<name>/all.json`.
    #[arg(
        long,
        default_value = "http://catalogd-catalogserver.catalogd-system.svc"
    )]
    http_external_address: String,
    /// Serve content over TLS with this certificate (PEM); needs --tls-key.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// Private key (PEM) for --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Listen address for Prometheus metrics (`/metrics`).
    #[arg(long, default_value = ":8080", value_parser = listen_addr)]
    metrics_bind_address: SocketAddr,
    /// Listen address for `/healthz` and `/readyz`.
    #[arg(long, default_value = ":8081", value_parser = listen_addr)]
    health_probe_bind_address: SocketAddr,
    /// Elect a leader among replicas with a Lease; only the leader polls and writes status.
    #[arg(long)]
    leader_elect: bool,
    /// Name of the Lease used for leader election (in --namespace).
    #[arg(long, default_value = "catalogd-operator-lock")]
    leader_election_id: String,
    /// How long the Lease stays valid after its last renewal (Go duration, whole seconds).
    #[arg(long, default_value = "15s")]
    leader_election_lease_duration: String,
    /// How long before expiry the leader renews the Lease (Go duration, whole seconds).
    #[arg(long, default_value = "5s")]
    leader_election_renew_grace: String,
    /// Only handle Catalogs matching this label selector.
    #[arg(long)]
    catalog_selector: Option<String>,
    /// How often content of deleted Catalogs is garbage-collected (Go duration).
    #[arg(long, default_value = "12h")]
    gc_interval: String,
    /// Extra CA certificates (PEM) trusted for registries.
    #[arg(long)]
    registry_ca_file: Option<PathBuf>,
    /// Talk plain HTTP to every registry (test registries only).
    #[arg(long)]
    registry_use_http: bool,
}

#[tokio::main]
async fn main() -> Result<()> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,kube=warn".into()),
        )
        .init();
    let args = Args::parse();
    let gc_interval = go_duration("--gc-interval", &args.gc_interval)?;

    let client = kube::Client::try_default()
        .await
        .context("connecting to the Kubernetes API (in-cluster config or KUBECONFIG)")?;
    let store = Store::open(args.storage_dir.join("catalogs"))?;
    let ca_pem = match &args.registry_ca_file {
        Some(p) => {
            Some(std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?)
        }
        None => None,
    };
    let images = ImageStore::new(
        args.storage_dir.join("blobs"),
        RegistryOptions {
            use_http: args.registry_use_http,
            ca_pem,
            ..RegistryOptions::default()
        },
    )?;

    let identity =
        std::env::var("POD_NAME").unwrap_or_else(|_| format!("catalogd-{}", std::process::id()));
    let mut election = if args.leader_elect {
        let mut config =
            LeaderElectionConfig::new(&args.leader_election_id, &args.namespace, identity.clone());
        config.lease_duration = go_duration(
            "--leader-election-lease-duration",
            &args.leader_election_lease_duration,
        )?;
        config.renew_grace = go_duration(
            "--leader-election-renew-grace",
            &args.leader_election_renew_grace,
        )?;
        Some(leader::elect(client.clone(), config).await?)
    } else {
        None
    };
    let leading = election
        .as_ref()
        .map_or_else(leader::always_leader, leader::Leadership::receiver);

    let ctx = Arc::new(
        Context::new(
            client,
            store.clone(),
            images,
            args.storage_dir.join("unpack"),
            args.namespace.clone(),
            args.http_external_address.clone(),
            leading,
        )
        .with_selector(args.catalog_selector.clone())
        .with_instance(identity),
    );

    // Servers stop accepting when this turns true and finish in-flight responses.
    let (stop_serving, stopping) = watch::channel(false);
    let content = ContentServer::new(store).router();
    let probes = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(|| async { "ok" }));
    let metrics = Router::new().route("/metrics", get(catalogd::metrics::render));
    let mut servers = tokio::spawn(futures::future::try_join3(
        serve(
            args.catalogs_server_addr,
            content,
            args.tls_cert,
            args.tls_key,
            stopping.clone(),
        ),
        serve(
            args.health_probe_bind_address,
            probes,
            None,
            None,
            stopping.clone(),
        ),
        serve(args.metrics_bind_address, metrics, None, None, stopping),
    ));

    let gc_ctx = ctx.clone();
    tokio::spawn(async move {
        loop {
            match controller::collect_garbage(&gc_ctx).await {
                Ok(0) => {}
                Ok(n) => tracing::info!("garbage-collected content of {n} deleted catalogs"),
                Err(e) => tracing::warn!("garbage collection: {e}"),
            }
            tokio::time::sleep(gc_interval).await;
        }
    });

    let shutdown = async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    };
    let election_failed = async {
        match election.as_mut() {
            Some(e) => e.failed().await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        () = controller::run(ctx, shutdown) => {}
        r = &mut servers => {
            r.context("server task")??;
            anyhow::bail!("a server stopped unexpectedly");
        }
        // Losing the lease machinery means no replica can tell who leads; stop, as
        // controller-runtime does, and let the Deployment restart us.
        e = election_failed => return Err(e.into()),
    }
    if let Some(election) = election {
        // Hand the lease over now instead of making the next leader wait for it to expire.
        election.step_down().await?;
    }
    // Let downloads in flight finish, within the Pod's termination grace period.
    let _ = stop_serving.send(true);
    match tokio::time::timeout(SHUTDOWN_GRACE, servers).await {
        Ok(r) => {
            r.context("server task")??;
        }
        Err(_) => tracing::warn!("responses still in flight after {SHUTDOWN_GRACE:?}; exiting"),
    }
    Ok(())
}

/// `host:port`, or `:port` for all IPv4 interfaces (the form upstream's flags take).
fn listen_addr(value: &str) -> Result<SocketAddr, String> {
    let full = match value.strip_prefix(':') {
        Some(port) => format!("0.0.0.0:{port}"),
        None => value.to_owned(),
    };
    full.parse()
        .map_err(|e| format!("{e}: expected host:port or :port, e.g. :8083"))
}

fn go_duration(flag: &str, value: &str) -> Result<Duration> {
    Ok(value
        .parse::<kube::core::Duration>()
        .map_err(|e| anyhow::anyhow!("{flag} {value:?}: {e}"))?
        .into())
}

async fn serve(
    addr: SocketAddr,
    app: Router,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    stop: watch::Receiver<bool>,
) -> Result<()> {
    let listener = Listener {
        tls: cert.zip(key),
        grace: SHUTDOWN_GRACE,
        ..Listener::plain(addr)
    };
    Ok(listener.serve(app, stop, None).await?)
}
