//! HTTP/2 on the `h2` crate.
//!
//! `h2` does the framing, HPACK, flow control and stream bookkeeping; this module connects it
//! to the crate's API: the transport adapter below, the server connection and per-stream tasks
//! in [`server`], the client's in [`client`], the settings both roles' builders share in
//! [`settings`] (and their common setters in `shared_setters`), keep-alive and window sizing in [`ping`], and the body plumbing (received
//! bodies are [`Incoming`](crate::body::Incoming) values backed by `h2::RecvStream`; outgoing
//! bodies are pumped into `h2::SendStream` a chunk at a time, the next chunk only once the
//! peer's flow-control window has room, so nothing is buffered without bound).
//!
//! Unlike HTTP/1, nothing here owns a write buffer of its own: `h2` owns the connection's
//! output and its `Connection` future writes it out before it completes.
use std::error::Error as StdError;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use h2::{Reason, SendStream};
use http_body::Body;

use crate::rt::{Read, ReadBuf, Write};

#[cfg(feature = "client")]
pub(crate) mod client;
pub(crate) mod ping;
#[cfg(feature = "server")]
pub(crate) mod server;
pub(crate) mod settings;
mod shared_setters;

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

/// Which way a message goes, for [`strip_connection_headers`].
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Direction {
    #[cfg(feature = "client")]
    Request,
    #[cfg(feature = "server")]
    Response,
}

/// Removes what describes an HTTP/1 connection and is malformed in HTTP/2 (RFC 9113 §8.2.2):
/// `h2` refuses to send a message carrying it. That is the connection-specific headers, every
/// header a `Connection` header names, and `TE` (which a request may keep as `trailers`).
pub(crate) fn strip_connection_headers(headers: &mut http::HeaderMap, direction: Direction) {
    use http::header::{HeaderName, CONNECTION, TE, TRANSFER_ENCODING, UPGRADE};
    const KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
    const PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");
    if headers.is_empty() {
        return;
    }
    for name in [TRANSFER_ENCODING, UPGRADE, KEEP_ALIVE, PROXY_CONNECTION] {
        headers.remove(name);
    }
    #[cfg(feature = "client")]
    let te_allowed = direction == Direction::Request;
    #[cfg(not(feature = "client"))]
    let te_allowed = {
        let _ = direction;
        false
    };
    if headers
        .get(TE)
        .is_some_and(|te| !te_allowed || te != "trailers")
    {
        headers.remove(TE);
    }
    if let http::header::Entry::Occupied(connection) = headers.entry(CONNECTION) {
        let (_, listed) = connection.remove_entry_mult();
        let listed: Vec<http::HeaderValue> = listed.collect();
        for value in &listed {
            let Ok(names) = value.to_str() else { continue };
            for name in names.split(',').map(str::trim) {
                headers.remove(name);
            }
        }
    }
}

/// The length every `content-length` value of `headers` agrees on (each value may be a
/// comma-separated list); `None` when there is none, or any is not a plain decimal number, or
/// they disagree.
pub(crate) fn declared_length(headers: &http::HeaderMap) -> Option<u64> {
    let mut agreed = None;
    for value in headers.get_all(http::header::CONTENT_LENGTH) {
        for item in value.to_str().ok()?.split(',') {
            let item = item.trim().as_bytes();
            if item.is_empty() || !item.iter().all(u8::is_ascii_digit) {
                return None;
            }
            let n = item.iter().try_fold(0u64, |n, d| {
                n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
            })?;
            if agreed.is_some_and(|seen| seen != n) {
                return None;
            }
            agreed = Some(n);
        }
    }
    agreed
}

/// The HTTP/2 reason to reset a stream with because of `error`: the reason of the first
/// `h2::Error` in its source chain that has one, else `INTERNAL_ERROR`.
pub(crate) fn reset_reason(error: &crate::Error) -> Reason {
    error
        .find_source::<h2::Error>()
        .and_then(h2::Error::reason)
        .unwrap_or(Reason::INTERNAL_ERROR)
}

pin_project_lite::pin_project! {
    /// Sends one message body on an `h2` stream, a chunk at a time: the first chunk polled
    /// from the body is handed to `h2` at once, each later one once the peer's window has room
    /// for at least a byte of it (so `h2` holds at most one chunk the window has no room for),
    /// and the last one carries END_STREAM when the body says it is the last; then trailers,
    /// or an empty END_STREAM frame.
    ///
    /// The body is pinned in place inside the pump (the pump is polled pinned), so a stream
    /// task that holds the pump inline needs no allocation for it.
    pub(crate) struct BodyPump<B> {
        #[pin]
        body: B,
        out: Outgoing,
    }
}

/// The sending side of a [`BodyPump`].
struct Outgoing {
    send: SendStream<Bytes>,
    /// A chunk polled from the body, waiting for window.
    pending: Option<Bytes>,
    /// A chunk was handed to `h2` already. The first one goes at once: `h2` holds nothing
    /// else of this stream yet, and asking it for window first would only cost two more
    /// round trips through its stream store.
    started: bool,
}

impl Outgoing {
    /// Sends `data` now, ending the stream with it if it is the `last`. True when that ended
    /// the stream, or the stream is gone.
    fn send_chunk(&mut self, data: Bytes, last: bool) -> bool {
        self.send.send_data(data, last).is_err() || last
    }

