//! The objects an unpacked Bundle installs: its stored content extracted, then read by its
//! format — plain: the manifests as they are; registry+v1: converted to plain with the
//! BundleDeployment's `spec.config` (install mode, deployment configuration).

use std::path::Path;

use kube::ResourceExt;
use olm_api::BundleDeployment;
use olm_api::bundle::Bundle;

use registry_convert::{CertificateMode, CertificateRequest, ConvertOptions};

use crate::store::{Store, StoreError};

/// Why a Bundle's content could not be turned into objects (`HasValidBundle=False`,
/// `BundleLoadFailed`).
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("the content of bundle {0} is not stored yet")]
    NotStored(String),
    #[error("reading the stored content of bundle {bundle}: {source}")]
    Store {
        bundle: String,
        #[source]
        source: StoreError,
    },
    #[error("extracting the stored content of bundle {bundle}: {message}")]
    Extract { bundle: String, message: String },
    #[error("{0}")]
    Format(#[from] bundle_format::FormatError),
    #[error("{0}")]
    Config(#[from] registry_convert::ConfigError),
    #[error("converting the registry+v1 bundle: {0}")]
    Convert(#[from] registry_convert::ConvertError),
    #[error("bundles of provisioner class {0:?} cannot be installed by this provisioner")]
    UnsupportedClass(String),
}

/// What a Bundle installs: its objects, and the serving certificates they need.
pub(crate) struct Rendered {
    pub(crate) objects: Vec<serde_json::Value>,
    pub(crate) certificates: Vec<CertificateRequest>,
}

/// The objects of `bundle`, as the BundleDeployment `bd` installs them.
pub(crate) async fn render(
    store: &Store,
    bd: &BundleDeployment,
    bundle: &Bundle,
    certificates: CertificateMode,
) -> Result<Rendered, RenderError> {
    let name = bundle.name_any();
    let uid = bundle.metadata.uid.clone().unwrap_or_default();
    let stored = store
        .current(&name)
        .map_err(|source| RenderError::Store {
            bundle: name.clone(),
            source,
        })?
        .filter(|s| s.uid == uid)
        .ok_or_else(|| RenderError::NotStored(name.clone()))?;
    let store = store.clone();
    let class = bundle.spec.provisioner_class_name.clone();
    let config = bd.spec.config.clone();
    tokio::task::spawn_blocking(move || {
        let scratch = tempfile::Builder::new()
            .prefix(&format!("render-{name}-"))
            .tempdir_in(store.scratch())
            .map_err(|e| RenderError::Extract {
                bundle: name.clone(),
                message: e.to_string(),
            })?;
        store
            .extract(&name, scratch.path())
            .map_err(|source| RenderError::Store {
                bundle: name.clone(),
                source,
            })?;
        drop(stored);
        read(&class, scratch.path(), config.as_ref(), certificates)
    })
    .await
    .map_err(|e| RenderError::Extract {
        bundle: bundle.name_any(),
        message: e.to_string(),
    })?
}

fn read(
    class: &str,
    root: &Path,
    config: Option<&serde_json::Value>,
    certificates: CertificateMode,
) -> Result<Rendered, RenderError> {
    match bundle_format::Format::for_provisioner(class) {
        Some(bundle_format::Format::PlainV0) => Ok(Rendered {
            objects: bundle_format::plain_objects(root)
                .map_err(|e| RenderError::Format(bundle_format::FormatError::Plain(e)))?,
            certificates: Vec::new(),
        }),
        Some(bundle_format::Format::RegistryV1) => {
            // The install namespace comes from the bundle (its suggested namespace, else
            // `<package>-system`), as upstream's conversion chose it.
            let options = ConvertOptions::from_config("", config, certificates)?;
            let converted = registry_convert::convert(root, &options)?;
            Ok(Rendered {
                objects: converted.objects,
                certificates: converted.certificates,
            })
        }
        _ => Err(RenderError::UnsupportedClass(class.to_owned())),
    }
}
