//! The differential check of the fork against upstream hyper 1.13.0 on in-memory HTTP/1
//! connections, shared by the proptest in `tests/differential_fuzz.rs` and the cargo-fuzz
//! targets `differential_server` and `differential_client` (which include this file by path,
//! so both crates must be dependencies under the names `hyper` and `hyper_upstream`).
//!
//! A case is a byte string: two bytes of options, one byte choosing how the rest is cut into
//! pieces, then the bytes the peer sends. Both crates read the same pieces, in the same order,
//! from a [`Wire`] that never blocks on its own, and are driven by the same busy-polling loop
//! with a no-op waker, no executor and no timer: an outcome is a function of the case alone,
//! never of timing. The comparator ([`judge_server`], [`judge_client`]) requires equal
//! outcomes, except for the differences `UPSTREAM.md` documents, each a [`Deliberate`] variant
//! with the condition under which it is accepted.
#![allow(dead_code)] // Each includer uses one role or both.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};

#[path = "dates.rs"]
mod dates;

/// What a `Date` value reads as in [`ServerOutcome::written`]: blanked, as the clock differs.
const BLANK_DATE: &[u8; 29] = &[b'-'; 29];

/// What the peer does after its last piece.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// It half-closes: every later read returns end of file.
    Eof,
    /// It stays connected and silent: every later read is `Pending`.
    Idle,
}

/// How the wire accepts writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteMode {
    /// Each write (and the shutdown) is `Pending` for the rest of the driver's poll in which
    /// it is first tried, and accepted in a later one.
    pub pending_first: bool,
    /// A write accepts at most [`SHORT_WRITE`] bytes.
    pub short: bool,
}

/// The most a write accepts in [`WriteMode::short`].
pub const SHORT_WRITE: usize = 7;

/// One read's worth of the peer's bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Piece {
    pub bytes: Vec<u8>,
    /// Reads before this piece are `Pending` for the rest of the driver's poll in which the
    /// first of them is tried, as if the piece were still in flight.
    pub pause_before: bool,
}

/// A decoded case: options for the role, and what the peer sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case {
    /// Bits 0-10 are the role's builder options (see [`ServerOptions`], [`ClientOptions`]).
    pub options: u16,
    pub pieces: Vec<Piece>,
    pub ending: Ending,
    pub writes: WriteMode,
}

const ENDING_IDLE: u16 = 1 << 11;
const PAUSES: u16 = 1 << 12;
const WRITES_PENDING: u16 = 1 << 13;
const WRITES_SHORT: u16 = 1 << 14;

/// Piece lengths are drawn from `1..=span`, the span chosen by the cut byte's low three bits
/// (`0` keeps the bytes in one piece).
const CUT_SPANS: [usize; 8] = [usize::MAX, 1, 2, 3, 5, 8, 17, 64];

impl Case {
    /// Reads a case from fuzzer bytes: `[options lo, options hi, cut, peer bytes...]`.
    pub fn decode(data: &[u8]) -> Option<Case> {
        let [lo, hi, cut, wire @ ..] = data else {
            return None;
        };
        let options = u16::from_le_bytes([*lo, *hi]);
        let span = CUT_SPANS[usize::from(cut & 7)];
        // A small xorshift seeded by the cut byte's other bits places the cuts and pauses, so
        // a fuzzer mutating the peer's bytes keeps the same cutting pattern.
        let mut state = 0x9e37_79b9_u32 ^ (u32::from(cut >> 3) << 8 | 1);
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state
        };
        let mut pieces = Vec::new();
        let mut rest = wire;
        while !rest.is_empty() {
            let len = if span == usize::MAX {
                rest.len()
            } else {
                1 + (next() as usize) % span
            }
            .min(rest.len());
            let pause_before = options & PAUSES != 0 && !pieces.is_empty() && next() & 1 == 1;
            pieces.push(Piece {
                bytes: rest[..len].to_vec(),
                pause_before,
            });
            rest = &rest[len..];
        }
        Some(Case {
            options,
            pieces,
            ending: if options & ENDING_IDLE != 0 {
                Ending::Idle
            } else {
                Ending::Eof
            },
            writes: WriteMode {
                pending_first: options & WRITES_PENDING != 0,
                short: options & WRITES_SHORT != 0,
            },
        })
    }

    /// The inverse of [`Case::decode`] for the proptest, which builds cases from parts.
    pub fn encode(options: u16, cut: u8, wire: &[u8]) -> Vec<u8> {
        let mut data = options.to_le_bytes().to_vec();
        data.push(cut);
        data.extend_from_slice(wire);
        data
    }

    /// The same case with the peer's bytes in one piece.
    pub fn in_one_piece(&self) -> Case {
        let bytes: Vec<u8> = self.pieces.iter().flat_map(|p| p.bytes.clone()).collect();
        let pieces = if bytes.is_empty() {
            Vec::new()
        } else {
            vec![Piece {
                bytes,
                pause_before: false,
            }]
        };
        Case {
            pieces,
            ..self.clone()
        }
    }

    fn bit(&self, n: u32) -> bool {
        self.options & (1 << n) != 0
    }
}

