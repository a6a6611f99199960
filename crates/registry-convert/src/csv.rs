//! The parts of a ClusterServiceVersion the conversion reads, decoded field by field so that a
//! malformed field is named. Deployment specs and webhook fields that are copied to the output
//! stay JSON values: what the author wrote is what gets applied.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::ConvertError;

/// A CSV's install-relevant content.
#[derive(Debug, Default)]
pub(crate) struct Csv {
    pub(crate) name: String,
    pub(crate) annotations: BTreeMap<String, String>,
    /// `spec.installModes` entries with `supported: true`, sorted and de-duplicated.
    pub(crate) supported_modes: Vec<String>,
    pub(crate) deployments: Vec<DeploymentSpec>,
    pub(crate) permissions: Vec<Permission>,
    pub(crate) cluster_permissions: Vec<Permission>,
    pub(crate) webhooks: Vec<Webhook>,
    pub(crate) api_services: Vec<ApiService>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct DeploymentSpec {
    pub(crate) name: String,
    pub(crate) label: BTreeMap<String, String>,
    pub(crate) spec: serde_json::Map<String, Value>,
}

/// One `permissions`/`clusterPermissions` entry. `None` marks a list absent in the CSV, which Go
/// encodes as `null` (and hashes differently from an empty list).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct Permission {
    pub(crate) service_account_name: String,
    pub(crate) rules: Option<Vec<PolicyRule>>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct PolicyRule {
    pub(crate) verbs: Option<Vec<String>>,
    pub(crate) api_groups: Vec<String>,
    pub(crate) resources: Vec<String>,
    pub(crate) resource_names: Vec<String>,
    #[serde(rename = "nonResourceURLs")]
    pub(crate) non_resource_urls: Vec<String>,
}

/// One `webhookdefinitions` entry; the fields copied into webhook configurations stay raw.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct Webhook {
    pub(crate) generate_name: String,
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) deployment_name: String,
    pub(crate) container_port: i32,
    pub(crate) target_port: Option<Value>,
    pub(crate) rules: Option<Value>,
    pub(crate) failure_policy: Option<Value>,
    pub(crate) match_policy: Option<Value>,
    pub(crate) object_selector: Option<Value>,
    pub(crate) side_effects: Option<Value>,
    pub(crate) timeout_seconds: Option<Value>,
    pub(crate) admission_review_versions: Option<Value>,
    pub(crate) reinvocation_policy: Option<Value>,
    pub(crate) webhook_path: Option<String>,
    #[serde(rename = "conversionCRDs")]
    pub(crate) conversion_crds: Vec<String>,
}

/// One `apiservicedefinitions.owned` entry.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct ApiService {
    pub(crate) name: String,
    pub(crate) group: String,
    pub(crate) version: String,
    pub(crate) deployment_name: String,
    pub(crate) container_port: i32,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct InstallMode {
    #[serde(rename = "type")]
    kind: String,
    supported: bool,
}

impl Csv {
    pub(crate) fn from_object(path: &Path, object: &Value) -> Result<Csv, ConvertError> {
        let strategy = "/spec/install/spec";
        let modes: Vec<InstallMode> =
            decode(path, object, "/spec/installModes", "spec.installModes")?;
        let mut supported_modes: Vec<String> = modes
            .into_iter()
            .filter(|m| m.supported)
            .map(|m| m.kind)
            .collect();
        supported_modes.sort();
        supported_modes.dedup();
        Ok(Csv {
            name: decode(path, object, "/metadata/name", "metadata.name")?,
            annotations: decode(
                path,
                object,
                "/metadata/annotations",
                "metadata.annotations",
            )?,
            supported_modes,
            deployments: decode(
                path,
                object,
                &format!("{strategy}/deployments"),
                "spec.install.spec.deployments",
            )?,
            permissions: decode(
                path,
                object,
                &format!("{strategy}/permissions"),
                "spec.install.spec.permissions",
            )?,
            cluster_permissions: decode(
                path,
                object,
                &format!("{strategy}/clusterPermissions"),
                "spec.install.spec.clusterPermissions",
            )?,
            webhooks: decode(
                path,
                object,
                "/spec/webhookdefinitions",
                "spec.webhookdefinitions",
            )?,
            api_services: decode(
                path,
                object,
                "/spec/apiservicedefinitions/owned",
                "spec.apiservicedefinitions.owned",
            )?,
        })
    }

    pub(crate) fn supports(&self, mode: &str) -> bool {
        self.supported_modes.iter().any(|m| m == mode)
    }

    pub(crate) fn deployment(&self, name: &str) -> Option<&DeploymentSpec> {
        self.deployments.iter().find(|d| d.name == name)
    }
}

/// An absent or `null` field is the zero value, as in Go.
fn decode<T: DeserializeOwned + Default>(
    path: &Path,
    object: &Value,
    pointer: &str,
    field: &'static str,
) -> Result<T, ConvertError> {
    match object.pointer(pointer) {
        None | Some(Value::Null) => Ok(T::default()),
        Some(v) => T::deserialize(v).map_err(|source| ConvertError::InvalidCsv {
            csv: path.to_owned(),
            field,
            source,
        }),
    }
}

impl PolicyRule {
    /// The rule as Go's `rbacv1.PolicyRule` encodes it: `verbs` always, the other lists
    /// only when non-empty.
    pub(crate) fn to_value(&self) -> Value {
        let mut rule = serde_json::Map::new();
        let verbs = match &self.verbs {
            Some(verbs) => Value::from(verbs.clone()),
            None => Value::Null,
        };
        rule.insert("verbs".into(), verbs);
        for (key, list) in [
            ("apiGroups", &self.api_groups),
            ("resources", &self.resources),
            ("resourceNames", &self.resource_names),
            ("nonResourceURLs", &self.non_resource_urls),
        ] {
            if !list.is_empty() {
                rule.insert(key.into(), Value::from(list.clone()));
            }
        }
        Value::Object(rule)
    }
}
