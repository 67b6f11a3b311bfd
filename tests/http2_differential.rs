#![cfg(feature = "full")]
//! Frame-level differential of HTTP/2 between the fork and upstream hyper 1.13.0, both roles.
//!
//! A scripted peer speaking raw frames (`support/h2_wire.rs`) plays the client against each
//! crate's server, and the server against each crate's client, with the same script. What
//! each crate sends is compared as a transcript: frame types, flags and stream ids, header
//! blocks decoded (without `date`), DATA bytes (consecutive non-empty DATA frames of a stream
//! merged, since how a body is cut into frames follows the window; an empty DATA frame stays a
//! frame of its own), RST_STREAM and GOAWAY codes, WINDOW_UPDATE increments summed per stream,
//! and how the connection ended. What the application sees is compared too: for a server,
//! what each service call saw of its request (head, body, trailers, errors); for a client,
//! each call's response or error; for both, the connection's result. Errors are compared by
//! their `is_*` predicates, message, and any HTTP/2 reason or IO error kind in their chain.
//!
//! A scenario passes when both crates produce the same observation. Where the fork differs on
//! purpose, `UPSTREAM.md` lists the difference and the scenario asserts each side.
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;
use tokio::sync::{watch, Notify};

#[path = "support/upstream_io.rs"]
mod upstream_io;
use upstream_io::UpIo;

#[path = "support/pattern.rs"]
mod pattern;
use pattern::pattern;

#[path = "support/upstream_exec.rs"]
mod upstream_exec;
use upstream_exec::UpExec;

#[path = "support/upstream_timer.rs"]
mod upstream_timer;
use upstream_timer::UpTimer;

#[path = "support/h2_wire.rs"]
mod wire;
use wire::{Ending, Frame, Peer};

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Body = BoxBody<Bytes, BoxError>;

/// The longest an application step may take before it counts as hung.
const BOUND: Duration = Duration::from_secs(4);

const NO_ERROR: u32 = 0;
const INTERNAL_ERROR: u32 = 2;
const REFUSED_STREAM: u32 = 7;
const CANCEL: u32 = 8;

// ---------------------------------------------------------------------------------------------
// Transcripts

/// A short, stable rendering of bytes: the text when short and printable, else length and hash.
fn show_bytes(bytes: &[u8]) -> String {
    if bytes.len() <= 48 && bytes.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
        format!("{:?}", String::from_utf8_lossy(bytes))
    } else {
        let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
        });
        format!("{} bytes #{hash:016x}", bytes.len())
    }
}

fn show_fields<'a>(fields: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let shown: Vec<String> = fields
        .into_iter()
        .filter(|(name, _)| *name != "date")
        .map(|(name, value)| {
            if value.len() > 64 {
                format!("{name}: <{} bytes>", value.len())
            } else {
                format!("{name}: {value}")
            }
        })
        .collect();
    format!("[{}]", shown.join(", "))
}

/// The comparable form of everything one side sent.
fn transcript(log: &[Frame], ending: Ending) -> Vec<String> {
    let mut lines = Vec::new();
    let mut streams: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    let mut runs: BTreeMap<u32, Vec<u8>> = BTreeMap::new();
    let mut windows: BTreeMap<u32, u64> = BTreeMap::new();
    fn flush(
        runs: &mut BTreeMap<u32, Vec<u8>>,
        streams: &mut BTreeMap<u32, Vec<String>>,
        id: u32,
        end: bool,
    ) {
        let bytes = runs.remove(&id).unwrap_or_default();
        if !bytes.is_empty() || end {
            let end = if end { " END_STREAM" } else { "" };
            streams
                .entry(id)
                .or_default()
                .push(format!("DATA {}{end}", show_bytes(&bytes)));
        }
    }
    for frame in log {
        let id = frame.stream();
        match frame {
            Frame::Data {
                end_stream, bytes, ..
            } => {
                if bytes.is_empty() {
                    flush(&mut runs, &mut streams, id, false);
                    let end = if *end_stream { " END_STREAM" } else { "" };
                    streams
                        .entry(id)
                        .or_default()
                        .push(format!("DATA empty{end}"));
                } else {
                    runs.entry(id).or_default().extend_from_slice(bytes);
                    if *end_stream {
                        flush(&mut runs, &mut streams, id, true);
                    }
                }
            }
            Frame::WindowUpdate { increment, .. } => {
                *windows.entry(id).or_default() += u64::from(*increment);
            }
            Frame::Headers {
                end_stream, fields, ..
            } => {
                flush(&mut runs, &mut streams, id, false);
                let end = if *end_stream { " END_STREAM" } else { "" };
                let shown = show_fields(fields.iter().map(|(n, v)| (n.as_str(), v.as_str())));
                streams
                    .entry(id)
                    .or_default()
                    .push(format!("HEADERS{end} {shown}"));
            }
            Frame::Reset { code, .. } => {
                flush(&mut runs, &mut streams, id, false);
                streams
                    .entry(id)
                    .or_default()
                    .push(format!("RST_STREAM {code}"));
            }
            Frame::Priority { .. } | Frame::PushPromise { .. } | Frame::Unknown { .. } => {
                streams.entry(id).or_default().push(format!("{frame:?}"));
            }
            Frame::Settings { ack: true, .. } => lines.push("conn: SETTINGS ACK".to_string()),
            Frame::Settings { params, .. } => lines.push(format!("conn: SETTINGS {params:?}")),
            Frame::Ping { ack, payload } => {
                let ack = if *ack { " ACK" } else { "" };
                lines.push(format!("conn: PING{ack} {payload:02x?}"));
            }
            Frame::GoAway { last_stream, code } => {
                lines.push(format!("conn: GOAWAY last={last_stream} code={code}"))
            }
            Frame::Garbled(what) => lines.push(format!("conn: garbled {what}")),
        }
    }
    let open: Vec<u32> = runs.keys().copied().collect();
    for id in open {
        flush(&mut runs, &mut streams, id, false);
    }
    for (id, frames) in streams {
        lines.extend(frames.into_iter().map(|f| format!("stream {id}: {f}")));
    }
    for (id, total) in windows {
        lines.push(format!("window {id}: +{total}"));
    }
    lines.push(format!("end: {ending:?}"));
    lines
}

/// The HTTP/2 reason and IO error kind in an error's source chain, if any.
fn chain_details(error: &(dyn std::error::Error + 'static)) -> String {
    let mut details = Vec::new();
    let mut next = error.source();
    while let Some(cause) = next {
        if let Some(h2) = cause.downcast_ref::<h2::Error>() {
            details.push(format!("h2 reason {:?}", h2.reason()));
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            details.push(format!("io {:?}", io.kind()));
        }
        next = cause.source();
    }
    details.join(", ")
}

/// An error of either crate, by what an application can ask of it.
macro_rules! describe {
    ($error:expr) => {{
        let e = &$error;
        let flags = [
            ("canceled", e.is_canceled()),
            ("closed", e.is_closed()),
            ("user", e.is_user()),
            ("incomplete", e.is_incomplete_message()),
            ("body_write_aborted", e.is_body_write_aborted()),
            ("timeout", e.is_timeout()),
            ("parse", e.is_parse()),
        ];
        let set: Vec<&str> = flags.iter().filter(|f| f.1).map(|f| f.0).collect();
        format!("error {set:?} {:?} ({})", e.to_string(), chain_details(e))
    }};
}

/// Reads a body of either crate to its end: its data, trailers, or the error it ended with.
macro_rules! read_body {
    ($body:expr) => {{
        let mut body = $body;
        let mut bytes = Vec::new();
        let mut ending = String::from("end");
        let read = tokio::time::timeout(BOUND, async {
            while let Some(frame) = body.frame().await {
                match frame {
                    Ok(frame) => match frame.into_data() {
                        Ok(data) => bytes.extend_from_slice(&data),
                        Err(frame) => {
                            if let Some(t) = frame.trailers_ref() {
                                let t = t.iter().map(|(n, v)| (n.as_str(), v.to_str().unwrap()));
                                ending = format!("trailers {}", show_fields(t));
                            }
                        }
                    },
                    Err(e) => {
                        ending = describe!(e);
                        break;
                    }
                }
            }
        })
        .await;
        if read.is_err() {
            ending = "hung".to_string();
        }
        (Bytes::from(bytes), ending)
    }};
}

fn head_of(headers: &http::HeaderMap) -> String {
    show_fields(
        headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.to_str().unwrap_or("<bytes>"))),
    )
}

