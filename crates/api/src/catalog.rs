//! `Catalog` (`catalogd.operatorframework.io/v1alpha1`): a File-Based Catalog image that catalogd
//! unpacks and serves over HTTP, as in catalogd v0.10–v0.12 with the changes of catalogd.md §9.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::core::Duration;
use kube::core::duration::ParseError;
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

/// API group of `Catalog`.
pub const GROUP: &str = "catalogd.operatorframework.io";
/// API version of `Catalog`.
pub const VERSION: &str = "v1alpha1";

/// Condition type: the catalog content was unpacked and stored.
pub const TYPE_UNPACKED: &str = "Unpacked";
/// Condition type: deleting the stored content failed.
pub const TYPE_DELETE: &str = "Delete";

/// Reason: unpacking pending (unpack-pod era; kept for compatibility).
pub const REASON_UNPACK_PENDING: &str = "UnpackPending";
/// Reason: unpacking (unpack-pod era; kept for compatibility).
pub const REASON_UNPACKING: &str = "Unpacking";
/// Reason: unpacked and stored.
pub const REASON_UNPACK_SUCCESSFUL: &str = "UnpackSuccessful";
/// Reason: pulling or unpacking the image failed.
pub const REASON_UNPACK_FAILED: &str = "UnpackFailed";
/// Reason: storing the unpacked content failed.
pub const REASON_FAILED_TO_STORE: &str = "FailedToStore";
/// Reason: deleting the stored content failed.
pub const REASON_FAILED_TO_DELETE: &str = "FailedToDelete";

/// `status.phase`: waiting (unpack-pod era).
pub const PHASE_PENDING: &str = "Pending";
/// `status.phase`: unpacking (unpack-pod era).
pub const PHASE_UNPACKING: &str = "Unpacking";
/// `status.phase`: the last unpack failed.
pub const PHASE_FAILING: &str = "Failing";
/// `status.phase`: content is served at `status.contentURL`.
pub const PHASE_UNPACKED: &str = "Unpacked";

/// Finalizer that removes the served content of a deleted Catalog.
pub const FINALIZER_DELETE_SERVER_CACHE: &str = "catalogd.operatorframework.io/delete-server-cache";

/// Poll interval applied by the controller when `pollInterval` is absent on a tag reference.
pub const DEFAULT_POLL_INTERVAL: std::time::Duration = std::time::Duration::from_secs(24 * 60 * 60);

/// Longest `pollInterval` string accepted.
pub const POLL_INTERVAL_MAX_LENGTH: u32 = 32;

/// `pollInterval`: a Go duration using only the units `h`, `m` and `s` (the units the
/// documentation names), so every admitted value parses as a `metav1.Duration`. The sign is
/// allowed here so that negative values reach the CEL rule with its clearer message.
///
/// A pattern rather than a CEL rule: with `format: duration` the API server hands the field to
/// CEL as a `duration`, so CEL cannot see how it was spelled.
pub const POLL_INTERVAL_PATTERN: &str = r"^-?(0|([0-9]+(\.[0-9]+)?(h|m|s))+)$";

/// Desired state of a `Catalog`.
// Each printcolumn(...) repeats `type_ = ...`, which clippy takes for a duplicated attribute.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "catalogd.operatorframework.io",
    version = "v1alpha1",
    kind = "Catalog",
    plural = "catalogs",
    singular = "catalog",
    status = "CatalogStatus",
    derive = "PartialEq",
    doc = "Catalog is a File-Based Catalog image whose content catalogd unpacks and serves over HTTP.",
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    ),
    printcolumn(
        name = "Ref",
        type_ = "string",
        json_path = ".spec.source.image.ref",
        priority = 1
    ),
    printcolumn(
        name = "Resolved Ref",
        type_ = "string",
        json_path = ".status.resolvedSource.image.resolvedRef",
        priority = 1
    ),
    printcolumn(
        name = "Last Poll",
        type_ = "date",
        json_path = ".status.resolvedSource.image.lastPollAttempt",
        priority = 1
    )
)]
#[serde(rename_all = "camelCase")]
pub struct CatalogSpec {
    /// Where the catalog content comes from.
    pub source: CatalogSource,
}

/// Source of a catalog: `type` names the member that is set (only `image` exists).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.type != 'image' || has(self.image)")
    .message("spec.source.image must be set for source type \"image\""))]
pub struct CatalogSource {
    /// Kind of source; only `image`.
    #[serde(rename = "type")]
    pub type_: CatalogSourceType,

    /// The catalog image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<CatalogImageSource>,
}

/// Kind of catalog source.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub enum CatalogSourceType {
    /// A container image holding a File-Based Catalog.
    #[serde(rename = "image")]
    Image,
}

/// A catalog image: a File-Based Catalog under the directory named by its
/// `operators.operatorframework.io.index.configs.v1` label.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.pollInterval) || !self.ref.contains('@sha256:')")
    .message("cannot specify PollInterval while using digest-based image"))]
