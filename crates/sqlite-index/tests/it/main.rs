//! sqlite-index's integration tests: one binary, a module per area.

mod convert;
mod write_differential;
mod write_modes;
mod write_support;
