//! fbc's integration tests, one module per area. Corpus tests read `../shared/corpus` (or
//! `$OLMRS_CORPUS`); fixture tests read `tests/fixtures`.

mod bad_input;
mod bundle_fixtures;
mod corpus;
mod corpus_render;
mod corpus_validate;
mod corpus_write;
mod proptest_roundtrip;
mod validation_fixtures;
