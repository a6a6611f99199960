//! The applier against a real kube-apiserver: one binary, a module per area.

mod apply;
mod crash;
mod health;
mod large;
mod support;
