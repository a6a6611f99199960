//! The harness serves real traffic, and records what commands print. One test binary, a
//! module per service or helper.

mod cli_snapshot;
mod controlplane;
mod git;
mod helm;
mod registry;
mod workloads;
