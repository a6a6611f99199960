//! What a reconcile of one `Catalog` should do, decided from the object and from what is
//! actually in the store — never from status alone (catalogd.md §9.3: a restarted catalogd
//! must not report content it no longer has).

use std::time::{Duration, SystemTime};

use olm_api::catalog::{Catalog, FINALIZER_DELETE_SERVER_CACHE};

use crate::store::StoredCatalog;

/// Why the source is checked (a digest resolution, then an unpack only if needed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckReason {
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Being deleted: remove the stored content, then the finalizer.
    Cleanup,
    /// Add the finalizer before anything is stored, so content is never orphaned.
    AddFinalizer,
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

pub fn decide(
    catalog: &Catalog,
    stored: Option<&StoredCatalog>,
    now: SystemTime,
) -> Result<Decision, PlanError> {
    let name = catalog.metadata.name.clone().unwrap_or_default();
    if catalog.metadata.deletion_timestamp.is_some() {
        return Ok(Decision::Cleanup);
    }
    let has_finalizer = catalog
        .metadata
        .finalizers
        .iter()
        .flatten()
        .any(|f| f == FINALIZER_DELETE_SERVER_CACHE);
    if !has_finalizer {
        return Ok(Decision::AddFinalizer);
    }
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
pub fn jitter(d: Duration, key: &str) -> Duration {
    // FNV-1a: tiny, deterministic, and good enough to spread names.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let fraction = (h % 10_000) as f64 / 10_000.0;
    d + d.mul_f64(0.01 * fraction)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use olm_api::catalog::{
        CatalogImageSource, CatalogSource, CatalogSourceType, CatalogSpec, CatalogStatus,
        ResolvedCatalogSource, ResolvedImageSource,
    };

    const DIGEST: &str = "sha256:abababababababababababababababababababababababababababababababab";

    fn catalog(reference: &str, poll: Option<&str>) -> Catalog {
        let mut c = Catalog::new(
            "cat",
            CatalogSpec {
                source: CatalogSource {
                    type_: CatalogSourceType::Image,
                    image: Some(CatalogImageSource {
                        ref_: reference.into(),
                        pull_secret: None,
                        poll_interval: poll.map(Into::into),
                        insecure_skip_tls_verify: false,
                    }),
                },
            },
        );
        c.metadata.generation = Some(1);
        c.metadata.finalizers = Some(vec![FINALIZER_DELETE_SERVER_CACHE.into()]);
        c
    }

    fn unpacked(mut c: Catalog, at: SystemTime) -> Catalog {
        let reference = c.spec.source.image.as_ref().unwrap().ref_.clone();
        c.status = Some(CatalogStatus {
            resolved_source: Some(ResolvedCatalogSource {
                type_: CatalogSourceType::Image,
                image: Some(ResolvedImageSource {
                    ref_: reference,
                    resolved_ref: format!("reg.example/cat@{DIGEST}"),
                    last_poll_attempt: Time(jiff::Timestamp::try_from(at).unwrap()),
                    pull_secret: None,
                }),
            }),
            observed_generation: Some(1),
            ..Default::default()
        });
        c
    }

    fn stored(digest: &str) -> StoredCatalog {
        StoredCatalog {
            name: "cat".into(),
            digest: digest.into(),
            dir: "/nonexistent".into(),
            stored_at: SystemTime::UNIX_EPOCH,
            size: 0,
            source: None,
        }
    }

    fn t(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
    }

    #[test]
    fn finalizer_first_then_first_unpack() {
        let mut c = catalog("reg.example/cat:v1", None);
        c.metadata.finalizers = None;
        assert_eq!(decide(&c, None, t(0)), Ok(Decision::AddFinalizer));
        let c = catalog("reg.example/cat:v1", None);
        assert_eq!(
            decide(&c, None, t(0)),
            Ok(Decision::Check(CheckReason::NeverUnpacked))
        );
    }

    #[test]
    fn absent_poll_interval_means_24h() {
        let c = unpacked(catalog("reg.example/cat:v1", None), t(0));
        let s = stored(DIGEST);
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
        let s = stored(DIGEST);
        let c = unpacked(catalog("reg.example/cat:v1", Some("0s")), t(0));
        assert_eq!(
            decide(&c, Some(&s), t(10 * 86400)),
            Ok(Decision::Wait(None))
        );
        let c = unpacked(catalog(&format!("reg.example/cat@{DIGEST}"), None), t(0));
        assert_eq!(
            decide(&c, Some(&s), t(10 * 86400)),
            Ok(Decision::Wait(None))
        );
    }

    #[test]
    fn state_comes_from_the_store_not_status() {
        let c = unpacked(catalog("reg.example/cat:v1", Some("0s")), t(0));
        assert_eq!(
            decide(&c, None, t(1)),
            Ok(Decision::Check(CheckReason::ContentMissing)),
            "a restarted catalogd with an empty volume must re-unpack"
        );
        let other =
            stored("sha256:1111111111111111111111111111111111111111111111111111111111111111");
        assert_eq!(
            decide(&c, Some(&other), t(1)),
            Ok(Decision::Check(CheckReason::ContentMissing))
        );
    }

    #[test]
    fn spec_changes_trigger_a_check() {
        let s = stored(DIGEST);
        let mut c = unpacked(catalog("reg.example/cat:v1", Some("0s")), t(0));
        c.metadata.generation = Some(2);
        assert_eq!(
            decide(&c, Some(&s), t(1)),
            Ok(Decision::Check(CheckReason::SpecChanged))
        );
        let mut c = unpacked(catalog("reg.example/cat:v1", Some("0s")), t(0));
        c.spec.source.image.as_mut().unwrap().ref_ = "reg.example/cat:v2".into();
        assert_eq!(
            decide(&c, Some(&s), t(1)),
            Ok(Decision::Check(CheckReason::RefChanged))
        );
    }

    #[test]
    fn deletion_wins() {
        let mut c = catalog("reg.example/cat:v1", None);
        c.metadata.deletion_timestamp = Some(Time(jiff::Timestamp::UNIX_EPOCH));
        assert_eq!(decide(&c, None, t(0)), Ok(Decision::Cleanup));
    }

    #[test]
    fn jitter_stays_within_one_percent() {
        let d = Duration::from_secs(3600);
        for name in ["a", "b", "operatorhubio", "redhat-operators"] {
            let j = jitter(d, name);
            assert!(j >= d && j <= d + Duration::from_secs(36), "{name}: {j:?}");
        }
    }
}
