//! A loopback registry with corpus bundles pushed to it: the environment the index and render
//! tests of opm and index-image share.

use std::path::{Path, PathBuf};

use std::io::Read;

use oci::{Image, ImageRef, ImageStore, RegistryOptions, Sha256Digest, bundle_image};
use sha2::Digest as _;

use crate::fixtures::{copy_dir, corpus_bundle};
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
        self.push_bundle_dir(
            &corpus_bundle(package, version),
            &format!("bundles/{package}:{version}"),
        )
        .await
    }

    /// The corpus bundle `package/version` with `extra` (file name, content) files added to
    /// its `manifests/`, pushed as `<registry>/bundles/<package>:<tag>`: a bundle image with
    /// crafted manifests. Returns the tag reference.
    pub async fn push_bundle_with_manifests(
        &self,
        package: &str,
        version: &str,
        extra: &[(&str, &str)],
        tag: &str,
    ) -> String {
        let dir = tempfile::tempdir().expect("bundle copy");
        copy_dir(&corpus_bundle(package, version), dir.path());
        for (name, text) in extra {
            std::fs::write(dir.path().join("manifests").join(name), text)
                .expect("writing an extra manifest");
        }
        self.push_bundle_dir(dir.path(), &format!("bundles/{package}:{tag}"))
            .await
            .tag_ref
    }

    /// Builds the bundle directory `dir` and pushes it as `<registry>/<repo_tag>`.
    async fn push_bundle_dir(&self, dir: &Path, repo_tag: &str) -> PushedBundle {
        let image = bundle_image(dir)
            .expect("bundle directory")
            .build(&self.store)
            .await
            .expect("building the bundle image");
        let tag_ref = self.reference(repo_tag);
        let repo = repo_tag.split_once(':').map_or(repo_tag, |(r, _)| r);
        self.store
            .push(&image, &ImageRef::parse(&tag_ref).expect("reference"))
            .await
            .expect("pushing the bundle image");
        PushedBundle {
            digest_ref: self.reference(&format!("{repo}@{}", image.digest)),
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

/// A copy of `image` whose config lists `diff_ids` as its `rootfs.diff_ids` (wrong ones, or
/// another number of them), config and manifest stored in `store`'s cache so it can be
/// pushed: the image a careless or hostile publisher would make.
pub fn with_diff_ids(store: &ImageStore, image: &Image, diff_ids: Vec<String>) -> Image {
    let mut config = image.config.clone();
    config["rootfs"]["diff_ids"] = serde_json::json!(diff_ids);
    let config_bytes = serde_json::to_vec(&config).expect("config JSON");
    let config_digest = store
        .cache()
        .insert_bytes(&config_bytes)
        .expect("caching the config");
    let mut manifest = image.manifest.clone();
    manifest.config.digest = config_digest.to_string();
    manifest.config.size = config_bytes.len() as u64;
    let manifest_bytes = serde_json::to_vec(&manifest).expect("manifest JSON");
    let digest = store
        .cache()
        .insert_bytes(&manifest_bytes)
        .expect("caching the manifest");
    Image {
        digest,
        index_digest: None,
        manifest,
        manifest_bytes,
        config,
        config_bytes,
        ..image.clone()
    }
}

/// The `rootfs.diff_ids` of the image at `reference` as its config lists them, and as
/// recomputed here by decompressing each layer (pulled into `store`) with flate2 and hashing
/// it, independently of the oci crate's reader.
pub async fn listed_and_recomputed_diff_ids(
    store: &ImageStore,
    reference: &str,
) -> (Vec<String>, Vec<String>) {
    let image = store
        .pull(&ImageRef::parse(reference).expect("reference"))
        .await
        .expect("pulling the image");
    let listed = image.config["rootfs"]["diff_ids"]
        .as_array()
        .expect("rootfs.diff_ids")
        .iter()
        .map(|v| v.as_str().expect("a diff_id string").to_owned())
        .collect();
    let recomputed = image
        .manifest
        .layers
        .iter()
        .map(|layer| {
            let blob = std::fs::read(
                store
                    .cache()
                    .path(&Sha256Digest::parse(&layer.digest).expect("layer digest")),
            )
            .expect("reading the layer blob");
            let mut tar = Vec::new();
            flate2::read::MultiGzDecoder::new(&blob[..])
                .read_to_end(&mut tar)
                .expect("a gzip layer");
            format!("sha256:{}", hex::encode(sha2::Sha256::digest(&tar)))
        })
        .collect();
    (listed, recomputed)
}
