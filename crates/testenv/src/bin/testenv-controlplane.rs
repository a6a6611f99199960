//! Starts one control plane for a whole test run and keeps it up until SIGTERM/SIGINT.
//!
//! Usage: testenv-controlplane [--workloads] <STATE_DIR> (`--help` for details)
//! Writes <state-dir>/kubeconfig, <state-dir>/pids (the PIDs of every process it started) and,
//! last, <state-dir>/ready, which the test command waits for.
//!
//! `--workloads` also starts kube-controller-manager, kube-scheduler and kwok with one fake
//! node, so pods really run; point `OLMRS_WORKLOADS_KUBECONFIG` at its kubeconfig.

use std::path::PathBuf;

use anyhow::Result;
use clap::Parser;
use testenv::controlplane::ControlPlane;

/// Starts etcd and kube-apiserver (from KUBEBUILDER_ASSETS, TEST_ASSET_* or the
/// ~/.cache/olm-rs cache) and keeps them up until SIGTERM or ctrl-c.
#[derive(Parser, Debug)]
#[command(name = "testenv-controlplane")]
struct Args {
    /// Also start kube-controller-manager, kube-scheduler and kwok with one fake node, so
    /// pods really run.
    #[arg(long)]
    workloads: bool,
    /// Directory for the control plane's files, created if missing: STATE_DIR/kubeconfig,
    /// STATE_DIR/pids, STATE_DIR/logdir and, once the API server is ready, STATE_DIR/ready.
    #[arg(value_name = "STATE_DIR")]
    state_dir: PathBuf,
}

#[tokio::main]
async fn main() -> Result<()> {
    let Args {
        workloads,
        state_dir: state,
    } = Args::parse();
    testenv::install_crypto_provider();
    std::fs::create_dir_all(&state)?;
    let plane = if workloads {
        ControlPlane::start_with_workloads().await?
    } else {
        ControlPlane::start().await?
    };
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
