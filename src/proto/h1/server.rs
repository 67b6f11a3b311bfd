//! The HTTP/1 server connection: request/response exchanges over one transport.
//!
//! One exchange at a time: read a request head, call the service, stream the request body
//! into the request's [`Incoming`] while the response is encoded into the output buffer. When
//! both the request and the response are complete, the connection either starts the next
//! exchange (keep-alive; the response bytes may still be owed and leave with the next ones) or
//! is finished.
//!
//! "Finished" only means that no further bytes will be *encoded*. The connection then moves to
//! the ending phase, where the transport (see [`transport`](super::transport)) must drain
//! every owed byte before anything else may happen: shutdown, completion, handing the IO back,
//! or an upgrade. There is no other way out of [`ServerConn::poll_conn`].
use std::error::Error as StdError;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes};
use http::header::HeaderMap;
use http::{Method, Request, Response, StatusCode, Version};
use http_body::Body;

use super::body_pump::{BodyPump, Pumped};
use super::framing::decode::{Decoded, Decoder};
use super::framing::encode::BodySize;
use super::head_encode::response::{self as response_head, EncodeContext, ResponseHead};
use super::head_parse::request::{self as request_head, ParsedRequest};
use super::head_parse::{HeadConfig, HeadScratch};
use super::header_values::adjust_for_peer;
use super::injected_bugs::{self, Bug};
use super::out_buf::WriteMode;
use super::transport::{EndError, Ending, Transport};
use crate::body::{Incoming, Sender};
use crate::error::{Error, Kind, Parse};
use crate::proto::date;
use crate::rt::{Read, Sleep, Timer, Write};
use crate::service::HttpService;
use crate::upgrade;

/// Rounds of work per poll before the connection yields to other tasks.
const ROUNDS_PER_POLL: usize = 16;
const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// Most bytes of an abandoned request body read (and dropped) so the connection can close
/// without a reset. A client still sending more than this after its answer gets a reset.
const DISCARD_LIMIT: usize = 4 * 1024 * 1024;

/// When the connection writes encoded bytes to the transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FlushPolicy {
    /// Start writing each response as soon as it is completely encoded.
    EachResponse,
    /// Keep encoding while there is work that needs no waiting (pipelined requests already
    /// read, body frames already available) and write before waiting for anything, or when
    /// the buffer is full. Responses are never held while the connection waits.
    BeforeWaiting,
}

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

/// How a finished connection leaves [`ServerConn::poll_conn`].
pub(crate) enum Ended {
    /// Every byte was written (and the transport shut down, if asked).
    Closed,
    /// Every byte was written and the transport now belongs to this upgrade.
    Upgrade(upgrade::Pending),
}

/// What to do with the transport once everything was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EndMode {
    Shutdown,
    /// Leave it open; the caller takes it back (`without_shutdown`).
    KeepOpen,
}

enum Reading {
    /// Waiting for (the rest of) a request head.
    Head,
    /// Passing the request body to its `Incoming`.
    Body(BodyReader),
    /// The current request was read completely.
    Done,
    /// Nothing more will be read from this connection.
    Closed,
}

struct BodyReader {
    decoder: Decoder,
    tx: Sender,
    /// `Expect: 100-continue` was asked and not yet answered.
    send_continue: bool,
}

enum Writing {
    /// Waiting for a request, or for the service's response to it.
    Idle,
    /// Encoding the response body (in the pump).
    Body,
    /// The response was encoded completely. Its bytes may still be owed.
    Done,
    /// No response will be encoded any more.
    Closed,
}

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

