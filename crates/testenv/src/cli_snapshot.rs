//! Snapshots of a command run: exit code, stdout and stderr in one text (as uv's
//! `uv_snapshot!`), with filters for what changes from run to run.

use std::path::Path;
use std::process::Output;

/// Asserts an insta snapshot of a command's [`format_cli_output`] and returns its
/// [`Output`], for further checks.
///
/// `$cmd` is anything with an `output()` method returning `io::Result<Output>`
/// (`std::process::Command`, `assert_cmd::Command`, or `&mut` either). Filters come from
/// the insta settings in scope, usually bound with [`SnapshotFilters::bind`], plus those
/// given as `filters = …` first.
///
/// ```ignore
/// SnapshotFilters::new().path(dir, "[TMP]").bind(|| {
///     cli_snapshot!("validate_missing", opm(dir).args(["validate", "missing"]));
///     cli_snapshot!(opm(dir).args(["validate", "missing"]), @"...");
/// });
/// cli_snapshot!(filters = registry_filters, "add_no_tag", opm(dir).args(["index", "add"]));
/// ```
#[macro_export]
macro_rules! cli_snapshot {
    (filters = $filters:expr, $($snapshot:tt)+) => {
        $crate::SnapshotFilters::bind(&$filters, || $crate::cli_snapshot!($($snapshot)+))
    };
    ($cmd:expr, @$snapshot:literal $(,)?) => {{
        let output = ($cmd).output().expect("running the command under test");
        $crate::insta::assert_snapshot!($crate::format_cli_output(&output), @$snapshot);
        output
    }};
    ($name:expr, $cmd:expr $(,)?) => {{
        let output = ($cmd).output().expect("running the command under test");
        $crate::insta::assert_snapshot!(
            $name,
            $crate::format_cli_output(&output),
            stringify!($cmd)
        );
        output
    }};
}

/// The snapshot text of a finished command: the exit code (`-1` when a signal ended it),
/// then each stream after a marker line. The streams are printed as they are, so a stream
/// ending without a newline runs into the next marker, which the snapshot then shows.
///
/// ```text
/// exit: 1
/// --- stdout
/// --- stderr
/// Error: …
/// ```
pub fn format_cli_output(output: &Output) -> String {
    format!(
        "exit: {}\n--- stdout\n{}--- stderr\n{}",
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    )
}

/// Replacements applied to snapshots, on top of the insta settings already in scope.
#[derive(Clone, Debug, Default)]
pub struct SnapshotFilters {
    filters: Vec<(String, String)>,
}

impl SnapshotFilters {
    pub fn new() -> Self {
        Self::default()
    }

    /// Shows `path` (and its canonical form, where that differs) as `placeholder`, e.g.
    /// `[TMP]`. Add longer paths before the shorter ones they start with.
    pub fn path(mut self, path: &Path, placeholder: &str) -> Self {
        if let Ok(canonical) = path.canonicalize()
            && canonical != path
        {
            self = self.text(&canonical.display().to_string(), placeholder);
        }
        self.text(&path.display().to_string(), placeholder)
    }

    /// Shows every occurrence of `text`, e.g. a registry's `127.0.0.1:PORT`, as `placeholder`.
    pub fn text(self, text: &str, placeholder: &str) -> Self {
        self.regex(&regex::escape(text), placeholder)
    }

    /// Shows `sha256:<64 hex digits>` as `sha256:[DIGEST]`.
    pub fn digests(self) -> Self {
        self.regex(r"sha256:[0-9a-f]{64}", "sha256:[DIGEST]")
    }

    /// Shows RFC 3339 times as `[TIME]` and durations (`1.25s`, `300ms`) as `[DURATION]`.
    pub fn times(self) -> Self {
        self.regex(
            r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?",
            "[TIME]",
        )
        .regex(r"\b\d+(\.\d+)?(ns|µs|us|ms|s)\b", "[DURATION]")
    }

    /// Replaces every match of `regex` with `replacement` (`$1` etc. refer to groups).
    pub fn regex(mut self, regex: &str, replacement: &str) -> Self {
        self.filters
            .push((regex.to_owned(), replacement.to_owned()));
        self
    }

    /// The insta settings in scope plus these filters.
    pub fn settings(&self) -> insta::Settings {
        let mut settings = insta::Settings::clone_current();
        for (regex, replacement) in &self.filters {
            settings.add_filter(regex, replacement.as_str());
        }
        settings
    }

    /// Runs `f` with these filters applied to every snapshot it asserts.
    pub fn bind<R>(&self, f: impl FnOnce() -> R) -> R {
        self.settings().bind(f)
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::ExitStatusExt;
    use std::process::ExitStatus;

    use super::*;

    fn output(code: i32, stdout: &str, stderr: &str) -> Output {
        Output {
            status: ExitStatus::from_raw(code << 8),
            stdout: stdout.as_bytes().to_vec(),
            stderr: stderr.as_bytes().to_vec(),
        }
    }

    #[test]
    fn formats_exit_code_and_both_streams() {
        assert_eq!(
            format_cli_output(&output(2, "", "Error: no\n")),
            "exit: 2\n--- stdout\n--- stderr\nError: no\n"
        );
        assert_eq!(
            format_cli_output(&output(0, "ok\n", "")),
            "exit: 0\n--- stdout\nok\n--- stderr\n"
        );
        let killed = Output {
            status: ExitStatus::from_raw(9),
            stdout: Vec::new(),
            stderr: Vec::new(),
        };
        assert_eq!(
            format_cli_output(&killed),
            "exit: -1\n--- stdout\n--- stderr\n"
        );
    }

    #[test]
    fn filters_paths_digests_and_times() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "{}/a.yaml sha256:{} at 2024-05-01T10:20:30.5Z took 1.25s",
            dir.path().display(),
            "ab".repeat(32)
        );
        SnapshotFilters::new()
            .path(dir.path(), "[TMP]")
            .digests()
            .times()
            .bind(|| {
                insta::assert_snapshot!(
                    text,
                    @"[TMP]/a.yaml sha256:[DIGEST] at [TIME] took [DURATION]"
                );
            });
    }
}
