//! Running the `resolve` binary from the crate directory, and reading its JSON output.

use assert_cmd::Command;
use serde_json::Value;

pub(crate) const SUCCESS: &str = "cat=tests/fixtures/seed-success/catalog";
pub(crate) const FAILURE: &str = "cat=tests/fixtures/seed-failure/catalog";
pub(crate) const UPGRADES: &str = "cat=tests/fixtures/upgrades/catalog";

pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

pub(crate) fn resolve(args: &[&str]) -> Run {
    let out = Command::cargo_bin("resolve")
        .expect("binary")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("REGISTRY_AUTH_FILE")
        .args(args)
        .output()
        .expect("runs");
    Run {
        code: out.status.code().expect("exit code"),
        stdout: String::from_utf8(out.stdout).expect("utf-8"),
        stderr: String::from_utf8(out.stderr).expect("utf-8"),
    }
}

pub(crate) fn json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

pub(crate) fn versions(result: &Value) -> Vec<String> {
    result["plan"]
        .as_array()
        .expect("plan")
        .iter()
        .map(|s| {
            format!(
                "{} {} {}",
                s["action"].as_str().expect("action"),
                s["package"].as_str().expect("package"),
                s["version"].as_str().expect("version")
            )
        })
        .collect()
}
