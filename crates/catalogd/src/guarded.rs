//! A response body that keeps a value alive until the body is dropped: once it has been
//! sent completely, or when the connection ends. Request timing and the per-client slots
//! end there, not when the handler returns.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::response::Response;
use http_body::{Frame, SizeHint};

/// `response` with `guard` dropped when its body is.
pub(crate) fn keep_until_sent<G>(response: Response, guard: G) -> Response
where
    G: Send + Unpin + 'static,
{
    response.map(|inner| {
        Body::new(Guarded {
            inner,
            _guard: guard,
        })
    })
}

struct Guarded<G> {
    inner: Body,
    _guard: G,
}

impl<G: Unpin> http_body::Body for Guarded<G> {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    // Forwarded exactly, so a known length still becomes a Content-Length header.
    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
