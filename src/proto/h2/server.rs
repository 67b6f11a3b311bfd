//! The HTTP/2 server connection: accepts streams from `h2`, calls the service for each, and
//! hands every stream's response to the executor as an [`H2Stream`] task.
use std::error::Error as StdError;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use h2::server::{Connection, Handshake, SendResponse};
use h2::Reason;
use http::header::{HeaderValue, CONTENT_LENGTH, DATE};
use http::{Request, Response};
use http_body::Body;

use super::{
    strip_connection_headers, BodyPump, PingEvent, Pings, Received, Transport, Tunnel,
    ADAPTIVE_START,
};
use crate::body::Incoming;
use crate::rt::bounds::Http2ServerConnExec;
use crate::rt::{Read, Timer, Write};
use crate::service::HttpService;

/// Settings of a server connection; `server::conn::http2::Builder` fills them in.
///
/// Everything `h2` enforces lives in `h2`'s own builder; only what this crate does itself
/// (and the few settings `h2` cannot unset once set) is kept beside it.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) h2: h2::server::Builder,
    /// `SETTINGS_MAX_CONCURRENT_STREAMS`; `None` leaves it out of the SETTINGS frame.
    pub(crate) stream_limit: Option<u32>,
    pub(crate) hpack_table: Option<u32>,
    pub(crate) pending_reset_limit: Option<usize>,
    pub(crate) adaptive_window: bool,
    /// PING every `.0` (with a timer), fail if the PONG takes longer than `.1`.
    pub(crate) keep_alive: (Option<Duration>, Duration),
    pub(crate) date_header: bool,
    pub(crate) connect_protocol: bool,
}

impl Default for Config {
    fn default() -> Self {
        // Upstream hyper's values, so peers see the same SETTINGS.
        let mut h2 = h2::server::Builder::new();
        h2.initial_window_size(1 << 20)
            .initial_connection_window_size(1 << 20)
            .max_frame_size(1 << 14)
            .max_header_list_size(1 << 14)
            .max_send_buffer_size(400 << 10)
            .max_local_error_reset_streams(Some(1024));
        Config {
            h2,
            stream_limit: Some(200),
            hpack_table: None,
            pending_reset_limit: None,
            adaptive_window: false,
            keep_alive: (None, Duration::from_secs(20)),
            date_header: true,
            connect_protocol: false,
        }
    }
}

impl Config {
    fn h2_builder(&self) -> h2::server::Builder {
        let mut b = self.h2.clone();
        if self.adaptive_window {
            // Start from the protocol's default windows and grow them from measurements.
            b.initial_window_size(ADAPTIVE_START)
                .initial_connection_window_size(ADAPTIVE_START);
        }
        self.stream_limit.map(|n| b.max_concurrent_streams(n));
        self.hpack_table.map(|n| b.header_table_size(n));
        self.pending_reset_limit
            .map(|n| b.max_pending_accept_reset_streams(n));
        if self.connect_protocol {
            b.enable_connect_protocol();
        }
        b
    }
}

enum Phase<T> {
    Handshaking(Handshake<Transport<T>, Bytes>),
    Serving(Connection<Transport<T>, Bytes>),
    Done,
}

impl<T: Read + Write + Unpin, S, E> Server<T, S, E> {
    /// Sends GOAWAY, lets the streams in flight finish, then completes.
    pub(crate) fn graceful_shutdown(&mut self) {
        self.closing = true;
        if let Phase::Serving(conn) = &mut self.phase {
            conn.graceful_shutdown();
        }
    }
}

/// A server connection: the future behind `server::conn::http2::Connection`.
pub(crate) struct Server<T, S, E> {
    phase: Phase<T>,
    service: S,
    exec: E,
    date_header: bool,
    connect_protocol: bool,
    pings: Pings,
    /// Counts received DATA bytes when the windows adapt.
    received: Option<Received>,
    /// `graceful_shutdown` was called (perhaps before the handshake finished).
    closing: bool,
}

