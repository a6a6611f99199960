//! What a reconcile of one `Catalog` should do, decided from the object and from what is
//! actually in the store — never from status alone (catalogd.md §9.3: a restarted catalogd
//! must not report content it no longer has) — and the status it then writes.
//!
//! The finalizer is not decided here: kube's `finalizer()` helper adds it before the first
//! [`decide`] and runs the cleanup on deletion instead (see [`crate::controller`]).

use std::time::{Duration, SystemTime};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use olm_api::catalog::{
    self as api, Catalog, CatalogSourceType, CatalogStatus, ResolvedCatalogSource,
    ResolvedImageSource,
};
use olm_api::conditions::{new_condition, set_condition};

use crate::store::StoredCatalog;
use crate::unpack::UnpackFailure;

/// Why the source is checked (a digest resolution, then an unpack only if needed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CheckReason {
    /// Nothing was ever unpacked for this object.
    NeverUnpacked,
    /// `spec.source.image.ref` differs from what was unpacked.
    RefChanged,
    /// Any other spec change (pull secret, TLS setting, poll interval).
    SpecChanged,
    /// Status names content that is not in the store (restart, lost volume, other replica).
    ContentMissing,
    /// The poll interval has elapsed.
    PollDue,
}

/// What to do about a Catalog that carries the finalizer and is not being deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Resolve the source's digest and unpack if it is not what is stored.
    Check(CheckReason),
    /// Up to date; look again after the given time (`None`: only on change).
    Wait(Option<Duration>),
}

/// The image source spec could not be interpreted; the API server normally prevents this.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("catalog {0} has no image source")]
    NoImageSource(String),
    #[error("invalid pollInterval {value:?}: {message}")]
    PollInterval { value: String, message: String },
}

/// Decides from `catalog` and what the store holds for it (`stored`) at time `now`.
pub(crate) fn decide(
    catalog: &Catalog,
    stored: Option<&StoredCatalog>,
    now: SystemTime,
) -> Result<Decision, PlanError> {
    let name = catalog.metadata.name.clone().unwrap_or_default();
    let image = catalog
        .spec
        .source
        .image
        .as_ref()
        .ok_or_else(|| PlanError::NoImageSource(name.clone()))?;
    let poll = image
        .effective_poll_interval()
        .map_err(|e| PlanError::PollInterval {
            value: image.poll_interval.clone().unwrap_or_default(),
            message: e.to_string(),
        })?;

    let status = catalog.status.as_ref();
    let resolved = status
        .and_then(|s| s.resolved_source.as_ref())
        .and_then(|r| r.image.as_ref());
    let Some(resolved) = resolved else {
        return Ok(Decision::Check(CheckReason::NeverUnpacked));
    };
    if resolved.ref_ != image.ref_ {
        return Ok(Decision::Check(CheckReason::RefChanged));
    }
    let observed = status.and_then(|s| s.observed_generation);
    if catalog.metadata.generation.is_some() && observed != catalog.metadata.generation {
        return Ok(Decision::Check(CheckReason::SpecChanged));
    }
    let resolved_digest = resolved.resolved_ref.rsplit_once('@').map(|(_, d)| d);
    match stored {
        Some(s) if Some(s.digest.as_str()) == resolved_digest => {}
        _ => return Ok(Decision::Check(CheckReason::ContentMissing)),
    }
    let Some(interval) = poll else {
        return Ok(Decision::Wait(None));
    };
    let last: SystemTime = resolved.last_poll_attempt.0.into();
    let due = last + interval;
    match due.duration_since(now) {
        Ok(remaining) if !remaining.is_zero() => Ok(Decision::Wait(Some(remaining))),
        _ => Ok(Decision::Check(CheckReason::PollDue)),
    }
}

/// `RequeueAfter = jitter(d, 0.01)`: a uniformly spread value in `[d, 1.01·d]`, so many
/// catalogs created together do not poll the registry in lockstep. The spread comes from
/// the catalog name, which keeps a given catalog's schedule stable.
pub(crate) fn jitter(d: Duration, key: &str) -> Duration {
    // FNV-1a: tiny, deterministic, and good enough to spread names.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let fraction = (h % 10_000) as f64 / 10_000.0;
    d + d.mul_f64(0.01 * fraction)
}

/// `status.contentURL` for catalog `name` served under `external_address`.
pub(crate) fn content_url(external_address: &str, name: &str) -> String {
    format!("{external_address}/catalogs/{name}/all.json")
}

/// When the leader last checked the source, as recorded in status.
pub(crate) fn last_poll_attempt(catalog: &Catalog) -> Option<Time> {
    catalog
        .status
        .as_ref()?
        .resolved_source
        .as_ref()?
        .image
        .as_ref()
        .map(|i| i.last_poll_attempt.clone())
}

fn time_of(t: SystemTime) -> Option<Time> {
    jiff::Timestamp::try_from(t).ok().map(Time)
}

