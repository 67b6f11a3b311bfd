//! The HTTP/2 client connection.
//!
//! `SendRequest` handles (any number of clones) queue requests on a channel; the connection
//! future ([`ClientConn`]) drives `h2`'s connection, takes queued requests, opens a stream for
//! each, and hands the stream's work to the executor as [`H2ClientFuture`] tasks: one pumping
//! the request body, one waiting for the response and delivering it to the caller.
use std::error::Error as StdError;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use h2::client::{Connection, ResponseFuture};
use http::header::{HeaderValue, CONTENT_LENGTH};
use http::{Request, Response};
use http_body::Body;
use tokio::sync::{mpsc, oneshot};

use super::{
    strip_connection_headers, BodyPump, PingEvent, Pings, Received, StreamGuard, Transport, Tunnel,
    ADAPTIVE_START,
};
use crate::body::Incoming;
use crate::client::conn::TrySendError;
use crate::rt::bounds::Http2ClientConnExec;
use crate::rt::{Read, Timer, Write};

/// Settings of a client connection; `client::conn::http2::Builder` fills them in.
///
/// `h2`'s own builder holds everything `h2` enforces; beside it are the settings this crate
/// acts on itself and those `h2` cannot unset once set.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) h2: h2::client::Builder,
    pub(crate) frame_limit: Option<u32>,
    pub(crate) hpack_table: Option<u32>,
    pub(crate) stream_limit: Option<u32>,
    pub(crate) pending_reset_limit: Option<usize>,
    pub(crate) adaptive_window: bool,
    /// PING every `.0` (with a timer), fail if the PONG takes longer than `.1`; `.2` is
    /// `keep_alive_while_idle`.
    pub(crate) keep_alive: (Option<Duration>, Duration, bool),
}

impl Default for Config {
    fn default() -> Self {
        // Upstream hyper's values, so servers see the same SETTINGS.
        let mut h2 = h2::client::Builder::new();
        h2.initial_window_size(2 << 20)
            .initial_connection_window_size(5 << 20)
            .initial_max_send_streams(100)
            .max_header_list_size(1 << 14)
            .max_send_buffer_size(1 << 20)
            .max_local_error_reset_streams(Some(1024))
            .enable_push(false);
        Config {
            h2,
            frame_limit: Some(1 << 14),
            hpack_table: None,
            stream_limit: None,
            pending_reset_limit: None,
            adaptive_window: false,
            keep_alive: (None, Duration::from_secs(20), false),
        }
    }
}

impl Config {
    fn h2_builder(&self) -> h2::client::Builder {
        let mut b = self.h2.clone();
        if self.adaptive_window {
            // Start from the protocol's default windows and grow them from measurements.
            b.initial_window_size(ADAPTIVE_START)
                .initial_connection_window_size(ADAPTIVE_START);
        }
        self.frame_limit.map(|n| b.max_frame_size(n));
        self.hpack_table.map(|n| b.header_table_size(n));
        self.stream_limit.map(|n| b.max_concurrent_streams(n));
        self.pending_reset_limit
            .map(|n| b.max_pending_accept_reset_streams(n));
        b
    }
}

/// What a caller gets back for a queued request.
pub(crate) type Reply<B> = Result<Response<Incoming>, TrySendError<Request<B>>>;

/// A queued request and where its answer goes.
pub(crate) struct Envelope<B> {
    pub(crate) request: Request<B>,
    pub(crate) reply: oneshot::Sender<Reply<B>>,
}

pub(crate) type RequestTx<B> = mpsc::UnboundedSender<Envelope<B>>;

/// The connection future behind `client::conn::http2::Connection`.
pub(crate) struct ClientConn<T, B, E> {
    conn: Connection<Transport<T>, Bytes>,
    /// `None` once every `SendRequest` is gone: the connection then finishes its streams and
    /// closes.
    streams: Option<h2::client::SendRequest<Bytes>>,
    /// Requests are taken from here only once `h2` can open a stream for them, so a request
    /// never waits anywhere but in this queue.
    requests: mpsc::UnboundedReceiver<Envelope<B>>,
    exec: E,
    pings: Pings,
    /// Counts received DATA bytes when the windows adapt.
    received: Option<Received>,
    /// `keep_alive_while_idle`: ping even while no stream is open.
    ping_while_idle: bool,
    /// Streams still open (request or response body alive); see [`StreamGuard`].
    open_streams: Arc<std::sync::atomic::AtomicUsize>,
}

