//! semver-ranges' integration tests, one binary with a module per area: the blang and
//! Masterminds vectors of resolution.md §4, and property tests over both dialects.

mod blang_vectors;
mod masterminds_vectors;
mod properties;
