//! The upstream `opm` sqlite index database (operator-registry v1.73.0 schema, migration 13):
//! opening it read-only, listing packages, channels, bundles and properties, and converting it
//! to a File-Based Catalog exactly as `opm render <db>` and `opm migrate` do.
//!
//! Older databases are refused with a clear error rather than migrated (upstream migrates the
//! file in place; we never write to an input). `schema::create_latest` runs the migrations to create the schema, for
//! building indexes and test fixtures.

pub mod convert;
pub mod error;
pub mod migrate;
pub mod read;
pub mod schema;
pub mod write;

pub use error::IndexError;
pub use read::{BundleRow, ChannelRow, Index, PackageRow, TypedValue, is_sqlite_file};
pub use write::{AddError, BundleAnnotations, BundleToAdd, IndexWriter, Mode, WriteError};
