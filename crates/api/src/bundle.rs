//! `Bundle` (`core.rukpak.io/v1alpha1`): content to install, unpacked from a source, as in
//! RukPak v0.16.0.

use k8s_openapi::api::core::v1::LocalObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::core::Rule;
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

/// API group of `Bundle` and `BundleDeployment`.
pub const GROUP: &str = "core.rukpak.io";
/// API version of `Bundle` and `BundleDeployment`.
pub const VERSION: &str = "v1alpha1";

/// Upper bound of a Bundle's `metadata.name` (63 minus room for derived resource names).
pub const NAME_MAX_LENGTH: u32 = 52;

/// `provisionerClassName`: a DNS-1123 label.
pub const PROVISIONER_CLASS_NAME_PATTERN: &str = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";

/// Upper bound of `git.directory` (bounds the cost of the CEL rule that checks it).
pub const GIT_DIRECTORY_MAX_LENGTH: u32 = 4096;

/// Provisioner for `plain+v0` bundles.
pub const PROVISIONER_PLAIN: &str = "core-rukpak-io-plain";
/// Provisioner for `registry+v1` bundles (converted to plain at unpack time).
pub const PROVISIONER_REGISTRY: &str = "core-rukpak-io-registry";
/// Provisioner for Helm charts.
pub const PROVISIONER_HELM: &str = "core-rukpak-io-helm";

/// Condition type: the content has been unpacked.
pub const TYPE_UNPACKED: &str = "Unpacked";

/// Reason: waiting for the content (pod starting, image pulling, upload pending).
pub const REASON_UNPACK_PENDING: &str = "UnpackPending";
/// Reason: the content is being unpacked.
pub const REASON_UNPACKING: &str = "Unpacking";
/// Reason: the content was unpacked and stored.
pub const REASON_UNPACK_SUCCESSFUL: &str = "UnpackSuccessful";
/// Reason: unpacking, validating or storing the content failed.
pub const REASON_UNPACK_FAILED: &str = "UnpackFailed";
/// Reason: the cleanup finalizer failed.
pub const REASON_PROCESSING_FINALIZER_FAILED: &str = "ProcessingFinalizerFailed";

/// `status.phase`: not unpacked yet.
pub const PHASE_PENDING: &str = "Pending";
/// `status.phase`: unpacking.
pub const PHASE_UNPACKING: &str = "Unpacking";
/// `status.phase`: unpacking failed.
pub const PHASE_FAILING: &str = "Failing";
/// `status.phase`: unpacked and served at `status.contentURL`.
pub const PHASE_UNPACKED: &str = "Unpacked";

/// Finalizer that removes the stored content of a deleted Bundle.
pub const FINALIZER_DELETE_CACHED_BUNDLE: &str = "core.rukpak.io/delete-cached-bundle";

/// Desired state of a `Bundle`. Immutable once created (enforced by the
/// `vbundles.core.rukpak.io` webhook).
// Each printcolumn(...) repeats `type_ = ...`, which clippy takes for a duplicated attribute.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "core.rukpak.io",
    version = "v1alpha1",
    kind = "Bundle",
    plural = "bundles",
    singular = "bundle",
    status = "BundleStatus",
    derive = "PartialEq",
    doc = "Bundle is content (a set of Kubernetes manifests) unpacked from a source by a provisioner.",
    printcolumn(name = "Type", type_ = "string", json_path = ".spec.source.type"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    printcolumn(
        name = "Provisioner",
        type_ = "string",
        json_path = ".spec.provisionerClassName",
        priority = 1
    ),
    printcolumn(
        name = "Resolved Source",
        type_ = "string",
        json_path = ".status.resolvedSource",
        priority = 1
    ),
    validation = BUNDLE_SOURCE_RULES.required(SourceType::Image),
    validation = BUNDLE_SOURCE_RULES.required(SourceType::Git),
    validation = BUNDLE_SOURCE_RULES.required(SourceType::ConfigMaps),
    validation = BUNDLE_SOURCE_RULES.required(SourceType::Http),
    validation = BUNDLE_SOURCE_RULES.required(SourceType::Upload),
    validation = BUNDLE_SOURCE_RULES.exclusive(SourceType::Image),
    validation = BUNDLE_SOURCE_RULES.exclusive(SourceType::Git),
    validation = BUNDLE_SOURCE_RULES.exclusive(SourceType::ConfigMaps),
    validation = BUNDLE_SOURCE_RULES.exclusive(SourceType::Http),
    validation = BUNDLE_SOURCE_RULES.exclusive(SourceType::Upload),
    validation = BUNDLE_SOURCE_RULES.git_directory()
)]
#[serde(rename_all = "camelCase")]
pub struct BundleSpec {
    /// Provisioner that unpacks and validates this Bundle, e.g. `core-rukpak-io-plain` or
    /// `core-rukpak-io-registry`.
    #[schemars(regex(pattern = PROVISIONER_CLASS_NAME_PATTERN))]
    pub provisioner_class_name: String,

