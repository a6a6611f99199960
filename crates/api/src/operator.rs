//! `Operator` (`operators.operatorframework.io/v1alpha1`): one cluster-scoped object per operator
//! to install, as in operator-controller v0.8.0.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

/// API group of `Operator`.
pub const GROUP: &str = "operators.operatorframework.io";
/// API version of `Operator`.
pub const VERSION: &str = "v1alpha1";

/// `spec.packageName`: lower-case alphanumerics separated by single hyphens (no dots).
pub const PACKAGE_NAME_PATTERN: &str = r"^[a-z0-9]+(-[a-z0-9]+)*$";
/// `spec.channel`: lower-case alphanumerics separated by single `.` or `-`.
pub const CHANNEL_PATTERN: &str = r"^[a-z0-9]+([\.-][a-z0-9]+)*$";
/// Upper bound of `spec.packageName` and `spec.channel`.
pub const NAME_MAX_LENGTH: u32 = 48;
/// Upper bound of `spec.version`.
pub const VERSION_MAX_LENGTH: u32 = 64;

/// `spec.version`: upstream's pattern, byte for byte, typos included.
///
/// Kept on purpose (operator-controller.md §1.3, §12.8): admission behaviour is what users see,
/// so `[x|X|\*]` (a class that also admits `|`) and the stray `\*]` alternatives stay. As a result
/// `1.*.3`, `>=1.0.0 <1.2.*` and hyphen ranges are rejected here, and `>=1.0.0 <1.2.*]` is admitted
/// and then fails the Masterminds parse in the controller.
pub const VERSION_PATTERN: &str = r"^(\s*(=||!=|>|<|>=|=>|<=|=<|~|~>|\^)\s*(v?(0|[1-9]\d*|[x|X|\*])(\.(0|[1-9]\d*|x|X|\*]))?(\.(0|[1-9]\d*|x|X|\*))?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?)\s*)((?:\s+|,\s*|\s*\|\|\s*)(=||!=|>|<|>=|=>|<=|=<|~|~>|\^)\s*(v?(0|[1-9]\d*|x|X|\*])(\.(0|[1-9]\d*|x|X|\*))?(\.(0|[1-9]\d*|x|X|\*]))?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?)\s*)*$";

/// Condition type: the bundle to install has been chosen.
pub const TYPE_RESOLVED: &str = "Resolved";
/// Condition type: the chosen bundle is installed.
pub const TYPE_INSTALLED: &str = "Installed";

/// Every condition type an `Operator` reports (exactly one condition per type after a reconcile).
pub const CONDITION_TYPES: &[&str] = &[TYPE_INSTALLED, TYPE_RESOLVED];

/// Reason (declared upstream, unused).
pub const REASON_INSTALLATION_SUCCEEDED: &str = "InstallationSucceeded";
/// Reason: resolution failed.
pub const REASON_RESOLUTION_FAILED: &str = "ResolutionFailed";
/// Reason: resolution was not attempted.
pub const REASON_RESOLUTION_UNKNOWN: &str = "ResolutionUnknown";
/// Reason (declared upstream, unused).
pub const REASON_BUNDLE_LOOKUP_FAILED: &str = "BundleLookupFailed";
/// Reason: installation failed.
pub const REASON_INSTALLATION_FAILED: &str = "InstallationFailed";
/// Reason: the state of the installation is not known.
pub const REASON_INSTALLATION_STATUS_UNKNOWN: &str = "InstallationStatusUnknown";
/// Reason (declared upstream, unused).
pub const REASON_INVALID_SPEC: &str = "InvalidSpec";
/// Reason: the step succeeded.
pub const REASON_SUCCESS: &str = "Success";

/// Every reason an `Operator` condition may carry (upstream's registered set).
pub const CONDITION_REASONS: &[&str] = &[
    REASON_INSTALLATION_SUCCEEDED,
    REASON_RESOLUTION_FAILED,
    REASON_RESOLUTION_UNKNOWN,
    REASON_BUNDLE_LOOKUP_FAILED,
    REASON_INSTALLATION_FAILED,
    REASON_INSTALLATION_STATUS_UNKNOWN,
    REASON_INVALID_SPEC,
    REASON_SUCCESS,
];

/// Desired state of an `Operator`: which package to install and which versions are acceptable.
// Each printcolumn(...) repeats `type_ = ...`, which clippy takes for a duplicated attribute.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[kube(
    group = "operators.operatorframework.io",
    version = "v1alpha1",
    kind = "Operator",
    plural = "operators",
    singular = "operator",
    status = "OperatorStatus",
    derive = "PartialEq",
    doc = "Operator installs one package from the catalogs on the cluster and keeps it up to date.",
    printcolumn(name = "Package", type_ = "string", json_path = ".spec.packageName"),
    printcolumn(
        name = "Installed Bundle",
        type_ = "string",
        json_path = ".status.installedBundleResource"
    ),
    printcolumn(
        name = "Resolved",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Resolved\")].status"
    ),
    printcolumn(
        name = "Installed",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Installed\")].status"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    ),
    printcolumn(
        name = "Channel",
        type_ = "string",
        json_path = ".spec.channel",
        priority = 1
    ),
    printcolumn(
        name = "Version",
        type_ = "string",
        json_path = ".spec.version",
        priority = 1
    ),
    printcolumn(
        name = "Resolved Bundle",
        type_ = "string",
        json_path = ".status.resolvedBundleResource",
        priority = 1
    )
)]
#[serde(rename_all = "camelCase")]
pub struct OperatorSpec {
    /// Name of the package (as in the catalog's `olm.package`) to install.
    #[schemars(length(max = NAME_MAX_LENGTH), regex(pattern = PACKAGE_NAME_PATTERN))]
    pub package_name: String,

    /// Semver constraint (Masterminds/semver v3 syntax) on the version to install: an exact
    /// version such as `1.11.1`, or a range such as `>=1.2.3 <2.0.0`, `~1.2`, `1.x`, or several
    /// comparisons joined with `||`. Unset: the newest version that resolves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = VERSION_MAX_LENGTH), regex(pattern = VERSION_PATTERN))]
    pub version: Option<String>,

    /// Channel of the package to take versions and upgrade edges from. Unset: all channels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = NAME_MAX_LENGTH), regex(pattern = CHANNEL_PATTERN))]
    pub channel: Option<String>,

    /// `Enforce` (default): only upgrade along the upgrade edges the package author published.
    /// `Ignore`: allow any upgrade or downgrade to any available version (unsafe).
    #[serde(default)]
    pub upgrade_constraint_policy: UpgradeConstraintPolicy,
}

/// Whether upgrades must follow the upgrade edges published by the package author.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, schemars::JsonSchema,
)]
pub enum UpgradeConstraintPolicy {
    /// Only upgrade along the edges the package author published.
    #[default]
    Enforce,
    /// Allow any upgrade or downgrade; the user verifies the outcome.
    Ignore,
}

impl UpgradeConstraintPolicy {
    /// The value as written in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enforce => "Enforce",
            Self::Ignore => "Ignore",
        }
    }
}

/// Observed state of an `Operator`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct OperatorStatus {
    /// `Resolved` and `Installed`; each carries the generation it was computed for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "crate::conditions::conditions_schema")]
    pub conditions: Vec<Condition>,

    /// Image reference of the bundle chosen by resolution; empty when resolution failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_bundle_resource: Option<String>,

    /// Reference of the bundle that is installed: its image, or `<repository>@<commit>` for git.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installed_bundle_resource: Option<String>,
}
