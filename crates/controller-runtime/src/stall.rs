//! A write-stall timeout for server connections. Upstream sets `http.Server.WriteTimeout`
//! (5 min for the whole response), which cuts off a large `all.json` on a slow link however
//! steadily it downloads. Here a connection is closed only when the client takes none of
//! our bytes for [`WRITE_STALL_TIMEOUT`]: a stalled or vanished reader no longer pins a
//! connection and an open file until the kernel's TCP timeouts fire, and a slow reader that
//! keeps reading is never cut off.

use std::future::{Ready, ready};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum_server::accept::Accept;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// How long a client may accept none of a response's bytes.
pub const WRITE_STALL_TIMEOUT: Duration = Duration::from_secs(60);

/// Wraps every accepted stream in [`StallTimeout`]. Put it under TLS, so the timeout
/// watches the socket itself.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StallTimeoutAcceptor {
    pub(crate) timeout: Duration,
}

impl<I, S> Accept<I, S> for StallTimeoutAcceptor {
    type Stream = StallTimeout<I>;
    type Service = S;
    type Future = Ready<io::Result<(Self::Stream, Self::Service)>>;

    fn accept(&self, stream: I, service: S) -> Self::Future {
        ready(Ok((StallTimeout::new(stream, self.timeout), service)))
    }
}

/// A stream whose writes fail with `TimedOut` once they have made no progress for
/// `timeout`. Reads are untouched (hyper's header-read timeout covers them).
pub(crate) struct StallTimeout<S> {
    inner: S,
    timeout: Duration,
    /// Armed while a write is waiting for the peer; reset on any progress.
    stalled: Option<Pin<Box<Sleep>>>,
}

impl<S> StallTimeout<S> {
    pub(crate) fn new(inner: S, timeout: Duration) -> Self {
        Self {
            inner,
            timeout,
            stalled: None,
        }
    }

    /// Passes a finished poll through (disarming the timer), or, while pending, fails once
    /// the wait has lasted `timeout`.
    fn watch<T>(&mut self, cx: &mut Context<'_>, poll: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if poll.is_ready() {
            self.stalled = None;
            return poll;
        }
        let timeout = self.timeout;
        let sleep = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(Instant::now() + timeout)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("the client accepted no data for {timeout:?}"),
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for StallTimeout<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for StallTimeout<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.watch(cx, poll)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.watch(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_flush(cx);
        self.watch(cx, poll)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.watch(cx, poll)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test(start_paused = true)]
    async fn a_write_nobody_reads_times_out_and_a_slow_reader_does_not() {
        let timeout = Duration::from_secs(60);
        // A 64 KiB pipe: writing 1 MiB stalls until the other end reads.
        let (ours, mut theirs) = tokio::io::duplex(64 << 10);
        let mut ours = StallTimeout::new(ours, timeout);
        let data = vec![7u8; 1 << 20];

        // A reader taking 64 KiB every 30 s: slow, but never stalled for 60 s.
        let reader = tokio::spawn(async move {
            let mut buf = vec![0u8; 64 << 10];
            let mut total = 0;
            while total < (1 << 20) {
                tokio::time::sleep(Duration::from_secs(30)).await;
                let n = theirs.read(&mut buf).await.unwrap();
                total += n;
            }
            theirs
        });
        ours.write_all(&data).await.unwrap();
        let mut theirs = reader.await.unwrap();

        // Now nobody reads: the write fails after 60 s of no progress, not before.
        let start = Instant::now();
        let err = ours.write_all(&data).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(start.elapsed(), timeout);
        let mut first = [0u8; 1];
        theirs.read_exact(&mut first).await.unwrap();
    }
}
