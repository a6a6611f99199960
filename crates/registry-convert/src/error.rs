//! Why a bundle cannot be converted. Every refusal names its reason and the CSV entry at fault,
//! so a BundleDeployment condition tells the user what to change.

use std::path::PathBuf;

use go_encoding::format_go_list;

/// A registry+v1 bundle that cannot become plain objects.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// The directory is not a valid registry+v1 bundle (bundle-format's unpack-time rules).
    #[error("invalid registry+v1 bundle: {0}")]
    Bundle(#[from] bundle_format::RegistryError),
    /// A ClusterServiceVersion field has the wrong shape for its Go type.
    #[error("{}: ClusterServiceVersion field {field}: {source}", csv.display())]
    InvalidCsv {
        csv: PathBuf,
        field: &'static str,
        #[source]
        source: serde_json::Error,
    },
    /// The requested target namespaces are not allowed by the CSV's install modes (upstream's
    /// wording, with the modes and namespaces as Go prints lists).
    #[error(
        "supported install modes {} do not support target namespaces {}{}",
        format_go_list(supported),
        format_go_list(targets),
        hint(supported, targets)
    )]
    InstallModes {
        /// Supported modes, sorted.
        supported: Vec<String>,
        targets: Vec<String>,
    },
    /// `""` (all namespaces) among several watch namespaces.
    #[error(
        "watchNamespaces {}: \"\" (all namespaces) cannot be combined with other namespaces",
        format_go_list(.0)
    )]
    AllNamespacesAmongOthers(Vec<String>),
    /// A manifest whose kind OLM does not install from a bundle.
    #[error("bundle contains unsupported resource: Name: {name}, Kind: {kind}")]
    UnsupportedResource { name: String, kind: String },
    /// Two different objects of the result would be the same object.
    #[error(
        "bundle produces two different {kind} objects named {}; rename one of them",
        qualified(namespace, name)
    )]
    DuplicateObject {
        kind: String,
        namespace: String,
        name: String,
    },
    /// A webhook or API service definition whose `deploymentName` is not a deployment of the
    /// CSV's install strategy.
    #[error(
        "{what} {name:?} names deployment {deployment:?}, which is not in the ClusterServiceVersion's install strategy"
    )]
    UnknownDeployment {
        what: &'static str,
        name: String,
        deployment: String,
    },
    /// A webhook type other than ValidatingAdmissionWebhook, MutatingAdmissionWebhook and
    /// ConversionWebhook.
    #[error(
        "webhook {name:?} has type {kind:?}; supported types are ValidatingAdmissionWebhook, MutatingAdmissionWebhook and ConversionWebhook"
    )]
    UnknownWebhookType { name: String, kind: String },
    /// Webhook rules OLM refuses, because they would intercept what keeps the cluster manageable.
    #[error("webhook {name:?}: {reason}")]
    ForbiddenWebhookRule { name: String, reason: &'static str },
    /// A conversion webhook that names no CRD.
    #[error("conversion webhook {webhook:?} names no CRD in conversionCRDs")]
    ConversionWithoutCrds { webhook: String },
    /// A conversion webhook for a CRD the bundle does not ship.
    #[error(
        "conversion webhook {webhook:?} names CRD {crd:?}, which is not a CustomResourceDefinition of this bundle"
    )]
    ConversionCrdMissing { webhook: String, crd: String },
    /// A conversion webhook on a CRD with `preserveUnknownFields: true`, which the API server
    /// refuses.
    #[error(
        "conversion webhook {webhook:?}: CRD {crd:?} sets spec.preserveUnknownFields: true, which the API server does not allow with webhook conversion"
    )]
    ConversionPreservesUnknownFields { webhook: String, crd: String },
    /// Conversion webhooks serve every namespace, so OLM allows them only in AllNamespaces mode.
    #[error(
        "conversion webhook {webhook:?} requires the AllNamespaces install mode (CRD conversion applies cluster-wide), but the target namespaces are {}",
        format_go_list(targets)
    )]
    ConversionNeedsAllNamespaces {
        webhook: String,
        targets: Vec<String>,
    },
}

fn hint(supported: &[String], targets: &[String]) -> &'static str {
    let has = |mode: &str| supported.iter().any(|m| m == mode);
    if targets.is_empty() && !has("AllNamespaces") && !has("OwnNamespace") {
        "; set spec.config.watchNamespaces to the namespace(s) the operator should watch"
    } else {
        ""
    }
}

fn qualified(namespace: &str, name: &str) -> String {
    if namespace.is_empty() {
        name.to_owned()
    } else {
        format!("{namespace}/{name}")
    }
}
