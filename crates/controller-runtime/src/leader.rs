//! Leader election among a controller's replicas with a `coordination.k8s.io/v1` Lease.
//!
//! Leadership is published on a `watch` channel of `bool` that the controller reads; what
//! a follower still does (catalogd's followers serve content) is the controller's choice.

use std::time::Duration;

use kube::Client;
use kube_lease_manager::{LeaseManager, LeaseManagerBuilder};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

/// How to take part in an election.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderElectionConfig {
    /// Name of the Lease (`--leader-election-id`).
    pub lease_name: String,
    /// Namespace of the Lease (the controller's `--namespace`).
    pub namespace: String,
    /// This replica's identity in `spec.holderIdentity`; must differ between replicas.
    pub identity: String,
    /// How long a lease stays valid after its last renewal.
    pub lease_duration: Duration,
    /// How long before expiry the holder renews; also the tolerated clock skew.
    pub renew_grace: Duration,
    /// Field manager of the Lease's server-side applies, e.g. `catalogd-<identity>`.
    pub field_manager: String,
}

impl LeaderElectionConfig {
    /// controller-runtime's defaults: a 15 s lease, renewed 5 s before it expires.
    pub fn new(
        lease_name: impl Into<String>,
        namespace: impl Into<String>,
        identity: impl Into<String>,
    ) -> Self {
        let identity = identity.into();
        Self {
            lease_name: lease_name.into(),
            namespace: namespace.into(),
            field_manager: identity.clone(),
            identity,
            lease_duration: Duration::from_secs(15),
            renew_grace: Duration::from_secs(5),
        }
    }

    /// The field manager is `<controller>-<identity>`, e.g. `catalogd-catalogd-7d9f-x2`.
    pub fn for_controller(mut self, controller: &str) -> Self {
        self.field_manager = format!("{controller}-{}", self.identity);
        self
    }

    fn seconds(&self) -> Result<(u64, u64), LeaderError> {
        let duration = self.lease_duration.as_secs();
        let grace = self.renew_grace.as_secs();
        if grace == 0 || duration <= grace {
            return Err(LeaderError::Durations { duration, grace });
        }
        if self.identity.is_empty() {
            return Err(LeaderError::EmptyIdentity);
        }
        Ok((duration, grace))
    }
}

/// Why an election could not start or stopped working.
#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    #[error(
        "invalid leader election settings: the lease duration ({duration}s) must be longer \
         than the renew grace ({grace}s), and both at least 1s"
    )]
    Durations { duration: u64, grace: u64 },
    #[error("invalid leader election settings: the identity must not be empty")]
    EmptyIdentity,
    #[error("leader election with Lease {namespace}/{lease}: {source}")]
    Lease {
        namespace: String,
        lease: String,
        source: kube_lease_manager::LeaseManagerError,
    },
    #[error("leader election task ended unexpectedly: {0}")]
    Task(#[source] tokio::task::JoinError),
    #[error("leader election task ended unexpectedly: stopped")]
    Stopped,
    #[error("leader election task ended unexpectedly: leadership channel closed")]
    ChannelClosed,
}

/// A replica's part in an election, running in the background until [`Self::step_down`].
pub struct Leadership {
    rx: watch::Receiver<bool>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), LeaderError>>>,
}

/// A channel that always says "leader": for a single replica without `--leader-elect`.
pub fn always_leader() -> watch::Receiver<bool> {
    // The sender is dropped: the value can never change.
    watch::channel(true).1
}

/// Joins the election for `config.lease_name`, creating the Lease if it does not exist.
/// Starts as a follower; the returned channel turns `true` once the lease is acquired.
pub async fn elect(
    client: Client,
    config: LeaderElectionConfig,
) -> Result<Leadership, LeaderError> {
    let (duration, grace) = config.seconds()?;
    let lease_err = |source| LeaderError::Lease {
        namespace: config.namespace.clone(),
        lease: config.lease_name.clone(),
        source,
    };
    let manager = LeaseManagerBuilder::new(client, &config.lease_name)
        .with_namespace(&config.namespace)
        .with_identity(&config.identity)
        .with_duration(duration)
        .with_grace(grace)
        .with_field_manager(config.field_manager.clone())
        .build()
        .await
        .map_err(lease_err)?;
    let (tx, rx) = watch::channel(false);
    let (stop_tx, stop_rx) = oneshot::channel();
    let task = tokio::spawn(campaign(manager, tx, stop_rx, config));
    Ok(Leadership {
        rx,
        stop: Some(stop_tx),
        task: Some(task),
    })
}

