//! The flags every controller binary takes, as clap groups to `#[command(flatten)]`, and
//! their resolution into a [`RuntimeConfig`] (ripgrep's low-level args → high-level args).
//!
//! Names, defaults and environment variables are upstream's. The two defaults that name the
//! controller (`--namespace`, `--leader-election-id`) are set by the binary:
//!
//! ```ignore
//! #[derive(clap::Parser)]
//! #[command(
//!     mut_arg("namespace", |a| a.default_value("catalogd-system")),
//!     mut_arg("leader_election_id", |a| a.default_value("catalogd-operator-lock")),
//! )]
//! struct Args {
//!     #[command(flatten)]
//!     runtime: controller_runtime::RuntimeArgs,
//! }
//! ```

use std::net::SocketAddr;
use std::time::Duration;

use crate::events::identity;
use crate::flag::{DurationError, go_duration, listen_addr};
use crate::leader::LeaderElectionConfig;
use crate::listen::SHUTDOWN_GRACE;
use crate::process::LogFormat;

/// `--namespace`, the metrics and probe addresses, and leader election.
#[derive(clap::Args, Debug, Clone)]
pub struct RuntimeArgs {
    /// Namespace the controller runs in; its Lease lives here.
    #[arg(long, env = "POD_NAMESPACE", required = false)]
    pub namespace: String,
    #[command(flatten)]
    pub endpoints: EndpointArgs,
    #[command(flatten)]
    pub leader_election: LeaderElectionArgs,
    /// Log line format on stderr: text (coloured only on a terminal) or json (one object
    /// per line).
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// Where `/metrics` and the probes are served.
#[derive(clap::Args, Debug, Clone)]
pub struct EndpointArgs {
    /// Listen address for Prometheus metrics (`/metrics`).
    #[arg(long, default_value = ":8080", value_parser = listen_addr)]
    pub metrics_bind_address: SocketAddr,
    /// Listen address for `/healthz` and `/readyz`.
    #[arg(long, default_value = ":8081", value_parser = listen_addr)]
    pub health_probe_bind_address: SocketAddr,
}

/// controller-runtime's leader-election flags.
#[derive(clap::Args, Debug, Clone)]
pub struct LeaderElectionArgs {
    /// Elect a leader among replicas with a Lease; only the leader reconciles fully.
    #[arg(long)]
    pub leader_elect: bool,
    /// Name of the Lease used for leader election (in --namespace).
    #[arg(long, required = false)]
    pub leader_election_id: String,
    /// How long the Lease stays valid after its last renewal (Go duration, whole seconds).
    #[arg(long, default_value = "15s")]
    pub leader_election_lease_duration: String,
    /// How long before expiry the leader renews the Lease (Go duration, whole seconds).
    #[arg(long, default_value = "5s")]
    pub leader_election_renew_grace: String,
}

/// The runtime's settings, resolved from [`RuntimeArgs`] and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeConfig {
    /// The controller's name: Events' `reportingController`, the field-manager prefix.
    pub controller: String,
    /// This replica's identity (`$POD_NAME`, or `<controller>-<pid>`).
    pub identity: String,
    pub namespace: String,
    pub metrics_addr: SocketAddr,
    pub probes_addr: SocketAddr,
    /// `None` without `--leader-elect`: this replica always leads.
    pub election: Option<LeaderElectionConfig>,
    /// How long responses in flight may take once stopping starts.
    pub grace: Duration,
}

impl RuntimeArgs {
    /// The settings for `controller`; fails on a duration that is not Go's.
    pub fn resolve(&self, controller: &str) -> Result<RuntimeConfig, DurationError> {
        let identity = identity(controller);
        let election = self
            .leader_election
            .resolve(&self.namespace, &identity, controller)?;
        Ok(RuntimeConfig {
            controller: controller.to_owned(),
            identity,
            namespace: self.namespace.clone(),
            metrics_addr: self.endpoints.metrics_bind_address,
            probes_addr: self.endpoints.health_probe_bind_address,
            election,
            grace: SHUTDOWN_GRACE,
        })
    }
}

