//! The HTTP/2 client connection.
//!
//! `SendRequest` handles (any number of clones) queue requests on a channel; the connection
//! future ([`ClientConn`]) drives `h2`'s connection, takes queued requests, opens a stream for
//! each, and hands the stream's work to the executor as one [`H2ClientFuture`] task: it sends
//! the request body, waits for the response and delivers it to the caller, and resets the
//! stream if the caller stops waiting first.
use std::error::Error as StdError;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use h2::client::{Connection, ResponseFuture};
use h2::Reason;
use http::header::{HeaderValue, CONTENT_LENGTH};
use http::{Method, Request, Response, StatusCode};
use http_body::Body;
use tokio::sync::{mpsc, oneshot};

use super::ping::{Pings, Tracker};
use super::settings::{Defaults, Settings};
use super::{declared_length, strip_connection_headers, BodyPump, Direction, Transport, Tunnel};
use crate::body::Incoming;
use crate::client::conn::TrySendError;
use crate::rt::bounds::Http2ClientConnExec;
use crate::rt::{Read, Write};

/// Settings of a client connection; `client::conn::http2::Builder` fills them in.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    /// What both roles have; the client-only `h2` settings are on its `h2` builder.
    pub(crate) settings: Settings<h2::client::Builder>,
    pub(crate) keep_alive_while_idle: bool,
}

impl Default for Config {
    fn default() -> Self {
        // Upstream hyper's values, so servers see the same SETTINGS.
        let mut h2 = h2::client::Builder::new();
        h2.initial_max_send_streams(100).enable_push(false);
        let defaults = Defaults {
            stream_window: 2 << 20,
            connection_window: 5 << 20,
            send_buffer: 1 << 20,
            stream_limit: None,
        };
        Config {
            settings: Settings::new(h2, defaults),
            keep_alive_while_idle: false,
        }
    }
}

/// What a caller gets back for a queued request.
pub(crate) type Reply<B> = Result<Response<Incoming>, TrySendError<Request<B>>>;

/// A queued request and where its answer goes. Dropped unsent (the connection ended first),
/// it hands the request back to its caller as canceled, for a retry elsewhere.
pub(crate) struct Envelope<B> {
    request: Option<Request<B>>,
    reply: Option<oneshot::Sender<Reply<B>>>,
}

impl<B> Envelope<B> {
    pub(crate) fn new(request: Request<B>, reply: oneshot::Sender<Reply<B>>) -> Self {
        Envelope {
            request: Some(request),
            reply: Some(reply),
        }
    }

    /// The request back, when the channel refused it.
    pub(crate) fn into_request(mut self) -> Option<Request<B>> {
        self.reply = None;
        self.request.take()
    }

    fn open(mut self) -> (Request<B>, oneshot::Sender<Reply<B>>) {
        match (self.request.take(), self.reply.take()) {
            (Some(request), Some(reply)) => (request, reply),
            _ => unreachable!("an envelope is opened once"),
        }
    }
}

impl<B> Drop for Envelope<B> {
    fn drop(&mut self) {
        if let (Some(request), Some(reply)) = (self.request.take(), self.reply.take()) {
            let unsent = TrySendError {
                error: crate::Error::new_canceled().with("connection closed"),
                message: Some(request),
            };
            reply.send(Err(unsent)).ok();
        }
    }
}

pub(crate) type RequestTx<B> = mpsc::UnboundedSender<Envelope<B>>;

/// The connection future behind `client::conn::http2::Connection`.
pub(crate) struct ClientConn<T, B, E> {
    /// `None` once keep-alive declared the connection dead: dropping `h2`'s connection fails
    /// every stream still open.
    conn: Option<Connection<Transport<T>, Bytes>>,
    /// `None` once every `SendRequest` is gone: the connection then finishes its streams and
    /// closes.
    streams: Option<h2::client::SendRequest<Bytes>>,
    /// Requests are taken from here only once `h2` can open a stream for them, so a request
    /// never waits anywhere but in this queue.
    requests: mpsc::UnboundedReceiver<Envelope<B>>,
    exec: E,
    /// Keep-alive and `adaptive_window`, when either is wanted.
    pings: Option<Pings>,
}

