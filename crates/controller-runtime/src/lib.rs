//! controller-runtime: what every olm-rs controller binary shares, so catalogd, RukPak and
//! operator-controller start, elect, serve and stop the same way (Go's
//! `sigs.k8s.io/controller-runtime` manager, in the shape of linkerd's policy controller).
//!
//! A binary flattens [`RuntimeArgs`] into its clap `Args`, resolves them into a
//! [`RuntimeConfig`], and hands that to a [`Manager`], which connects, joins the election,
//! serves the probes, `/metrics` and the binary's own routes, runs the controller until
//! SIGTERM, steps down and drains. See `docs/controller-runtime.md`.
//!
//! - `args`: the common flags and their resolution; `flag`: Go-style flag values.
//! - `manager`: the run order; `process`: crypto provider, logging, signals.
//! - `leader`: the Lease election; `events`: the Event recorder and replica identity.
//! - `listen`: serving a router, plain or TLS, with a graceful stop; `stall`: its
//!   write-stall timeout.
//! - `serving_cert`: a self-managed serving certificate (private CA in a Secret, renewal,
//!   hot reload, `caBundle` injection into webhook configurations).
//! - `report`: status by server-side apply, and Events.
//! - `periodic`: housekeeping repeated at an interval (garbage collection).
//! - `backoff`: retry delays after consecutive failures, per object.
//! - `probes` and `metrics`: `/healthz`, `/readyz` and `/metrics` (a registry passed in).

mod args;
mod backoff;
mod events;
mod flag;
mod leader;
mod listen;
mod manager;
mod metrics;
mod periodic;
mod probes;
mod process;
mod report;
mod serving_cert;
mod stall;

pub use args::{EndpointArgs, LeaderElectionArgs, RuntimeArgs, RuntimeConfig};
pub use backoff::Backoff;
pub use events::{identity, recorder};
pub use flag::{DurationError, ListenAddrError, go_duration, listen_addr};
pub use leader::{LeaderElectionConfig, LeaderError, Leadership, always_leader, elect};
pub use listen::{HEADER_READ_TIMEOUT, ListenError, Listener, SHUTDOWN_GRACE, Tls};
pub use manager::{Error, Manager};
pub use metrics::{MetricsEndpoint, TextExposition};
pub use periodic::sweep_every;
pub use probes::probes;
pub use process::{DEFAULT_LOG_FILTER, LogFormat, Shutdown, init_process, terminated};
pub use report::{apply_status, publish_event};
pub use serving_cert::{
    CertError, IssuedCertificate, ServingCertConfig, ServingCertificate, watched_files,
};
pub use stall::WRITE_STALL_TIMEOUT;
