//! What a reconcile of one BundleDeployment decides before anything is installed, and the
//! conditions it writes (rukpak.md §3.2–§3.4, §3.6, with §7.1–§7.3).
//!
//! - which generated Bundle the template asks for, creating it if none matches, and which
//!   Bundles go before it is created (at most the active one and the desired one are kept);
//! - whether that Bundle is unpacked, and the `HasValidBundle` condition either way;
//! - the `Installed` and `Healthy` conditions after an install attempt.

use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, OwnerReference};
use kube::api::ObjectMeta;
use kube::{Resource, ResourceExt};
use olm_api::bundle::{Bundle, PHASE_FAILING, PHASE_UNPACKED, TYPE_UNPACKED};
use olm_api::bundle_deployment::{
    BundleDeployment, BundleDeploymentStatus, LABEL_BUNDLE_TEMPLATE_HASH, LABEL_OWNER_KIND,
    LABEL_OWNER_NAME, REASON_HEALTHY, REASON_INSTALLATION_STATUS_FALSE,
    REASON_INSTALLATION_SUCCEEDED, REASON_UNHEALTHY, REASON_UNPACK_FAILED, REASON_UNPACK_PENDING,
    REASON_UNPACK_SUCCESSFUL, TYPE_HAS_VALID_BUNDLE, TYPE_HEALTHY, TYPE_INSTALLED,
};
use olm_api::conditions::{
    STATUS_FALSE, STATUS_TRUE, STATUS_UNKNOWN, find_condition, new_condition, set_condition,
};

use super::naming::{bundle_name, template_hash};

/// The `owner-kind` label value of generated Bundles and installed objects.
pub(crate) const OWNER_KIND: &str = "BundleDeployment";

/// The label selector of the Bundles generated for `bundle_deployment`.
pub(crate) fn owned_bundles_selector(bundle_deployment: &str) -> String {
    format!("{LABEL_OWNER_KIND}={OWNER_KIND},{LABEL_OWNER_NAME}={bundle_deployment}")
}

/// The Bundle a template asks for.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Selection {
    /// A generated Bundle carries the template's hash.
    Existing(Box<Bundle>),
    /// None does: delete `stale` (neither active nor desired; §7.3), then create `bundle`.
    Create {
        bundle: Box<Bundle>,
        stale: Vec<String>,
    },
}

/// Picks the generated Bundle for the BundleDeployment's current template among `owned` (the
/// Bundles carrying its owner labels). Bundles without the hash label never match, as
/// upstream.
pub(crate) fn select_bundle(bd: &BundleDeployment, owned: &[Bundle]) -> Selection {
    let hash = template_hash(&bd.spec.template);
    let mut sorted: Vec<&Bundle> = owned.iter().collect();
    sorted.sort_by_key(|b| b.metadata.creation_timestamp.clone().map(|t| t.0));
    if let Some(found) = sorted
        .iter()
        .find(|b| b.labels().get(LABEL_BUNDLE_TEMPLATE_HASH) == Some(&hash))
    {
        return Selection::Existing(Box::new((*found).clone()));
    }
    let active = bd.status.as_ref().and_then(|s| s.active_bundle.as_deref());
    let stale = sorted
        .iter()
        .map(|b| b.name_any())
        .filter(|name| Some(name.as_str()) != active)
        .collect();
    Selection::Create {
        bundle: Box::new(generated_bundle(bd, &hash)),
        stale,
    }
}

/// The Bundle generated from the template: its labels and annotations plus the owner and
/// hash labels, a controlling ownerReference to the BundleDeployment, the template's spec.
fn generated_bundle(bd: &BundleDeployment, hash: &str) -> Bundle {
    let bd_name = bd.name_any();
    let template = &bd.spec.template;
    let mut labels: BTreeMap<String, String> = template.metadata.labels.clone();
    labels.insert(LABEL_OWNER_KIND.into(), OWNER_KIND.into());
    labels.insert(LABEL_OWNER_NAME.into(), bd_name.clone());
    labels.insert(LABEL_BUNDLE_TEMPLATE_HASH.into(), hash.into());
    let annotations =
        (!template.metadata.annotations.is_empty()).then(|| template.metadata.annotations.clone());
    Bundle {
        metadata: ObjectMeta {
            name: Some(bundle_name(&bd_name, hash)),
            labels: Some(labels),
            annotations,
            owner_references: Some(vec![controller_reference(bd)]),
            ..ObjectMeta::default()
        },
        spec: template.spec.clone(),
        status: None,
    }
}

