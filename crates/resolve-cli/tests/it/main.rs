//! The `resolve` binary end to end, one test binary with a module per area: fixtures are
//! small FBC directories under `tests/fixtures/`, paths are given relative to the crate so
//! outputs are stable.

mod errors;
mod images;
mod seed;
mod support;
mod upgrades;
