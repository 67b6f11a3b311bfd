//! The HTTP/1 server ends a connection only after every response byte was written.
//!
//! These tests serve connections over a mock transport that is adversarial on the write side:
//! every `poll_write`/`poll_write_vectored` call accepts only 1 to 7 bytes and the next call
//! returns `Pending` (the task is woken right away or from another task a few yields later);
//! `poll_flush` and `poll_shutdown` are sometimes `Pending` too. The read side plays a scripted
//! stream of requests (often pipelined, GETs and POSTs with content-length or chunked bodies)
//! in random slices, then ends in one of three ways: EOF at once (a half-closing client), EOF
//! once every produced response was accepted (a client that closes after reading), or
//! `Pending` forever.
//!
//! The mock records every byte it accepted and, at the first `poll_shutdown`, how many bytes
//! it had accepted and how many responses the service had produced by then. The recorded
//! bytes are parsed with `httparse` and our own content-length/chunked decoder and compared
//! with what the service produced. Checked everywhere: when the transport is first shut down,
//! when the connection future completes, when `without_shutdown`/`into_parts` hands the
//! transport back, and when an upgrade resolves, every response the service had produced is
//! completely among the accepted bytes (status, framing, body, trailers, header case), and
//! nothing is written after the shutdown. Each case also checks how many requests must have
//! been answered, so that a connection answering nothing cannot pass.
//!
//! The connection future must return `Ok(())`, with one exception, see `verify`: without
//! half-close, a client closing right after the last response byte may be reported as an
//! incomplete message (every byte is still checked).
//!
//! Everything random comes from one seed; a failing test lists its failing cases with a replay
//! command. Environment variables:
//! - `MOCK_IO_SEED=<u64 or 0xhex>`: the base seed (default `DEFAULT_SEED`);
//! - `MOCK_IO_CASE=<n>`: run only case `n` of each test;
//! - `MOCK_IO_TRACE=1`: print every transport and service event;
//! - `MOCK_IO_MAX_FAILURES=<n>`: failing cases collected before a test stops (default 8).

#[cfg(not(all(feature = "server", feature = "http1")))]
compile_error!(
    "tests/shutdown_after_drain.rs needs the `server` and `http1` features: run `cargo test --features full`"
);

use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use futures_util::future::poll_fn;
use futures_util::Stream;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Bytes, Frame, Incoming};
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::rt::{Read, ReadBuf, ReadBufCursor, Write};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};

#[path = "support/http1_response.rs"]
mod http1_response;
use http1_response::{Framing, ParsedResponse};

/// Upper bound for one case; cases take milliseconds.
const CASE_DEADLINE: Duration = Duration::from_secs(10);
const DEFAULT_SEED: u64 = 0x005e_ed0f_d7a1_2024;

fn tracing_on() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("MOCK_IO_TRACE").is_some())
}

/// With `MOCK_IO_TRACE` set, prints what the mock transport and the service do.
macro_rules! trace {
    ($($arg:tt)*) => {
        if tracing_on() {
            eprintln!("[mock] {}", format_args!($($arg)*));
        }
    };
}

// =============================================================================================
// Seeded randomness
// =============================================================================================

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// xorshift64*: small, fast, good enough to shuffle I/O behaviour.
#[derive(Clone, Debug)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(splitmix(seed) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }
    fn percent(&mut self, p: usize) -> bool {
        self.below(100) < p
    }
    fn flip(&mut self) -> bool {
        self.next() & 1 == 1
    }
    fn fork(&mut self) -> Rng {
        Rng::new(self.next())
    }
    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| (self.next() >> 32) as u8).collect()
    }
}

fn base_seed() -> u64 {
    match std::env::var("MOCK_IO_SEED") {
        Ok(s) => {
            let s = s.trim();
            let parsed = match s.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => s.parse(),
            };
            parsed.unwrap_or_else(|_| panic!("MOCK_IO_SEED={s:?} is not a u64"))
        }
        Err(_) => DEFAULT_SEED,
    }
}

/// Wakes `waker` either right away or from a freshly spawned task a few yields later.
fn wake_soon(rng: &mut Rng, waker: &Waker) {
    match rng.below(3) {
        0 => {
            trace!("wake now");
            waker.wake_by_ref()
        }
        _ => {
            let waker = waker.clone();
            let yields = rng.below(3);
            trace!("wake after {yields} yields");
            tokio::spawn(async move {
                for _ in 0..yields {
                    tokio::task::yield_now().await;
                }
                trace!("woken");
                waker.wake();
            });
        }
    }
}

// =============================================================================================
// What the service produced and what the transport saw
// =============================================================================================

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExpectedFraming {
    Length,
    Chunked,
    NoBody,
}

#[derive(Debug, Clone)]
struct Expected {
    index: usize,
    status: u16,
    body: Vec<u8>,
    framing: ExpectedFraming,
    trailer: Option<(String, String)>,
}

#[derive(Debug, Clone, Copy)]
struct Snapshot {
    accepted: usize,
    produced: usize,
}

#[derive(Default)]
struct Record {
    accepted: Vec<u8>,
    /// Service calls started (counted synchronously in `Service::call`).
    calls: usize,
    /// Responses the service returned, in order.
    produced: Vec<Expected>,
    shutdown_calls: usize,
    first_shutdown: Option<Snapshot>,
    accepted_after_shutdown: usize,
    /// The read side's waker while it holds back EOF (see `ReadEnd::PoliteEof`).
    read_waker: Option<Waker>,
    /// Offset and count of the complete responses found so far (cache for the EOF gate).
    scanned: (usize, usize),
    /// Calls started when `graceful_shutdown()` was called.
    calls_at_graceful: Option<usize>,
    /// The read side returned EOF (the whole script had been read by then).
    eof_delivered: bool,
}

type Shared = Arc<Mutex<Record>>;

fn lock(shared: &Shared) -> MutexGuard<'_, Record> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

impl Record {
    /// True when every produced response has been accepted completely and no service call is
    /// in progress: a polite client would close now.
    fn all_answered(&mut self) -> bool {
        if self.calls != self.produced.len() {
            return false;
        }
        while self.scanned.1 < self.produced.len() {
            match parse_response(&self.accepted[self.scanned.0..]) {
                Ok(Some(r)) => {
                    self.scanned.0 += r.len;
                    self.scanned.1 += 1;
                }
                _ => return false,
            }
        }
        true
    }
}

// =============================================================================================
// The mock transport
// =============================================================================================

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadEnd {
    /// EOF as soon as the script is consumed: a client that half-closes after sending.
    RawEof,
    /// EOF once every produced response was accepted and no service call is running: a
    /// client that closes after reading its answers.
    PoliteEof,
    /// Nothing more, ever.
    PendingForever,
}

