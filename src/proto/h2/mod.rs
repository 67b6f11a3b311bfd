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
use std::error::Error as StdError;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes};
use h2::{Reason, SendStream};
use http_body::Body;

use crate::rt::{Read, ReadBuf, Sleep, Timer, Write};

#[cfg(feature = "client")]
pub(crate) mod client;
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

/// Sends one message body on an `h2` stream: data only as fast as the peer's flow-control
/// window opens (so `h2` never has to buffer more than a window), then trailers or the end of
/// the stream.
pub(crate) struct BodyPump<B> {
    body: Pin<Box<B>>,
    send: SendStream<Bytes>,
    /// Data polled from the body, waiting for window capacity.
    pending: Option<Bytes>,
}

impl<B> BodyPump<B>
where
    B: Body,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    pub(crate) fn new(body: B, send: SendStream<Bytes>) -> Self {
        BodyPump {
            body: Box::pin(body),
            send,
            pending: None,
        }
    }

    /// `Ready` once the body was sent completely, or could not be (the stream was reset, the
    /// body failed: the stream is then reset too).
    pub(crate) fn poll_pump(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            if self.send.poll_reset(cx).is_ready() {
                return Poll::Ready(());
            }
            if let Some(data) = &mut self.pending {
                if self.send.capacity() == 0 {
                    self.send.reserve_capacity(data.len());
                    match self.send.poll_capacity(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Some(Ok(_))) => continue,
                        Poll::Ready(None | Some(Err(_))) => return Poll::Ready(()),
                    }
                }
                let chunk = data.split_to(self.send.capacity().min(data.len()));
                if data.is_empty() {
                    self.pending = None;
                }
                if self.send.send_data(chunk, false).is_err() {
                    return Poll::Ready(());
                }
                continue;
            }
            match self.body.as_mut().poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(mut data) => {
                        let bytes = data.copy_to_bytes(data.remaining());
                        if !bytes.is_empty() {
                            self.send.reserve_capacity(bytes.len());
                            self.pending = Some(bytes);
                        }
                    }
                    Err(frame) => {
                        if let Ok(trailers) = frame.into_trailers() {
                            self.send.send_trailers(trailers).ok();
                            return Poll::Ready(());
                        }
                    }
                },
                Poll::Ready(Some(Err(_))) => {
                    self.send.send_reset(Reason::INTERNAL_ERROR);
                    return Poll::Ready(());
                }
                Poll::Ready(None) => {
                    self.send.send_data(Bytes::new(), true).ok();
                    return Poll::Ready(());
                }
            }
        }
    }
}

/// Received DATA bytes, counted by the bodies that receive them, for the bandwidth-delay
/// estimate of `adaptive_window`.
pub(crate) type Received = Arc<std::sync::atomic::AtomicUsize>;

/// The windows `adaptive_window` starts from: the protocol's default.
pub(crate) const ADAPTIVE_START: u32 = 65_535;

/// The largest window `adaptive_window` grows to.
const MAX_ADAPTIVE_WINDOW: u32 = 16 << 20;

/// What the connection's PING driver asks its connection to do.
pub(crate) enum PingEvent {
    /// Use this many bytes as the connection and stream windows from now on.
    Window(u32),
    /// The connection is dead: a PONG did not come in time, or pinging failed.
    Failed(crate::Error),
}

/// The keep-alive half of [`Pings`].
struct KeepAlive {
    interval: Duration,
    timeout: Duration,
    timer: Arc<dyn Timer + Send + Sync>,
    sleep: Option<Pin<Box<dyn Sleep>>>,
}

/// The bandwidth-delay half of [`Pings`]: how many bytes arrive during one PING round trip
/// tells how large the windows must be for the peer never to wait for a WINDOW_UPDATE.
struct Bdp {
    received: Received,
    window: u32,
}

/// The one user of the connection's PING frames (`h2` allows one PING in flight): keep-alive
/// (a PING after `interval` of quiet, the connection fails if the PONG takes longer than
/// `timeout`) and, with `adaptive_window`, a PING per round trip while data arrives, to size the
/// windows from the measured bandwidth-delay product.
pub(crate) struct Pings {
    pong: Option<h2::PingPong>,
    keep_alive: Option<KeepAlive>,
    bdp: Option<Bdp>,
    /// A PING is in flight since this instant.
    in_flight: Option<std::time::Instant>,
}

