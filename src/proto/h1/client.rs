//! The HTTP/1 client role: requests from a `SendRequest` handle, one exchange at a time.
//!
//! An exchange starts when the handle's queue yields a request: its head is encoded and (in
//! the [`engine`](super::engine)) its body streamed, while the response head is awaited (a
//! server may answer before the request body is complete). The response goes back through the
//! request's reply slot with an [`Incoming`] body fed from the transport. When both directions
//! are complete, the connection waits for the next request (making the handle ready) or is
//! finished, and the engine's ending drains every owed request byte.
//!
//! What is the client's own: taking requests from the queue and encoding their heads, parsing
//! response heads (interim ones go to the request's `OnInformational`), and giving errors to
//! the request they concern, or back to a queued request that never started.
use std::convert::Infallible;
use std::task::{Context, Poll};

use http::header;
use http::{Request, Response};

use super::engine::{Conn, Core, Io, Reading, Role, SendBody, Settings, Unread, Writing};
use super::framing::encode::{BodyEncoder, BodySize};
use super::head_encode::request as request_head;
use super::head_parse::response::{self as response_head, FinalResponse, ParsedResponse};
use super::head_parse::HeadConfig;
use super::header_values::{adjust_for_peer, says_close};
use super::out_buf::WriteMode;
use super::transport::Transport;
use crate::body::Incoming;
use crate::client::dispatch::{Callback, Receiver, TrySendError};
use crate::error::{Error, Kind};
use crate::ext::OnInformational;

use super::engine::FlushPolicy;
pub(crate) use super::engine::{EndMode, Ended};

/// Everything the client builder configures.
#[derive(Clone, Debug)]
pub(crate) struct ClientConfig {
    pub(crate) head: HeadConfig,
    pub(crate) title_case: bool,
    pub(crate) write_mode: Option<WriteMode>,
    pub(crate) http09: bool,
    /// Read exactly this many bytes at a time (and accept heads up to this size).
    pub(crate) read_exact: Option<usize>,
}

type Requests<B> = Receiver<Request<B>, Response<Incoming>>;
type Reply<B> = Callback<Request<B>, Response<Incoming>>;

/// A client connection: the engine with the client role.
pub(crate) type ClientConn<I, B> = Conn<I, Client<B>, B>;

/// The client's part of a connection (see the module documentation).
pub(crate) struct Client<B> {
    requests: Requests<B>,
    requests_closed: bool,
    /// Where the response to the request in flight goes.
    reply: Option<Reply<B>>,
    /// An HTTP/0.9 answer is accepted only as the first response.
    http09: bool,
    on_informational: Option<OnInformational>,
    /// An exchange completed and the connection was kept for the next one. Only then is end
    /// of file while idle a clean close; before the first exchange it is an error (upstream
    /// 1.13.0 hands a queued request back with it, and fails the connection otherwise).
    kept_alive: bool,
}

impl<I: Io, B: SendBody> Conn<I, Client<B>, B> {
    pub(crate) fn new(io: I, requests: Requests<B>, cfg: ClientConfig) -> Self {
        let ClientConfig {
            mut head,
            title_case,
            write_mode,
            http09,
            read_exact,
        } = cfg;
        // Exact reads bound response heads; the write buffer keeps its own limit.
        let write_max = head.max_buf;
        if let Some(exact) = read_exact {
            head.max_buf = exact;
        }
        let transport = Transport::new(io, write_mode, write_max, read_exact);
        let settings = Settings {
            head,
            keep_alive: true,
            title_case,
            half_close: false,
            flush: FlushPolicy::BeforeWaiting,
        };
        let role = Client {
            requests,
            requests_closed: false,
            reply: None,
            http09,
            on_informational: None,
            kept_alive: false,
        };
        Conn::with_role(transport, settings, role)
    }

    /// Takes the transport and the bytes read past the last response.
    pub(crate) fn into_parts(self) -> (I, bytes::Bytes) {
        let (io, read_buf, _role) = self.release();
        (io, read_buf)
    }
}