#[derive(Debug, Clone)]
struct MockConfig {
    max_write: usize,
    vectored: bool,
    flush_pending_pct: usize,
    shutdown_pending_pct: usize,
    read_pending_pct: usize,
    max_read: usize,
    read_end: ReadEnd,
}

impl MockConfig {
    fn random(rng: &mut Rng, read_end: ReadEnd) -> MockConfig {
        MockConfig {
            max_write: rng.range(1, 7),
            vectored: rng.flip(),
            flush_pending_pct: [0, 20, 50][rng.below(3)],
            shutdown_pending_pct: [0, 50][rng.below(2)],
            read_pending_pct: [0, 10, 40][rng.below(3)],
            max_read: [1, 7, 64, 1024, 65536][rng.below(5)],
            read_end,
        }
    }
}

struct MockIo {
    shared: Shared,
    rng: Rng,
    cfg: MockConfig,
    script: Vec<u8>,
    read_pos: usize,
    /// The next write accepts bytes; otherwise it returns `Pending` first.
    write_ready: bool,
    flush_ready: bool,
    shutdown_ready: bool,
    read_ready: bool,
}

impl MockIo {
    fn new(shared: Shared, rng: Rng, cfg: MockConfig, script: Vec<u8>) -> MockIo {
        MockIo {
            shared,
            rng,
            cfg,
            script,
            read_pos: 0,
            write_ready: false,
            flush_ready: false,
            shutdown_ready: false,
            read_ready: false,
        }
    }

    fn accept(&mut self, cx: &mut Context<'_>, bufs: &[&[u8]]) -> Poll<io::Result<usize>> {
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        if total == 0 {
            return Poll::Ready(Ok(0));
        }
        if !self.write_ready {
            trace!("write of {total} bytes: Pending");
            self.write_ready = true;
            wake_soon(&mut self.rng, cx.waker());
            return Poll::Pending;
        }
        self.write_ready = false;
        let mut left = self.rng.range(1, self.cfg.max_write).min(total);
        let n = left;
        let mut rec = lock(&self.shared);
        for buf in bufs {
            let take = left.min(buf.len());
            rec.accepted.extend_from_slice(&buf[..take]);
            left -= take;
            if left == 0 {
                break;
            }
        }
        if rec.shutdown_calls > 0 {
            rec.accepted_after_shutdown += n;
        }
        trace!(
            "write of {total} bytes ({} slices): accepted {n}, {} in all",
            bufs.len(),
            rec.accepted.len()
        );
        if let Some(w) = rec.read_waker.take() {
            drop(rec);
            wake_soon(&mut self.rng, &w);
        }
        Poll::Ready(Ok(n))
    }
}

impl Read for MockIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.read_pos < this.script.len() {
            if this.read_ready {
                this.read_ready = false;
            } else if this.rng.percent(this.cfg.read_pending_pct) {
                this.read_ready = true;
                wake_soon(&mut this.rng, cx.waker());
                return Poll::Pending;
            }
            let n = this
                .rng
                .range(1, this.cfg.max_read)
                .min(this.script.len() - this.read_pos)
                .min(buf.remaining());
            buf.put_slice(&this.script[this.read_pos..this.read_pos + n]);
            this.read_pos += n;
            trace!(
                "read: {n} bytes, {} of {} served",
                this.read_pos,
                this.script.len()
            );
            return Poll::Ready(Ok(()));
        }
        trace!("read past the script: {:?}", this.cfg.read_end);
        match this.cfg.read_end {
            ReadEnd::RawEof => {
                lock(&this.shared).eof_delivered = true;
                Poll::Ready(Ok(()))
            }
            ReadEnd::PendingForever => Poll::Pending,
            ReadEnd::PoliteEof => {
                let mut rec = lock(&this.shared);
                if rec.all_answered() {
                    rec.eof_delivered = true;
                    Poll::Ready(Ok(()))
                } else {
                    rec.read_waker = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        }
    }
}

impl Write for MockIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.accept(cx, &[buf])
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let slices: Vec<&[u8]> = bufs.iter().map(|b| &b[..]).collect();
        self.accept(cx, &slices)
    }

    fn is_write_vectored(&self) -> bool {
        self.cfg.vectored
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        trace!("flush");
        if this.flush_ready {
            this.flush_ready = false;
        } else if this.rng.percent(this.cfg.flush_pending_pct) {
            this.flush_ready = true;
            wake_soon(&mut this.rng, cx.waker());
            return Poll::Pending;
        }
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        {
            let mut rec = lock(&this.shared);
            if rec.first_shutdown.is_none() {
                rec.first_shutdown = Some(Snapshot {
                    accepted: rec.accepted.len(),
                    produced: rec.produced.len(),
                });
            }
            rec.shutdown_calls += 1;
            trace!(
                "shutdown #{} after {} bytes",
                rec.shutdown_calls,
                rec.accepted.len()
            );
        }
        if this.shutdown_ready {
            this.shutdown_ready = false;
        } else if this.rng.percent(this.cfg.shutdown_pending_pct) {
            this.shutdown_ready = true;
            wake_soon(&mut this.rng, cx.waker());
            return Poll::Pending;
        }
        Poll::Ready(Ok(()))
    }
}

// =============================================================================================
// Reading the accepted bytes back (tests/support/http1_response.rs), held to this sweep's rules
// =============================================================================================

/// One response at the start of `buf`; `Ok(None)` if it is not complete yet. Responses here
/// always have a length or chunked framing, or none at all (1xx) and then no framing fields.
fn parse_response(buf: &[u8]) -> Result<Option<ParsedResponse>, String> {
    let Some(head) = http1_response::parse_head(buf)? else {
        return Ok(None);
    };
    let announces_framing =
        head.header("content-length").is_some() || head.header("transfer-encoding").is_some();
    match head.framing {
        Framing::NoBody if announces_framing => {
            return Err(format!("{} with body framing", head.status))
        }
        Framing::UntilClose => return Err(format!("{} response without framing", head.status)),
        _ => {}
    }
    http1_response::read_body(buf, head, false)
}

impl ExpectedFraming {
    /// The framing a parsed response has; `None` for a body delimited by the close, which
    /// `parse_response` rejects.
    fn of(framing: Framing) -> Option<ExpectedFraming> {
        match framing {
            Framing::NoBody => Some(ExpectedFraming::NoBody),
            Framing::Length(_) => Some(ExpectedFraming::Length),
            Framing::Chunked => Some(ExpectedFraming::Chunked),
            Framing::UntilClose => None,
        }
    }
}

