//! RukPak's integration tests: one binary, a module per area.

mod bundle_deployment;
mod content;
mod controller;
mod deploy;
mod rukpakctl;
mod support;
mod webhook;
