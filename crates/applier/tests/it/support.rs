//! What the test modules share: a cluster with the project's CRDs, a system namespace,
//! a real BundleDeployment as the owner, and object builders.

use std::path::Path;

use applier::{Applier, Owner};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, ObjectMeta, PostParams};
use olm_api::BundleDeployment;
use serde_json::{Value, json};

pub(crate) const FIELD_MANAGER: &str = "rukpak-applier-test";

pub(crate) struct Env {
    pub(crate) client: kube::Client,
    pub(crate) system_namespace: String,
    _cluster: testenv::Cluster,
}

/// The test cluster with the CRDs applied and a fresh system namespace, or `None` (skip).
pub(crate) async fn env() -> Option<Env> {
    let cluster = testenv::cluster().await?;
    let crds = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/crd");
    cluster.apply_crds(&crds).await.expect("CRDs apply");
    let client = cluster.client();
    let system_namespace = testenv::unique_name("applier-system");
    create_namespace(&client, &system_namespace).await;
    Some(Env {
        client,
        system_namespace,
        _cluster: cluster,
    })
}

impl Env {
    pub(crate) fn applier(&self) -> Applier {
        Applier::new(self.client.clone(), &self.system_namespace, FIELD_MANAGER)
    }

    /// A stored BundleDeployment (so the ownerReferences point at a real object).
    pub(crate) async fn owner(&self, prefix: &str) -> Owner {
        let name = testenv::unique_name(prefix);
        let bd: BundleDeployment = serde_json::from_value(json!({
            "apiVersion": "core.rukpak.io/v1alpha1",
            "kind": "BundleDeployment",
            "metadata": {"name": name},
            "spec": {
                "provisionerClassName": "core-rukpak-io-plain",
                "template": {"spec": {
                    "provisionerClassName": "core-rukpak-io-plain",
                    "source": {"type": "image", "image": {"ref": "example.com/bundle:v1"}}
                }}
            }
        }))
        .expect("a valid BundleDeployment");
        let api: Api<BundleDeployment> = Api::all(self.client.clone());
        let created = api
            .create(&PostParams::default(), &bd)
            .await
            .expect("BundleDeployment created");
        Owner::of(&created).expect("stored objects have a name and uid")
    }

    pub(crate) async fn config_map(&self, namespace: &str, name: &str) -> Option<ConfigMap> {
        Api::<ConfigMap>::namespaced(self.client.clone(), namespace)
            .get_opt(name)
            .await
            .expect("ConfigMap read")
    }
}

pub(crate) async fn create_namespace(client: &kube::Client, name: &str) {
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .expect("namespace created");
}

/// A ConfigMap manifest; `namespace` `None` leaves it to defaulting.
pub(crate) fn config_map(namespace: Option<&str>, name: &str, data: Value) -> Value {
    let mut cm = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name},
        "data": data
    });
    if let Some(ns) = namespace {
        cm["metadata"]["namespace"] = json!(ns);
    }
    cm
}

pub(crate) fn namespace(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
}

/// The names of an inventory's objects, `kind/namespace/name`.
pub(crate) fn names(objects: &[health::ObjectRef]) -> Vec<String> {
    objects
        .iter()
        .map(|o| {
            format!(
                "{}/{}/{}",
                o.kind,
                o.namespace.as_deref().unwrap_or(""),
                o.name
            )
        })
        .collect()
}
