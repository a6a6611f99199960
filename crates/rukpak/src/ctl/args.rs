//! The flags of `rukpakctl`, upstream's names and defaults, plus `--address` and `--timeout`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use olm_api::bundle::PROVISIONER_PLAIN;

use super::CtlError;
use super::content::ContentRequest;
use super::convert::ConvertRequest;
use super::run::RunRequest;

const DEFAULT_NAMESPACE: &str = "rukpak-system";
/// Our binary keeps its CA in the serving-certificate Secret (upstream: `rukpak-ca`).
const DEFAULT_CA_SECRET: &str = "rukpak-tls";

#[derive(Debug, Parser)]
#[command(
    name = "rukpakctl",
    version,
    about = "Run a bundle from a local directory, and read the content of Bundles, on a cluster running RukPak"
)]
pub struct CtlArgs {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a bundle from an upload of a local bundle directory: apply the BundleDeployment
    /// <BUNDLE_DEPLOYMENT> with an upload source, wait for its Bundle, and upload <BUNDLE_DIR>.
    /// Running it again with changed files pivots to a new Bundle.
    Run(RunArgs),
    /// List the files of an unpacked Bundle, read from RukPak's content server.
    Content(ContentArgs),
    /// Print the plain manifests a registry+v1 bundle directory converts to, as one YAML
    /// stream, in the order they are installed. No cluster is needed.
    Convert(ConvertArgs),
}

#[derive(Debug, clap::Args)]
struct ConvertArgs {
    bundle_dir: PathBuf,
    /// The namespace the operator is installed in. Default: the CSV's suggested namespace,
    /// else `<package>-system`.
    #[arg(long = "install-namespace", default_value = "")]
    install_namespace: String,
    /// The namespaces the operator watches, comma-separated. Default: all namespaces when the
    /// CSV supports it, else the install namespace.
    #[arg(long = "watch-namespaces", value_delimiter = ',')]
    watch_namespaces: Vec<String>,
    /// Serving certificates from `builtin` (RukPak's CA: Secrets are issued at install) or
    /// `cert-manager` (Certificate objects are printed).
    #[arg(long, default_value = "builtin", value_parser = ["builtin", "cert-manager"])]
    certificates: String,
}

#[derive(Debug, clap::Args)]
struct Server {
    /// Connect to the server at HOST:PORT instead of port-forwarding to its Service (the
    /// certificate is still checked for the Service's name).
    #[arg(long)]
    address: Option<String>,
    /// The Secret in the system namespace whose `ca.crt` signs the server's certificate.
    #[arg(long = "ca-secret-name", default_value = DEFAULT_CA_SECRET)]
    ca_secret_name: String,
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    bundle_deployment: String,
    bundle_dir: PathBuf,
    /// The namespace in which the RukPak controllers are deployed.
    #[arg(long = "system-namespace", default_value = DEFAULT_NAMESPACE)]
    system_namespace: String,
    /// The name of the Service of the upload server.
    #[arg(long = "upload-service-name", default_value = "core")]
    upload_service_name: String,
    /// Provisioner class name to set on the BundleDeployment.
    #[arg(long = "bundle-deployment-provisioner-class", default_value = PROVISIONER_PLAIN)]
    bundle_deployment_provisioner_class: String,
    /// Provisioner class name to set on the Bundle.
    #[arg(long = "bundle-provisioner-class", default_value = PROVISIONER_PLAIN)]
    bundle_provisioner_class: String,
    /// How long to wait for the BundleDeployment's Bundle to appear, in seconds.
    #[arg(long = "timeout", default_value_t = 120)]
    timeout_seconds: u64,
    #[command(flatten)]
    server: Server,
}

#[derive(Debug, clap::Args)]
struct ContentArgs {
    bundle: String,
    /// The namespace in which the RukPak controllers are deployed (the CA Secret's).
    #[arg(long, default_value = DEFAULT_NAMESPACE)]
    namespace: String,
    #[command(flatten)]
    server: Server,
}

impl CtlArgs {
    /// Runs the command against the cluster of the current kubeconfig context.
    pub async fn run(self) -> Result<(), CtlError> {
        if let Command::Convert(a) = self.command {
            let request = ConvertRequest {
                bundle_dir: a.bundle_dir,
                install_namespace: a.install_namespace,
                watch_namespaces: a.watch_namespaces,
                cert_manager: a.certificates == "cert-manager",
            };
            return request.run(&mut std::io::stdout().lock());
        }
        let config = kube::Config::infer()
            .await
            .map_err(|e| CtlError::Kubeconfig(e.to_string()))?;
        let kube = kube::Client::try_from(config.clone())
            .map_err(|e| CtlError::Kubeconfig(e.to_string()))?;
        let mut stdout = std::io::stdout().lock();
        match self.command {
            Command::Run(a) => {
                let request = RunRequest {
                    bundle_deployment: a.bundle_deployment,
                    bundle_dir: a.bundle_dir,
                    namespace: a.system_namespace,
                    upload_service: a.upload_service_name,
                    ca_secret: a.server.ca_secret_name,
                    address: a.server.address,
                    deployment_class: a.bundle_deployment_provisioner_class,
                    bundle_class: a.bundle_provisioner_class,
                    timeout: Duration::from_secs(a.timeout_seconds),
                };
                request.run(&kube, &config, &mut stdout).await
            }
            Command::Content(a) => {
                let request = ContentRequest {
                    bundle: a.bundle,
                    namespace: a.namespace,
                    ca_secret: a.server.ca_secret_name,
                    address: a.server.address,
                };
                request.run(&kube, &config, &mut stdout).await
            }
            Command::Convert(_) => unreachable!("handled before connecting"),
        }
    }
}
