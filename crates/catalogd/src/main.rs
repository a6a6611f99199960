//! catalogd: reconciles `Catalog` objects and serves their content over HTTP.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use axum::Router;
use axum::routing::get;
use catalogd::controller::{self, Context};
use catalogd::server::ContentServer;
use catalogd::store::Store;
use clap::Parser;
use oci::{ImageStore, RegistryOptions};
use tokio::sync::watch;

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
    #[arg(long, default_value = "0.0.0.0:8083")]
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
    #[arg(long, default_value = "0.0.0.0:8080")]
    metrics_bind_address: SocketAddr,
    /// Listen address for `/healthz` and `/readyz`.
    #[arg(long, default_value = "0.0.0.0:8081")]
    health_probe_bind_address: SocketAddr,
    /// Elect a leader among replicas with a Lease; only the leader polls and writes status.
    #[arg(long)]
    leader_elect: bool,
    /// Name of the Lease used for leader election (in --namespace).
    #[arg(long, default_value = "catalogd-operator-lock")]
    leader_election_id: String,
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
    let gc_interval: Duration = args
        .gc_interval
        .parse::<kube::core::Duration>()
        .map_err(|e| anyhow::anyhow!("--gc-interval {:?}: {e}", args.gc_interval))?
        .into();

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

    let leader = if args.leader_elect {
        let identity = std::env::var("POD_NAME")
            .unwrap_or_else(|_| format!("catalogd-{}", std::process::id()));
        let manager =
            kube_lease_manager::LeaseManagerBuilder::new(client.clone(), &args.leader_election_id)
                .with_namespace(&args.namespace)
                .with_identity(identity)
                .build()
                .await
                .context("setting up leader election")?;
        let (rx, task) = manager.watch().await;
        tokio::spawn(async move {
            if let Ok(Err(e)) = task.await {
                // Losing the lease machinery means we can no longer know who leads; stop, as
                // kube-controller-manager does, and let the Deployment restart us.
                tracing::error!("leader election failed: {e}");
                std::process::exit(1);
            }
        });
        rx
    } else {
        watch::channel(true).1
    };

    let ctx = Arc::new(
        Context::new(
            client,
            store.clone(),
            images,
            args.storage_dir.join("unpack"),
            args.namespace.clone(),
            args.http_external_address.clone(),
            leader,
        )
        .with_selector(args.catalog_selector.clone()),
    );

    let content = ContentServer::new(store).router();
    let content_server = serve(
        args.catalogs_server_addr,
        content,
        args.tls_cert,
        args.tls_key,
    );
    let probes = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(|| async { "ok" }));
    let probe_server = serve(args.health_probe_bind_address, probes, None, None);
    let metrics = Router::new().route("/metrics", get(catalogd::metrics::render));
    let metrics_server = serve(args.metrics_bind_address, metrics, None, None);

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
    tokio::select! {
        () = controller::run(ctx, shutdown) => {}
        r = content_server => r?,
        r = probe_server => r?,
        r = metrics_server => r?,
    }
    Ok(())
}

async fn serve(
    addr: SocketAddr,
    app: Router,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
) -> Result<()> {
    match (cert, key) {
        (Some(cert), Some(key)) => {
            let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(&cert, &key)
                .await
                .with_context(|| format!("loading TLS certificate {}", cert.display()))?;
            tracing::info!("serving https on {addr}");
            axum_server::bind_rustls(addr, tls)
                .serve(app.into_make_service())
                .await
                .with_context(|| format!("serving on {addr}"))
        }
        _ => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("binding {addr}"))?;
            tracing::info!("serving http on {addr}");
            axum::serve(listener, app)
                .await
                .with_context(|| format!("serving on {addr}"))
        }
    }
}
