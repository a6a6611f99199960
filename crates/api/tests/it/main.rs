//! The API crate's integration tests, one binary with a module per area: the CRDs against a
//! real kube-apiserver (`apiserver`), their CEL rules without one (`cel`), and their OpenAPI
//! patterns (`patterns`).

mod apiserver;
mod cel;
mod patterns;
mod semver_tables;