fn is_title_case(name: &str) -> bool {
    name.split('-').all(|part| {
        let mut chars = part.chars();
        match chars.next() {
            None => true,
            Some(first) => !first.is_ascii_lowercase() && chars.all(|c| !c.is_ascii_uppercase()),
        }
    })
}

// =============================================================================================
// Scenario: the requests, the service, the builder
// =============================================================================================

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyKind {
    /// `Full<Bytes>`: content-length framing.
    Full,
    /// A stream of frames without a size hint: chunked framing (maybe with trailers).
    Chunked,
    /// A stream of frames plus an explicit `content-length` header.
    SizedStream,
}

#[derive(Debug, Clone)]
struct PlannedRequest {
    post: bool,
    body: Vec<u8>,
    chunked_request: bool,
    close: bool,
    upgrade: bool,
    response_body: Vec<u8>,
    /// Frame sizes for streamed responses (zeros allowed: empty data frames).
    frames: Vec<usize>,
    trailer: Option<(String, String)>,
}

impl PlannedRequest {
    fn random(rng: &mut Rng, body_kind: BodyKind) -> PlannedRequest {
        let post = rng.percent(60);
        let body = if post {
            let len = [0, rng.range(1, 100), rng.range(100, 3000)][rng.below(3)];
            rng.bytes(len)
        } else {
            Vec::new()
        };
        let resp_len = match rng.below(4) {
            0 => rng.range(0, 40),
            1 => rng.range(40, 1500),
            2 => rng.range(1500, 6000),
            _ => rng.range(8000, 20000),
        };
        let response_body = rng.bytes(resp_len);
        let mut frames = Vec::new();
        let mut left = resp_len;
        while left > 0 {
            if rng.percent(10) {
                frames.push(0);
            }
            let n = rng.range(1, 5000).min(left);
            frames.push(n);
            left -= n;
        }
        let trailer = (body_kind == BodyKind::Chunked && rng.percent(30))
            .then(|| ("x-digest".to_string(), format!("{:016x}", rng.next())));
        PlannedRequest {
            post,
            chunked_request: post && rng.percent(25),
            body,
            close: false,
            upgrade: false,
            response_body,
            frames,
            trailer,
        }
    }

    fn upgrade() -> PlannedRequest {
        PlannedRequest {
            post: false,
            body: Vec::new(),
            chunked_request: false,
            close: false,
            upgrade: true,
            response_body: Vec::new(),
            frames: Vec::new(),
            trailer: None,
        }
    }

    fn encode(&self, index: usize, out: &mut Vec<u8>) {
        let method = if self.post { "POST" } else { "GET" };
        out.extend_from_slice(
            format!("{method} /r{index} HTTP/1.1\r\nHost: mock.test\r\n").as_bytes(),
        );
        if self.close {
            out.extend_from_slice(b"Connection: close\r\n");
        }
        if self.upgrade {
            out.extend_from_slice(b"Connection: upgrade\r\nUpgrade: mockproto\r\n");
        }
        if self.trailer.is_some() {
            out.extend_from_slice(b"TE: trailers\r\n");
        }
        if self.post {
            if self.chunked_request {
                out.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
                for piece in self.body.chunks(700) {
                    out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
                    out.extend_from_slice(piece);
                    out.extend_from_slice(b"\r\n");
                }
                out.extend_from_slice(b"0\r\n\r\n");
            } else {
                out.extend_from_slice(
                    format!("Content-Length: {}\r\n\r\n", self.body.len()).as_bytes(),
                );
                out.extend_from_slice(&self.body);
            }
        } else {
            out.extend_from_slice(b"\r\n");
        }
    }
}

/// Response body frames that are sometimes not ready.
struct Frames {
    frames: VecDeque<Frame<Bytes>>,
    rng: Rng,
    ready: bool,
}

impl Stream for Frames {
    type Item = Result<Frame<Bytes>, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.frames.is_empty() {
            return Poll::Ready(None);
        }
        if this.ready {
            this.ready = false;
        } else if this.rng.percent(30) {
            this.ready = true;
            wake_soon(&mut this.rng, cx.waker());
            return Poll::Pending;
        }
        Poll::Ready(this.frames.pop_front().map(Ok))
    }
}

type ResBody = BoxBody<Bytes, Infallible>;
type ServiceFuture = Pin<Box<dyn Future<Output = Result<Response<ResBody>, Infallible>> + Send>>;

/// Sent by the upgrade task once `hyper::upgrade::on` resolved and it used the upgraded IO.
#[derive(Debug)]
struct UpgradeReport {
    /// The mock's recorded bytes at the moment the upgrade resolved.
    accepted_at_upgrade: Vec<u8>,
    produced_at_upgrade: usize,
    shutdown_calls_at_upgrade: usize,
    read_after_upgrade: Vec<u8>,
    written_after_upgrade: Vec<u8>,
}

const UPGRADE_REPLY: &[u8] = b"mockproto says hello";

struct Scenario {
    requests: Vec<PlannedRequest>,
    body_kind: BodyKind,
    read_body: bool,
    /// Bytes the client sends after an upgrade request.
    after_upgrade: Vec<u8>,
}

impl Scenario {
    fn script(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, r) in self.requests.iter().enumerate() {
            r.encode(i, &mut out);
        }
        out.extend_from_slice(&self.after_upgrade);
        out
    }
}

