//! The HTTP/1 server role: request/response exchanges over one transport.
//!
//! One exchange at a time: read a request head, call the service, and (in the
//! [`engine`](super::engine)) stream the request body into the request's [`Incoming`] while
//! the response is encoded into the output buffer. When both the request and the response are
//! complete, the connection either starts the next exchange (keep-alive; the response bytes
//! may still be owed and leave with the next ones) or is finished, and the engine's ending
//! drains every owed byte before anything else may happen.
//!
//! What is the server's own: parsing request heads (with the header read timeout and the
//! HTTP/2 preface check), answering malformed ones, calling the service and encoding its
//! response, and reading away a request body nobody wants so the connection closes cleanly.
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes};
use http::header::HeaderMap;
use http::{Request, Response, StatusCode, Version};

use super::engine::{Conn, Core, Io, Reading, Role, SendBody, Settings, Unread, Writing};
use super::framing::decode::{Decoded, Decoder};
use super::framing::encode::BodySize;
use super::head_encode::response::{self as response_head, EncodeContext, ResponseHead};
use super::head_parse::request::{self as request_head, ParsedRequest};
use super::head_parse::HeadConfig;
use super::header_values::adjust_for_peer;
use super::out_buf::WriteMode;
use super::transport::{BodyPiece, Transport};
use crate::body::Incoming;
use crate::error::{Error, Kind, Parse};
use crate::proto::date;
use crate::rt::{Sleep, Timer};
use crate::service::HttpService;

pub(crate) use super::engine::{EndMode, Ended, FlushPolicy};

const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// Most bytes of an abandoned request body read (and dropped) so the connection can close
/// without a reset. A client still sending more than this after its answer gets a reset.
const DISCARD_LIMIT: usize = 4 * 1024 * 1024;

/// Everything the builder configures.
#[derive(Clone)]
pub(crate) struct ServerConfig {
    pub(crate) head: HeadConfig,
    pub(crate) keep_alive: bool,
    pub(crate) half_close: bool,
    pub(crate) title_case: bool,
    pub(crate) write_mode: Option<WriteMode>,
    pub(crate) flush: FlushPolicy,
    pub(crate) date_header: bool,
    pub(crate) header_read_timeout: Option<(Duration, Arc<dyn Timer + Send + Sync>)>,
}

/// A server connection: the engine with the server role.
pub(crate) type ServerConn<I, S> = Conn<I, Server<S>, <S as HttpService<Incoming>>::ResBody>;

/// The header read timeout, also bounding how long an abandoned body is discarded.
struct HeaderTimer {
    timeout: Duration,
    timer: Arc<dyn Timer + Send + Sync>,
    sleep: Option<Pin<Box<dyn Sleep>>>,
    /// The sleep runs for the current wait; cleared when the wait ends.
    armed: bool,
}

impl HeaderTimer {
    /// Starts the timeout if this wait has not started it yet; true once it has run out
    /// (which also ends the wait).
    fn poll_expired(&mut self, cx: &mut Context<'_>) -> bool {
        if !self.armed {
            let deadline = self.timer.now() + self.timeout;
            match &mut self.sleep {
                Some(sleep) => self.timer.reset(sleep, deadline),
                None => self.sleep = Some(self.timer.sleep_until(deadline)),
            }
            self.armed = true;
        }
        let expired = self
            .sleep
            .as_mut()
            .is_some_and(|sleep| sleep.as_mut().poll(cx).is_ready());
        if expired {
            self.armed = false;
        }
        expired
    }
}

/// The server's part of a connection (see the module documentation).
pub(crate) struct Server<S: HttpService<Incoming>> {
    service: S,
    in_flight: Pin<Box<Option<S::Future>>>,
    date_header: bool,
    exchanges: u64,
    /// The current head was found incomplete at least once (it arrives in pieces).
    head_partly_read: bool,
    /// A head that fails to parse but may still become HTTP/2's preface.
    deferred_rejection: Option<Parse>,
    header_timer: Option<HeaderTimer>,
    /// The rest of an abandoned request body, still to be read and dropped.
    discarding: Option<Discard>,
}

struct Discard {
    decoder: Decoder,
    /// Bytes still allowed to be discarded before giving up.
    budget: usize,
}

