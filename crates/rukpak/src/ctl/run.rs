//! `rukpakctl run`: apply a BundleDeployment whose template is an upload Bundle labelled with
//! the directory's digest, wait for the controller to create that Bundle, and upload the
//! directory to it. Changed files give a new digest, hence a new Bundle and a pivot.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use kube::api::{Api, ListParams, Patch, PatchParams};
use olm_api::{Bundle, BundleDeployment};
use serde_json::json;

use super::CtlError;
use super::archive::archive_dir;
use super::connect::{self, Purpose, Route};

const FIELD_MANAGER: &str = "rukpakctl";
const POLL: Duration = Duration::from_millis(250);

pub(crate) struct RunRequest {
    pub(crate) bundle_deployment: String,
    pub(crate) bundle_dir: PathBuf,
    pub(crate) namespace: String,
    pub(crate) upload_service: String,
    pub(crate) ca_secret: String,
    pub(crate) address: Option<String>,
    pub(crate) deployment_class: String,
    pub(crate) bundle_class: String,
    pub(crate) timeout: Duration,
}

impl RunRequest {
    pub(crate) async fn run(
        self,
        kube: &kube::Client,
        config: &kube::Config,
        out: &mut impl Write,
    ) -> Result<(), CtlError> {
        let archive = archive_dir(&self.bundle_dir)?;
        let selector = format!(
            "app={},bundleDigest={}",
            self.bundle_deployment, archive.digest
        );
        self.apply_bundle_deployment(kube, &archive.digest).await?;
        writeln!(
            out,
            "bundledeployment.core.rukpak.io {:?} applied",
            self.bundle_deployment
        )
        .map_err(CtlError::Output)?;

        let bundle = self.wait_for_bundle(kube, &selector).await?;
        let ca = connect::ca_pem(kube, &self.namespace, &self.ca_secret).await?;
        let token = connect::bearer_token(kube, config, &self.namespace, Purpose::Upload).await?;
        let url: reqwest::Url = format!(
            "https://{}.{}.svc/uploads/{bundle}.tgz",
            self.upload_service, self.namespace
        )
        .parse()
        .expect("service names and bundle names form a valid URL");
        let route = Route::for_url(&url, self.address.as_deref());
        let connection = connect::connect(kube, &url, route, &ca).await?;
        let response = connection
            .http
            .put(url.clone())
            .bearer_auth(token)
            .body(archive.bytes)
            .send()
            .await
            .map_err(CtlError::Http)?;
        let line = match response.status() {
            reqwest::StatusCode::CREATED => {
                format!("successfully uploaded bundle content for {bundle:?}")
            }
            reqwest::StatusCode::NO_CONTENT => format!("bundle {bundle:?} is already up-to-date"),
            status => {
                let body = response.text().await.unwrap_or_default();
                return Err(CtlError::Server {
                    method: "PUT",
                    url: url.to_string(),
                    status,
                    body: body.trim().to_owned(),
                });
            }
        };
        writeln!(out, "{line}").map_err(CtlError::Output)
    }

    async fn apply_bundle_deployment(
        &self,
        kube: &kube::Client,
        digest: &str,
    ) -> Result<(), CtlError> {
        let name = &self.bundle_deployment;
        let object = json!({
            "apiVersion": "core.rukpak.io/v1alpha1",
            "kind": "BundleDeployment",
            "metadata": {"name": name},
            "spec": {
                "provisionerClassName": self.deployment_class,
                "template": {
                    "metadata": {"labels": {"app": name, "bundleDigest": digest}},
                    "spec": {
                        "provisionerClassName": self.bundle_class,
                        "source": {"type": "upload", "upload": {}},
                    },
                },
            },
        });
        let api: Api<BundleDeployment> = Api::all(kube.clone());
        api.patch(
            name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&object),
        )
        .await
        .map_err(|source| CtlError::Kube {
            action: format!("applying bundledeployment {name:?}"),
            source,
        })?;
        Ok(())
    }

    /// The Bundle the BundleDeployment controller creates for this template.
    async fn wait_for_bundle(
        &self,
        kube: &kube::Client,
        selector: &str,
    ) -> Result<String, CtlError> {
        let api: Api<Bundle> = Api::all(kube.clone());
        let params = ListParams::default().labels(selector);
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            let found = api.list(&params).await.map_err(|source| CtlError::Kube {
                action: format!("listing bundles with labels {selector}"),
                source,
            })?;
            if let Some(name) = found.items.into_iter().find_map(|b| b.metadata.name) {
                return Ok(name);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(CtlError::NoBundle {
                    bundle_deployment: self.bundle_deployment.clone(),
                    class: self.deployment_class.clone(),
                    seconds: self.timeout.as_secs(),
                });
            }
            tokio::time::sleep(POLL).await;
        }
    }
}