/// The peer's side of an in-memory connection: serves the case's pieces in order, records
/// every byte written, and counts what happened so the driver can tell a quiet connection.
#[derive(Debug)]
pub struct Wire {
    pieces: VecDeque<Piece>,
    /// How much of the front piece was read.
    offset: usize,
    ending: Ending,
    writes: WriteMode,
    /// Reads wait until a request head was written (the client role: a server answers what it
    /// was asked, and bytes arriving at an idle client are a different case).
    answers_requests: bool,
    /// The driver's poll, counted by [`drive`]: a `Pending` lasts until the next one, since a
    /// connection may try again at once within the same poll (hyper's dispatch loops do).
    tick: u64,
    /// The poll in which reads wait for the front piece.
    read_blocked_in: Option<u64>,
    /// The poll in which the next write (or the shutdown) was first tried.
    write_blocked_in: Option<u64>,
    pub written: Vec<u8>,
    pub shut_down: bool,
    /// Bumped by every read or write that moved bytes, and by the shutdown.
    pub activity: u64,
}

impl Wire {
    pub fn new(case: &Case, answers_requests: bool) -> Wire {
        Wire {
            answers_requests,
            pieces: case.pieces.iter().cloned().collect(),
            offset: 0,
            ending: case.ending,
            writes: case.writes,
            tick: 0,
            read_blocked_in: None,
            write_blocked_in: None,
            written: Vec::new(),
            shut_down: false,
            activity: 0,
        }
    }

    /// Up to `room` bytes of the front piece (never more than one piece), an empty read at end
    /// of file, or `Pending` for a pause or a silent peer.
    fn read(&mut self, room: usize) -> Poll<Vec<u8>> {
        let Some(front) = self.pieces.front_mut() else {
            return match self.ending {
                Ending::Eof => Poll::Ready(Vec::new()),
                Ending::Idle => Poll::Pending,
            };
        };
        if front.pause_before {
            front.pause_before = false;
            self.read_blocked_in = Some(self.tick);
        }
        if self.read_blocked_in == Some(self.tick) {
            return Poll::Pending;
        }
        if self.answers_requests && !self.written.windows(4).any(|w| w == b"\r\n\r\n") {
            return Poll::Pending;
        }
        if room == 0 {
            return Poll::Pending;
        }
        let n = room.min(front.bytes.len() - self.offset);
        let out = front.bytes[self.offset..self.offset + n].to_vec();
        self.offset += n;
        if self.offset == front.bytes.len() {
            self.pieces.pop_front();
            self.offset = 0;
        }
        self.activity += 1;
        Poll::Ready(out)
    }

    /// Whether this write (or shutdown) is still `Pending`: each one is, for the rest of the
    /// poll in which it is first tried, when the write mode asks for it.
    fn defer(&mut self) -> bool {
        if !self.writes.pending_first {
            return false;
        }
        match self.write_blocked_in {
            Some(tick) if tick == self.tick => true,
            Some(_) => {
                self.write_blocked_in = None;
                false
            }
            None => {
                self.write_blocked_in = Some(self.tick);
                true
            }
        }
    }

    fn write(&mut self, bufs: &[&[u8]]) -> Poll<usize> {
        if self.defer() {
            return Poll::Pending;
        }
        let limit = if self.writes.short {
            SHORT_WRITE
        } else {
            usize::MAX
        };
        let mut n = 0;
        for buf in bufs {
            let take = buf.len().min(limit - n);
            self.written.extend_from_slice(&buf[..take]);
            n += take;
            if n == limit {
                break;
            }
        }
        if n > 0 {
            self.activity += 1;
        }
        Poll::Ready(n)
    }

    fn shutdown(&mut self) -> Poll<()> {
        if self.defer() {
            return Poll::Pending;
        }
        if !self.shut_down {
            self.shut_down = true;
            self.activity += 1;
        }
        Poll::Ready(())
    }
}

/// The IO handed to a connection; the test keeps another handle to read the results.
pub struct WireIo(pub Rc<RefCell<Wire>>);