fn respond(shared: &Shared, scenario: &Scenario, index: usize, rng: &mut Rng) -> Response<ResBody> {
    let plan = &scenario.requests[index];
    let mut expected = Expected {
        index,
        status: 200,
        body: plan.response_body.clone(),
        framing: ExpectedFraming::Length,
        trailer: None,
    };
    let mut response = if plan.upgrade {
        expected.status = 101;
        expected.framing = ExpectedFraming::NoBody;
        let mut r = Response::new(Full::new(Bytes::new()).boxed());
        *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        r.headers_mut()
            .insert("connection", HeaderValue::from_static("upgrade"));
        r.headers_mut()
            .insert("upgrade", HeaderValue::from_static("mockproto"));
        r
    } else {
        match scenario.body_kind {
            BodyKind::Full => {
                Response::new(Full::new(Bytes::from(plan.response_body.clone())).boxed())
            }
            BodyKind::Chunked | BodyKind::SizedStream => {
                let mut declared_trailer = None;
                let body = Bytes::from(plan.response_body.clone());
                let mut frames = VecDeque::new();
                let mut at = 0;
                for &n in &plan.frames {
                    frames.push_back(Frame::data(body.slice(at..at + n)));
                    at += n;
                }
                if scenario.body_kind == BodyKind::Chunked {
                    expected.framing = ExpectedFraming::Chunked;
                    if let Some((name, value)) = &plan.trailer {
                        // Declared in a `trailer` header, as hyper only sends declared fields.
                        declared_trailer = Some(name.clone());
                        let mut trailers = HeaderMap::new();
                        trailers.insert(
                            HeaderName::from_bytes(name.as_bytes()).expect("trailer name"),
                            HeaderValue::from_str(value).expect("trailer value"),
                        );
                        frames.push_back(Frame::trailers(trailers));
                        expected.trailer = Some((name.clone(), value.clone()));
                    }
                }
                let stream = Frames {
                    frames,
                    rng: rng.fork(),
                    ready: false,
                };
                let mut r = Response::new(StreamBody::new(stream).boxed());
                if let Some(name) = declared_trailer {
                    r.headers_mut().insert(
                        "trailer",
                        HeaderValue::from_str(&name).expect("trailer header"),
                    );
                }
                if scenario.body_kind == BodyKind::SizedStream {
                    r.headers_mut().insert(
                        "content-length",
                        HeaderValue::from(plan.response_body.len()),
                    );
                }
                r
            }
        }
    };
    response
        .headers_mut()
        .insert("x-req", HeaderValue::from(index));
    trace!(
        "service: response to request {index} ({} body bytes)",
        expected.body.len()
    );
    lock(shared).produced.push(expected);
    response
}

async fn read_exactly<T: Read + Unpin>(io: &mut T, len: usize) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    while out.len() < len {
        let mut storage = [0u8; 64];
        let mut buf = ReadBuf::new(&mut storage);
        poll_fn(|cx| Pin::new(&mut *io).poll_read(cx, buf.unfilled())).await?;
        if buf.filled().is_empty() {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        out.extend_from_slice(buf.filled());
    }
    Ok(out)
}

async fn write_all<T: Write + Unpin>(io: &mut T, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        let n = poll_fn(|cx| Pin::new(&mut *io).poll_write(cx, data)).await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        data = &data[n..];
    }
    poll_fn(|cx| Pin::new(&mut *io).poll_flush(cx)).await
}

/// Handles the upgrade of request `on`: records the transport's state at the moment the
/// upgrade resolves, then talks over the upgraded IO.
fn spawn_upgrade_task(
    on: hyper::upgrade::OnUpgrade,
    shared: Shared,
    expect_from_client: usize,
    report: tokio::sync::oneshot::Sender<Result<UpgradeReport, String>>,
) {
    tokio::spawn(async move {
        let result = async {
            let mut upgraded = on.await.map_err(|e| format!("upgrade failed: {e}"))?;
            let (accepted_at_upgrade, produced_at_upgrade, shutdown_calls_at_upgrade) = {
                let rec = lock(&shared);
                (rec.accepted.clone(), rec.produced.len(), rec.shutdown_calls)
            };
            let read_after_upgrade = read_exactly(&mut upgraded, expect_from_client)
                .await
                .map_err(|e| format!("reading the upgraded IO: {e}"))?;
            write_all(&mut upgraded, UPGRADE_REPLY)
                .await
                .map_err(|e| format!("writing the upgraded IO: {e}"))?;
            let written_after_upgrade =
                lock(&shared).accepted[accepted_at_upgrade.len()..].to_vec();
            Ok(UpgradeReport {
                accepted_at_upgrade,
                produced_at_upgrade,
                shutdown_calls_at_upgrade,
                read_after_upgrade,
                written_after_upgrade,
            })
        }
        .await;
        // The receiver is gone only if the case already ended; nothing to report to then.
        if report.send(result).is_err() {
            trace!("upgrade report dropped: the case already ended");
        }
    });
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Opts {
    writev: Option<bool>,
    pipeline_flush: bool,
    keep_alive: bool,
    half_close: bool,
    small_buf: bool,
    title_case: bool,
}

const DEFAULT_OPTS: Opts = Opts {
    writev: None,
    pipeline_flush: false,
    keep_alive: true,
    half_close: false,
    small_buf: false,
    title_case: false,
};

impl Opts {
    fn builder(&self) -> http1::Builder {
        let mut b = http1::Builder::new();
        if let Some(v) = self.writev {
            b.writev(v);
        }
        b.pipeline_flush(self.pipeline_flush)
            .keep_alive(self.keep_alive)
            .half_close(self.half_close)
            .title_case_headers(self.title_case);
        if self.small_buf {
            b.max_buf_size(8192);
        }
        b
    }

    fn random(rng: &mut Rng) -> Opts {
        Opts {
            writev: [None, Some(true), Some(false)][rng.below(3)],
            pipeline_flush: rng.flip(),
            keep_alive: rng.flip(),
            half_close: rng.flip(),
            small_buf: rng.flip(),
            title_case: rng.flip(),
        }
    }

    /// All 64 combinations of the six write-path options (writev explicitly on or off).
    fn cartesian() -> Vec<Opts> {
        (0..64u32)
            .map(|bits| Opts {
                writev: Some(bits & 1 != 0),
                pipeline_flush: bits & 2 != 0,
                keep_alive: bits & 4 != 0,
                half_close: bits & 8 != 0,
                small_buf: bits & 16 != 0,
                title_case: bits & 32 != 0,
            })
            .collect()
    }

    /// The defaults, each option changed alone, and `extra` random combinations.
    fn one_at_a_time_plus_random(rng: &mut Rng, extra: usize) -> Vec<Opts> {
        let d = DEFAULT_OPTS;
        let mut v = vec![
            d,
            Opts {
                writev: Some(true),
                ..d
            },
            Opts {
                writev: Some(false),
                ..d
            },
            Opts {
                pipeline_flush: true,
                ..d
            },
            Opts {
                keep_alive: false,
                ..d
            },
            Opts {
                half_close: true,
                ..d
            },
            Opts {
                small_buf: true,
                ..d
            },
            Opts {
                title_case: true,
                ..d
            },
        ];
        v.extend((0..extra).map(|_| Opts::random(rng)));
        v
    }
}

// =============================================================================================
// Running a case
// =============================================================================================

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// The connection ends on its own (`Connection: close`, keep-alive off, or EOF) and
    /// shuts the transport down.
    Close,
    /// `graceful_shutdown()` once the first response is partly written.
    Graceful,
    /// `without_shutdown()`: the transport comes back in `Parts`.
    WithoutShutdown,
    /// `poll_without_shutdown` then `into_parts()`.
    IntoParts,
    /// The last request asks for an upgrade and gets a 101.
    Upgrade,
}

