//! Helpers shared by the integration tests that need a cluster and a registry.
#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};
use std::time::Duration;

use kube::api::{Api, PostParams};
use oci::{ImageRef, ImageStore, RegistryOptions};
use olm_api::catalog::{
    Catalog, CatalogImageSource, CatalogSource, CatalogSourceType, CatalogSpec,
};
pub use testenv::fixtures::corpus;
use testenv::registry::Registry;

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The JSON Lines catalogd must serve for an FBC directory: every meta in walk order.
pub fn expected_jsonl(dir: &Path) -> String {
    let mut out = String::new();
    fbc::walk_metas(dir, |m: fbc::Meta| -> Result<(), fbc::LoadError> {
        out.push_str(m.blob.get());
        out.push('\n');
        Ok(())
    })
    .unwrap();
    out
}

pub fn phase(c: &Catalog) -> Option<&str> {
    c.status.as_ref()?.phase.as_deref()
}

pub fn unpacked_reason(c: &Catalog) -> Option<&str> {
    let s = c.status.as_ref()?;
    olm_api::conditions::find_condition(&s.conditions, "Unpacked").map(|c| c.reason.as_str())
}

pub fn resolved_ref(c: &Catalog) -> String {
    c.status
        .as_ref()
        .and_then(|s| s.resolved_source.as_ref())
        .and_then(|r| r.image.as_ref())
        .map(|i| i.resolved_ref.clone())
        .unwrap_or_default()
}

/// Builds a catalog image from `fbc_dir`, pushes it as `catalogs/test:<tag>`, returns its digest.
pub async fn push_catalog(
    registry: &Registry,
    images: &ImageStore,
    fbc_dir: &Path,
    tag: &str,
) -> String {
    let image = oci::catalog_image(None, fbc_dir)
        .unwrap()
        .build(images)
        .await
        .unwrap();
    let dest = format!("{}/catalogs/test:{tag}", registry.host_port());
    let report = images
        .push(&image, &ImageRef::parse(&dest).unwrap())
        .await
        .unwrap();
    report.digest
}

pub fn plain_options() -> RegistryOptions {
    RegistryOptions {
        use_http: true,
        ..RegistryOptions::default()
    }
}

pub async fn start_registry() -> Option<Registry> {
    if !testenv::registry::require_binaries(&["docker-registry"]) {
        return None;
    }
    Some(Registry::start_plain().await.expect("registry starts"))
}

/// A Catalog labelled `olmrs-test=<label>`, so only this test's controllers see it.
pub fn new_catalog(
    label: &str,
    reference: &str,
    poll: Option<&str>,
    pull_secret: Option<&str>,
) -> Catalog {
    let name = testenv::unique_name("cat");
    let mut catalog = Catalog::new(
        &name,
        CatalogSpec {
            source: CatalogSource {
                type_: CatalogSourceType::Image,
                image: Some(CatalogImageSource {
                    ref_: reference.into(),
                    pull_secret: pull_secret.map(Into::into),
                    poll_interval: poll.map(Into::into),
                    insecure_skip_tls_verify: false,
                }),
            },
        },
    );
    catalog.metadata.labels = Some([("olmrs-test".to_owned(), label.to_owned())].into());
    catalog
}

pub async fn create_catalog(api: &Api<Catalog>, catalog: &Catalog) -> String {
    api.create(&PostParams::default(), catalog)
        .await
        .expect("Catalog created");
    catalog.metadata.name.clone().unwrap()
}

/// Waits until `pred` holds for the Catalog, returning it; panics with the last status.
pub async fn wait_for(
    api: &Api<Catalog>,
    name: &str,
    what: &str,
    pred: impl Fn(&Catalog) -> bool,
) -> Catalog {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let c = api.get(name).await.expect("Catalog readable");
        if pred(&c) {
            return c;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}; status: {:#?}",
            c.status
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// GET `<base>/catalogs/<name>/<path>`: status and body.
pub async fn get_text(base_url: &str, name: &str, path: &str) -> (u16, String) {
    let resp = reqwest::get(format!("{base_url}/catalogs/{name}/{path}"))
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}
