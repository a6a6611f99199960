//! catalogd: the `Catalog` controller and the catalog content server, run on the shared
//! [`controller_runtime`] (flags, leader election, probes, metrics, graceful shutdown).
//!
//! - `args`: the flags, resolved into a [`Config`] and run ([`Args::run`]).
//! - `plan`: what a reconcile should do, from the object, the store and the content failure
//!   remembered for its digest (retried on [`RETRY_ANNOTATION`]), and the status it
//!   writes; `controller`: the reconcile loop around it ([`Context`], [`run_controller`]).
//! - `unpack`: pulling a catalog image into the store; `leftovers`: the start-up sweep of
//!   what interrupted unpacks left behind.
//! - `store`: content on disk, one directory per digest, switched atomically, and the
//!   remembered failure; `index`: the
//!   byte-offset index behind `/api/v1/metas`.
//! - `server`: the content routes ([`ContentServer`]); `sections`: bodies read from
//!   `all.json` chunk by chunk, plain or gzipped on the fly; `clients`: how many streamed
//!   responses each client may have at once; `guarded`: bodies that hold a value (a
//!   request timer, a client's slot) until sent; `metrics`: catalogd's metrics, registered
//!   into the registry the runtime serves.

mod args;
mod clients;
mod controller;
#[cfg(test)]
mod fixtures;
mod guarded;
mod index;
mod leftovers;
mod metrics;
mod plan;
mod sections;
mod server;
mod store;
mod unpack;

pub use args::{Args, Config, RunError};
pub use controller::{
    Context, ContextBuilder, Error, FIELD_MANAGER, Storage, StorageError, collect_garbage,
    run_controller,
};
pub use metrics::{Metrics, RequestDurations};
pub use plan::{PlanError, RETRY_ANNOTATION};
pub use server::ContentServer;
pub use store::{CatalogWriter, Store, StoreError, StoredCatalog, StoredSource};
pub use unpack::UnpackFailure;