#[derive(Debug, Clone)]
struct Case {
    opts: Opts,
    body_kind: BodyKind,
    read_body: bool,
    ending: Ending,
    /// Forces how the script ends (otherwise drawn from the seed).
    read_end: Option<ReadEnd>,
    seed: u64,
}

/// How a connection future failed: its `Debug` text and whether it was an
/// incomplete-message error.
#[derive(Debug)]
struct Failure {
    text: String,
    incomplete: bool,
}

impl From<hyper::Error> for Failure {
    fn from(e: hyper::Error) -> Failure {
        Failure {
            text: format!("{e:?}"),
            incomplete: e.is_incomplete_message(),
        }
    }
}

struct Outcome {
    result: Result<(), Failure>,
    /// When the transport was handed back: it shares the record, and this is its own view.
    returned_io_accepted: Option<usize>,
    upgrade: Option<Result<UpgradeReport, String>>,
    graceful_called: bool,
}

fn build_scenario(case: &Case, rng: &mut Rng) -> (Scenario, MockConfig) {
    let mut requests = Vec::new();
    let count = match case.ending {
        Ending::Graceful => rng.range(2, 5),
        Ending::Upgrade => usize::from(case.opts.keep_alive && rng.flip()),
        _ => rng.range(1, 4),
    };
    for _ in 0..count {
        requests.push(PlannedRequest::random(rng, case.body_kind));
    }
    let mut after_upgrade = Vec::new();
    let read_end = match case.ending {
        Ending::Upgrade => {
            // The request before the upgrade must be answerable on a kept-alive connection.
            for r in &mut requests {
                if !case.read_body {
                    r.body.clear();
                    r.chunked_request = false;
                }
            }
            requests.push(PlannedRequest::upgrade());
            let len = rng.range(0, 40);
            after_upgrade = rng.bytes(len);
            ReadEnd::PendingForever
        }
        Ending::Graceful => {
            if rng.flip() {
                ReadEnd::PendingForever
            } else {
                ReadEnd::PoliteEof
            }
        }
        _ => {
            let choices: &[ReadEnd] = if case.opts.half_close {
                &[ReadEnd::RawEof, ReadEnd::PoliteEof, ReadEnd::PendingForever]
            } else {
                &[ReadEnd::PoliteEof, ReadEnd::PendingForever]
            };
            let drawn = choices[rng.below(choices.len())];
            let end = case.read_end.unwrap_or(drawn);
            // Without EOF, only `Connection: close` can end a kept-alive connection.
            let last = requests.last_mut().expect("at least one request");
            last.close = end == ReadEnd::PendingForever || rng.percent(40);
            end
        }
    };
    let cfg = MockConfig::random(rng, read_end);
    (
        Scenario {
            requests,
            body_kind: case.body_kind,
            read_body: case.read_body,
            after_upgrade,
        },
        cfg,
    )
}

async fn drive(
    case: &Case,
    scenario: Arc<Scenario>,
    cfg: MockConfig,
    shared: Shared,
    rng: &mut Rng,
) -> Outcome {
    let io = MockIo::new(shared.clone(), rng.fork(), cfg, scenario.script());
    let (up_tx, up_rx) = tokio::sync::oneshot::channel();
    let up_tx = Arc::new(Mutex::new(Some(up_tx)));
    let service = {
        let shared = shared.clone();
        let scenario = scenario.clone();
        let service_seed = rng.next();
        service_fn(move |mut req: Request<Incoming>| {
            lock(&shared).calls += 1;
            trace!("service: called for {}", req.uri());
            let index: usize = req
                .uri()
                .path()
                .strip_prefix("/r")
                .and_then(|s| s.parse().ok())
                .expect("request path /r<index>");
            let plan = &scenario.requests[index];
            if plan.upgrade {
                let on = hyper::upgrade::on(&mut req);
                if let Some(tx) = up_tx.lock().unwrap_or_else(|e| e.into_inner()).take() {
                    spawn_upgrade_task(on, shared.clone(), scenario.after_upgrade.len(), tx);
                }
            }
            let shared = shared.clone();
            let scenario = scenario.clone();
            let mut rng = Rng::new(service_seed ^ splitmix(index as u64));
            // Boxed so the service future is `Unpin`, as `poll_without_shutdown` requires.
            let fut: ServiceFuture = Box::pin(async move {
                let plan = &scenario.requests[index];
                if scenario.read_body {
                    let body = req
                        .into_body()
                        .collect()
                        .await
                        .expect("request body")
                        .to_bytes();
                    assert_eq!(
                        body, plan.body,
                        "request {index}'s body as the service read it"
                    );
                } else {
                    drop(req);
                }
                Ok::<_, Infallible>(respond(&shared, &scenario, index, &mut rng))
            });
            fut
        })
    };

    let builder = case.opts.builder();
    let mut outcome = Outcome {
        result: Ok(()),
        returned_io_accepted: None,
        upgrade: None,
        graceful_called: false,
    };
    match case.ending {
        Ending::Close => {
            outcome.result = builder
                .serve_connection(io, service)
                .await
                .map_err(Failure::from);
        }
        Ending::Graceful => {
            // Every response head here is longer than 60 bytes and the mock accepts at most
            // 7 bytes a call: this threshold is crossed while the first response is written.
            let threshold = rng.range(1, scenario.requests[0].response_body.len() + 50);
            let conn = builder.serve_connection(io, service);
            let mut conn = std::pin::pin!(conn);
            let mut called = false;
            outcome.result = poll_fn(|cx| {
                if !called {
                    let mut rec = lock(&shared);
                    if rec.calls >= 1 && rec.accepted.len() >= threshold {
                        rec.calls_at_graceful = Some(rec.calls);
                        drop(rec);
                        called = true;
                        trace!("graceful_shutdown()");
                        conn.as_mut().graceful_shutdown();
                    }
                }
                let res = conn.as_mut().poll(cx);
                trace!(
                    "connection polled: {}",
                    if res.is_ready() { "ready" } else { "pending" }
                );
                res
            })
            .await
            .map_err(Failure::from);
            outcome.graceful_called = called;
        }
        Ending::WithoutShutdown => {
            match builder
                .serve_connection(io, service)
                .without_shutdown()
                .await
            {
                Ok(parts) => {
                    outcome.returned_io_accepted = Some(lock(&parts.io.shared).accepted.len())
                }
                Err(e) => outcome.result = Err(e.into()),
            }
        }
        Ending::IntoParts => {
            let mut conn = builder.serve_connection(io, service);
            outcome.result = poll_fn(|cx| conn.poll_without_shutdown(cx))
                .await
                .map_err(Failure::from);
            if outcome.result.is_ok() {
                let parts = conn.into_parts();
                outcome.returned_io_accepted = Some(lock(&parts.io.shared).accepted.len());
            }
        }
        Ending::Upgrade => {
            outcome.result = builder
                .serve_connection(io, service)
                .with_upgrades()
                .await
                .map_err(Failure::from);
            outcome.upgrade = Some(match up_rx.await {
                Ok(report) => report,
                Err(_) => Err("the upgrade task ended without a report".into()),
            });
        }
    }
    outcome
}

