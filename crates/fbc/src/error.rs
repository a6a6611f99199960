//! Errors of loading and writing catalogs. Every error names the file and, where known, the line
//! (and column) of the problem.

use std::path::PathBuf;

/// A catalog could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Malformed YAML or JSON.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    /// A well-formed document that is not a valid catalog blob.
    #[error("{}:{line}: {message}", path.display())]
    Document {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{}: not a directory", path.display())]
    NotADirectory { path: PathBuf },
}

impl LoadError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        LoadError::Io {
            path: path.into(),
            source,
        }
    }

    /// The file the error is about.
    pub fn path(&self) -> &std::path::Path {
        match self {
            LoadError::Io { path, .. }
            | LoadError::Syntax { path, .. }
            | LoadError::Document { path, .. }
            | LoadError::NotADirectory { path } => path,
        }
    }
}

/// A catalog could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
}
