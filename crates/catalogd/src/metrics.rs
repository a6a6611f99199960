//! Prometheus metrics: source checks and unpacks by outcome, and upstream's
//! request-duration histogram for the content server.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use controller_runtime::TextExposition;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use crate::guarded::keep_until_sent;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    /// `UnpackSuccessful` or the failure reason of the `Unpacked` condition.
    reason: String,
}

/// catalogd's metrics. Cloning shares them: the controller counts source checks and the
/// content server times requests into the same values.
#[derive(Clone, Default)]
pub struct Metrics {
    source_checks: Family<OutcomeLabels, Counter>,
    unpacks: Family<OutcomeLabels, Counter>,
    request_durations: Arc<RequestDurations>,
}

impl Metrics {
    /// Registers `catalogd_source_checks_total{reason}` and `catalogd_unpacks_total{reason}`
    /// into `registry`.
    pub fn register(&self, registry: &mut Registry) {
        let catalogd = registry.sub_registry_with_prefix("catalogd");
        catalogd.register(
            "source_checks",
            "Catalog source checks by outcome (the Unpacked condition's reason)",
            self.source_checks.clone(),
        );
        catalogd.register(
            "unpacks",
            "Catalog images downloaded and unpacked, by outcome (the Unpacked condition's reason); a check that finds its digest stored, or failed before, unpacks nothing",
            self.unpacks.clone(),
        );
    }

    /// `catalogd_http_request_duration_seconds`, written by hand (see [`RequestDurations`]);
    /// serve it with [`controller_runtime::MetricsEndpoint::with_text`].
    pub fn request_durations(&self) -> Arc<RequestDurations> {
        self.request_durations.clone()
    }

    /// Counts one source check with the `Unpacked` condition's `reason`.
    pub(crate) fn record_check(&self, reason: &str) {
        self.source_checks
            .get_or_create(&OutcomeLabels {
                reason: reason.to_owned(),
            })
            .inc();
    }

    /// Counts one image download and unpack ending with the `Unpacked` condition's `reason`.
    pub(crate) fn record_unpack(&self, reason: &str) {
        self.unpacks
            .get_or_create(&OutcomeLabels {
                reason: reason.to_owned(),
            })
            .inc();
    }
}

const DURATION_NAME: &str = "catalogd_http_request_duration_seconds";

/// Upstream's buckets (catalogd v0.10 `pkg/metrics`): every 100 ms up to 1 s, four times
/// those up to 4 s, and 10 s, for Apdex scores with T up to 1 s.
const DURATION_BUCKETS: [f64; 19] = [
    0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.2, 1.6, 2.0, 2.4, 2.8, 3.2, 3.6, 4.0, 10.0,
];

