//! catalogd's command line: parsed by clap, resolved into a checked [`Config`], then run
//! on a [`controller_runtime::Manager`].

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use controller_runtime::{
    DurationError, Listener, Manager, MetricsEndpoint, RuntimeArgs, RuntimeConfig, Tls,
    go_duration, listen_addr,
};
use oci::RegistryOptions;
use prometheus_client::registry::Registry;

use crate::controller::{self, Context, FIELD_MANAGER, Storage, StorageError};
use crate::metrics::Metrics;
use crate::server::ContentServer;

pub(crate) const DEFAULT_NAMESPACE: &str = "catalogd-system";
pub(crate) const DEFAULT_EXTERNAL_ADDRESS: &str =
    "http://catalogd-catalogserver.catalogd-system.svc";

/// catalogd's flags: upstream's names, defaults and environment variables.
#[derive(Parser, Debug)]
#[command(
    name = "catalogd",
    version,
    about = "Unpacks Catalog images and serves their content",
    mut_arg("namespace", |a| a
        .default_value(DEFAULT_NAMESPACE)
        .help("Namespace catalogd runs in; pull secrets are read from here")),
    mut_arg("leader_election_id", |a| a.default_value("catalogd-operator-lock")),
    mut_arg("leader_elect", |a| a
        .help("Elect a leader among replicas with a Lease; only the leader polls and writes status")),
)]
pub struct Args {
    #[command(flatten)]
    runtime: RuntimeArgs,
    /// Where unpacked catalogs and the blob cache are kept.
    #[arg(long, default_value = "/var/cache/catalogd")]
    storage_dir: PathBuf,
    /// Listen address of the catalog content server.
    #[arg(long, default_value = ":8083", value_parser = listen_addr)]
    catalogs_server_addr: std::net::SocketAddr,
    /// Base URL clients use to reach the content server; `status.contentURL` is
    /// `<this>/catalogs/<name>/all.json`.
    #[arg(long, default_value = DEFAULT_EXTERNAL_ADDRESS)]
    http_external_address: String,
    /// Serve content over TLS with this certificate (PEM); needs --tls-key.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// Private key (PEM) for --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
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
    /// Most tar entries one catalog image may hold, counting every layer; a larger image
    /// fails to unpack.
    #[arg(long, default_value_t = crate::unpack::DEFAULT_MAX_ENTRIES,
          value_parser = clap::value_parser!(u64).range(1..))]
    max_catalog_entries: u64,
    /// Most responses streamed from disk (all.json, api/v1/all, large metas bodies) one
    /// client IP address may have in flight; as many more of its requests wait, and any
    /// beyond that get 429 Too Many Requests with Retry-After: 1.
    #[arg(long, default_value_t = crate::clients::DEFAULT_MAX_PER_CLIENT)]
    max_requests_per_client: NonZeroUsize,
}

/// What catalogd runs with, once the flags are checked and files read.
#[derive(Debug)]
pub struct Config {
    runtime: RuntimeConfig,
    storage_dir: PathBuf,
    content: Listener,
    external_address: String,
    selector: Option<String>,
    gc_interval: Duration,
    registry: RegistryOptions,
    max_catalog_entries: u64,
    max_requests_per_client: NonZeroUsize,
}

