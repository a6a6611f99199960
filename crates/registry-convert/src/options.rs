//! What a conversion is asked for: the install namespace, the watch (target) namespaces, the
//! deployment configuration and how certificates are provided; and how these are read from a
//! BundleDeployment's `spec.config`.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, EnvFromSource, EnvVar, ResourceRequirements, Toleration, Volume, VolumeMount,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How a conversion is done.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ConvertOptions {
    /// The namespace the operator is installed in. Empty: the CSV's
    /// `operatorframework.io/suggested-namespace` annotation, else `<package>-system` (upstream's
    /// default).
    pub install_namespace: String,
    /// The namespaces the operator watches. Empty: AllNamespaces when the CSV supports it, else
    /// OwnNamespace (the install namespace). `[""]` asks for AllNamespaces explicitly.
    pub watch_namespaces: Vec<String>,
    /// Merged into every Deployment of the CSV, as OLM v0 merges `Subscription.spec.config`.
    pub deployment: DeploymentConfig,
    pub certificates: CertificateMode,
}

/// Where webhook and API service serving certificates come from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CertificateMode {
    /// The provisioner's own CA: the conversion emits [`crate::CertificateRequest`]s, mounts the
    /// named Secrets, and marks every object whose `caBundle` the controller fills with
    /// [`crate::INJECT_CA_ANNOTATION`].
    #[default]
    BuiltIn,
    /// cert-manager: the conversion emits an Issuer chain and `Certificate` objects, and marks
    /// objects with `cert-manager.io/inject-ca-from`.
    CertManager,
}

/// OLM v0's `Subscription.spec.config`, minus the selector (a Deployment's selector is not
/// configurable).
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DeploymentConfig {
    /// Set on every container; a variable of the same name is replaced in place.
    pub env: Vec<EnvVar>,
    /// Appended to every container's `envFrom` unless an identical source is there.
    pub env_from: Vec<EnvFromSource>,
    /// Replaces every container's resources.
    pub resources: Option<ResourceRequirements>,
    /// Replaces the pod's node selector.
    pub node_selector: Option<BTreeMap<String, String>>,
    /// Appended unless an identical toleration is there.
    pub tolerations: Vec<Toleration>,
    /// Overrides the pod's affinity, per kind of affinity (node, pod, pod anti-).
    pub affinity: Option<Affinity>,
    /// Added to the pod; a volume of the same name is replaced.
    pub volumes: Vec<Volume>,
    /// Added to every container; a mount of the same name is replaced.
    pub volume_mounts: Vec<VolumeMount>,
    /// Added to the Deployment and its pod template; annotations already there win.
    pub annotations: BTreeMap<String, String>,
}

/// The `spec.config` keys this conversion reads.
pub const CONFIG_KEYS: &[&str] = &[
    "watchNamespaces",
    "env",
    "envFrom",
    "resources",
    "nodeSelector",
    "tolerations",
    "affinity",
    "volumes",
    "volumeMounts",
    "annotations",
];

/// A BundleDeployment `spec.config` that cannot configure a registry+v1 conversion.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("spec.config must be an object, not {0}")]
    NotAnObject(&'static str),
    #[error("spec.config.{key} is not a registry+v1 setting; the settings are {}", CONFIG_KEYS.join(", "))]
    UnknownKey { key: String },
    #[error("spec.config.{key}: {source}")]
    Invalid {
        key: &'static str,
        #[source]
        source: serde_json::Error,
    },
}

impl ConvertOptions {
    /// Options from a BundleDeployment's `spec.config` (`None`: no config). Unknown keys are
    /// refused so that a misspelt setting is not silently ignored.
    pub fn from_config(
        install_namespace: impl Into<String>,
        config: Option<&Value>,
        certificates: CertificateMode,
    ) -> Result<Self, ConfigError> {
        let mut options = ConvertOptions {
            install_namespace: install_namespace.into(),
            certificates,
            ..ConvertOptions::default()
        };
        let Some(config) = config.filter(|c| !c.is_null()) else {
            return Ok(options);
        };
        let Value::Object(map) = config else {
            return Err(ConfigError::NotAnObject(go_encoding::go_kind(config)));
        };
        if let Some(key) = map.keys().find(|k| !CONFIG_KEYS.contains(&k.as_str())) {
            return Err(ConfigError::UnknownKey { key: key.clone() });
        }
        options.watch_namespaces = field(map, "watchNamespaces")?.unwrap_or_default();
        options.deployment = DeploymentConfig {
            env: field(map, "env")?.unwrap_or_default(),
            env_from: field(map, "envFrom")?.unwrap_or_default(),
            resources: field(map, "resources")?,
            node_selector: field(map, "nodeSelector")?,
            tolerations: field(map, "tolerations")?.unwrap_or_default(),
            affinity: field(map, "affinity")?,
            volumes: field(map, "volumes")?.unwrap_or_default(),
            volume_mounts: field(map, "volumeMounts")?.unwrap_or_default(),
            annotations: field(map, "annotations")?.unwrap_or_default(),
        };
        Ok(options)
    }
}

/// One setting, decoded on its own so that an error names it; `null` is unset.
fn field<T: DeserializeOwned>(
    map: &serde_json::Map<String, Value>,
    key: &'static str,
) -> Result<Option<T>, ConfigError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => T::deserialize(value)
            .map(Some)
            .map_err(|source| ConfigError::Invalid { key, source }),
    }
}
