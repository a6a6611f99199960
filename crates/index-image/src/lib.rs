//! The index commands of `opm` (`index add`, `rm`, `prune`, `prune-stranded`, `export`,
//! `deprecatetruncate`) over both kinds of index image, sqlite (`/database/index.db`) and
//! file-based catalogs (`/configs`), without a container engine: images are pulled, built
//! and pushed in-process by the `oci` crate.
//!
//! Each command plans first (pull the from-index and bundles, compute and validate the new
//! catalog) and writes only when the plan succeeded: one new layer on top of the from-index,
//! pushed to a registry or an `oci:` layout, or with `--generate` a Dockerfile and build
//! context compatible with upstream's.

pub mod access;
pub mod add;
pub mod bundles;
pub mod change;
pub mod dockerfile;
pub mod error;
pub mod fbc_add;
pub mod fbc_tree;
pub mod image_out;
pub mod kind;
pub mod sqlite;

pub use access::RegistryAccess;
pub use add::{AddRequest, IndexOutput, NewIndexKind, Outcome, Output, add};
pub use change::{Change, ChangeRequest, ExportRequest, change, export};
pub use error::IndexImageError;
pub use fbc_add::Mode;
pub use kind::ImageKind;
