//! opm's integration tests: one binary, a module per area.

mod cli;
mod corpus_templates;
mod differential;
mod index_registry;
mod index_upstream;
mod support;
mod unparsable_manifest;