pub(crate) struct ServerConn<I, S>
where
    S: HttpService<Incoming>,
{
    transport: Transport<I, <S::ResBody as Body>::Data>,
    cfg: ServerConfig,
    service: S,
    in_flight: Pin<Box<Option<S::Future>>>,
    pump: BodyPump<S::ResBody>,
    reading: Reading,
    writing: Writing,
    /// `None` while exchanging messages; then how far the ending got.
    ending: Option<Ending>,
    /// False once anything rules out another exchange on this connection.
    keep_alive: bool,
    /// Version of the last request; responses and error replies adapt to it.
    peer_version: Version,
    request_method: Option<Method>,
    /// The request said `TE: trailers`, so the response may carry them.
    trailers_allowed: bool,
    exchanges: u64,
    write_now: bool,
    upgrade: Option<upgrade::Pending>,
    /// An error to report once the connection ended (after a reply was written).
    error: Option<Error>,
    /// The connection failed without an answer of its own (a head cut short by end of file,
    /// an HTTP/2 preface, a service error): what it owes is still written, but the transport
    /// is not shut down, as upstream leaves it when such an error ends its dispatch loop.
    failed_unanswered: bool,
    /// The current head was found incomplete at least once (it arrives in pieces).
    head_partly_read: bool,
    /// A head that fails to parse but may still become HTTP/2's preface.
    deferred_rejection: Option<Parse>,
    scratch: HeadScratch,
    spare_headers: Option<HeaderMap>,
    header_timer: Option<HeaderTimer>,
    /// The rest of an abandoned request body, still to be read and dropped.
    discarding: Option<Discard>,
}

struct Discard {
    decoder: Decoder,
    /// Bytes still allowed to be discarded before giving up.
    budget: usize,
}

