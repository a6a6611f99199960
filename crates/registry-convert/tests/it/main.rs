//! registry-convert integration tests: hand-written bundles per feature, the real-world
//! corpus, and the differential test against upstream rukpak v0.16.0's conversion.

mod bundles;
mod corpus;
mod differential;
mod features;
