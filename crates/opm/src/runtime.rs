//! The runtime synchronous commands run image I/O on.

use anyhow::Result;

/// Runs a future to completion on a small multi-threaded runtime (image I/O is async).
pub(crate) fn block_on<F: std::future::Future>(f: F) -> Result<F::Output> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    Ok(rt.block_on(f))
}
