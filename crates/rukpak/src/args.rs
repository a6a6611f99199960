//! RukPak's command line: parsed by clap, resolved into a checked [`Config`], then run on a
//! [`controller_runtime::Manager`]: the Bundle controller, the content and upload server and
//! the admission webhooks in one process.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bundle_sources::{GitOptions, Sources};
use clap::Parser;
use controller_runtime::{
    CertError, DurationError, Listener, Manager, MetricsEndpoint, RuntimeArgs, RuntimeConfig,
    ServingCertConfig, ServingCertificate, go_duration, listen_addr,
};
use oci::{ImageStore, RegistryOptions};
use prometheus_client::registry::Registry;

use crate::access::Access;
use crate::bundle_deployment::{DeploymentContext, run_bundle_deployment_controller};
use crate::controller::{self, Context, FIELD_MANAGER};
use crate::metrics::Metrics;
use crate::server::ContentServer;
use crate::store::{Store, StoreError};
use crate::upload::{UploadError, Uploads};
use crate::webhook::Webhooks;
use registry_convert::CertificateMode;

pub(crate) const DEFAULT_NAMESPACE: &str = "rukpak-system";

/// `https://core.<namespace>.svc`, where upstream's content Service answers.
pub(crate) fn default_external_address(namespace: &str) -> String {
    format!("https://core.{namespace}.svc")
}

/// RukPak's flags: upstream's names and defaults where upstream has the flag.
#[derive(Parser, Debug)]
#[command(
    name = "rukpak",
    version,
    about = "Unpacks Bundles, serves their content and validates Bundles and ConfigMaps",
    mut_arg("namespace", |a| a
        .default_value(DEFAULT_NAMESPACE)
        .help("The system namespace: pull secrets, git and http auth Secrets and ConfigMaps of sources are read from here")),
    mut_arg("leader_election_id", |a| a.default_value("core.rukpak.io")),
    mut_arg("leader_elect", |a| a
        .help("Elect a leader among replicas with a Lease; only the leader unpacks Bundles")),
)]
pub struct Args {
    #[command(flatten)]
    runtime: RuntimeArgs,
    /// Where unpacked content, uploads and the image blob cache are kept.
    #[arg(long, default_value = "/var/cache/rukpak")]
    storage_dir: PathBuf,
    /// Listen address of the content and upload server (TLS).
    #[arg(long, default_value = ":8443", value_parser = listen_addr)]
    http_bind_address: SocketAddr,
    /// Base URL clients use to reach the content server; `status.contentURL` is
    /// `<this>/bundles/<name>.tgz`. Default: `https://core.<namespace>.svc`.
    #[arg(long)]
    http_external_address: Option<String>,
    /// Listen address of the admission webhooks (TLS).
    #[arg(long, default_value = ":9443", value_parser = listen_addr)]
    webhook_bind_address: SocketAddr,
    /// Serve with `tls.crt` and `tls.key` from this directory (cert-manager, OpenShift's
    /// service CA) instead of the built-in CA; `caBundle`s are then left to that tool.
    #[arg(long)]
    tls_cert_dir: Option<PathBuf>,
    /// Secret (in --namespace) holding the built-in CA and serving certificate.
    #[arg(long, default_value = "rukpak-tls")]
    cert_secret_name: String,
    /// Services the serving certificate is for: `<name>.<namespace>.svc` and
    /// `<name>.<namespace>.svc.cluster.local` each.
    #[arg(long = "service-name", default_values = ["core", "rukpak-webhook-service"])]
    service_names: Vec<String>,
    /// Extra IP addresses in the serving certificate (a webhook reached by URL).
    #[arg(long = "cert-ip-address")]
    cert_ip_addresses: Vec<IpAddr>,
    /// ValidatingWebhookConfigurations whose `caBundle` the built-in CA keeps current.
    #[arg(long = "webhook-configuration", default_values = ["rukpak-validating-webhook-configuration"])]
    webhook_configurations: Vec<String>,
    /// Lifetime of a serving certificate; renewed with a third left.
    #[arg(long, default_value = "8760h")]
    cert_validity: String,
    /// Lifetime of the built-in CA; renewed with a third left.
    #[arg(long, default_value = "87600h")]
    ca_validity: String,
    /// How often the serving certificate is checked for renewal.
    #[arg(long, default_value = "1m")]
    cert_check_interval: String,
    /// Only handle Bundles and BundleDeployments matching this label selector.
    #[arg(long)]
    bundle_selector: Option<String>,
    /// Extra CA certificates (PEM) trusted for registries.
    #[arg(long)]
    registry_ca_file: Option<PathBuf>,
    /// Talk plain HTTP to every registry (test registries only).
    #[arg(long)]
    registry_use_http: bool,
    /// Extra CA certificates (PEM) trusted by the http and git (https) sources.
    #[arg(long)]
    source_ca_file: Option<PathBuf>,
    /// Largest upload accepted, in bytes.
    #[arg(long, default_value_t = 256 << 20)]
    max_upload_bytes: u64,
    /// How often content and uploads of deleted Bundles are removed (Go duration).
    #[arg(long, default_value = "1m")]
    upload_storage_sync_interval: String,
    /// Serve content and accept uploads without checking the client's token. Only for a
    /// content server nobody else can reach.
    #[arg(long)]
    insecure_content_access: bool,
    /// Who issues the serving certificates of webhooks and API services that registry+v1
    /// bundles install: `builtin` (RukPak's own CA) or `cert-manager` (Certificate objects).
    #[arg(long, default_value = "builtin", value_parser = ["builtin", "cert-manager"])]
    bundle_certificates: String,
}