/// Polls after which a connection that neither finished nor touched its wire is taken to wait
/// for its peer. Each poll re-polls everything (the waker is a no-op), so a connection with
/// work to do does it within a few polls; hyper's dispatch loops yield every 16 rounds.
const QUIET_POLLS: usize = 256;
/// A connection still busy after this many polls is reported as open (a livelock).
const MAX_POLLS: usize = 1_000_000;

/// Polls `fut` until it completes (`Some`) or the connection goes quiet (`None`).
pub fn drive<F: Future>(fut: F, wire: &Rc<RefCell<Wire>>) -> Option<F::Output> {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    let mut last = wire.borrow().activity;
    let mut quiet = 0;
    for _ in 0..MAX_POLLS {
        wire.borrow_mut().tick += 1;
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return Some(out);
        }
        let now = wire.borrow().activity;
        if now == last {
            quiet += 1;
            if quiet > QUIET_POLLS {
                return None;
            }
        } else {
            quiet = 0;
            last = now;
        }
    }
    None
}

/// Polls two futures until both complete.
async fn both(a: impl Future<Output = ()>, b: impl Future<Output = ()>) {
    let mut a = pin!(a);
    let mut b = pin!(b);
    let (mut a_done, mut b_done) = (false, false);
    std::future::poll_fn(move |cx| {
        if !a_done {
            a_done = a.as_mut().poll(cx).is_ready();
        }
        if !b_done {
            b_done = b.as_mut().poll(cx).is_ready();
        }
        if a_done && b_done {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await
}

/// A `hyper::Error`'s predicates, which is what applications branch on. The message is kept
/// for reports only and is not compared.
#[derive(Clone)]
pub struct ErrorSeen {
    pub kinds: [bool; 11],
    pub message: String,
}

/// The names of [`ErrorSeen::kinds`], in order.
pub const ERROR_PREDICATES: [&str; 11] = [
    "is_parse",
    "is_parse_too_large",
    "is_parse_status",
    "is_parse_version_h2",
    "is_user",
    "is_canceled",
    "is_closed",
    "is_incomplete_message",
    "is_body_write_aborted",
    "is_shutdown",
    "is_timeout",
];

impl PartialEq for ErrorSeen {
    fn eq(&self, other: &Self) -> bool {
        self.kinds == other.kinds
    }
}

impl fmt::Debug for ErrorSeen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kinds: Vec<&str> = ERROR_PREDICATES
            .iter()
            .zip(self.kinds)
            .filter_map(|(name, on)| on.then_some(*name))
            .collect();
        write!(f, "[{}] {:?}", kinds.join(", "), self.message)
    }
}

/// How a connection ended when the driver stopped.
#[derive(Clone, Debug, PartialEq)]
pub enum End {
    Finished,
    Failed(ErrorSeen),
    /// Neither finished nor failed: it waits for its peer.
    Open,
}

/// A header section as the application sees it.
pub type Headers = Vec<(String, WireBytes)>;

/// Bytes that show as an escaped byte string in reports.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct WireBytes(pub Vec<u8>);

impl fmt::Debug for WireBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "b\"{}\"", escape(&self.0))
    }
}

/// A body as the application read it, frame by frame.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BodySeen {
    pub data: WireBytes,
    pub trailers: Option<Headers>,
    pub error: Option<ErrorSeen>,
    /// The body reported its end (`None` from `frame()`).
    pub ended: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RequestSeen {
    pub method: String,
    pub uri: String,
    pub version: String,
    pub headers: Headers,
    pub body: BodySeen,
}

/// What a server connection did with a case.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerOutcome {
    /// What the service saw, request by request.
    pub requests: Vec<RequestSeen>,
    /// Every byte the connection wrote, with `Date` values blanked.
    pub written: WireBytes,
    pub end: End,
    pub shut_down: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ResponseSeen {
    pub status: u16,
    pub version: String,
    pub headers: Headers,
    pub body: BodySeen,
}

/// One request the client tried to send.
#[derive(Clone, Debug, PartialEq)]
pub enum ExchangeSeen {
    Response(ResponseSeen),
    /// `send_request` failed.
    Failed(ErrorSeen),
    /// `ready()` failed before a further request.
    NotReady(ErrorSeen),
}

/// What a client connection did with a case (the peer's bytes being the responses).
#[derive(Clone, Debug, PartialEq)]
pub struct ClientOutcome {
    /// `Err` when the handshake itself failed.
    pub exchanges: Result<Vec<ExchangeSeen>, ErrorSeen>,
    /// The request bytes the client wrote.
    pub written: WireBytes,
    pub end: End,
    pub shut_down: bool,
}

