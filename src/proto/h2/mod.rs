//! HTTP/2 on the `h2` crate.
//!
//! `h2` does the framing, HPACK, flow control and stream bookkeeping; this module connects it
//! to the crate's API: the transport adapter below, the server connection and per-stream tasks
//! in [`server`], and the body plumbing (received bodies are [`Incoming`](crate::body::Incoming)
//! values backed by `h2::RecvStream`; outgoing bodies are pumped into `h2::SendStream` only as
//! fast as the peer's flow-control window allows, so nothing is buffered without bound).
//!
//! Unlike HTTP/1, nothing here owns a write buffer of its own: `h2` owns the connection's
//! output and its `Connection` future writes it out before it completes.
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::rt::{Read, ReadBuf, Write};

#[cfg(feature = "server")]
pub(crate) mod server;

/// Presents a transport with the crate's IO traits as the tokio IO traits `h2` works with.
pub(crate) struct Transport<T>(pub(crate) T);

impl<T: Read + Unpin> tokio::io::AsyncRead for Transport<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        dst: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        // SAFETY: `ReadBuf::uninit` never de-initialises bytes, and only the bytes our reader
        // reports as filled (so initialised) are then marked initialised and filled in `dst`.
        let filled = unsafe {
            let mut ours = ReadBuf::uninit(dst.unfilled_mut());
            match Pin::new(&mut self.0).poll_read(cx, ours.unfilled()) {
                Poll::Ready(Ok(())) => ours.filled().len(),
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        };
        unsafe { dst.assume_init(filled) };
        dst.advance(filled);
        Poll::Ready(Ok(()))
    }
}

impl<T: Write + Unpin> tokio::io::AsyncWrite for Transport<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        src: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, src)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// Headers that describe an HTTP/1 connection and are malformed in HTTP/2 (RFC 9113 §8.2.2).
/// `h2` refuses to send a message carrying them, so they are dropped from outgoing heads.
pub(crate) fn strip_connection_headers(headers: &mut http::HeaderMap) {
    for name in [
        http::header::CONNECTION,
        http::header::TRANSFER_ENCODING,
        http::header::UPGRADE,
        http::header::HeaderName::from_static("keep-alive"),
        http::header::HeaderName::from_static("proxy-connection"),
    ] {
        headers.remove(name);
    }
    if headers
        .get(http::header::TE)
        .is_some_and(|te| te != "trailers")
    {
        headers.remove(http::header::TE);
    }
}
