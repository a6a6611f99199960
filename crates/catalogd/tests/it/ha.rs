//! Several catalogd replicas against one real kube-apiserver: leader election on a Lease,
//! fail-over, and followers serving the leader's content from their own storage.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use catalogd::{Context, Storage, Store};
use controller_runtime::{LeaderElectionConfig, Leadership};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, DeleteParams, ListParams};
use oci::ImageStore;
use olm_api::catalog::Catalog;
use tokio::sync::watch;

use crate::support::{
    self, RunningController, corpus, expected_jsonl, get_text, phase, plain_options, push_catalog,
    resolved_ref, start_registry, wait_for,
};

/// The cluster, a namespace for catalogd and a label that scopes this test's Catalogs.
struct Scope {
    cluster: testenv::Cluster,
    namespace: String,
    label: String,
}

impl Scope {
    async fn start() -> Option<Self> {
        let label = testenv::unique_name("catalogd-ha");
        let cluster = support::cluster_with_namespace(&label).await?;
        Some(Self {
            cluster,
            namespace: label.clone(),
            label,
        })
    }

    fn catalogs(&self) -> Api<Catalog> {
        Api::all(self.cluster.client())
    }

    /// Short lease times so fail-over happens within seconds.
    fn election(&self, lease: &str, identity: &str) -> LeaderElectionConfig {
        support::election(lease, &self.namespace, identity)
    }
}

/// One catalogd replica: its own storage, content server and controller.
struct Replica {
    identity: String,
    storage: tempfile::TempDir,
    base_url: String,
    controller: Option<RunningController>,
    _server: tokio::task::JoinHandle<()>,
}

impl Replica {
    async fn start(scope: &Scope, identity: &str, leading: watch::Receiver<bool>) -> Self {
        let storage = tempfile::tempdir().unwrap();
        let opened = Storage::open(storage.path(), plain_options()).unwrap();
        let (base_url, server) = support::serve_content(opened.store.clone()).await;
        let ctx = Context::builder(scope.cluster.client(), opened)
            .namespace(&scope.namespace)
            .external_address(&base_url)
            .leader(leading)
            .selector(Some(format!("olmrs-test={}", scope.label)))
            .instance(identity)
            .build();
        Self {
            identity: identity.to_owned(),
            storage,
            base_url,
            controller: Some(RunningController::start(ctx)),
            _server: server,
        }
    }

    async fn stop_controller(&mut self) {
        if let Some(controller) = self.controller.take() {
            controller.stop().await;
        }
    }

