//! RukPak's applier: makes a desired set of objects live for an owner (a
//! `BundleDeployment`) with server-side apply, and remembers what it applied in an
//! inventory so later sets can prune, and health can be read. See `docs/rukpak-applier.md`.
//!
//! - `applier`: [`Applier`] — plan (inventory → action, discovery of every kind before
//!   anything is written, defaulting and labelling, ownership check), apply (pending
//!   inventory, then SSA in order), commit (prune, then the new inventory), health.
//! - `desired`: identification, defaulting, owner labels and references, apply order and
//!   the digest of a desired set (pure).
//! - `discovery`: kind → resource and scope, one discovery request per group-version.
//! - `inventory`: the [`Inventory`] and its compact encoding (pure).
//! - `store`: the inventory's Secrets in the system namespace, split into shards.
//! - `owner`: the [`Owner`] and its labels and controller reference.
//! - `error`: [`Failure`], [`ApplyError`] and the `Installed` reason of each failure.

mod applier;
mod desired;
mod discovery;
mod error;
mod inventory;
mod owner;
mod store;

pub use applier::{Applied, Applier, Plan};
pub use desired::KEEP_ANNOTATION;
pub use error::{Action, ApplyError, Conflict, Failure, MissingKind};
pub use inventory::{DecodeError, Inventory};
pub use owner::Owner;
pub use store::{INVENTORY_LABEL, INVENTORY_SECRET_TYPE, inventory_secret_name};