/// Runs one case on a fresh current-thread runtime and checks everything.
fn run_case(case: &Case) {
    let mut rng = Rng::new(case.seed);
    let (scenario, cfg) = build_scenario(case, &mut rng);
    let scenario = Arc::new(scenario);
    let shared: Shared = Arc::default();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let outcome = rt.block_on(async {
        tokio::time::timeout(
            CASE_DEADLINE,
            drive(
                case,
                scenario.clone(),
                cfg.clone(),
                shared.clone(),
                &mut rng,
            ),
        )
        .await
    });
    drop(rt);
    let describe = || {
        let methods: Vec<String> = scenario
            .requests
            .iter()
            .map(|r| {
                format!(
                    "{}{}(req {}B{}, resp {}B{})",
                    if r.upgrade {
                        "UPGRADE "
                    } else if r.post {
                        "POST"
                    } else {
                        "GET"
                    },
                    if r.close { " close" } else { "" },
                    r.body.len(),
                    if r.chunked_request { " chunked" } else { "" },
                    r.response_body.len(),
                    if r.trailer.is_some() { " +trailer" } else { "" },
                )
            })
            .collect();
        format!("requests {methods:?}; mock {cfg:?}")
    };
    let Ok(outcome) = outcome else {
        let rec = lock(&shared);
        panic!(
            "the connection did not end within {CASE_DEADLINE:?} ({} bytes accepted, {} calls, {} produced); {}",
            rec.accepted.len(),
            rec.calls,
            rec.produced.len(),
            describe()
        );
    };
    let rec = lock(&shared);
    if let Err(msg) = verify(case, &scenario, &rec, &outcome) {
        let shown = String::from_utf8_lossy(&rec.accepted[..rec.accepted.len().min(1500)]);
        panic!(
            "{msg}\n  {}\n  result: {:?}; shutdown calls: {}; first shutdown: {:?}; {} bytes accepted, {} produced\n  accepted (start): {shown:?}",
            describe(),
            outcome.result,
            rec.shutdown_calls,
            rec.first_shutdown,
            rec.accepted.len(),
            rec.produced.len(),
        );
    }
}

/// Parses `bytes` as the sequence of `expected` responses: each one complete and equal to
/// what the service produced. Returns the end offset of each.
fn check_responses(bytes: &[u8], expected: &[Expected], opts: &Opts) -> Result<Vec<usize>, String> {
    let mut ends = Vec::new();
    let mut at = 0;
    for exp in expected {
        let resp = match parse_response(&bytes[at..]) {
            Ok(Some(r)) => r,
            Ok(None) => {
                return Err(format!(
                    "response #{} (to request {}) is incomplete: {} bytes from offset {at} are not a whole response",
                    ends.len(),
                    exp.index,
                    bytes.len() - at
                ))
            }
            Err(e) => return Err(format!("response #{} at offset {at}: {e}", ends.len())),
        };
        if resp.status != exp.status {
            return Err(format!(
                "response #{}: status {} != {}",
                ends.len(),
                resp.status,
                exp.status
            ));
        }
        let x_req = resp
            .header("x-req")
            .map(|v| String::from_utf8_lossy(v).into_owned());
        if x_req.as_deref() != Some(exp.index.to_string().as_str()) {
            return Err(format!(
                "response #{}: x-req {x_req:?}, expected {}",
                ends.len(),
                exp.index
            ));
        }
        if ExpectedFraming::of(resp.framing) != Some(exp.framing) {
            return Err(format!(
                "response #{}: framing {:?} != {:?}",
                ends.len(),
                resp.framing,
                exp.framing
            ));
        }
        if resp.body != exp.body {
            let diff = resp.body.iter().zip(&exp.body).position(|(a, b)| a != b);
            return Err(format!(
                "response #{}: body of {} bytes differs from the {} produced (first difference at {diff:?})",
                ends.len(),
                resp.body.len(),
                exp.body.len()
            ));
        }
        if let Some((name, value)) = &exp.trailer {
            let found = resp
                .trailers
                .iter()
                .any(|(n, v)| n.eq_ignore_ascii_case(name) && v == value);
            if !found {
                return Err(format!(
                    "response #{}: trailer {name}: {value} missing ({:?})",
                    ends.len(),
                    resp.trailers
                ));
            }
        }
        for (name, _) in &resp.headers {
            let ok = if opts.title_case {
                is_title_case(name)
            } else {
                !name.bytes().any(|b| b.is_ascii_uppercase())
            };
            if !ok {
                return Err(format!(
                    "response #{}: header name {name:?} with title_case_headers({})",
                    ends.len(),
                    opts.title_case
                ));
            }
        }
        at += resp.len;
        ends.push(at);
    }
    Ok(ends)
}

