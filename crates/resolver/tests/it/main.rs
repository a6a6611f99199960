//! The resolver's integration tests, one binary with a module per area.

mod corpus_catalogs;
mod isolation;
mod model;
mod spec_cases;
mod support;