pub(crate) async fn handshake<T, B, E>(
    io: T,
    config: &Config,
    exec: E,
    timer: Option<Arc<dyn Timer + Send + Sync>>,
) -> crate::Result<(RequestTx<B>, ClientConn<T, B, E>)>
where
    T: Read + Write + Unpin,
{
    let (streams, mut conn) = config
        .h2_builder()
        .handshake::<_, Bytes>(Transport(io))
        .await
        .map_err(crate::Error::new_h2)?;
    let (interval, timeout, ping_while_idle) = config.keep_alive;
    let received = config.adaptive_window.then(Received::default);
    let mut pings = Pings::new(
        interval
            .zip(timer)
            .map(|(interval, timer)| (interval, timeout, timer)),
        received.clone().map(|r| (r, ADAPTIVE_START)),
    );
    if pings.is_active() {
        pings.start(conn.ping_pong());
    }
    let (tx, requests) = mpsc::unbounded_channel();
    Ok((
        tx,
        ClientConn {
            conn,
            streams: Some(streams),
            requests,
            exec,
            pings,
            received,
            ping_while_idle,
            open_streams: Arc::default(),
        },
    ))
}

impl<T: Read + Write + Unpin, B, E> ClientConn<T, B, E> {
    pub(crate) fn is_extended_connect_protocol_enabled(&self) -> bool {
        self.streams
            .as_ref()
            .is_some_and(|s| s.is_extended_connect_protocol_enabled())
    }

    pub(crate) fn current_max_send_streams(&self) -> usize {
        self.conn.max_concurrent_send_streams()
    }

    pub(crate) fn current_max_recv_streams(&self) -> usize {
        self.conn.max_concurrent_recv_streams()
    }
}

impl<T, B, E> ClientConn<T, B, E>
where
    T: Read + Write + Unpin,
    B: Body + 'static,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
    E: Http2ClientConnExec<B, T>,
{
    /// Opens a stream for `envelope` and hands its work to the executor.
    fn start(&mut self, streams: &mut h2::client::SendRequest<Bytes>, envelope: Envelope<B>) {
        let Envelope { request, reply } = envelope;
        let connect = request.method() == http::Method::CONNECT;
        if connect && !request.body().is_end_stream() {
            // CONNECT opens a tunnel; data goes through the upgraded stream, not a body.
            let failure = TrySendError {
                error: crate::Error::new_user(crate::error::User::InvalidConnectWithBody),
                message: Some(request),
            };
            reply.send(Err(failure)).ok();
            return;
        }
        let (mut parts, body) = request.into_parts();
        strip_connection_headers(&mut parts.headers);
        let end = body.is_end_stream() && !connect;
        if !parts.headers.contains_key(CONTENT_LENGTH) {
            if let Some(len) = body.size_hint().exact().filter(|n| *n > 0) {
                parts.headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
            }
        }
        if let Some(protocol) = parts.extensions.remove::<crate::ext::Protocol>() {
            parts.extensions.insert(protocol.into_h2());
        }
        let head = Request::from_parts(parts, ());
        match streams.send_request(head, end) {
            Ok((response, send)) => {
                let open = StreamGuard::new(&self.open_streams);
                // A CONNECT stream's sending half waits for the tunnel.
                let tunnel = if connect {
                    Some(send)
                } else {
                    if !end {
                        self.exec.execute_h2_future(H2ClientFuture::body(
                            BodyPump::new(body, send),
                            open.clone(),
                        ));
                    }
                    None
                };
                self.exec.execute_h2_future(H2ClientFuture::response(
                    response,
                    reply,
                    tunnel,
                    open,
                    self.received.clone(),
                ));
            }
            Err(e) => {
                // The stream was never opened: nothing of the request reached the server.
                let failure = TrySendError {
                    error: crate::Error::new_h2(e),
                    message: None,
                };
                reply.send(Err(failure)).ok();
            }
        }
    }

    pub(crate) fn poll_conn(&mut self, cx: &mut Context<'_>) -> Poll<crate::Result<()>> {
        let idle = !self.ping_while_idle
            && self.open_streams.load(std::sync::atomic::Ordering::Relaxed) == 0;
        while let Poll::Ready(event) = self.pings.poll(cx, idle) {
            match event {
                PingEvent::Window(window) => {
                    self.conn.set_target_window_size(window);
                    self.conn.set_initial_window_size(window).ok();
                }
                PingEvent::Failed(e) => return Poll::Ready(Err(e)),
            }
        }
        // Take queued requests while `h2` can open streams.
        while let Some(mut streams) = self.streams.take() {
            match streams.poll_ready(cx) {
                Poll::Pending => {
                    self.streams = Some(streams);
                    break;
                }
                // No stream can be opened any more; the connection reports why below, and
                // queued requests fail as canceled when it is dropped.
                Poll::Ready(Err(_)) => break,
                Poll::Ready(Ok(())) => {}
            }
            let envelope = match self.requests.poll_recv(cx) {
                Poll::Ready(Some(envelope)) => envelope,
                // Every handle is gone: drop ours too, so `h2` closes the connection once the
                // streams in flight are done.
                Poll::Ready(None) => break,
                Poll::Pending => {
                    self.streams = Some(streams);
                    break;
                }
            };
            self.start(&mut streams, envelope);
            self.streams = Some(streams);
        }
        match Pin::new(&mut self.conn).poll(cx) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(())),
            Poll::Ready(Err(e)) => Poll::Ready(Err(crate::Error::new_h2(e))),
            Poll::Pending => Poll::Pending,
        }
    }
}