impl<I: Io, B: SendBody> Role<I, B> for Client<B> {
    #[inline]
    fn poll_head(&mut self, core: &mut Core<I, B>, cx: &mut Context<'_>) -> crate::Result<bool> {
        match core.reading {
            Reading::Idle => self.expect_silence(core, cx),
            Reading::Head => self.poll_response_head(core, cx),
            _ => Ok(false),
        }
    }

    #[inline]
    fn poll_start(&mut self, core: &mut Core<I, B>, cx: &mut Context<'_>) -> crate::Result<bool> {
        if !matches!(core.reading, Reading::Idle) || self.requests_closed || !core.keep_alive {
            return Ok(false);
        }
        loop {
            match self.requests.poll_recv(cx) {
                Poll::Pending => return Ok(false),
                Poll::Ready(None) => {
                    self.requests_closed = true;
                    return Ok(true);
                }
                Poll::Ready(Some((request, mut reply))) => {
                    if reply.poll_canceled(cx).is_ready() {
                        // The caller gave up before the request started.
                        continue;
                    }
                    self.start_request(core, request, reply);
                    return Ok(true);
                }
            }
        }
    }

    /// A client that can no longer read is done, as is one whose handle is gone while idle.
    fn is_finished(&self, core: &Core<I, B>) -> bool {
        matches!(core.reading, Reading::Closed)
            || (self.requests_closed
                && matches!(core.reading, Reading::Idle)
                && matches!(core.writing, Writing::Idle))
    }

    fn on_exchange_kept(&mut self) {
        self.kept_alive = true;
    }

    fn on_body_unread(&mut self, why: Unread, core: &mut Core<I, B>, _cx: &mut Context<'_>) {
        match why {
            // Nobody reads the rest; the connection cannot be reused.
            Unread::Unwanted | Unread::Refused => core.close_reading(),
            Unread::TrailersRefused => core.keep_alive = false,
        }
    }

    fn claim_error(&mut self, err: Error) -> Option<Error> {
        self.report(err)
    }

    /// Requests queued behind the last exchange never start: they go back to their senders
    /// now, not when the connection is dropped. An upgrade keeps the channel open (and not
    /// ready) until the transport is taken out of the connection.
    fn on_ending(&mut self, core: &mut Core<I, B>) {
        if core.upgrade.is_none() {
            self.requests.cancel_queued();
        }
    }
}

impl<B: SendBody> Client<B> {
    /// Gives a connection error to whoever can use it: the request in flight, else a queued
    /// request that never started (which gets its request back, to retry elsewhere). Returns
    /// the error if nobody took it; then the connection itself fails with it.
    fn report(&mut self, err: Error) -> Option<Error> {
        if let Some(reply) = self.reply.take() {
            reply.send(Err(TrySendError {
                error: err,
                message: None,
            }));
            return None;
        }
        if self.requests_closed {
            return Some(err);
        }
        self.requests.close();
        match self.requests.try_recv() {
            Some((request, reply)) => {
                reply.send(Err(TrySendError {
                    error: Error::new_canceled().with(err),
                    message: Some(request),
                }));
                None
            }
            None => Some(err),
        }
    }

    /// Between exchanges the server must not send anything; EOF then is a clean close.
    fn expect_silence<I: Io>(
        &mut self,
        core: &mut Core<I, B>,
        cx: &mut Context<'_>,
    ) -> crate::Result<bool> {
        if !core.transport.read_buf_is_empty() {
            return Err(Error::new(Kind::UnexpectedMessage));
        }
        match core.transport.poll_read_more(cx, None) {
            Poll::Ready(Ok(0)) => {
                core.close_reading();
                if !self.kept_alive {
                    return Err(Error::new_incomplete());
                }
                Ok(true)
            }
            Poll::Ready(Ok(_)) => Err(Error::new(Kind::UnexpectedMessage)),
            Poll::Ready(Err(e)) => Err(Error::new_io(e)),
            Poll::Pending => Ok(false),
        }
    }