pub struct CatalogImageSource {
    /// Image reference, by tag or digest (`name@sha256:...`). Digest references are never polled.
    #[serde(rename = "ref")]
    pub ref_: String,

    /// Name of a Secret in catalogd's namespace with credentials for the registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_secret: Option<String>,

    /// How often to check the registry for a new digest of a tag reference: a duration with
    /// units h, m or s, such as `24h`, `30m` or `1h30m`. Default `24h`; `0s` disables polling.
    /// Not allowed with a digest reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        extend("format" = "duration"),
        length(max = POLL_INTERVAL_MAX_LENGTH),
        regex(pattern = POLL_INTERVAL_PATTERN)
    )]
    #[x_kube(validation = Rule::new("self >= duration('0s')")
        .message("pollInterval must not be negative; use 0s to disable polling"))]
    pub poll_interval: Option<String>,

    /// Pull over TLS without verifying the registry's certificate (still HTTPS).
    #[serde(default, skip_serializing_if = "is_false")]
    #[serde(rename = "insecureSkipTLSVerify")]
    pub insecure_skip_tls_verify: bool,
}

impl CatalogImageSource {
    /// Whether the reference pins a digest (the same test as the admission rule).
    pub fn is_digest_ref(&self) -> bool {
        self.ref_.contains("@sha256:")
    }

    /// `pollInterval` parsed as a Go duration (`None` when absent).
    pub fn poll_interval(&self) -> Result<Option<Duration>, ParseError> {
        self.poll_interval.as_deref().map(str::parse).transpose()
    }

    /// Interval between polls: `None` when polling is off (digest references, `0s`, or a
    /// negative value the API server would have rejected), else the configured interval or
    /// [`DEFAULT_POLL_INTERVAL`].
    pub fn effective_poll_interval(&self) -> Result<Option<std::time::Duration>, ParseError> {
        if self.is_digest_ref() {
            return Ok(None);
        }
        Ok(match self.poll_interval()? {
            None => Some(DEFAULT_POLL_INTERVAL),
            Some(d) if d.is_negative() => None,
            Some(d) => Some(std::time::Duration::from(d)).filter(|d| !d.is_zero()),
        })
    }
}

/// Observed state of a `Catalog`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct CatalogStatus {
    /// `Unpacked` (and `Delete` when deleting the content failed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "crate::conditions::conditions_schema")]
    pub conditions: Vec<Condition>,

    /// `Unpacked` or `Failing` (`Pending`/`Unpacking` only in the unpack-pod era).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,

    /// The source as last unpacked, with the digest it resolved to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_source: Option<ResolvedCatalogSource>,

    /// URL the catalog content is served at (JSON lines).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(rename = "contentURL")]
    pub content_url: Option<String>,

    /// The `metadata.generation` last unpacked successfully.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// When the content was last extracted from its source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_unpacked: Option<Time>,
}

/// The source a catalog was last unpacked from.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResolvedCatalogSource {
    /// Kind of source; only `image`.
    #[serde(rename = "type")]
    pub type_: CatalogSourceType,

    /// The image as resolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ResolvedImageSource>,
}

/// A catalog image as resolved at unpack time.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResolvedImageSource {
    /// `spec.source.image.ref` at unpack time.
    #[serde(rename = "ref")]
    pub ref_: String,

    /// The digest reference the image resolved to (`<repository>@sha256:<hex>`).
    pub resolved_ref: String,

    /// When the registry was last asked for the digest.
    pub last_poll_attempt: Time,

    /// Declared by upstream for compatibility; not filled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_secret: Option<String>,
}

fn is_false(value: &bool) -> bool {
    !*value
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(r: &str, poll: Option<&str>) -> CatalogImageSource {
        CatalogImageSource {
            ref_: r.into(),
            pull_secret: None,
            poll_interval: poll.map(Into::into),
            insecure_skip_tls_verify: false,
        }
    }

    #[test]
    fn effective_poll_interval() {
        let hours = |h: u64| Some(std::time::Duration::from_secs(h * 3600));
        assert_eq!(
            image("quay.io/x:v1", None).effective_poll_interval(),
            Ok(hours(24))
        );
        assert_eq!(
            image("quay.io/x:v1", Some("2h")).effective_poll_interval(),
            Ok(hours(2))
        );
        assert_eq!(
            image("quay.io/x:v1", Some("1h30m")).effective_poll_interval(),
            Ok(Some(std::time::Duration::from_secs(5400)))
        );
        assert_eq!(
            image("quay.io/x:v1", Some("0s")).effective_poll_interval(),
            Ok(None)
        );
        assert_eq!(
            image("quay.io/x:v1", Some("-1h")).effective_poll_interval(),
            Ok(None)
        );
        assert_eq!(
            image("quay.io/x@sha256:abc", None).effective_poll_interval(),
            Ok(None)
        );
        assert!(
            image("quay.io/x:v1", Some("1d"))
                .effective_poll_interval()
                .is_err()
        );
    }
}
