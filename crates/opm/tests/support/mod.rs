//! Helpers for driving the `opm` binary against a loopback registry.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use oci::{ImageRef, ImageStore, RegistryOptions, bundle_image};
use testenv::fixtures::corpus_bundle as bundle_dir;
use testenv::registry::{Registry, require_binaries, run_command};

pub const BINARIES: &[&str] = &["docker-registry", "skopeo", "htpasswd"];

/// A plain-HTTP registry, a store for pushing fixtures, and an isolated environment for the
/// `opm` binary (own blob cache, no credentials of the developer's).
pub struct Env {
    pub registry: Registry,
    pub store: ImageStore,
    pub home: tempfile::TempDir,
}

impl Env {
    pub async fn start() -> Option<Env> {
        if !require_binaries(BINARIES) {
            return None;
        }
        let registry = Registry::start_plain().await.expect("registry");
        let home = tempfile::tempdir().unwrap();
        let store = ImageStore::new(
            home.path().join("fixture-cache"),
            RegistryOptions {
                use_http: true,
                ..Default::default()
            },
        )
        .unwrap();
        Some(Env {
            registry,
            store,
            home,
        })
    }

    pub fn host(&self) -> &str {
        self.registry.host_port()
    }

    pub fn reference(&self, repo_tag: &str) -> String {
        format!("{}/{repo_tag}", self.host())
    }

    pub fn cache_dir(&self) -> PathBuf {
        self.home.path().join("opm-cache")
    }

    /// Builds and pushes the corpus bundle; returns `<registry>/bundles/<p>@sha256:…` and
    /// the tag reference.
    pub async fn push_bundle(&self, package: &str, version: &str) -> (String, String) {
        let image = bundle_image(&bundle_dir(package, version))
            .unwrap()
            .build(&self.store)
            .await
            .unwrap();
        let tagged = self.reference(&format!("bundles/{package}:{version}"));
        self.store
            .push(&image, &ImageRef::parse(&tagged).unwrap())
            .await
            .unwrap();
        (
            self.reference(&format!("bundles/{package}@{}", image.digest)),
            tagged,
        )
    }

    /// `opm` with this environment (own cache, no auth files, working dir `dir`).
    pub fn opm(&self, dir: &Path) -> Command {
        let mut c = Command::cargo_bin("opm").unwrap();
        c.current_dir(dir)
            .env("OPM_CACHE_DIR", self.cache_dir())
            .env("HOME", self.home.path())
            .env("DOCKER_CONFIG", self.home.path().join("docker"))
            .env_remove("REGISTRY_AUTH_FILE")
            .env_remove("XDG_CACHE_HOME");
        c
    }

    pub fn run(&self, dir: &Path, args: &[&str]) -> Output {
        self.opm(dir).args(args).output().unwrap()
    }

    /// Runs and asserts success; returns stdout.
    pub fn ok(&self, dir: &Path, args: &[&str]) -> String {
        let out = self.run(dir, args);
        assert!(
            out.status.success(),
            "opm {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs and asserts failure; returns stderr.
    pub fn fails(&self, dir: &Path, args: &[&str]) -> String {
        let out = self.run(dir, args);
        assert!(
            !out.status.success(),
            "opm {args:?} unexpectedly succeeded:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stderr).unwrap()
    }

    pub fn skopeo_inspect(&self, repo_tag: &str) -> serde_json::Value {
        let out = run_command(&mut self.registry.skopeo_inspect(repo_tag, None)).unwrap();
        serde_json::from_str(&out).unwrap()
    }

    pub fn skopeo_manifest(&self, repo_tag: &str) -> serde_json::Value {
        let mut cmd = self.registry.skopeo_inspect(repo_tag, None);
        cmd.arg("--raw");
        serde_json::from_str(&run_command(&mut cmd).unwrap()).unwrap()
    }
}

/// The parsed JSON stream `opm render` printed.
pub fn blobs(render_output: &str) -> Vec<serde_json::Value> {
    serde_json::Deserializer::from_str(render_output)
        .into_iter::<serde_json::Value>()
        .map(Result::unwrap)
        .collect()
}

/// `name -> replaces` of a channel in rendered output.
pub fn channel_entries(blobs: &[serde_json::Value], channel: &str) -> Vec<(String, String)> {
    let ch = blobs
        .iter()
        .find(|b| b["schema"] == "olm.channel" && b["name"] == channel)
        .unwrap_or_else(|| panic!("no channel {channel}"));
    let mut out: Vec<(String, String)> = ch["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_string(),
                e["replaces"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    out.sort();
    out
}
