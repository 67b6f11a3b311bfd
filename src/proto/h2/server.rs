//! The HTTP/2 server connection: accepts streams from `h2`, calls the service for each, and
//! hands every stream's response to the executor as an [`H2Stream`] task.
use std::error::Error as StdError;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use h2::server::{Connection, Handshake, SendResponse};
use h2::Reason;
use http::header::{HeaderValue, CONTENT_LENGTH, DATE};
use http::{Request, Response};
use http_body::Body;

use super::ping::{Pings, Tracker};
use super::settings::{Defaults, Settings};
use super::{
    declared_length, reset_reason, strip_connection_headers, BodyPump, Direction, Transport, Tunnel,
};
use crate::body::Incoming;
use crate::rt::bounds::Http2ServerConnExec;
use crate::rt::{Read, Write};
use crate::service::HttpService;

/// Settings of a server connection; `server::conn::http2::Builder` fills them in.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    /// What both roles have.
    pub(crate) settings: Settings<h2::server::Builder>,
    pub(crate) date_header: bool,
    pub(crate) connect_protocol: bool,
}

impl Default for Config {
    fn default() -> Self {
        // Upstream hyper's values, so peers see the same SETTINGS.
        let defaults = Defaults {
            stream_window: 1 << 20,
            connection_window: 1 << 20,
            send_buffer: 400 << 10,
            stream_limit: Some(200),
        };
        Config {
            settings: Settings::new(h2::server::Builder::new(), defaults),
            date_header: true,
            connect_protocol: false,
        }
    }
}

impl Config {
    fn h2_builder(&self) -> h2::server::Builder {
        let mut b = self.settings.h2_builder();
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
    /// Keep-alive and `adaptive_window`, when either is wanted.
    pings: Option<Pings>,
    /// `graceful_shutdown` was called (perhaps before the handshake finished).
    closing: bool,
    /// Keep-alive found the connection dead; it ends with this error once closed.
    failure: Option<crate::Error>,
}

impl<T, S, E> Server<T, S, E>
where
    T: Read + Write + Unpin,
    S: HttpService<Incoming>,
    E: Http2ServerConnExec<S::Future, S::ResBody>,
{
    pub(crate) fn new(io: T, service: S, config: &Config, exec: E) -> Self {
        // A server pings whether or not streams are open, as upstream's does, so that dead
        // connections are found.
        let pings = config.settings.pings(true);
        Server {
            phase: Phase::Handshaking(config.h2_builder().handshake(Transport(io))),
            service,
            exec,
            date_header: config.date_header,
            connect_protocol: config.connect_protocol,
            pings,
            closing: false,
            failure: None,
        }
    }

    fn start_stream(&mut self, req: Request<h2::RecvStream>, mut respond: SendResponse<Bytes>) {
        let tracker = self.pings.as_ref().map(|p| Tracker::reads(p.activity()));
        if let Some(tracker) = &tracker {
            tracker.record_read();
        }
        let (mut parts, recv) = req.into_parts();
        let content_length = declared_length(&parts.headers);
        // A CONNECT request's stream becomes the tunnel if the service accepts it; its body
        // is the tunnel's data, so the service sees an empty body and an `OnUpgrade`.
        let mut tunnel = None;
        let body = if parts.method == http::Method::CONNECT {
            if content_length.is_some_and(|n| n > 0) {
                // A CONNECT carries no body of its own.
                respond.send_reset(Reason::INTERNAL_ERROR);
                return;
            }
            let (pending, on_upgrade) = crate::upgrade::pending();
            parts.extensions.insert(on_upgrade);
            tunnel = Some((pending, recv, tracker));
            Incoming::empty()
        } else {
            Incoming::h2(recv, content_length, tracker)
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
                    if let Some(pings) = &mut self.pings {
                        pings.start(conn.ping_pong());
                    }
                    if self.closing {
                        conn.graceful_shutdown();
                    }
                    self.phase = Phase::Serving(conn);
                }
                Phase::Serving(conn) => {
                    if let Some(pings) = &mut self.pings {
                        if let Poll::Ready(e) = pings.poll_dead(cx, conn) {
                            // Tell the peer (GOAWAY) and close; the connection then ends
                            // with the timeout.
                            conn.abrupt_shutdown(Reason::NO_ERROR);
                            self.failure = Some(e);
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
                            return Poll::Ready(self.failure.take().map_or(Ok(()), Err));
                        }
                    }
                }
                Phase::Done => return Poll::Ready(Ok(())),
            }
        }
    }
}