#[derive(Default)]
struct Histogram {
    /// Observations at or below each bucket's bound (cumulative when encoded).
    buckets: [u64; DURATION_BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// `catalogd_http_request_duration_seconds{code}`. Written by hand rather than with
/// prometheus-client's histogram so the `le` labels read as Go's client writes them
/// (`le="1"`, not `le="1.0"`): dashboards built on upstream select buckets by that text.
#[derive(Default)]
pub struct RequestDurations {
    by_code: Mutex<BTreeMap<u16, Histogram>>,
}

impl RequestDurations {
    fn observe(&self, code: u16, seconds: f64) {
        let mut by_code = self.by_code.lock().unwrap_or_else(|e| e.into_inner());
        let h = by_code.entry(code).or_default();
        if let Some(i) = DURATION_BUCKETS.iter().position(|b| seconds <= *b) {
            h.buckets[i] += 1;
        }
        h.count += 1;
        h.sum += seconds;
    }
}

impl TextExposition for RequestDurations {
    /// The Prometheus text exposition (nothing before the first request, as upstream).
    fn encode(&self, out: &mut String) {
        let by_code = self.by_code.lock().unwrap_or_else(|e| e.into_inner());
        if by_code.is_empty() {
            return;
        }
        let _ = writeln!(
            out,
            "# HELP {DURATION_NAME} Histogram of request duration in seconds"
        );
        let _ = writeln!(out, "# TYPE {DURATION_NAME} histogram");
        for (code, h) in by_code.iter() {
            let mut cumulative = 0;
            for (bound, n) in DURATION_BUCKETS.iter().zip(h.buckets) {
                cumulative += n;
                // Rust's `Display` for f64 is the shortest text that reads back, like Go's
                // `strconv.FormatFloat(b, 'g', -1, 64)` for these bounds.
                let _ = writeln!(
                    out,
                    "{DURATION_NAME}_bucket{{code=\"{code}\",le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "{DURATION_NAME}_bucket{{code=\"{code}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(out, "{DURATION_NAME}_sum{{code=\"{code}\"}} {}", h.sum);
            let _ = writeln!(out, "{DURATION_NAME}_count{{code=\"{code}\"}} {}", h.count);
        }
    }
}

/// Middleware timing each request from its arrival until its body has been sent (or the
/// client went away), as upstream's `promhttp.InstrumentHandlerDuration` does around a
/// handler that writes the whole body.
pub(crate) async fn time_requests(
    State(durations): State<Arc<RequestDurations>>,
    request: Request,
    next: Next,
) -> Response {
    let start = Instant::now();
    let response = next.run(request).await;
    let code = response.status().as_u16();
    keep_until_sent(
        response,
        Timer {
            durations,
            start,
            code,
        },
    )
}

/// Observes on drop: the body is dropped once sent completely or when the connection ends.
struct Timer {
    durations: Arc<RequestDurations>,
    start: Instant,
    code: u16,
}

impl Drop for Timer {
    fn drop(&mut self) {
        self.durations
            .observe(self.code, self.start.elapsed().as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_checks_are_counted_per_reason_in_the_registry_passed_in() {
        let metrics = Metrics::default();
        let mut registry = Registry::default();
        metrics.register(&mut registry);
        metrics.record_check("UnpackSuccessful");
        metrics.record_check("UnpackSuccessful");
        metrics.record_unpack("UnpackFailed");
        let endpoint = controller_runtime::MetricsEndpoint::new(registry)
            .with_text(metrics.request_durations());
        let text = endpoint.render();
        assert!(
            text.contains("catalogd_source_checks_total{reason=\"UnpackSuccessful\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("catalogd_unpacks_total{reason=\"UnpackFailed\"} 1\n"),
            "{text}"
        );
        // Another replica's registry starts from nothing.
        let mut other = Registry::default();
        Metrics::default().register(&mut other);
        let text = controller_runtime::MetricsEndpoint::new(other).render();
        assert!(!text.contains("UnpackSuccessful"), "{text}");
    }

    #[test]
    fn histogram_text_reads_like_go_clients() {
        let d = RequestDurations::default();
        let mut empty = String::new();
        d.encode(&mut empty);
        assert_eq!(empty, "");
        d.observe(200, 0.05);
        d.observe(200, 0.5);
        d.observe(200, 11.0);
        d.observe(404, 0.001);
        let mut out = String::new();
        d.encode(&mut out);
        assert!(out.starts_with(
            "# HELP catalogd_http_request_duration_seconds Histogram of request duration in seconds\n\
             # TYPE catalogd_http_request_duration_seconds histogram\n\
             catalogd_http_request_duration_seconds_bucket{code=\"200\",le=\"0.1\"} 1\n"
        ));
        for line in [
            "catalogd_http_request_duration_seconds_bucket{code=\"200\",le=\"0.5\"} 2\n",
            "catalogd_http_request_duration_seconds_bucket{code=\"200\",le=\"1\"} 2\n",
            "catalogd_http_request_duration_seconds_bucket{code=\"200\",le=\"2\"} 2\n",
            "catalogd_http_request_duration_seconds_bucket{code=\"200\",le=\"10\"} 2\n",
            "catalogd_http_request_duration_seconds_bucket{code=\"200\",le=\"+Inf\"} 3\n",
            "catalogd_http_request_duration_seconds_sum{code=\"200\"} 11.55\n",
            "catalogd_http_request_duration_seconds_count{code=\"200\"} 3\n",
            "catalogd_http_request_duration_seconds_bucket{code=\"404\",le=\"0.1\"} 1\n",
            "catalogd_http_request_duration_seconds_count{code=\"404\"} 1\n",
        ] {
            assert!(out.contains(line), "{line} missing from\n{out}");
        }
    }
}