fn streamed<S>(frames: S) -> Body
where
    S: futures_util::Stream<Item = Result<http_body::Frame<Bytes>, BoxError>>
        + Send
        + Sync
        + 'static,
{
    BodyExt::boxed(StreamBody::new(frames))
}

fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

/// An error with an `h2::Error` of `code` in its source chain (`None`: no such error).
fn failing(code: Option<u32>) -> BoxError {
    #[derive(Debug)]
    struct Wrapped(h2::Error);
    impl std::fmt::Display for Wrapped {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("application failure")
        }
    }
    impl std::error::Error for Wrapped {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }
    match code {
        Some(code) => Box::new(Wrapped(h2::Reason::from(code).into())),
        None => "plain application failure".into(),
    }
}

/// What one side did in a scenario.
#[derive(Debug, PartialEq)]
struct Observed {
    wire: Vec<String>,
    app: Vec<String>,
}

/// Compares the two sides; with `H2_DIFFERENTIAL_SHOW` set, shows them even when they agree.
fn compare(scenario: &str, fork: Observed, upstream: Observed) {
    if fork != upstream || std::env::var_os("H2_DIFFERENTIAL_SHOW").is_some() {
        let verdict = if fork == upstream { "agree" } else { "differ" };
        let mut report = format!("{scenario}: the fork and upstream {verdict}\n");
        for (side, seen) in [("fork", &fork), ("upstream", &upstream)] {
            report.push_str(&format!("--- {side} wire\n"));
            for line in &seen.wire {
                report.push_str(&format!("  {line}\n"));
            }
            report.push_str(&format!("--- {side} application\n"));
            for line in &seen.app {
                report.push_str(&format!("  {line}\n"));
            }
        }
        assert!(fork == upstream, "{report}");
        println!("{report}");
    }
}

// ---------------------------------------------------------------------------------------------
// Server role: the peer is the client

/// Shared between a server scenario's script and its services.
#[derive(Clone)]
struct Control(Arc<ControlInner>);

struct ControlInner {
    notes: watch::Sender<Vec<String>>,
    released: watch::Sender<bool>,
    calls: watch::Sender<usize>,
    shutdown: Notify,
}

impl Control {
    fn new() -> Control {
        Control(Arc::new(ControlInner {
            notes: watch::channel(Vec::new()).0,
            released: watch::channel(false).0,
            calls: watch::channel(0).0,
            shutdown: Notify::new(),
        }))
    }

    fn note(&self, line: String) {
        self.0.notes.send_modify(|notes| notes.push(line));
    }

    /// Waits (boundedly) until a note contains `needle`.
    async fn noted(&self, needle: &str) {
        let mut rx = self.0.notes.subscribe();
        let seen = rx.wait_for(|notes| notes.iter().any(|n| n.contains(needle)));
        tokio::time::timeout(BOUND, seen).await.ok();
    }

    /// Lets every waiting service answer.
    fn release(&self) {
        self.0.released.send_replace(true);
    }

    async fn released(&self) {
        let mut rx = self.0.released.subscribe();
        rx.wait_for(|r| *r).await.ok();
    }

    /// Asks the server connection to shut down gracefully.
    fn shutdown(&self) {
        self.0.shutdown.notify_one();
    }

    /// Waits until the service was called `n` times.
    async fn calls(&self, n: usize) {
        let mut rx = self.0.calls.subscribe();
        tokio::time::timeout(BOUND, rx.wait_for(|c| *c >= n))
            .await
            .ok();
    }
}

/// Notes that a service future was dropped before it answered.
struct DropNote(Option<(Control, String)>);

impl Drop for DropNote {
    fn drop(&mut self) {
        if let Some((ctl, path)) = self.0.take() {
            ctl.note(format!("{path}: service future dropped"));
        }
    }
}

/// Tunnel helpers for one crate's `Upgraded`: `$reverse` reads until EOF, writes back what it
/// read reversed and shuts down (returning what it read, or how it failed); `$round_trip`
/// writes bytes, shuts down, and reads until EOF.
macro_rules! tunnel_fns {
    ($krate:ident, $reverse:ident, $round_trip:ident) => {
        async fn $reverse(mut io: $krate::upgrade::Upgraded) -> String {
            use std::pin::Pin;
            let mut got = Vec::new();
            let failed = loop {
                let mut space = [0u8; 1024];
                let mut buf = $krate::rt::ReadBuf::new(&mut space);
                let read = std::future::poll_fn(|cx| {
                    $krate::rt::Read::poll_read(Pin::new(&mut io), cx, buf.unfilled())
                })
                .await;
                if let Err(e) = read {
                    break Some(e);
                }
                if buf.filled().is_empty() {
                    break None;
                }
                got.extend_from_slice(buf.filled());
            };
            if let Some(e) = failed {
                return format!(
                    "tunnel read {} then failed: {:?}",
                    show_bytes(&got),
                    e.kind()
                );
            }
            let mut back = got.clone();
            back.reverse();
            let written = $round_trip(&mut io, &back, false).await;
            match written {
                Ok(_) => format!("tunnel read {}", show_bytes(&got)),
                Err(e) => format!(
                    "tunnel read {} then failed: {:?}",
                    show_bytes(&got),
                    e.kind()
                ),
            }
        }

        async fn $round_trip(
            io: &mut $krate::upgrade::Upgraded,
            bytes: &[u8],
            read_back: bool,
        ) -> Result<Vec<u8>, std::io::Error> {
            use std::pin::Pin;
            let mut rest = bytes;
            while !rest.is_empty() {
                let written = std::future::poll_fn(|cx| {
                    $krate::rt::Write::poll_write(Pin::new(&mut *io), cx, rest)
                })
                .await;
                rest = &rest[written?..];
            }
            let shut =
                std::future::poll_fn(|cx| $krate::rt::Write::poll_shutdown(Pin::new(&mut *io), cx))
                    .await;
            shut?;
            let mut got = Vec::new();
            while read_back {
                let mut space = [0u8; 1024];
                let mut buf = $krate::rt::ReadBuf::new(&mut space);
                let read = std::future::poll_fn(|cx| {
                    $krate::rt::Read::poll_read(Pin::new(&mut *io), cx, buf.unfilled())
                })
                .await;
                read?;
                if buf.filled().is_empty() {
                    break;
                }
                got.extend_from_slice(buf.filled());
            }
            Ok(got)
        }
    };
}

tunnel_fns!(hyper, fork_reverse_tunnel, fork_tunnel_round_trip);
tunnel_fns!(
    hyper_upstream,
    upstream_reverse_tunnel,
    upstream_tunnel_round_trip
);