/// The server builder options a case's bits 0-10 turn on.
#[derive(Clone, Copy, Debug)]
pub struct ServerOptions {
    pub half_close: bool,
    pub keep_alive: bool,
    pub title_case_headers: bool,
    pub preserve_header_case: bool,
    pub pipeline_flush: bool,
    pub writev: Option<bool>,
    pub ignore_invalid_headers: bool,
    pub allow_multiple_spaces: bool,
    pub small_buffer: bool,
    pub few_headers: bool,
}

impl ServerOptions {
    pub fn of(case: &Case) -> ServerOptions {
        ServerOptions {
            half_close: case.bit(0),
            keep_alive: !case.bit(1),
            title_case_headers: case.bit(2),
            preserve_header_case: case.bit(3),
            pipeline_flush: case.bit(4),
            writev: match (case.bit(5), case.bit(6)) {
                (false, false) => None,
                (true, false) => Some(true),
                (_, true) => Some(false),
            },
            ignore_invalid_headers: case.bit(7),
            allow_multiple_spaces: case.bit(8),
            small_buffer: case.bit(9),
            few_headers: case.bit(10),
        }
    }
}

/// A client case's bit for `read_buf_exact_size(Some(64))`: heads then arrive in 64-byte reads
/// whatever the pieces.
const CLIENT_EXACT_READ: u16 = 1 << 10;

/// The method of the client's requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientMethod {
    Get,
    Head,
    /// With a five-byte body.
    Post,
    Connect,
}

/// The client builder options (and requests) a case's bits 0-10 turn on.
#[derive(Clone, Copy, Debug)]
pub struct ClientOptions {
    pub http09_responses: bool,
    pub obsolete_multiline_headers: bool,
    pub spaces_after_header_name: bool,
    pub ignore_invalid_headers: bool,
    pub title_case_headers: bool,
    pub preserve_header_case: bool,
    pub method: ClientMethod,
    /// A second request after the first exchange (keep-alive).
    pub second_request: bool,
    pub small_buffer: bool,
    pub exact_read_size: bool,
}

impl ClientOptions {
    pub fn of(case: &Case) -> ClientOptions {
        ClientOptions {
            http09_responses: case.bit(0),
            obsolete_multiline_headers: case.bit(1),
            spaces_after_header_name: case.bit(2),
            ignore_invalid_headers: case.bit(3),
            title_case_headers: case.bit(4),
            preserve_header_case: case.bit(5),
            method: match (case.bit(6), case.bit(7)) {
                (false, false) => ClientMethod::Get,
                (true, false) => ClientMethod::Head,
                (false, true) => ClientMethod::Post,
                (true, true) => ClientMethod::Connect,
            },
            second_request: case.bit(8),
            small_buffer: case.bit(9),
            // The two buffer options exclude each other in both builders.
            exact_read_size: case.options & CLIENT_EXACT_READ != 0 && !case.bit(9),
        }
    }
}

fn header_list(map: &hyper::HeaderMap) -> Headers {
    map.iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                WireBytes(value.as_bytes().to_vec()),
            )
        })
        .collect()
}

fn client_request_parts(method: ClientMethod) -> (&'static str, &'static str, &'static [u8]) {
    match method {
        ClientMethod::Get => ("GET", "/", b""),
        ClientMethod::Head => ("HEAD", "/", b""),
        ClientMethod::Post => ("POST", "/upload", b"hello"),
        ClientMethod::Connect => ("CONNECT", "example.test:443", b""),
    }
}

