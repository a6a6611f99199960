//! Starting the service processes tests use, waiting for them, and stopping them by PID.

use std::fs;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// How long a registry or git server may take to start before the test gives up.
pub(crate) const SERVICE_START_TIMEOUT: Duration = Duration::from_secs(60);

/// SIGTERM, a grace period, then SIGKILL; always reaps the child so no zombie is left.
pub fn stop_child(mut child: Child, what: &str) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    let pid = i32::try_from(child.id())
        .ok()
        .and_then(rustix::process::Pid::from_raw);
    if let Some(pid) = pid {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        tracing::warn!("{what} (pid {pid:?}) ignored SIGTERM; killing it");
    }
    let _ = child.kill();
    let _ = child.wait();
}

pub(crate) fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").context("binding a free loopback port")?;
    Ok(l.local_addr()?.port())
}

pub(crate) fn spawn_logged(cmd: &mut Command, log: &Path) -> Result<Child> {
    let out = fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
    cmd.stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .spawn()
        .with_context(|| format!("starting {}", cmd.get_program().to_string_lossy()))
}

/// Polls `ready` until it is true; fails early if the process exits, and shows its log tail.
pub(crate) async fn wait_until<F, Fut>(
    timeout: Duration,
    log: &Path,
    mut child: Option<&mut Child>,
    what: &str,
    ready: F,
) -> Result<()>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if ready().await {
            tracing::debug!("{what} ready after {:?}", start.elapsed());
            return Ok(());
        }
        if let Some(child) = child.as_deref_mut()
            && let Ok(Some(status)) = child.try_wait()
        {
            bail!("{what} exited with {status}:\n{}", log_tail(log));
        }
        if start.elapsed() > timeout {
            bail!("{what} not ready after {timeout:?}:\n{}", log_tail(log));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn log_tail(log: &Path) -> String {
    let text = fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}
