//! The [`Manager`] runs one controller with everything around it, in the order Go's
//! controller-runtime manager does: connect, join the election, serve, run the controller
//! until the process is told to stop, step down, then let responses in flight finish.

use std::future::Future;

use axum::Router;
use futures::future::try_join_all;
use kube::Client;
use kube::runtime::events::Recorder;
use tokio::sync::watch;

use crate::args::RuntimeConfig;
use crate::leader::{self, LeaderError, Leadership};
use crate::listen::{ListenError, Listener};
use crate::metrics::MetricsEndpoint;
use crate::probes::probes;
use crate::process::{Shutdown, terminated};

/// Why a controller process stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("connecting to the Kubernetes API (in-cluster config or KUBECONFIG)")]
    Connect(#[source] kube::Error),
    #[error(transparent)]
    Leader(#[from] LeaderError),
    #[error(transparent)]
    Listen(#[from] ListenError),
    #[error("server task: {0}")]
    ServerTask(#[source] tokio::task::JoinError),
    #[error("a server stopped unexpectedly")]
    ServerStopped,
}

/// One controller process: its client, its place in the election and its servers.
pub struct Manager {
    config: RuntimeConfig,
    client: Client,
    election: Option<Leadership>,
    servers: Vec<(Listener, Router)>,
}

impl Manager {
    /// Connects to the API server (in-cluster config or `KUBECONFIG`).
    pub async fn connect(config: RuntimeConfig) -> Result<Self, Error> {
        let client = Client::try_default().await.map_err(Error::Connect)?;
        Ok(Self::with_client(client, config))
    }

    /// A manager using `client` (a test's cluster, say).
    pub fn with_client(client: Client, config: RuntimeConfig) -> Self {
        Self {
            config,
            client,
            election: None,
            servers: Vec::new(),
        }
    }

    pub fn client(&self) -> Client {
        self.client.clone()
    }

    pub fn config(&self) -> &RuntimeConfig {
        &self.config
    }

    /// A recorder reporting as this controller and this replica.
    pub fn recorder(&self) -> Recorder {
        crate::events::recorder(
            self.client.clone(),
            &self.config.controller,
            Some(self.config.identity.clone()),
        )
    }

    /// Joins the election if `--leader-elect` was given, and returns whether this replica
    /// leads, as it changes. Without an election it always leads.
    pub async fn elect(&mut self) -> Result<watch::Receiver<bool>, Error> {
        let Some(config) = self.config.election.clone() else {
            return Ok(leader::always_leader());
        };
        let election = leader::elect(self.client.clone(), config).await?;
        let leading = election.receiver();
        self.election = Some(election);
        Ok(leading)
    }

    /// Serves `app` on `listener` while the controller runs, alongside the probes and
    /// `/metrics`.
    pub fn serve(&mut self, listener: Listener, app: Router) {
        self.servers.push((listener, app));
    }

    /// Runs `controller` until SIGTERM or ctrl-c, see [`Self::run_until`].
    pub async fn run<F>(
        self,
        metrics: MetricsEndpoint,
        controller: impl FnOnce(Shutdown) -> F,
    ) -> Result<(), Error>
    where
        F: Future<Output = ()>,
    {
        self.run_until(terminated(), metrics, controller).await
    }

    /// Serves, runs `controller` (which stops once `shutdown` resolves) and then shuts down:
    /// the Lease is released at once so the next leader need not wait for it to expire, and
    /// servers stop accepting but finish responses in flight within the grace period.
    /// A server failing or the election machinery failing stops the process with an error.
    pub async fn run_until<F>(
        mut self,
        shutdown: Shutdown,
        metrics: MetricsEndpoint,
        controller: impl FnOnce(Shutdown) -> F,
    ) -> Result<(), Error>
    where
        F: Future<Output = ()>,
    {
        let (stop_serving, stopping) = watch::channel(false);
        self.servers
            .push((Listener::plain(self.config.probes_addr), probes()));
        self.servers
            .push((Listener::plain(self.config.metrics_addr), metrics.router()));
        let grace = self.config.grace;
        let mut servers = tokio::spawn(try_join_all(self.servers.into_iter().map(
            |(mut listener, app)| {
                listener.grace = grace;
                listener.serve(app, stopping.clone(), None)
            },
        )));
        let mut election = self.election;
        let election_failed = async {
            match election.as_mut() {
                Some(e) => e.failed().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = controller(shutdown) => {}
            r = &mut servers => {
                r.map_err(Error::ServerTask)??;
                return Err(Error::ServerStopped);
            }
            // Losing the lease machinery means no replica can tell who leads; stop, as
            // controller-runtime does, and let the Deployment restart us.
            e = election_failed => return Err(e.into()),
        }
        if let Some(election) = election {
            election.step_down().await?;
        }
        let _ = stop_serving.send(true);
        match tokio::time::timeout(grace, servers).await {
            Ok(r) => {
                r.map_err(Error::ServerTask)??;
            }
            Err(_) => tracing::warn!("responses still in flight after {grace:?}; exiting"),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use axum::routing::get;
    use prometheus_client::registry::Registry;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A client for a cluster that is never reached.
    fn offline_client() -> Client {
        let service = tower::service_fn(|_| async {
            Err::<axum::http::Response<axum::body::Body>, _>(std::io::Error::other("offline"))
        });
        Client::new(service, "default")
    }

    fn free_addr() -> SocketAddr {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
    }

    fn config() -> RuntimeConfig {
        RuntimeConfig {
            controller: "demo".into(),
            identity: "demo-0".into(),
            namespace: "ns".into(),
            metrics_addr: free_addr(),
            probes_addr: free_addr(),
            election: None,
            grace: Duration::from_secs(5),
        }
    }

    async fn connect(addr: SocketAddr) -> tokio::net::TcpStream {
        for _ in 0..200 {
            if let Ok(s) = tokio::net::TcpStream::connect(addr).await {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("nothing listens on {addr}");
    }

    #[tokio::test]
    async fn the_controller_stops_first_then_responses_in_flight_finish() {
        let app_addr = free_addr();
        let config = config();
        let probes_addr = config.probes_addr;
        let mut manager = Manager::with_client(offline_client(), config);
        let slow = Router::new().route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                "done"
            }),
        );
        manager.serve(Listener::plain(app_addr), slow);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let controller_done = Arc::new(AtomicBool::new(false));
        let done = controller_done.clone();
        let run = tokio::spawn(manager.run_until(
            Box::pin(async move {
                let _ = stopped.await;
            }),
            MetricsEndpoint::new(Registry::default()),
            move |shutdown| async move {
                shutdown.await;
                done.store(true, Ordering::SeqCst);
            },
        ));

        let mut probe = connect(probes_addr).await;
        probe
            .write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = String::new();
        probe.read_to_string(&mut answer).await.unwrap();
        assert!(answer.ends_with("ok"), "{answer}");

        let mut client = connect(app_addr).await;
        client
            .write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        stop.send(()).unwrap();
        let mut answer = String::new();
        client.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(
            answer.ends_with("done"),
            "the response in flight was cut: {answer}"
        );
        run.await.unwrap().unwrap();
        assert!(controller_done.load(Ordering::SeqCst));
        assert!(
            tokio::net::TcpStream::connect(app_addr).await.is_err(),
            "the server still accepts after shutdown"
        );
    }

    #[tokio::test]
    async fn a_server_that_cannot_listen_stops_the_process() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut manager = Manager::with_client(offline_client(), config());
        manager.serve(Listener::plain(taken.local_addr().unwrap()), Router::new());
        let result = manager
            .run_until(
                Box::pin(std::future::pending()),
                MetricsEndpoint::new(Registry::default()),
                |shutdown| shutdown,
            )
            .await;
        assert!(
            matches!(result, Err(Error::Listen(ListenError::Serve { .. }))),
            "{result:?}"
        );
    }
}
