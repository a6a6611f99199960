//! Prometheus metrics: reconcile outcomes per reason.

use std::sync::LazyLock;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// `UnpackSuccessful` or the failure reason of the `Unpacked` condition.
    pub reason: String,
}

pub struct Metrics {
    registry: Registry,
    pub unpacks: Family<OutcomeLabels, Counter>,
}

pub static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let mut registry = Registry::with_prefix("catalogd");
    let unpacks = Family::<OutcomeLabels, Counter>::default();
    registry.register(
        "source_checks",
        "Catalog source checks by outcome (the Unpacked condition's reason)",
        unpacks.clone(),
    );
    Metrics { registry, unpacks }
});

pub fn record(reason: &str) {
    METRICS
        .unpacks
        .get_or_create(&OutcomeLabels {
            reason: reason.to_owned(),
        })
        .inc();
}

pub async fn render() -> String {
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = encode(&mut out, &METRICS.registry);
    out
}