fn resolved_source(stored: &StoredCatalog, last_poll: Time) -> Option<ResolvedCatalogSource> {
    let source = stored.source.as_ref()?;
    Some(ResolvedCatalogSource {
        type_: CatalogSourceType::Image,
        image: Some(ResolvedImageSource {
            ref_: source.reference.clone(),
            resolved_ref: source.resolved_ref.clone(),
            last_poll_attempt: last_poll,
            pull_secret: None,
        }),
    })
}

/// Status once `stored` is what is served: `Unpacked` true, the generation observed.
pub(crate) fn success_status(
    catalog: &Catalog,
    stored: &StoredCatalog,
    last_poll: Time,
    external_address: &str,
    now: jiff::Timestamp,
) -> CatalogStatus {
    let generation = catalog.metadata.generation;
    let mut conditions = catalog
        .status
        .as_ref()
        .map(|s| s.conditions.clone())
        .unwrap_or_default();
    let resolved = stored
        .source
        .as_ref()
        .map_or(stored.digest.as_str(), |s| s.resolved_ref.as_str());
    set_condition(
        &mut conditions,
        new_condition(
            api::TYPE_UNPACKED,
            "True",
            api::REASON_UNPACK_SUCCESSFUL,
            format!("successfully unpacked the catalog image {resolved:?}"),
            generation,
            now,
        ),
    );
    CatalogStatus {
        conditions,
        phase: Some(api::PHASE_UNPACKED.into()),
        resolved_source: resolved_source(stored, last_poll),
        content_url: Some(content_url(external_address, &stored.name)),
        observed_generation: generation,
        last_unpacked: time_of(stored.stored_at),
    }
}

