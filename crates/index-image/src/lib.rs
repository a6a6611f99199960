//! The index commands of `opm` (`index add`, `rm`, `prune`, `prune-stranded`, `export`,
//! `deprecatetruncate`) over both kinds of index image, sqlite (`/database/index.db`) and
//! file-based catalogs (`/configs`), without a container engine: images are pulled, built
//! and pushed in-process by the `oci` crate.
//!
//! Each command plans first (pull the from-index and bundles, compute and validate the new
//! catalog) and writes only when the plan succeeded: one new layer on top of the from-index,
//! pushed to a registry or an `oci:` layout, or with `--generate` a Dockerfile and build
//! context compatible with upstream's.
//!
//! Layout: the commands are `add` and `change` (`rm`, `prune`, … and `export`); each works
//! through `catalog` (file-based catalog indexes, changed by the pure functions of `fbc_add`
//! and written back by `fbc_tree`) or `sqlite` (sqlite indexes, changed by `sqlite-index`).
//! Below them: `kind` (what an image is), `bundles` (pulling bundle images), `image_out`
//! (building and pushing the result), `output` (where results go), `dockerfile`, `access`
//! (registry flags) and `error`. No module uses one above it.

mod access;
mod add;
mod bundles;
mod catalog;
mod change;
mod dockerfile;
mod error;
mod fbc_add;
mod fbc_tree;
mod image_out;
mod kind;
mod output;
mod sqlite;

pub use access::{CACHE_DIR_ENV, RegistryAccess, auth_file_candidates, default_cache_dir};
pub use add::{AddRequest, NewIndexKind, add};
pub use bundles::{PulledBundle, pull_bundle};
pub use change::{Change, ChangeRequest, ExportRequest, change, export};
pub use dockerfile::DEFAULT_DOCKERFILE;
pub use error::IndexImageError;
pub use fbc_add::{AddOptions, BundleToAdd, add_bundles, object_profile, remove_packages};
pub use fbc_tree::{Rewrite, plan_rewrite};
pub use image_out::drop_serve_cache;
pub use kind::{ImageKind, fetch, unpack_database, unpack_dir};
pub use output::{IndexOutput, Outcome, Output};
/// `--mode`, shared with the sqlite writer.
pub use sqlite_index::{InvalidMode, Mode};
