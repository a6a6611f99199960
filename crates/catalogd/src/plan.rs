//! What a reconcile of one `Catalog` should do, decided from the object and from what is
//! actually in the store — never from status alone (catalogd.md §9.3: a restarted catalogd
//! must not report content it no longer has) — and the status it then writes.
//!
//! A failure that the image's content determines is remembered for that digest (a
//! [`FailedUnpack`] in the store, so it survives a restart): while the Catalog's uid,
//! generation, [`RETRY_ANNOTATION`] and catalogd's limits are those it failed under, the
//! digest is not unpacked again, and the source is only checked when the next poll is due.
//!
//! The finalizer is not decided here: kube's `finalizer()` helper adds it before the first
//! [`decide`] and runs the cleanup on deletion instead (see [`crate::controller`]).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use olm_api::catalog::{
    self as api, Catalog, CatalogImageSource, CatalogSourceType, CatalogStatus,
    ResolvedCatalogSource, ResolvedImageSource,
};
use olm_api::conditions::{new_condition, set_condition};

use crate::store::{FailedUnpack, StoredCatalog};
use crate::unpack::{UnpackFailure, reason};

/// Setting this annotation on a Catalog to a new value (any value: a timestamp reads
/// well) asks for one more attempt at an image digest that failed:
/// `kubectl annotate catalog <name> catalogd.operatorframework.io/retry="$(date +%s)" --overwrite`.
pub const RETRY_ANNOTATION: &str = "catalogd.operatorframework.io/retry";

/// A failure remembered for the Catalog as it is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Remembered {
    /// As reported when it happened; `failure.digest` is the image digest.
    pub(crate) failure: UnpackFailure,
    /// When the source was last resolved to that digest.
    pub(crate) checked_at: SystemTime,
}

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

/// Decides from `catalog`, what the store holds for it (`stored`) and the failure
/// remembered for it (see [`remembered`]) at time `now`.
pub(crate) fn decide(
    catalog: &Catalog,
    stored: Option<&StoredCatalog>,
    remembered: Option<&Remembered>,
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
    let decision = decide_from_store(catalog, image, stored, poll, now);
    Ok(match remembered {
        // The failure is the latest check of the source, and was made for this very spec;
        // content lost from the store is still looked for at once.
        Some(r) if decision != Decision::Check(CheckReason::ContentMissing) => {
            next_poll(r.checked_at, poll, now)
        }
        _ => decision,
    })
}

fn decide_from_store(
    catalog: &Catalog,
    image: &CatalogImageSource,
    stored: Option<&StoredCatalog>,
    poll: Option<Duration>,
    now: SystemTime,
) -> Decision {
    let status = catalog.status.as_ref();
    let resolved = status
        .and_then(|s| s.resolved_source.as_ref())
        .and_then(|r| r.image.as_ref());
    let Some(resolved) = resolved else {
        return Decision::Check(CheckReason::NeverUnpacked);
    };
    if resolved.ref_ != image.ref_ {
        return Decision::Check(CheckReason::RefChanged);
    }
    let observed = status.and_then(|s| s.observed_generation);
    if catalog.metadata.generation.is_some() && observed != catalog.metadata.generation {
        return Decision::Check(CheckReason::SpecChanged);
    }
    let resolved_digest = resolved.resolved_ref.rsplit_once('@').map(|(_, d)| d);
    match stored {
        Some(s) if Some(s.digest.as_str()) == resolved_digest => {}
        _ => return Decision::Check(CheckReason::ContentMissing),
    }
    next_poll(resolved.last_poll_attempt.0.into(), poll, now)
}

/// Wait for the poll after one at `last`, or check if it is due (`poll`: `None` never polls).
fn next_poll(last: SystemTime, poll: Option<Duration>, now: SystemTime) -> Decision {
    let Some(interval) = poll else {
        return Decision::Wait(None);
    };
    match (last + interval).duration_since(now) {
        Ok(remaining) if !remaining.is_zero() => Decision::Wait(Some(remaining)),
        _ => Decision::Check(CheckReason::PollDue),
    }
}

/// The value of the Catalog's [`RETRY_ANNOTATION`], if set.
fn retry_request(catalog: &Catalog) -> Option<&str> {
    catalog
        .metadata
        .annotations
        .as_ref()?
        .get(RETRY_ANNOTATION)
        .map(String::as_str)
}

