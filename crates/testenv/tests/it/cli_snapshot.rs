//! `cli_snapshot!` through its public forms: the recorded text, and filters bound around it.

use std::path::Path;
use std::process::Command;

use testenv::{SnapshotFilters, cli_snapshot};

fn sh(dir: &Path, script: &str) -> Command {
    let mut cmd = Command::new("sh");
    cmd.current_dir(dir).args(["-c", script]);
    cmd
}

#[test]
fn records_exit_code_stdout_and_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let output = cli_snapshot!(sh(dir.path(), "echo out; echo err >&2; exit 3"), @r"
    exit: 3
    --- stdout
    out
    --- stderr
    err
    ");
    assert_eq!(output.status.code(), Some(3));
}

#[test]
fn filters_hide_paths_and_digests() {
    let dir = tempfile::tempdir().unwrap();
    let filters = SnapshotFilters::new().path(dir.path(), "[TMP]").digests();
    cli_snapshot!(
        filters = filters,
        sh(dir.path(), "pwd; printf 'sha256:%064d\\n' 0"),
        @r"
    exit: 0
    --- stdout
    [TMP]
    sha256:[DIGEST]
    --- stderr
    "
    );
}
