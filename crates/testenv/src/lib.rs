//! Real services for tests: a control plane (etcd + kube-apiserver), a loopback OCI
//! registry (Debian's `docker-registry`) and git servers (`file://`, `git daemon`, HTTPS).
//!
//! Nothing here is a mock: tests talk to the same binaries users run against.

pub mod cluster;
pub mod controlplane;
pub mod fixtures;
pub mod git;
pub mod process;
pub mod registry;
pub mod tls;

pub use cluster::{Cluster, cluster, unique_name};

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
