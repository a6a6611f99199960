//! Shared helpers: a loopback registry, bundle images built from the corpus and pushed, and
//! reading back what an index command pushed.

#![allow(dead_code)]

use index_image::{AddRequest, IndexOutput, Mode, NewIndexKind, Outcome, Output, RegistryAccess};
use oci::{ImageRef, ImageStore, bundle_image};
use testenv::fixtures::corpus_bundle as bundle_dir;
use testenv::registry::{Registry, require_binaries, run_command};

pub const BINARIES: &[&str] = &["docker-registry", "skopeo", "htpasswd"];

/// A registry, a store that reaches it over plain HTTP, and a private blob cache.
pub struct Env {
    pub registry: Registry,
    pub store: ImageStore,
    pub cache: tempfile::TempDir,
}

impl Env {
    pub async fn start() -> Option<Env> {
        if !require_binaries(BINARIES) {
            return None;
        }
        let registry = Registry::start_plain().await.expect("registry");
        let cache = tempfile::tempdir().unwrap();
        let store = RegistryAccess {
            use_http: true,
            cache_dir: Some(cache.path().to_path_buf()),
            // Never a developer's own logins.
            auth_file: Some(cache.path().join("no-auth.json")),
            ..Default::default()
        };
        std::fs::write(cache.path().join("no-auth.json"), b"{}").unwrap();
        let store = store.store().expect("store");
        Some(Env {
            registry,
            store,
            cache,
        })
    }

    pub fn reference(&self, repo_tag: &str) -> String {
        format!("{}/{repo_tag}", self.registry.host_port())
    }

    /// Builds the corpus bundle `package/version` and pushes it as
    /// `<registry>/bundles/<package>:<version>`; returns the reference.
    pub async fn push_bundle(&self, package: &str, version: &str) -> String {
        let image = bundle_image(&bundle_dir(package, version))
            .unwrap()
            .build(&self.store)
            .await
            .unwrap();
        let reference = self.reference(&format!("bundles/{package}:{version}"));
        self.store
            .push(&image, &ImageRef::parse(&reference).unwrap())
            .await
            .unwrap();
        reference
    }

    pub async fn push_bundles(&self, package: &str, versions: &[&str]) -> Vec<String> {
        let mut out = Vec::new();
        for v in versions {
            out.push(self.push_bundle(package, v).await);
        }
        out
    }

    pub fn skopeo_inspect(&self, repo_tag: &str) -> serde_json::Value {
        let out =
            run_command(&mut self.registry.skopeo_inspect(repo_tag, None)).expect("skopeo inspect");
        serde_json::from_str(&out).unwrap()
    }

    /// `skopeo inspect --raw` (the manifest as pushed).
    pub fn skopeo_manifest(&self, repo_tag: &str) -> serde_json::Value {
        let mut cmd = self.registry.skopeo_inspect(repo_tag, None);
        cmd.arg("--raw");
        let out = run_command(&mut cmd).expect("skopeo inspect --raw");
        serde_json::from_str(&out).unwrap()
    }
}

pub fn add_request(bundles: Vec<String>, from_index: Option<String>, tag: &str) -> AddRequest {
    AddRequest {
        bundles,
        from_index,
        out: IndexOutput {
            output: Output::Push(tag.to_string()),
            binary_image: "scratch".into(),
        },
        mode: Mode::Replaces,
        overwrite_latest: false,
        permissive: false,
        new_index_kind: NewIndexKind::Fbc,
    }
}

pub async fn add(env: &Env, req: &AddRequest) -> Outcome {
    index_image::add(&env.store, req)
        .await
        .unwrap_or_else(|e| panic!("index add failed: {e}"))
}

/// The catalog of a pushed FBC index image, loaded.
pub async fn catalog_of(env: &Env, reference: &str) -> fbc::DeclarativeConfig {
    let image = index_image::fetch(&env.store, reference).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("configs");
    index_image::unpack_dir(&env.store, &image, reference, "/configs", &dest)
        .await
        .unwrap();
    fbc::load_fs(&dest).unwrap()
}

/// (name, replaces, skips) of a channel's entries, sorted by name.
pub fn entries(
    cfg: &fbc::DeclarativeConfig,
    package: &str,
    channel: &str,
) -> Vec<(String, String, Vec<String>)> {
    let ch = cfg
        .channels
        .iter()
        .find(|c| c.package == package && c.name == channel)
        .unwrap_or_else(|| panic!("channel {package}/{channel} missing"));
    let mut out: Vec<_> = ch
        .entries
        .iter()
        .map(|e| (e.name.clone(), e.replaces.clone(), e.skips.clone()))
        .collect();
    out.sort();
    out
}

pub fn entry(name: &str, replaces: &str, skips: &[&str]) -> (String, String, Vec<String>) {
    (
        name.to_string(),
        replaces.to_string(),
        skips.iter().map(|s| s.to_string()).collect(),
    )
}
