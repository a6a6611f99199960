//! Prometheus metrics of the Bundle controller, registered into the registry the runtime
//! serves.

use std::time::Duration;

use olm_api::bundle::SourceType;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UnpackLabels {
    /// `image`, `git`, `configMaps`, `http` or `upload`.
    source: String,
    /// `unpacked`, `pending` or `failed`.
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceLabels {
    source: String,
}

fn duration_histogram() -> Histogram {
    Histogram::new([0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0])
}

/// The controller's metrics; cloning shares them.
#[derive(Clone)]
pub struct Metrics {
    unpacks: Family<UnpackLabels, Counter>,
    durations: Family<SourceLabels, Histogram, fn() -> Histogram>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            unpacks: Family::default(),
            durations: Family::new_with_constructor(duration_histogram),
        }
    }
}

impl Metrics {
    /// Registers `rukpak_bundle_unpacks_total{source,result}` and
    /// `rukpak_bundle_unpack_duration_seconds{source}`.
    pub fn register(&self, registry: &mut Registry) {
        let rukpak = registry.sub_registry_with_prefix("rukpak");
        rukpak.register(
            "bundle_unpacks",
            "Bundle unpacks by source type and result",
            self.unpacks.clone(),
        );
        rukpak.register(
            "bundle_unpack_duration_seconds",
            "Time from the start of an unpack to stored content or failure, by source type",
            self.durations.clone(),
        );
    }

    pub(crate) fn record_unpack(&self, source: SourceType, result: &str, took: Duration) {
        let source = source.as_str().to_owned();
        self.unpacks
            .get_or_create(&UnpackLabels {
                source: source.clone(),
                result: result.to_owned(),
            })
            .inc();
        self.durations
            .get_or_create(&SourceLabels { source })
            .observe(took.as_secs_f64());
    }
}
