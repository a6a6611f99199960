//! `BundleDeployment` (`core.rukpak.io/v1alpha1`): installs the Bundle generated from its
//! template and pivots to a new Bundle when the template changes, as in RukPak v0.16.0.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::{Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

use crate::bundle::{BundleSpec, PROVISIONER_CLASS_NAME_PATTERN, SourceRules, SourceType};

/// Upper bound of a BundleDeployment's `metadata.name`, so generated Bundle names (name, `-`,
/// hash) fit the Bundle limit of 52.
pub const NAME_MAX_LENGTH: u32 = 45;

/// Condition type: the Bundle generated from the template was unpacked and is valid.
pub const TYPE_HAS_VALID_BUNDLE: &str = "HasValidBundle";
/// Condition type: the Bundle's objects are installed.
pub const TYPE_INSTALLED: &str = "Installed";
/// Condition type: the installed objects are healthy.
pub const TYPE_HEALTHY: &str = "Healthy";

/// Reason: stored content could not be loaded, or the provisioner rejected it.
pub const REASON_BUNDLE_LOAD_FAILED: &str = "BundleLoadFailed";
/// Reason: watching an installed kind failed.
pub const REASON_CREATE_DYNAMIC_WATCH_FAILED: &str = "CreateDynamicWatchFailed";
/// Reason: no client for the install could be built.
pub const REASON_ERROR_GETTING_CLIENT: &str = "ErrorGettingClient";
/// Reason: the state of the current installation could not be read.
pub const REASON_ERROR_GETTING_RELEASE_STATE: &str = "ErrorGettingReleaseState";
/// Reason: every installed object is healthy.
pub const REASON_HEALTHY: &str = "Healthy";
/// Reason: `Healthy` is False because `Installed` is False.
pub const REASON_INSTALLATION_STATUS_FALSE: &str = "InstallationStatusFalse";
/// Reason (declared upstream, unused).
pub const REASON_INSTALLATION_STATUS_UNKNOWN: &str = "InstallationStatusUnknown";
/// Reason: the Bundle's objects are installed.
pub const REASON_INSTALLATION_SUCCEEDED: &str = "InstallationSucceeded";
/// Reason: the first install failed.
pub const REASON_INSTALL_FAILED: &str = "InstallFailed";
/// Reason (declared upstream, unused).
pub const REASON_OBJECT_LOOKUP_FAILURE: &str = "ObjectLookupFailure";
/// Reason (declared upstream, unused).
pub const REASON_READING_CONTENT_FAILED: &str = "ReadingContentFailed";
/// Reason: listing or creating Bundles failed.
pub const REASON_RECONCILE_FAILED: &str = "ReconcileFailed";
/// Reason: some installed object is unhealthy.
pub const REASON_UNHEALTHY: &str = "Unhealthy";
/// Reason: upgrading to a new Bundle failed.
pub const REASON_UPGRADE_FAILED: &str = "UpgradeFailed";
/// Reason: the generated Bundle is waiting to be unpacked.
pub const REASON_UNPACK_PENDING: &str = crate::bundle::REASON_UNPACK_PENDING;
/// Reason: the generated Bundle failed to unpack.
pub const REASON_UNPACK_FAILED: &str = crate::bundle::REASON_UNPACK_FAILED;
/// Reason: the generated Bundle was unpacked.
pub const REASON_UNPACK_SUCCESSFUL: &str = crate::bundle::REASON_UNPACK_SUCCESSFUL;

/// Label on generated Bundles and installed objects: kind of the owner.
pub const LABEL_OWNER_KIND: &str = "core.rukpak.io/owner-kind";
/// Label on generated Bundles and installed objects: name of the owner.
pub const LABEL_OWNER_NAME: &str = "core.rukpak.io/owner-name";
/// Label on generated Bundles: hash of the template they were made from.
pub const LABEL_BUNDLE_TEMPLATE_HASH: &str = "core.rukpak.io/bundle-template-hash";

