//! `/healthz` and `/readyz`, answered `ok` while the process serves at all (as upstream's
//! `healthz.Ping` checks do).

use axum::Router;
use axum::routing::get;

/// The probe routes the kubelet polls.
pub fn probes() -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(|| async { "ok" }))
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    #[tokio::test]
    async fn both_probes_answer_ok_and_nothing_else_is_served() {
        for (path, code) in [
            ("/healthz", StatusCode::OK),
            ("/readyz", StatusCode::OK),
            ("/metrics", StatusCode::NOT_FOUND),
        ] {
            let response = super::probes()
                .oneshot(Request::get(path).body(Body::empty()).unwrap())
                .await
                .unwrap();
            assert_eq!(response.status(), code, "{path}");
            if code == StatusCode::OK {
                let body = axum::body::to_bytes(response.into_body(), 64)
                    .await
                    .unwrap();
                assert_eq!(&body[..], b"ok");
            }
        }
    }
}