    /// Where the content comes from.
    pub source: BundleSource,
}

/// A source of bundle content: `type` names the one member that is set.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct BundleSource {
    /// Kind of source: `image`, `git`, `configMaps`, `http` or `upload`.
    #[serde(rename = "type")]
    pub type_: SourceType,

    /// Container image whose filesystem holds the bundle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageSource>,

    /// Git repository holding the bundle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git: Option<GitSource>,

    /// ConfigMaps (in the provisioner's namespace) whose keys become the bundle's files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_maps: Option<Vec<ConfigMapSource>>,

    /// A `.tgz` archive of the bundle served over HTTP(S).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpSource>,

    /// Content uploaded to the provisioner's upload service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload: Option<UploadSource>,
}

impl BundleSource {
    /// A source of `type_` with no member set yet.
    pub fn of_type(type_: SourceType) -> Self {
        BundleSource {
            type_,
            image: None,
            git: None,
            config_maps: None,
            http: None,
            upload: None,
        }
    }
}

/// Kind of bundle source.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, schemars::JsonSchema)]
pub enum SourceType {
    /// A container image.
    #[serde(rename = "image")]
    Image,
    /// A git repository.
    #[serde(rename = "git")]
    Git,
    /// ConfigMaps in the provisioner's namespace.
    #[serde(rename = "configMaps")]
    ConfigMaps,
    /// A `.tgz` served over HTTP(S).
    #[serde(rename = "http")]
    Http,
    /// An upload to the provisioner.
    #[serde(rename = "upload")]
    Upload,
}

impl SourceType {
    /// Every source type, in API order.
    pub const ALL: [SourceType; 5] = [
        SourceType::Image,
        SourceType::Git,
        SourceType::ConfigMaps,
        SourceType::Http,
        SourceType::Upload,
    ];

    /// The value as written in `source.type`, which is also the name of its member field.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Git => "git",
            Self::ConfigMaps => "configMaps",
            Self::Http => "http",
            Self::Upload => "upload",
        }
    }
}

impl std::fmt::Display for SourceType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A container image holding the bundle.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImageSource {
    /// Image reference, by tag or digest (`name@sha256:...`); digests pin the content.
    #[serde(rename = "ref")]
    pub ref_: String,

    /// Name of a `kubernetes.io/dockerconfigjson` Secret in the provisioner's namespace used to
    /// pull the image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_secret: Option<String>,

    /// Pull over TLS without verifying the registry's certificate (testing only).
    #[serde(default, skip_serializing_if = "is_false")]
    #[serde(rename = "insecureSkipTLSVerify")]
    pub insecure_skip_tls_verify: bool,
}

/// A git repository holding the bundle.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct GitSource {
    /// Repository URL, as a git client accepts it (`https://...`, `ssh://...`, `git@host:...`).
    pub repository: String,

    /// Directory of the bundle inside the repository; must stay within it. Unset: the repository
    /// root (the provisioner then expects `manifests/` there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = GIT_DIRECTORY_MAX_LENGTH))]
    pub directory: Option<String>,

    /// What to check out: exactly one of `branch`, `tag` or `commit`.
    #[serde(rename = "ref")]
    pub ref_: GitRef,

    /// Credentials and TLS settings for the clone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<Authorization>,
}

/// What to check out of a git repository. Branches and tags can move; commits pin the content.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new(
    "[has(self.branch), has(self.tag), has(self.commit)].filter(x, x).size() == 1"
).message("exactly one of branch, tag or commit must be set"))]
pub struct GitRef {
    /// Branch to check out (its head at unpack time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,

    /// Tag to check out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,

    /// Full commit SHA to check out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
}

/// Credentials and TLS settings for a git or HTTP source.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Authorization {
    /// Secret in the provisioner's namespace: `username`/`password` for HTTP(S);
    /// `ssh-privatekey` (and optionally `ssh-knownhosts`) for SSH.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<AuthSecret>,

    /// Accept any server certificate (HTTPS) or host key (SSH). Testing only.
    #[serde(default, skip_serializing_if = "is_false")]
    pub insecure_skip_verify: bool,
}

impl Authorization {
    /// The named Secret, if any: an empty name means none.
    pub fn secret_name(&self) -> Option<&str> {
        self.secret
            .as_ref()
            .map(|s| s.name.as_str())
            .filter(|name| !name.is_empty())
    }
}