/// The scenarios' service, written once for both crates. What it does depends on the path
/// (or, for CONNECT, the authority); everything it sees is noted.
macro_rules! service {
    ($krate:ident, $reverse:ident, $ctl:expr) => {{
        let ctl: Control = $ctl;
        $krate::service::service_fn(move |mut req: http::Request<$krate::body::Incoming>| {
            let ctl = ctl.clone();
            async move {
                use http_body::Body as _;
                ctl.0.calls.send_modify(|c| *c += 1);
                let path = req.uri().path().to_string();
                let hint = req.body().size_hint();
                let protocol = req
                    .extensions()
                    .get::<$krate::ext::Protocol>()
                    .map(|p| p.as_str().to_string());
                ctl.note(format!(
                    "{path}: {} {} {} end_stream={} hint={}..{:?} protocol={protocol:?}",
                    req.method(),
                    req.uri(),
                    head_of(req.headers()),
                    req.body().is_end_stream(),
                    hint.lower(),
                    hint.upper(),
                ));
                if req.method() == http::Method::CONNECT {
                    if req.uri().host() == Some("reject.test") {
                        let res = http::Response::builder().status(400).body(full("no"));
                        return Ok::<_, BoxError>(res.unwrap());
                    }
                    let on_upgrade = $krate::upgrade::on(&mut req);
                    let ctl = ctl.clone();
                    tokio::spawn(async move {
                        let seen = match on_upgrade.await {
                            Ok(upgraded) => $reverse(upgraded).await,
                            Err(e) => format!("upgrade failed: {}", describe!(e)),
                        };
                        ctl.note(format!("{path}: {seen}"));
                    });
                    return Ok(http::Response::new(full("")));
                }
                let mut dropped = DropNote(Some((ctl.clone(), path.clone())));
                let (_parts, body) = req.into_parts();
                let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
                let code = segments.get(1).and_then(|c| c.parse::<u32>().ok());
                let res = match segments[0] {
                    "hello" => http::Response::new(full("hello world!\n")),
                    "empty" => http::Response::new(full("")),
                    "echo" => {
                        let (bytes, ending) = read_body!(body);
                        ctl.note(format!("{path}: body {} then {ending}", show_bytes(&bytes)));
                        http::Response::new(full(bytes))
                    }
                    "ignore" => {
                        drop(body);
                        http::Response::new(full("ignored"))
                    }
                    "trailers" => {
                        let (bytes, ending) = read_body!(body);
                        ctl.note(format!("{path}: body {} then {ending}", show_bytes(&bytes)));
                        let mut trailers = http::HeaderMap::new();
                        trailers.insert("x-echo", "done".parse().unwrap());
                        let frames = stream::iter([
                            Ok(http_body::Frame::data(Bytes::from_static(b"t"))),
                            Ok(http_body::Frame::trailers(trailers)),
                        ]);
                        http::Response::new(streamed(frames))
                    }
                    "chunks" => {
                        let frames = stream::iter(
                            (0..4).map(|k| Ok(http_body::Frame::data(pattern(5000 + k, 0)))),
                        );
                        http::Response::new(streamed(frames))
                    }
                    "big" => http::Response::new(full(pattern(100_000, 0))),
                    "service-error" => return Err(failing(code)),
                    "body-error" => {
                        let frames = stream::iter([
                            Ok(http_body::Frame::data(Bytes::from_static(b"partial"))),
                            Err(failing(code)),
                        ]);
                        http::Response::new(streamed(frames))
                    }
                    "wait" => {
                        ctl.released().await;
                        http::Response::new(full("released"))
                    }
                    "slow-body" => {
                        let ctl = ctl.clone();
                        let first = stream::once(async {
                            Ok(http_body::Frame::data(Bytes::from_static(b"first")))
                        });
                        let second = stream::once(async move {
                            ctl.released().await;
                            Ok(http_body::Frame::data(Bytes::from_static(b"second")))
                        });
                        let frames = futures_util::StreamExt::chain(first, second);
                        http::Response::new(streamed(frames))
                    }
                    "headers" => {
                        let mut res = http::Response::new(full("h"));
                        let h = res.headers_mut();
                        for (name, value) in [
                            ("connection", "keep-alive, x-hop"),
                            ("x-hop", "1"),
                            ("keep-alive", "timeout=5"),
                            ("proxy-connection", "keep-alive"),
                            ("transfer-encoding", "chunked"),
                            ("te", "trailers"),
                            ("upgrade", "h2c"),
                            ("x-kept", "yes"),
                        ] {
                            h.append(name, value.parse().unwrap());
                        }
                        res
                    }
                    "length" => {
                        let mut res = http::Response::new(full("abc"));
                        res.headers_mut()
                            .insert("content-length", "3".parse().unwrap());
                        res
                    }
                    "status" => {
                        let mut res = http::Response::new(full(""));
                        *res.status_mut() =
                            http::StatusCode::from_u16(code.unwrap() as u16).unwrap();
                        res
                    }
                    _ => {
                        let mut res = http::Response::new(full("not found"));
                        *res.status_mut() = http::StatusCode::NOT_FOUND;
                        res
                    }
                };
                dropped.0 = None;
                Ok(res)
            }
        })
    }};
}

/// Server settings a scenario may change.
#[derive(Clone, Copy, Default)]
struct ServerOpts {
    max_concurrent_streams: Option<u32>,
    /// Keep-alive interval and timeout, in milliseconds.
    keep_alive: Option<(u64, u64)>,
    connect_protocol: bool,
}

type Script = fn(Peer, Control) -> futures_util::future::BoxFuture<'static, Peer>;

/// Runs `script` against `$krate`'s server.
macro_rules! serve {
    ($krate:ident, $reverse:ident, $io:ident, $exec:expr, $timer:expr, $opts:expr, $script:expr) => {{
        let opts: ServerOpts = $opts;
        let script: Script = $script;
        let ctl = Control::new();
        let (peer_io, server_io) = UnixStream::pair().unwrap();
        let mut builder = $krate::server::conn::http2::Builder::new($exec);
        builder.timer($timer);
        if let Some(n) = opts.max_concurrent_streams {
            builder.max_concurrent_streams(n);
        }
        if let Some((interval, timeout)) = opts.keep_alive {
            builder
                .keep_alive_interval(Duration::from_millis(interval))
                .keep_alive_timeout(Duration::from_millis(timeout));
        }
        if opts.connect_protocol {
            builder.enable_connect_protocol();
        }
        let conn =
            builder.serve_connection($io::new(server_io), service!($krate, $reverse, ctl.clone()));
        let server_ctl = ctl.clone();
        // Run beside the script in this task (no spawn, so no `Send` to prove).
        let server = async move {
            let mut conn = std::pin::pin!(conn);
            let run = async {
                tokio::select! {
                    result = conn.as_mut() => result,
                    _ = server_ctl.0.shutdown.notified() => {
                        conn.as_mut().graceful_shutdown();
                        conn.await
                    }
                }
            };
            match tokio::time::timeout(BOUND * 2, run).await {
                Ok(Ok(())) => "connection: ok".to_string(),
                Ok(Err(e)) => format!("connection: {}", describe!(e)),
                Err(_) => "connection: hung".to_string(),
            }
        };
        let peer = async {
            let mut peer = script(Peer::new(peer_io), ctl.clone()).await;
            let ending = if peer.closed {
                Ending::Closed
            } else {
                peer.until_closed().await
            };
            transcript(&peer.log, ending)
        };
        let (wire, connection) = tokio::join!(peer, server);
        let mut app = ctl.0.notes.borrow().clone();
        app.sort();
        app.push(connection);
        Observed { wire, app }
    }};
}

async fn run_server_scenario(name: &str, opts: ServerOpts, script: Script) {
    let fork = serve!(
        hyper,
        fork_reverse_tunnel,
        TokioIo,
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioTimer::new(),
        opts,
        script
    );
    let upstream = serve!(
        hyper_upstream,
        upstream_reverse_tunnel,
        UpIo,
        UpExec,
        UpTimer,
        opts,
        script
    );
    compare(name, fork, upstream);
}

/// Declares a server-role scenario: `$script` is an `async fn(Peer, Control) -> Peer`.
macro_rules! server_scenario {
    ($name:ident, $opts:expr, $script:ident) => {
        #[tokio::test]
        async fn $name() {
            run_server_scenario(stringify!($name), $opts, |p, c| Box::pin($script(p, c))).await;
        }
    };
    ($name:ident, $script:ident) => {
        server_scenario!($name, ServerOpts::default(), $script);
    };
}

