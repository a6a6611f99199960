//! Housekeeping a controller repeats for as long as it runs, such as removing content of
//! objects deleted while it was down.

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

/// Runs `sweep` now and then every `interval`, forever. `sweep` returns how many `things` it
/// removed; a count above zero is logged, an error is logged and tried again next time.
pub async fn sweep_every<F, Fut, E>(interval: Duration, things: &str, mut sweep: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<usize, E>>,
    E: Display,
{
    loop {
        match sweep().await {
            Ok(0) => {}
            Ok(n) => tracing::info!("garbage collection removed {n} {things}"),
            Err(e) => tracing::warn!("garbage collection: {e}"),
        }
        tokio::time::sleep(interval).await;
    }
}