    fn poll_response_head<I: Io>(
        &mut self,
        core: &mut Core<I, B>,
        cx: &mut Context<'_>,
    ) -> crate::Result<bool> {
        // Nobody waits for this response any more: the connection cannot be reused without
        // reading it, so it ends.
        if let Some(reply) = &mut self.reply {
            if reply.poll_canceled(cx).is_ready() {
                self.reply = None;
                core.close_reading();
                return Ok(true);
            }
        }
        loop {
            let parsed = response_head::parse(
                core.transport.read_buf(),
                &core.head,
                &mut core.scratch,
                &mut core.spare_headers,
                core.request_method.as_ref(),
                self.http09,
            );
            let parsed = match parsed {
                Ok(parsed) => parsed,
                Err(e) => return self.fail_head(core, Error::new_parse(e)),
            };
            match parsed {
                Some(ParsedResponse::Interim(interim)) => {
                    if let Some(callback) = &self.on_informational {
                        callback.call(&interim);
                    }
                }
                Some(ParsedResponse::Final(response)) => {
                    self.deliver(core, response)?;
                    return Ok(true);
                }
                // An incomplete head never grows past the limit (with exact-size reads, the
                // read size): a head that would end beyond it is too large, as upstream's.
                None => {
                    let room = core.head_room();
                    match core.transport.poll_read_more(cx, Some(room)) {
                        Poll::Ready(Ok(0)) => return self.fail_head(core, Error::new_incomplete()),
                        Poll::Ready(Ok(_)) => {}
                        Poll::Ready(Err(e)) => return Err(Error::new_io(e)),
                        Poll::Pending => return Ok(false),
                    }
                }
            }
        }
    }

    /// A response head that cannot be read (malformed, or cut short by end of file) fails the
    /// request waiting for it. If the error reached a request, the connection then ends as
    /// a closed one does, shutting its transport down; if it reached nobody, it fails the
    /// connection. Upstream's dispatcher treats head errors the same way.
    fn fail_head<I: Io>(&mut self, core: &mut Core<I, B>, err: Error) -> crate::Result<bool> {
        match self.report(err) {
            None => {
                core.close_reading();
                Ok(true)
            }
            Some(err) => Err(err),
        }
    }

    fn deliver<I: Io>(
        &mut self,
        core: &mut Core<I, B>,
        response: FinalResponse,
    ) -> crate::Result<()> {
        let FinalResponse {
            head,
            body,
            keep_alive,
            upgrade,
        } = response;
        core.keep_alive &= keep_alive;
        core.peer_version = head.version();
        self.http09 = false;
        self.on_informational = None;
        let (mut parts, ()) = head.into_parts();
        let incoming = core.start_incoming(body, false);
        if upgrade {
            core.offer_upgrade(&mut parts.extensions);
            core.keep_alive = false;
        }
        let Some(reply) = self.reply.take() else {
            return Err(Error::new(Kind::UnexpectedMessage));
        };
        reply.send(Ok(Response::from_parts(parts, incoming)));
        Ok(())
    }

    fn start_request<I: Io>(
        &mut self,
        core: &mut Core<I, B>,
        request: Request<B>,
        reply: Reply<B>,
    ) {
        let (mut parts, body) = request.into_parts();
        let size = BodySize::of(&body);
        if parts
            .headers
            .get_all(header::CONNECTION)
            .iter()
            .any(says_close)
        {
            // A request asking to close must not leave a reusable connection behind,
            // whatever the server answers.
            core.keep_alive = false;
        }
        core.keep_alive = adjust_for_peer(
            &mut parts.version,
            &mut parts.headers,
            core.peer_version,
            core.keep_alive,
            true,
        );
        core.request_method = Some(parts.method.clone());
        core.trailers_allowed = true;
        self.on_informational = parts.extensions.remove::<OnInformational>();
        let title_case = core.title_case;
        let encoded: Result<BodyEncoder, Infallible> = core
            .transport
            .out()
            .encode_flat(|dst| Ok(request_head::encode(&mut parts, size, title_case, dst)));
        let Ok(encoder) = encoded;
        core.start_body(encoder, size, body, parts.headers);
        core.reading = Reading::Head;
        self.reply = Some(reply);
    }
}