impl<T, S, E> Server<T, S, E>
where
    T: Read + Write + Unpin,
    S: HttpService<Incoming>,
    E: Http2ServerConnExec<S::Future, S::ResBody>,
{
    pub(crate) fn new(
        io: T,
        service: S,
        config: &Config,
        exec: E,
        timer: Option<Arc<dyn Timer + Send + Sync>>,
    ) -> Self {
        let (interval, timeout) = config.keep_alive;
        let keep_alive = interval
            .zip(timer)
            .map(|(interval, timer)| (interval, timeout, timer));
        let received = config.adaptive_window.then(Received::default);
        let pings = Pings::new(keep_alive, received.clone().map(|r| (r, ADAPTIVE_START)));
        Server {
            phase: Phase::Handshaking(config.h2_builder().handshake(Transport(io))),
            service,
            exec,
            date_header: config.date_header,
            connect_protocol: config.connect_protocol,
            pings,
            received,
            closing: false,
        }
    }

    fn start_stream(&mut self, req: Request<h2::RecvStream>, respond: SendResponse<Bytes>) {
        let (mut parts, recv) = req.into_parts();
        let content_length = parts
            .headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        // A CONNECT request's stream becomes the tunnel if the service accepts it; its body
        // is the tunnel's data, so the service sees an empty body and an `OnUpgrade`.
        let mut tunnel = None;
        let body = if parts.method == http::Method::CONNECT {
            let (pending, on_upgrade) = crate::upgrade::pending();
            parts.extensions.insert(on_upgrade);
            tunnel = Some((pending, recv));
            Incoming::empty()
        } else if recv.is_end_stream() {
            Incoming::empty()
        } else {
            Incoming::h2(recv, content_length, None, self.received.clone())
        };
        if self.connect_protocol {
            if let Some(protocol) = parts.extensions.remove::<h2::ext::Protocol>() {
                parts
                    .extensions
                    .insert(crate::ext::Protocol::from_h2(protocol));
            }
        }
        let fut = self.service.call(Request::from_parts(parts, body));
        self.exec
            .execute_h2stream(H2Stream::new(fut, respond, self.date_header, tunnel));
    }

    pub(crate) fn poll_serve(&mut self, cx: &mut Context<'_>) -> Poll<crate::Result<()>> {
        loop {
            match &mut self.phase {
                Phase::Handshaking(handshake) => {
                    let mut conn = match Pin::new(handshake).poll(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Ok(conn)) => conn,
                        Poll::Ready(Err(e)) => {
                            self.phase = Phase::Done;
                            return Poll::Ready(Err(crate::Error::new_h2(e)));
                        }
                    };
                    if self.pings.is_active() {
                        self.pings.start(conn.ping_pong());
                    }
                    if self.closing {
                        conn.graceful_shutdown();
                    }
                    self.phase = Phase::Serving(conn);
                }
                Phase::Serving(conn) => {
                    // A server pings whether or not streams are open, as upstream's does.
                    while let Poll::Ready(event) = self.pings.poll(cx, false) {
                        match event {
                            PingEvent::Window(window) => {
                                conn.set_target_window_size(window);
                                conn.set_initial_window_size(window).ok();
                            }
                            PingEvent::Failed(e) => {
                                conn.abrupt_shutdown(Reason::NO_ERROR);
                                self.phase = Phase::Done;
                                return Poll::Ready(Err(e));
                            }
                        }
                    }
                    match conn.poll_accept(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Some(Ok((req, respond)))) => self.start_stream(req, respond),
                        Poll::Ready(Some(Err(e))) => {
                            self.phase = Phase::Done;
                            return Poll::Ready(Err(crate::Error::new_h2(e)));
                        }
                        // The connection is closed and everything it owed was written.
                        Poll::Ready(None) => {
                            self.phase = Phase::Done;
                            return Poll::Ready(Ok(()));
                        }
                    }
                }
                Phase::Done => return Poll::Ready(Ok(())),
            }
        }
    }
}

