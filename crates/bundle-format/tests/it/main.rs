//! `check` over real content: the shared corpus (plain+v0 and registry+v1) and a Helm chart
//! written here.

mod corpus;
mod helm;
