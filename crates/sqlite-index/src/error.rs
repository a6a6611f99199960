//! Errors of opening, reading and converting an index database.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: not an sqlite database", path.display())]
    NotSqlite { path: PathBuf },
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    /// The database was never migrated, or stops at an older migration than this crate reads.
    #[error(
        "index database schema is at migration {found}, but only fully migrated databases (migration {latest}) can be read; migrate it with upstream `opm registry add`/`opm index add` first"
    )]
    OldSchema { found: String, latest: i64 },
    #[error(
        "index database schema is at migration {found}, newer than the latest known migration {latest}"
    )]
    NewerSchema { found: i64, latest: i64 },
    /// Content that cannot be converted, phrased as upstream.
    #[error("{0}")]
    Convert(String),
    /// The converted catalog does not validate (upstream's error tree).
    #[error("{0}")]
    Invalid(#[from] fbc::ValidationError),
}