/// A controlling, deletion-blocking ownerReference to `bd`.
pub(crate) fn controller_reference(bd: &BundleDeployment) -> OwnerReference {
    OwnerReference {
        api_version: BundleDeployment::api_version(&()).into_owned(),
        kind: BundleDeployment::kind(&()).into_owned(),
        name: bd.name_any(),
        uid: bd.metadata.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// Whether the selected Bundle can be installed, with the `HasValidBundle` condition.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Readiness {
    /// Unpacked: install it.
    Unpacked(Condition),
    /// Pending or failing: record the condition and leave what is installed alone.
    NotYet(Condition),
}

/// `HasValidBundle` for `bundle` (§3.2 with §7.1: Unknown while pending).
pub(crate) fn readiness(bd: &BundleDeployment, bundle: &Bundle, now: Timestamp) -> Readiness {
    let name = bundle.name_any();
    let generation = bd.metadata.generation;
    let status = bundle.status.as_ref();
    let condition = |status: &str, reason: &str, message: String| {
        new_condition(
            TYPE_HAS_VALID_BUNDLE,
            status,
            reason,
            message,
            generation,
            now,
        )
    };
    match status.and_then(|s| s.phase.as_deref()) {
        Some(PHASE_UNPACKED) => Readiness::Unpacked(condition(
            STATUS_TRUE,
            REASON_UNPACK_SUCCESSFUL,
            format!("Successfully unpacked the {name} Bundle"),
        )),
        Some(PHASE_FAILING) => {
            let why = status
                .and_then(|s| find_condition(&s.conditions, TYPE_UNPACKED))
                .map(|c| c.message.clone())
                .unwrap_or_default();
            Readiness::NotYet(condition(
                STATUS_FALSE,
                REASON_UNPACK_FAILED,
                format!("Failed to unpack the {name} Bundle: {why}"),
            ))
        }
        _ => Readiness::NotYet(condition(
            STATUS_UNKNOWN,
            REASON_UNPACK_PENDING,
            format!("Waiting for the {name} Bundle to be unpacked"),
        )),
    }
}

/// How an install attempt ended, as the `Installed` and `Healthy` conditions report it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Outcome {
    /// Installed; `unhealthy` lists what is not healthy yet (empty: healthy).
    Installed {
        bundle: String,
        unhealthy: Option<String>,
    },
    /// Not installed: `reason` is one of the `Installed` reasons of §3.2.
    Failed {
        reason: &'static str,
        message: String,
    },
}

/// The status after an attempt: `observedGeneration`, the conditions, and `activeBundle`
/// moved to the installed Bundle.
pub(crate) fn status_after(
    bd: &BundleDeployment,
    has_valid_bundle: Condition,
    outcome: Option<&Outcome>,
    now: Timestamp,
) -> BundleDeploymentStatus {
    let generation = bd.metadata.generation;
    let mut status = bd.status.clone().unwrap_or_default();
    status.observed_generation = generation;
    set_condition(&mut status.conditions, has_valid_bundle);
    let condition = |type_: &str, status: &str, reason: &str, message: String| {
        new_condition(type_, status, reason, message, generation, now)
    };
    match outcome {
        None => {}
        Some(Outcome::Installed { bundle, unhealthy }) => {
            set_condition(
                &mut status.conditions,
                condition(
                    TYPE_INSTALLED,
                    STATUS_TRUE,
                    REASON_INSTALLATION_SUCCEEDED,
                    format!("Instantiated bundle {bundle} successfully"),
                ),
            );
            let healthy = match unhealthy {
                None => condition(
                    TYPE_HEALTHY,
                    STATUS_TRUE,
                    REASON_HEALTHY,
                    "BundleDeployment is healthy".into(),
                ),
                Some(why) => condition(TYPE_HEALTHY, STATUS_FALSE, REASON_UNHEALTHY, why.clone()),
            };
            set_condition(&mut status.conditions, healthy);
            status.active_bundle = Some(bundle.clone());
        }
        Some(Outcome::Failed { reason, message }) => {
            set_condition(
                &mut status.conditions,
                condition(TYPE_INSTALLED, STATUS_FALSE, reason, message.clone()),
            );
            set_condition(
                &mut status.conditions,
                condition(
                    TYPE_HEALTHY,
                    STATUS_FALSE,
                    REASON_INSTALLATION_STATUS_FALSE,
                    "Installed condition is false".into(),
                ),
            );
        }
    }
    status
}