/// The server and client runs for one crate; instantiated for the fork and for upstream so
/// both run the very same code.
macro_rules! runners_for {
    ($module:ident, $krate:ident) => {
        pub mod $module {
            use super::*;

            impl $krate::rt::Read for WireIo {
                fn poll_read(
                    self: Pin<&mut Self>,
                    _: &mut Context<'_>,
                    mut buf: $krate::rt::ReadBufCursor<'_>,
                ) -> Poll<std::io::Result<()>> {
                    let bytes = std::task::ready!(self.0.borrow_mut().read(buf.remaining()));
                    buf.put_slice(&bytes);
                    Poll::Ready(Ok(()))
                }
            }

            impl $krate::rt::Write for WireIo {
                fn poll_write(
                    self: Pin<&mut Self>,
                    _: &mut Context<'_>,
                    buf: &[u8],
                ) -> Poll<std::io::Result<usize>> {
                    self.0.borrow_mut().write(&[buf]).map(Ok)
                }

                fn poll_write_vectored(
                    self: Pin<&mut Self>,
                    _: &mut Context<'_>,
                    bufs: &[std::io::IoSlice<'_>],
                ) -> Poll<std::io::Result<usize>> {
                    let slices: Vec<&[u8]> = bufs.iter().map(|b| &b[..]).collect();
                    self.0.borrow_mut().write(&slices).map(Ok)
                }

                fn is_write_vectored(&self) -> bool {
                    true
                }

                fn poll_flush(
                    self: Pin<&mut Self>,
                    _: &mut Context<'_>,
                ) -> Poll<std::io::Result<()>> {
                    Poll::Ready(Ok(()))
                }

                fn poll_shutdown(
                    self: Pin<&mut Self>,
                    _: &mut Context<'_>,
                ) -> Poll<std::io::Result<()>> {
                    self.0.borrow_mut().shutdown().map(Ok)
                }
            }

            pub fn error_seen(e: &$krate::Error) -> ErrorSeen {
                ErrorSeen {
                    kinds: [
                        e.is_parse(),
                        e.is_parse_too_large(),
                        e.is_parse_status(),
                        e.is_parse_version_h2(),
                        e.is_user(),
                        e.is_canceled(),
                        e.is_closed(),
                        e.is_incomplete_message(),
                        e.is_body_write_aborted(),
                        e.is_shutdown(),
                        e.is_timeout(),
                    ],
                    message: e.to_string(),
                }
            }

            /// Reads `body` frame by frame into `log[index]`'s body as it arrives, so a run
            /// that stops mid-body still shows what arrived.
            async fn read_body<L>(
                mut body: $krate::body::Incoming,
                log: &RefCell<Vec<L>>,
                index: usize,
                slot: fn(&mut L) -> &mut BodySeen,
            ) {
                loop {
                    let frame = body.frame().await;
                    let mut log = log.borrow_mut();
                    let seen = slot(&mut log[index]);
                    match frame {
                        None => {
                            seen.ended = true;
                            return;
                        }
                        Some(Err(e)) => {
                            seen.error = Some(error_seen(&e));
                            return;
                        }
                        Some(Ok(frame)) => match frame.into_data() {
                            Ok(data) => seen.data.0.extend_from_slice(&data),
                            Err(frame) => {
                                if let Ok(trailers) = frame.into_trailers() {
                                    seen.trailers = Some(header_list(&trailers));
                                }
                            }
                        },
                    }
                }
            }

            /// Serves one connection whose peer sends the case's bytes; the service reads
            /// each request body to its end and answers `200` with a short body.
            pub fn serve(case: &Case) -> ServerOutcome {
                let o = ServerOptions::of(case);
                let wire = Rc::new(RefCell::new(Wire::new(case, false)));
                let requests: Rc<RefCell<Vec<RequestSeen>>> = Rc::default();
                let log = requests.clone();
                let service = $krate::service::service_fn(
                    move |req: $krate::Request<$krate::body::Incoming>| {
                        let log = log.clone();
                        async move {
                            let (parts, body) = req.into_parts();
                            let index = {
                                let mut log = log.borrow_mut();
                                log.push(RequestSeen {
                                    method: parts.method.to_string(),
                                    uri: parts.uri.to_string(),
                                    version: format!("{:?}", parts.version),
                                    headers: header_list(&parts.headers),
                                    body: BodySeen::default(),
                                });
                                log.len() - 1
                            };
                            read_body(body, &log, index, |r: &mut RequestSeen| &mut r.body).await;
                            Ok::<_, std::convert::Infallible>($krate::Response::new(Full::new(
                                Bytes::from_static(b"seen"),
                            )))
                        }
                    },
                );
                let mut builder = $krate::server::conn::http1::Builder::new();
                builder
                    .half_close(o.half_close)
                    .keep_alive(o.keep_alive)
                    .title_case_headers(o.title_case_headers)
                    .preserve_header_case(o.preserve_header_case)
                    .pipeline_flush(o.pipeline_flush)
                    .ignore_invalid_headers(o.ignore_invalid_headers)
                    .allow_multiple_spaces_in_request_line_delimiters(o.allow_multiple_spaces);
                if let Some(writev) = o.writev {
                    builder.writev(writev);
                }
                if o.small_buffer {
                    builder.max_buf_size(8192);
                }
                if o.few_headers {
                    builder.max_headers(4);
                }
                let conn = builder.serve_connection(WireIo(wire.clone()), service);
                let end = match drive(conn, &wire) {
                    Some(Ok(())) => End::Finished,
                    Some(Err(e)) => End::Failed(error_seen(&e)),
                    None => End::Open,
                };
                let wire = wire.borrow();
                let requests = requests.borrow().clone();
                ServerOutcome {
                    requests,
                    written: WireBytes(dates::replace_dates(&wire.written, BLANK_DATE)),
                    end,
                    shut_down: wire.shut_down,
                }
            }

            fn client_request(method: ClientMethod) -> $krate::Request<Full<Bytes>> {
                let (method, uri, body) = client_request_parts(method);
                $krate::Request::builder()
                    .method(method)
                    .uri(uri)
                    .header("host", "example.test")
                    .body(Full::new(Bytes::from_static(body)))
                    .expect("a valid request")
            }

            /// Runs a client connection whose peer answers with the case's bytes: one request,
            /// or two when the option asks and the connection is ready for it.
            pub fn request(case: &Case) -> ClientOutcome {
                let o = ClientOptions::of(case);
                let wire = Rc::new(RefCell::new(Wire::new(case, true)));
                let exchanges: RefCell<Vec<ExchangeSeen>> = RefCell::default();
                let conn_end: RefCell<End> = RefCell::new(End::Open);
                let mut builder = $krate::client::conn::http1::Builder::new();
                builder
                    .http09_responses(o.http09_responses)
                    .allow_obsolete_multiline_headers_in_responses(o.obsolete_multiline_headers)
                    .allow_spaces_after_header_name_in_responses(o.spaces_after_header_name)
                    .ignore_invalid_headers_in_responses(o.ignore_invalid_headers)
                    .title_case_headers(o.title_case_headers)
                    .preserve_header_case(o.preserve_header_case);
                if o.small_buffer {
                    builder.max_buf_size(8192);
                }
                if o.exact_read_size {
                    builder.read_buf_exact_size(Some(64));
                }
                let io = WireIo(wire.clone());
                let run = async {
                    let (mut send, conn) = builder
                        .handshake::<_, Full<Bytes>>(io)
                        .await
                        .map_err(|e| error_seen(&e))?;
                    let exchange = async {
                        let count = if o.second_request { 2 } else { 1 };
                        for i in 0..count {
                            if i > 0 {
                                if let Err(e) = send.ready().await {
                                    exchanges
                                        .borrow_mut()
                                        .push(ExchangeSeen::NotReady(error_seen(&e)));
                                    break;
                                }
                            }
                            let res = match send.send_request(client_request(o.method)).await {
                                Ok(res) => res,
                                Err(e) => {
                                    exchanges
                                        .borrow_mut()
                                        .push(ExchangeSeen::Failed(error_seen(&e)));
                                    break;
                                }
                            };
                            let (parts, body) = res.into_parts();
                            let index = {
                                let mut log = exchanges.borrow_mut();
                                log.push(ExchangeSeen::Response(ResponseSeen {
                                    status: parts.status.as_u16(),
                                    version: format!("{:?}", parts.version),
                                    headers: header_list(&parts.headers),
                                    body: BodySeen::default(),
                                }));
                                log.len() - 1
                            };
                            read_body(body, &exchanges, index, |e: &mut ExchangeSeen| match e {
                                ExchangeSeen::Response(r) => &mut r.body,
                                _ => unreachable!("the entry was just pushed as a response"),
                            })
                            .await;
                        }
                        // Dropping the handle lets an idle connection finish.
                        drop(send);
                    };
                    let conn = async {
                        *conn_end.borrow_mut() = match conn.await {
                            Ok(()) => End::Finished,
                            Err(e) => End::Failed(error_seen(&e)),
                        };
                    };
                    both(exchange, conn).await;
                    Ok(())
                };
                let handshake = match drive(run, &wire) {
                    Some(Err(e)) => Err(e),
                    Some(Ok(())) | None => Ok(()),
                };
                let end = conn_end.borrow().clone();
                let exchanges = handshake.map(|()| exchanges.borrow().clone());
                let wire = wire.borrow();
                ClientOutcome {
                    exchanges,
                    written: WireBytes(wire.written.clone()),
                    end,
                    shut_down: wire.shut_down,
                }
            }
        }
    };
}

runners_for!(fork, hyper);
runners_for!(upstream, hyper_upstream);

/// The differences `UPSTREAM.md` documents, the only ones the comparator accepts. Each is
/// accepted only under its condition, checked by [`judge_server`] / [`judge_client`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deliberate {
    /// UPSTREAM.md §3, "bytes no head may contain ... arriving in a later piece": upstream
    /// parses a head on its first piece and then only when a blank line arrives (or the buffer
    /// fills), so its verdict depends on where the pieces (or 64-byte exact reads) end; the
    /// fork parses every arrival up to 8 KiB, rejecting bytes no head may hold, seeing an
    /// HTTP/0.9 body and recognising a split HTTP/2 preface alike. Accepted when the fork's
    /// outcome is upstream's for the same bytes in one piece (and, for the client, one read).
    HeadParsedOnEveryArrival,
    /// UPSTREAM.md §1, the `pipeline_flush(true)` rows: upstream skips every flush (the one
    /// before shutdown too) while unread bytes sit in its read buffer, so a connection that
    /// ends then leaves the end of what it encoded (an automatic `400`, a response) unwritten.
    /// Accepted when `pipeline_flush` is on, upstream's bytes are a strict prefix of the
    /// fork's, and everything else is equal.
    PipelineFlushLeavesBytesUnwritten,
    /// UPSTREAM.md §3, "a malformed head pipelined behind a response still being written":
    /// upstream answers a malformed head with its automatic error response only if its write
    /// state is back to idle, so behind a response the transport has not taken yet (there:
    /// one to a request asking for an upgrade) it ends without an answer; the fork always
    /// answers. Accepted when writes are slow (`Pending` or short), upstream's bytes are a
    /// strict prefix of the fork's, the rest is one error response, and all else is equal.
    ErrorAnswerBehindUnwrittenResponse,
    /// UPSTREAM.md §1, "a `100 Continue` encoded before the connection fails": upstream
    /// encodes the interim response when the service first polls the body, and an error that
    /// ends the connection before the next flush (end of file mid-body) leaves it unwritten,
    /// or (with short writes) its end. Accepted when both fail alike and the fork's bytes are
    /// upstream's plus that response or the rest of it.
    ContinueLostOnError,
    /// UPSTREAM.md §1, "a response to a request asking for an upgrade ... taken slowly":
    /// upstream ends such a connection through its upgrade hand-off, which skips the flush,
    /// so the response (not a `101`) stays in its buffer. Accepted when writes are slow, a
    /// request asked for an upgrade, upstream's bytes are a strict prefix of the fork's, and
    /// all else is equal.
    UpgradeHandOffLeavesBytesUnwritten,
    /// UPSTREAM.md §3, "with `read_buf_exact_size(n)` a response head longer than `n`":
    /// the fork never lets an incomplete head grow past `n` bytes, so such a head is too
    /// large; upstream checks its limit only while a head is incomplete and reads into
    /// whatever spare room its buffer happens to have, so a longer head passes when one read
    /// brought more than `n` bytes (after an interim response, say). Accepted when exact reads
    /// are on, the fork's exchanges are upstream's up to one that failed as too large, and
    /// what the fork wrote is what upstream wrote, or the start of it (upstream, having taken
    /// the head, may go on to the next request).
    ExactReadsBoundTheHead,
}