enum Task<B> {
    Body(BodyPump<B>, StreamGuard),
    Response {
        open: Option<StreamGuard>,
        received: Option<Received>,
        response: ResponseFuture,
        reply: Option<oneshot::Sender<Reply<B>>>,
        /// For CONNECT: the stream's sending half, for the tunnel a 2xx answer opens.
        tunnel: Option<h2::SendStream<Bytes>>,
    },
}

/// A background task of an HTTP/2 client connection (a request body being sent, or a response
/// being awaited), run by the connection's executor.
///
/// Public only because it appears in the executor bound [`Http2ClientConnExec`]; it cannot
/// be named outside the crate.
#[allow(missing_debug_implementations)]
pub struct H2ClientFuture<B, T> {
    task: Task<B>,
    _io: PhantomData<fn() -> T>,
}

impl<B, T> H2ClientFuture<B, T> {
    fn body(pump: BodyPump<B>, open: StreamGuard) -> Self {
        H2ClientFuture {
            task: Task::Body(pump, open),
            _io: PhantomData,
        }
    }

    fn response(
        response: ResponseFuture,
        reply: oneshot::Sender<Reply<B>>,
        tunnel: Option<h2::SendStream<Bytes>>,
        open: StreamGuard,
        received: Option<Received>,
    ) -> Self {
        H2ClientFuture {
            task: Task::Response {
                open: Some(open),
                received,
                response,
                reply: Some(reply),
                tunnel,
            },
            _io: PhantomData,
        }
    }
}

impl<B, T> Future for H2ClientFuture<B, T>
where
    B: Body,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match &mut self.get_mut().task {
            Task::Body(pump, _open) => pump.poll_pump(cx),
            Task::Response {
                open,
                received,
                response,
                reply,
                tunnel,
            } => {
                // A caller that stopped waiting does not need the response.
                if let Some(tx) = reply.as_mut() {
                    if tx.poll_closed(cx).is_ready() {
                        return Poll::Ready(());
                    }
                }
                let result = match Pin::new(response).poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Ok(res)) => {
                        let (mut parts, recv) = res.into_parts();
                        if let Some(send) = tunnel.take().filter(|_| parts.status.is_success()) {
                            let (pending, on_upgrade) = crate::upgrade::pending();
                            pending.fulfill(crate::upgrade::Upgraded::new(
                                Tunnel::new(send, recv),
                                Bytes::new(),
                            ));
                            parts.extensions.insert(on_upgrade);
                            if let Some(tx) = reply.take() {
                                tx.send(Ok(Response::from_parts(parts, Incoming::empty())))
                                    .ok();
                            }
                            return Poll::Ready(());
                        }
                        let content_length = parts
                            .headers
                            .get(CONTENT_LENGTH)
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| v.parse::<u64>().ok());
                        let body = if recv.is_end_stream() {
                            Incoming::empty()
                        } else {
                            Incoming::h2(recv, content_length, open.take(), received.take())
                        };
                        Ok(Response::from_parts(parts, body))
                    }
                    Poll::Ready(Err(e)) => Err(TrySendError {
                        error: crate::Error::new_h2(e),
                        message: None,
                    }),
                };
                if let Some(tx) = reply.take() {
                    tx.send(result).ok();
                }
                Poll::Ready(())
            }
        }
    }
}