/// Why catalogd could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Duration(#[from] DurationError),
    #[error("reading {}", .path.display())]
    ReadCa {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Runtime(#[from] controller_runtime::Error),
}

impl Args {
    /// Checks the flags and reads the registry CA file; nothing is contacted yet.
    pub fn resolve(self) -> Result<Config, RunError> {
        let gc_interval = go_duration("--gc-interval", &self.gc_interval)?;
        let runtime = self.runtime.resolve(FIELD_MANAGER)?;
        let ca_pem = match &self.registry_ca_file {
            Some(path) => {
                Some(
                    std::fs::read_to_string(path).map_err(|source| RunError::ReadCa {
                        path: path.clone(),
                        source,
                    })?,
                )
            }
            None => None,
        };
        Ok(Config {
            runtime,
            storage_dir: self.storage_dir,
            content: Listener {
                tls: Tls::files(self.tls_cert, self.tls_key),
                ..Listener::plain(self.catalogs_server_addr)
            },
            external_address: self.http_external_address,
            selector: self.catalog_selector,
            gc_interval,
            registry: RegistryOptions {
                use_http: self.registry_use_http,
                ca_pem,
                ..RegistryOptions::default()
            },
            max_catalog_entries: self.max_catalog_entries,
            max_requests_per_client: self.max_requests_per_client,
        })
    }

    /// Resolves the flags and runs catalogd until SIGTERM.
    pub async fn run(self) -> Result<(), RunError> {
        self.resolve()?.run().await
    }
}

impl Config {
    /// Connects, joins the election, serves content, probes and metrics, and reconciles
    /// Catalogs until SIGTERM; then steps down and lets downloads in flight finish.
    pub async fn run(self) -> Result<(), RunError> {
        let mut manager = Manager::connect(self.runtime).await?;
        let storage = Storage::open(&self.storage_dir, self.registry)?;
        let leading = manager.elect().await?;
        let metrics = Metrics::default();
        let mut registry = Registry::default();
        metrics.register(&mut registry);
        let endpoint = MetricsEndpoint::new(registry).with_text(metrics.request_durations());
        let content = ContentServer::new(storage.store.clone())
            .with_metrics(&metrics)
            .with_max_requests_per_client(self.max_requests_per_client);
        manager.serve(self.content, content.router());
        let ctx = Arc::new(
            Context::builder(manager.client(), storage)
                .namespace(&manager.config().namespace)
                .external_address(&self.external_address)
                .leader(leading)
                .selector(self.selector)
                .instance(&manager.config().identity)
                .metrics(metrics)
                .max_catalog_entries(self.max_catalog_entries)
                .build(),
        );
        let gc_ctx = ctx.clone();
        tokio::spawn(controller_runtime::sweep_every(
            self.gc_interval,
            "content of deleted catalogs",
            move || {
                let ctx = gc_ctx.clone();
                async move { controller::collect_garbage(&ctx).await }
            },
        ));
        manager
            .run(endpoint, |shutdown| {
                controller::run_controller(ctx, shutdown)
            })
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Args {
        Args::try_parse_from(std::iter::once("catalogd").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn defaults_resolve_to_upstreams_settings() {
        let config = parse(&[]).resolve().unwrap();
        assert_eq!(config.storage_dir, PathBuf::from("/var/cache/catalogd"));
        assert_eq!(config.content.addr, "0.0.0.0:8083".parse().unwrap());
        assert!(config.content.tls.is_none());
        assert_eq!(config.external_address, DEFAULT_EXTERNAL_ADDRESS);
        assert_eq!(config.gc_interval, Duration::from_secs(12 * 3600));
        assert_eq!(config.selector, None);
        assert!(!config.registry.use_http);
        assert_eq!(config.runtime.controller, FIELD_MANAGER);
        assert_eq!(config.runtime.election, None);
        assert_eq!(config.max_catalog_entries, 100_000);
        let config = parse(&["--max-catalog-entries=50"]).resolve().unwrap();
        assert_eq!(config.max_catalog_entries, 50);
        assert_eq!(config.max_requests_per_client.get(), 4);
        let config = parse(&["--max-requests-per-client=16"]).resolve().unwrap();
        assert_eq!(config.max_requests_per_client.get(), 16);
    }

    #[test]
    fn leader_election_uses_catalogds_lease_and_field_manager() {
        let config = parse(&["--leader-elect", "--namespace=ns"])
            .resolve()
            .unwrap();
        let election = config.runtime.election.unwrap();
        assert_eq!(election.lease_name, "catalogd-operator-lock");
        assert_eq!(election.namespace, "ns");
        assert_eq!(
            election.field_manager,
            format!("catalogd-{}", config.runtime.identity)
        );
    }

    #[test]
    fn bad_values_are_reported_with_their_flag() {
        let err = parse(&["--gc-interval=12"]).resolve().unwrap_err();
        assert!(
            err.to_string().starts_with("--gc-interval \"12\": "),
            "{err}"
        );
        let err = parse(&["--registry-ca-file=/nonexistent/ca.pem"])
            .resolve()
            .unwrap_err();
        assert_eq!(err.to_string(), "reading /nonexistent/ca.pem");
        assert!(Args::try_parse_from(["catalogd", "--tls-cert=c.pem"]).is_err());
        assert!(Args::try_parse_from(["catalogd", "--max-catalog-entries=0"]).is_err());
        assert!(Args::try_parse_from(["catalogd", "--max-requests-per-client=0"]).is_err());
    }
}
