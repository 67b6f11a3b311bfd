//! The HTTP/1 connection engine: the part of a connection both roles share.
//!
//! A [`Conn`] is the engine plus a [`Role`] ([`server`](super::server) or
//! [`client`](super::client)). The engine owns:
//!
//! - **the exchange loop** ([`Conn::poll_conn`] until the exchanges end): rounds of reading,
//!   writing and completing exchanges, bounded per poll, and the rule for when encoded bytes
//!   go to the transport: before the connection waits for anything, when the output buffer is
//!   full, and (with [`FlushPolicy::EachResponse`]) after each message;
//! - **receiving bodies**: feeding a received body from the read buffer into its [`Incoming`]
//!   as its receiver asks for it, including a `100 Continue` the peer waits for;
//! - **sending bodies**: starting the outgoing message's body in the [`BodyPump`] once its head
//!   is encoded, and pumping it;
//! - **the ending**: once the exchanges end (no keep-alive, an error, a closed handle, an
//!   upgrade), what the connection reports and when, through the transport's
//!   [`poll_end`](Transport::poll_end).
//!
//! A role supplies what differs: which head it parses and how an exchange starts from it,
//! which head it encodes and when the next outgoing message is ready, what it does when a body
//! it receives is not wanted, and who gets an error the connection fails with.
//!
//! # Guarantees
//!
//! - Nothing leaves [`Conn::poll_conn`] as `Ready` before the transport's ending drained every
//!   encoded byte, except after the transport failed (nothing more can reach the peer). So the
//!   connection never completes, shuts down, hands its IO back or hands off an upgrade while
//!   bytes it encoded are unwritten.
//! - The exchange loop returns `Pending` only after every part it waits for (transport, bodies,
//!   the role's service or request queue, timers) registered the task's waker, and never while
//!   bytes it encoded sit unwritten in a buffer that has room: they are written first.
//! - An error that ends the exchanges is offered to the role first (a client hands it to the
//!   request in flight, or back to a queued one that never started); the connection fails
//!   with it only if nobody took it, and otherwise resolves `Ok`. One rule for both
//!   roles when the transport failed: that happens at once, since nothing owed can reach the
//!   peer any more, and polled again the connection resolves `Ok(Ended::Closed)`. Any other
//!   error lets what is owed drain first and leaves the transport open, as upstream does
//!   when an error ends its dispatch loop.
use std::error::Error as StdError;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::HeaderMap;
use http::{Extensions, Method, Version};
use http_body::Body;

use super::body_pump::{BodyPump, Pumped};
use super::framing::decode::{Decoder, Framing};
use super::framing::encode::{BodyEncoder, BodySize};
use super::head_parse::{HeadConfig, HeadScratch};
use super::testing::injected_bugs::{self, Bug};
use super::transport::{BodyPiece, EndError, Ending, Transport};
use crate::body::{Incoming, Sender};
use crate::error::{Error, Kind};
use crate::rt::{Read, Write};
use crate::upgrade;

/// The IO object a connection runs on.
pub(crate) trait Io: Read + Write + Unpin {}

impl<T: Read + Write + Unpin> Io for T {}

/// A body a connection sends; its errors become the connection's user body errors.
pub(crate) trait SendBody:
    Body<Error: Into<Box<dyn StdError + Send + Sync>>> + 'static
{
}

impl<T> SendBody for T
where
    T: Body + 'static,
    T::Error: Into<Box<dyn StdError + Send + Sync>>,
{
}

/// Rounds of work per poll before the connection yields to other tasks.
const ROUNDS_PER_POLL: usize = 16;
const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// How a finished connection leaves [`Conn::poll_conn`].
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

/// When the connection writes encoded bytes to the transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FlushPolicy {
    /// Start writing each outgoing message as soon as it is completely encoded (a server's
    /// choice, so named after its messages; a client always writes before waiting).
    EachResponse,
    /// Keep encoding while there is work that needs no waiting (pipelined requests already
    /// read, body frames already available) and write before waiting for anything, or when
    /// the buffer is full. Messages are never held while the connection waits.
    BeforeWaiting,
}

