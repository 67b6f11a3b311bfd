//! The HTTP/1 client connection: requests from a `SendRequest` handle, one exchange at a time.
//!
//! An exchange starts when the handle's queue yields a request: its head is encoded, its body
//! streamed, and meanwhile the response head is awaited (a server may answer before the
//! request body is complete). The response goes back through the request's reply slot with
//! an [`Incoming`] body fed from the transport. When both directions are complete, the
//! connection waits for the next request (making the handle ready) or is finished.
//!
//! As on the server, finishing only stops encoding: the ending phase drains every owed byte of
//! the request before the transport may be shut down, released, or handed to an upgrade.
use std::convert::Infallible;
use std::error::Error as StdError;
use std::task::{Context, Poll};

use http::header::{self, HeaderMap};
use http::{Method, Request, Response, Version};
use http_body::Body;

use super::body_pump::{BodyPump, Pumped};
use super::framing::decode::{Decoded, Decoder};
use super::framing::encode::{BodyEncoder, BodySize};
use super::head_encode::request as request_head;
use super::head_parse::response::{self as response_head, FinalResponse, ParsedResponse};
use super::head_parse::{HeadConfig, HeadScratch};
use super::header_values::{adjust_for_peer, says_close};
use super::injected_bugs::{self, Bug};
use super::out_buf::WriteMode;
use super::transport::{EndError, Ending, Transport};
use crate::body::{Incoming, Sender};
use crate::client::dispatch::{Callback, Receiver, TrySendError};
use crate::error::{Error, Kind};
use crate::ext::OnInformational;
use crate::rt::{Read, Write};
use crate::upgrade;

/// Rounds of work per poll before the connection yields to other tasks.
const ROUNDS_PER_POLL: usize = 16;

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

