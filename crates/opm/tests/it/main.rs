//! opm's integration tests: one binary, a module per area.

mod cli;
mod corpus_templates;
mod differential;
mod image_build;
mod index_registry;
mod index_upstream;
mod support;
mod unparsable_manifest;