/// The comparator's answer for a case that passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Same,
    Accepted(Deliberate),
}

/// A divergence nothing documents: the case and both outcomes, for the report.
pub struct Divergence(pub String);

impl fmt::Debug for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Bytes as a Rust byte-string literal body, for reports that can be pasted into a test.
pub fn escape(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}

fn divergence<T: fmt::Debug>(role: &str, data: &[u8], case: &Case, fork: &T, up: &T) -> Divergence {
    let pieces: Vec<String> = case
        .pieces
        .iter()
        .map(|p| {
            format!(
                "{}b\"{}\"",
                if p.pause_before { "~" } else { "" },
                escape(&p.bytes)
            )
        })
        .collect();
    Divergence(format!(
        "{role} divergence\n  case bytes: b\"{}\"\n  options {:#06x}, ending {:?}, writes {:?}\n  pieces (~ = pause before): {}\n  fork:     {fork:#?}\n  upstream: {up:#?}",
        escape(data),
        case.options,
        case.ending,
        case.writes,
        pieces.join(" "),
    ))
}

/// Runs a server case on both crates and compares what they did.
pub fn check_server(data: &[u8]) -> Result<Verdict, Divergence> {
    let Some(case) = Case::decode(data) else {
        return Ok(Verdict::Same);
    };
    let fork = fork::serve(&case);
    let up = upstream::serve(&case);
    judge_server(&case, &fork, &up, || upstream::serve(&case.in_one_piece()))
        .ok_or_else(|| divergence("server", data, &case, &fork, &up))
}