/// What RukPak runs with, once the flags are checked and files read.
#[derive(Debug)]
pub struct Config {
    runtime: RuntimeConfig,
    storage_dir: PathBuf,
    content_addr: SocketAddr,
    webhook_addr: SocketAddr,
    external_address: String,
    certificate: CertificateSource,
    /// How often the certificate (built-in or from files) is checked.
    cert_check_interval: Duration,
    selector: Option<String>,
    registry: RegistryOptions,
    source_ca_pem: Option<String>,
    max_upload_bytes: u64,
    gc_interval: Duration,
    insecure_content_access: bool,
    bundle_certificates: CertificateMode,
}

/// Where the serving certificate comes from.
#[derive(Debug)]
enum CertificateSource {
    Files { cert: PathBuf, key: PathBuf },
    BuiltIn(ServingCertConfig),
}

/// Why RukPak could not start or stopped with an error.
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
    Store(#[from] StoreError),
    #[error(transparent)]
    Upload(#[from] UploadError),
    #[error("image store: {0}")]
    Images(#[from] oci::ImageError),
    #[error("sources: {0}")]
    Sources(#[from] bundle_sources::SourceError),
    #[error(transparent)]
    Certificate(#[from] CertError),
    #[error(transparent)]
    Runtime(#[from] controller_runtime::Error),
}

fn read_pem(path: Option<&PathBuf>) -> Result<Option<String>, RunError> {
    path.map(|path| {
        std::fs::read_to_string(path).map_err(|source| RunError::ReadCa {
            path: path.clone(),
            source,
        })
    })
    .transpose()
}

impl Args {
    /// Checks the flags and reads CA files; nothing is contacted yet.
    pub fn resolve(self) -> Result<Config, RunError> {
        let runtime = self.runtime.resolve(FIELD_MANAGER)?;
        let namespace = runtime.namespace.clone();
        let cert_check_interval = go_duration("--cert-check-interval", &self.cert_check_interval)?;
        let certificate = match self.tls_cert_dir {
            Some(dir) => CertificateSource::Files {
                cert: dir.join("tls.crt"),
                key: dir.join("tls.key"),
            },
            None => CertificateSource::BuiltIn(ServingCertConfig {
                dns_names: self
                    .service_names
                    .iter()
                    .flat_map(|s| {
                        [
                            format!("{s}.{namespace}.svc"),
                            format!("{s}.{namespace}.svc.cluster.local"),
                        ]
                    })
                    .collect(),
                ip_addresses: self.cert_ip_addresses,
                cert_validity: go_duration("--cert-validity", &self.cert_validity)?,
                ca_validity: go_duration("--ca-validity", &self.ca_validity)?,
                check_interval: cert_check_interval,
                webhook_configurations: self.webhook_configurations,
                ..ServingCertConfig::new(&namespace, &self.cert_secret_name, "rukpak")
            }),
        };
        Ok(Config {
            storage_dir: self.storage_dir,
            content_addr: self.http_bind_address,
            webhook_addr: self.webhook_bind_address,
            external_address: self
                .http_external_address
                .unwrap_or_else(|| default_external_address(&namespace)),
            certificate,
            cert_check_interval,
            selector: self.bundle_selector,
            registry: RegistryOptions {
                use_http: self.registry_use_http,
                ca_pem: read_pem(self.registry_ca_file.as_ref())?,
                ..RegistryOptions::default()
            },
            source_ca_pem: read_pem(self.source_ca_file.as_ref())?,
            max_upload_bytes: self.max_upload_bytes,
            gc_interval: go_duration(
                "--upload-storage-sync-interval",
                &self.upload_storage_sync_interval,
            )?,
            insecure_content_access: self.insecure_content_access,
            bundle_certificates: match self.bundle_certificates.as_str() {
                "cert-manager" => CertificateMode::CertManager,
                _ => CertificateMode::BuiltIn,
            },
            runtime,
        })
    }

    /// Resolves the flags and runs RukPak until SIGTERM.
    pub async fn run(self) -> Result<(), RunError> {
        self.resolve()?.run().await
    }
}

impl Config {
    /// Connects, joins the election, serves content, uploads, webhooks, probes and metrics,
    /// and reconciles Bundles while leading, until SIGTERM.
    pub async fn run(self) -> Result<(), RunError> {
        let mut manager = Manager::connect(self.runtime).await?;
        let client = manager.client();
        let namespace = manager.config().namespace.clone();
        let (tls, authority) = match self.certificate {
            CertificateSource::Files { cert, key } => (
                controller_runtime::watched_files(cert, key, self.cert_check_interval).await?,
                None,
            ),
            CertificateSource::BuiltIn(config) => {
                let certificate = ServingCertificate::ensure(&client, &config).await?;
                tokio::spawn(certificate.clone().keep_fresh(client.clone(), config));
                (certificate.tls(), Some(certificate))
            }
        };
        let store = Store::open(&self.storage_dir)?;
        let uploads = Uploads::open(&self.storage_dir, store.scratch(), self.max_upload_bytes)?;
        let images = ImageStore::new(self.storage_dir.join("blobs"), self.registry)?;
        let mut sources =
            Sources::new(&namespace, images, uploads.dir()).with_git_options(GitOptions {
                ca_pem: self.source_ca_pem.clone().map(String::into_bytes),
                work_dir: Some(store.scratch().to_owned()),
                ..GitOptions::default()
            });
        if let Some(pem) = &self.source_ca_pem {
            sources = sources.with_http_ca_pem(pem)?;
        }
        let access = if self.insecure_content_access {
            Access::open()
        } else {
            Access::kubernetes(client.clone())
        };
        let content = ContentServer::new(store.clone(), uploads.clone(), access, client.clone());
        manager.serve(
            Listener {
                tls: Some(tls.clone()),
                ..Listener::plain(self.content_addr)
            },
            content.router(),
        );
        manager.serve(
            Listener {
                tls: Some(tls),
                ..Listener::plain(self.webhook_addr)
            },
            Webhooks::new(client.clone(), &namespace).router(),
        );
        let mut leading = manager.elect().await?;
        let metrics = Metrics::default();
        let mut registry = Registry::default();
        metrics.register(&mut registry);
        let (deployments, drift) = DeploymentContext::new(
            client.clone(),
            store.clone(),
            &namespace,
            self.selector.clone(),
        );
        let deployments = Arc::new(
            deployments
                .certificate_authority(authority)
                .certificate_mode(self.bundle_certificates),
        );
        let ctx = Arc::new(
            Context::new(client, store, uploads, sources, &namespace)
                .external_address(&self.external_address)
                .selector(self.selector)
                .instance(&manager.config().identity)
                .metrics(metrics),
        );
        let gc_interval = self.gc_interval;
        manager
            .run(MetricsEndpoint::new(registry), |shutdown| async move {
                let shutdown = futures::FutureExt::shared(shutdown);
                // Followers serve webhooks; only the leader unpacks.
                tokio::select! {
                    _ = leading.wait_for(|l| *l) => {}
                    () = shutdown.clone() => return,
                }
                let gc_ctx = ctx.clone();
                tokio::spawn(controller_runtime::sweep_every(
                    gc_interval,
                    "contents and uploads of deleted bundles",
                    move || {
                        let ctx = gc_ctx.clone();
                        async move { controller::collect_garbage(&ctx).await }
                    },
                ));
                tokio::join!(
                    controller::run_controller(ctx, shutdown.clone()),
                    run_bundle_deployment_controller(deployments, drift, shutdown),
                );
            })
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Args {
        Args::try_parse_from(std::iter::once("rukpak").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn defaults_follow_upstreams_deployment() {
        let config = parse(&[]).resolve().unwrap();
        assert_eq!(config.storage_dir, PathBuf::from("/var/cache/rukpak"));
        assert_eq!(config.content_addr, "0.0.0.0:8443".parse().unwrap());
        assert_eq!(config.webhook_addr, "0.0.0.0:9443".parse().unwrap());
        assert_eq!(config.external_address, "https://core.rukpak-system.svc");
        assert_eq!(config.runtime.controller, "rukpak");
        let CertificateSource::BuiltIn(cert) = config.certificate else {
            panic!("built-in CA by default");
        };
        assert_eq!(cert.secret_name, "rukpak-tls");
        assert_eq!(
            cert.dns_names,
            [
                "core.rukpak-system.svc",
                "core.rukpak-system.svc.cluster.local",
                "rukpak-webhook-service.rukpak-system.svc",
                "rukpak-webhook-service.rukpak-system.svc.cluster.local"
            ]
        );
        assert_eq!(
            cert.webhook_configurations,
            ["rukpak-validating-webhook-configuration"]
        );
        assert_eq!(config.gc_interval, Duration::from_secs(60));
    }

    #[test]
    fn the_namespace_moves_the_content_address_and_certificate_names() {
        let config = parse(&["--namespace=olm", "--leader-elect"])
            .resolve()
            .unwrap();
        assert_eq!(config.external_address, "https://core.olm.svc");
        assert_eq!(
            config.runtime.election.unwrap().lease_name,
            "core.rukpak.io"
        );
    }

    #[test]
    fn a_certificate_directory_replaces_the_built_in_ca() {
        let config = parse(&["--tls-cert-dir=/certs"]).resolve().unwrap();
        assert!(matches!(
            config.certificate,
            CertificateSource::Files { ref cert, .. } if cert == &PathBuf::from("/certs/tls.crt")
        ));
    }

    #[test]
    fn bad_values_name_their_flag() {
        let err = parse(&["--cert-validity=year"]).resolve().unwrap_err();
        assert!(
            err.to_string().starts_with("--cert-validity \"year\": "),
            "{err}"
        );
        let err = parse(&["--source-ca-file=/nonexistent.pem"])
            .resolve()
            .unwrap_err();
        assert_eq!(err.to_string(), "reading /nonexistent.pem");
    }
}
