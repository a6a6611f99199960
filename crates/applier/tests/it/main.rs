//! The applier against a real kube-apiserver: one binary, a module per area.

mod apply;
mod crash;
mod health;
mod inventory;
mod large;
mod support;