fn request(method: &'static str, path: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        (":method", method),
        (":scheme", "http"),
        (":authority", "peer.test"),
        (":path", path),
    ]
}

fn with(
    mut fields: Vec<(&'static str, &'static str)>,
    extra: &[(&'static str, &'static str)],
) -> Vec<(&'static str, &'static str)> {
    fields.extend_from_slice(extra);
    fields
}

/// Ends a server scenario from the client's side: GOAWAY, then EOF.
async fn finish(mut p: Peer) -> Peer {
    p.send(&wire::goaway(0, NO_ERROR)).await;
    p.shutdown_write().await;
    p.until_closed().await;
    p
}

async fn get_then_finish(mut p: Peer, path: &'static str) -> Peer {
    p.client_handshake(&[]).await;
    p.send(&wire::headers(1, true, &request("GET", path))).await;
    p.until_end(1).await;
    finish(p).await
}

async fn small_get(p: Peer, _: Control) -> Peer {
    get_then_finish(p, "/hello").await
}
server_scenario!(server_answers_a_small_get, small_get);

async fn empty_body(p: Peer, _: Control) -> Peer {
    get_then_finish(p, "/empty").await
}
server_scenario!(server_ends_an_empty_response_on_its_headers, empty_body);

async fn post_echo(mut p: Peer, _: Control) -> Peer {
    p.client_handshake(&[]).await;
    let head = with(request("POST", "/echo"), &[("content-length", "5")]);
    p.send(&wire::headers(1, false, &head)).await;
    p.send(&wire::data(1, true, b"hello")).await;
    p.until_end(1).await;
    finish(p).await
}
server_scenario!(server_echoes_a_body_with_a_length, post_echo);

async fn post_in_pieces(mut p: Peer, _: Control) -> Peer {
    p.client_handshake(&[]).await;
    p.send(&wire::headers(1, false, &request("POST", "/echo")))
        .await;
    p.send(&wire::data(1, false, b"he")).await;
    p.send(&wire::data(1, false, b"")).await;
    p.send(&wire::data(1, true, b"llo")).await;
    p.until_end(1).await;
    finish(p).await
}
server_scenario!(
    server_echoes_a_body_in_pieces_without_a_length,
    post_in_pieces
);

async fn trailers_both_ways(mut p: Peer, _: Control) -> Peer {
    p.client_handshake(&[]).await;
    let head = with(request("POST", "/trailers"), &[("te", "trailers")]);
    p.send(&wire::headers(1, false, &head)).await;
    p.send(&wire::data(1, false, b"abc")).await;
    p.send(&wire::headers(1, true, &[("x-sum", "7")])).await;
    p.until_end(1).await;
    finish(p).await
}
server_scenario!(
    server_reads_request_trailers_and_sends_its_own,
    trailers_both_ways
);

async fn chunked_response(p: Peer, _: Control) -> Peer {
    get_then_finish(p, "/chunks").await
}
server_scenario!(
    server_streams_a_response_of_unknown_length,
    chunked_response
);

async fn reset_while_waiting(mut p: Peer, ctl: Control) -> Peer {
    p.client_handshake(&[]).await;
    p.send(&wire::headers(1, true, &request("GET", "/wait")))
        .await;
    ctl.calls(1).await;
    p.send(&wire::rst_stream(1, CANCEL)).await;
    ctl.noted("service future dropped").await;
    ctl.release();
    finish(p).await
}
server_scenario!(
    server_drops_the_service_of_a_stream_the_client_reset,
    reset_while_waiting
);

async fn reset_mid_body(mut p: Peer, _: Control) -> Peer {
    p.client_handshake(&[(wire::INITIAL_WINDOW_SIZE, 1000)])
        .await;
    p.send(&wire::headers(1, true, &request("GET", "/big")))
        .await;
    let mut got = 0;
    p.until(|f| {
        if let Frame::Data { bytes, .. } = f {
            got += bytes.len();
        }
        got >= 1000
    })
    .await;
    p.send(&wire::rst_stream(1, CANCEL)).await;
    p.quiet(Duration::from_millis(50)).await;
    finish(p).await
}
server_scenario!(
    server_stops_a_body_the_client_reset_while_stalled,
    reset_mid_body
);

async fn service_error_plain(p: Peer, _: Control) -> Peer {
    get_then_finish(p, "/service-error/none").await
}
server_scenario!(
    server_resets_internal_error_for_a_plain_service_error,
    service_error_plain
);

async fn service_error_reason(p: Peer, _: Control) -> Peer {
    get_then_finish(p, "/service-error/12").await
}
server_scenario!(
    server_resets_with_the_reason_of_a_service_error,
    service_error_reason
);

async fn body_error_plain(p: Peer, _: Control) -> Peer {
    get_then_finish(p, "/body-error/none").await
}
server_scenario!(
    server_resets_internal_error_for_a_plain_body_error,
    body_error_plain
);

async fn body_error_reason(p: Peer, _: Control) -> Peer {
    get_then_finish(p, "/body-error/11").await
}
server_scenario!(
    server_resets_with_the_reason_of_a_body_error,
    body_error_reason
);

async fn flow_control_stall(mut p: Peer, _: Control) -> Peer {
    p.client_handshake(&[(wire::INITIAL_WINDOW_SIZE, 10_000)])
        .await;
    p.send(&wire::window_update(0, 100_000)).await;
    p.send(&wire::headers(1, true, &request("GET", "/big")))
        .await;
    let mut got = 0;
    for (stalls_at, more) in [(10_000, 45_000), (55_000, 45_000)] {
        p.until(|f| {
            if let Frame::Data { bytes, .. } = f {
                got += bytes.len();
            }
            got >= stalls_at
        })
        .await;
        p.quiet(Duration::from_millis(20)).await;
        p.send(&wire::window_update(1, more)).await;
    }
    p.until_end(1).await;
    finish(p).await
}
server_scenario!(server_sends_a_body_as_the_window_opens, flow_control_stall);

async fn large_upload(mut p: Peer, _: Control) -> Peer {
    // Room for the whole echo to come back.
    p.client_handshake(&[(wire::INITIAL_WINDOW_SIZE, 1_000_000)])
        .await;
    p.send(&wire::window_update(0, 1_000_000)).await;
    // More than half the server's 1 MiB windows, so reading it returns window.
    let head = with(request("POST", "/echo"), &[("content-length", "600000")]);
    p.send(&wire::headers(1, false, &head)).await;
    let body = pattern(600_000, 0);
    for (k, piece) in body.chunks(16_384).enumerate() {
        let last = (k + 1) * 16_384 >= body.len();
        p.send(&wire::data(1, last, piece)).await;
    }
    p.until_end(1).await;
    finish(p).await
}
server_scenario!(server_returns_window_for_an_upload_it_reads, large_upload);

async fn too_many_streams(mut p: Peer, ctl: Control) -> Peer {
    p.client_handshake(&[]).await;
    p.send(&wire::headers(1, true, &request("GET", "/wait")))
        .await;
    p.send(&wire::headers(3, true, &request("GET", "/hello")))
        .await;
    p.until_end(3).await;
    ctl.release();
    p.until_end(1).await;
    finish(p).await
}
server_scenario!(
    server_refuses_streams_beyond_its_limit,
    ServerOpts {
        max_concurrent_streams: Some(1),
        ..ServerOpts::default()
    },
    too_many_streams
);

