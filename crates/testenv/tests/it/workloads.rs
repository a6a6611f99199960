//! Workloads really run on a workload cluster: the scheduler binds pods to kwok's fake node,
//! kwok marks them Running and Ready, the deployment controller reports Available, the
//! endpointslice controller publishes the pods, and the garbage collector cascades deletions.
//! Nothing here writes a status.

use std::future::Future;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, DeleteParams, ListParams, PostParams};

const TIMEOUT: Duration = Duration::from_secs(120);

fn deployment_yaml(name: &str, replicas: u32) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      nodeSelector: {{kubernetes.io/os: linux}}
      containers:
      - name: server
        image: example.invalid/never-pulled:1
        ports:
        - containerPort: 8080
        readinessProbe:
          httpGet: {{path: /readyz, port: 8080}}
---
apiVersion: v1
kind: Service
metadata:
  name: {name}
spec:
  selector: {{app: {name}}}
  ports:
  - port: 80
    targetPort: 8080
"
    )
}

/// A fresh namespace on the cluster, created with kubectl.
fn namespace(cluster: &testenv::Cluster, prefix: &str) -> String {
    let ns = testenv::unique_name(prefix);
    let out = cluster
        .kubectl()
        .args(["create", "namespace", &ns])
        .output()
        .expect("kubectl runs");
    assert!(
        out.status.success(),
        "kubectl create namespace: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    ns
}

fn kubectl_apply(cluster: &testenv::Cluster, ns: &str, yaml: &str) {
    let out = cluster.kubectl_stdin(&["apply", "-n", ns, "-f", "-"], yaml);
    assert!(
        out.status.success(),
        "kubectl apply: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What the cluster shows about a namespace, for a failure message.
fn describe(cluster: &testenv::Cluster, ns: &str) -> String {
    let out = cluster
        .kubectl()
        .args([
            "get",
            "deployments,replicasets,pods,endpointslices,configmaps,events",
        ])
        .args(["-n", ns, "-o", "wide"])
        .output()
        .expect("kubectl runs");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Polls `probe` until it returns `Some`, or panics after [`TIMEOUT`] with what the cluster
/// shows in `ns`.
async fn eventually<T, F, Fut>(cluster: &testenv::Cluster, ns: &str, what: &str, probe: F) -> T
where
    F: Fn() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(
            start.elapsed() < TIMEOUT,
            "{what}: not after {TIMEOUT:?}; namespace {ns}:\n{}",
            describe(cluster, ns)
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn condition_true(d: &Deployment, type_: &str) -> bool {
    d.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == type_ && c.status == "True"))
}

fn pod_ready(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

async fn pods_of(api: &Api<Pod>, app: &str) -> Vec<Pod> {
    api.list(&ListParams::default().labels(&format!("app={app}")))
        .await
        .expect("listing pods")
        .items
}

#[tokio::test]
async fn deployment_becomes_available_and_its_service_gets_endpoint_slices() {
    let Some(cluster) = testenv::cluster_with_workloads().await else {
        return;
    };
    let ns = namespace(&cluster, "available");
    kubectl_apply(&cluster, &ns, &deployment_yaml("web", 2));

    let deployments: Api<Deployment> = Api::namespaced(cluster.client(), &ns);
    let deployment = eventually(&cluster, &ns, "Deployment Available", || async {
        let d = deployments
            .get("web")
            .await
            .expect("reading the Deployment");
        let ready = d.status.as_ref().and_then(|s| s.ready_replicas);
        (condition_true(&d, "Available") && ready == Some(2)).then_some(d)
    })
    .await;
    let status = deployment.status.expect("status");
    assert_eq!(status.available_replicas, Some(2));
    assert_eq!(status.updated_replicas, Some(2));

    let pods: Api<Pod> = Api::namespaced(cluster.client(), &ns);
    let pods = pods_of(&pods, "web").await;
    assert_eq!(pods.len(), 2, "{}", describe(&cluster, &ns));
    let mut pod_ips = Vec::new();
    for pod in &pods {
        let spec = pod.spec.as_ref().expect("spec");
        let status = pod.status.as_ref().expect("status");
        assert_eq!(spec.node_name.as_deref(), Some(testenv::FAKE_NODE));
        assert_eq!(status.phase.as_deref(), Some("Running"));
        assert!(pod_ready(pod), "pod not Ready: {status:?}");
        let owner = &pod.metadata.owner_references.as_ref().expect("owned")[0];
        assert_eq!(owner.kind, "ReplicaSet");
        pod_ips.push(status.pod_ip.clone().expect("kwok assigns a pod IP"));
    }
    pod_ips.sort();

    let slices: Api<EndpointSlice> = Api::namespaced(cluster.client(), &ns);
    let by_service = ListParams::default().labels("kubernetes.io/service-name=web");
    let addresses = eventually(&cluster, &ns, "EndpointSlice with both pods", || async {
        let list = slices
            .list(&by_service)
            .await
            .expect("listing EndpointSlices");
        let mut ready: Vec<String> = list
            .items
            .iter()
            .flat_map(|s| s.endpoints.iter().flatten())
            .filter(|e| e.conditions.as_ref().and_then(|c| c.ready) == Some(true))
            .flat_map(|e| e.addresses.clone())
            .collect();
        ready.sort();
        (ready.len() == 2).then_some(ready)
    })
    .await;
    assert_eq!(addresses, pod_ips);
}

#[tokio::test]
async fn deleting_a_deployment_cascades_to_its_replica_set_and_pods() {
    let Some(cluster) = testenv::cluster_with_workloads().await else {
        return;
    };
    let ns = namespace(&cluster, "cascade");
    kubectl_apply(&cluster, &ns, &deployment_yaml("doomed", 1));
    let pods: Api<Pod> = Api::namespaced(cluster.client(), &ns);
    let replica_sets: Api<ReplicaSet> = Api::namespaced(cluster.client(), &ns);
    eventually(&cluster, &ns, "a Running pod", || async {
        let pods = pods_of(&pods, "doomed").await;
        pods.iter().any(pod_ready).then_some(())
    })
    .await;
    let owned = ListParams::default().labels("app=doomed");
    assert_eq!(replica_sets.list(&owned).await.unwrap().items.len(), 1);

    let out = cluster
        .kubectl()
        .args(["delete", "deployment", "doomed", "-n", &ns, "--wait=false"])
        .output()
        .expect("kubectl runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The garbage collector deletes the ReplicaSet, then its pods; kwok, as the kubelet,
    // finishes each pod's graceful deletion.
    eventually(&cluster, &ns, "ReplicaSet and pods gone", || async {
        let sets = replica_sets
            .list(&owned)
            .await
            .expect("listing ReplicaSets");
        let pods = pods_of(&pods, "doomed").await;
        (sets.items.is_empty() && pods.is_empty()).then_some(())
    })
    .await;
}

#[tokio::test]
async fn foreground_deletion_keeps_the_owner_until_its_dependent_is_gone() {
    let Some(cluster) = testenv::cluster_with_workloads().await else {
        return;
    };
    let ns = namespace(&cluster, "foreground");
    let config_maps: Api<ConfigMap> = Api::namespaced(cluster.client(), &ns);
    let owner = config_maps
        .create(
            &PostParams::default(),
            &serde_json::from_value(serde_json::json!({"metadata": {"name": "owner"}})).unwrap(),
        )
        .await
        .expect("creating the owner");
    let uid = owner.metadata.uid.expect("uid");
    let dependent = serde_json::json!({
        "metadata": {
            "name": "dependent",
            "ownerReferences": [{
                "apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": uid,
                "blockOwnerDeletion": true,
            }],
        },
    });
    config_maps
        .create(
            &PostParams::default(),
            &serde_json::from_value(dependent).unwrap(),
        )
        .await
        .expect("creating the dependent");

    config_maps
        .delete("owner", &DeleteParams::foreground())
        .await
        .expect("deleting the owner");
    // Both go, the dependent first: the owner's foregroundDeletion finalizer holds it until
    // the garbage collector has deleted every blocking dependent.
    eventually(&cluster, &ns, "owner and dependent gone", || async {
        let dependent = config_maps.get_opt("dependent").await.expect("reading");
        let owner = config_maps.get_opt("owner").await.expect("reading");
        if let Some(owner) = &owner {
            let finalizers = owner.metadata.finalizers.clone().unwrap_or_default();
            assert!(
                dependent.is_none() || finalizers.iter().any(|f| f == "foregroundDeletion"),
                "owner without the foregroundDeletion finalizer while its dependent exists"
            );
        }
        (owner.is_none() && dependent.is_none()).then_some(())
    })
    .await;
}
