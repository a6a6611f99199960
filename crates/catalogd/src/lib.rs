//! catalogd: the `Catalog` controller and the catalog content server.
//!
//! - [`store`]: content on disk, one directory per digest, switched atomically.
//! - [`index`]: the byte-offset index behind `/api/v1/metas`.
//! - [`server`]: the HTTP routes.

pub mod index;
pub mod server;
pub mod store;