/// How a finished connection leaves [`ClientConn::poll_conn`].
pub(crate) enum Ended {
    Closed,
    Upgrade(upgrade::Pending),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EndMode {
    Shutdown,
    KeepOpen,
}

enum Reading {
    /// No exchange in flight: the server has nothing to say.
    Idle,
    /// Waiting for the response head.
    Head,
    Body {
        decoder: Decoder,
        tx: Sender,
    },
    Done,
    Closed,
}

#[derive(Debug)]
enum Writing {
    Idle,
    /// Encoding the request body (in the pump).
    Body,
    Done,
    Closed,
}

pub(crate) struct ClientConn<I, B: Body> {
    transport: Transport<I, B::Data>,
    cfg: ClientConfig,
    requests: Requests<B>,
    requests_closed: bool,
    reply: Option<Reply<B>>,
    pump: BodyPump<B>,
    reading: Reading,
    writing: Writing,
    /// `None` while exchanging messages; then how far the ending got.
    ending: Option<Ending>,
    keep_alive: bool,
    peer_version: Version,
    request_method: Option<Method>,
    /// An HTTP/0.9 answer is accepted only as the first response.
    http09: bool,
    upgrade: Option<upgrade::Pending>,
    on_informational: Option<OnInformational>,
    error: Option<Error>,
    /// The exchanges ended with an error: what is owed is still written, but the transport
    /// is not shut down, as upstream leaves it when an error ends its dispatch loop.
    failed: bool,
    /// An exchange completed and the connection was kept for the next one. Only then is end
    /// of file while idle a clean close; before the first exchange it is an error (upstream
    /// 1.13.0 hands a queued request back with it, and fails the connection otherwise).
    kept_alive: bool,
    scratch: HeadScratch,
    spare_headers: Option<HeaderMap>,
}

impl<I, B> ClientConn<I, B>
where
    I: Read + Write + Unpin,
    B: Body + 'static,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    pub(crate) fn new(io: I, requests: Requests<B>, mut cfg: ClientConfig) -> Self {
        // Exact reads bound response heads; the write buffer keeps its own limit.
        let write_max = cfg.head.max_buf;
        if let Some(exact) = cfg.read_exact {
            cfg.head.max_buf = exact;
        }
        let transport = Transport::new(io, cfg.write_mode, write_max, cfg.read_exact);
        ClientConn {
            transport,
            http09: cfg.http09,
            cfg,
            requests,
            requests_closed: false,
            reply: None,
            pump: BodyPump::new(),
            reading: Reading::Idle,
            writing: Writing::Idle,
            ending: None,
            keep_alive: true,
            peer_version: Version::HTTP_11,
            request_method: None,
            upgrade: None,
            on_informational: None,
            error: None,
            failed: false,
            kept_alive: false,
            scratch: HeadScratch::default(),
            spare_headers: None,
        }
    }

    /// Drives the connection until it has ended and every request byte was written.
    pub(crate) fn poll_conn(
        &mut self,
        cx: &mut Context<'_>,
        mode: EndMode,
    ) -> Poll<crate::Result<Ended>> {
        if self.ending.is_none() {
            match self.poll_exchanges(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(err)) => {
                    self.fail_response_body();
                    let transport_failed = matches!(err.kind(), Kind::Io | Kind::BodyWrite);
                    self.error = self.report(err);
                    self.failed = true;
                    if transport_failed {
                        // Nothing owed can reach the peer any more.
                        self.ending = Some(Ending::Broken);
                        return Poll::Ready(self.error.take().map_or(Ok(Ended::Closed), Err));
                    }
                }
            }
            // Requests queued behind the last exchange never start: they go back to their
            // senders now, not when the connection is dropped. An upgrade keeps the channel
            // open (and not ready) until the transport is taken out of the connection.
            if self.upgrade.is_none() {
                self.requests.cancel_queued();
            }
            self.ending = Some(Ending::Draining);
        }
        // An upgrade takes the transport as it is; only a plain ending shuts it down.
        let shutdown = mode == EndMode::Shutdown && self.upgrade.is_none() && !self.failed;
        let Some(ending) = &mut self.ending else {
            return Poll::Pending;
        };
        if matches!(ending, Ending::Broken) {
            return Poll::Ready(Ok(Ended::Closed));
        }
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
        Poll::Ready(self.error.take().map_or(Ok(Ended::Closed), Err))
    }

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

    /// Takes the transport and the bytes read past the last response.
    pub(crate) fn into_parts(self) -> (I, bytes::Bytes) {
        let ending = self.ending.unwrap_or(Ending::Broken);
        let (io, read_buf, owed) = self.transport.release_after(ending);
        if owed > 0 {
            warn!(
                "connection parts taken while {} encoded bytes were unwritten",
                owed
            );
        }
        (io, read_buf)
    }

    // ===== the running phase =====

    fn poll_exchanges(&mut self, cx: &mut Context<'_>) -> Poll<crate::Result<()>> {
        for _ in 0..ROUNDS_PER_POLL {
            // Reading first: a server that closed while the connection was idle is noticed
            // before a queued request is taken, so that request comes back unsent.
            let mut progress = self.poll_read_side(cx)?;
            progress |= self.poll_write_side(cx)?;
            progress |= self.complete_exchange();
            if self.is_finished() {
                return Poll::Ready(Ok(()));
            }
            let skip_write = !progress && injected_bugs::active(Bug::YieldWithoutWriting);
            if (!progress || !self.transport.out().has_room()) && !skip_write {
                let owed = self.transport.owed();
                if let Poll::Ready(Err(e)) = self.transport.poll_write_out(cx) {
                    return Poll::Ready(Err(Error::new_body_write(e)));
                }
                progress |= self.transport.owed() < owed;
            }
            if !progress {
                return Poll::Pending;
            }
        }
        if let Poll::Ready(Err(e)) = self.transport.poll_write_out(cx) {
            return Poll::Ready(Err(Error::new_body_write(e)));
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// A client that can no longer read is done, as is one whose handle is gone while idle.
    fn is_finished(&self) -> bool {
        matches!(self.reading, Reading::Closed)
            || matches!(self.writing, Writing::Closed)
            || (self.requests_closed
                && matches!(self.reading, Reading::Idle)
                && matches!(self.writing, Writing::Idle))
    }

    fn complete_exchange(&mut self) -> bool {
        if !matches!(self.writing, Writing::Done) || !matches!(self.reading, Reading::Done) {
            return false;
        }
        if self.keep_alive {
            self.reading = Reading::Idle;
            self.writing = Writing::Idle;
            self.request_method = None;
            self.kept_alive = true;
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
                Reading::Idle => return self.expect_silence(cx).map(|closed| progress || closed),
                Reading::Head => self.poll_response_head(cx)?,
                Reading::Body { .. } => self.poll_response_body(cx),
                Reading::Done => {
                    self.watch_for_eof(cx)?;
                    return Ok(progress);
                }
                Reading::Closed => return Ok(progress),
            };
            if !advanced {
                return Ok(progress);
            }
            progress = true;
        }
    }

    /// Between exchanges the server must not send anything; EOF then is a clean close.
    fn expect_silence(&mut self, cx: &mut Context<'_>) -> crate::Result<bool> {
        if !self.transport.read_buf_is_empty() {
            return Err(Error::new(Kind::UnexpectedMessage));
        }
        match self.transport.poll_read_more(cx, None) {
            Poll::Ready(Ok(0)) => {
                self.reading = Reading::Closed;
                self.keep_alive = false;
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

    fn poll_response_head(&mut self, cx: &mut Context<'_>) -> crate::Result<bool> {
        // Nobody waits for this response any more: the connection cannot be reused without
        // reading it, so it ends.
        if let Some(reply) = &mut self.reply {
            if reply.poll_canceled(cx).is_ready() {
                self.reply = None;
                self.reading = Reading::Closed;
                self.keep_alive = false;
                return Ok(true);
            }
        }
        loop {
            let parsed = response_head::parse(
                self.transport.read_buf(),
                &self.cfg.head,
                &mut self.scratch,
                &mut self.spare_headers,
                self.request_method.as_ref(),
                self.http09,
            );
            let parsed = match parsed {
                Ok(parsed) => parsed,
                Err(e) => return self.fail_head(Error::new_parse(e)),
            };
            match parsed {
                Some(ParsedResponse::Interim(interim)) => {
                    if let Some(callback) = &self.on_informational {
                        callback.call(&interim);
                    }
                }
                Some(ParsedResponse::Final(response)) => {
                    self.deliver(response)?;
                    return Ok(true);
                }
                // An incomplete head never grows past the limit (with exact-size reads, the
                // read size): a head that would end beyond it is too large, as upstream's.
                None => {
                    let room = self.head_room();
                    match self.transport.poll_read_more(cx, Some(room)) {
                        Poll::Ready(Ok(0)) => return self.fail_head(Error::new_incomplete()),
                        Poll::Ready(Ok(_)) => {}
                        Poll::Ready(Err(e)) => return Err(Error::new_io(e)),
                        Poll::Pending => return Ok(false),
                    }
                }
            }
        }
    }

    /// How many more bytes an incomplete response head may take.
    fn head_room(&mut self) -> usize {
        let buffered = self.transport.read_buf().len();
        self.cfg.head.max_buf.saturating_sub(buffered)
    }

    /// A response head that cannot be read (malformed, or cut short by end of file) fails the
    /// request waiting for it. If the error reached a request, the connection then ends as
    /// a closed one does, shutting its transport down; if it reached nobody, it fails the
    /// connection. Upstream's dispatcher treats head errors the same way.
    fn fail_head(&mut self, err: Error) -> crate::Result<bool> {
        match self.report(err) {
            None => {
                self.reading = Reading::Closed;
                self.keep_alive = false;
                Ok(true)
            }
            Some(err) => Err(err),
        }
    }

    fn deliver(&mut self, response: FinalResponse) -> crate::Result<()> {
        let FinalResponse {
            head,
            body,
            keep_alive,
            upgrade,
        } = response;
        self.keep_alive &= keep_alive;
        self.peer_version = head.version();
        self.http09 = false;
        self.on_informational = None;
        let (mut parts, ()) = head.into_parts();
        let incoming = match body.decoder(self.cfg.head.max_headers, self.cfg.head.max_header_size)
        {
            Some((decoder, length)) => {
                let (tx, incoming) = Incoming::channel(length, false);
                self.reading = Reading::Body { decoder, tx };
                incoming
            }
            None => {
                self.reading = Reading::Done;
                Incoming::empty()
            }
        };
        if upgrade {
            let (pending, on_upgrade) = upgrade::pending();
            parts.extensions.insert(on_upgrade);
            self.upgrade = Some(pending);
            self.keep_alive = false;
        }
        let Some(reply) = self.reply.take() else {
            return Err(Error::new(Kind::UnexpectedMessage));
        };
        reply.send(Ok(Response::from_parts(parts, incoming)));
        Ok(())
    }

    fn poll_response_body(&mut self, cx: &mut Context<'_>) -> bool {
        let Reading::Body { decoder, tx } = &mut self.reading else {
            return false;
        };
        match tx.poll_ready(cx) {
            Poll::Pending => return false,
            Poll::Ready(Err(_gone)) => {
                // Nobody reads the rest; the connection cannot be reused.
                self.reading = Reading::Closed;
                self.keep_alive = false;
                return true;
            }
            Poll::Ready(Ok(())) => {}
        }
        loop {
            let at_eof = self.transport.read_eof();
            match decoder.decode(self.transport.read_buf(), at_eof) {
                Ok(Decoded::Data(chunk)) => {
                    if tx.try_send_data(chunk).is_err() {
                        self.reading = Reading::Closed;
                        self.keep_alive = false;
                    } else if decoder.is_complete() {
                        self.finish_response_body(None);
                    }
                    return true;
                }
                Ok(Decoded::Trailers(trailers)) => {
                    self.finish_response_body(Some(trailers));
                    return true;
                }
                Ok(Decoded::End) => {
                    self.finish_response_body(None);
                    return true;
                }
                Ok(Decoded::NeedMore) => match self.transport.poll_read_more(cx, None) {
                    Poll::Ready(Ok(_)) => {}
                    Poll::Ready(Err(e)) => {
                        self.fail_response_body_with(Error::new_body(e));
                        return true;
                    }
                    Poll::Pending => return false,
                },
                Err(e) => {
                    self.fail_response_body_with(Error::new_body(e));
                    return true;
                }
            }
        }
    }

    fn finish_response_body(&mut self, trailers: Option<HeaderMap>) {
        if let Reading::Body { mut tx, decoder } =
            std::mem::replace(&mut self.reading, Reading::Done)
        {
            if decoder_ended_by_close(&decoder) {
                // The body ran to the end of the connection; nothing follows it.
                self.keep_alive = false;
            }
            if let Some(trailers) = trailers {
                if tx.send_trailers(trailers).is_err() {
                    self.keep_alive = false;
                }
            }
            tx.finish();
        }
    }

    fn fail_response_body_with(&mut self, err: Error) {
        if let Reading::Body { tx, .. } = std::mem::replace(&mut self.reading, Reading::Closed) {
            tx.fail(err);
        }
    }

    fn fail_response_body(&mut self) {
        self.fail_response_body_with(Error::new_body("connection error"));
    }

    /// With the response read and the request still being sent, notices the server closing.
    fn watch_for_eof(&mut self, cx: &mut Context<'_>) -> crate::Result<()> {
        if !self.transport.read_buf_is_empty()
            || !matches!(self.writing, Writing::Idle | Writing::Body)
        {
            return Ok(());
        }
        match self.transport.poll_read_more(cx, None) {
            Poll::Ready(Ok(0)) => {
                self.reading = Reading::Closed;
                self.keep_alive = false;
                Err(Error::new_incomplete())
            }
            Poll::Ready(Ok(_)) | Poll::Pending => Ok(()),
            Poll::Ready(Err(e)) => Err(Error::new_io(e)),
        }
    }

    // ===== writing =====

    fn poll_write_side(&mut self, cx: &mut Context<'_>) -> crate::Result<bool> {
        let mut progress = false;
        loop {
            match &self.writing {
                Writing::Idle => {
                    if !matches!(self.reading, Reading::Idle)
                        || self.requests_closed
                        || !self.keep_alive
                    {
                        return Ok(progress);
                    }
                    match self.requests.poll_recv(cx) {
                        Poll::Pending => return Ok(progress),
                        Poll::Ready(None) => {
                            self.requests_closed = true;
                            return Ok(true);
                        }
                        Poll::Ready(Some((request, mut reply))) => {
                            if reply.poll_canceled(cx).is_ready() {
                                // The caller gave up before the request started.
                                continue;
                            }
                            self.start_request(request, reply);
                        }
                    }
                }
                Writing::Body => {
                    let pumped =
                        self.pump
                            .poll_pump(cx, self.transport.out(), true, self.cfg.title_case);
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

    fn start_request(&mut self, request: Request<B>, reply: Reply<B>) {
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
            self.keep_alive = false;
        }
        self.keep_alive = adjust_for_peer(
            &mut parts.version,
            &mut parts.headers,
            self.peer_version,
            self.keep_alive,
            true,
        );
        self.request_method = Some(parts.method.clone());
        self.on_informational = parts.extensions.remove::<OnInformational>();
        let title_case = self.cfg.title_case;
        let encoded: Result<BodyEncoder, Infallible> = self
            .transport
            .out()
            .encode_flat(|dst| Ok(request_head::encode(&mut parts, size, title_case, dst)));
        let Ok(encoder) = encoded;
        let mut headers = parts.headers;
        headers.clear();
        self.spare_headers = Some(headers);
        if encoder.is_complete() {
            self.writing = Writing::Done;
        } else {
            self.writing = Writing::Body;
            self.pump
                .start(encoder, (size != BodySize::Empty).then_some(body));
        }
        self.reading = Reading::Head;
        self.reply = Some(reply);
    }
}

fn decoder_ended_by_close(decoder: &Decoder) -> bool {
    matches!(decoder, Decoder::UntilClose { .. })
}

impl<I, B: Body> std::fmt::Debug for ClientConn<I, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConn")
            .field("transport", &self.transport)
            .field("writing", &self.writing)
            .field("keep_alive", &self.keep_alive)
            .finish_non_exhaustive()
    }
}
