//! The harness serves real traffic. One test binary, a module per service.

mod controlplane;
mod git;
mod registry;
