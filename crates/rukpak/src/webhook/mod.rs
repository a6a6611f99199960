//! The validating admission webhooks `vbundles.core.rukpak.io` and
//! `vconfigmaps.core.rukpak.io` (rukpak.md §2), served over TLS by this binary at upstream's
//! paths. The checks live in `rules`; this module reads the objects they need and answers
//! the `AdmissionReview`.

mod rules;

use std::collections::BTreeMap;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::post;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams};
use kube::core::admission::{AdmissionRequest, AdmissionResponse, AdmissionReview, Operation};
use kube::core::{DynamicObject, Resource};
use kube::{Client, ResourceExt};
use olm_api::Bundle;

/// Path of the Bundle webhook.
pub const BUNDLE_PATH: &str = "/validate-core-rukpak-io-v1alpha1-bundle";
/// Path of the ConfigMap webhook.
pub const CONFIG_MAP_PATH: &str = "/validate-core-v1-configmap";

/// What the webhook handlers read objects with.
#[derive(Clone)]
pub struct Webhooks {
    client: Client,
    /// The system namespace, where a Bundle's ConfigMaps live.
    namespace: String,
}

impl Webhooks {
    pub fn new(client: Client, namespace: impl Into<String>) -> Self {
        Self {
            client,
            namespace: namespace.into(),
        }
    }

    /// Both webhooks' routes.
    pub fn router(self) -> Router {
        Router::new()
            .route(BUNDLE_PATH, post(review_bundle))
            .route(CONFIG_MAP_PATH, post(review_config_map))
            .with_state(self)
    }
}

async fn review_bundle(
    State(hooks): State<Webhooks>,
    Json(review): Json<AdmissionReview<Bundle>>,
) -> Json<AdmissionReview<DynamicObject>> {
    respond(review, |request| async move {
        let new = request
            .object
            .as_ref()
            .ok_or("the review carries no object")?;
        let names = rules::config_maps_named(&new.spec);
        let lookup = hooks.config_maps(&names).await?;
        Ok(rules::check_bundle(
            request.old_object.as_ref(),
            new,
            &lookup,
        ))
    })
    .await
}

async fn review_config_map(
    State(hooks): State<Webhooks>,
    Json(review): Json<AdmissionReview<ConfigMap>>,
) -> Json<AdmissionReview<DynamicObject>> {
    respond(review, |request| async move {
        let (config_map, deleting) = match request.operation {
            Operation::Create => (request.object.as_ref(), false),
            Operation::Delete => (request.old_object.as_ref(), true),
            _ => return Ok(None),
        };
        let Some(config_map) = config_map else {
            return Ok(None);
        };
        let name = config_map.name_any();
        let bundles = Api::<Bundle>::all(hooks.client.clone())
            .list(&ListParams::default())
            .await
            .map_err(|e| format!("listing Bundles: {e}"))?;
        let users = rules::bundles_naming(&name, &bundles.items);
        Ok(if deleting {
            rules::check_config_map_delete(&name, &users)
        } else {
            rules::check_config_map_create(&name, config_map.immutable == Some(true), &users)
        })
    })
    .await
}

impl Webhooks {
    /// Whether each named ConfigMap exists in the system namespace, and is immutable.
    async fn config_maps(&self, names: &[String]) -> Result<rules::ConfigMapLookup, String> {
        let api: Api<ConfigMap> = Api::namespaced(self.client.clone(), &self.namespace);
        let mut found = BTreeMap::new();
        for name in names {
            let cm = api
                .get_opt(name)
                .await
                .map_err(|e| format!("reading configmap {}/{name}: {e}", self.namespace))?;
            found.insert(name.clone(), cm.map(|c| c.immutable == Some(true)));
        }
        Ok(found)
    }
}

