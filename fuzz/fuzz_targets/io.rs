// A transport for the connection targets: reads serve the fuzz input in pieces chosen by the
// input itself, writes are accepted and counted. Only a client's first reads can be `Pending`
// (see `answers_only_once_asked`), and the poll loop polls again at once with a no-op waker, so
// it drives a connection to its end.
use std::pin::Pin;
use std::task::{Context, Poll};

pub struct Script {
    pub input: Vec<u8>,
    pub pos: usize,
    pub step: usize,
    pub written: usize,
    /// Reads are `Pending` until something was written: a server answers once it was sent a
    /// request. A client connection that finds bytes before it wrote its request fails them as
    /// an unexpected message, so without this the client target never got to parse a response.
    pub answers_only_once_asked: bool,
}

impl hyper::rt::Read for Script {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.answers_only_once_asked && self.written == 0 {
            return Poll::Pending;
        }
        let n = self
            .step
            .min(self.input.len() - self.pos)
            .min(buf.remaining());
        let start = self.pos;
        buf.put_slice(&self.input[start..start + n]);
        self.pos += n;
        Poll::Ready(Ok(()))
    }
}

impl hyper::rt::Write for Script {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.written += buf.len();
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Polls `fut` until it completes; a hang (more than `limit` polls) is a bug.
pub fn drive<F: std::future::Future>(fut: F, limit: usize) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let mut cx = Context::from_waker(std::task::Waker::noop());
    for _ in 0..limit {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
    }
    panic!("the connection did not finish although its transport never blocks");
}