/// What the engine needs to know of a role's configuration.
pub(crate) struct Settings {
    pub(crate) head: HeadConfig,
    pub(crate) keep_alive: bool,
    pub(crate) title_case: bool,
    /// The peer closing its side after its message is no error (a server's `half_close`).
    pub(crate) half_close: bool,
    pub(crate) flush: FlushPolicy,
}

/// The receiving half of the current exchange.
pub(crate) enum Reading {
    /// Between exchanges. A server waits here for the next request head; a client expects
    /// nothing at all (anything but a clean close is an error).
    Idle,
    /// Waiting for the head that answers the message sent (a client's response).
    Head,
    /// Passing the received body to its `Incoming`.
    Body(BodyReader),
    /// The current message was received completely.
    Done,
    /// Nothing more will be received on this connection.
    Closed,
}

pub(crate) struct BodyReader {
    pub(crate) decoder: Decoder,
    tx: Sender,
    /// The peer asked for `100 Continue` and waits for it before sending the body.
    send_continue: bool,
}

/// The sending half of the current exchange.
#[derive(Debug)]
pub(crate) enum Writing {
    /// Waiting for the next outgoing message.
    Idle,
    /// Encoding the message body (in the pump).
    Body,
    /// The message was encoded completely. Its bytes may still be owed.
    Done,
    /// No message will be encoded any more.
    Closed,
}

/// Why the body being received is not read to its receiver any further.
pub(crate) enum Unread {
    /// The receiver was dropped before asking for more.
    Unwanted,
    /// The receiver was dropped while a chunk was being handed to it.
    Refused,
    /// The body is complete, but its receiver was gone before the trailers.
    TrailersRefused,
}