impl Pings {
    pub(crate) fn new(
        keep_alive: Option<(Duration, Duration, Arc<dyn Timer + Send + Sync>)>,
        adaptive: Option<(Received, u32)>,
    ) -> Self {
        Pings {
            pong: None,
            keep_alive: keep_alive.map(|(interval, timeout, timer)| KeepAlive {
                interval,
                timeout,
                timer,
                sleep: None,
            }),
            bdp: adaptive.map(|(received, window)| Bdp { received, window }),
            in_flight: None,
        }
    }

    /// Whether there is anything to do at all.
    pub(crate) fn is_active(&self) -> bool {
        self.keep_alive.is_some() || self.bdp.is_some()
    }

    /// Begins once the connection exists.
    pub(crate) fn start(&mut self, pong: Option<h2::PingPong>) {
        self.pong = pong;
    }

    fn send(&mut self) -> Result<(), crate::Error> {
        let pong = self.pong.as_mut().expect("started");
        pong.send_ping(h2::Ping::opaque())
            .map_err(crate::Error::new_h2)?;
        self.in_flight = Some(std::time::Instant::now());
        if let Some(bdp) = &self.bdp {
            // Count what arrives from now until the PONG.
            bdp.received.store(0, std::sync::atomic::Ordering::Relaxed);
        }
        if let Some(ka) = &mut self.keep_alive {
            ka.sleep = Some(ka.timer.sleep(ka.timeout));
        }
        Ok(())
    }

    /// With `idle` (no stream open, and no keep-alive while idle wanted) keep-alive sends
    /// nothing and runs no deadline; a PING already sent is still awaited.
    pub(crate) fn poll(&mut self, cx: &mut Context<'_>, idle: bool) -> Poll<PingEvent> {
        if self.pong.is_none() {
            return Poll::Pending;
        }
        loop {
            if self.in_flight.is_some() {
                let pong = self.pong.as_mut().expect("started");
                match pong.poll_pong(cx) {
                    Poll::Ready(Ok(_)) => {
                        self.in_flight = None;
                        if let Some(ka) = &mut self.keep_alive {
                            ka.sleep = None;
                        }
                        if let Some(bdp) = &mut self.bdp {
                            let sample = bdp.received.load(std::sync::atomic::Ordering::Relaxed);
                            // Data filled most of the window within one round trip: the
                            // window, not the link, limits the transfer.
                            if sample as u64 * 3 >= bdp.window as u64 * 2 {
                                let grown = (sample as u64 * 2).min(MAX_ADAPTIVE_WINDOW as u64);
                                if grown > bdp.window as u64 {
                                    bdp.window = grown as u32;
                                    return Poll::Ready(PingEvent::Window(bdp.window));
                                }
                            }
                        }
                        continue;
                    }
                    Poll::Ready(Err(e)) => {
                        return Poll::Ready(PingEvent::Failed(crate::Error::new_h2(e)))
                    }
                    Poll::Pending => {}
                }
            } else if let Some(bdp) = &self.bdp {
                let received = bdp.received.load(std::sync::atomic::Ordering::Relaxed);
                if received > 0 && bdp.window < MAX_ADAPTIVE_WINDOW {
                    if let Err(e) = self.send() {
                        return Poll::Ready(PingEvent::Failed(e));
                    }
                    continue;
                }
            }
            let Some(ka) = &mut self.keep_alive else {
                return Poll::Pending;
            };
            if idle && self.in_flight.is_none() {
                ka.sleep = None;
                return Poll::Pending;
            }
            let sleep = ka.sleep.get_or_insert_with(|| ka.timer.sleep(ka.interval));
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            if self.in_flight.is_some() {
                return Poll::Ready(PingEvent::Failed(crate::Error::new_keep_alive_timeout()));
            }
            if let Err(e) = self.send() {
                return Poll::Ready(PingEvent::Failed(e));
            }
        }
    }
}

/// Counts a client stream as open while it lives: held by the task sending the request body and
/// by the response body. The connection is idle (for `keep_alive_while_idle(false)`) when the
/// count is zero.
#[derive(Debug)]
pub(crate) struct StreamGuard(Arc<std::sync::atomic::AtomicUsize>);

impl StreamGuard {
    pub(crate) fn new(open: &Arc<std::sync::atomic::AtomicUsize>) -> Self {
        open.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        StreamGuard(open.clone())
    }
}

impl Clone for StreamGuard {
    fn clone(&self) -> Self {
        StreamGuard::new(&self.0)
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
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
}

impl Tunnel {
    pub(crate) fn new(send: SendStream<Bytes>, recv: h2::RecvStream) -> Self {
        Tunnel {
            send,
            recv,
            unread: Bytes::new(),
            recv_done: false,
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
                    self.unread = data;
                }
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(tunnel_error(e))),
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
