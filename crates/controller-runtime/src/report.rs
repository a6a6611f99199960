//! What a reconcile reports back: status written by server-side apply, and Events.

use std::fmt::Debug;

use kube::api::{Api, Patch, PatchParams};
use kube::core::ClusterResourceScope;
use kube::runtime::events::{Event, EventType, Recorder};
use kube::{Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Server-side-applies `status` to the cluster-scoped object `object` as `field_manager`,
/// taking over the fields (force), unless it already has exactly that status.
pub async fn apply_status<K, S>(
    client: &Client,
    field_manager: &str,
    object: &K,
    current: Option<&S>,
    status: &S,
) -> Result<(), kube::Error>
where
    K: Resource<Scope = ClusterResourceScope, DynamicType = ()> + DeserializeOwned + Clone + Debug,
    S: Serialize + PartialEq,
{
    if current == Some(status) {
        return Ok(());
    }
    let patch = serde_json::json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": status,
    });
    Api::<K>::all(client.clone())
        .patch_status(
            &object.name_any(),
            &PatchParams::apply(field_manager).force(),
            &Patch::Apply(&patch),
        )
        .await?;
    Ok(())
}

/// Records an Event about `object`; the note is cut to the API's 1,000 characters. Events
/// are best effort: a failure is logged, never returned.
pub async fn publish_event<K>(
    recorder: &Recorder,
    object: &K,
    type_: EventType,
    reason: &str,
    action: &str,
    note: Option<String>,
) where
    K: Resource<DynamicType = ()>,
{
    let event = Event {
        type_,
        reason: reason.into(),
        note: note.map(|n| n.chars().take(1000).collect()),
        action: action.into(),
        secondary: None,
    };
    if let Err(e) = recorder.publish(&event, &object.object_ref(&())).await {
        tracing::warn!(
            "recording event for {} {}: {e}",
            K::kind(&()),
            object.meta().name.as_deref().unwrap_or_default()
        );
    }
}
