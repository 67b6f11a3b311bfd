//! An IO that accepts every byte at once, for tests that want what an `OutBuf` writes and not
//! how the writes are split.
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;

use crate::proto::h1::out_buf::OutBuf;

/// Everything written to it, in order; never `Pending`, never short.
struct AcceptAll(Vec<u8>);

impl crate::rt::Write for AcceptAll {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.0.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Writes out all that `out` holds and returns those bytes. An `OutBuf` that cannot empty
/// itself into an IO that takes everything is a bug, so anything but `Ready(Ok)` panics.
pub(crate) fn drain(out: &mut OutBuf<Bytes>) -> Vec<u8> {
    let mut io = AcceptAll(Vec::new());
    let mut cx = Context::from_waker(Waker::noop());
    match out.poll_write_to(&mut io, &mut cx) {
        Poll::Ready(Ok(())) => io.0,
        other => panic!("an IO that accepts everything got {other:?}"),
    }
}