/// What differs between the server and the client. Each method gets the engine's shared
/// state ([`Core`]) beside the role's own.
///
/// The per-message hooks (`poll_head`, `poll_start` and what they call) are marked
/// `#[inline]` in the roles: each has one call site, and left out of line, moving messages
/// and heads between the frames cost about 3% more instructions per request in
/// `benches/load_callgrind.sh`.
pub(crate) trait Role<I, B: Body> {
    /// Advances reading while no body is being received: waiting for and parsing a head
    /// (`Idle`, `Head`; a parsed head starts receiving its body), and what a role still reads
    /// once reading closed (`Closed`). Returns whether anything changed.
    fn poll_head(&mut self, core: &mut Core<I, B>, cx: &mut Context<'_>) -> crate::Result<bool>;

    /// With writing `Idle`: encodes the head of the next outgoing message if one is ready,
    /// and starts its body (see [`Core::start_body`]). Returns whether anything changed: a
    /// message started, or the role's own state did (a client's handle was dropped); if
    /// not, what the role waits for registered the waker.
    fn poll_start(&mut self, core: &mut Core<I, B>, cx: &mut Context<'_>) -> crate::Result<bool>;

    /// Whether the role has nothing more to do, besides the engine's own reason (writing
    /// closed).
    fn is_finished(&self, core: &Core<I, B>) -> bool;

    /// An exchange completed and the connection is kept for the next one.
    fn on_exchange_kept(&mut self);

    /// The body being received will not be read to its receiver any further.
    fn on_body_unread(&mut self, why: Unread, core: &mut Core<I, B>, cx: &mut Context<'_>);

    /// The exchanges failed with `err`: gives it to whoever can use it. The connection fails
    /// with what is returned.
    fn claim_error(&mut self, err: Error) -> Option<Error>;

    /// Called at the start of each poll of the exchanges.
    fn before_exchanges(&mut self) {}

    /// Waiting with no exchange under way and nothing read ahead: a server gives its buffers
    /// back then (it may hold many idle keep-alive connections).
    fn releases_buffers_while_idle(&self, _core: &Core<I, B>) -> bool {
        false
    }

    /// The exchanges ended without the transport failing; the ending starts.
    fn on_ending(&mut self, _core: &mut Core<I, B>) {}

    /// Each poll while owed bytes drain.
    fn poll_while_draining(&mut self, _core: &mut Core<I, B>, _cx: &mut Context<'_>) {}

    /// After everything owed was written (and the transport shut down, if asked), before a
    /// plain ending resolves.
    fn poll_after_end(&mut self, _core: &mut Core<I, B>, _cx: &mut Context<'_>) -> Poll<()> {
        Poll::Ready(())
    }
}

/// The state both roles share: the transport, the exchange's two halves, and what the current
/// exchange decided about the connection.
pub(crate) struct Core<I, B: Body> {
    pub(super) transport: Transport<I, B::Data>,
    pub(super) head: HeadConfig,
    pub(super) title_case: bool,
    half_close: bool,
    flush: FlushPolicy,
    pump: BodyPump<B>,
    pub(super) reading: Reading,
    pub(super) writing: Writing,
    /// False once anything rules out another exchange on this connection.
    pub(super) keep_alive: bool,
    /// Version of the peer's last message; outgoing heads adapt to it.
    pub(super) peer_version: Version,
    /// The method of the request of the current exchange.
    pub(super) request_method: Option<Method>,
    /// The outgoing body may end with trailers (a client always; a server when asked).
    pub(super) trailers_allowed: bool,
    /// Write out what is owed at the next chance (after a message, [`FlushPolicy::EachResponse`]).
    write_now: bool,
    pub(super) upgrade: Option<upgrade::Pending>,
    /// An error to report once the connection ended (after what is owed was written).
    pub(super) error: Option<Error>,
    /// The exchanges ended with an error: what is owed is still written, but the transport
    /// is not shut down, as upstream leaves it when an error ends its dispatch loop.
    pub(super) failed_unanswered: bool,
    pub(super) scratch: HeadScratch,
    /// The header map of the last outgoing head, for the next parsed one. Always empty: this is
    /// the one place that keeps a map, and it empties it first, so the parsers do not.
    pub(super) spare_headers: Option<HeaderMap>,
}

impl<I: Io, B: SendBody> Core<I, B> {
    /// How many more bytes an incomplete head may take.
    pub(crate) fn head_room(&mut self) -> usize {
        let buffered = self.transport.read_buf().len();
        self.head.max_buf.saturating_sub(buffered)
    }

    /// Nothing more will be received, and the connection will not be reused.
    pub(crate) fn close_reading(&mut self) {
        self.reading = Reading::Closed;
        self.keep_alive = false;
    }

    /// Starts receiving the body a parsed head announced; returns its receiving end.
    #[inline]
    pub(crate) fn start_incoming(&mut self, framing: Framing, expect_continue: bool) -> Incoming {
        match framing.decoder(self.head.max_headers, self.head.max_header_size) {
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
        }
    }

    /// The parsed head asks for an upgrade: the message carries its `OnUpgrade`, and the
    /// connection hands its transport over once everything owed was written.
    #[inline]
    pub(crate) fn offer_upgrade(&mut self, extensions: &mut Extensions) {
        let (pending, on_upgrade) = upgrade::pending();
        extensions.insert(on_upgrade);
        // A previous, unanswered upgrade is canceled by replacing it.
        self.upgrade = Some(pending);
    }

    /// After an outgoing head was encoded with `encoder`: the body follows it (unless the
    /// framing is already complete), and the head's header map is kept for the next parse.
    #[inline]
    pub(crate) fn start_body(
        &mut self,
        encoder: BodyEncoder,
        size: BodySize,
        body: B,
        mut headers: HeaderMap,
    ) {
        // An empty map (the common response) has nothing to clear; `clear` would still walk
        // every index slot.
        if !headers.is_empty() {
            headers.clear();
        }
        self.spare_headers = Some(headers);
        if encoder.is_complete() {
            self.writing = Writing::Done;
        } else {
            self.writing = Writing::Body;
            self.pump
                .start(encoder, (size != BodySize::Empty).then_some(body));
        }
    }

    /// The received body is complete. Returns false if its receiver was gone before the
    /// trailers could be handed over.
    pub(crate) fn finish_incoming(&mut self, trailers: Option<HeaderMap>) -> bool {
        let Reading::Body(reader) = std::mem::replace(&mut self.reading, Reading::Done) else {
            return true;
        };
        let BodyReader {
            decoder, mut tx, ..
        } = reader;
        if matches!(decoder, Decoder::UntilClose { .. }) {
            // The body ran to the end of the connection; nothing follows it.
            self.keep_alive = false;
        }
        let delivered = trailers.is_none_or(|trailers| tx.send_trailers(trailers).is_ok());
        tx.finish();
        delivered
    }

    /// The body cannot be received further: its receiver gets `err`, and nothing more is read.
    pub(crate) fn fail_incoming(&mut self, err: Error) {
        if let Reading::Body(reader) = std::mem::replace(&mut self.reading, Reading::Closed) {
            reader.tx.fail(err);
        }
    }

    /// Feeds the body being received to its receiver; returns whether anything changed.
    fn poll_incoming<R: Role<I, B>>(&mut self, role: &mut R, cx: &mut Context<'_>) -> bool {
        let Reading::Body(reader) = &mut self.reading else {
            return false;
        };
        match reader.tx.poll_ready(cx) {
            Poll::Pending => return false,
            Poll::Ready(Err(_gone)) => {
                role.on_body_unread(Unread::Unwanted, self, cx);
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
        match self.transport.poll_body_piece(cx, &mut reader.decoder) {
            Poll::Pending => return false,
            Poll::Ready(Ok(BodyPiece::Data(chunk))) => {
                if reader.tx.try_send_data(chunk).is_err() {
                    role.on_body_unread(Unread::Refused, self, cx);
                } else if reader.decoder.is_complete() {
                    self.finish_incoming_for(role, cx, None);
                }
            }
            Poll::Ready(Ok(BodyPiece::End { trailers })) => {
                self.finish_incoming_for(role, cx, trailers)
            }
            Poll::Ready(Err(e)) => {
                debug!("received body failed: {}", e);
                self.fail_incoming(Error::new_body(e));
            }
        }
        true
    }

    fn finish_incoming_for<R: Role<I, B>>(
        &mut self,
        role: &mut R,
        cx: &mut Context<'_>,
        trailers: Option<HeaderMap>,
    ) {
        if !self.finish_incoming(trailers) {
            role.on_body_unread(Unread::TrailersRefused, self, cx);
        }
    }

    /// With the peer's message received and ours still being sent, notices the peer closing
    /// the connection: unless half-closing is allowed, that ends the connection with an error.
    fn watch_for_eof(&mut self, cx: &mut Context<'_>) -> crate::Result<()> {
        if self.half_close
            || !self.transport.read_buf_is_empty()
            || !matches!(self.writing, Writing::Idle | Writing::Body)
        {
            return Ok(());
        }
        match self.transport.poll_read_parking(cx, None) {
            Poll::Ready(Ok(0)) => {
                self.close_reading();
                Err(Error::new_incomplete())
            }
            Poll::Ready(Ok(_)) | Poll::Pending => Ok(()),
            Poll::Ready(Err(e)) => {
                self.close_reading();
                Err(Error::new_io(e))
            }
        }
    }

    /// Calls `step` until it changes nothing; returns whether any call did.
    /// (`step` is a function item, not a pointer, so each use compiles to direct calls.)
    fn repeat<R, F>(&mut self, role: &mut R, cx: &mut Context<'_>, step: F) -> crate::Result<bool>
    where
        R: Role<I, B>,
        F: Fn(&mut Self, &mut R, &mut Context<'_>) -> crate::Result<bool>,
    {
        let mut progress = false;
        while step(self, role, cx)? {
            progress = true;
        }
        Ok(progress)
    }

    /// One step of receiving; whether it changed anything.
    fn receive<R: Role<I, B>>(
        &mut self,
        role: &mut R,
        cx: &mut Context<'_>,
    ) -> crate::Result<bool> {
        match self.reading {
            Reading::Body(_) => Ok(self.poll_incoming(role, cx)),
            Reading::Done => {
                self.watch_for_eof(cx)?;
                Ok(false)
            }
            Reading::Idle | Reading::Head | Reading::Closed => role.poll_head(self, cx),
        }
    }

    /// One step of sending; whether it changed anything.
    fn send<R: Role<I, B>>(&mut self, role: &mut R, cx: &mut Context<'_>) -> crate::Result<bool> {
        match self.writing {
            Writing::Idle => role.poll_start(self, cx),
            Writing::Body => {
                let pumped = self.pump.poll_pump(
                    cx,
                    self.transport.out(),
                    self.trailers_allowed,
                    self.title_case,
                );
                match pumped {
                    Poll::Pending => Ok(false),
                    Poll::Ready(Ok(Pumped::More)) => Ok(true),
                    Poll::Ready(Ok(Pumped::Finished { ends_by_closing })) => {
                        if ends_by_closing {
                            self.keep_alive = false;
                        }
                        self.writing = Writing::Done;
                        Ok(true)
                    }
                    Poll::Ready(Err(err)) => {
                        self.writing = Writing::Closed;
                        Err(err)
                    }
                }
            }
            Writing::Done | Writing::Closed => Ok(false),
        }
    }

    /// Moves on once both halves of the current exchange are complete.
    fn complete_exchange<R: Role<I, B>>(&mut self, role: &mut R) -> bool {
        if !matches!(self.writing, Writing::Done)
            || !matches!(self.reading, Reading::Done | Reading::Closed)
        {
            return false;
        }
        if matches!(self.reading, Reading::Done) && self.keep_alive {
            self.reading = Reading::Idle;
            self.writing = Writing::Idle;
            self.request_method = None;
            role.on_exchange_kept();
            if self.flush == FlushPolicy::EachResponse {
                self.write_now = true;
            }
        } else {
            self.reading = Reading::Closed;
            self.writing = Writing::Closed;
        }
        true
    }

    /// Runs exchanges until the connection is finished (`Ready(Ok)`), fails, or has to wait.
    fn poll_exchanges<R: Role<I, B>>(
        &mut self,
        role: &mut R,
        cx: &mut Context<'_>,
    ) -> Poll<crate::Result<()>> {
        role.before_exchanges();
        for _ in 0..ROUNDS_PER_POLL {
            let mut progress = self.repeat(role, cx, Self::receive)?;
            progress |= self.repeat(role, cx, Self::send)?;
            progress |= self.complete_exchange(role);
            if matches!(self.writing, Writing::Closed) || role.is_finished(self) {
                return Poll::Ready(Ok(()));
            }
            let had_room = self.transport.out().has_room();
            let must_write = self.write_now || !had_room;
            // Before waiting for anything, everything owed goes out: a message is never held
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
                // Every blocked part (transport, bodies, the role's sources) registered a
                // wake-up.
                if self.transport.read_buf_is_empty() && role.releases_buffers_while_idle(self) {
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
}

/// An HTTP/1 connection: the engine's shared state, the role, and how far the ending got.
pub(crate) struct Conn<I, R, B: Body> {
    pub(crate) core: Core<I, B>,
    pub(crate) role: R,
    /// `None` while exchanging messages; then how far the ending got.
    ending: Option<Ending>,
}

impl<I: Io, R: Role<I, B>, B: SendBody> Conn<I, R, B> {
    pub(crate) fn with_role(transport: Transport<I, B::Data>, settings: Settings, role: R) -> Self {
        let Settings {
            head,
            keep_alive,
            title_case,
            half_close,
            flush,
        } = settings;
        let core = Core {
            transport,
            head,
            title_case,
            half_close,
            flush,
            pump: BodyPump::new(),
            reading: Reading::Idle,
            writing: Writing::Idle,
            keep_alive,
            peer_version: Version::HTTP_11,
            request_method: None,
            trailers_allowed: false,
            write_now: false,
            upgrade: None,
            error: None,
            failed_unanswered: false,
            scratch: HeadScratch::default(),
            spare_headers: None,
        };
        Conn {
            core,
            role,
            ending: None,
        }
    }

    /// Drives the connection until it has ended, and every byte it encoded was written (or
    /// the transport failed).
    pub(crate) fn poll_conn(
        &mut self,
        cx: &mut Context<'_>,
        mode: EndMode,
    ) -> Poll<crate::Result<Ended>> {
        let Conn { core, role, ending } = self;
        core.transport.unpark_reads();
        let ending = match ending {
            Some(ending) => ending,
            None => {
                match core.poll_exchanges(role, cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Ok(())) => {}
                    Poll::Ready(Err(err)) => {
                        core.fail_incoming(Error::new_body("connection error"));
                        let transport_failed = matches!(err.kind(), Kind::Io | Kind::BodyWrite);
                        let unclaimed = role.claim_error(err);
                        if transport_failed {
                            // Nothing owed can reach the peer any more.
                            *ending = Some(Ending::Broken);
                            return Poll::Ready(unclaimed.map_or(Ok(Ended::Closed), Err));
                        }
                        if let Some(err) = unclaimed {
                            core.error.get_or_insert(err);
                        }
                        core.failed_unanswered = true;
                    }
                }
                role.on_ending(core);
                ending.insert(Ending::Draining)
            }
        };
        match ending {
            Ending::Broken => return Poll::Ready(Ok(Ended::Closed)),
            Ending::Draining => role.poll_while_draining(core, cx),
            Ending::Drained { .. } => {}
        }
        // An upgrade takes the transport as it is; only a plain ending shuts it down.
        let shutdown =
            mode == EndMode::Shutdown && core.upgrade.is_none() && !core.failed_unanswered;
        match core.transport.poll_end(cx, ending, shutdown) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(EndError::Write(e))) => {
                let err = core
                    .error
                    .take()
                    .unwrap_or_else(|| Error::new_body_write(e));
                return Poll::Ready(Err(err));
            }
            Poll::Ready(Err(EndError::Shutdown(e))) => {
                return Poll::Ready(Err(Error::new_shutdown(e)))
            }
        }
        if let Some(pending) = core.upgrade.take() {
            return Poll::Ready(core.error.take().map_or(Ok(Ended::Upgrade(pending)), Err));
        }
        if role.poll_after_end(core, cx).is_pending() {
            return Poll::Pending;
        }
        Poll::Ready(core.error.take().map_or(Ok(Ended::Closed), Err))
    }

    /// Takes the transport, the bytes read past the last message, and the role.
    ///
    /// After the connection future completed this loses nothing. Called earlier (the API
    /// allows it), bytes still owed cannot be delivered; that is logged.
    pub(crate) fn release(self) -> (I, Bytes, R) {
        let Conn { core, role, ending } = self;
        let (io, read_buf, owed) = core
            .transport
            .release_after(ending.unwrap_or(Ending::Broken));
        if owed > 0 {
            warn!(
                "connection parts taken while {} encoded bytes were unwritten",
                owed
            );
        }
        (io, read_buf, role)
    }

    /// Whether the transport holds read or output buffer memory.
    #[cfg(test)]
    pub(crate) fn holds_buffers(&self) -> bool {
        self.core.transport.holds_buffers()
    }
}

impl<I, R, B: Body> std::fmt::Debug for Conn<I, R, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("transport", &self.core.transport)
            .field("writing", &self.core.writing)
            .field("keep_alive", &self.core.keep_alive)
            .finish_non_exhaustive()
    }
}