fn verify(case: &Case, scenario: &Scenario, rec: &Record, outcome: &Outcome) -> Result<(), String> {
    // One error is acceptable: without half-close, a client that closes the instant the last
    // response byte left may find the server still considering that exchange in progress
    // (e.g. it has not yet seen the end of a body stream whose bytes are all written), and
    // hyper reports that EOF as an incomplete message. Whether every byte arrived is checked
    // below all the same; an error for any other reason fails the case.
    let tolerated_error = match &outcome.result {
        Ok(()) => false,
        Err(f) if f.incomplete && rec.eof_delivered && !case.opts.half_close => true,
        Err(f) => return Err(format!("the connection future failed: {}", f.text)),
    };
    let upgraded = case.ending == Ending::Upgrade;
    // Bytes written over an upgraded IO are not HTTP; they are checked separately.
    let http_len = match &outcome.upgrade {
        Some(Ok(report)) => report.accepted_at_upgrade.len(),
        _ => rec.accepted.len(),
    };
    let ends = check_responses(&rec.accepted[..http_len], &rec.produced, &case.opts)?;
    let end = ends.last().copied().unwrap_or(0);
    if end != http_len {
        return Err(format!(
            "{} bytes after the last of the {} produced responses",
            http_len - end,
            rec.produced.len()
        ));
    }
    for (i, exp) in rec.produced.iter().enumerate() {
        if exp.index != i {
            return Err(format!("response #{i} answers request {}", exp.index));
        }
    }

    // The moment of the first shutdown.
    if let Some(snap) = rec.first_shutdown {
        if snap.produced != rec.produced.len() {
            return Err(format!(
                "the service produced {} responses after the transport was shut down",
                rec.produced.len() - snap.produced
            ));
        }
        let needed = ends
            .get(snap.produced.wrapping_sub(1))
            .copied()
            .unwrap_or(0);
        if snap.accepted < needed {
            return Err(format!(
                "poll_shutdown was first called after {} bytes, but the {} responses produced by then take {needed} bytes",
                snap.accepted, snap.produced
            ));
        }
    }
    if rec.accepted_after_shutdown > 0 {
        return Err(format!(
            "{} bytes written after poll_shutdown",
            rec.accepted_after_shutdown
        ));
    }

    // How the connection ended.
    let hands_io_back = matches!(case.ending, Ending::WithoutShutdown | Ending::IntoParts);
    if hands_io_back || upgraded {
        if rec.shutdown_calls > 0 {
            return Err(format!("{:?}: poll_shutdown was called", case.ending));
        }
    } else if rec.shutdown_calls == 0 && !tolerated_error {
        return Err("the connection ended without calling poll_shutdown".into());
    }
    if hands_io_back && !tolerated_error && outcome.returned_io_accepted != Some(rec.accepted.len())
    {
        return Err(format!(
            "the returned transport accepted {:?} bytes, the record says {}",
            outcome.returned_io_accepted,
            rec.accepted.len()
        ));
    }

    // How many requests must have been answered: otherwise the checks above could pass on a
    // connection that answered nothing.
    let n = scenario.requests.len();
    // A body the service leaves unread may end the connection after its response (the
    // server can close instead of draining it). That includes an empty chunked body: the
    // server cannot know it is empty before reading it.
    let first_unread = scenario
        .requests
        .iter()
        .position(|r| !scenario.read_body && (r.chunked_request || !r.body.is_empty()))
        .unwrap_or(n);
    let (min, max) = match case.ending {
        Ending::Graceful => (1, n),
        _ if !case.opts.keep_alive => (1, 1),
        _ if first_unread < n => (first_unread + 1, n),
        _ => (n, n),
    };
    let produced = rec.produced.len();
    if produced < min || produced > max {
        return Err(format!(
            "{produced} responses; expected between {min} and {max}"
        ));
    }
    if produced != rec.calls {
        return Err(format!(
            "{} service calls but {produced} responses",
            rec.calls
        ));
    }
    if case.ending == Ending::Graceful {
        if !outcome.graceful_called {
            return Err("graceful_shutdown() was never called (threshold not reached)".into());
        }
        let at = rec.calls_at_graceful.unwrap_or_default();
        if rec.calls > at + 1 {
            return Err(format!(
                "{} requests were dispatched after graceful_shutdown()",
                rec.calls - at
            ));
        }
    }

    if upgraded {
        let report = match &outcome.upgrade {
            Some(Ok(report)) => report,
            Some(Err(e)) => return Err(format!("upgrade: {e}")),
            None => return Err("no upgrade report".into()),
        };
        if report.produced_at_upgrade != rec.produced.len() {
            return Err("responses produced after the upgrade resolved".into());
        }
        if report.shutdown_calls_at_upgrade != 0 {
            return Err("poll_shutdown before the upgrade resolved".into());
        }
        if rec.produced.last().map(|e| e.status) != Some(101) {
            return Err("the last response is not the 101".into());
        }
        // `check_responses` above ran on exactly the bytes present when the upgrade
        // resolved: the 101 head was complete by then.
        if report.read_after_upgrade != scenario.after_upgrade {
            return Err(format!(
                "the upgraded IO read {:?}, the client sent {:?}",
                report.read_after_upgrade, scenario.after_upgrade
            ));
        }
        if report.written_after_upgrade != UPGRADE_REPLY {
            return Err(format!(
                "bytes after the 101 are {:?}, not what the upgraded IO wrote",
                String::from_utf8_lossy(&report.written_after_upgrade)
            ));
        }
    }
    Ok(())
}

/// Runs every case (stopping after `MAX_FAILURES` failures) and fails with a summary that
/// gives each failing case's replay command.
fn run_all(test: &str, cases: Vec<Case>) {
    let max_failures: usize = std::env::var("MOCK_IO_MAX_FAILURES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8);
    let base = base_seed();
    let total = cases.len();
    let only: Option<usize> = std::env::var("MOCK_IO_CASE")
        .ok()
        .and_then(|v| v.parse().ok());
    let mut failures = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        if only.is_some_and(|only| only != i) {
            continue;
        }
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| run_case(case))) {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            failures.push(format!(
                "case {i}/{total}: {case:?}\n  replay: MOCK_IO_SEED={base:#x} MOCK_IO_CASE={i} MOCK_IO_TRACE=1 \
                 cargo test --features full --test shutdown_after_drain {test}\n  {msg}"
            ));
            if failures.len() == max_failures {
                break;
            }
        }
    }
    if !failures.is_empty() {
        panic!(
            "{test}: {} failing case(s){} (seed {base:#x}):\n\n{}",
            failures.len(),
            if failures.len() == max_failures {
                ", stopped there"
            } else {
                ""
            },
            failures.join("\n\n")
        );
    }
}

fn case_seed(base: u64, test: &str, i: usize) -> u64 {
    let name_hash = test.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    });
    splitmix(base ^ splitmix(name_hash ^ i as u64))
}

fn cases_for(
    test: &str,
    opts: &[Opts],
    kinds: &[BodyKind],
    ending: Ending,
    reps: usize,
) -> Vec<Case> {
    let base = base_seed();
    let mut cases = Vec::new();
    for &opts in opts {
        for &body_kind in kinds {
            for read_body in [true, false] {
                for _ in 0..reps {
                    let seed = case_seed(base, test, cases.len());
                    cases.push(Case {
                        opts,
                        body_kind,
                        read_body,
                        ending,
                        read_end: None,
                        seed,
                    });
                }
            }
        }
    }
    cases
}

const ALL_KINDS: [BodyKind; 3] = [BodyKind::Full, BodyKind::Chunked, BodyKind::SizedStream];

fn option_sets(test: &str, extra: usize) -> Vec<Opts> {
    let mut rng = Rng::new(case_seed(base_seed(), test, usize::MAX));
    Opts::one_at_a_time_plus_random(&mut rng, extra)
}