/// Answers `review` with the verdict of `check`: `Ok(None)` allows, `Ok(Some(message))`
/// denies with that message, `Err` denies because the check could not be made (the API
/// server's `failurePolicy: Fail` would refuse anyway, and this way the reason is shown).
async fn respond<K, F, Fut>(
    review: AdmissionReview<K>,
    check: F,
) -> Json<AdmissionReview<DynamicObject>>
where
    K: Resource,
    F: FnOnce(AdmissionRequest<K>) -> Fut,
    Fut: Future<Output = Result<Option<String>, String>>,
{
    let request: AdmissionRequest<K> = match review.try_into() {
        Ok(r) => r,
        Err(e) => {
            return Json(
                AdmissionResponse::invalid(format!("not an AdmissionReview request: {e}"))
                    .into_review(),
            );
        }
    };
    let response = AdmissionResponse::from(&request);
    let verdict = check(request).await;
    let response = match verdict {
        Ok(None) => response,
        Ok(Some(message)) => deny(response, message),
        Err(message) => deny(response, message),
    };
    Json(response.into_review())
}

/// Denies with `message` as both reason and message, as controller-runtime's `Denied`
/// does; kubectl prints `Error from server (<reason>): admission webhook "<name>" denied
/// the request: <message>`.
fn deny(response: AdmissionResponse, message: String) -> AdmissionResponse {
    let mut response = response.deny(&message);
    response.result.code = 403;
    response.result.reason = message;
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    /// A client for a cluster that is never reached: these reviews need no lookups.
    fn offline_client() -> Client {
        let service = tower::service_fn(|_| async {
            Err::<axum::http::Response<axum::body::Body>, _>(std::io::Error::other("offline"))
        });
        Client::new(service, "default")
    }

    fn review(operation: &str, old_tag: Option<&str>, new_tag: &str) -> serde_json::Value {
        let bundle = |tag: &str| {
            serde_json::json!({
                "apiVersion": "core.rukpak.io/v1alpha1",
                "kind": "Bundle",
                "metadata": {"name": "combo-tag-ref"},
                "spec": {
                    "provisionerClassName": "core-rukpak-io-plain",
                    "source": {"type": "git", "git": {
                        "repository": "https://github.com/operator-framework/combo",
                        "ref": {"tag": tag},
                    }},
                },
            })
        };
        serde_json::json!({
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "request": {
                "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
                "kind": {"group": "core.rukpak.io", "version": "v1alpha1", "kind": "Bundle"},
                "resource": {"group": "core.rukpak.io", "version": "v1alpha1", "resource": "bundles"},
                "name": "combo-tag-ref",
                "operation": operation,
                "userInfo": {"username": "admin"},
                "object": bundle(new_tag),
                "oldObject": old_tag.map(bundle),
                "dryRun": false,
            },
        })
    }

    async fn answer(body: serde_json::Value) -> serde_json::Value {
        let response = Webhooks::new(offline_client(), "rukpak-system")
            .router()
            .oneshot(
                Request::post(BUNDLE_PATH)
                    .header("content-type", "application/json")
                    .body(Body::from(body.to_string()))
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn a_spec_change_is_denied_with_the_text_as_reason_and_message() {
        let reply = answer(review("UPDATE", Some("v0.0.2"), "v0.0.3")).await;
        let response = &reply["response"];
        assert_eq!(response["uid"], "705ab4f5-6393-11e8-b7cc-42010a800002");
        assert_eq!(response["allowed"], false);
        assert_eq!(response["status"]["code"], 403);
        assert_eq!(response["status"]["reason"], "bundle.spec is immutable");
        assert_eq!(response["status"]["message"], "bundle.spec is immutable");
    }

    #[tokio::test]
    async fn valid_creates_and_unchanged_updates_are_allowed() {
        for (operation, old) in [("CREATE", None), ("UPDATE", Some("v0.0.2"))] {
            let reply = answer(review(operation, old, "v0.0.2")).await;
            assert_eq!(reply["response"]["allowed"], true, "{operation}: {reply}");
        }
    }
}
