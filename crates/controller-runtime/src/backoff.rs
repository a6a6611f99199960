//! Per-object retry delays after consecutive failures, as controller-runtime's work queue
//! rate limiter spaces them: 5 s doubling to 5 min, reset by a success.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

const FIRST: Duration = Duration::from_secs(5);
const MAX: Duration = Duration::from_secs(300);

/// Consecutive failures per object name.
#[derive(Debug, Default)]
pub struct Backoff {
    failures: Mutex<HashMap<String, u32>>,
}

impl Backoff {
    /// Records a failure of `name` and returns how long to wait before retrying.
    pub fn failed(&self, name: &str) -> Duration {
        let mut failures = self.failures.lock().expect("backoff lock");
        let n = failures.entry(name.to_owned()).or_default();
        *n = n.saturating_add(1);
        FIRST.saturating_mul(1 << (*n - 1).min(6)).min(MAX)
    }

    /// Forgets the failures of `name` (it succeeded, or is gone).
    pub fn reset(&self, name: &str) {
        self.failures.lock().expect("backoff lock").remove(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_to_five_minutes_and_reset_on_success() {
        let b = Backoff::default();
        let delays: Vec<u64> = (0..9).map(|_| b.failed("a").as_secs()).collect();
        assert_eq!(delays, [5, 10, 20, 40, 80, 160, 300, 300, 300]);
        assert_eq!(b.failed("other").as_secs(), 5);
        b.reset("a");
        assert_eq!(b.failed("a").as_secs(), 5);
    }
}