// =============================================================================================
// The tests
// =============================================================================================

/// A test whose body gets its own name (for seeds and replay hints) as `$test`.
macro_rules! mock_io_test {
    ($(#[$attr:meta])* fn $name:ident($test:ident) $body:block) => {
        $(#[$attr])*
        #[test]
        fn $name() {
            let $test: &str = stringify!($name);
            $body
        }
    };
}

mock_io_test! {
    /// All 64 combinations of writev, pipeline_flush, keep_alive, half_close, max_buf_size and
    /// title_case_headers, with the service reading or ignoring request bodies: `Full` responses
    /// are complete before the transport is shut down, and nothing is written after.
    fn every_write_option_combination_writes_full_responses_completely_before_shutdown(test) {
        let opts = Opts::cartesian();
        run_all(test, cases_for(test, &opts, &[BodyKind::Full], Ending::Close, 1));
    }
}

mock_io_test! {
    /// The same for streamed responses without a size hint (chunked, some with trailers, some
    /// frames empty, the stream sometimes not ready).
    fn every_write_option_combination_writes_chunked_stream_responses_completely_before_shutdown(
        test
    ) {
        let opts = Opts::cartesian();
        run_all(test, cases_for(test, &opts, &[BodyKind::Chunked], Ending::Close, 1));
    }
}

mock_io_test! {
    /// The same for streamed responses with a `content-length` header.
    fn every_write_option_combination_writes_sized_stream_responses_completely_before_shutdown(
        test
    ) {
        let opts = Opts::cartesian();
        run_all(test, cases_for(test, &opts, &[BodyKind::SizedStream], Ending::Close, 1));
    }
}

mock_io_test! {
    /// `graceful_shutdown()` while the first response is partly written, with more keep-alive
    /// requests queued and the client never closing: the connection still ends, after every
    /// produced response was written, and dispatches no new request.
    fn graceful_shutdown_mid_response_finishes_writing_before_shutdown(test) {
        let opts = option_sets(test, 6);
        run_all(test, cases_for(test, &opts, &ALL_KINDS, Ending::Graceful, 2));
    }
}

mock_io_test! {
    /// `without_shutdown()` resolves only once every response byte was accepted; the transport
    /// in `Parts` holds them all and was never shut down.
    fn without_shutdown_hands_back_io_only_after_every_response_byte_was_written(test) {
        let opts = option_sets(test, 6);
        run_all(test, cases_for(test, &opts, &ALL_KINDS, Ending::WithoutShutdown, 2));
    }
}

mock_io_test! {
    /// `poll_without_shutdown` is ready only once every response byte was accepted, and
    /// `into_parts()` then hands back that transport, never shut down.
    fn poll_without_shutdown_completes_only_after_every_response_byte_was_written(test) {
        let opts = option_sets(test, 6);
        run_all(test, cases_for(test, &opts, &ALL_KINDS, Ending::IntoParts, 2));
    }
}

mock_io_test! {
    /// `hyper::upgrade::on` yields the `Upgraded` only once the 101 head (and any response
    /// before it) was completely accepted; the upgraded IO then reads the bytes the client sent
    /// after its request and writes right after the 101.
    fn upgrade_resolves_only_after_the_101_head_was_completely_written(test) {
        let opts = option_sets(test, 6);
        run_all(test, cases_for(test, &opts, &ALL_KINDS, Ending::Upgrade, 2));
    }
}

mock_io_test! {
    /// With `half_close(true)`, a client that sends its requests and shuts its write side at
    /// once (EOF right after the script) still gets every answer before the shutdown.
    fn half_closed_client_gets_every_response_before_shutdown(test) {
        let base = base_seed();
        let cases = (0..48)
            .map(|i| {
                let seed = case_seed(base, test, i);
                let mut opts = Opts::random(&mut Rng::new(seed));
                opts.half_close = true;
                Case {
                    opts,
                    body_kind: ALL_KINDS[i % 3],
                    read_body: i % 2 == 0,
                    ending: Ending::Close,
                    read_end: Some(ReadEnd::RawEof),
                    seed,
                }
            })
            .collect();
        run_all(test, cases);
    }
}

/// The checker itself must catch a response cut short, a write after shutdown, and an early
/// shutdown; otherwise the tests above prove nothing.
#[test]
fn checker_rejects_truncated_responses_and_early_shutdown() {
    let case = Case {
        opts: DEFAULT_OPTS,
        body_kind: BodyKind::Full,
        read_body: true,
        ending: Ending::Close,
        read_end: None,
        seed: 1,
    };
    let mut plan = PlannedRequest::random(&mut Rng::new(3), BodyKind::Full);
    plan.response_body = b"hello, world".to_vec();
    plan.close = true;
    let scenario = Scenario {
        requests: vec![plan],
        body_kind: BodyKind::Full,
        read_body: true,
        after_upgrade: Vec::new(),
    };
    let expected = Expected {
        index: 0,
        status: 200,
        body: b"hello, world".to_vec(),
        framing: ExpectedFraming::Length,
        trailer: None,
    };
    let wire = b"HTTP/1.1 200 OK\r\nx-req: 0\r\ncontent-length: 12\r\n\r\nhello, world".to_vec();
    let outcome = || Outcome {
        result: Ok(()),
        returned_io_accepted: None,
        upgrade: None,
        graceful_called: false,
    };
    let good = || Record {
        accepted: wire.clone(),
        calls: 1,
        produced: vec![expected.clone()],
        shutdown_calls: 1,
        first_shutdown: Some(Snapshot {
            accepted: wire.len(),
            produced: 1,
        }),
        ..Record::default()
    };
    verify(&case, &scenario, &good(), &outcome()).expect("a correct connection passes");

    let mut truncated = good();
    truncated.accepted.truncate(wire.len() - 3);
    truncated.first_shutdown = Some(Snapshot {
        accepted: wire.len() - 3,
        produced: 1,
    });
    let err = verify(&case, &scenario, &truncated, &outcome()).expect_err("truncated");
    assert!(err.contains("incomplete"), "{err}");

    let mut early = good();
    early.first_shutdown = Some(Snapshot {
        accepted: 20,
        produced: 1,
    });
    early.accepted_after_shutdown = wire.len() - 20;
    let err = verify(&case, &scenario, &early, &outcome()).expect_err("early shutdown");
    assert!(err.contains("poll_shutdown was first called"), "{err}");

    let mut late_write = good();
    late_write.accepted_after_shutdown = 1;
    let err = verify(&case, &scenario, &late_write, &outcome()).expect_err("late write");
    assert!(err.contains("after poll_shutdown"), "{err}");
}