impl<I, S, B> Conn<I, Server<S>, B>
where
    I: Io,
    S: HttpService<Incoming, ResBody = B>,
    B: SendBody,
{
    pub(crate) fn new(io: I, service: S, cfg: ServerConfig) -> Self {
        let transport = Transport::new(io, cfg.write_mode, cfg.head.max_buf, None);
        let header_timer = cfg.header_read_timeout.map(|(timeout, timer)| HeaderTimer {
            timeout,
            timer,
            sleep: None,
            armed: false,
        });
        let settings = Settings {
            head: cfg.head,
            keep_alive: cfg.keep_alive,
            title_case: cfg.title_case,
            half_close: cfg.half_close,
            flush: cfg.flush,
        };
        let role = Server {
            service,
            in_flight: Box::pin(None),
            date_header: cfg.date_header,
            exchanges: 0,
            head_partly_read: false,
            deferred_rejection: None,
            header_timer,
            discarding: None,
        };
        Conn::with_role(transport, settings, role)
    }

    /// Stops accepting new requests: an idle connection ends now, a busy one after its
    /// current exchange (whose response says `connection: close` if not yet encoded).
    pub(crate) fn graceful_shutdown(&mut self) {
        let core = &mut self.core;
        core.keep_alive = false;
        if self.role.is_idle(core)
            && (self.role.exchanges > 0 || core.transport.read_buf_is_empty())
        {
            core.reading = Reading::Closed;
        }
    }

    /// Takes the transport, the bytes read past the last request, and the service.
    ///
    /// After the connection future completed this loses nothing. Called earlier (the API
    /// allows it), bytes still owed cannot be delivered; that is logged.
    pub(crate) fn into_parts(self) -> (I, Bytes, S) {
        let (io, read_buf, role) = self.release();
        (io, read_buf, role.service)
    }
}

impl<I, S, B> Role<I, B> for Server<S>
where
    I: Io,
    S: HttpService<Incoming, ResBody = B>,
    B: SendBody,
{
    #[inline]
    fn poll_head(&mut self, core: &mut Core<I, B>, cx: &mut Context<'_>) -> crate::Result<bool> {
        match core.reading {
            Reading::Idle if self.is_idle(core) => self.poll_request_head(core, cx),
            Reading::Closed => {
                Ok(self.discarding.is_some() && self.poll_discard(core, cx).is_ready())
            }
            _ => Ok(false),
        }
    }

    #[inline]
    fn poll_start(&mut self, core: &mut Core<I, B>, cx: &mut Context<'_>) -> crate::Result<bool> {
        let Some(future) = self.in_flight.as_mut().as_pin_mut() else {
            return Ok(false);
        };
        let Poll::Ready(result) = future.poll(cx) else {
            return Ok(false);
        };
        self.in_flight.set(None);
        let response = result.map_err(Error::new_user_service)?;
        self.start_response(core, response)?;
        Ok(true)
    }

    fn is_finished(&self, core: &Core<I, B>) -> bool {
        matches!(core.reading, Reading::Closed)
            && matches!(core.writing, Writing::Idle)
            && self.in_flight.is_none()
    }

    fn on_exchange_kept(&mut self) {
        self.exchanges += 1;
    }

    fn on_body_unread(&mut self, why: Unread, core: &mut Core<I, B>, cx: &mut Context<'_>) {
        match why {
            Unread::Unwanted => self.discard_request_body(core, cx),
            Unread::Refused => self.abandon_request_body(core),
            Unread::TrailersRefused => core.close_reading(),
        }
    }

    fn claim_error(&mut self, err: Error) -> Option<Error> {
        Some(err)
    }

    fn before_exchanges(&mut self) {
        if self.date_header {
            date::refresh();
        }
    }

    fn releases_buffers_while_idle(&self, core: &Core<I, B>) -> bool {
        self.is_idle(core)
    }

    /// An abandoned request body keeps being consumed while the response drains: a client
    /// that sends its whole body before reading would otherwise never read what it is owed.
    fn poll_while_draining(&mut self, core: &mut Core<I, B>, cx: &mut Context<'_>) {
        if self.poll_discard(core, cx).is_pending() {
            trace!("draining while discarding an abandoned request body");
        }
    }

    fn poll_after_end(&mut self, core: &mut Core<I, B>, cx: &mut Context<'_>) -> Poll<()> {
        if self.discarding.is_some() {
            return self.poll_linger(core, cx);
        }
        Poll::Ready(())
    }
}

