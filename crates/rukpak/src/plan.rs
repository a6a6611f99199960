//! What a reconcile of one `Bundle` should do, decided from the object and from what the
//! store actually holds, and the status it then writes (rukpak.md §1.3–§1.4, §7.4).
//!
//! Unlike upstream, an unpacked Bundle is not unpacked again on every reconcile: content in
//! the store for this object is final. If it is lost, it is unpacked again from the pinned
//! `status.resolvedSource` (an image digest, a git commit), so a moving tag or branch is
//! only picked up by a new Bundle.

use jiff::Timestamp;
use olm_api::bundle::{
    self as api, Bundle, BundleSource, BundleStatus, PHASE_FAILING, PHASE_PENDING, PHASE_UNPACKED,
    REASON_UNPACK_FAILED, REASON_UNPACK_PENDING, REASON_UNPACK_SUCCESSFUL, TYPE_UNPACKED,
};
use olm_api::conditions::{STATUS_FALSE, STATUS_TRUE, new_condition, set_condition};

use crate::store::StoredBundle;

/// Why content is unpacked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UnpackReason {
    /// Nothing was ever unpacked for this object.
    NeverUnpacked,
    /// Status says it was unpacked, but the store does not hold it (lost volume, new
    /// replica); unpacked again from the pinned source.
    ContentMissing,
}

/// What to do about a Bundle that carries the finalizer and is not being deleted.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Decision {
    /// The store holds this object's content: only make status say so.
    UpToDate,
    /// Unpack `source` (the spec's, or the pinned one when content was lost).
    Unpack {
        source: BundleSource,
        why: UnpackReason,
    },
}

/// Decides from `bundle` and the store's record for its name.
pub(crate) fn decide(bundle: &Bundle, stored: Option<&StoredBundle>) -> Decision {
    let uid = bundle.metadata.uid.as_deref().unwrap_or_default();
    if stored.is_some_and(|s| s.uid == uid) {
        return Decision::UpToDate;
    }
    let status = bundle.status.as_ref();
    let pinned = status
        .filter(|s| s.phase.as_deref() == Some(PHASE_UNPACKED))
        .and_then(|s| s.resolved_source.clone());
    match pinned {
        Some(source) => Decision::Unpack {
            source,
            why: UnpackReason::ContentMissing,
        },
        None => Decision::Unpack {
            source: bundle.spec.source.clone(),
            why: UnpackReason::NeverUnpacked,
        },
    }
}

/// `status.contentURL` of the Bundle `name` under `external_address`.
pub(crate) fn content_url(external_address: &str, name: &str) -> String {
    format!(
        "{}/bundles/{name}.tgz",
        external_address.trim_end_matches('/')
    )
}

/// The status of a Bundle whose content is stored.
pub(crate) fn unpacked_status(
    bundle: &Bundle,
    stored: &StoredBundle,
    content_url: String,
    now: Timestamp,
) -> BundleStatus {
    let message = format!(
        "Successfully unpacked the {} Bundle",
        stored.resolved_source.type_
    );
    let mut status = with_condition(bundle, STATUS_TRUE, REASON_UNPACK_SUCCESSFUL, message, now);
    status.phase = Some(PHASE_UNPACKED.to_owned());
    status.resolved_source = Some(stored.resolved_source.clone());
    status.content_url = Some(content_url);
    status
}

/// The status of a Bundle waiting for content (an upload), with `message` saying for what.
pub(crate) fn pending_status(bundle: &Bundle, message: &str, now: Timestamp) -> BundleStatus {
    let mut status = with_condition(bundle, STATUS_FALSE, REASON_UNPACK_PENDING, message, now);
    status.phase = Some(PHASE_PENDING.to_owned());
    status
}

/// The status of a Bundle whose content could not be unpacked, validated or stored.
pub(crate) fn failing_status(bundle: &Bundle, message: &str, now: Timestamp) -> BundleStatus {
    let mut status = with_condition(bundle, STATUS_FALSE, REASON_UNPACK_FAILED, message, now);
    status.phase = Some(PHASE_FAILING.to_owned());
    status
}

/// The current conditions with `Unpacked` set; phase, resolved source and content URL
/// cleared (callers set what holds), `observedGeneration` current.
fn with_condition(
    bundle: &Bundle,
    status: &str,
    reason: &str,
    message: impl Into<String>,
    now: Timestamp,
) -> BundleStatus {
    let mut conditions = bundle
        .status
        .as_ref()
        .map(|s| s.conditions.clone())
        .unwrap_or_default();
    // Upstream's Bundle conditions carry no observedGeneration; the status field has it.
    set_condition(
        &mut conditions,
        new_condition(TYPE_UNPACKED, status, reason, message, None, now),
    );
    BundleStatus {
        phase: None,
        resolved_source: None,
        content_url: None,
        observed_generation: bundle.metadata.generation,
        conditions,
    }
}