pin_project_lite::pin_project! {
    /// A stream task's progress. The service future and the body pump are pinned in place
    /// inside the task (a finished state is replaced with `Pin::set`, which drops it where it
    /// is), so a stream costs no allocation beyond its task.
    #[project = StateProj]
    enum StreamState<F, B> {
        /// Waiting for the service's response.
        Service { #[pin] fut: F },
        /// Sending the response body.
        Body { #[pin] pump: BodyPump<B> },
        Done,
    }
}

pin_project_lite::pin_project! {
    /// One stream's task: awaits the service's response and sends it, head then body.
    ///
    /// Public only because it appears in the executor bound
    /// [`Http2ServerConnExec`]; it cannot be named outside the crate.
    #[allow(missing_debug_implementations)]
    pub struct H2Stream<F, B> {
        #[pin]
        state: StreamState<F, B>,
        head: ResponseHead,
    }
}

/// What a stream task needs to answer: the stream's sending half and how to shape the head.
struct ResponseHead {
    respond: SendResponse<Bytes>,
    date_header: bool,
    /// For a CONNECT request: the hand-off to `upgrade::on` and the stream's receiving half.
    tunnel: Option<TunnelParts>,
}

type TunnelParts = (crate::upgrade::Pending, h2::RecvStream, Option<Tracker>);

impl<F, B> H2Stream<F, B> {
    fn new(
        fut: F,
        respond: SendResponse<Bytes>,
        date_header: bool,
        tunnel: Option<TunnelParts>,
    ) -> Self {
        H2Stream {
            state: StreamState::Service { fut },
            head: ResponseHead {
                respond,
                date_header,
                tunnel,
            },
        }
    }
}

impl ResponseHead {
    /// Sends the response head; what comes next depends on the body.
    fn send<F, B>(&mut self, res: Response<B>) -> StreamState<F, B>
    where
        B: Body,
        B::Error: Into<Box<dyn StdError + Send + Sync>>,
    {
        let (mut parts, body) = res.into_parts();
        strip_connection_headers(&mut parts.headers, Direction::Response);
        if self.date_header {
            parts
                .headers
                .entry(DATE)
                .or_insert_with(crate::proto::date::header_value);
        }
        // A 2xx answer to CONNECT opens the tunnel: the stream stays open both ways and
        // belongs to the application from here on (the response body is not sent). Any other
        // answer declines it: the `OnUpgrade` fails when `pending` drops.
        if let Some((pending, recv, tracker)) = self.tunnel.take() {
            if parts.status.is_success() {
                if declared_length(&parts.headers).is_some_and(|n| n > 0) {
                    // A tunnel's answer cannot have a body of its own.
                    self.respond.send_reset(Reason::INTERNAL_ERROR);
                    return StreamState::Done;
                }
                parts.headers.remove(CONTENT_LENGTH);
                if let Some(send) = self.respond_with(parts, false) {
                    pending.fulfill(crate::upgrade::Upgraded::new(
                        Tunnel::new(send, recv, tracker),
                        Bytes::new(),
                    ));
                }
                return StreamState::Done;
            }
        }
        if body.is_end_stream() {
            // Nothing to send after the head: it ends the stream, without a length.
            self.respond_with(parts, true);
            return StreamState::Done;
        }
        if let Some(len) = body.size_hint().exact() {
            parts
                .headers
                .entry(CONTENT_LENGTH)
                .or_insert_with(|| HeaderValue::from(len));
        }
        match self.respond_with(parts, false) {
            Some(send) => StreamState::Body {
                pump: BodyPump::new(body, send),
            },
            None => StreamState::Done,
        }
    }

    /// Sends the head; `None` if the stream could not take it (it is then reset).
    fn respond_with(
        &mut self,
        parts: http::response::Parts,
        end: bool,
    ) -> Option<h2::SendStream<Bytes>> {
        match self
            .respond
            .send_response(Response::from_parts(parts, ()), end)
        {
            Ok(send) => Some(send),
            Err(_) => {
                self.respond.send_reset(Reason::INTERNAL_ERROR);
                None
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
        let mut me = self.project();
        loop {
            let next = match me.state.as_mut().project() {
                StateProj::Service { fut } => match fut.poll(cx) {
                    // A peer that reset the stream no longer wants the response.
                    Poll::Pending if me.head.respond.poll_reset(cx).is_ready() => StreamState::Done,
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Ok(res)) => me.head.send(res),
                    Poll::Ready(Err(e)) => {
                        let error = crate::Error::new_user_service(e);
                        me.head.respond.send_reset(reset_reason(&error));
                        StreamState::Done
                    }
                },
                StateProj::Body { pump } => {
                    if pump.poll_pump(cx).is_pending() {
                        return Poll::Pending;
                    }
                    StreamState::Done
                }
                StateProj::Done => return Poll::Ready(()),
            };
            me.state.set(next);
        }
    }
}