/// The Secret of an [`Authorization`]. Unlike core's `LocalObjectReference`, `name` is optional:
/// upstream's Go clients send an unset reference as `{"secret": {}}`, and the API must accept it.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
pub struct AuthSecret {
    /// Name of the Secret in the provisioner's namespace. Empty: no Secret.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
}

/// One ConfigMap of a `configMaps` source.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfigMapSource {
    /// The ConfigMap (in the provisioner's namespace; must be immutable).
    pub config_map: LocalObjectReference,

    /// Directory of the bundle in which the ConfigMap's keys become files. Unset: the root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// A `.tgz` of the bundle served over HTTP(S).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct HttpSource {
    /// URL of the archive.
    pub url: String,

    /// Basic-auth credentials and TLS settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<Authorization>,
}

/// Marker for content uploaded to the provisioner (no fields).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
pub struct UploadSource {}

/// Observed state of a `Bundle`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct BundleStatus {
    /// `Pending`, `Unpacking`, `Unpacked` or `Failing`; empty before the first unpack attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,

    /// The source pinned at unpack time (image digest, git commit); set only while `Unpacked`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_source: Option<BundleSource>,

    /// URL the unpacked content is served at; set only while `Unpacked`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(rename = "contentURL")]
    pub content_url: Option<String>,

    /// The `metadata.generation` last reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// The `Unpacked` condition.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "crate::conditions::conditions_schema")]
    pub conditions: Vec<Condition>,
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// CEL rules tying `source.type` to its member, with messages that name the field the way the
/// `vbundles.core.rukpak.io` webhook does (CRD validation runs first, so its message is the one
/// users see). The same rules guard a BundleDeployment's template with its own prefix.
pub(crate) struct SourceRules {
    /// How messages name the spec holding the source, e.g. `bundle.spec`.
    message_prefix: &'static str,
    /// CEL path of the spec holding the source, relative to where the rule is attached.
    spec: &'static str,
    /// `fieldPath` of that spec, reported by the API server.
    field_path: &'static str,
}

/// Rules of a Bundle (attached at the root).
pub(crate) const BUNDLE_SOURCE_RULES: SourceRules = SourceRules {
    message_prefix: "bundle.spec",
    spec: "self.spec",
    field_path: ".spec",
};

impl SourceRules {
    pub(crate) const fn new(
        message_prefix: &'static str,
        spec: &'static str,
        field_path: &'static str,
    ) -> Self {
        Self {
            message_prefix,
            spec,
            field_path,
        }
    }

    /// The member named by `type` must be set (a `configMaps` list must not be empty).
    pub(crate) fn required(&self, member: SourceType) -> Rule {
        let source = format!("{}.source", self.spec);
        let present = match member {
            SourceType::ConfigMaps => {
                format!("has({source}.configMaps) && {source}.configMaps.size() > 0")
            }
            other => format!("has({source}.{other})"),
        };
        // Upstream's webhook spells this member "configmaps" in its message; kept verbatim.
        let named = match member {
            SourceType::ConfigMaps => "configmaps",
            other => other.as_str(),
        };
        Rule::new(format!("{source}.type != '{member}' || ({present})"))
            .message(
                format!(
                    "{}.source.{named} must be set for source type \"{named}\"",
                    self.message_prefix
                )
                .as_str(),
            )
            .field_path(format!("{}.source", self.field_path))
    }

    /// A member may only be set when `type` names it.
    pub(crate) fn exclusive(&self, member: SourceType) -> Rule {
        let source = format!("{}.source", self.spec);
        Rule::new(format!(
            "{source}.type == '{member}' || !has({source}.{member})"
        ))
        .message(
            format!(
                "{}.source.{member} may only be set for source type \"{member}\"",
                self.message_prefix
            )
            .as_str(),
        )
        .field_path(format!("{}.source", self.field_path))
    }

    /// `git.directory` must not climb out of the repository. The webhook applies Go's
    /// `filepath.Clean` first, which CEL cannot; this rule catches the direct forms
    /// (`..`, `../x`, `./../x`), and the webhook and the unpacker catch the rest.
    pub(crate) fn git_directory(&self) -> Rule {
        let git = format!("{}.source.git", self.spec);
        Rule::new(format!(
            "!has({git}) || !has({git}.directory) || !{git}.directory.matches('^(\\\\./+)*\\\\.\\\\.(/|$)')"
        ))
        .message(
            format!(
                "{}.source.git.directory begins with \"../\": directory must define path within the repository",
                self.message_prefix
            )
            .as_str(),
        )
        .field_path(format!("{}.source.git.directory", self.field_path))
    }
}