/// Bundles to delete once `installed` is installed and healthy: every other generated one
/// (§3.4 step 13, §7.2).
pub(crate) fn superseded(owned: &[Bundle], installed: &str) -> Vec<String> {
    owned
        .iter()
        .map(|b| b.name_any())
        .filter(|name| name != installed)
        .collect()
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    use super::*;

    fn bd(template_label: &str) -> BundleDeployment {
        let mut bd: BundleDeployment = serde_json::from_value(serde_json::json!({
            "apiVersion": "core.rukpak.io/v1alpha1",
            "kind": "BundleDeployment",
            "metadata": {"name": "combo", "uid": "bd-uid", "generation": 3},
            "spec": {
                "provisionerClassName": "core-rukpak-io-plain",
                "template": {
                    "metadata": {"labels": {"app": template_label}, "annotations": {"note": "n"}},
                    "spec": {"provisionerClassName": "core-rukpak-io-plain",
                             "source": {"type": "image", "image": {"ref": "quay.io/x/combo:v1"}}},
                },
            },
        }))
        .unwrap();
        bd.status = Some(BundleDeploymentStatus::default());
        bd
    }

    fn generated(bd: &BundleDeployment, seconds: i64) -> Bundle {
        let Selection::Create { bundle, .. } = select_bundle(bd, &[]) else {
            panic!("nothing owned yet");
        };
        let mut bundle = *bundle;
        bundle.metadata.creation_timestamp = Some(Time(Timestamp::from_second(seconds).unwrap()));
        bundle
    }

    fn with_phase(mut bundle: Bundle, phase: &str, message: &str) -> Bundle {
        bundle.status = Some(
            serde_json::from_value(serde_json::json!({
                "phase": phase,
                "conditions": [{"type": "Unpacked", "status": "False", "reason": "UnpackFailed",
                                "message": message, "lastTransitionTime": "2026-01-01T00:00:00Z"}],
            }))
            .unwrap(),
        );
        bundle
    }

    #[test]
    fn a_new_template_creates_its_bundle_with_owner_labels_and_reference() {
        let bd = bd("combo");
        let Selection::Create { bundle, stale } = select_bundle(&bd, &[]) else {
            panic!("expected a create");
        };
        let hash = template_hash(&bd.spec.template);
        assert_eq!(bundle.name_any(), bundle_name("combo", &hash));
        let labels = bundle.labels();
        assert_eq!(labels.get("app").unwrap(), "combo");
        assert_eq!(labels.get(LABEL_OWNER_KIND).unwrap(), "BundleDeployment");
        assert_eq!(labels.get(LABEL_OWNER_NAME).unwrap(), "combo");
        assert_eq!(labels.get(LABEL_BUNDLE_TEMPLATE_HASH).unwrap(), &hash);
        assert_eq!(bundle.annotations().get("note").unwrap(), "n");
        let owner = &bundle.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.uid.as_str()),
            ("BundleDeployment", "bd-uid")
        );
        assert_eq!(
            (owner.controller, owner.block_owner_deletion),
            (Some(true), Some(true))
        );
        assert_eq!(bundle.spec, bd.spec.template.spec);
        assert!(stale.is_empty());
    }

    #[test]
    fn the_bundle_with_the_templates_hash_is_reused() {
        let bd = bd("combo");
        let existing = generated(&bd, 10);
        assert_eq!(
            select_bundle(&bd, std::slice::from_ref(&existing)),
            Selection::Existing(Box::new(existing))
        );
    }

    #[test]
    fn changing_a_label_pivots_and_only_the_active_bundle_is_kept() {
        let v1 = bd("combo");
        let v2 = bd("combo-2");
        let v3 = bd("combo-3");
        let (b1, b2) = (generated(&v1, 10), generated(&v2, 20));
        let mut current = v3.clone();
        current.status.as_mut().unwrap().active_bundle = Some(b1.name_any());
        let Selection::Create { bundle, stale } =
            select_bundle(&current, &[b2.clone(), b1.clone()])
        else {
            panic!("expected a create");
        };
        assert_ne!(bundle.name_any(), b1.name_any());
        assert_eq!(stale, [b2.name_any()]);
    }

    #[test]
    fn readiness_follows_the_bundle_phase() {
        let bd = bd("combo");
        let bundle = generated(&bd, 10);
        let name = bundle.name_any();
        let now = Timestamp::UNIX_EPOCH;
        let Readiness::NotYet(pending) = readiness(&bd, &bundle, now) else {
            panic!()
        };
        assert_eq!(
            (
                pending.status.as_str(),
                pending.reason.as_str(),
                pending.message.clone()
            ),
            (
                "Unknown",
                "UnpackPending",
                format!("Waiting for the {name} Bundle to be unpacked")
            )
        );
        let failing = with_phase(bundle.clone(), "Failing", "no such tag");
        let Readiness::NotYet(failed) = readiness(&bd, &failing, now) else {
            panic!()
        };
        assert_eq!(
            (
                failed.status.as_str(),
                failed.reason.as_str(),
                failed.message.clone()
            ),
            (
                "False",
                "UnpackFailed",
                format!("Failed to unpack the {name} Bundle: no such tag")
            )
        );
        let unpacked = with_phase(bundle, "Unpacked", "");
        let Readiness::Unpacked(ok) = readiness(&bd, &unpacked, now) else {
            panic!()
        };
        assert_eq!(
            (ok.status.as_str(), ok.reason.as_str(), ok.message.clone()),
            (
                "True",
                "UnpackSuccessful",
                format!("Successfully unpacked the {name} Bundle")
            )
        );
        assert_eq!(ok.observed_generation, Some(3));
    }

    #[test]
    fn status_after_an_install_and_after_a_failure() {
        let bd = bd("combo");
        let now = Timestamp::UNIX_EPOCH;
        let valid = new_condition(
            TYPE_HAS_VALID_BUNDLE,
            STATUS_TRUE,
            REASON_UNPACK_SUCCESSFUL,
            "ok",
            Some(3),
            now,
        );
        let installed = Outcome::Installed {
            bundle: "combo-abc".into(),
            unhealthy: None,
        };
        let status = status_after(&bd, valid.clone(), Some(&installed), now);
        assert_eq!(status.active_bundle.as_deref(), Some("combo-abc"));
        assert_eq!(status.observed_generation, Some(3));
        let get = |s: &BundleDeploymentStatus, t: &str| {
            let c = find_condition(&s.conditions, t).unwrap();
            (c.status.clone(), c.reason.clone(), c.message.clone())
        };
        assert_eq!(
            get(&status, TYPE_INSTALLED),
            (
                "True".into(),
                "InstallationSucceeded".into(),
                "Instantiated bundle combo-abc successfully".into()
            )
        );
        assert_eq!(
            get(&status, TYPE_HEALTHY),
            (
                "True".into(),
                "Healthy".into(),
                "BundleDeployment is healthy".into()
            )
        );

        let mut after = bd.clone();
        after.status = Some(status);
        let failed = Outcome::Failed {
            reason: "UpgradeFailed",
            message: "required resource not found: x".into(),
        };
        let status = status_after(&after, valid, Some(&failed), now);
        assert_eq!(
            status.active_bundle.as_deref(),
            Some("combo-abc"),
            "activeBundle stays"
        );
        assert_eq!(
            get(&status, TYPE_INSTALLED),
            (
                "False".into(),
                "UpgradeFailed".into(),
                "required resource not found: x".into()
            )
        );
        assert_eq!(
            get(&status, TYPE_HEALTHY),
            (
                "False".into(),
                "InstallationStatusFalse".into(),
                "Installed condition is false".into()
            )
        );
    }
}