/// `record`, if it still holds for `catalog` as it is now and for catalogd's `settings`: the
/// same object (uid), the same spec (generation), no new retry request, the same limits.
pub(crate) fn remembered(
    catalog: &Catalog,
    record: Option<FailedUnpack>,
    settings: &str,
) -> Option<Remembered> {
    let record = record?;
    let holds = record.uid == catalog.metadata.uid.as_deref().unwrap_or_default()
        && record.generation == catalog.metadata.generation
        && record.retry.as_deref() == retry_request(catalog)
        && record.settings == settings;
    if !holds {
        return None;
    }
    let failure = UnpackFailure {
        digest: Some(record.digest),
        ..UnpackFailure::new(reason::known(&record.reason)?, record.message)
    };
    Some(Remembered {
        failure,
        checked_at: UNIX_EPOCH + Duration::from_secs(record.checked_at),
    })
}

/// The record that makes `failure` remembered, if its image's content determines it.
pub(crate) fn failure_record(
    catalog: &Catalog,
    failure: &UnpackFailure,
    settings: &str,
    now: SystemTime,
) -> Option<FailedUnpack> {
    Some(FailedUnpack {
        uid: catalog.metadata.uid.clone().unwrap_or_default(),
        generation: catalog.metadata.generation,
        retry: retry_request(catalog).map(str::to_owned),
        settings: settings.to_owned(),
        digest: failure.digest.clone()?,
        reason: failure.reason.to_owned(),
        message: failure.message.clone(),
        checked_at: now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
    })
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
    use olm_api::conditions::find_condition;

    #[test]
    fn first_unpack() {
        let c = catalog("cat").build();
        assert_eq!(
            decide(&c, None, None, t(0)),
            Ok(Decision::Check(CheckReason::NeverUnpacked))
        );
        // The finalizer is kube's `finalizer()` helper's business: `decide` never sees a
        // Catalog without it in the controller, and does not look.
        let mut c = catalog("cat").build();
        c.metadata.finalizers = None;
        assert_eq!(
            decide(&c, None, None, t(0)),
            Ok(Decision::Check(CheckReason::NeverUnpacked))
        );
    }

    #[test]
    fn absent_poll_interval_means_24h() {
        let c = catalog("cat").unpacked_at(t(0)).build();
        let s = stored("cat", DIGEST);
        assert_eq!(
            decide(&c, Some(&s), None, t(3600)),
            Ok(Decision::Wait(Some(Duration::from_secs(23 * 3600))))
        );
        assert_eq!(
            decide(&c, Some(&s), None, t(24 * 3600)),
            Ok(Decision::Check(CheckReason::PollDue))
        );
    }

    #[test]
    fn zero_disables_polling_and_digests_never_poll() {
        let s = stored("cat", DIGEST);
        let c = catalog("cat").poll(Some("0s")).unpacked_at(t(0)).build();
        assert_eq!(
            decide(&c, Some(&s), None, t(10 * 86400)),
            Ok(Decision::Wait(None))
        );
        let c = catalog("cat")
            .image(&format!("reg.example/cat@{DIGEST}"))
            .unpacked_at(t(0))
            .build();
        assert_eq!(
            decide(&c, Some(&s), None, t(10 * 86400)),
            Ok(Decision::Wait(None))
        );
    }

    #[test]
    fn state_comes_from_the_store_not_status() {
        let c = catalog("cat").poll(Some("0s")).unpacked_at(t(0)).build();
        assert_eq!(
            decide(&c, None, None, t(1)),
            Ok(Decision::Check(CheckReason::ContentMissing)),
            "a restarted catalogd with an empty volume must re-unpack"
        );
        let other = stored(
            "cat",
            "sha256:1111111111111111111111111111111111111111111111111111111111111111",
        );
        assert_eq!(
            decide(&c, Some(&other), None, t(1)),
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
            decide(&c, Some(&s), None, t(1)),
            Ok(Decision::Check(CheckReason::SpecChanged))
        );
        let c = catalog("cat")
            .poll(Some("0s"))
            .unpacked_at(t(0))
            .image("reg.example/cat:v2")
            .build();
        assert_eq!(
            decide(&c, Some(&s), None, t(1)),
            Ok(Decision::Check(CheckReason::RefChanged))
        );
    }

    #[test]
    fn an_unreadable_poll_interval_is_an_error() {
        let c = catalog("cat").poll(Some("soon")).build();
        assert!(matches!(
            decide(&c, None, None, t(0)),
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

    const SETTINGS: &str = "max-catalog-entries=100000";

    /// What the controller remembers after `failure` of `c` at `at`, read back as it would
    /// be for `now_c`.
    fn remember(
        c: &Catalog,
        failure: &UnpackFailure,
        at: SystemTime,
        now_c: &Catalog,
    ) -> Option<Remembered> {
        let record = failure_record(c, failure, SETTINGS, at);
        remembered(now_c, record, SETTINGS)
    }

    fn bad_content() -> UnpackFailure {
        UnpackFailure::new(reason::UNPACK_FAILED, "not text").determined_by(DIGEST)
    }

    #[test]
    fn a_content_failure_waits_for_the_next_poll_and_a_transient_one_does_not() {
        let c = catalog("cat").poll(Some("1h")).build();
        let r = remember(&c, &bad_content(), t(100), &c).expect("remembered");
        assert_eq!(r.checked_at, t(100));
        assert_eq!(r.failure, bad_content());
        assert_eq!(
            decide(&c, None, Some(&r), t(160)),
            Ok(Decision::Wait(Some(Duration::from_secs(3540)))),
            "not unpacked again before the poll is due"
        );
        assert_eq!(
            decide(&c, None, Some(&r), t(3700)),
            Ok(Decision::Check(CheckReason::PollDue)),
            "the poll still looks for a new digest"
        );

        let transient = UnpackFailure::new(reason::REGISTRY_UNREACHABLE, "down");
        assert_eq!(failure_record(&c, &transient, SETTINGS, t(100)), None);
    }

    #[test]
    fn without_polling_a_content_failure_waits_for_a_change() {
        for c in [
            catalog("cat").poll(Some("0s")).build(),
            catalog("cat")
                .image(&format!("reg.example/cat@{DIGEST}"))
                .build(),
        ] {
            let r = remember(&c, &bad_content(), t(0), &c).unwrap();
            assert_eq!(
                decide(&c, None, Some(&r), t(10 * 86400)),
                Ok(Decision::Wait(None))
            );
        }
    }

    #[test]
    fn a_remembered_failure_outlasts_served_content_but_not_its_loss() {
        // Serving the old digest; the poll at t(3600) found a new one that failed.
        let c = catalog("cat").poll(Some("1h")).unpacked_at(t(0)).build();
        let s = stored("cat", DIGEST);
        let failure = UnpackFailure::new(reason::INVALID_CATALOG, "bad").determined_by(
            "sha256:1111111111111111111111111111111111111111111111111111111111111111",
        );
        let r = remember(&c, &failure, t(3600), &c).unwrap();
        assert_eq!(
            decide(&c, Some(&s), Some(&r), t(3700)),
            Ok(Decision::Wait(Some(Duration::from_secs(3500))))
        );
        assert_eq!(
            decide(&c, None, Some(&r), t(3700)),
            Ok(Decision::Check(CheckReason::ContentMissing)),
            "what status claims is looked for at once"
        );
    }

    #[test]
    fn a_new_retry_value_a_spec_change_or_other_limits_forget_the_failure() {
        let c = catalog("cat").build();
        let failure = bad_content();
        for (now_c, why) in [
            (
                catalog("cat").annotate(RETRY_ANNOTATION, "1").build(),
                "retry requested",
            ),
            (catalog("cat").generation(2).build(), "spec changed"),
            (
                catalog("cat").uid("other").build(),
                "a new object of the same name",
            ),
        ] {
            assert_eq!(remember(&c, &failure, t(0), &now_c), None, "{why}");
        }
        let asked = catalog("cat").annotate(RETRY_ANNOTATION, "1").build();
        assert!(
            remember(&asked, &failure, t(0), &asked).is_some(),
            "the retry's own failure is remembered"
        );
        let again = catalog("cat").annotate(RETRY_ANNOTATION, "2").build();
        assert_eq!(remember(&asked, &failure, t(0), &again), None);
        assert_eq!(
            remember(&asked, &failure, t(0), &c),
            None,
            "removing it asks too"
        );

        let record = failure_record(&c, &failure, SETTINGS, t(0));
        assert_eq!(
            remembered(&c, record.clone(), "max-catalog-entries=7"),
            None
        );
        let mut unknown = record.unwrap();
        unknown.reason = "SomethingNew".into();
        assert_eq!(remembered(&c, Some(unknown), SETTINGS), None);
    }

    #[test]
    fn the_failure_message_says_how_to_retry() {
        assert_eq!(
            bad_content().message,
            format!(
                "not text (image {DIGEST}; not tried again until the image digest or the Catalog's spec changes, or the annotation catalogd.operatorframework.io/retry is set to a new value)"
            )
        );
    }
}
