//! `rukpakctl`: upstream's developer CLI, without its in-cluster helpers.
//!
//! - `args`: the flags, parsed and run ([`CtlArgs::run`]).
//! - `run`: apply a BundleDeployment whose template uploads a local directory, then upload it.
//! - `convert`: print what a registry+v1 bundle directory converts to.
//! - `content`: list the files of an unpacked Bundle, read from the content server.
//! - `connect`: the CA, a bearer token and a route (port-forward or `--address`) to the server.
//! - `archive`: the deterministic `.tgz` `run` uploads.

mod archive;
mod args;
mod connect;
mod content;
mod convert;
mod run;

pub use archive::{Archive, ArchiveError, archive_dir};
pub use args::CtlArgs;

/// Why a `rukpakctl` command failed. Each message says what was being done.
#[derive(Debug, thiserror::Error)]
pub enum CtlError {
    #[error("{action}: {source}")]
    Kube {
        action: String,
        #[source]
        source: kube::Error,
    },
    #[error("loading the kubeconfig: {0}")]
    Kubeconfig(String),
    #[error(
        "secret {secret} holds no \"ca.crt\"; is RukPak running, and is --ca-secret-name right?"
    )]
    NoCa { secret: String },
    #[error("the API server issued no token for serviceaccount {0}")]
    NoToken(String),
    #[error("{}", chain(.0))]
    Http(reqwest::Error),
    #[error("--address {0}: not a reachable HOST:PORT")]
    BadAddress(String),
    #[error(
        "service {0} has no ready endpoint to port-forward to; pass --address HOST:PORT to reach the server directly"
    )]
    NoEndpoint(String),
    #[error("port-forward: {0}")]
    Forward(#[source] std::io::Error),
    #[error("bundle {0:?} not found")]
    BundleNotFound(String),
    #[error(
        "bundle {bundle:?} has no content URL yet (phase {phase:?}); wait until it is Unpacked"
    )]
    NoContentUrl { bundle: String, phase: String },
    #[error("{method} {url}: {status}: {body}")]
    Server {
        method: &'static str,
        url: String,
        status: reqwest::StatusCode,
        body: String,
    },
    #[error("reading the content of bundle {bundle:?}: {source}")]
    Content {
        bundle: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    #[error(
        "no Bundle of bundledeployment {bundle_deployment:?} appeared within {seconds}s; is a BundleDeployment controller for provisioner class {class:?} running?"
    )]
    NoBundle {
        bundle_deployment: String,
        class: String,
        seconds: u64,
    },
    #[error("{bundle}: {source}")]
    Convert {
        bundle: String,
        #[source]
        source: registry_convert::ConvertError,
    },
    #[error("writing output: {0}")]
    Output(#[source] std::io::Error),
}

/// `error: cause: cause`, for errors whose own message leaves the cause out (reqwest's).
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
