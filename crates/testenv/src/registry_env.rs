//! A loopback registry with corpus bundles pushed to it: the environment the index and render
//! tests of opm and index-image share.

use std::path::PathBuf;

use oci::{ImageRef, ImageStore, RegistryOptions, bundle_image};

use crate::fixtures::corpus_bundle;
use crate::registry::{REGISTRY_BINARIES, Registry, require_binaries, run_command};

/// A plain-HTTP registry, an image store that reaches it, and a private home directory for
/// caches and configuration, so nothing of the developer's (blob cache, logins) is used.
pub struct RegistryEnv {
    pub registry: Registry,
    /// Plain HTTP, no credentials, its blob cache under [`RegistryEnv::home`].
    pub store: ImageStore,
    pub home: tempfile::TempDir,
}

/// A corpus bundle pushed by [`RegistryEnv::push_bundle`].
#[derive(Clone, Debug)]
pub struct PushedBundle {
    /// `<registry>/bundles/<package>@sha256:…`
    pub digest_ref: String,
    /// `<registry>/bundles/<package>:<version>`
    pub tag_ref: String,
}

impl RegistryEnv {
    /// Starts the registry, or returns `None` after [`crate::unavailable`] when its binaries
    /// are missing (which fails in CI).
    pub async fn start() -> Option<Self> {
        if !require_binaries(REGISTRY_BINARIES) {
            return None;
        }
        let registry = Registry::start_plain().await.expect("registry");
        let home = tempfile::tempdir().expect("registry env home");
        std::fs::write(no_auth_file(&home), b"{}").expect("writing the empty auth file");
        let store = ImageStore::new(
            home.path().join("fixture-cache"),
            RegistryOptions {
                use_http: true,
                ..Default::default()
            },
        )
        .expect("fixture image store");
        Some(Self {
            registry,
            store,
            home,
        })
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> &str {
        self.registry.host_port()
    }

    /// `127.0.0.1:PORT/<repo_tag>`.
    pub fn reference(&self, repo_tag: &str) -> String {
        format!("{}/{repo_tag}", self.host())
    }

    /// An auth file with no logins, for clients that would otherwise read the developer's.
    pub fn no_auth_file(&self) -> PathBuf {
        no_auth_file(&self.home)
    }

    /// Builds the corpus bundle `package/version` and pushes it as
    /// `<registry>/bundles/<package>:<version>`.
    pub async fn push_bundle(&self, package: &str, version: &str) -> PushedBundle {
        let image = bundle_image(&corpus_bundle(package, version))
            .expect("corpus bundle")
            .build(&self.store)
            .await
            .expect("building the bundle image");
        let tag_ref = self.reference(&format!("bundles/{package}:{version}"));
        self.store
            .push(&image, &ImageRef::parse(&tag_ref).expect("reference"))
            .await
            .expect("pushing the bundle image");
        PushedBundle {
            digest_ref: self.reference(&format!("bundles/{package}@{}", image.digest)),
            tag_ref,
        }
    }

    /// [`RegistryEnv::push_bundle`] for each version; returns the tag references.
    pub async fn push_bundles(&self, package: &str, versions: &[&str]) -> Vec<String> {
        let mut tags = Vec::new();
        for version in versions {
            tags.push(self.push_bundle(package, version).await.tag_ref);
        }
        tags
    }

    /// `skopeo inspect` of `<registry>/<repo_tag>`: digest, labels, layers.
    pub fn skopeo_inspect(&self, repo_tag: &str) -> serde_json::Value {
        let out =
            run_command(&mut self.registry.skopeo_inspect(repo_tag, None)).expect("skopeo inspect");
        serde_json::from_str(&out).expect("skopeo inspect JSON")
    }

    /// `skopeo inspect --raw` (the manifest as pushed).
    pub fn skopeo_manifest(&self, repo_tag: &str) -> serde_json::Value {
        let mut cmd = self.registry.skopeo_inspect(repo_tag, None);
        cmd.arg("--raw");
        let out = run_command(&mut cmd).expect("skopeo inspect --raw");
        serde_json::from_str(&out).expect("manifest JSON")
    }
}

fn no_auth_file(home: &tempfile::TempDir) -> PathBuf {
    home.path().join("no-auth.json")
}