    /// Waits until this replica serves `expected` for `name`.
    async fn wait_serving(&self, name: &str, expected: &str) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let (code, body) = get_text(&self.base_url, name, "all.json").await;
            if code == 200 && body == expected {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "replica {} does not serve the expected content of {name} (status {code}, {} bytes)",
                self.identity,
                body.len()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

async fn lease_holder(scope: &Scope, lease: &str) -> Option<String> {
    let api: Api<Lease> = Api::namespaced(scope.cluster.client(), &scope.namespace);
    api.get(lease).await.ok()?.spec?.holder_identity
}

/// `reportingInstance` of every Event recorded about the Catalog `name`.
async fn event_reporters(scope: &Scope, name: &str) -> Vec<(String, String)> {
    // Catalogs are cluster-scoped, so their Events live in "default".
    let api: Api<Event> = Api::namespaced(scope.cluster.client(), "default");
    api.list(&ListParams::default())
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
        .map(|e| {
            (
                e.reason.unwrap_or_default(),
                e.reporting_instance.unwrap_or_default(),
            )
        })
        .collect()
}

/// Records whether the two replicas ever both believed they led.
fn watch_for_split_brain(
    a: watch::Receiver<bool>,
    b: watch::Receiver<bool>,
) -> (Arc<AtomicBool>, tokio::task::JoinHandle<()>) {
    let both = Arc::new(AtomicBool::new(false));
    let flag = both.clone();
    let task = tokio::spawn(async move {
        loop {
            if *a.borrow() && *b.borrow() {
                flag.store(true, Ordering::SeqCst);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    (both, task)
}

async fn wait_leader(election: &mut Leadership, who: &str) {
    tokio::time::timeout(Duration::from_secs(30), election.wait_until_leader())
        .await
        .unwrap_or_else(|_| panic!("{who} did not become leader within 30s"))
        .unwrap_or_else(|e| panic!("{who}: {e}"));
}

#[tokio::test]
async fn one_leader_at_a_time_and_the_follower_takes_over() {
    let Some(registry) = start_registry().await else {
        return;
    };
    let Some(scope) = Scope::start().await else {
        return;
    };
    let lease = "catalogd-operator-lock";
    let scratch = tempfile::tempdir().unwrap();
    let pusher = ImageStore::new(scratch.path().join("pusher"), plain_options()).unwrap();
    let v1 = corpus().join("catalogs/v4.22/cat-facts-operator");
    let v2 = corpus().join("catalogs/v4.22/kairos-operator");
    push_catalog(&registry, &pusher, &v1, "v1").await;
    let reference = format!("{}/catalogs/test:v1", registry.host_port());

    // A third party holds the lease first, so both replicas start as followers.
    let client = scope.cluster.client();
    let mut outsider = controller_runtime::elect(client.clone(), scope.election(lease, "outsider"))
        .await
        .unwrap();
    wait_leader(&mut outsider, "outsider").await;

    let election_a = controller_runtime::elect(client.clone(), scope.election(lease, "replica-a"))
        .await
        .unwrap();
    let election_b = controller_runtime::elect(client.clone(), scope.election(lease, "replica-b"))
        .await
        .unwrap();
    let (split_brain, monitor) =
        watch_for_split_brain(election_a.receiver(), election_b.receiver());
    let a = Replica::start(&scope, "replica-a", election_a.receiver()).await;
    let b = Replica::start(&scope, "replica-b", election_b.receiver()).await;

    let catalog = support::new_catalog(&scope.label, &reference, Some("1s"), None);
    let name = support::create_catalog(&scope.catalogs(), &catalog).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let c = scope.catalogs().get(&name).await.unwrap();
    assert!(
        c.status.is_none(),
        "followers must not write status: {:#?}",
        c.status
    );
    assert!(
        c.metadata.finalizers.unwrap_or_default().is_empty(),
        "followers must not add the finalizer"
    );
    assert!(!election_a.is_leader() && !election_b.is_leader());
    assert_eq!(
        lease_holder(&scope, lease).await.as_deref(),
        Some("outsider")
    );

    // The holder goes away: exactly one replica takes over and reconciles.
    outsider.step_down().await.unwrap();
    let c = wait_for(&scope.catalogs(), &name, "Unpacked", |c| {
        phase(c) == Some("Unpacked")
    })
    .await;
    let (mut leader, mut follower, leader_election, follower_election) = if election_a.is_leader() {
        (a, b, election_a, election_b)
    } else {
        (b, a, election_b, election_a)
    };
    assert!(leader_election.is_leader() && !follower_election.is_leader());
    assert_eq!(
        lease_holder(&scope, lease).await.as_deref(),
        Some(leader.identity.as_str())
    );
    assert_eq!(
        c.status.as_ref().unwrap().content_url.as_deref(),
        Some(format!("{}/catalogs/{name}/all.json", leader.base_url).as_str()),
        "status was written by the leader"
    );
    let reporters = event_reporters(&scope, &name).await;
    assert!(
        reporters
            .iter()
            .any(|(reason, _)| reason == "UnpackSuccessful"),
        "{reporters:?}"
    );
    assert!(
        reporters.iter().all(|(_, who)| *who == leader.identity),
        "only the leader records Events: {reporters:?}"
    );
    let first = expected_jsonl(&v1);
    leader.wait_serving(&name, &first).await;
    follower.wait_serving(&name, &first).await;

    // The leader shuts down as main() does: controller first, then the lease is released.
    leader.stop_controller().await;
    leader_election.step_down().await.unwrap();
    let d2 = push_catalog(&registry, &pusher, &v2, "v1").await;
    let c = wait_for(&scope.catalogs(), &name, "the new digest", |c| {
        resolved_ref(c).ends_with(&d2)
    })
    .await;
    assert!(follower_election.is_leader(), "the follower took over");
    assert_eq!(
        lease_holder(&scope, lease).await.as_deref(),
        Some(follower.identity.as_str())
    );
    assert_eq!(
        c.status.as_ref().unwrap().content_url.as_deref(),
        Some(format!("{}/catalogs/{name}/all.json", follower.base_url).as_str()),
        "the new leader rewrote status with its own address"
    );
    follower.wait_serving(&name, &expected_jsonl(&v2)).await;
    let reporters = event_reporters(&scope, &name).await;
    assert!(
        reporters
            .iter()
            .any(|(reason, who)| reason == "UnpackSuccessful" && *who == follower.identity),
        "{reporters:?}"
    );
    monitor.abort();
    assert!(
        !split_brain.load(Ordering::SeqCst),
        "both replicas led at the same time"
    );

    follower.stop_controller().await;
    follower_election.step_down().await.unwrap();
    assert_eq!(
        lease_holder(&scope, lease).await.unwrap_or_default(),
        "",
        "a stepped-down leader releases the lease"
    );
}

#[tokio::test]
async fn a_follower_serves_the_same_bytes_as_the_leader() {
    let Some(registry) = start_registry().await else {
        return;
    };
    let Some(scope) = Scope::start().await else {
        return;
    };
    let scratch = tempfile::tempdir().unwrap();
    let pusher = ImageStore::new(scratch.path().join("pusher"), plain_options()).unwrap();
    let v1 = corpus().join("catalogs/v4.15/kube-green");
    let v2 = corpus().join("catalogs/v4.22/kairos-operator");
    push_catalog(&registry, &pusher, &v1, "v1").await;
    let reference = format!("{}/catalogs/test:v1", registry.host_port());

    let leader = Replica::start(&scope, "leader", controller_runtime::always_leader()).await;
    let (_keep_following, following) = watch::channel(false);
    let follower = Replica::start(&scope, "follower", following).await;

    let catalog = support::new_catalog(&scope.label, &reference, Some("1s"), None);
    let name = support::create_catalog(&scope.catalogs(), &catalog).await;
    let c = wait_for(&scope.catalogs(), &name, "Unpacked", |c| {
        phase(c) == Some("Unpacked")
    })
    .await;
    assert_eq!(
        c.status.as_ref().unwrap().content_url.as_deref(),
        Some(format!("{}/catalogs/{name}/all.json", leader.base_url).as_str())
    );
    let expected = expected_jsonl(&v1);
    leader.wait_serving(&name, &expected).await;
    follower.wait_serving(&name, &expected).await;
    for path in [
        "api/v1/all",
        "api/v1/metas?package=kube-green",
        "api/v1/metas?schema=olm.channel",
    ] {
        let from_leader = get_text(&leader.base_url, &name, path).await;
        let from_follower = get_text(&follower.base_url, &name, path).await;
        assert_eq!(from_leader.0, 200, "{path}");
        assert!(!from_leader.1.is_empty(), "{path}");
        assert_eq!(from_leader, from_follower, "{path}");
    }
    let stored = |r: &Replica| {
        let store = Store::open(r.storage.path().join("catalogs")).unwrap();
        store.current(&name).unwrap().unwrap().digest
    };
    assert_eq!(stored(&leader), stored(&follower), "same digest on both");

    // A new digest: the leader polls it, the follower follows status.
    let d2 = push_catalog(&registry, &pusher, &v2, "v1").await;
    wait_for(&scope.catalogs(), &name, "the new digest", |c| {
        resolved_ref(c).ends_with(&d2)
    })
    .await;
    let expected = expected_jsonl(&v2);
    follower.wait_serving(&name, &expected).await;
    assert_eq!(stored(&follower), d2);

    // Deletion: the follower drops its copy when it sees the deletion timestamp.
    scope
        .catalogs()
        .delete(&name, &DeleteParams::default())
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let codes = (
            get_text(&leader.base_url, &name, "all.json").await.0,
            get_text(&follower.base_url, &name, "all.json").await.0,
        );
        if codes == (404, 404) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "content still served after deletion: {codes:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
