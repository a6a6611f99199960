//! Stopping the service processes we start, by PID.

use std::process::Child;
use std::time::{Duration, Instant};

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