/// Status after a failed check: `Unpacked` false with the failure's reason, while what is
/// still served (`stored`) is described as it is; nothing is claimed that the store lacks.
pub(crate) fn failure_status(
    catalog: &Catalog,
    stored: Option<&StoredCatalog>,
    failure: &UnpackFailure,
    external_address: &str,
    now: jiff::Timestamp,
) -> CatalogStatus {
    let previous = catalog.status.clone().unwrap_or_default();
    let mut conditions = previous.conditions.clone();
    set_condition(
        &mut conditions,
        new_condition(
            api::TYPE_UNPACKED,
            "False",
            failure.reason,
            failure.message.clone(),
            catalog.metadata.generation,
            now,
        ),
    );
    let last_poll = last_poll_attempt(catalog).unwrap_or(Time(now));
    CatalogStatus {
        conditions,
        phase: Some(api::PHASE_FAILING.into()),
        resolved_source: stored.and_then(|s| resolved_source(s, last_poll)),
        content_url: stored.map(|s| content_url(external_address, &s.name)),
        observed_generation: previous.observed_generation,
        last_unpacked: stored.and_then(|s| time_of(s.stored_at)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{DIGEST, catalog, stored, stored_from, t};
    use crate::unpack::reason;
    use olm_api::conditions::find_condition;

    #[test]
    fn first_unpack() {
        let c = catalog("cat").build();
        assert_eq!(
            decide(&c, None, t(0)),
            Ok(Decision::Check(CheckReason::NeverUnpacked))
        );
        // The finalizer is kube's `finalizer()` helper's business: `decide` never sees a
        // Catalog without it in the controller, and does not look.
        let mut c = catalog("cat").build();
        c.metadata.finalizers = None;
        assert_eq!(
            decide(&c, None, t(0)),
            Ok(Decision::Check(CheckReason::NeverUnpacked))
        );
    }

    #[test]
    fn absent_poll_interval_means_24h() {
        let c = catalog("cat").unpacked_at(t(0)).build();
        let s = stored("cat", DIGEST);
        assert_eq!(
            decide(&c, Some(&s), t(3600)),
            Ok(Decision::Wait(Some(Duration::from_secs(23 * 3600))))
        );
        assert_eq!(
            decide(&c, Some(&s), t(24 * 3600)),
            Ok(Decision::Check(CheckReason::PollDue))
        );
    }

    #[test]
    fn zero_disables_polling_and_digests_never_poll() {
        let s = stored("cat", DIGEST);
        let c = catalog("cat").poll(Some("0s")).unpacked_at(t(0)).build();
        assert_eq!(
            decide(&c, Some(&s), t(10 * 86400)),
            Ok(Decision::Wait(None))
        );
        let c = catalog("cat")
            .image(&format!("reg.example/cat@{DIGEST}"))
            .unpacked_at(t(0))
            .build();
        assert_eq!(
            decide(&c, Some(&s), t(10 * 86400)),
            Ok(Decision::Wait(None))
        );
    }

    #[test]
    fn state_comes_from_the_store_not_status() {
        let c = catalog("cat").poll(Some("0s")).unpacked_at(t(0)).build();
        assert_eq!(
            decide(&c, None, t(1)),
            Ok(Decision::Check(CheckReason::ContentMissing)),
            "a restarted catalogd with an empty volume must re-unpack"
        );
        let other = stored(
            "cat",
            "sha256:1111111111111111111111111111111111111111111111111111111111111111",
        );
        assert_eq!(
            decide(&c, Some(&other), t(1)),
            Ok(Decision::Check(CheckReason::ContentMissing))
        );
    }

    #[test]
    fn spec_changes_trigger_a_check() {
        let s = stored("cat", DIGEST);
        let c = catalog("cat")
            .poll(Some("0s"))
            .unpacked_at(t(0))
            .generation(2)
            .build();
        assert_eq!(
            decide(&c, Some(&s), t(1)),
            Ok(Decision::Check(CheckReason::SpecChanged))
        );
        let c = catalog("cat")
            .poll(Some("0s"))
            .unpacked_at(t(0))
            .image("reg.example/cat:v2")
            .build();
        assert_eq!(
            decide(&c, Some(&s), t(1)),
            Ok(Decision::Check(CheckReason::RefChanged))
        );
    }

    #[test]
    fn an_unreadable_poll_interval_is_an_error() {
        let c = catalog("cat").poll(Some("soon")).build();
        assert!(matches!(
            decide(&c, None, t(0)),
            Err(PlanError::PollInterval { value, .. }) if value == "soon"
        ));
    }

    #[test]
    fn jitter_stays_within_one_percent() {
        let d = Duration::from_secs(3600);
        for name in ["a", "b", "operatorhubio", "redhat-operators"] {
            let j = jitter(d, name);
            assert!(j >= d && j <= d + Duration::from_secs(36), "{name}: {j:?}");
        }
    }

    fn ts(secs: u64) -> jiff::Timestamp {
        jiff::Timestamp::try_from(t(secs)).unwrap()
    }

    #[test]
    fn success_status_describes_the_store_and_observes_the_generation() {
        let c = catalog("cat").generation(3).build();
        let s = stored_from("cat", "reg.example/cat:v1", t(5));
        let status = success_status(&c, &s, Time(ts(4)), "http://svc", ts(6));
        assert_eq!(status.phase.as_deref(), Some(api::PHASE_UNPACKED));
        assert_eq!(status.observed_generation, Some(3));
        assert_eq!(
            status.content_url.as_deref(),
            Some("http://svc/catalogs/cat/all.json")
        );
        assert_eq!(status.last_unpacked, Some(Time(ts(5))));
        let image = status.resolved_source.unwrap().image.unwrap();
        assert_eq!(image.ref_, "reg.example/cat:v1");
        assert_eq!(image.resolved_ref, format!("reg.example/cat@{DIGEST}"));
        assert_eq!(image.last_poll_attempt, Time(ts(4)));
        let unpacked = find_condition(&status.conditions, api::TYPE_UNPACKED).unwrap();
        assert_eq!(unpacked.status, "True");
        assert_eq!(unpacked.reason, api::REASON_UNPACK_SUCCESSFUL);
        assert_eq!(
            unpacked.message,
            format!("successfully unpacked the catalog image \"reg.example/cat@{DIGEST}\"")
        );
        assert_eq!(unpacked.observed_generation, Some(3));
    }

    #[test]
    fn success_status_is_stable_so_an_up_to_date_catalog_is_not_rewritten() {
        let c = catalog("cat").build();
        let s = stored_from("cat", "reg.example/cat:v1", t(5));
        let first = success_status(&c, &s, Time(ts(4)), "http://svc", ts(6));
        let c = catalog("cat").with_status(first.clone()).build();
        assert_eq!(
            success_status(&c, &s, Time(ts(4)), "http://svc", ts(60)),
            first,
            "a later reconcile must not move lastTransitionTime"
        );
    }

    #[test]
    fn failure_status_keeps_what_is_served_and_the_observed_generation() {
        let served = catalog("cat").unpacked_at(t(0)).build();
        let s = stored_from("cat", "reg.example/cat:v1", t(0));
        let previous = success_status(&served, &s, Time(ts(0)), "http://svc", ts(0));
        let c = catalog("cat")
            .with_status(previous.clone())
            .generation(2)
            .build();
        let failure = UnpackFailure::new(reason::IMAGE_NOT_FOUND, "no such tag");
        let status = failure_status(&c, Some(&s), &failure, "http://svc", ts(9));
        assert_eq!(status.phase.as_deref(), Some(api::PHASE_FAILING));
        assert_eq!(
            status.observed_generation,
            Some(1),
            "generation 2 was not unpacked"
        );
        assert_eq!(status.content_url, previous.content_url);
        assert_eq!(status.resolved_source, previous.resolved_source);
        let unpacked = find_condition(&status.conditions, api::TYPE_UNPACKED).unwrap();
        assert_eq!(
            (unpacked.status.as_str(), unpacked.reason.as_str()),
            ("False", reason::IMAGE_NOT_FOUND)
        );
        assert_eq!(unpacked.message, "no such tag");
        assert_eq!(unpacked.last_transition_time, Time(ts(9)));
    }

    #[test]
    fn failure_status_claims_nothing_the_store_lacks() {
        let c = catalog("cat").build();
        let failure = UnpackFailure::new(reason::UNAUTHORIZED, "denied");
        let status = failure_status(&c, None, &failure, "http://svc", ts(9));
        assert_eq!(status.phase.as_deref(), Some(api::PHASE_FAILING));
        assert_eq!(status.content_url, None);
        assert_eq!(status.resolved_source, None);
        assert_eq!(status.last_unpacked, None);
        assert_eq!(status.observed_generation, None);
    }
}
