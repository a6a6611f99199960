//! Driving the `opm` binary against a [`RegistryEnv`], and reading what it rendered.

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use testenv::RegistryEnv;

/// `opm` run inside a [`RegistryEnv`]: its own blob cache and home, no developer logins.
pub(crate) trait OpmInEnv {
    fn cache_dir(&self) -> PathBuf;

    /// `opm` with this environment (own cache, no auth files, working dir `dir`).
    fn opm(&self, dir: &Path) -> Command;

    fn run(&self, dir: &Path, args: &[&str]) -> Output {
        self.opm(dir).args(args).output().unwrap()
    }

    /// Runs and asserts success; returns stdout.
    fn ok(&self, dir: &Path, args: &[&str]) -> String {
        let out = self.run(dir, args);
        assert!(
            out.status.success(),
            "opm {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs and asserts failure; returns stderr.
    fn fails(&self, dir: &Path, args: &[&str]) -> String {
        let out = self.run(dir, args);
        assert!(
            !out.status.success(),
            "opm {args:?} unexpectedly succeeded:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stderr).unwrap()
    }
}

impl OpmInEnv for RegistryEnv {
    fn cache_dir(&self) -> PathBuf {
        self.home.path().join("opm-cache")
    }

    fn opm(&self, dir: &Path) -> Command {
        let mut c = Command::cargo_bin("opm").unwrap();
        c.current_dir(dir)
            .env("OPM_CACHE_DIR", self.cache_dir())
            .env("HOME", self.home.path())
            .env("DOCKER_CONFIG", self.home.path().join("docker"))
            .env_remove("REGISTRY_AUTH_FILE")
            .env_remove("XDG_CACHE_HOME");
        c
    }
}

/// The parsed JSON stream `opm render` printed.
pub(crate) fn blobs(render_output: &str) -> Vec<serde_json::Value> {
    serde_json::Deserializer::from_str(render_output)
        .into_iter::<serde_json::Value>()
        .map(Result::unwrap)
        .collect()
}

/// `name -> replaces` of a channel in rendered output.
pub(crate) fn channel_entries(blobs: &[serde_json::Value], channel: &str) -> Vec<(String, String)> {
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