enum StreamState<F, B> {
    /// Waiting for the service's response.
    Service(Pin<Box<F>>),
    /// Sending the response body.
    Body(BodyPump<B>),
    Done,
}

/// One stream's task: awaits the service's response and sends it, head then body.
///
/// Public only because it appears in the executor bound
/// [`Http2ServerConnExec`]; it cannot be named outside the crate.
#[allow(missing_debug_implementations)]
pub struct H2Stream<F, B> {
    respond: SendResponse<Bytes>,
    state: StreamState<F, B>,
    date_header: bool,
    /// For a CONNECT request: the hand-off to `upgrade::on` and the stream's receiving half.
    tunnel: Option<(crate::upgrade::Pending, h2::RecvStream)>,
}

impl<F, B> H2Stream<F, B> {
    fn new(
        fut: F,
        respond: SendResponse<Bytes>,
        date_header: bool,
        tunnel: Option<(crate::upgrade::Pending, h2::RecvStream)>,
    ) -> Self {
        H2Stream {
            respond,
            state: StreamState::Service(Box::pin(fut)),
            date_header,
            tunnel,
        }
    }
}

impl<F, B, SE> H2Stream<F, B>
where
    F: Future<Output = Result<Response<B>, SE>>,
    SE: Into<Box<dyn StdError + Send + Sync>>,
    B: Body,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    fn send_head(&mut self, res: Response<B>) -> StreamState<F, B> {
        let (mut parts, body) = res.into_parts();
        strip_connection_headers(&mut parts.headers);
        if self.date_header && !parts.headers.contains_key(DATE) {
            parts
                .headers
                .insert(DATE, crate::proto::date::header_value());
        }
        // A 2xx answer to CONNECT opens the tunnel: the stream stays open both ways and
        // belongs to the application from here on (the response body is not sent).
        if parts.status.is_success() {
            if let Some((pending, recv)) = self.tunnel.take() {
                return match self
                    .respond
                    .send_response(Response::from_parts(parts, ()), false)
                {
                    Ok(send) => {
                        pending.fulfill(crate::upgrade::Upgraded::new(
                            Tunnel::new(send, recv),
                            Bytes::new(),
                        ));
                        StreamState::Done
                    }
                    Err(_) => StreamState::Done,
                };
            }
        }
        // Any other answer declines it: the `OnUpgrade` fails when `pending` drops.
        self.tunnel = None;
        let end = body.is_end_stream();
        if !parts.headers.contains_key(CONTENT_LENGTH) {
            if let Some(len) = body.size_hint().exact() {
                if len > 0 || end {
                    parts.headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
                }
            }
        }
        match self
            .respond
            .send_response(Response::from_parts(parts, ()), end)
        {
            Ok(_) if end => StreamState::Done,
            Ok(send) => StreamState::Body(BodyPump::new(body, send)),
            // The stream or connection is gone; there is no one left to tell.
            Err(_) => StreamState::Done,
        }
    }

    fn poll_stream(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            match &mut self.state {
                StreamState::Service(fut) => {
                    // A peer that reset the stream no longer wants the response.
                    if self.respond.poll_reset(cx).is_ready() {
                        self.state = StreamState::Done;
                        continue;
                    }
                    self.state = match fut.as_mut().poll(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Ok(res)) => self.send_head(res),
                        Poll::Ready(Err(_)) => {
                            self.respond.send_reset(Reason::INTERNAL_ERROR);
                            StreamState::Done
                        }
                    };
                }
                StreamState::Body(pump) => {
                    if pump.poll_pump(cx).is_pending() {
                        return Poll::Pending;
                    }
                    self.state = StreamState::Done;
                }
                StreamState::Done => return Poll::Ready(()),
            }
        }
    }
}

impl<F, B, SE> Future for H2Stream<F, B>
where
    F: Future<Output = Result<Response<B>, SE>>,
    SE: Into<Box<dyn StdError + Send + Sync>>,
    B: Body,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // Everything pinned inside is boxed, so the task itself may move.
        self.get_mut().poll_stream(cx)
    }
}