/// Accepts equal outcomes and the documented differences; `None` is a divergence.
pub fn judge_server(
    case: &Case,
    fork: &ServerOutcome,
    up: &ServerOutcome,
    upstream_in_one_piece: impl FnOnce() -> ServerOutcome,
) -> Option<Verdict> {
    if let Some(verdict) = server_outcomes_agree(case, fork, up) {
        return Some(verdict);
    }
    if case.pieces.len() > 1 {
        let whole = upstream_in_one_piece();
        if server_outcomes_agree(case, fork, &whole).is_some() {
            return Some(Verdict::Accepted(Deliberate::HeadParsedOnEveryArrival));
        }
    }
    None
}

/// Equal, or equal but for bytes the fork wrote after all of upstream's, where a documented
/// difference explains them.
fn server_outcomes_agree(case: &Case, fork: &ServerOutcome, up: &ServerOutcome) -> Option<Verdict> {
    if fork == up {
        return Some(Verdict::Same);
    }
    let only_bytes_differ = ServerOutcome {
        written: up.written.clone(),
        ..fork.clone()
    } == *up;
    let extra = fork.written.0.strip_prefix(up.written.0.as_slice())?;
    if !only_bytes_differ || extra.is_empty() {
        return None;
    }
    if ServerOptions::of(case).pipeline_flush {
        return Some(Verdict::Accepted(
            Deliberate::PipelineFlushLeavesBytesUnwritten,
        ));
    }
    let slow_writes = case.writes.pending_first || case.writes.short;
    let one_error_response = (extra.starts_with(b"HTTP/1.1 4") || extra.starts_with(b"HTTP/1.0 4"))
        && extra.windows(4).filter(|w| *w == b"\r\n\r\n").count() == 1
        && extra.ends_with(b"\r\n\r\n");
    if slow_writes && one_error_response && matches!(fork.end, End::Failed(_)) {
        return Some(Verdict::Accepted(
            Deliberate::ErrorAnswerBehindUnwrittenResponse,
        ));
    }
    // All of the interim response, or (with short writes) the part of it upstream had not
    // written when it failed.
    const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";
    let continue_lost = fork.written.0.ends_with(CONTINUE) && CONTINUE.ends_with(extra);
    if continue_lost && matches!(fork.end, End::Failed(_)) {
        return Some(Verdict::Accepted(Deliberate::ContinueLostOnError));
    }
    let asked_for_upgrade = fork
        .requests
        .iter()
        .any(|r| r.headers.iter().any(|(name, _)| name == "upgrade"));
    if slow_writes && asked_for_upgrade {
        return Some(Verdict::Accepted(
            Deliberate::UpgradeHandOffLeavesBytesUnwritten,
        ));
    }
    None
}