/// Whether this controller handles Bundles of `class`.
pub(crate) fn handles_class(class: &str) -> bool {
    [
        api::PROVISIONER_PLAIN,
        api::PROVISIONER_REGISTRY,
        api::PROVISIONER_HELM,
    ]
    .contains(&class)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{BundleFixture, stored};

    #[test]
    fn a_new_bundle_is_unpacked_from_its_spec() {
        let bundle = BundleFixture::git("b", "v0.0.2").build();
        assert_eq!(
            decide(&bundle, None),
            Decision::Unpack {
                source: bundle.spec.source.clone(),
                why: UnpackReason::NeverUnpacked
            }
        );
    }

    #[test]
    fn stored_content_of_this_object_is_final() {
        let bundle = BundleFixture::git("b", "v0.0.2").uid("u1").build();
        assert_eq!(
            decide(&bundle, Some(&stored("u1", &bundle.spec.source))),
            Decision::UpToDate
        );
    }

    #[test]
    fn content_of_an_earlier_object_with_the_same_name_is_not_reused() {
        let bundle = BundleFixture::git("b", "v0.0.2").uid("u2").build();
        assert!(matches!(
            decide(&bundle, Some(&stored("u1", &bundle.spec.source))),
            Decision::Unpack {
                why: UnpackReason::NeverUnpacked,
                ..
            }
        ));
    }

    #[test]
    fn lost_content_is_unpacked_again_from_the_pinned_source_not_the_moving_tag() {
        let pinned = BundleFixture::git_commit("b", "f5a3711")
            .build()
            .spec
            .source;
        let bundle = BundleFixture::git("b", "v0.0.2")
            .unpacked(pinned.clone())
            .build();
        assert_eq!(
            decide(&bundle, None),
            Decision::Unpack {
                source: pinned,
                why: UnpackReason::ContentMissing
            }
        );
    }

    #[test]
    fn a_failing_bundle_is_retried_from_its_spec() {
        let bundle = BundleFixture::git("b", "v0.0.2").build();
        let failing = Bundle {
            status: Some(failing_status(&bundle, "boom", Timestamp::UNIX_EPOCH)),
            ..bundle.clone()
        };
        assert!(matches!(
            decide(&failing, None),
            Decision::Unpack {
                why: UnpackReason::NeverUnpacked,
                ..
            }
        ));
    }

    #[test]
    fn statuses_follow_upstreams_condition_table() {
        let bundle = BundleFixture::git("b", "v0.0.2").generation(3).build();
        let now = Timestamp::UNIX_EPOCH;
        let record = stored("u", &bundle.spec.source);
        let ok = unpacked_status(
            &bundle,
            &record,
            content_url("https://core.x.svc/", "b"),
            now,
        );
        assert_eq!(ok.phase.as_deref(), Some("Unpacked"));
        assert_eq!(
            ok.content_url.as_deref(),
            Some("https://core.x.svc/bundles/b.tgz")
        );
        assert_eq!(ok.observed_generation, Some(3));
        let c = &ok.conditions[0];
        assert_eq!(
            (
                c.type_.as_str(),
                c.status.as_str(),
                c.reason.as_str(),
                c.message.as_str()
            ),
            (
                "Unpacked",
                "True",
                "UnpackSuccessful",
                "Successfully unpacked the git Bundle"
            )
        );
        assert_eq!(c.observed_generation, None);

        let after = Bundle {
            status: Some(ok),
            ..bundle.clone()
        };
        let failing = failing_status(&after, "source bundle content: nope", now);
        assert_eq!(failing.phase.as_deref(), Some("Failing"));
        assert_eq!(failing.resolved_source, None);
        assert_eq!(failing.content_url, None);
        assert_eq!(failing.conditions.len(), 1);
        assert_eq!(failing.conditions[0].reason, "UnpackFailed");

        let pending = pending_status(&bundle, "waiting for bundle to be uploaded", now);
        assert_eq!(pending.phase.as_deref(), Some("Pending"));
        assert_eq!(pending.conditions[0].reason, "UnpackPending");
        assert_eq!(pending.conditions[0].status, "False");
    }

    #[test]
    fn config_maps_name_their_type_as_the_api_spells_it() {
        let bundle = BundleFixture::config_maps("b", &[("cm", None)]).build();
        let s = unpacked_status(
            &bundle,
            &stored("u", &bundle.spec.source),
            content_url("https://x", "b"),
            Timestamp::UNIX_EPOCH,
        );
        assert_eq!(
            s.conditions[0].message,
            "Successfully unpacked the configMaps Bundle"
        );
    }

    #[test]
    fn only_the_three_builtin_classes_are_handled() {
        assert!(handles_class("core-rukpak-io-plain"));
        assert!(handles_class("core-rukpak-io-registry"));
        assert!(handles_class("core-rukpak-io-helm"));
        assert!(!handles_class("non-existent-provisioner"));
    }
}
