//! Bundle sources against real services: the Debian registry (plain, and TLS with htpasswd),
//! an HTTPS file server, a fault proxy, and the shared corpus.

mod config_maps;
mod fixtures;
mod git;
mod http;
mod image;
mod upload;