async fn oversized_headers(mut p: Peer, _: Control) -> Peer {
    p.client_handshake(&[]).await;
    let big = "v".repeat(20_000);
    let head = request("GET", "/hello");
    let mut fields: Vec<(&str, &str)> = head.clone();
    fields.push(("x-big", &big));
    let block = wire::header_block(&fields);
    let (first, rest) = block.split_at(16_000);
    p.send(&wire::frame(wire::HEADERS, wire::END_STREAM, 1, first))
        .await;
    p.send(&wire::frame(wire::CONTINUATION, wire::END_HEADERS, 1, rest))
        .await;
    p.until_end(1).await;
    p.send(&wire::headers(3, true, &request("GET", "/hello")))
        .await;
    p.until_end(3).await;
    finish(p).await
}
server_scenario!(
    server_refuses_a_header_list_over_its_limit,
    oversized_headers
);

fn connect_head(authority: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![(":method", "CONNECT"), (":authority", authority)]
}

async fn tunnel_through(mut p: Peer, head: Vec<(&'static str, &'static str)>) -> Peer {
    p.send(&wire::headers(1, false, &head)).await;
    let answer = p.until(|f| matches!(f, Frame::Headers { .. }) || f.ends(1));
    if let Some(Frame::Headers {
        end_stream: false, ..
    }) = answer.await
    {
        p.send(&wire::data(1, false, b"ping")).await;
        p.send(&wire::data(1, true, b"")).await;
    }
    p.until_end(1).await;
    p.quiet(Duration::from_millis(20)).await;
    finish(p).await
}

async fn connect_tunnel(mut p: Peer, _: Control) -> Peer {
    p.client_handshake(&[]).await;
    tunnel_through(p, connect_head("tunnel.test:443")).await
}
server_scenario!(server_opens_a_connect_tunnel, connect_tunnel);

async fn connect_rejected(mut p: Peer, _: Control) -> Peer {
    p.client_handshake(&[]).await;
    tunnel_through(p, connect_head("reject.test:443")).await
}
server_scenario!(server_declines_a_connect_with_a_response, connect_rejected);

async fn connect_with_length(mut p: Peer, _: Control) -> Peer {
    p.client_handshake(&[]).await;
    let head = with(connect_head("tunnel.test:443"), &[("content-length", "4")]);
    tunnel_through(p, head).await
}
server_scenario!(
    server_resets_a_connect_that_announces_a_body,
    connect_with_length
);

fn extended_connect_head() -> Vec<(&'static str, &'static str)> {
    vec![
        (":method", "CONNECT"),
        (":protocol", "websocket"),
        (":scheme", "http"),
        (":authority", "peer.test"),
        (":path", "/chat"),
    ]
}

async fn extended_connect(mut p: Peer, _: Control) -> Peer {
    p.client_handshake(&[]).await;
    tunnel_through(p, extended_connect_head()).await
}
server_scenario!(
    server_opens_an_extended_connect_tunnel,
    ServerOpts {
        connect_protocol: true,
        ..ServerOpts::default()
    },
    extended_connect
);
server_scenario!(
    server_refuses_extended_connect_it_did_not_enable,
    extended_connect
);

async fn graceful_in_flight(mut p: Peer, ctl: Control) -> Peer {
    p.client_handshake(&[]).await;
    p.send(&wire::headers(1, true, &request("GET", "/slow-body")))
        .await;
    p.until(|f| matches!(f, Frame::Data { .. })).await;
    ctl.shutdown();
    if let Some(Frame::Ping { payload, .. }) = p
        .until(|f| matches!(f, Frame::Ping { ack: false, .. }))
        .await
    {
        p.send(&wire::ping(true, payload)).await;
    }
    p.until(|f| matches!(f, Frame::GoAway { last_stream: 1, .. }))
        .await;
    ctl.release();
    p.until_end(1).await;
    p.until_closed().await;
    p
}
server_scenario!(
    server_shuts_down_gracefully_after_the_stream_in_flight,
    graceful_in_flight
);

async fn keep_alive_answered(mut p: Peer, _: Control) -> Peer {
    p.client_handshake(&[]).await;
    if let Some(Frame::Ping { payload, .. }) = p
        .until(|f| matches!(f, Frame::Ping { ack: false, .. }))
        .await
    {
        p.send(&wire::ping(true, payload)).await;
    }
    finish(p).await
}
server_scenario!(
    server_pings_an_idle_connection,
    ServerOpts {
        // Long enough that no second PING comes before the script ends, even when loaded.
        keep_alive: Some((250, 2000)),
        ..ServerOpts::default()
    },
    keep_alive_answered
);

async fn keep_alive_unanswered(mut p: Peer, _: Control) -> Peer {
    p.client_handshake(&[]).await;
    p.until(|f| matches!(f, Frame::Ping { ack: false, .. }))
        .await;
    p.until_closed().await;
    p
}
server_scenario!(
    server_closes_a_connection_whose_ping_goes_unanswered,
    ServerOpts {
        keep_alive: Some((50, 50)),
        ..ServerOpts::default()
    },
    keep_alive_unanswered
);

async fn client_ping(mut p: Peer, _: Control) -> Peer {
    p.client_handshake(&[]).await;
    p.send(&wire::ping(false, *b"12345678")).await;
    p.until(|f| matches!(f, Frame::Ping { ack: true, .. }))
        .await;
    finish(p).await
}
server_scenario!(server_answers_a_ping, client_ping);

async fn head_request(mut p: Peer, _: Control) -> Peer {
    p.client_handshake(&[]).await;
    p.send(&wire::headers(1, true, &request("HEAD", "/hello")))
        .await;
    p.until_end(1).await;
    finish(p).await
}
server_scenario!(server_answers_head, head_request);

async fn hop_headers(p: Peer, _: Control) -> Peer {
    get_then_finish(p, "/headers").await
}
server_scenario!(
    server_strips_connection_specific_response_headers,
    hop_headers
);

async fn explicit_length(p: Peer, _: Control) -> Peer {
    get_then_finish(p, "/length").await
}
server_scenario!(server_keeps_an_explicit_content_length, explicit_length);

async fn no_content(p: Peer, _: Control) -> Peer {
    get_then_finish(p, "/status/204").await
}
server_scenario!(server_answers_204_without_a_body, no_content);

async fn unread_body(mut p: Peer, _: Control) -> Peer {
    p.client_handshake(&[]).await;
    p.send(&wire::headers(1, false, &request("POST", "/ignore")))
        .await;
    p.send(&wire::data(1, false, b"part")).await;
    p.until_end(1).await;
    p.quiet(Duration::from_millis(50)).await;
    finish(p).await
}
server_scenario!(server_answers_early_and_stops_an_unread_body, unread_body);

async fn client_goaway(mut p: Peer, ctl: Control) -> Peer {
    p.client_handshake(&[]).await;
    p.send(&wire::headers(1, true, &request("GET", "/wait")))
        .await;
    ctl.calls(1).await;
    p.send(&wire::goaway(0, NO_ERROR)).await;
    ctl.release();
    p.until_end(1).await;
    p.shutdown_write().await;
    p.until_closed().await;
    p
}
server_scenario!(
    server_finishes_streams_after_the_client_goes_away,
    client_goaway
);

async fn data_on_stream_zero(mut p: Peer, _: Control) -> Peer {
    p.client_handshake(&[]).await;
    p.send(&wire::data(0, false, b"nonsense")).await;
    p.until_closed().await;
    p
}
server_scenario!(
    server_fails_the_connection_on_a_protocol_error,
    data_on_stream_zero
);

async fn body_over_length(mut p: Peer, _: Control) -> Peer {
    p.client_handshake(&[]).await;
    let head = with(request("POST", "/echo"), &[("content-length", "3")]);
    p.send(&wire::headers(1, false, &head)).await;
    p.send(&wire::data(1, true, b"hello")).await;
    p.until_end(1).await;
    p.quiet(Duration::from_millis(20)).await;
    finish(p).await
}
server_scenario!(
    server_resets_a_body_longer_than_its_length,
    body_over_length
);