/// Keeps acquiring/renewing the lease and publishes changes until told to stop.
///
/// An API error while leading ends the election with an error: this replica can no longer
/// know whether its lease is still valid, so it stops leading at once rather than risk two
/// writers (controller-runtime exits the process in the same case). A follower just retries.
async fn campaign(
    manager: LeaseManager,
    tx: watch::Sender<bool>,
    mut stop: oneshot::Receiver<()>,
    config: LeaderElectionConfig,
) -> Result<(), LeaderError> {
    let lease_err = |source| LeaderError::Lease {
        namespace: config.namespace.clone(),
        lease: config.lease_name.clone(),
        source,
    };
    let mut retry = Duration::from_millis(500);
    loop {
        tokio::select! {
            biased;
            _ = &mut stop => {
                tx.send_replace(false);
                return manager.release().await.map_err(lease_err);
            }
            changed = manager.changed() => match changed {
                Ok(leading) => {
                    retry = Duration::from_millis(500);
                    if leading != *tx.borrow() {
                        tracing::info!(
                            identity = %config.identity,
                            "{} the lease {}/{}",
                            if leading { "acquired" } else { "lost" },
                            config.namespace,
                            config.lease_name
                        );
                    }
                    tx.send_replace(leading);
                }
                Err(e) if *tx.borrow() => {
                    tx.send_replace(false);
                    let _ = manager.release().await;
                    return Err(lease_err(e));
                }
                Err(e) => {
                    tracing::warn!("leader election (following): {e}; retrying in {retry:?}");
                    tokio::select! {
                        _ = tokio::time::sleep(retry) => {}
                        _ = &mut stop => {
                            tx.send_replace(false);
                            return Ok(());
                        }
                    }
                    retry = (retry * 2).min(Duration::from_secs(10));
                }
            }
        }
    }
}

impl Leadership {
    /// Leadership as it changes; hand a clone to the controller's context.
    pub fn receiver(&self) -> watch::Receiver<bool> {
        self.rx.clone()
    }

    /// Whether this replica leads right now.
    pub fn is_leader(&self) -> bool {
        *self.rx.borrow()
    }

    /// Waits until this replica leads (or the election fails).
    pub async fn wait_until_leader(&mut self) -> Result<(), LeaderError> {
        let mut rx = self.rx.clone();
        tokio::select! {
            r = rx.wait_for(|leading| *leading) => {
                r.map(|_| ()).map_err(|_| LeaderError::ChannelClosed)
            }
            e = self.failed() => Err(e),
        }
    }

    /// Resolves only if the election machinery fails; the caller should then stop, as no
    /// replica can tell any more who leads. Pending forever after [`Self::step_down`].
    pub async fn failed(&mut self) -> LeaderError {
        let Some(task) = self.task.as_mut() else {
            return std::future::pending().await;
        };
        let result = task.await;
        self.task = None;
        match result {
            Ok(Ok(())) => LeaderError::Stopped,
            Ok(Err(e)) => e,
            Err(e) => LeaderError::Task(e),
        }
    }

    /// Stops leading and following: publishes `false`, then releases the lease if held so
    /// another replica takes over without waiting for it to expire.
    pub async fn step_down(mut self) -> Result<(), LeaderError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task.await.map_err(LeaderError::Task)?,
            None => Ok(()),
        }
    }
}

impl Drop for Leadership {
    fn drop(&mut self) {
        // Dropped without step_down (e.g. a panic): stop campaigning; the lease expires.
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_is_validated_before_the_lease_manager_sees_it() {
        let mut c = LeaderElectionConfig::new("lock", "ns", "me");
        assert_eq!(c.seconds().unwrap(), (15, 5));
        c.renew_grace = Duration::from_secs(15);
        assert!(matches!(
            c.seconds(),
            Err(LeaderError::Durations {
                duration: 15,
                grace: 15
            })
        ));
        c.renew_grace = Duration::from_millis(200);
        assert!(matches!(
            c.seconds(),
            Err(LeaderError::Durations { grace: 0, .. })
        ));
        let mut c = LeaderElectionConfig::new("lock", "ns", "");
        c.renew_grace = Duration::from_secs(1);
        assert!(matches!(c.seconds(), Err(LeaderError::EmptyIdentity)));
    }

    #[tokio::test]
    async fn always_leader_never_changes() {
        let mut rx = always_leader();
        assert!(*rx.borrow());
        assert!(rx.changed().await.is_err(), "no sender: no change can come");
        assert!(*rx.borrow());
    }
}
