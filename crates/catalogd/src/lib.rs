//! catalogd: the `Catalog` controller and the catalog content server.
//!
//! - [`store`]: content on disk, one directory per digest, switched atomically.
//! - [`index`]: the byte-offset index behind `/api/v1/metas`.
//! - [`server`]: the HTTP routes; [`listen`]: the sockets they are served on.
//! - [`plan`]: what a reconcile should do, from the object and the store.
//! - [`controller`]: the reconcile loop; [`leader`]: which replica runs it fully.

pub mod controller;
pub mod index;
pub mod leader;
pub mod listen;
pub mod metrics;
pub mod plan;
pub mod server;
pub mod stall;
pub mod store;
pub mod unpack;
