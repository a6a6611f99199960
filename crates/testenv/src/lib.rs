//! The shared test harness. Real services, never mocks: tests talk to the same binaries users
//! run against.
//!
//! - [`cluster()`] and [`Cluster`]: the test run's control plane, or a private one;
//!   [`controlplane::ControlPlane`] starts etcd + kube-apiserver;
//!   [`cluster_with_workloads`] adds kube-controller-manager, kube-scheduler and kwok, so pods
//!   are scheduled onto [`FAKE_NODE`] and become Running and Ready;
//!   [`unique_name`] isolates cluster-scoped objects.
//! - [`registry::Registry`]: a loopback OCI registry (Debian's `docker-registry`), with
//!   skopeo command builders, [`registry::write_oci_layout`] (or
//!   [`registry::write_oci_layout_with_layer`] with a crafted layer such as
//!   [`registry::zeros_layer`]).
//! - [`RegistryEnv`]: a plain-HTTP registry, an image store reaching it and a private home,
//!   with corpus bundles pushed on request ([`PushedBundle`]).
//! - [`FaultProxy`]: a TCP proxy that records requests and can cut connections mid-response.
//! - [`git`]: git repositories and servers (`file://`, `git daemon`, HTTPS with Basic auth).
//! - [`tls::CertificateAuthority`]: a throwaway CA issuing server and client certificates.
//! - [`fixtures`]: the shared corpus of real catalogs and bundles, and upstream `opm`.
//! - [`cli_snapshot!`], [`format_cli_output`] and [`SnapshotFilters`]: insta snapshots of a
//!   command's exit code, stdout and stderr, with paths, digests and times filtered.
//! - [`process::stop_child`], [`install_crypto_provider`], and the missing-component policy
//!   [`unavailable`] / [`in_ci`].

mod cli_snapshot;
mod cluster;
pub mod controlplane;
mod fault_proxy;
pub mod fixtures;
pub mod git;
pub mod process;
pub mod registry;
mod registry_env;
pub mod tls;

pub use cli_snapshot::{SnapshotFilters, format_cli_output};
pub use cluster::{Cluster, cluster, cluster_with_workloads, unique_name};
pub use controlplane::FAKE_NODE;
pub use fault_proxy::FaultProxy;
pub use registry_env::{PushedBundle, RegistryEnv, listed_and_recomputed_diff_ids, with_diff_ids};

/// For [`cli_snapshot!`]: the insta its expansion calls.
#[doc(hidden)]
pub use insta;

/// Installs aws-lc-rs as the process-wide rustls provider. With more than one provider
/// compiled in, rustls has no default and the first TLS handshake panics otherwise.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// Whether this run is CI, where a missing component must fail loudly instead of skipping.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// The policy for a test whose component is missing: fail in CI, skip with a printed
/// reason elsewhere. Returns normally only when skipping, so callers `return` after it.
pub fn unavailable(reason: &str) {
    assert!(
        !in_ci(),
        "required test component is missing in CI: {reason}"
    );
    eprintln!("SKIP: {reason}");
}