async fn many_streams(mut p: Peer, _: Control) -> Peer {
    p.client_handshake(&[]).await;
    for id in [1, 3, 5, 7, 9] {
        p.send(&wire::headers(id, true, &request("GET", "/hello")))
            .await;
    }
    for id in [1, 3, 5, 7, 9] {
        p.until_end(id).await;
    }
    finish(p).await
}
server_scenario!(server_answers_concurrent_streams, many_streams);

// ---------------------------------------------------------------------------------------------
// Client role: the peer is the server

/// A request body of a client call.
#[derive(Clone, Copy)]
enum Upload {
    Empty,
    Bytes(&'static [u8]),
    /// This many chunks of this many bytes, length unknown.
    Chunks(usize, usize),
    /// Data, then trailers.
    Trailers,
    /// Data, then an error (with this h2 code in its chain).
    Fails(Option<u32>),
    /// A body that never ends.
    Never,
}

/// What a client call does with its request.
#[derive(Clone, Copy)]
enum Act {
    /// Awaits the response and reads its body.
    Read,
    /// Gives up on the response after this many milliseconds (dropping the future).
    DropAfter(u64),
    /// Opens the tunnel a CONNECT response gives, sends these bytes, reads until EOF.
    Tunnel(&'static [u8]),
    /// No request: waits this many milliseconds.
    Pause(u64),
}

#[derive(Clone, Copy)]
struct Call {
    method: &'static str,
    uri: &'static str,
    headers: &'static [(&'static str, &'static str)],
    body: Upload,
    protocol: Option<&'static str>,
    act: Act,
}

const GET: Call = Call {
    method: "GET",
    uri: "http://peer.test/",
    headers: &[],
    body: Upload::Empty,
    protocol: None,
    act: Act::Read,
};

fn post(body: Upload) -> Call {
    Call {
        method: "POST",
        uri: "http://peer.test/up",
        body,
        ..GET
    }
}

fn request_body(send: Upload) -> Body {
    match send {
        Upload::Empty => full(""),
        Upload::Bytes(b) => full(b),
        Upload::Chunks(n, size) => {
            let frames = stream::iter((0..n).map(move |k| {
                Ok(http_body::Frame::data(Bytes::from(vec![
                    b'a' + k as u8;
                    size
                ])))
            }));
            streamed(frames)
        }
        Upload::Trailers => {
            let mut trailers = http::HeaderMap::new();
            trailers.insert("x-sum", "7".parse().unwrap());
            let frames = stream::iter([
                Ok(http_body::Frame::data(Bytes::from_static(b"data"))),
                Ok(http_body::Frame::trailers(trailers)),
            ]);
            streamed(frames)
        }
        Upload::Fails(code) => {
            let frames = stream::iter([
                Ok(http_body::Frame::data(Bytes::from_static(b"x"))),
                Err(failing(code)),
            ]);
            streamed(frames)
        }
        Upload::Never => streamed(stream::pending()),
    }
}

/// Client settings a scenario may change.
#[derive(Clone, Copy, Default)]
struct ClientOpts {
    /// Keep-alive interval, timeout (milliseconds), and while idle.
    keep_alive: Option<(u64, u64, bool)>,
}

/// Runs one call on `$krate`'s client; what the application saw.
macro_rules! client_call {
    ($krate:ident, $round_trip:ident, $send:expr, $call:expr) => {{
        let call: Call = $call;
        let send: &mut $krate::client::conn::http2::SendRequest<Body> = $send;
        if let Act::Pause(ms) = call.act {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            return format!("paused {ms} ms");
        }
        let mut req = http::Request::builder().method(call.method).uri(call.uri);
        for (name, value) in call.headers {
            req = req.header(*name, *value);
        }
        let mut req = req.body(request_body(call.body)).unwrap();
        if let Some(protocol) = call.protocol {
            req.extensions_mut()
                .insert($krate::ext::Protocol::from_static(protocol));
        }
        let wait = match call.act {
            Act::DropAfter(ms) => Duration::from_millis(ms),
            _ => BOUND,
        };
        let res = match tokio::time::timeout(wait, send.try_send_request(req)).await {
            Err(_) if matches!(call.act, Act::DropAfter(_)) => return "gave up".to_string(),
            Err(_) => return "hung".to_string(),
            Ok(Err(e)) => {
                let back = if e.message().is_some() {
                    " (request handed back)"
                } else {
                    ""
                };
                return format!("{}{back}", describe!(*e.error()));
            }
            Ok(Ok(res)) => res,
        };
        let hint = http_body::Body::size_hint(res.body());
        let mut seen = format!(
            "{} {} end_stream={} hint={}..{:?}",
            res.status(),
            head_of(res.headers()),
            http_body::Body::is_end_stream(res.body()),
            hint.lower(),
            hint.upper()
        );
        if let Act::Tunnel(bytes) = call.act {
            let mut res = res;
            match tokio::time::timeout(BOUND, $krate::upgrade::on(&mut res)).await {
                Err(_) => seen.push_str(" tunnel hung"),
                Ok(Err(e)) => seen.push_str(&format!(" no tunnel: {}", describe!(e))),
                Ok(Ok(mut upgraded)) => {
                    let back =
                        tokio::time::timeout(BOUND, $round_trip(&mut upgraded, bytes, true)).await;
                    match back {
                        Err(_) => seen.push_str(" tunnel hung"),
                        Ok(Err(e)) => seen.push_str(&format!(" tunnel failed: {:?}", e.kind())),
                        Ok(Ok(got)) => seen.push_str(&format!(" tunnel read {}", show_bytes(&got))),
                    }
                }
            }
            return seen;
        }
        let (bytes, ending) = read_body!(res.into_body());
        seen.push_str(&format!(" body {} then {ending}", show_bytes(&bytes)));
        seen
    }};
}

type PeerScript = fn(Peer) -> futures_util::future::BoxFuture<'static, Peer>;

/// Runs `calls` (groups in turn, the calls of a group at once) on `$krate`'s client against
/// `script`.
macro_rules! client_run {
    ($krate:ident, $round_trip:ident, $io:ident, $exec:expr, $timer:expr, $opts:expr, $calls:expr, $script:expr) => {{
        let opts: ClientOpts = $opts;
        let calls: &[&[Call]] = $calls;
        let script: PeerScript = $script;
        let (client_io, peer_io) = UnixStream::pair().unwrap();
        let peer = tokio::spawn(async move {
            let mut peer = script(Peer::new(peer_io)).await;
            let ending = if peer.closed {
                Ending::Closed
            } else {
                peer.until_closed().await
            };
            transcript(&peer.log, ending)
        });
        let mut builder = $krate::client::conn::http2::Builder::new($exec);
        builder.timer($timer);
        if let Some((interval, timeout, while_idle)) = opts.keep_alive {
            builder
                .keep_alive_interval(Duration::from_millis(interval))
                .keep_alive_timeout(Duration::from_millis(timeout))
                .keep_alive_while_idle(while_idle);
        }
        let mut app = Vec::new();
        match builder.handshake::<_, Body>($io::new(client_io)).await {
            Err(e) => app.push(format!("handshake: {}", describe!(e))),
            Ok((send, conn)) => {
                let conn = tokio::spawn(conn);
                for (g, group) in calls.iter().enumerate() {
                    let tasks: Vec<_> = group
                        .iter()
                        .map(|call| {
                            let mut send = send.clone();
                            let call = *call;
                            tokio::spawn(async move {
                                async fn one(
                                    send: &mut $krate::client::conn::http2::SendRequest<Body>,
                                    call: Call,
                                ) -> String {
                                    client_call!($krate, $round_trip, send, call)
                                }
                                one(&mut send, call).await
                            })
                        })
                        .collect();
                    for (k, task) in tasks.into_iter().enumerate() {
                        app.push(format!("call {g}.{k}: {}", task.await.unwrap()));
                    }
                }
                app.push(format!("handle closed: {}", send.is_closed()));
                drop(send);
                let ended = match tokio::time::timeout(BOUND, conn).await {
                    Err(_) => "hung".to_string(),
                    Ok(Err(panic)) => format!("panicked: {panic:?}"),
                    Ok(Ok(Ok(()))) => "ok".to_string(),
                    Ok(Ok(Err(e))) => describe!(e),
                };
                app.push(format!("connection: {ended}"));
            }
        }
        let wire = peer.await.unwrap();
        Observed { wire, app }
    }};
}

async fn run_client_scenario(name: &str, opts: ClientOpts, calls: &[&[Call]], script: PeerScript) {
    let fork = client_run!(
        hyper,
        fork_tunnel_round_trip,
        TokioIo,
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioTimer::new(),
        opts,
        calls,
        script
    );
    let upstream = client_run!(
        hyper_upstream,
        upstream_tunnel_round_trip,
        UpIo,
        UpExec,
        UpTimer,
        opts,
        calls,
        script
    );
    compare(name, fork, upstream);
}

/// Declares a client-role scenario: `$script` is an `async fn(Peer) -> Peer` playing the
/// server while the client makes `$calls`.
macro_rules! client_scenario {
    ($name:ident, $opts:expr, $calls:expr, $script:ident) => {
        #[tokio::test]
        async fn $name() {
            run_client_scenario(stringify!($name), $opts, $calls, |p| Box::pin($script(p))).await;
        }
    };
    ($name:ident, $calls:expr, $script:ident) => {
        client_scenario!($name, ClientOpts::default(), $calls, $script);
    };
}

fn status(code: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![(":status", code)]
}

/// Answers every request with `200` and `"ok"`, until the client closes.
async fn answer_all(mut p: Peer) -> Peer {
    while let Some(id) = p.until_request().await {
        p.until_end(id).await;
        p.send(&wire::headers(
            id,
            false,
            &with(status("200"), &[("content-length", "2")]),
        ))
        .await;
        p.send(&wire::data(id, true, b"ok")).await;
    }
    p
}

async fn serve_all(mut p: Peer) -> Peer {
    p.server_handshake(&[]).await;
    answer_all(p).await
}

client_scenario!(client_sends_a_get, &[&[GET]], serve_all);
client_scenario!(
    client_announces_the_empty_body_of_a_post,
    &[
        &[Call {
            body: Upload::Empty,
            ..GET
        }],
        &[post(Upload::Empty)]
    ],
    serve_all
);
client_scenario!(
    client_sends_a_body_with_its_length,
    &[&[post(Upload::Bytes(b"hello"))]],
    serve_all
);
client_scenario!(
    client_streams_a_body_of_unknown_length,
    &[&[post(Upload::Chunks(3, 10))]],
    serve_all
);
client_scenario!(
    client_sends_request_trailers,
    &[&[post(Upload::Trailers)]],
    serve_all
);
client_scenario!(
    client_strips_connection_specific_request_headers,
    &[
        &[Call {
            headers: &[
                ("connection", "keep-alive, x-hop"),
                ("x-hop", "1"),
                ("keep-alive", "5"),
                ("proxy-connection", "x"),
                ("transfer-encoding", "chunked"),
                ("upgrade", "h2c"),
                ("te", "gzip"),
                ("x-kept", "yes"),
            ],
            ..GET
        }],
        &[Call {
            headers: &[("te", "trailers")],
            ..GET
        }]
    ],
    serve_all
);

async fn response_trailers(mut p: Peer) -> Peer {
    p.server_handshake(&[]).await;
    if let Some(id) = p.until_request().await {
        p.send(&wire::headers(id, false, &status("200"))).await;
        p.send(&wire::data(id, false, b"x")).await;
        p.send(&wire::headers(id, true, &[("x-t", "1")])).await;
    }
    p
}
client_scenario!(client_reads_response_trailers, &[&[GET]], response_trailers);

async fn refuse(mut p: Peer) -> Peer {
    p.server_handshake(&[]).await;
    if let Some(id) = p.until_request().await {
        p.send(&wire::rst_stream(id, REFUSED_STREAM)).await;
    }
    answer_all(p).await
}
client_scenario!(client_reports_a_refused_stream, &[&[GET], &[GET]], refuse);

async fn reset_mid_response(mut p: Peer) -> Peer {
    p.server_handshake(&[]).await;
    if let Some(id) = p.until_request().await {
        p.send(&wire::headers(id, false, &status("200"))).await;
        p.send(&wire::data(id, false, b"part")).await;
        p.send(&wire::rst_stream(id, INTERNAL_ERROR)).await;
    }
    p
}
client_scenario!(
    client_reports_a_reset_in_the_response_body,
    &[&[GET]],
    reset_mid_response
);

async fn early_answer(mut p: Peer) -> Peer {
    p.server_handshake(&[]).await;
    if let Some(id) = p.until_request().await {
        p.send(&wire::headers(id, false, &status("200"))).await;
        p.send(&wire::data(id, true, b"early")).await;
        p.send(&wire::rst_stream(id, NO_ERROR)).await;
    }
    p
}
client_scenario!(
    client_stops_sending_after_an_early_answer,
    &[&[post(Upload::Never)]],
    early_answer
);

async fn stall_request_body(mut p: Peer) -> Peer {
    p.server_handshake(&[]).await;
    if let Some(id) = p.until_request().await {
        let mut got = 0;
        p.until(|f| {
            if let Frame::Data { bytes, .. } = f {
                got += bytes.len();
            }
            got >= 65_535
        })
        .await;
        p.quiet(Duration::from_millis(20)).await;
        p.send(&wire::window_update(0, 40_000)).await;
        p.send(&wire::window_update(id, 40_000)).await;
        p.until_end(id).await;
        p.send(&wire::headers(id, true, &status("200"))).await;
    }
    p
}
client_scenario!(
    client_sends_a_body_as_the_window_opens,
    &[&[post(Upload::Chunks(10, 10_000))]],
    stall_request_body
);

async fn never_answer(mut p: Peer) -> Peer {
    p.server_handshake(&[]).await;
    if let Some(id) = p.until_request().await {
        p.until(|f| matches!(f, Frame::Reset { stream, .. } if *stream == id))
            .await;
    }
    p
}
client_scenario!(
    client_cancels_a_stalled_stream_whose_response_is_dropped,
    &[&[Call {
        act: Act::DropAfter(100),
        ..post(Upload::Chunks(10, 10_000))
    }]],
    never_answer
);
client_scenario!(
    client_cancels_a_stream_whose_response_is_dropped,
    &[&[Call {
        act: Act::DropAfter(100),
        ..GET
    }]],
    never_answer
);

async fn pong_then_answer(mut p: Peer) -> Peer {
    p.server_handshake(&[]).await;
    if let Some(id) = p.until_request().await {
        if let Some(Frame::Ping { payload, .. }) = p
            .until(|f| matches!(f, Frame::Ping { ack: false, .. }))
            .await
        {
            p.send(&wire::ping(true, payload)).await;
        }
        p.send(&wire::headers(id, true, &status("200"))).await;
    }
    p
}
client_scenario!(
    client_pings_while_a_request_is_in_flight,
    ClientOpts {
        // Long enough that no second PING comes before the script ends, even when loaded.
        keep_alive: Some((250, 2000, false)),
    },
    &[&[GET]],
    pong_then_answer
);

async fn silent(mut p: Peer) -> Peer {
    p.server_handshake(&[]).await;
    p.until_closed().await;
    p
}
client_scenario!(
    client_times_out_a_request_whose_ping_goes_unanswered,
    ClientOpts {
        keep_alive: Some((50, 100, false)),
    },
    &[&[GET], &[GET]],
    silent
);
client_scenario!(
    client_does_not_ping_an_idle_connection,
    ClientOpts {
        keep_alive: Some((30, 100, false)),
    },
    &[&[Call {
        act: Act::Pause(150),
        ..GET
    }]],
    silent
);
client_scenario!(
    client_times_out_an_idle_connection_when_pinging_while_idle,
    ClientOpts {
        keep_alive: Some((30, 60, true)),
    },
    &[&[Call {
        act: Act::Pause(300),
        ..GET
    }]],
    silent
);

async fn goaway_after_request(mut p: Peer) -> Peer {
    p.server_handshake(&[]).await;
    if let Some(id) = p.until_request().await {
        p.send(&wire::goaway(id, NO_ERROR)).await;
        p.send(&wire::headers(id, false, &status("200"))).await;
        p.send(&wire::data(id, true, b"last")).await;
    }
    p
}
client_scenario!(
    client_finishes_the_stream_in_flight_after_a_goaway,
    &[&[GET], &[GET]],
    goaway_after_request
);

async fn goaway_before_answer(mut p: Peer) -> Peer {
    p.server_handshake(&[]).await;
    if p.until_request().await.is_some() {
        p.send(&wire::goaway(0, NO_ERROR)).await;
    }
    p
}
client_scenario!(
    client_fails_a_stream_a_goaway_left_unprocessed,
    &[&[GET]],
    goaway_before_answer
);

async fn one_at_a_time(mut p: Peer) -> Peer {
    p.server_handshake(&[(wire::MAX_CONCURRENT_STREAMS, 1)])
        .await;
    let mut answered = 0;
    while let Some(id) = p.until_request().await {
        if answered > 0 {
            // A second stream must not open while this one is unanswered.
            p.quiet(Duration::from_millis(30)).await;
        }
        p.send(&wire::headers(id, true, &status("200"))).await;
        answered += 1;
    }
    p
}
client_scenario!(
    client_waits_for_a_free_stream_under_the_servers_limit,
    &[&[GET], &[GET, GET]],
    one_at_a_time
);

const CONNECT: Call = Call {
    method: "CONNECT",
    uri: "tunnel.test:443",
    act: Act::Tunnel(b"abc"),
    ..GET
};

async fn tunnel_with(mut p: Peer, head: Vec<(&'static str, &'static str)>) -> Peer {
    p.server_handshake(&[(wire::ENABLE_CONNECT_PROTOCOL, 1)])
        .await;
    loop {
        let Some(Frame::Headers {
            stream: id, fields, ..
        }) = p.until(|f| matches!(f, Frame::Headers { .. })).await
        else {
            return p;
        };
        if !fields.iter().any(|(n, v)| n == ":method" && v == "CONNECT") {
            p.send(&wire::headers(id, true, &status("200"))).await;
            continue;
        }
        p.send(&wire::headers(id, false, &head)).await;
        let mut got = Vec::new();
        p.until(|f| {
            if let Frame::Data { bytes, .. } = f {
                got.extend_from_slice(bytes);
            }
            f.ends(id)
        })
        .await;
        got.reverse();
        p.send(&wire::data(id, false, &got)).await;
        p.send(&wire::data(id, true, b"")).await;
        return p;
    }
}

async fn tunnel_ok(p: Peer) -> Peer {
    tunnel_with(p, status("200")).await
}
client_scenario!(client_opens_a_connect_tunnel, &[&[CONNECT]], tunnel_ok);

async fn tunnel_created(p: Peer) -> Peer {
    tunnel_with(p, status("201")).await
}
client_scenario!(
    client_opens_no_tunnel_on_a_non_200_success,
    &[&[CONNECT]],
    tunnel_created
);

async fn tunnel_with_length(p: Peer) -> Peer {
    tunnel_with(p, with(status("200"), &[("content-length", "5")])).await
}
client_scenario!(
    client_refuses_a_tunnel_answer_with_a_body,
    &[&[CONNECT]],
    tunnel_with_length
);

client_scenario!(
    client_opens_an_extended_connect_tunnel,
    &[
        &[GET],
        &[Call {
            uri: "http://peer.test/chat",
            protocol: Some("websocket"),
            ..CONNECT
        }]
    ],
    tunnel_ok
);
client_scenario!(
    client_refuses_a_connect_request_with_a_body,
    &[&[Call {
        body: Upload::Bytes(b"early"),
        ..CONNECT
    }]],
    serve_all
);

async fn oversized_response_head(mut p: Peer) -> Peer {
    p.server_handshake(&[]).await;
    if let Some(id) = p.until_request().await {
        let big = "v".repeat(20_000);
        let block = wire::header_block(&[(":status", "200"), ("x-big", &big)]);
        let (first, rest) = block.split_at(16_000);
        p.send(&wire::frame(wire::HEADERS, wire::END_STREAM, id, first))
            .await;
        p.send(&wire::frame(
            wire::CONTINUATION,
            wire::END_HEADERS,
            id,
            rest,
        ))
        .await;
    }
    answer_all(p).await
}
client_scenario!(
    client_refuses_a_response_head_over_its_limit,
    &[&[GET], &[GET]],
    oversized_response_head
);

async fn head_answer(mut p: Peer) -> Peer {
    p.server_handshake(&[]).await;
    if let Some(id) = p.until_request().await {
        p.send(&wire::headers(
            id,
            true,
            &with(status("200"), &[("content-length", "100")]),
        ))
        .await;
    }
    p
}
client_scenario!(
    client_reads_a_head_response_as_empty,
    &[&[Call {
        method: "HEAD",
        ..GET
    }]],
    head_answer
);

async fn short_body(mut p: Peer) -> Peer {
    p.server_handshake(&[]).await;
    if let Some(id) = p.until_request().await {
        p.send(&wire::headers(
            id,
            false,
            &with(status("200"), &[("content-length", "5")]),
        ))
        .await;
        p.send(&wire::data(id, true, b"abc")).await;
    }
    p
}
client_scenario!(
    client_fails_a_body_shorter_than_its_length,
    &[&[GET]],
    short_body
);

async fn server_pings(mut p: Peer) -> Peer {
    p.server_handshake(&[]).await;
    p.send(&wire::ping(false, *b"abcdefgh")).await;
    p.until(|f| matches!(f, Frame::Ping { ack: true, .. }))
        .await;
    answer_all(p).await
}
client_scenario!(client_answers_a_ping, &[&[GET]], server_pings);

async fn expect_reset(mut p: Peer) -> Peer {
    p.server_handshake(&[]).await;
    if let Some(id) = p.until_request().await {
        p.until(|f| matches!(f, Frame::Reset { .. })).await;
        p.send(&wire::headers(id, true, &status("200"))).await;
    }
    p
}
client_scenario!(
    client_resets_with_the_reason_of_a_request_body_error,
    &[&[post(Upload::Fails(Some(11)))]],
    expect_reset
);
client_scenario!(
    client_resets_internal_error_for_a_plain_request_body_error,
    &[&[post(Upload::Fails(None))]],
    expect_reset
);

async fn hang_up(mut p: Peer) -> Peer {
    p.server_handshake(&[]).await;
    p.until_request().await;
    p.closed = true;
    p
}
client_scenario!(
    client_fails_a_request_when_the_server_hangs_up,
    &[&[GET], &[GET]],
    hang_up
);

async fn informational_first(mut p: Peer) -> Peer {
    p.server_handshake(&[]).await;
    if let Some(id) = p.until_request().await {
        p.send(&wire::headers(
            id,
            false,
            &with(status("103"), &[("link", "</a>")]),
        ))
        .await;
        p.send(&wire::headers(id, true, &status("200"))).await;
    }
    p
}
client_scenario!(
    client_skips_an_informational_response,
    &[&[GET]],
    informational_first
);

async fn reject_settings(mut p: Peer) -> Peer {
    p.server_handshake(&[(wire::MAX_FRAME_SIZE, 100)]).await;
    p
}
client_scenario!(client_fails_on_invalid_settings, &[&[GET]], reject_settings);