    /// Before the pump waits (for the body or for window): `Ready` if the peer reset the
    /// stream, else `Pending` with the task woken by a reset too. Only a wait needs this:
    /// sending on a reset stream fails, which ends the pump as well.
    fn wait(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        match self.send.poll_reset(cx) {
            Poll::Ready(_) => Poll::Ready(()),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<B> BodyPump<B>
where
    B: Body,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    pub(crate) fn new(body: B, send: SendStream<Bytes>) -> Self {
        BodyPump {
            body,
            out: Outgoing {
                send,
                pending: None,
                started: false,
            },
        }
    }

    /// Resets the stream (the response is no longer wanted).
    #[cfg(feature = "client")]
    pub(crate) fn cancel(self: Pin<&mut Self>) {
        self.project().out.send.send_reset(Reason::CANCEL);
    }

    /// `Ready` once the body was sent completely, or could not be (the stream was reset, the
    /// body failed: the stream is then reset too).
    pub(crate) fn poll_pump(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let me = self.project();
        let mut body = me.body;
        let out = me.out;
        loop {
            if out.pending.is_some() {
                while out.send.capacity() == 0 {
                    match out.send.poll_capacity(cx) {
                        Poll::Pending => return out.wait(cx),
                        Poll::Ready(Some(Ok(_))) => {}
                        Poll::Ready(None | Some(Err(_))) => return Poll::Ready(()),
                    }
                }
                let data = out.pending.take().expect("checked above");
                if out.send_chunk(data, body.is_end_stream()) {
                    return Poll::Ready(());
                }
                continue;
            }
            match body.as_mut().poll_frame(cx) {
                Poll::Pending => return out.wait(cx),
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(mut data) => {
                        let bytes = data.copy_to_bytes(data.remaining());
                        // An empty chunk needs no window, and the first goes straight through.
                        if bytes.is_empty() || !out.started {
                            out.started |= !bytes.is_empty();
                            if out.send_chunk(bytes, body.is_end_stream()) {
                                return Poll::Ready(());
                            }
                        } else {
                            // Claim a byte of window, not the whole chunk: a claim holds
                            // connection window other streams may need.
                            out.send.reserve_capacity(1);
                            out.pending = Some(bytes);
                        }
                    }
                    Err(frame) => {
                        if let Ok(trailers) = frame.into_trailers() {
                            out.send.reserve_capacity(0);
                            out.send.send_trailers(trailers).ok();
                            return Poll::Ready(());
                        }
                    }
                },
                Poll::Ready(Some(Err(e))) => {
                    let error = crate::Error::new_user_body(e);
                    out.send.send_reset(reset_reason(&error));
                    return Poll::Ready(());
                }
                Poll::Ready(None) => {
                    out.send.send_data(Bytes::new(), true).ok();
                    return Poll::Ready(());
                }
            }
        }
    }
}

/// The transport of an HTTP/2 CONNECT tunnel (RFC 9113 §8.5): what the application writes goes
/// out as DATA frames on the stream, what the peer sends arrives as the stream's DATA frames.
/// Shutting it down ends the stream (an empty DATA frame with END_STREAM).
pub(crate) struct Tunnel {
    send: SendStream<Bytes>,
    recv: h2::RecvStream,
    /// Bytes received but not yet read by the application.
    unread: Bytes,
    recv_done: bool,
    /// Reports reads to the connection's PINGs (and keeps a client stream counted as open).
    tracker: Option<ping::Tracker>,
}

impl Tunnel {
    pub(crate) fn new(
        send: SendStream<Bytes>,
        recv: h2::RecvStream,
        tracker: Option<ping::Tracker>,
    ) -> Self {
        Tunnel {
            send,
            recv,
            unread: Bytes::new(),
            recv_done: false,
            tracker,
        }
    }
}

fn tunnel_error(e: h2::Error) -> io::Error {
    if e.is_io() {
        e.into_io()
            .unwrap_or_else(|| io::Error::from(io::ErrorKind::BrokenPipe))
    } else {
        io::Error::other(e)
    }
}

impl Read for Tunnel {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: crate::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        while self.unread.is_empty() && !self.recv_done {
            match self.recv.poll_data(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(data))) => {
                    self.recv.flow_control().release_capacity(data.len()).ok();
                    if let Some(tracker) = &self.tracker {
                        tracker.record_data(data.len());
                    }
                    self.unread = data;
                }
                Poll::Ready(Some(Err(e))) => match e.reason() {
                    // The peer ended the tunnel early, or gave up on it: the end of the data.
                    Some(Reason::NO_ERROR | Reason::CANCEL) => self.recv_done = true,
                    Some(Reason::STREAM_CLOSED) => {
                        return Poll::Ready(Err(io::Error::new(io::ErrorKind::BrokenPipe, e)))
                    }
                    _ => return Poll::Ready(Err(tunnel_error(e))),
                },
                Poll::Ready(None) => self.recv_done = true,
            }
        }
        let n = self.unread.len().min(buf.remaining());
        buf.put_slice(&self.unread[..n]);
        self.unread.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl Write for Tunnel {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        src: &[u8],
    ) -> Poll<io::Result<usize>> {
        if src.is_empty() {
            return Poll::Ready(Ok(0));
        }
        // Accept only what the peer's window allows, so `h2` holds nothing unbounded.
        while self.send.capacity() == 0 {
            self.send.reserve_capacity(src.len());
            match self.send.poll_capacity(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(_))) => {}
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(tunnel_error(e))),
                Poll::Ready(None) => {
                    return Poll::Ready(Err(io::Error::from(io::ErrorKind::BrokenPipe)))
                }
            }
        }
        let n = self.send.capacity().min(src.len());
        self.send
            .send_data(Bytes::copy_from_slice(&src[..n]), false)
            .map_err(tunnel_error)?;
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // `h2`'s connection task writes queued frames; there is nothing to push from here.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.send
            .send_data(Bytes::new(), true)
            .map_err(tunnel_error)?;
        Poll::Ready(Ok(()))
    }
}