impl<I, S, B> ServerConn<I, S>
where
    I: Read + Write + Unpin,
    S: HttpService<Incoming, ResBody = B>,
    B: Body + 'static,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    pub(crate) fn new(io: I, service: S, cfg: ServerConfig) -> Self {
        let transport = Transport::new(io, cfg.write_mode, cfg.head.max_buf, None);
        let header_timer = cfg
            .header_read_timeout
            .clone()
            .map(|(timeout, timer)| HeaderTimer {
                timeout,
                timer,
                sleep: None,
                armed: false,
            });
        ServerConn {
            transport,
            keep_alive: cfg.keep_alive,
            cfg,
            service,
            in_flight: Box::pin(None),
            pump: BodyPump::new(),
            reading: Reading::Head,
            writing: Writing::Idle,
            ending: None,
            peer_version: Version::HTTP_11,
            request_method: None,
            trailers_allowed: false,
            exchanges: 0,
            write_now: false,
            upgrade: None,
            error: None,
            failed_unanswered: false,
            head_partly_read: false,
            deferred_rejection: None,
            scratch: HeadScratch::default(),
            spare_headers: None,
            header_timer,
            discarding: None,
        }
    }

    /// Drives the connection until it has ended, and every byte it encoded was written.
    pub(crate) fn poll_conn(
        &mut self,
        cx: &mut Context<'_>,
        mode: EndMode,
    ) -> Poll<crate::Result<Ended>> {
        self.transport.unpark_reads();
        if self.ending.is_none() {
            match self.poll_exchanges(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(err)) => {
                    self.abort_request_body();
                    if matches!(err.kind(), Kind::Io | Kind::BodyWrite) {
                        // The transport failed: nothing owed can reach the peer.
                        self.ending = Some(Ending::Broken);
                        return Poll::Ready(Err(err));
                    }
                    self.error.get_or_insert(err);
                    self.failed_unanswered = true;
                }
            }
            self.ending = Some(Ending::Draining);
        }
        if matches!(self.ending, Some(Ending::Broken)) {
            return Poll::Ready(Ok(Ended::Closed));
        }
        // An abandoned request body keeps being consumed while the response drains: a client
        // that sends its whole body before reading would otherwise never read what it is owed.
        let draining = matches!(self.ending, Some(Ending::Draining));
        if draining && self.poll_discard(cx).is_pending() {
            trace!("draining while discarding an abandoned request body");
        }
        // An upgrade takes the transport as it is; only a plain ending shuts it down.
        let shutdown =
            mode == EndMode::Shutdown && self.upgrade.is_none() && !self.failed_unanswered;
        let Some(ending) = &mut self.ending else {
            return Poll::Pending;
        };
        match self.transport.poll_end(cx, ending, shutdown) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(EndError::Write(e))) => {
                let err = self
                    .error
                    .take()
                    .unwrap_or_else(|| Error::new_body_write(e));
                return Poll::Ready(Err(err));
            }
            Poll::Ready(Err(EndError::Shutdown(e))) => {
                return Poll::Ready(Err(Error::new_shutdown(e)))
            }
        }
        if let Some(pending) = self.upgrade.take() {
            return Poll::Ready(self.error.take().map_or(Ok(Ended::Upgrade(pending)), Err));
        }
        if self.discarding.is_some() && self.poll_linger(cx).is_pending() {
            return Poll::Pending;
        }
        Poll::Ready(self.error.take().map_or(Ok(Ended::Closed), Err))
    }

    /// Stops accepting new requests: an idle connection ends now, a busy one after its
    /// current exchange (whose response says `connection: close` if not yet encoded).
    pub(crate) fn graceful_shutdown(&mut self) {
        self.keep_alive = false;
        let idle = matches!(self.reading, Reading::Head)
            && matches!(self.writing, Writing::Idle)
            && self.in_flight.is_none();
        if idle && (self.exchanges > 0 || self.transport.read_buf_is_empty()) {
            self.reading = Reading::Closed;
        }
    }

    /// Takes the transport, the bytes read past the last request, and the service.
    ///
    /// After the connection future completed this loses nothing. Called earlier (the API
    /// allows it), bytes still owed cannot be delivered; that is logged.
    pub(crate) fn into_parts(self) -> (I, Bytes, S) {
        let ServerConn {
            transport,
            service,
            ending,
            ..
        } = self;
        let (io, read_buf, owed) = transport.release_after(ending.unwrap_or(Ending::Broken));
        if owed > 0 {
            warn!(
                "connection parts taken while {} encoded bytes were unwritten",
                owed
            );
        }
        (io, read_buf, service)
    }

    // ===== the running phase =====

    /// Runs exchanges until the connection is finished (`Ready(Ok)`), fails, or has to wait.
    fn poll_exchanges(&mut self, cx: &mut Context<'_>) -> Poll<crate::Result<()>> {
        if self.cfg.date_header {
            date::refresh();
        }
        for _ in 0..ROUNDS_PER_POLL {
            let mut progress = self.poll_read_side(cx)?;
            progress |= self.poll_write_side(cx)?;
            progress |= self.complete_exchange();
            if self.is_finished() {
                return Poll::Ready(Ok(()));
            }
            let had_room = self.transport.out().has_room();
            let must_write = self.write_now || !had_room;
            // Before waiting for anything, everything owed goes out: a response is never held
            // back while the connection sleeps.
            let skip_write = !progress && injected_bugs::active(Bug::YieldWithoutWriting);
            if (must_write || !progress) && !skip_write {
                let owed = self.transport.owed();
                match self.transport.poll_write_out(cx) {
                    Poll::Ready(Ok(())) => self.write_now = false,
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(Error::new_body_write(e))),
                    Poll::Pending => {}
                }
                // Writing makes progress for the connection only where encoding waited for
                // room; otherwise nothing it does depends on what is still owed.
                progress |= !had_room && self.transport.owed() < owed;
            }
            if !progress {
                // Every blocked part (transport, service, bodies, timer) registered a wake-up.
                if self.waits_for_next_request() {
                    self.transport.release_idle_buffers();
                }
                return Poll::Pending;
            }
        }
        // There is more to do right away; let other tasks run first.
        if let Poll::Ready(Err(e)) = self.transport.poll_write_out(cx) {
            return Poll::Ready(Err(Error::new_body_write(e)));
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// Whether the transport holds read or output buffer memory.
    #[cfg(test)]
    pub(crate) fn holds_buffers(&self) -> bool {
        self.transport.holds_buffers()
    }

    /// Between exchanges, with nothing read ahead: what a keep-alive connection does most.
    fn waits_for_next_request(&self) -> bool {
        matches!(self.reading, Reading::Head)
            && matches!(self.writing, Writing::Idle)
            && self.in_flight.is_none()
            && self.transport.read_buf_is_empty()
    }

    fn is_finished(&self) -> bool {
        matches!(self.writing, Writing::Closed)
            || (matches!(self.reading, Reading::Closed)
                && matches!(self.writing, Writing::Idle)
                && self.in_flight.is_none())
    }

    /// Moves on once both halves of the current exchange are complete.
    fn complete_exchange(&mut self) -> bool {
        if !matches!(self.writing, Writing::Done)
            || !matches!(self.reading, Reading::Done | Reading::Closed)
        {
            return false;
        }
        if matches!(self.reading, Reading::Done) && self.keep_alive {
            self.reading = Reading::Head;
            self.writing = Writing::Idle;
            self.request_method = None;
            self.exchanges += 1;
            if self.cfg.flush == FlushPolicy::EachResponse {
                self.write_now = true;
            }
        } else {
            self.reading = Reading::Closed;
            self.writing = Writing::Closed;
        }
        true
    }

    // ===== reading =====

    fn poll_read_side(&mut self, cx: &mut Context<'_>) -> crate::Result<bool> {
        let mut progress = false;
        loop {
            let advanced = match self.reading {
                Reading::Head => {
                    if !matches!(self.writing, Writing::Idle) || self.in_flight.is_some() {
                        return Ok(progress);
                    }
                    self.poll_head(cx)?
                }
                Reading::Body(_) => self.poll_request_body(cx),
                Reading::Done => {
                    self.watch_for_eof(cx)?;
                    return Ok(progress);
                }
                Reading::Closed => {
                    if self.discarding.is_some() && self.poll_discard(cx).is_ready() {
                        progress = true;
                    }
                    return Ok(progress);
                }
            };
            if !advanced {
                return Ok(progress);
            }
            progress = true;
        }
    }

    fn poll_head(&mut self, cx: &mut Context<'_>) -> crate::Result<bool> {
        loop {
            let buffered = self.transport.read_buf().len();
            // An empty buffer holds no head, and no limit rejects it (`max_header_size(0)`
            // does, and so goes through `parse`).
            let nothing_to_parse =
                buffered == 0 && self.cfg.head.max_header_size.is_none_or(|max| max > 0);
            let parsed = if nothing_to_parse {
                Ok(None)
            } else {
                request_head::parse(
                    self.transport.read_buf(),
                    &self.cfg.head,
                    &mut self.scratch,
                    &mut self.spare_headers,
                )
            };
            // The parser itself failed (a head taken out of the buffer failed later, on its
            // framing headers, and what follows it is another message).
            let unparsable = self.transport.read_buf().len() == buffered;
            match parsed {
                Ok(Some(request)) => {
                    if let Some(t) = &mut self.header_timer {
                        t.armed = false;
                    }
                    self.head_partly_read = false;
                    self.deferred_rejection = None;
                    self.start_exchange(request);
                    return Ok(true);
                }
                Ok(None) => self.head_partly_read = !self.transport.read_buf_is_empty(),
                Err(kind)
                    if unparsable && self.head_partly_read && self.may_become_h2_preface() =>
                {
                    // `PRI * HTTP/2` is no HTTP/1 request line, but it may be the start of
                    // HTTP/2's preface, which gets no `400`: wait for the rest, as upstream
                    // does for a later piece of a head until its blank line arrives.
                    self.deferred_rejection = Some(kind);
                }
                Err(kind) => {
                    self.reject_head(Error::new_parse(kind))?;
                    return Ok(true);
                }
            }
            let room = self
                .cfg
                .head
                .max_buf
                .saturating_sub(self.transport.read_buf().len());
            match self.transport.poll_read_parking(cx, Some(room)) {
                Poll::Ready(Ok(0)) => {
                    if let Some(kind) = self.deferred_rejection.take() {
                        self.reject_head(Error::new_parse(kind))?;
                        return Ok(true);
                    }
                    return self.end_of_input_before_head(None);
                }
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(e)) => return self.end_of_input_before_head(Some(e)),
                Poll::Pending => {
                    self.poll_header_timer(cx)?;
                    return Ok(false);
                }
            }
        }
    }

    fn poll_header_timer(&mut self, cx: &mut Context<'_>) -> crate::Result<()> {
        if self
            .header_timer
            .as_mut()
            .is_some_and(|t| t.poll_expired(cx))
        {
            self.reading = Reading::Closed;
            self.keep_alive = false;
            return Err(Error::new_header_timeout());
        }
        Ok(())
    }

    /// EOF (or a read error) while waiting for a head: a clean end between requests, an
    /// error in the middle of one.
    fn end_of_input_before_head(
        &mut self,
        read_error: Option<std::io::Error>,
    ) -> crate::Result<bool> {
        self.reading = Reading::Closed;
        self.keep_alive = false;
        let buf = self.transport.read_buf();
        let leading = buf
            .iter()
            .take_while(|b| matches!(b, b'\r' | b'\n'))
            .count();
        buf.advance(leading);
        if buf.is_empty() {
            return Ok(true);
        }
        if self.has_h2_preface() {
            return Err(Error::new_parse(Parse::VersionH2));
        }
        Err(match read_error {
            Some(e) => Error::new_io(e),
            None => Error::new_incomplete(),
        })
    }

    fn has_h2_preface(&mut self) -> bool {
        self.transport.read_buf().starts_with(H2_PREFACE)
    }

    /// The head so far (past leading empty lines) is a strict prefix of the preface's first
    /// two lines, `PRI * HTTP/2.0` and the empty one. Once those are complete, upstream
    /// decides at once, as the fork does: the preface if all of it is there, else a `400`.
    fn may_become_h2_preface(&mut self) -> bool {
        const PREFACE_LINES: usize = 18;
        let buf = self.transport.read_buf();
        let start = buf
            .iter()
            .take_while(|b| matches!(b, b'\r' | b'\n'))
            .count();
        let head = &buf[start..];
        !head.is_empty() && head.len() < PREFACE_LINES && H2_PREFACE.starts_with(head)
    }

    /// Answers a malformed head with the status hyper sends for it, then ends the connection
    /// with the parse error. Input that gets no answer fails the connection right away.
    fn reject_head(&mut self, err: Error) -> crate::Result<()> {
        self.reading = Reading::Closed;
        self.keep_alive = false;
        let buf = self.transport.read_buf();
        let leading = buf
            .iter()
            .take_while(|b| matches!(b, b'\r' | b'\n'))
            .count();
        buf.advance(leading);
        if self.has_h2_preface() {
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
            self.peer_version,
            false,
            true,
        );
        let cx = EncodeContext {
            request_method: None,
            keep_alive,
            title_case: self.cfg.title_case,
            date_header: self.cfg.date_header,
        };
        self.transport
            .out()
            .encode_flat(|dst| response_head::encode(&mut head, BodySize::Empty, &cx, dst))?;
        self.writing = Writing::Done;
        self.error = Some(err);
        Ok(())
    }

    fn start_exchange(&mut self, parsed: ParsedRequest) {
        let ParsedRequest {
            head,
            body,
            expect_continue,
            keep_alive,
            wants_upgrade,
            te_trailers,
        } = parsed;
        let (mut parts, ()) = head.into_parts();
        self.keep_alive &= keep_alive;
        self.peer_version = parts.version;
        self.request_method = Some(parts.method.clone());
        self.trailers_allowed = te_trailers;
        let expect_continue = expect_continue && parts.version != Version::HTTP_10;
        let framing = body.decoder(self.cfg.head.max_headers, self.cfg.head.max_header_size);
        let incoming = match framing {
            Some((decoder, length)) => {
                let (tx, incoming) = Incoming::channel(length, expect_continue);
                self.reading = Reading::Body(BodyReader {
                    decoder,
                    tx,
                    send_continue: expect_continue,
                });
                incoming
            }
            None => {
                self.reading = Reading::Done;
                Incoming::empty()
            }
        };
        if wants_upgrade {
            let (pending, on_upgrade) = upgrade::pending();
            parts.extensions.insert(on_upgrade);
            // A previous, unanswered upgrade is canceled by replacing it.
            self.upgrade = Some(pending);
        }
        let future = self.service.call(Request::from_parts(parts, incoming));
        self.in_flight.set(Some(future));
    }

    /// Feeds the request body to its receiver; returns whether anything changed.
    fn poll_request_body(&mut self, cx: &mut Context<'_>) -> bool {
        let Reading::Body(reader) = &mut self.reading else {
            return false;
        };
        match reader.tx.poll_ready(cx) {
            Poll::Pending => return false,
            Poll::Ready(Err(_gone)) => {
                self.discard_request_body(cx);
                return true;
            }
            Poll::Ready(Ok(())) => {}
        }
        if reader.send_continue {
            reader.send_continue = false;
            if matches!(self.writing, Writing::Idle) {
                self.transport.out().push_static(CONTINUE);
            }
        }
        loop {
            let at_eof = self.transport.read_eof();
            match reader.decoder.decode(self.transport.read_buf(), at_eof) {
                Ok(Decoded::Data(chunk)) => {
                    if reader.tx.try_send_data(chunk).is_err() {
                        self.abandon_request_body();
                    } else if reader.decoder.is_complete() {
                        self.finish_request_body(None);
                    }
                    return true;
                }
                Ok(Decoded::Trailers(trailers)) => {
                    self.finish_request_body(Some(trailers));
                    return true;
                }
                Ok(Decoded::End) => {
                    self.finish_request_body(None);
                    return true;
                }
                Ok(Decoded::NeedMore) => match self.transport.poll_read_more(cx, None) {
                    Poll::Ready(Ok(_)) => {}
                    Poll::Ready(Err(e)) => {
                        self.fail_request_body(Error::new_body(e));
                        return true;
                    }
                    Poll::Pending => return false,
                },
                Err(e) => {
                    debug!("request body decode error: {}", e);
                    self.fail_request_body(Error::new_body(e));
                    return true;
                }
            }
        }
    }

    fn finish_request_body(&mut self, trailers: Option<HeaderMap>) {
        if let Reading::Body(reader) = std::mem::replace(&mut self.reading, Reading::Done) {
            let mut tx = reader.tx;
            if let Some(trailers) = trailers {
                if tx.send_trailers(trailers).is_err() {
                    self.close_reading(true);
                }
            }
            tx.finish();
        }
    }

    /// The body cannot be read further: its receiver gets `err`, the connection reads no more
    /// and closes after the current response.
    fn fail_request_body(&mut self, err: Error) {
        if let Reading::Body(reader) = std::mem::replace(&mut self.reading, Reading::Closed) {
            reader.tx.fail(err);
        }
    }

    /// The connection failed while a body was being received.
    fn abort_request_body(&mut self) {
        self.fail_request_body(Error::new_body("connection error"));
    }

    /// Nobody will read the rest of the request body. If what is already here completes it,
    /// the connection stays reusable; otherwise it stops reading and closes after the
    /// response, rather than receive an unbounded body for nobody.
    fn discard_request_body(&mut self, cx: &mut Context<'_>) {
        let Reading::Body(reader) = &mut self.reading else {
            return;
        };
        let mut read_once = false;
        let complete = loop {
            let at_eof = self.transport.read_eof();
            match reader.decoder.decode(self.transport.read_buf(), at_eof) {
                Ok(Decoded::NeedMore) if !read_once && self.transport.read_buf_is_empty() => {
                    read_once = true;
                    match self.transport.poll_read_more(cx, None) {
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
            self.finish_request_body(None);
        } else {
            self.abandon_request_body();
        }
    }

    /// Stops reading requests because nobody wants the rest of this one's body. The
    /// connection closes after the response, and the rest of the body is read and thrown
    /// away (see [`poll_discard`](Self::poll_discard)).
    fn abandon_request_body(&mut self) {
        if let Reading::Body(reader) = std::mem::replace(&mut self.reading, Reading::Closed) {
            if !reader.decoder.is_complete() {
                self.discarding = Some(Discard {
                    decoder: reader.decoder,
                    budget: DISCARD_LIMIT,
                });
            }
        }
        self.keep_alive = false;
    }

    /// After the response was sent and the transport shut down, keeps discarding an
    /// abandoned request body for at most the header read timeout. Without a timer nothing
    /// bounds that wait, so only what already arrived is discarded.
    fn poll_linger(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.poll_discard(cx).is_ready() {
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
    fn poll_discard(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some(discard) = &mut self.discarding else {
            return Poll::Ready(());
        };
        loop {
            let at_eof = self.transport.read_eof();
            match discard.decoder.decode(self.transport.read_buf(), at_eof) {
                Ok(Decoded::Data(bytes)) => {
                    discard.budget = discard.budget.saturating_sub(bytes.len());
                    if discard.decoder.is_complete() || discard.budget == 0 {
                        break;
                    }
                }
                Ok(Decoded::NeedMore) => match self.transport.poll_read_more(cx, None) {
                    Poll::Ready(Ok(_)) => {}
                    Poll::Ready(Err(_)) => break,
                    Poll::Pending => return Poll::Pending,
                },
                Ok(Decoded::End | Decoded::Trailers(_)) | Err(_) => break,
            }
        }
        self.discarding = None;
        Poll::Ready(())
    }

    /// Stops reading requests. With `disable_keep_alive`, a response not yet encoded also
    /// tells the peer that the connection closes.
    fn close_reading(&mut self, disable_keep_alive: bool) {
        self.reading = Reading::Closed;
        if disable_keep_alive {
            self.keep_alive = false;
        }
    }

    /// While a response is in progress and the request was read completely, notices the peer
    /// closing the connection: without `half_close`, that ends the connection with an error.
    fn watch_for_eof(&mut self, cx: &mut Context<'_>) -> crate::Result<()> {
        if self.cfg.half_close
            || !self.transport.read_buf_is_empty()
            || !matches!(self.writing, Writing::Idle | Writing::Body)
        {
            return Ok(());
        }
        match self.transport.poll_read_parking(cx, None) {
            Poll::Ready(Ok(0)) => {
                self.close_reading(true);
                Err(Error::new_incomplete())
            }
            Poll::Ready(Ok(_)) | Poll::Pending => Ok(()),
            Poll::Ready(Err(e)) => {
                self.close_reading(true);
                Err(Error::new_io(e))
            }
        }
    }

    // ===== writing =====

    fn poll_write_side(&mut self, cx: &mut Context<'_>) -> crate::Result<bool> {
        let mut progress = false;
        loop {
            match &self.writing {
                Writing::Idle => {
                    let Some(future) = self.in_flight.as_mut().as_pin_mut() else {
                        return Ok(progress);
                    };
                    let Poll::Ready(result) = future.poll(cx) else {
                        return Ok(progress);
                    };
                    self.in_flight.set(None);
                    let response = result.map_err(Error::new_user_service)?;
                    self.start_response(response)?;
                }
                Writing::Body => {
                    let pumped = self.pump.poll_pump(
                        cx,
                        self.transport.out(),
                        self.trailers_allowed,
                        self.cfg.title_case,
                    );
                    match pumped {
                        Poll::Pending => return Ok(progress),
                        Poll::Ready(Ok(Pumped::More)) => {}
                        Poll::Ready(Ok(Pumped::Finished { ends_by_closing })) => {
                            if ends_by_closing {
                                self.keep_alive = false;
                            }
                            self.writing = Writing::Done;
                        }
                        Poll::Ready(Err(err)) => {
                            self.writing = Writing::Closed;
                            return Err(err);
                        }
                    }
                }
                Writing::Done | Writing::Closed => return Ok(progress),
            }
            progress = true;
        }
    }

    fn start_response(&mut self, response: Response<B>) -> crate::Result<()> {
        let (parts, body) = response.into_parts();
        let size = BodySize::of(&body);
        let mut head = ResponseHead {
            status: parts.status,
            version: parts.version,
            headers: parts.headers,
            extensions: parts.extensions,
        };
        let switching_protocols = head.status == StatusCode::SWITCHING_PROTOCOLS;
        self.keep_alive = adjust_for_peer(
            &mut head.version,
            &mut head.headers,
            self.peer_version,
            self.keep_alive,
            !switching_protocols,
        );
        let cx = EncodeContext {
            request_method: self.request_method.as_ref(),
            keep_alive: self.keep_alive,
            title_case: self.cfg.title_case,
            date_header: self.cfg.date_header,
        };
        let encoded = self
            .transport
            .out()
            .encode_flat(|dst| response_head::encode(&mut head, size, &cx, dst));
        let encoded = match encoded {
            Ok(encoded) => encoded,
            Err(err) => {
                self.writing = Writing::Closed;
                return Err(err);
            }
        };
        let mut headers = head.headers;
        headers.clear();
        self.spare_headers = Some(headers);

        if encoded.closes || encoded.body.ends_by_closing() {
            self.keep_alive = false;
        }
        if let Some(err) = encoded.replaced_because {
            self.error.get_or_insert(err);
            self.keep_alive = false;
        }
        if encoded.body.is_complete() {
            self.writing = Writing::Done;
        } else {
            self.writing = Writing::Body;
            self.pump
                .start(encoded.body, (size != BodySize::Empty).then_some(body));
        }
        Ok(())
    }
}

impl<I, S> std::fmt::Debug for ServerConn<I, S>
where
    S: HttpService<Incoming>,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConn")
            .field("transport", &self.transport)
            .field("keep_alive", &self.keep_alive)
            .field("exchanges", &self.exchanges)
            .finish_non_exhaustive()
    }
}
