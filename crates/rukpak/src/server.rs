//! The content server: `GET /bundles/<bundle>.tgz` serves stored content (ETag, ranges),
//! `PUT /uploads/<bundle>.tgz` receives uploads and `GET /uploads/<bundle>.tgz` returns
//! them. Every request is checked by [`Access`] first.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use kube::Client;
use kube::api::{Api, Patch, PatchParams};
use olm_api::Bundle;
use olm_api::bundle::{PHASE_UNPACKED, SourceType};
use tower::ServiceExt;
use tower_http::services::ServeFile;

use crate::access::Access;
use crate::controller::FIELD_MANAGER;
use crate::plan;
use crate::store::Store;
use crate::upload::Uploads;

/// Status message of a Bundle whose upload arrived (upstream's text).
pub const UPLOAD_RECEIVED: &str = "received bundle upload, waiting for provisioner to unpack it.";

/// Serves stored content and receives uploads.
#[derive(Clone)]
pub struct ContentServer {
    store: Store,
    uploads: Uploads,
    access: Arc<Access>,
    client: Client,
}

impl ContentServer {
    pub fn new(store: Store, uploads: Uploads, access: Access, client: Client) -> Self {
        Self {
            store,
            uploads,
            access: Arc::new(access),
            client,
        }
    }

    pub fn router(self) -> Router {
        Router::new()
            .route("/bundles/{file}", get(bundle_content))
            .route("/uploads/{file}", get(uploaded).put(upload))
            .with_state(self)
    }
}

fn text(status: StatusCode, message: impl Into<String>) -> Response {
    let mut message = message.into();
    message.push('\n');
    (status, message).into_response()
}

/// The Bundle name in `<name>.tgz`, if that is what `file` is.
fn bundle_name(file: &str) -> Option<&str> {
    file.strip_suffix(".tgz").filter(|n| !n.is_empty())
}

/// The Bundle name in `<name>.tgz`, if it is one the store accepts.
fn checked_bundle_name<'f>(server: &ContentServer, file: &'f str) -> Option<&'f str> {
    bundle_name(file).filter(|n| server.store.tarball(n).is_ok())
}

/// Runs the access check for the request `parts`; `Err` is the refusal to send. (The body
/// is not `Sync`, so only the parts may be held across the API calls.)
async fn admit(server: &ContentServer, parts: &Parts) -> Result<(), Response> {
    server
        .access
        .check(&parts.headers, &parts.method, parts.uri.path())
        .await
        .map_err(|refusal| text(refusal.status(), refusal.to_string()))
}

async fn bundle_content(
    State(server): State<ContentServer>,
    Path(file): Path<String>,
    request: Request,
) -> Response {
    let (parts, _) = request.into_parts();
    if let Err(refused) = admit(&server, &parts).await {
        return refused;
    }
    let not_found = || text(StatusCode::NOT_FOUND, format!("no content for {file}"));
    let Some(name) = bundle_name(&file) else {
        return not_found();
    };
    match server.store.current(name) {
        Ok(Some(_)) => {}
        Ok(None) | Err(crate::store::StoreError::BadName { .. }) => return not_found(),
        Err(e) => return text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
    let Ok(path) = server.store.tarball(name) else {
        return not_found();
    };
    serve_file(path, parts).await
}

async fn serve_file(path: std::path::PathBuf, parts: Parts) -> Response {
    let request = Request::from_parts(parts, Body::empty());
    match ServeFile::new(path).oneshot(request).await {
        Ok(response) => response.map(Body::new),
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn uploaded(
    State(server): State<ContentServer>,
    Path(file): Path<String>,
    request: Request,
) -> Response {
    let (parts, _) = request.into_parts();
    if let Err(refused) = admit(&server, &parts).await {
        return refused;
    }
    let Some(name) = checked_bundle_name(&server, &file) else {
        return text(StatusCode::NOT_FOUND, format!("no upload {file}"));
    };
    let path = server.uploads.path(name);
    if !path.is_file() {
        return text(StatusCode::NOT_FOUND, format!("no upload {file}"));
    }
    serve_file(path, parts).await
}

/// Upstream's upload handler: 404 without the Bundle, 409 for another source type or an
/// unpacked Bundle, 204 for the bytes already stored, else 201 and the Bundle set back to
/// pending so the controller unpacks the new content.
async fn upload(
    State(server): State<ContentServer>,
    Path(file): Path<String>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    if let Err(refused) = admit(&server, &parts).await {
        return refused;
    }
    let Some(name) = checked_bundle_name(&server, &file) else {
        return text(
            StatusCode::NOT_FOUND,
            format!("{file:?} is not <bundle>.tgz"),
        );
    };
    let api: Api<Bundle> = Api::all(server.client.clone());
    let bundle = match api.get_opt(name).await {
        Ok(Some(b)) => b,
        Ok(None) => return text(StatusCode::NOT_FOUND, format!("bundle {name:?} not found")),
        Err(e) => {
            return text(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("reading bundle: {e}"),
            );
        }
    };
    if bundle.spec.source.type_ != SourceType::Upload {
        return text(
            StatusCode::CONFLICT,
            format!(
                "bundle source type is {:?}; expected \"upload\"",
                bundle.spec.source.type_.as_str()
            ),
        );
    }
    let staged = match server.uploads.stage(body).await {
        Ok(s) => s,
        Err(e @ crate::upload::UploadError::TooLarge { .. }) => {
            return text(StatusCode::PAYLOAD_TOO_LARGE, e.to_string());
        }
        Err(e) => return text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    match server.uploads.is_unchanged(name, &staged) {
        Ok(true) => return StatusCode::NO_CONTENT.into_response(),
        Ok(false) => {}
        Err(e) => return text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
    let unpacked = bundle
        .status
        .as_ref()
        .is_some_and(|s| s.phase.as_deref() == Some(PHASE_UNPACKED));
    if unpacked {
        return text(
            StatusCode::CONFLICT,
            "bundle has already been unpacked, cannot change content of existing bundle",
        );
    }
    if let Err(e) = server.uploads.commit(name, staged) {
        return text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
    }
    let status = plan::pending_status(&bundle, UPLOAD_RECEIVED, jiff::Timestamp::now());
    let patch = serde_json::json!({
        "apiVersion": "core.rukpak.io/v1alpha1",
        "kind": "Bundle",
        "status": status,
    });
    if let Err(e) = api
        .patch_status(
            name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await
    {
        // The file is in place; the controller picks it up at its next reconcile anyway.
        tracing::warn!("bundle {name}: recording the upload in status: {e}");
    }
    StatusCode::CREATED.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_tgz_names_address_bundles() {
        assert_eq!(bundle_name("combo.tgz"), Some("combo"));
        assert_eq!(bundle_name(".tgz"), None);
        assert_eq!(bundle_name("combo.tar"), None);
    }
}
