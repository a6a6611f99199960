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
        Ok(rules::check_bundle(request.old_object.as_ref(), new, &lookup))
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
async fn respond<K, F, Fut>(review: AdmissionReview<K>, check: F) -> Json<AdmissionReview<DynamicObject>>
where
    K: Resource,
    F: FnOnce(AdmissionRequest<K>) -> Fut,
    Fut: Future<Output = Result<Option<String>, String>>,
{
    let request: AdmissionRequest<K> = match review.try_into() {
        Ok(r) => r,
        Err(e) => {
            return Json(AdmissionResponse::invalid(format!("not an AdmissionReview request: {e}")).into_review());
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
