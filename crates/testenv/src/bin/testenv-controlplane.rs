//! Starts one control plane for a whole test run and keeps it up until SIGTERM/SIGINT.
//!
//! Usage: testenv-controlplane <state-dir>
//! Writes <state-dir>/kubeconfig, <state-dir>/pids (etcd and kube-apiserver PIDs) and,
//! last, <state-dir>/ready, which the test command waits for.

use std::path::PathBuf;

use anyhow::{Context, Result};

#[tokio::main]
async fn main() -> Result<()> {
    testenv::install_crypto_provider();
    let state = PathBuf::from(
        std::env::args_os()
            .nth(1)
            .context("usage: testenv-controlplane <state-dir>")?,
    );
    std::fs::create_dir_all(&state)?;
    let plane = testenv::controlplane::ControlPlane::start().await?;
    std::fs::copy(plane.kubeconfig_path(), state.join("kubeconfig"))?;
    let pids: Vec<String> = plane.pids().iter().map(u32::to_string).collect();
    std::fs::write(state.join("pids"), pids.join("\n") + "\n")?;
    std::fs::write(state.join("logdir"), plane.dir().display().to_string())?;
    std::fs::write(state.join("ready"), &plane.server_url)?;
    eprintln!("control plane ready at {}", plane.server_url);

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    drop(plane);
    Ok(())
}
