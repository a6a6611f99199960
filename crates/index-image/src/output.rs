//! Where an index command's result goes and what it reports.

use std::path::{Path, PathBuf};

use oci::PushReport;

use crate::error::IndexImageError;

/// What to produce.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Build the image and push it here (registry reference or `oci:<dir>[:name]`).
    Push(String),
    /// `--generate`: write the build context into `dir` and the Dockerfile to `dockerfile`.
    Generate { dir: PathBuf, dockerfile: PathBuf },
}

/// The options shared by every index command that writes an index.
#[derive(Clone, Debug)]
pub struct IndexOutput {
    pub output: Output,
    /// `--binary-image`: the base of a new index and the `FROM` of generated Dockerfiles.
    pub binary_image: String,
}

/// What an index command did.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// `sqlite` or `file-based catalog`.
    pub kind: String,
    /// The pushed reference and digest (push output only).
    pub pushed: Option<(String, String)>,
    pub report: Option<PushReport>,
    /// Files written by `--generate`.
    pub generated: Vec<PathBuf>,
    pub changed_packages: Vec<String>,
    pub warnings: Vec<String>,
}

/// Writes a generated Dockerfile (through a temp file and a rename).
pub(crate) fn write_dockerfile(path: &Path, text: &str) -> Result<(), IndexImageError> {
    fbc::write::write_file_atomically(path, text.as_bytes())?;
    Ok(())
}