/// Runs a client case on both crates and compares what they did.
pub fn check_client(data: &[u8]) -> Result<Verdict, Divergence> {
    let Some(case) = Case::decode(data) else {
        return Ok(Verdict::Same);
    };
    let fork = fork::request(&case);
    let up = upstream::request(&case);
    let exact_reads = ClientOptions::of(&case).exact_read_size;
    judge_client(&fork, &up, exact_reads, || {
        let mut at_once = case.in_one_piece();
        at_once.options &= !CLIENT_EXACT_READ;
        upstream::request(&at_once)
    })
    .ok_or_else(|| divergence("client", data, &case, &fork, &up))
}

/// Accepts equal outcomes and the documented differences; `None` is a divergence.
pub fn judge_client(
    fork: &ClientOutcome,
    up: &ClientOutcome,
    exact_reads: bool,
    upstream_in_one_piece: impl FnOnce() -> ClientOutcome,
) -> Option<Verdict> {
    if fork == up {
        return Some(Verdict::Same);
    }
    if exact_reads
        && up.written.0.starts_with(&fork.written.0)
        && head_bound_by_exact_reads(fork, up)
    {
        return Some(Verdict::Accepted(Deliberate::ExactReadsBoundTheHead));
    }
    if *fork == upstream_in_one_piece() {
        return Some(Verdict::Accepted(Deliberate::HeadParsedOnEveryArrival));
    }
    None
}

/// The fork's exchanges are upstream's up to a last one that failed as too large.
fn head_bound_by_exact_reads(fork: &ClientOutcome, up: &ClientOutcome) -> bool {
    let (Ok(ours), Ok(theirs)) = (&fork.exchanges, &up.exchanges) else {
        return false;
    };
    let Some((ExchangeSeen::Failed(last), before)) = ours.split_last() else {
        return false;
    };
    // `kinds[1]` is `is_parse_too_large` (see `ERROR_PREDICATES`).
    last.kinds[1] && theirs.len() > before.len() && theirs[..before.len()] == *before
}
