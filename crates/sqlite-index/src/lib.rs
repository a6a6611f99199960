//! The upstream `opm` sqlite index database (operator-registry v1.73.0 schema, migration 13):
//! opening it read-only, listing packages, channels, bundles and properties, converting it
//! to a File-Based Catalog exactly as `opm render <db>` and `opm migrate` do, and writing it as
//! `opm index add|rm|prune|prune-stranded|deprecatetruncate|export` do.
//!
//! Older databases are refused by the reader with a clear error rather than migrated (upstream
//! migrates the file in place; we never write to an input); the writer migrates its working
//! copy as upstream does. [`schema::create_latest`] runs the migrations to create the schema,
//! for building indexes and test fixtures.
//!
//! Layout, lower modules first (no module uses one above it):
//! - `column`: columns scanned as upstream's Go driver scans them;
//! - `version`: the migration version a database is at;
//! - `error`, `read`, `convert`: the read-only [`Index`] and its conversion to a catalog;
//! - `write`: [`IndexWriter`] and its parts (CSV accessors, graphs, queries, the loader's
//!   table operations, migrations, the add modes, export).

mod column;
mod convert;
mod error;
mod read;
mod version;
mod write;

pub use error::IndexError;
pub use read::{BundleRow, ChannelRow, Index, PackageRow, TypedValue, is_sqlite_file};
pub use write::{
    AddError, BundleAnnotations, BundleInputError, BundleToAdd, CsvError, ExportBundle,
    ExportError, ExportPlan, IndexWriter, InvalidMode, Mode, WriteError, migrate, package_yaml,
    write_package_yamls,
};

/// The schema: the migration version a database is at, and creating the latest one.
pub mod schema {
    pub use crate::version::{LATEST_VERSION, MIGRATIONS_TABLE, version};
    pub use crate::write::migrate::create_latest;
}