impl LeaderElectionArgs {
    fn resolve(
        &self,
        namespace: &str,
        identity: &str,
        controller: &str,
    ) -> Result<Option<LeaderElectionConfig>, DurationError> {
        if !self.leader_elect {
            return Ok(None);
        }
        let mut config = LeaderElectionConfig::new(&self.leader_election_id, namespace, identity)
            .for_controller(controller);
        config.lease_duration = go_duration(
            "--leader-election-lease-duration",
            &self.leader_election_lease_duration,
        )?;
        config.renew_grace = go_duration(
            "--leader-election-renew-grace",
            &self.leader_election_renew_grace,
        )?;
        Ok(Some(config))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    #[command(
        mut_arg("namespace", |a| a.default_value("demo-system")),
        mut_arg("leader_election_id", |a| a.default_value("demo-lock")),
    )]
    struct DemoArgs {
        #[command(flatten)]
        runtime: RuntimeArgs,
    }

    fn parse(args: &[&str]) -> Result<DemoArgs, clap::Error> {
        DemoArgs::try_parse_from(std::iter::once("demo").chain(args.iter().copied()))
    }

    #[test]
    fn defaults_are_upstreams_and_the_binarys() {
        let args = parse(&[]).unwrap().runtime;
        // POD_NAMESPACE may be set where tests run; the flag's default is what matters.
        if std::env::var_os("POD_NAMESPACE").is_none() {
            assert_eq!(args.namespace, "demo-system");
        }
        let config = args.resolve("demo").unwrap();
        assert_eq!(config.metrics_addr, "0.0.0.0:8080".parse().unwrap());
        assert_eq!(config.probes_addr, "0.0.0.0:8081".parse().unwrap());
        assert_eq!(config.election, None);
        assert_eq!(config.grace, Duration::from_secs(30));
        assert_eq!(config.controller, "demo");
    }

    #[test]
    fn log_format_is_text_or_json() {
        assert_eq!(parse(&[]).unwrap().runtime.log_format, LogFormat::Text);
        let args = parse(&["--log-format", "json"]).unwrap().runtime;
        assert_eq!(args.log_format, LogFormat::Json);
        let err = parse(&["--log-format=xml"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::InvalidValue);
    }

    #[test]
    fn leader_election_resolves_durations_and_the_field_manager() {
        let args = parse(&[
            "--namespace=ns",
            "--leader-elect",
            "--leader-election-lease-duration=1m",
            "--metrics-bind-address=127.0.0.1:9090",
        ])
        .unwrap()
        .runtime;
        let config = args.resolve("demo").unwrap();
        assert_eq!(config.metrics_addr, "127.0.0.1:9090".parse().unwrap());
        let election = config.election.unwrap();
        assert_eq!(election.lease_name, "demo-lock");
        assert_eq!(election.namespace, "ns");
        assert_eq!(election.identity, config.identity);
        assert_eq!(election.field_manager, format!("demo-{}", config.identity));
        assert_eq!(election.lease_duration, Duration::from_secs(60));
        assert_eq!(election.renew_grace, Duration::from_secs(5));
    }

    #[test]
    fn a_bad_duration_fails_resolution_and_a_bad_address_fails_parsing() {
        let args = parse(&["--leader-elect", "--leader-election-renew-grace=5"])
            .unwrap()
            .runtime;
        let err = args.resolve("demo").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("--leader-election-renew-grace \"5\": "),
            "{err}"
        );
        // Without --leader-elect the election flags are not looked at.
        let args = parse(&["--leader-election-renew-grace=5"]).unwrap().runtime;
        assert!(args.resolve("demo").is_ok());
        let err = parse(&["--health-probe-bind-address", "8081"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::ValueValidation);
    }
}