/// Desired state of a `BundleDeployment`.
// Each printcolumn(...) repeats `type_ = ...`, which clippy takes for a duplicated attribute.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "core.rukpak.io",
    version = "v1alpha1",
    kind = "BundleDeployment",
    plural = "bundledeployments",
    singular = "bundledeployment",
    shortname = "bd",
    shortname = "bds",
    status = "BundleDeploymentStatus",
    derive = "PartialEq",
    doc = "BundleDeployment installs the Bundle made from its template and keeps it installed.",
    printcolumn(
        name = "Active Bundle",
        type_ = "string",
        json_path = ".status.activeBundle"
    ),
    printcolumn(
        name = "Install State",
        type_ = "string",
        json_path = ".status.conditions[?(.type==\"Installed\")].reason"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    ),
    printcolumn(
        name = "Provisioner",
        type_ = "string",
        json_path = ".spec.provisionerClassName",
        priority = 1
    )
)]
#[serde(rename_all = "camelCase")]
pub struct BundleDeploymentSpec {
    /// Provisioner that installs the Bundle, e.g. `core-rukpak-io-plain` (also for registry+v1
    /// bundles, which are converted to plain when unpacked).
    #[schemars(regex(pattern = PROVISIONER_CLASS_NAME_PATTERN))]
    pub provisioner_class_name: String,

    /// The Bundle to generate and install.
    pub template: BundleTemplate,

    /// Provisioner-specific settings (free-form; read by the Helm provisioner).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_object")]
    pub config: Option<serde_json::Value>,
}

/// Rules of a BundleDeployment template (attached to the template), named the way the webhook
/// names them for BundleDeployments.
const TEMPLATE_SOURCE_RULES: SourceRules =
    SourceRules::new("bundledeployment.spec.template.spec", "self.spec", ".spec");

/// The Bundle a BundleDeployment generates: labels and annotations for it, and its spec.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = TEMPLATE_SOURCE_RULES.required(SourceType::Image),
    validation = TEMPLATE_SOURCE_RULES.required(SourceType::Git),
    validation = TEMPLATE_SOURCE_RULES.required(SourceType::ConfigMaps),
    validation = TEMPLATE_SOURCE_RULES.required(SourceType::Http),
    validation = TEMPLATE_SOURCE_RULES.required(SourceType::Upload),
    validation = TEMPLATE_SOURCE_RULES.exclusive(SourceType::Image),
    validation = TEMPLATE_SOURCE_RULES.exclusive(SourceType::Git),
    validation = TEMPLATE_SOURCE_RULES.exclusive(SourceType::ConfigMaps),
    validation = TEMPLATE_SOURCE_RULES.exclusive(SourceType::Http),
    validation = TEMPLATE_SOURCE_RULES.exclusive(SourceType::Upload),
    validation = TEMPLATE_SOURCE_RULES.git_directory()
)]
pub struct BundleTemplate {
    /// Labels and annotations of the generated Bundle (all of it feeds the template hash).
    #[serde(default, skip_serializing_if = "BundleTemplateMetadata::is_empty")]
    pub metadata: BundleTemplateMetadata,

    /// Spec of the generated Bundle.
    pub spec: BundleSpec,
}

/// The part of `ObjectMeta` a template carries. Only labels and annotations reach the Bundle.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct BundleTemplateMetadata {
    /// Labels of the generated Bundle.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,

    /// Annotations of the generated Bundle.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,

    /// Ignored (kept for compatibility with upstream's schema).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,

    /// Ignored (kept for compatibility with upstream's schema).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,

    /// Ignored (kept for compatibility with upstream's schema).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub finalizers: Vec<String>,
}

impl BundleTemplateMetadata {
    /// Whether no field is set (the template then has no `metadata`).
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// Observed state of a `BundleDeployment`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct BundleDeploymentStatus {
    /// `HasValidBundle`, `Installed` and (with health checking) `Healthy`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "crate::conditions::conditions_schema")]
    pub conditions: Vec<Condition>,

    /// Name of the Bundle that was last installed successfully.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_bundle: Option<String>,

    /// The `metadata.generation` last reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

fn free_form_object(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "description": "Provisioner-specific settings (free-form; read by the Helm provisioner).",
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true
    })
}