impl<S, B> Server<S>
where
    S: HttpService<Incoming, ResBody = B>,
    B: SendBody,
{
    /// Between exchanges, with no request waiting for its response.
    fn is_idle<I>(&self, core: &Core<I, B>) -> bool {
        matches!(core.reading, Reading::Idle)
            && matches!(core.writing, Writing::Idle)
            && self.in_flight.is_none()
    }

    // ===== request heads =====

    #[inline]
    fn poll_request_head<I: Io>(
        &mut self,
        core: &mut Core<I, B>,
        cx: &mut Context<'_>,
    ) -> crate::Result<bool> {
        loop {
            let buffered = core.transport.read_buf().len();
            // An empty buffer holds no head, and no limit rejects it (`max_header_size(0)`
            // does, and so goes through `parse`).
            let nothing_to_parse =
                buffered == 0 && core.head.max_header_size.is_none_or(|max| max > 0);
            let parsed = if nothing_to_parse {
                Ok(None)
            } else {
                request_head::parse(
                    core.transport.read_buf(),
                    &core.head,
                    &mut core.scratch,
                    &mut core.spare_headers,
                )
            };
            // The parser itself failed (a head taken out of the buffer failed later, on its
            // framing headers, and what follows it is another message).
            let unparsable = core.transport.read_buf().len() == buffered;
            match parsed {
                Ok(Some(request)) => {
                    if let Some(t) = &mut self.header_timer {
                        t.armed = false;
                    }
                    self.head_partly_read = false;
                    self.deferred_rejection = None;
                    self.start_exchange(core, request);
                    return Ok(true);
                }
                Ok(None) => self.head_partly_read = !core.transport.read_buf_is_empty(),
                Err(kind) if unparsable && self.head_partly_read && may_become_h2_preface(core) => {
                    // `PRI * HTTP/2` is no HTTP/1 request line, but it may be the start of
                    // HTTP/2's preface, which gets no `400`: wait for the rest, as upstream
                    // does for a later piece of a head until its blank line arrives.
                    self.deferred_rejection = Some(kind);
                }
                Err(kind) => {
                    self.reject_head(core, Error::new_parse(kind))?;
                    return Ok(true);
                }
            }
            let room = core.head_room();
            match core.transport.poll_read_parking(cx, Some(room)) {
                Poll::Ready(Ok(0)) => {
                    if let Some(kind) = self.deferred_rejection.take() {
                        self.reject_head(core, Error::new_parse(kind))?;
                        return Ok(true);
                    }
                    return end_of_input_before_head(core, None);
                }
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(e)) => return end_of_input_before_head(core, Some(e)),
                Poll::Pending => {
                    self.poll_header_timer(core, cx)?;
                    return Ok(false);
                }
            }
        }
    }

    fn poll_header_timer<I: Io>(
        &mut self,
        core: &mut Core<I, B>,
        cx: &mut Context<'_>,
    ) -> crate::Result<()> {
        if self
            .header_timer
            .as_mut()
            .is_some_and(|t| t.poll_expired(cx))
        {
            core.close_reading();
            return Err(Error::new_header_timeout());
        }
        Ok(())
    }

    /// Answers a malformed head with the status hyper sends for it, then ends the connection
    /// with the parse error. Input that gets no answer fails the connection right away.
    fn reject_head<I: Io>(&mut self, core: &mut Core<I, B>, err: Error) -> crate::Result<()> {
        core.close_reading();
        if skip_blank_lines_to_h2_preface(core) {
            return Err(Error::new_parse(Parse::VersionH2));
        }
        let status = match err.kind() {
            Kind::Parse(Parse::Method | Parse::Header(_) | Parse::Uri | Parse::Version) => {
                StatusCode::BAD_REQUEST
            }
            Kind::Parse(Parse::TooLarge) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Kind::Parse(Parse::UriTooLong) => StatusCode::URI_TOO_LONG,
            _ => return Err(err),
        };
        debug!("answering a malformed request with {}: {}", status, err);
        let mut head = ResponseHead {
            status,
            version: Version::HTTP_11,
            headers: HeaderMap::new(),
            extensions: http::Extensions::new(),
        };
        let keep_alive = adjust_for_peer(
            &mut head.version,
            &mut head.headers,
            core.peer_version,
            false,
            true,
        );
        let cx = EncodeContext {
            request_method: None,
            keep_alive,
            title_case: core.title_case,
            date_header: self.date_header,
        };
        core.transport
            .out()
            .encode_flat(|dst| response_head::encode(&mut head, BodySize::Empty, &cx, dst))?;
        core.writing = Writing::Done;
        core.error = Some(err);
        Ok(())
    }

    #[inline]
    fn start_exchange<I: Io>(&mut self, core: &mut Core<I, B>, parsed: ParsedRequest) {
        let ParsedRequest {
            head,
            body,
            expect_continue,
            keep_alive,
            wants_upgrade,
            te_trailers,
        } = parsed;
        let (mut parts, ()) = head.into_parts();
        core.keep_alive &= keep_alive;
        core.peer_version = parts.version;
        core.request_method = Some(parts.method.clone());
        core.trailers_allowed = te_trailers;
        let expect_continue = expect_continue && parts.version != Version::HTTP_10;
        let incoming = core.start_incoming(body, expect_continue);
        if wants_upgrade {
            core.offer_upgrade(&mut parts.extensions);
        }
        let future = self.service.call(Request::from_parts(parts, incoming));
        self.in_flight.set(Some(future));
    }

    // ===== unwanted request bodies =====

    /// Nobody will read the rest of the request body. If what is already here completes it,
    /// the connection stays reusable; otherwise it stops reading and closes after the
    /// response, rather than receive an unbounded body for nobody.
    fn discard_request_body<I: Io>(&mut self, core: &mut Core<I, B>, cx: &mut Context<'_>) {
        let Reading::Body(reader) = &mut core.reading else {
            return;
        };
        // What is buffered, and one read if nothing is: never a wait.
        let mut read_once = false;
        let complete = loop {
            let at_eof = core.transport.read_eof();
            match reader.decoder.decode(core.transport.read_buf(), at_eof) {
                Ok(Decoded::NeedMore) if !read_once && core.transport.read_buf_is_empty() => {
                    read_once = true;
                    match core.transport.poll_read_more(cx, None) {
                        Poll::Ready(Ok(_)) => continue,
                        _ => break false,
                    }
                }
                Ok(Decoded::Data(_)) => break reader.decoder.is_complete(),
                Ok(Decoded::End | Decoded::Trailers(_)) => break true,
                Ok(Decoded::NeedMore) | Err(_) => break false,
            }
        };
        if complete {
            core.finish_incoming(None);
        } else {
            self.abandon_request_body(core);
        }
    }

    /// Stops reading requests because nobody wants the rest of this one's body. The
    /// connection closes after the response, and the rest of the body is read and thrown
    /// away (see [`poll_discard`](Self::poll_discard)).
    fn abandon_request_body<I: Io>(&mut self, core: &mut Core<I, B>) {
        if let Reading::Body(reader) = std::mem::replace(&mut core.reading, Reading::Closed) {
            if !reader.decoder.is_complete() {
                self.discarding = Some(Discard {
                    decoder: reader.decoder,
                    budget: DISCARD_LIMIT,
                });
            }
        }
        core.keep_alive = false;
    }

    /// After the response was sent and the transport shut down, keeps discarding an
    /// abandoned request body for at most the header read timeout. Without a timer nothing
    /// bounds that wait, so only what already arrived is discarded.
    fn poll_linger<I: Io>(&mut self, core: &mut Core<I, B>, cx: &mut Context<'_>) -> Poll<()> {
        if self.poll_discard(core, cx).is_ready() {
            return Poll::Ready(());
        }
        let expired = self
            .header_timer
            .as_mut()
            .is_none_or(|t| t.poll_expired(cx));
        if !expired {
            return Poll::Pending;
        }
        debug!("stopped discarding the rest of an abandoned request body");
        self.discarding = None;
        Poll::Ready(())
    }

    /// Reads and throws away the rest of an abandoned request body, up to [`DISCARD_LIMIT`]
    /// bytes. `Ready` once done (the body ended, the peer closed, the limit was reached, or
    /// the input turned out malformed).
    ///
    /// A TCP socket closed while received bytes sit unread in it, or while the peer is still
    /// sending, answers with a reset, and a reset makes the kernel drop whatever of the
    /// response it had not transmitted yet. Consuming the body the client is still sending
    /// lets the connection close with a plain FIN, after all of the response.
    fn poll_discard<I: Io>(&mut self, core: &mut Core<I, B>, cx: &mut Context<'_>) -> Poll<()> {
        let Some(discard) = &mut self.discarding else {
            return Poll::Ready(());
        };
        loop {
            match core.transport.poll_body_piece(cx, &mut discard.decoder) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(BodyPiece::Data(bytes))) => {
                    discard.budget = discard.budget.saturating_sub(bytes.len());
                    if discard.decoder.is_complete() || discard.budget == 0 {
                        break;
                    }
                }
                Poll::Ready(Ok(BodyPiece::End { .. }) | Err(_)) => break,
            }
        }
        self.discarding = None;
        Poll::Ready(())
    }

    // ===== responses =====

    #[inline]
    fn start_response<I: Io>(
        &mut self,
        core: &mut Core<I, B>,
        response: Response<B>,
    ) -> crate::Result<()> {
        let (parts, body) = response.into_parts();
        let size = BodySize::of(&body);
        let mut head = ResponseHead {
            status: parts.status,
            version: parts.version,
            headers: parts.headers,
            extensions: parts.extensions,
        };
        let switching_protocols = head.status == StatusCode::SWITCHING_PROTOCOLS;
        core.keep_alive = adjust_for_peer(
            &mut head.version,
            &mut head.headers,
            core.peer_version,
            core.keep_alive,
            !switching_protocols,
        );
        let cx = EncodeContext {
            request_method: core.request_method.as_ref(),
            keep_alive: core.keep_alive,
            title_case: core.title_case,
            date_header: self.date_header,
        };
        let encoded = core
            .transport
            .out()
            .encode_flat(|dst| response_head::encode(&mut head, size, &cx, dst));
        let encoded = match encoded {
            Ok(encoded) => encoded,
            Err(err) => {
                core.writing = Writing::Closed;
                return Err(err);
            }
        };
        if encoded.closes || encoded.body.ends_by_closing() {
            core.keep_alive = false;
        }
        if let Some(err) = encoded.replaced_because {
            core.error.get_or_insert(err);
            core.keep_alive = false;
        }
        core.start_body(encoded.body, size, body, head.headers);
        Ok(())
    }
}