pub(crate) async fn handshake<T, B, E>(
    io: T,
    config: &Config,
    exec: E,
) -> crate::Result<(RequestTx<B>, ClientConn<T, B, E>)>
where
    T: Read + Write + Unpin,
{
    let (streams, mut conn) = config
        .settings
        .h2_builder()
        .handshake::<_, Bytes>(Transport(io))
        .await
        .map_err(crate::Error::new_h2)?;
    let mut pings = config.settings.pings(config.keep_alive_while_idle);
    if let Some(pings) = &mut pings {
        pings.start(conn.ping_pong());
    }
    let (tx, requests) = mpsc::unbounded_channel();
    Ok((
        tx,
        ClientConn {
            conn: Some(conn),
            streams: Some(streams),
            requests,
            exec,
            pings,
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
        self.conn
            .as_ref()
            .map_or(0, |c| c.max_concurrent_send_streams())
    }

    pub(crate) fn current_max_recv_streams(&self) -> usize {
        self.conn
            .as_ref()
            .map_or(0, |c| c.max_concurrent_recv_streams())
    }
}

/// Whether a request with this method announces an empty body's length (`content-length: 0`):
/// those whose body has a meaning (RFC 9110 §9.3).
fn announces_empty_length(method: &Method) -> bool {
    !matches!(
        *method,
        Method::GET | Method::HEAD | Method::DELETE | Method::CONNECT
    )
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
        let (request, reply) = envelope.open();
        if reply.is_closed() {
            // The caller stopped waiting before the request could go out.
            return;
        }
        let (mut parts, body) = request.into_parts();
        strip_connection_headers(&mut parts.headers, Direction::Request);
        if let Some(len) = body.size_hint().exact() {
            if len != 0 || announces_empty_length(&parts.method) {
                parts
                    .headers
                    .entry(CONTENT_LENGTH)
                    .or_insert_with(|| HeaderValue::from(len));
            }
        }
        let connect = parts.method == Method::CONNECT;
        if connect && declared_length(&parts.headers).is_some_and(|n| n != 0) {
            // CONNECT opens a tunnel; data goes through the upgraded stream, not a body.
            let failure = TrySendError {
                error: crate::Error::new_user(crate::error::User::InvalidConnectWithBody),
                message: None,
            };
            reply.send(Err(failure)).ok();
            return;
        }
        if let Some(protocol) = parts.extensions.remove::<crate::ext::Protocol>() {
            parts.extensions.insert(protocol.into_h2());
        }
        let is_head = parts.method == Method::HEAD;
        let end = !connect && body.is_end_stream();
        match streams.send_request(Request::from_parts(parts, ()), end) {
            Ok((response, send)) => {
                let tracker = self.pings.as_ref().map(|p| Tracker::open(p.activity()));
                // A CONNECT stream's sending half waits for the tunnel.
                let (pump, tunnel) = match (connect, end) {
                    (true, _) => (None, Some(send)),
                    (false, true) => (None, None),
                    (false, false) => (Some(Box::pin(BodyPump::new(body, send))), None),
                };
                self.exec.execute_h2_future(H2ClientFuture {
                    pump,
                    response: Some(response),
                    reply: Some(reply),
                    tunnel,
                    is_head,
                    tracker,
                    _io: PhantomData,
                });
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

    /// Keep-alive found the connection dead: every stream fails (with a timeout, which they
    /// learn from the shared activity), queued requests come back unsent, and no handle can
    /// queue another.
    fn abandon(&mut self) {
        self.conn = None;
        self.streams = None;
        self.requests.close();
        while let Ok(unsent) = self.requests.try_recv() {
            drop(unsent);
        }
    }

    pub(crate) fn poll_conn(&mut self, cx: &mut Context<'_>) -> Poll<crate::Result<()>> {
        if self.conn.is_none() {
            return Poll::Ready(Err(crate::Error::new_closed()));
        }
        // Take queued requests while `h2` can open streams. This comes before the PINGs, so
        // that a stream opened here counts as open for keep-alive in the same poll.
        while let Some(mut streams) = self.streams.take() {
            match streams.poll_ready(cx) {
                Poll::Pending => {
                    self.streams = Some(streams);
                    break;
                }
                // No stream can be opened any more; the connection reports why below, and
                // queued requests come back as canceled when it is dropped.
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
        let conn = self.conn.as_mut().expect("checked above");
        if let Some(pings) = &mut self.pings {
            if let Poll::Ready(e) = pings.poll_dead(cx, conn) {
                self.abandon();
                return Poll::Ready(Err(e));
            }
        }
        match Pin::new(conn).poll(cx) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(())),
            Poll::Ready(Err(e)) => Poll::Ready(Err(crate::Error::new_h2(e))),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// The task of one stream of an HTTP/2 client connection, run by the connection's executor:
/// sends the request body, delivers the response head to the caller, and resets the stream
/// with CANCEL if the caller stops waiting for the response first.
///
/// Public only because it appears in the executor bound [`Http2ClientConnExec`]; it cannot
/// be named outside the crate.
#[allow(missing_debug_implementations)]
pub struct H2ClientFuture<B, T> {
    /// The request body still being sent.
    pump: Option<Pin<Box<BodyPump<B>>>>,
    /// The response head still awaited.
    response: Option<ResponseFuture>,
    reply: Option<oneshot::Sender<Reply<B>>>,
    /// For CONNECT: the stream's sending half, for the tunnel a `200` answer opens.
    tunnel: Option<h2::SendStream<Bytes>>,
    is_head: bool,
    /// Counts the stream as open for keep-alive while the task lives.
    tracker: Option<Tracker>,
    _io: PhantomData<fn() -> T>,
}

impl<B, T> H2ClientFuture<B, T> {
    /// What the caller gets for the stream's response (or its failure).
    #[allow(clippy::result_large_err)] // the error may hand the request back, as upstream's does
    fn answer(&mut self, result: Result<Response<h2::RecvStream>, h2::Error>) -> Reply<B> {
        let res = match result {
            Ok(res) => res,
            Err(e) => {
                let error = if self.tracker.as_ref().is_some_and(|t| t.timed_out()) {
                    crate::Error::new_keep_alive_timeout()
                } else {
                    crate::Error::new_h2(e)
                };
                return Err(TrySendError {
                    error,
                    message: None,
                });
            }
        };
        if let Some(tracker) = &self.tracker {
            tracker.record_read();
        }
        let (mut parts, recv) = res.into_parts();
        // A HEAD response's length describes the body a GET would get.
        let content_length = if self.is_head {
            Some(0)
        } else {
            declared_length(&parts.headers)
        };
        if let Some(mut send) = self.tunnel.take() {
            if parts.status == StatusCode::OK {
                if content_length.is_some_and(|n| n != 0) {
                    // A tunnel's answer cannot have a body of its own.
                    send.send_reset(Reason::INTERNAL_ERROR);
                    return Err(TrySendError {
                        error: crate::Error::new_h2(Reason::INTERNAL_ERROR.into()),
                        message: None,
                    });
                }
                let (pending, on_upgrade) = crate::upgrade::pending();
                let tracker = self.tracker.as_ref().map(Tracker::share);
                pending.fulfill(crate::upgrade::Upgraded::new(
                    Tunnel::new(send, recv, tracker),
                    Bytes::new(),
                ));
                parts.extensions.insert(on_upgrade);
                return Ok(Response::from_parts(parts, Incoming::empty()));
            }
        }
        // A body that already ended keeps nothing open.
        let tracker = match &self.tracker {
            Some(tracker) if !recv.is_end_stream() => Some(tracker.share()),
            _ => None,
        };
        Ok(Response::from_parts(
            parts,
            Incoming::h2(recv, content_length, tracker),
        ))
    }
}

impl<B, T> Future for H2ClientFuture<B, T>
where
    B: Body,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // Everything pinned inside is boxed, so the task itself may move.
        let me = self.get_mut();
        if let Some(response) = &mut me.response {
            let reply = me.reply.as_mut().expect("a reply until the response is in");
            if reply.poll_closed(cx).is_ready() {
                // The caller dropped the response future: tell the server the stream is over.
                // (Without a body still being sent, dropping the stream's last handle below
                // makes `h2` reset it.)
                if let Some(pump) = &mut me.pump {
                    pump.as_mut().cancel();
                }
                return Poll::Ready(());
            }
            if let Poll::Ready(result) = Pin::new(response).poll(cx) {
                me.response = None;
                let answer = me.answer(result);
                if let Some(reply) = me.reply.take() {
                    reply.send(answer).ok();
                }
            }
        }
        if let Some(pump) = &mut me.pump {
            if pump.as_mut().poll_pump(cx).is_ready() {
                me.pump = None;
            }
        }
        if me.response.is_none() && me.pump.is_none() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}
