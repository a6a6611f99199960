//! Dynamic watches (rukpak.md §3.4 step 10, §3.5 step 10): one watch per kind a
//! BundleDeployment installed, limited to objects carrying the owner labels. A deleted
//! object, or one whose content (not its status) changed, re-queues its BundleDeployment,
//! whose reconcile re-applies it: drift repair.

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::Mutex;

use futures::StreamExt;
use futures::channel::mpsc;
use kube::api::{Api, ApiResource, DynamicObject};
use kube::runtime::WatchStreamExt;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher::{self, Event};
use olm_api::BundleDeployment;
use olm_api::bundle_deployment::{LABEL_OWNER_KIND, LABEL_OWNER_NAME};

use super::plan::OWNER_KIND;

/// The watches started so far, and where they send the BundleDeployments to reconcile.
pub(crate) struct DriftWatches {
    client: kube::Client,
    sender: mpsc::UnboundedSender<ObjectRef<BundleDeployment>>,
    watched: Mutex<HashSet<String>>,
}

impl DriftWatches {
    /// Watches sending into a channel; the receiver feeds the controller.
    pub(crate) fn new(
        client: kube::Client,
    ) -> (Self, mpsc::UnboundedReceiver<ObjectRef<BundleDeployment>>) {
        let (sender, receiver) = mpsc::unbounded();
        let watches = Self {
            client,
            sender,
            watched: Mutex::new(HashSet::new()),
        };
        (watches, receiver)
    }

    /// Starts a watch for each of `resources` not watched yet. Watches live as long as the
    /// process: a kind once installed is likely to be installed again.
    pub(crate) fn ensure(&self, resources: Vec<ApiResource>) {
        let mut watched = self.watched.lock().expect("drift watches lock");
        for resource in resources {
            let key = format!("{}/{}", resource.api_version, resource.plural);
            if watched.insert(key) {
                tokio::spawn(watch_kind(
                    self.client.clone(),
                    resource,
                    self.sender.clone(),
                ));
            }
        }
    }
}

async fn watch_kind(
    client: kube::Client,
    resource: ApiResource,
    sender: mpsc::UnboundedSender<ObjectRef<BundleDeployment>>,
) {
    let api: Api<DynamicObject> = Api::all_with(client, &resource);
    let config = watcher::Config::default().labels(&format!("{LABEL_OWNER_KIND}={OWNER_KIND}"));
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut events = watcher::watcher(api, config).default_backoff().boxed();
    while let Some(event) = events.next().await {
        let owner = match event {
            Ok(Event::InitApply(object)) => {
                seen.insert(uid(&object), fingerprint(&object));
                None
            }
            Ok(Event::Apply(object)) => {
                let print = fingerprint(&object);
                let changed = seen.insert(uid(&object), print) != Some(print);
                changed.then(|| owner_of(&object)).flatten()
            }
            Ok(Event::Delete(object)) => {
                seen.remove(&uid(&object));
                owner_of(&object)
            }
            Ok(Event::Init | Event::InitDone) => None,
            Err(e) => {
                tracing::debug!("drift watch of {}: {e}", resource.plural);
                None
            }
        };
        if let Some(owner) = owner
            && sender.unbounded_send(owner).is_err()
        {
            return;
        }
    }
}

fn uid(object: &DynamicObject) -> String {
    object.metadata.uid.clone().unwrap_or_default()
}

fn owner_of(object: &DynamicObject) -> Option<ObjectRef<BundleDeployment>> {
    let name = object.metadata.labels.as_ref()?.get(LABEL_OWNER_NAME)?;
    Some(ObjectRef::new(name))
}

/// What an edit by someone else changes: everything but status and the fields the server
/// bumps on every write.
fn fingerprint(object: &DynamicObject) -> u64 {
    let mut meta = object.metadata.clone();
    meta.resource_version = None;
    meta.managed_fields = None;
    meta.generation = None;
    let mut data = object.data.clone();
    if let Some(map) = data.as_object_mut() {
        map.remove("status");
    }
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    serde_json::to_string(&meta)
        .unwrap_or_default()
        .hash(&mut hasher);
    data.to_string().hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(value: serde_json::Value) -> DynamicObject {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn status_and_server_bumps_do_not_count_as_drift() {
        let base = serde_json::json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d", "uid": "u", "resourceVersion": "1", "generation": 1,
                         "labels": {"core.rukpak.io/owner-name": "combo"}},
            "spec": {"replicas": 1}, "status": {"readyReplicas": 0},
        });
        let mut bumped = base.clone();
        bumped["metadata"]["resourceVersion"] = "2".into();
        bumped["status"]["readyReplicas"] = 1.into();
        assert_eq!(
            fingerprint(&object(base.clone())),
            fingerprint(&object(bumped))
        );
        let mut edited = base.clone();
        edited["spec"]["replicas"] = 3.into();
        assert_ne!(
            fingerprint(&object(base.clone())),
            fingerprint(&object(edited))
        );
        assert_eq!(owner_of(&object(base)).unwrap().name, "combo");
    }
}
