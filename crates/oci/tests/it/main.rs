//! oci's integration tests: one binary, a module per area.

mod diff_ids;
mod registry;
