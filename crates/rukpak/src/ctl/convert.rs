//! `rukpakctl convert`: what a registry+v1 bundle installs, previewed without a cluster.

use std::io::Write;
use std::path::PathBuf;

use registry_convert::{CertificateMode, ConvertOptions};

use super::CtlError;

pub(crate) struct ConvertRequest {
    pub(crate) bundle_dir: PathBuf,
    pub(crate) install_namespace: String,
    pub(crate) watch_namespaces: Vec<String>,
    pub(crate) cert_manager: bool,
}

impl ConvertRequest {
    pub(crate) fn run(self, out: &mut impl Write) -> Result<(), CtlError> {
        let options = ConvertOptions {
            install_namespace: self.install_namespace,
            watch_namespaces: self.watch_namespaces,
            certificates: match self.cert_manager {
                true => CertificateMode::CertManager,
                false => CertificateMode::BuiltIn,
            },
            ..ConvertOptions::default()
        };
        let converted =
            registry_convert::convert(&self.bundle_dir, &options).map_err(|source| {
                CtlError::Convert {
                    bundle: self.bundle_dir.display().to_string(),
                    source,
                }
            })?;
        out.write_all(registry_convert::to_yaml_stream(&converted.objects).as_bytes())
            .map_err(CtlError::Output)
    }
}
