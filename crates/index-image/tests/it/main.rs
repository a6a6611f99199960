//! index-image's integration tests: one binary, a module per area.

mod diff_ids;
mod fbc_add;
mod fbc_plan;
mod interrupted;
mod support;
mod unparsable_manifest;
