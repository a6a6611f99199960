//! catalogd's integration tests, one binary: the controller and its replicas against a real
//! kube-apiserver and registry, the deploy manifests, and the content server over HTTP.

mod controller;
mod deploy;
mod ha;
mod http;
mod logs;
mod support;
