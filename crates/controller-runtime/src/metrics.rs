//! The Prometheus endpoint, `/metrics`. Each controller registers its metrics into a
//! [`Registry`] it is handed (`register(&mut Registry)`, as linkerd's controllers do), so
//! two replicas in one test process never share counters. Metrics whose text must match
//! upstream's byte for byte (Go-style `le` labels, which prometheus-client writes
//! differently) are written by hand as a [`TextExposition`] and served before the registry.

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use prometheus_client::encoding::text::encode;
use prometheus_client::registry::Registry;

/// Metrics a controller writes in the text exposition format itself.
pub trait TextExposition: Send + Sync + 'static {
    /// Appends complete metric families (`# HELP`, `# TYPE`, samples) to `out`, or nothing.
    fn encode(&self, out: &mut String);
}

/// What `/metrics` serves: every hand-written exposition, then the registry.
#[derive(Clone)]
pub struct MetricsEndpoint {
    registry: Arc<Registry>,
    texts: Vec<Arc<dyn TextExposition>>,
}

impl MetricsEndpoint {
    /// Serves `registry`, into which the controller has registered its metrics.
    pub fn new(registry: Registry) -> Self {
        Self {
            registry: Arc::new(registry),
            texts: Vec::new(),
        }
    }

    /// Also serves `text`, ahead of the registry's metrics.
    #[must_use]
    pub fn with_text(mut self, text: Arc<dyn TextExposition>) -> Self {
        self.texts.push(text);
        self
    }

    /// The whole exposition as `/metrics` returns it.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for text in &self.texts {
            text.encode(&mut out);
        }
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }

    /// The `/metrics` route.
    pub fn router(self) -> Router {
        Router::new().route("/metrics", get(move || async move { self.render() }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use prometheus_client::metrics::counter::Counter;
    use tower::ServiceExt;

    struct Fixed(&'static str);

    impl TextExposition for Fixed {
        fn encode(&self, out: &mut String) {
            out.push_str(self.0);
        }
    }

    #[tokio::test]
    async fn hand_written_text_comes_first_then_the_registry() {
        let mut registry = Registry::default();
        let checks = Counter::<u64>::default();
        registry
            .sub_registry_with_prefix("demo")
            .register("checks", "Checks", checks.clone());
        checks.inc();
        let endpoint = MetricsEndpoint::new(registry)
            .with_text(Arc::new(Fixed("# TYPE hand_made gauge\nhand_made 1\n")));
        let response = endpoint
            .router()
            .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        assert_eq!(
            std::str::from_utf8(&body).unwrap(),
            "# TYPE hand_made gauge\nhand_made 1\n\
             # HELP demo_checks Checks.\n\
             # TYPE demo_checks counter\n\
             demo_checks_total 1\n\
             # EOF\n"
        );
    }

    #[test]
    fn separate_registries_do_not_share_counters() {
        let endpoints: Vec<_> = (0..2)
            .map(|i| {
                let mut registry = Registry::default();
                let c = Counter::<u64>::default();
                registry.register("checks", "Checks", c.clone());
                c.inc_by(i + 1);
                MetricsEndpoint::new(registry)
            })
            .collect();
        assert!(endpoints[0].render().contains("checks_total 1\n"));
        assert!(endpoints[1].render().contains("checks_total 2\n"));
    }
}
