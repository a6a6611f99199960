//! Starts one control plane for a whole test run and keeps it up until SIGTERM/SIGINT.
//!
//! Usage: testenv-controlplane [--workloads] <state-dir>
//! Writes <state-dir>/kubeconfig, <state-dir>/pids (the PIDs of every process it started) and,
//! last, <state-dir>/ready, which the test command waits for.
//!
//! `--workloads` also starts kube-controller-manager, kube-scheduler and kwok with one fake
//! node, so pods really run; point `OLMRS_WORKLOADS_KUBECONFIG` at its kubeconfig.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use testenv::controlplane::ControlPlane;

#[tokio::main]
async fn main() -> Result<()> {
    testenv::install_crypto_provider();
    const USAGE: &str = "usage: testenv-controlplane [--workloads] <state-dir>";
    let mut workloads = false;
    let mut state = None;
    for arg in std::env::args_os().skip(1) {
        match arg.to_str() {
            Some("--workloads") => workloads = true,
            Some(flag) if flag.starts_with('-') => bail!("unknown flag {flag}; {USAGE}"),
            _ if state.is_none() => state = Some(PathBuf::from(arg)),
            _ => bail!("{USAGE}"),
        }
    }
    let state = state.context(USAGE)?;
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