/// Drops the empty lines a client may send before a request line; true if what follows is
/// HTTP/2's preface (the connection then fails with `VersionH2`, unanswered).
fn skip_blank_lines_to_h2_preface<I: Io, B: SendBody>(core: &mut Core<I, B>) -> bool {
    let buf = core.transport.read_buf();
    let blank = leading_blank_lines(buf);
    buf.advance(blank);
    buf.starts_with(H2_PREFACE)
}

/// EOF (or a read error) while waiting for a head: a clean end between requests, an error in
/// the middle of one.
fn end_of_input_before_head<I: Io, B: SendBody>(
    core: &mut Core<I, B>,
    read_error: Option<std::io::Error>,
) -> crate::Result<bool> {
    core.close_reading();
    if skip_blank_lines_to_h2_preface(core) {
        return Err(Error::new_parse(Parse::VersionH2));
    }
    if core.transport.read_buf_is_empty() {
        return Ok(true);
    }
    Err(match read_error {
        Some(e) => Error::new_io(e),
        None => Error::new_incomplete(),
    })
}

/// The head so far (past leading empty lines) is a strict prefix of the preface's first two
/// lines, `PRI * HTTP/2.0` and the empty one. Once those are complete, upstream decides at
/// once, as the fork does: the preface if all of it is there, else a `400`.
fn may_become_h2_preface<I: Io, B: SendBody>(core: &mut Core<I, B>) -> bool {
    const PREFACE_LINES: usize = 18;
    let buf = core.transport.read_buf();
    let head = &buf[leading_blank_lines(buf)..];
    !head.is_empty() && head.len() < PREFACE_LINES && H2_PREFACE.starts_with(head)
}

fn leading_blank_lines(buf: &[u8]) -> usize {
    buf.iter()
        .take_while(|b| matches!(b, b'\r' | b'\n'))
        .count()
}
