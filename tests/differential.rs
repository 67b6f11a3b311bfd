//! Differential test of the HTTP/1 server: the fork (`hyper`) against the real
//! upstream release (`hyper_upstream`, pinned to `=1.13.0` in `Cargo.toml`).
//!
//! Every script in the corpus is a sequence of client steps (writes, pauses, a
//! shutdown of the client's write half). Each script runs once against a server built
//! from the fork and once against a server built from upstream, under the default
//! `Config` and under every variant the script targets. The test then compares:
//!
//! * the complete byte stream the client read until EOF, with the value of every
//!   `Date` header replaced by a fixed placeholder, and
//! * a crate-independent summary of the result of the connection future.
//!
//! A few (script, config) pairs are marked `extends`: there upstream encodes bytes and
//! then drops them instead of writing them. For those the fork may differ only by
//! delivering what upstream lost: upstream's bytes must be a strict prefix of the
//! fork's. (When the test is built outside the fork's own package, against a stand-in
//! that *is* upstream, equality is accepted there, since a stand-in cannot deliver
//! more.)
//!
//! Determinism: every run uses one current-thread runtime task that polls the server
//! before the client writer and reader (see `run_once`), the client pauses between
//! writes long enough for the server to go idle, and no script lets a client EOF race
//! with a service that is still working. On a mismatch both sides are re-run once, and
//! the report says whether each side reproduced its own output.
//!
//! Set `DIFFERENTIAL_DUMP=1` (with `--nocapture`) to print every run: upstream's
//! normalized output, the fork's where it differs, and both connection results.
//!
//! Like the other server tests, this needs the fork's `server` and `http1` features
//! (`cargo test --features full --test differential`).

use std::any::TypeId;
use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use futures_util::future::join3;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

#[macro_use]
#[path = "support/tokio_io.rs"]
mod tokio_io;

#[path = "support/dates.rs"]
mod dates;
use dates::{normalize_dates, DATE_PLACEHOLDER};

/// Body bytes, shared by both crates (both re-export `bytes::Bytes`).
type Bytes = hyper_upstream::body::Bytes;
type BoxError = Box<dyn std::error::Error + Send + Sync>;
type ResBody = http_body_util::combinators::BoxBody<Bytes, BoxError>;

/// Pause between two client steps: long enough for the server to process everything
/// it was sent and go back to waiting on I/O.
const PAUSE: Duration = Duration::from_millis(15);
/// Delay of the `/delay` route. A script that shuts its write half down right after the
/// request has its EOF in the server's socket long before the service answers, so the
/// order of the two is fixed, not a race.
const SERVICE_DELAY: Duration = Duration::from_millis(60);
/// A run that has not reached EOF by then is reported as hung. (A normal run takes
/// well under a second.)
const RUN_LIMIT: Duration = Duration::from_secs(10);
/// The limit once a group has seen `HANGS_BEFORE_SHORT_LIMIT` hung runs, so a server
/// that hangs everywhere still fails in reasonable time.
const SHORT_RUN_LIMIT: Duration = Duration::from_secs(2);
const HANGS_BEFORE_SHORT_LIMIT: usize = 3;
/// Size of the `/large` response.
const LARGE_LEN: usize = 1 << 20;
/// Size of the `/ignore` response.
const IGNORE_LEN: usize = 3 * 1024;

/// When this file is compiled as part of the fork's own package, `hyper` is the fork.
/// Anywhere else (the scratch harness) `hyper` is a stand-in copy of upstream.
fn fork_is_stand_in() -> bool {
    env!("CARGO_PKG_NAME") != "hyper"
}

// ---------------------------------------------------------------------------------
// Configuration and results, independent of either crate
// ---------------------------------------------------------------------------------

/// The `http1::Builder` options a script can turn.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Config {
    title_case_headers: bool,
    preserve_header_case: bool,
    keep_alive: bool,
    half_close: bool,
    writev: Option<bool>,
    pipeline_flush: bool,
    auto_date_header: bool,
    max_buf_size: Option<usize>,
    max_headers: Option<usize>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            title_case_headers: false,
            preserve_header_case: false,
            keep_alive: true,
            half_close: false,
            writev: None,
            pipeline_flush: false,
            auto_date_header: true,
            max_buf_size: None,
            max_headers: None,
        }
    }
}

impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = Config::default();
        let mut parts: Vec<String> = Vec::new();
        if self.title_case_headers != d.title_case_headers {
            parts.push(format!("title_case_headers={}", self.title_case_headers));
        }
        if self.preserve_header_case != d.preserve_header_case {
            parts.push(format!(
                "preserve_header_case={}",
                self.preserve_header_case
            ));
        }
        if self.keep_alive != d.keep_alive {
            parts.push(format!("keep_alive={}", self.keep_alive));
        }
        if self.half_close != d.half_close {
            parts.push(format!("half_close={}", self.half_close));
        }
        if let Some(v) = self.writev {
            parts.push(format!("writev={v}"));
        }
        if self.pipeline_flush != d.pipeline_flush {
            parts.push(format!("pipeline_flush={}", self.pipeline_flush));
        }
        if self.auto_date_header != d.auto_date_header {
            parts.push(format!("auto_date_header={}", self.auto_date_header));
        }
        if let Some(v) = self.max_buf_size {
            parts.push(format!("max_buf_size={v}"));
        }
        if let Some(v) = self.max_headers {
            parts.push(format!("max_headers={v}"));
        }
        if parts.is_empty() {
            f.write_str("default")
        } else {
            f.write_str(&parts.join(","))
        }
    }
}

/// The classification of a `hyper::Error`, without the type.
#[derive(Clone, Debug, PartialEq, Eq)]
struct ErrorSummary {
    is_parse: bool,
    is_parse_too_large: bool,
    is_parse_status: bool,
    is_parse_version_h2: bool,
    is_incomplete_message: bool,
    is_user: bool,
    is_canceled: bool,
    is_body_write_aborted: bool,
    is_timeout: bool,
    is_closed: bool,
    is_shutdown: bool,
    display: String,
}

/// What the connection future resolved to.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Outcome {
    Ok,
    Err(ErrorSummary),
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Ok => f.write_str("Ok(())"),
            Outcome::Err(e) => {
                let flags = [
                    ("parse", e.is_parse),
                    ("parse_too_large", e.is_parse_too_large),
                    ("parse_status", e.is_parse_status),
                    ("parse_version_h2", e.is_parse_version_h2),
                    ("incomplete_message", e.is_incomplete_message),
                    ("user", e.is_user),
                    ("canceled", e.is_canceled),
                    ("body_write_aborted", e.is_body_write_aborted),
                    ("timeout", e.is_timeout),
                    ("closed", e.is_closed),
                    ("shutdown", e.is_shutdown),
                ];
                let set: Vec<&str> = flags.iter().filter(|f| f.1).map(|f| f.0).collect();
                write!(f, "Err({:?} [{}])", e.display, set.join(","))
            }
        }
    }
}

// ---------------------------------------------------------------------------------
// The server side, instantiated once per crate
// ---------------------------------------------------------------------------------

macro_rules! server_side {
    ($module:ident, $krate:ident) => {
        mod $module {
            use std::io;
            use std::pin::Pin;
            use std::task::{ready, Poll};

            use futures_util::stream;
            use http_body_util::{BodyExt, Empty, Full, StreamBody};
            use tokio::net::UnixStream;

            use super::{BoxError, Bytes, Config, ErrorSummary, Outcome, ResBody};
            use $krate::body::{Frame, Incoming};
            use $krate::{header, HeaderMap, Method, Request, Response, StatusCode};

            // Not hyper-util's `TokioIo`: this file also builds outside the workspace against
            // a stand-in crate under either name (patches/README.md).
            tokio_io_for!($krate, Io);

            pub async fn serve(io: UnixStream, cfg: &Config, upgrades: bool) -> Outcome {
                let mut builder = $krate::server::conn::http1::Builder::new();
                builder
                    .title_case_headers(cfg.title_case_headers)
                    .preserve_header_case(cfg.preserve_header_case)
                    .keep_alive(cfg.keep_alive)
                    .half_close(cfg.half_close)
                    .pipeline_flush(cfg.pipeline_flush)
                    .auto_date_header(cfg.auto_date_header);
                if let Some(enabled) = cfg.writev {
                    builder.writev(enabled);
                }
                if let Some(max) = cfg.max_buf_size {
                    builder.max_buf_size(max);
                }
                if let Some(max) = cfg.max_headers {
                    builder.max_headers(max);
                }
                let service = $krate::service::service_fn(route);
                let result = if upgrades {
                    builder
                        .serve_connection(Io::new(io), service)
                        .with_upgrades()
                        .await
                } else {
                    builder.serve_connection(Io::new(io), service).await
                };
                match result {
                    Ok(()) => Outcome::Ok,
                    Err(e) => Outcome::Err(ErrorSummary {
                        is_parse: e.is_parse(),
                        is_parse_too_large: e.is_parse_too_large(),
                        is_parse_status: e.is_parse_status(),
                        is_parse_version_h2: e.is_parse_version_h2(),
                        is_incomplete_message: e.is_incomplete_message(),
                        is_user: e.is_user(),
                        is_canceled: e.is_canceled(),
                        is_body_write_aborted: e.is_body_write_aborted(),
                        is_timeout: e.is_timeout(),
                        is_closed: e.is_closed(),
                        is_shutdown: e.is_shutdown(),
                        display: e.to_string(),
                    }),
                }
            }

            fn full(bytes: impl Into<Bytes>) -> ResBody {
                Full::new(bytes.into())
                    .map_err(|never| match never {})
                    .boxed()
            }

            fn empty() -> ResBody {
                Empty::new().map_err(|never| match never {}).boxed()
            }

            fn frames(items: Vec<Result<Frame<Bytes>, BoxError>>) -> ResBody {
                StreamBody::new(stream::iter(items)).boxed()
            }

            fn data(s: &'static str) -> Result<Frame<Bytes>, BoxError> {
                Ok(Frame::data(Bytes::from_static(s.as_bytes())))
            }

            fn text(status: u16, body: impl Into<Bytes>) -> Response<ResBody> {
                let mut res = Response::new(full(body));
                *res.status_mut() = StatusCode::from_u16(status).expect("valid status");
                res.headers_mut().insert(
                    header::CONTENT_TYPE,
                    header::HeaderValue::from_static("text/plain"),
                );
                res
            }

            /// Echoes everything read from an upgraded connection until EOF, then shuts
            /// its write side down.
            async fn echo_upgraded(mut io: $krate::upgrade::Upgraded) -> io::Result<()> {
                use $krate::rt::{Read, Write};
                let mut buf = vec![0u8; 4096];
                loop {
                    let n = std::future::poll_fn(|cx| {
                        let mut rb = $krate::rt::ReadBuf::new(&mut buf);
                        ready!(Pin::new(&mut io).poll_read(cx, rb.unfilled()))?;
                        Poll::Ready(Ok::<usize, io::Error>(rb.filled().len()))
                    })
                    .await?;
                    if n == 0 {
                        break;
                    }
                    let mut written = 0;
                    while written < n {
                        let w = std::future::poll_fn(|cx| {
                            Pin::new(&mut io).poll_write(cx, &buf[written..n])
                        })
                        .await?;
                        if w == 0 {
                            return Err(io::ErrorKind::WriteZero.into());
                        }
                        written += w;
                    }
                }
                std::future::poll_fn(|cx| Pin::new(&mut io).poll_shutdown(cx)).await
            }

            fn spawn_echo(req: &mut Request<Incoming>) {
                let pending = $krate::upgrade::on(req);
                tokio::spawn(async move {
                    // A refused upgrade (e.g. the connection was not served
                    // `with_upgrades`) simply ends here; the client sees the
                    // connection close.
                    if let Ok(upgraded) = pending.await {
                        if let Err(e) = echo_upgraded(upgraded).await {
                            eprintln!("upgraded echo failed: {e}");
                        }
                    }
                });
            }

            /// A readable dump of the request as the service saw it.
            async fn mirror(mut req: Request<Incoming>) -> Result<Response<ResBody>, BoxError> {
                let mut dump = format!("{} {} {:?}\n", req.method(), req.uri(), req.version());
                for (name, value) in req.headers() {
                    dump.push_str(&format!("{}: {:?}\n", name, value));
                }
                let extensions = std::mem::take(req.extensions_mut());
                let echoed: Vec<(header::HeaderName, header::HeaderValue)> = req
                    .headers()
                    .iter()
                    .filter(|(name, _)| name.as_str().starts_with("x-"))
                    .map(|(name, value)| (name.clone(), value.clone()))
                    .collect();
                match req.into_body().collect().await {
                    Ok(collected) => {
                        let trailers = collected.trailers().cloned();
                        let body = collected.to_bytes();
                        dump.push_str(&format!("body ({} bytes): {:?}\n", body.len(), body));
                        if let Some(trailers) = trailers {
                            for (name, value) in &trailers {
                                dump.push_str(&format!("trailer {}: {:?}\n", name, value));
                            }
                        }
                    }
                    Err(e) => dump.push_str(&format!("body error: {e}\n")),
                }
                let mut res = text(200, dump);
                for (name, value) in echoed {
                    res.headers_mut().append(name, value);
                }
                // Carries the request's original header casing (if recorded) over to
                // the response, so `preserve_header_case` shows on the wire.
                *res.extensions_mut() = extensions;
                Ok(res)
            }

            async fn route(mut req: Request<Incoming>) -> Result<Response<ResBody>, BoxError> {
                if req.method() == Method::CONNECT {
                    spawn_echo(&mut req);
                    return Ok(Response::new(empty()));
                }
                let path = req.uri().path().to_owned();
                let res = match path.as_str() {
                    "/" | "/hello" => text(200, "Hello, World!"),
                    "/echo" => match req.into_body().collect().await {
                        Ok(collected) => text(200, collected.to_bytes()),
                        Err(e) => text(400, format!("bad request body: {e}")),
                    },
                    "/mirror" => return mirror(req).await,
                    "/ignore" => {
                        let body: Vec<u8> = (0..super::IGNORE_LEN)
                            .map(|i| b'a' + (i % 26) as u8)
                            .collect();
                        text(200, body)
                    }
                    "/chunks" => Response::new(frames(vec![
                        data("first chunk\n"),
                        data("second, a bit longer chunk\n"),
                        data("3\n"),
                        data("the last one\n"),
                    ])),
                    "/chunks-yield" => {
                        let parts = ["alpha\n", "beta\n", "gamma\n", "delta\n"];
                        let body = stream::unfold(0usize, move |i| async move {
                            if i == parts.len() {
                                return None;
                            }
                            tokio::task::yield_now().await;
                            let frame: Result<Frame<Bytes>, BoxError> =
                                Ok(Frame::data(Bytes::from_static(parts[i].as_bytes())));
                            Some((frame, i + 1))
                        });
                        Response::new(StreamBody::new(body).boxed())
                    }
                    "/trailers" => {
                        let mut trailers = HeaderMap::new();
                        trailers.insert("x-checksum", header::HeaderValue::from_static("abc123"));
                        trailers.insert("x-count", header::HeaderValue::from_static("2"));
                        let mut res = Response::new(frames(vec![
                            data("payload part one\n"),
                            data("payload part two\n"),
                            Ok(Frame::trailers(trailers)),
                        ]));
                        res.headers_mut().insert(
                            header::TRAILER,
                            header::HeaderValue::from_static("x-checksum, x-count"),
                        );
                        res
                    }
                    "/204" => {
                        let mut res = Response::new(empty());
                        *res.status_mut() = StatusCode::NO_CONTENT;
                        res
                    }
                    "/304" => {
                        let mut res = Response::new(empty());
                        *res.status_mut() = StatusCode::NOT_MODIFIED;
                        res.headers_mut()
                            .insert(header::ETAG, header::HeaderValue::from_static("\"v1\""));
                        res
                    }
                    "/reason" => {
                        let mut res = text(299, "custom reason");
                        res.extensions_mut()
                            .insert($krate::ext::ReasonPhrase::from_static(b"Quite Alright"));
                        res
                    }
                    "/close" => {
                        let mut res = text(200, "closing after this");
                        res.headers_mut().insert(
                            header::CONNECTION,
                            header::HeaderValue::from_static("close"),
                        );
                        res
                    }
                    "/content-length" => {
                        // A streamed body with no size hint: only the header tells the
                        // length.
                        let mut res = Response::new(frames(vec![data("exactly "), data("sized")]));
                        res.headers_mut().insert(
                            header::CONTENT_LENGTH,
                            header::HeaderValue::from_static("13"),
                        );
                        res
                    }
                    "/short" => {
                        let mut res = Response::new(frames(vec![data("only ten b")]));
                        res.headers_mut().insert(
                            header::CONTENT_LENGTH,
                            header::HeaderValue::from_static("100"),
                        );
                        res
                    }
                    "/body-error" => Response::new(frames(vec![
                        data("the start of a body that "),
                        Err("the body stream broke".into()),
                    ])),
                    "/error" => return Err("the service refused".into()),
                    "/delay" => {
                        tokio::time::sleep(super::SERVICE_DELAY).await;
                        text(200, "delayed")
                    }
                    "/upgrade" => {
                        spawn_echo(&mut req);
                        let mut res = Response::new(empty());
                        *res.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
                        let h = res.headers_mut();
                        h.insert(
                            header::CONNECTION,
                            header::HeaderValue::from_static("upgrade"),
                        );
                        h.insert(header::UPGRADE, header::HeaderValue::from_static("echo"));
                        res
                    }
                    "/large" => {
                        let body: Vec<u8> = (0..super::LARGE_LEN)
                            .map(|i| b'A' + (i % 23) as u8)
                            .collect();
                        text(200, body)
                    }
                    _ => text(404, "not found"),
                };
                Ok(res)
            }
        }
    };
}

server_side!(fork_side, hyper);
server_side!(upstream_side, hyper_upstream);

// ---------------------------------------------------------------------------------
// Scripts
// ---------------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Step {
    Write(Vec<u8>),
    Pause,
    Shutdown,
}

/// When the fork is allowed (and, in its own package, required) to deliver bytes that
/// upstream loses.
struct Extends {
    applies: fn(&Config) -> bool,
    reason: &'static str,
}

struct Script {
    name: &'static str,
    steps: Vec<Step>,
    upgrades: bool,
    variants: Vec<Config>,
    extends: Option<Extends>,
}

impl Script {
    fn new(name: &'static str) -> Self {
        Script {
            name,
            steps: Vec::new(),
            upgrades: true,
            variants: vec![Config::default()],
            extends: None,
        }
    }

    /// One write of `bytes`, right after the previous step.
    fn send(mut self, bytes: impl AsRef<[u8]>) -> Self {
        self.steps.push(Step::Write(bytes.as_ref().to_vec()));
        self
    }

    /// A pause, then one write of `bytes`.
    fn then(mut self, bytes: impl AsRef<[u8]>) -> Self {
        self.steps.push(Step::Pause);
        self.send(bytes)
    }

    /// Shut the client's write half down right after the previous step.
    fn eof(mut self) -> Self {
        self.steps.push(Step::Shutdown);
        self
    }

    /// A pause, then shut the client's write half down.
    fn pause_eof(mut self) -> Self {
        self.steps.push(Step::Pause);
        self.eof()
    }

    /// Serve with `serve_connection` alone, without `with_upgrades()`.
    fn without_upgrades(mut self) -> Self {
        self.upgrades = false;
        self
    }

    /// Also run under the default config changed by `f`.
    fn with(mut self, f: impl FnOnce(&mut Config)) -> Self {
        let mut cfg = Config::default();
        f(&mut cfg);
        assert!(
            !self.variants.contains(&cfg),
            "{}: duplicate variant {cfg}",
            self.name
        );
        self.variants.push(cfg);
        self
    }

    fn extends(mut self, applies: fn(&Config) -> bool, reason: &'static str) -> Self {
        self.extends = Some(Extends { applies, reason });
        self
    }
}

/// A request with the given request line and header lines, CRLF-terminated.
fn req(line: &str, headers: &[&str], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(line.as_bytes());
    out.extend_from_slice(b"\r\n");
    for h in headers {
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

fn get(path: &str) -> Vec<u8> {
    req(
        &format!("GET {path} HTTP/1.1"),
        &["Host: example.test"],
        b"",
    )
}

fn get_close(path: &str) -> Vec<u8> {
    req(
        &format!("GET {path} HTTP/1.1"),
        &["Host: example.test", "Connection: close"],
        b"",
    )
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn always(_: &Config) -> bool {
    true
}

fn when_pipeline_flush(cfg: &Config) -> bool {
    cfg.pipeline_flush
}

fn basics() -> Vec<Script> {
    vec![
        Script::new("get_hello_close")
            .send(get_close("/"))
            .with(|c| c.title_case_headers = true)
            .with(|c| c.auto_date_header = false)
            .with(|c| c.keep_alive = false)
            .with(|c| c.writev = Some(false)),
        Script::new("keep_alive_sequence")
            .send(get("/hello"))
            .then(get("/chunks"))
            .then(req(
                "POST /echo HTTP/1.1",
                &["Host: example.test", "Content-Length: 11"],
                b"hello again",
            ))
            .then(get_close("/content-length"))
            .with(|c| c.keep_alive = false)
            .with(|c| c.writev = Some(true))
            .with(|c| c.writev = Some(false))
            .with(|c| c.auto_date_header = false),
        Script::new("pipelined_in_one_write")
            .send(cat(&[
                &get("/"),
                &get("/chunks"),
                &req("HEAD /large HTTP/1.1", &["Host: example.test"], b""),
                &req(
                    "POST /echo HTTP/1.1",
                    &["Host: example.test", "Content-Length: 5"],
                    b"12345",
                ),
                &get("/trailers"),
                &get("/204"),
                &get_close("/hello"),
            ]))
            .with(|c| c.pipeline_flush = true)
            .with(|c| c.writev = Some(true))
            .with(|c| c.writev = Some(false))
            .with(|c| {
                c.pipeline_flush = true;
                c.writev = Some(false);
            }),
        Script::new("pipelined_then_client_eof")
            .send(cat(&[&get("/hello"), &get("/chunks")]))
            .eof()
            .with(|c| c.half_close = true)
            .with(|c| c.pipeline_flush = true)
            .extends(
                when_pipeline_flush,
                "with pipeline_flush the first response stays buffered while the second \
                 request is unread; the client's EOF then ends the connection with an \
                 error and upstream drops the buffered response",
            ),
        Script::new("keep_alive_then_client_eof")
            .send(get("/hello"))
            .pause_eof()
            .with(|c| c.half_close = true),
        Script::new("leading_crlfs")
            .send(cat(&[
                b"\r\n\r\n\r\n",
                &get("/"),
                b"\r\n",
                &get_close("/hello"),
            ]))
            .with(|c| c.pipeline_flush = true),
        Script::new("head_requests")
            .send(cat(&[
                &req("HEAD / HTTP/1.1", &["Host: example.test"], b""),
                &req("HEAD /chunks HTTP/1.1", &["Host: example.test"], b""),
                &req("HEAD /large HTTP/1.1", &["Host: example.test"], b""),
                &req(
                    "HEAD /content-length HTTP/1.1",
                    &["Host: example.test", "Connection: close"],
                    b"",
                ),
            ]))
            .with(|c| c.title_case_headers = true),
        Script::new("no_body_statuses_204_304")
            .send(get("/204"))
            .then(get("/304"))
            .then(get_close("/204"))
            .with(|c| c.keep_alive = false),
        Script::new("reason_phrase_and_unknown_path")
            .send(get("/reason"))
            .then(get_close("/no/such/path"))
            .with(|c| c.title_case_headers = true),
        Script::new("service_sends_connection_close")
            .send(get("/close"))
            .then(get("/hello"))
            .then(get_close("/hello"))
            .with(|c| c.pipeline_flush = true),
        Script::new("explicit_content_length_header")
            .send(get("/content-length"))
            .then(get_close("/content-length"))
            .with(|c| c.writev = Some(false)),
        Script::new("large_response")
            .send(get("/large"))
            .then(get_close("/large"))
            .with(|c| c.writev = Some(true))
            .with(|c| c.writev = Some(false))
            .with(|c| c.max_buf_size = Some(8192)),
        Script::new("streamed_chunks_with_yields")
            .send(get("/chunks-yield"))
            .then(get_close("/chunks-yield"))
            .with(|c| c.writev = Some(false))
            .with(|c| c.keep_alive = false),
        Script::new("response_trailers_with_and_without_te")
            .send(req(
                "GET /trailers HTTP/1.1",
                &["Host: example.test", "TE: trailers"],
                b"",
            ))
            .then(get("/trailers"))
            .then(req(
                "GET /trailers HTTP/1.1",
                &["Host: example.test", "te: trailers", "Connection: close"],
                b"",
            ))
            .with(|c| c.title_case_headers = true),
        Script::new("header_case_options")
            .send(req(
                "GET /mirror HTTP/1.1",
                &[
                    "HOST: example.test",
                    "X-Custom-HEADER: one",
                    "x-lower: two",
                    "X-MiXeD-cAsE: three",
                    "x-custom-header: four",
                ],
                b"",
            ))
            .then(req(
                "GET /mirror HTTP/1.1",
                &["host: example.test", "X-UPPER: yes", "CONNECTION: close"],
                b"",
            ))
            .with(|c| c.title_case_headers = true)
            .with(|c| c.preserve_header_case = true)
            .with(|c| {
                c.title_case_headers = true;
                c.preserve_header_case = true;
            }),
        Script::new("odd_request_targets")
            .send(cat(&[
                &req("OPTIONS * HTTP/1.1", &["Host: example.test"], b""),
                &req(
                    "GET http://example.test/mirror?q=1&r=%20 HTTP/1.1",
                    &["Host: example.test"],
                    b"",
                ),
                &req(
                    "GET /mirror?a=b#frag HTTP/1.1",
                    &["Host: example.test", "Connection: close"],
                    b"",
                ),
            ]))
            .with(|c| c.pipeline_flush = true),
    ]
}

fn bodies() -> Vec<Script> {
    let chunked_head = req(
        "POST /mirror HTTP/1.1",
        &[
            "Host: example.test",
            "Transfer-Encoding: chunked",
            "TE: trailers",
        ],
        b"",
    );
    vec![
        Script::new("echo_content_length_body")
            .send(req(
                "POST /echo HTTP/1.1",
                &["Host: example.test", "Content-Length: 26", "Connection: close"],
                b"abcdefghijklmnopqrstuvwxyz",
            ))
            .with(|c| c.writev = Some(false)),
        Script::new("echo_body_split_across_writes")
            .send(req(
                "POST /echo HTTP/1.1",
                &["Host: example.test", "Content-Length: 30"],
                b"first ten.",
            ))
            .then("second ten")
            .then("third ten.")
            .then(get_close("/hello"))
            .with(|c| c.writev = Some(true))
            .with(|c| c.pipeline_flush = true),
        Script::new("chunked_request_extensions_and_trailers")
            .send(&chunked_head)
            .then("5;name=value\r\nhello\r\n")
            .then("7 ; quoted=\"x y\"\r\n, world\r\n0\r\nX-Trailer-One: 1\r\nx-trailer-two: 2\r\n\r\n")
            .then(req(
                "POST /echo HTTP/1.1",
                &["Host: example.test", "Transfer-Encoding: chunked", "Connection: close"],
                b"3\r\nabc\r\nA\r\n0123456789\r\n0\r\n\r\n",
            ))
            .with(|c| c.title_case_headers = true)
            .with(|c| c.max_headers = Some(3)),
        Script::new("chunked_request_in_one_write")
            .send(cat(&[
                &chunked_head,
                b"1\r\na\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n",
                &get_close("/hello"),
            ]))
            .with(|c| c.pipeline_flush = true),
        Script::new("ignored_small_body_is_drained")
            .send(req(
                "POST /ignore HTTP/1.1",
                &["Host: example.test", "Content-Length: 2048"],
                &[b'z'; 2048],
            ))
            .then(get_close("/hello"))
            .with(|c| c.writev = Some(false)),
        Script::new("ignored_body_still_in_flight")
            .send(req(
                "POST /ignore HTTP/1.1",
                &["Host: example.test", "Content-Length: 100000"],
                &[b'q'; 1000],
            ))
            .then([b'q'; 1000])
            .then(get_close("/hello"))
            .with(|c| c.half_close = true),
        Script::new("ignored_chunked_body_in_flight")
            .send(req(
                "POST /ignore HTTP/1.1",
                &["Host: example.test", "Transfer-Encoding: chunked"],
                b"4\r\nsome\r\n",
            ))
            .then("4\r\nmore\r\n0\r\n\r\n")
            .then(get_close("/hello")),
        Script::new("chunked_trailers_ending_in_a_bare_lf")
            .send(&chunked_head)
            .then("5\r\nhello\r\n0\r\nX-Trailer: 1\n\r\n")
            .then(get_close("/hello")),
        Script::new("chunked_trailer_section_starting_with_a_bare_lf")
            .send(req(
                "POST /echo HTTP/1.1",
                &["Host: example.test", "Transfer-Encoding: chunked"],
                b"2\r\nhi\r\n0\r\n\nGET /smuggled HTTP/1.1\r\nHost: example.test\r\n\r\n",
            ))
            .pause_eof(),
        Script::new("client_eof_mid_body")
            .send(req(
                "POST /echo HTTP/1.1",
                &["Host: example.test", "Content-Length: 50"],
                b"not fifty bytes",
            ))
            .pause_eof()
            .with(|c| c.half_close = true),
        Script::new("client_eof_mid_head")
            .send("GET /hello HTTP/1.1\r\nHost: exa")
            .pause_eof()
            .with(|c| c.half_close = true),
        Script::new("client_eof_while_service_pending")
            .send(get("/delay"))
            .eof()
            .with(|c| c.half_close = true),
    ]
}

fn http10_and_expect() -> Vec<Script> {
    vec![
        Script::new("http10_plain")
            .send(req("GET / HTTP/1.0", &[], b""))
            .with(|c| c.title_case_headers = true)
            .with(|c| c.keep_alive = false),
        Script::new("http10_keep_alive")
            .send(req("GET /hello HTTP/1.0", &["Connection: keep-alive"], b""))
            .then(req(
                "POST /echo HTTP/1.0",
                &["Connection: keep-alive", "Content-Length: 4"],
                b"ping",
            ))
            .then(req("GET /mirror HTTP/1.0", &["Host: example.test"], b""))
            .with(|c| c.keep_alive = false)
            .with(|c| c.title_case_headers = true),
        Script::new("http10_keep_alive_unknown_length")
            .send(req(
                "GET /chunks HTTP/1.0",
                &["Connection: keep-alive"],
                b"",
            ))
            .then(get_close("/hello"))
            .with(|c| c.writev = Some(false)),
        Script::new("expect_continue_body_read")
            .send(req(
                "POST /echo HTTP/1.1",
                &[
                    "Host: example.test",
                    "Expect: 100-continue",
                    "Content-Length: 9",
                ],
                b"",
            ))
            .then("continued")
            .then(req(
                "PUT /echo HTTP/1.1",
                &[
                    "Host: example.test",
                    "expect: 100-Continue",
                    "Transfer-Encoding: chunked",
                    "Connection: close",
                ],
                b"",
            ))
            .then("2\r\nok\r\n0\r\n\r\n")
            .with(|c| c.writev = Some(false))
            .with(|c| c.title_case_headers = true),
        Script::new("expect_continue_body_ignored")
            .send(req(
                "POST /ignore HTTP/1.1",
                &[
                    "Host: example.test",
                    "Expect: 100-continue",
                    "Content-Length: 9",
                ],
                b"",
            ))
            .then("continued")
            .then(get_close("/hello"))
            .with(|c| c.half_close = true),
        Script::new("expect_continue_with_body_already_sent")
            .send(cat(&[
                &req(
                    "POST /ignore HTTP/1.1",
                    &[
                        "Host: example.test",
                        "Expect: 100-continue",
                        "Content-Length: 9",
                    ],
                    b"continued",
                ),
                &req(
                    "POST /echo HTTP/1.1",
                    &[
                        "Host: example.test",
                        "Expect: 100-continue",
                        "Content-Length: 4",
                        "Connection: close",
                    ],
                    b"four",
                ),
            ]))
            .with(|c| c.pipeline_flush = true),
        Script::new("expect_continue_http10_ignored")
            .send(req(
                "POST /echo HTTP/1.0",
                &["Expect: 100-continue", "Content-Length: 3"],
                b"",
            ))
            .then("abc"),
    ]
}

fn upgrades() -> Vec<Script> {
    let upgrade_req = req(
        "GET /upgrade HTTP/1.1",
        &[
            "Host: example.test",
            "Connection: Upgrade",
            "Upgrade: websocket",
            "Sec-WebSocket-Version: 13",
        ],
        b"",
    );
    vec![
        Script::new("upgrade_echo")
            .send(cat(&[&upgrade_req, b"bytes sent with the request; "]))
            .then("later bytes; ")
            .then("the end")
            .pause_eof()
            .with(|c| c.title_case_headers = true)
            .with(|c| c.writev = Some(false)),
        Script::new("upgrade_after_keep_alive_request")
            .send(get("/hello"))
            .then(&upgrade_req)
            .then("tunnelled")
            .pause_eof(),
        Script::new("upgrade_with_keep_alive_disabled")
            .send(&upgrade_req)
            .then("tunnelled")
            .pause_eof()
            .with(|c| c.keep_alive = false),
        Script::new("upgrade_request_also_asking_to_close")
            .send(req(
                "GET /upgrade HTTP/1.1",
                &[
                    "Host: example.test",
                    "Connection: Upgrade, close",
                    "Upgrade: websocket",
                ],
                b"",
            ))
            .then("tunnelled")
            .pause_eof(),
        Script::new("upgrade_without_with_upgrades")
            .send(&upgrade_req)
            .then("ignored")
            .pause_eof()
            .without_upgrades(),
        Script::new("connect_tunnel")
            .send(cat(&[
                &req(
                    "CONNECT example.test:443 HTTP/1.1",
                    &["Host: example.test:443"],
                    b"",
                ),
                b"\x16\x03\x01 pretend tls",
            ]))
            .then(" and more")
            .pause_eof()
            .with(|c| c.writev = Some(false)),
    ]
}

fn malformed() -> Vec<Script> {
    let many_headers = |n: usize| {
        let mut lines: Vec<String> = (0..n).map(|i| format!("X-H{i}: v{i}")).collect();
        lines.push("Connection: close".to_owned());
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        req("GET /hello HTTP/1.1", &refs, b"")
    };
    let big_header = |len: usize| {
        let value = "v".repeat(len);
        req(
            "GET /hello HTTP/1.1",
            &[
                "Host: example.test",
                &format!("X-Big: {value}"),
                "Connection: close",
            ],
            b"",
        )
    };
    vec![
        Script::new("bad_method_token")
            .send("G(T / HTTP/1.1\r\nHost: example.test\r\n\r\n")
            .with(|c| c.title_case_headers = true),
        Script::new("bad_version")
            .send("GET / HTTP/1.2\r\nHost: example.test\r\n\r\n")
            .with(|c| c.auto_date_header = false),
        Script::new("http09_style_request_line").send("GET /\r\n\r\n"),
        // Bytes that can never start a request, with no blank line to end a head: they are
        // answered at once, not when a timer or a full buffer ends the wait.
        Script::new("tls_client_hello_to_a_plain_http_port")
            .send(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 random bytes of a hello")
            .with(|c| c.half_close = true),
        Script::new("http09_request_line_without_blank_line").send("GET /\r\n"),
        Script::new("nul_in_the_request_target").send("GET /a\x00b"),
        Script::new("invalid_header_line")
            .send("GET / HTTP/1.1\r\nHost example.test\r\n\r\n")
            .with(|c| c.keep_alive = false),
        Script::new("invalid_header_after_good_request")
            .send(get("/hello"))
            .then("GET / HTTP/1.1\r\nBad Header: x\r\n\r\n")
            .with(|c| c.pipeline_flush = true)
            .extends(
                when_pipeline_flush,
                "the automatic 400 is buffered, but with pipeline_flush the flush is \
                 skipped because the unparsable bytes are still in the read buffer, and \
                 upstream then closes with the 400 unsent",
            ),
        Script::new("oversized_headers_431")
            .send(big_header(16 * 1024))
            .with(|c| c.max_buf_size = Some(8192)),
        // Upstream's default limit on a buffered head is 8192 + 4096 * 100 bytes, but it
        // is checked only while the head is incomplete, so a head that ends in the read
        // that crosses the limit still passes. These sizes stay clear of that window.
        Script::new("large_headers_under_default_limit").send(big_header(400 * 1024)),
        Script::new("oversized_headers_default_limit").send(big_header(600 * 1024)),
        Script::new("too_many_headers")
            .send(many_headers(101))
            .with(|c| c.max_headers = Some(200))
            .with(|c| c.max_headers = Some(10)),
        Script::new("uri_too_long_414").send(req(
            &format!("GET /{} HTTP/1.1", "u".repeat(70_000)),
            &["Host: example.test"],
            b"",
        )),
        Script::new("conflicting_content_lengths").send(req(
            "POST /echo HTTP/1.1",
            &[
                "Host: example.test",
                "Content-Length: 5",
                "Content-Length: 6",
            ],
            b"hello!",
        )),
        Script::new("repeated_equal_content_lengths").send(req(
            "POST /echo HTTP/1.1",
            &[
                "Host: example.test",
                "Content-Length: 5",
                "Content-Length: 5",
                "Connection: close",
            ],
            b"hello",
        )),
        Script::new("content_length_with_transfer_encoding").send(req(
            "POST /echo HTTP/1.1",
            &[
                "Host: example.test",
                "Content-Length: 3",
                "Transfer-Encoding: chunked",
                "Connection: close",
            ],
            b"5\r\nhello\r\n0\r\n\r\n",
        )),
        Script::new("transfer_encoding_not_chunked_last").send(req(
            "POST /echo HTTP/1.1",
            &["Host: example.test", "Transfer-Encoding: chunked, gzip"],
            b"5\r\nhello\r\n0\r\n\r\n",
        )),
        Script::new("transfer_encoding_in_http10").send(req(
            "POST /echo HTTP/1.0",
            &["Transfer-Encoding: chunked"],
            b"5\r\nhello\r\n0\r\n\r\n",
        )),
        Script::new("bad_chunk_size")
            .send(req(
                "POST /echo HTTP/1.1",
                &["Host: example.test", "Transfer-Encoding: chunked"],
                b"zz\r\nhello\r\n0\r\n\r\n",
            ))
            .with(|c| c.half_close = true),
        Script::new("bad_content_length_value").send(req(
            "POST /echo HTTP/1.1",
            &["Host: example.test", "Content-Length: +5"],
            b"hello",
        )),
        Script::new("http2_preface").send("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
        Script::new("garbage_after_request")
            .send(cat(&[&get("/hello"), b"\x00\x01\x02 not http\r\n\r\n"]))
            .with(|c| c.pipeline_flush = true)
            .extends(
                when_pipeline_flush,
                "with pipeline_flush neither the first response nor the automatic 400 \
                 is flushed while the garbage sits in the read buffer; upstream closes \
                 with both still buffered",
            ),
    ]
}

fn lossy_and_errors() -> Vec<Script> {
    vec![
        Script::new("body_shorter_than_content_length")
            .send(get("/short"))
            .with(|c| c.writev = Some(false))
            .extends(
                always,
                "the head and partial body are encoded into the write buffer; the \
                 length check then fails and upstream returns the error without \
                 flushing them",
            ),
        Script::new("response_body_stream_error")
            .send(get("/body-error"))
            .with(|c| c.writev = Some(false))
            .extends(
                always,
                "the head and first chunk are buffered when the body yields an error; \
                 upstream returns the error without flushing them",
            ),
        Script::new("service_error")
            .send(get("/error"))
            .with(|c| c.keep_alive = false),
        Script::new("service_error_after_pipelined_response")
            .send(cat(&[&get("/hello"), &get("/error")]))
            .with(|c| c.pipeline_flush = true)
            .extends(
                when_pipeline_flush,
                "with pipeline_flush the first response waits in the write buffer \
                 while the next request is read; the service error then ends the \
                 connection and upstream drops the buffered response",
            ),
        Script::new("pipelined_close_with_requests_left_unread")
            .send(cat(&[
                &get_close("/hello"),
                &get("/hello"),
                &get("/chunks"),
            ]))
            .with(|c| c.pipeline_flush = true)
            .extends(
                when_pipeline_flush,
                "with pipeline_flush a flush is skipped while unread requests remain \
                 in the read buffer, and that includes the flush before shutdown, so \
                 upstream closes with the whole response still buffered",
            ),
    ]
}

// ---------------------------------------------------------------------------------
// Running and comparing
// ---------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Fork,
    Upstream,
}

/// Everything one run produced.
#[derive(Clone, Debug)]
struct Run {
    /// Bytes the client read, before normalization.
    bytes: Vec<u8>,
    outcome: Outcome,
    /// Client-side events that are reported but not compared (write failures after
    /// the server closed, a reset instead of a clean EOF).
    notes: Vec<String>,
}

enum RunError {
    Hung { partial: Vec<u8>, waited: Duration },
}

async fn run_once(
    side: Side,
    script: &Script,
    cfg: &Config,
    limit: Duration,
) -> Result<Run, RunError> {
    let (server_io, mut client) = UnixStream::pair().expect("socketpair");
    let received = RefCell::new(Vec::new());
    let notes = RefCell::new(Vec::new());
    let server: Pin<Box<dyn Future<Output = Outcome> + '_>> = match side {
        Side::Fork => Box::pin(fork_side::serve(server_io, cfg, script.upgrades)),
        Side::Upstream => Box::pin(upstream_side::serve(server_io, cfg, script.upgrades)),
    };
    let (mut rd, mut wr) = client.split();
    let writer = async {
        for step in &script.steps {
            match step {
                Step::Pause => tokio::time::sleep(PAUSE).await,
                Step::Write(bytes) => {
                    if let Err(e) = wr.write_all(bytes).await {
                        notes.borrow_mut().push(format!("client write failed: {e}"));
                        return;
                    }
                }
                Step::Shutdown => {
                    if let Err(e) = wr.shutdown().await {
                        notes
                            .borrow_mut()
                            .push(format!("client shutdown failed: {e}"));
                        return;
                    }
                }
            }
        }
    };
    let reader = async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match rd.read(&mut buf).await {
                Ok(0) => break,
                Ok(n) => received.borrow_mut().extend_from_slice(&buf[..n]),
                Err(e) => {
                    // A Unix socket closed with unread input reports a reset to the
                    // peer after the queued data; everything sent was still read.
                    notes
                        .borrow_mut()
                        .push(format!("client read ended with: {e}"));
                    break;
                }
            }
        }
    };
    let start = Instant::now();
    // `join3` polls its futures in order on every wake-up, so the server always
    // consumes what is already in its socket before the client's next step runs.
    let joined = tokio::time::timeout(limit, join3(server, writer, reader)).await;
    match joined {
        Ok((outcome, (), ())) => Ok(Run {
            bytes: received.into_inner(),
            outcome,
            notes: notes.into_inner(),
        }),
        Err(_) => Err(RunError::Hung {
            partial: received.into_inner(),
            waited: start.elapsed(),
        }),
    }
}

fn escape(bytes: &[u8]) -> String {
    let mut s = String::new();
    for &b in bytes {
        match b {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s
}

/// Splits after each `\n`, escapes, and shortens very long lines around the middle.
fn display_lines(bytes: &[u8]) -> Vec<String> {
    let mut lines: Vec<String> = bytes
        .split_inclusive(|&b| b == b'\n')
        .map(|line| {
            let e = escape(line);
            if e.chars().count() > 70 {
                let head: String = e.chars().take(40).collect();
                let tail: String = e
                    .chars()
                    .rev()
                    .take(20)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                format!("{head}…({} bytes)…{tail}", line.len())
            } else {
                e
            }
        })
        .collect();
    if lines.len() > 80 {
        let n = lines.len();
        lines.truncate(80);
        lines.push(format!("… {} more lines", n - 80));
    }
    lines
}

fn side_by_side(upstream: &[u8], fork: &[u8]) -> String {
    let a = display_lines(upstream);
    let b = display_lines(fork);
    let width = a
        .iter()
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(0)
        .clamp(8, 80);
    let mut out = format!("    {:<width$} | fork\n", "upstream", width = width);
    for i in 0..a.len().max(b.len()) {
        let l = a.get(i).map(String::as_str).unwrap_or("");
        let r = b.get(i).map(String::as_str).unwrap_or("");
        let mark = if l == r { ' ' } else { '!' };
        out.push_str(&format!("  {mark} {l:<width$} | {r}\n", width = width));
    }
    let first_diff = upstream
        .iter()
        .zip(fork.iter())
        .position(|(x, y)| x != y)
        .unwrap_or(upstream.len().min(fork.len()));
    out.push_str(&format!(
        "  lengths: upstream {} bytes, fork {} bytes; first difference at byte {}\n",
        upstream.len(),
        fork.len(),
        first_diff
    ));
    out
}

/// Compares two runs; `None` means they agree as the script requires.
fn judge(script: &Script, cfg: &Config, up: &Run, fork: &Run) -> Option<String> {
    let up_bytes = normalize_dates(&up.bytes);
    let fork_bytes = normalize_dates(&fork.bytes);
    let mut problems = Vec::new();
    match script.extends.as_ref().filter(|e| (e.applies)(cfg)) {
        None => {
            if up_bytes != fork_bytes {
                problems.push("the byte streams differ".to_owned());
            }
        }
        Some(ext) => {
            if !fork_bytes.starts_with(&up_bytes) {
                problems.push(format!(
                    "upstream's bytes are not a prefix of the fork's (marked: {})",
                    ext.reason
                ));
            } else if fork_bytes.len() == up_bytes.len() && !fork_is_stand_in() {
                problems.push(format!(
                    "the fork delivered no more than upstream (marked: {})",
                    ext.reason
                ));
            }
        }
    }
    if up.outcome != fork.outcome {
        problems.push(format!(
            "connection results differ: upstream {}, fork {}",
            up.outcome, fork.outcome
        ));
    }
    if problems.is_empty() {
        return None;
    }
    Some(format!(
        "{} — {}\n{}\n  upstream result: {}{}\n  fork result:     {}{}\n",
        problems.join("; "),
        describe(script, cfg),
        side_by_side(&up_bytes, &fork_bytes),
        up.outcome,
        notes_suffix(&up.notes),
        fork.outcome,
        notes_suffix(&fork.notes),
    ))
}

fn notes_suffix(notes: &[String]) -> String {
    if notes.is_empty() {
        String::new()
    } else {
        format!(" (client: {})", notes.join("; "))
    }
}

fn describe(script: &Script, cfg: &Config) -> String {
    format!(
        "script `{}` under config [{}]{}",
        script.name,
        cfg,
        if script.upgrades {
            ""
        } else {
            " without with_upgrades()"
        }
    )
}

fn same_run(a: &Run, b: &Run) -> bool {
    normalize_dates(&a.bytes) == normalize_dates(&b.bytes) && a.outcome == b.outcome
}

/// Prints one run pair: upstream's output, and the fork's only where it differs.
fn dump(script: &Script, cfg: &Config, up: &Run, fork: &Run) {
    let up_bytes = normalize_dates(&up.bytes);
    let fork_bytes = normalize_dates(&fork.bytes);
    let mut out = format!(
        "== {}\n   upstream {}{}\n   {}\n   fork     {}{}\n",
        describe(script, cfg),
        up.outcome,
        notes_suffix(&up.notes),
        display_lines(&up_bytes).join("\n   "),
        fork.outcome,
        notes_suffix(&fork.notes),
    );
    if fork_bytes == up_bytes {
        out.push_str("   (same bytes)\n");
    } else {
        out.push_str(&format!(
            "   {}\n",
            display_lines(&fork_bytes).join("\n   ")
        ));
    }
    eprintln!("{out}");
}

/// Runs every script of a group under all its variants on both sides and panics
/// once, listing every failure.
async fn check_group(group: &str, scripts: Vec<Script>) {
    let mut names = std::collections::HashSet::new();
    for s in &scripts {
        assert!(names.insert(s.name), "duplicate script name {}", s.name);
        assert!(!s.steps.is_empty(), "{} has no steps", s.name);
    }
    let mut failures = Vec::new();
    let mut index = Vec::new();
    let mut runs = 0;
    let mut hangs = 0;
    for script in &scripts {
        for cfg in &script.variants {
            runs += 1;
            let limit = if hangs >= HANGS_BEFORE_SHORT_LIMIT {
                SHORT_RUN_LIMIT
            } else {
                RUN_LIMIT
            };
            let up = run_once(Side::Upstream, script, cfg, limit).await;
            let fork = run_once(Side::Fork, script, cfg, limit).await;
            let (up, fork) = match (up, fork) {
                (Ok(up), Ok(fork)) => (up, fork),
                (up, fork) => {
                    for (side, r) in [("upstream", up), ("fork", fork)] {
                        if let Err(RunError::Hung { partial, waited }) = r {
                            hangs += 1;
                            index.push(format!("  - {} (hung: {side})", describe(script, cfg)));
                            failures.push(format!(
                                "{} hung on the {side} side: no EOF after {:?}; read so far: {}\n",
                                describe(script, cfg),
                                waited,
                                escape(&normalize_dates(&partial)),
                            ));
                        }
                    }
                    continue;
                }
            };
            if std::env::var_os("DIFFERENTIAL_DUMP").is_some() {
                dump(script, cfg, &up, &fork);
            }
            if let Some(report) = judge(script, cfg, &up, &fork) {
                index.push(format!("  - {}", describe(script, cfg)));
                // Re-run both sides once, to tell a real difference from a flaky script.
                let up2 = run_once(Side::Upstream, script, cfg, limit).await;
                let fork2 = run_once(Side::Fork, script, cfg, limit).await;
                let stable = |first: &Run, again: Result<Run, RunError>| match again {
                    Ok(again) if same_run(first, &again) => "reproduced",
                    Ok(_) => "NOT reproduced (nondeterministic script?)",
                    Err(_) => "hung on re-run",
                };
                failures.push(format!(
                    "{report}  re-run: upstream {}, fork {}\n",
                    stable(&up, up2),
                    stable(&fork, fork2)
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "group `{group}`: {} of {runs} runs failed{}:\n{}\n\n{}",
        index.len(),
        if fork_is_stand_in() {
            " (fork = stand-in)"
        } else {
            ""
        },
        index.join("\n"),
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------

#[test]
fn the_two_sides_are_different_crates() {
    assert_ne!(
        TypeId::of::<hyper::Error>(),
        TypeId::of::<hyper_upstream::Error>(),
        "`hyper` and `hyper_upstream` resolved to the same crate"
    );
    assert_ne!(
        TypeId::of::<hyper::body::Incoming>(),
        TypeId::of::<hyper_upstream::body::Incoming>()
    );
    // The shared vocabulary really is shared.
    assert_eq!(
        TypeId::of::<hyper::Request<()>>(),
        TypeId::of::<hyper_upstream::Request<()>>()
    );
    assert_eq!(
        TypeId::of::<hyper::body::Bytes>(),
        TypeId::of::<hyper_upstream::body::Bytes>()
    );
    // `Cargo.toml` pins `hyper_upstream` to `=1.13.0`; confirm it in the lock file
    // the build used, when one is found.
    let mut dir = Some(std::path::Path::new(env!("CARGO_MANIFEST_DIR")));
    while let Some(d) = dir {
        if let Ok(lock) = std::fs::read_to_string(d.join("Cargo.lock")) {
            let packages: Vec<&str> = lock.split("[[package]]").collect();
            let registry_hyper: Vec<&&str> = packages
                .iter()
                .filter(|p| {
                    p.contains("\nname = \"hyper\"\n") && p.contains("source = \"registry+")
                })
                .collect();
            assert!(
                registry_hyper
                    .iter()
                    .any(|p| p.contains("\nversion = \"1.13.0\"\n")),
                "{} does not list hyper 1.13.0 from the registry",
                d.join("Cargo.lock").display()
            );
            return;
        }
        dir = d.parent();
    }
    eprintln!("no Cargo.lock found; relying on the `=1.13.0` requirement in Cargo.toml");
}

#[tokio::test]
async fn corpus_basics_keep_alive_pipelining() {
    check_group("basics", basics()).await;
}

#[tokio::test]
async fn corpus_request_bodies_and_eof() {
    check_group("bodies", bodies()).await;
}

#[tokio::test]
async fn corpus_http10_and_expect_continue() {
    check_group("http10_and_expect", http10_and_expect()).await;
}

#[tokio::test]
async fn corpus_upgrades_and_connect() {
    check_group("upgrades", upgrades()).await;
}

#[tokio::test]
async fn corpus_malformed_input() {
    check_group("malformed", malformed()).await;
}

#[tokio::test]
async fn corpus_lossy_cases_and_errors() {
    check_group("lossy_and_errors", lossy_and_errors()).await;
}

#[test]
fn corpus_is_large_enough_and_covers_every_option() {
    let all: Vec<Script> = [
        basics(),
        bodies(),
        http10_and_expect(),
        upgrades(),
        malformed(),
        lossy_and_errors(),
    ]
    .into_iter()
    .flatten()
    .collect();
    assert!(all.len() >= 30, "only {} scripts", all.len());
    let variants: Vec<&Config> = all.iter().flat_map(|s| s.variants.iter()).collect();
    let d = Config::default();
    let covered: [(&str, bool); 10] = [
        (
            "title_case_headers",
            variants.iter().any(|c| c.title_case_headers),
        ),
        (
            "preserve_header_case",
            variants.iter().any(|c| c.preserve_header_case),
        ),
        ("keep_alive=false", variants.iter().any(|c| !c.keep_alive)),
        ("half_close", variants.iter().any(|c| c.half_close)),
        (
            "writev=Some(true)",
            variants.iter().any(|c| c.writev == Some(true)),
        ),
        (
            "writev=Some(false)",
            variants.iter().any(|c| c.writev == Some(false)),
        ),
        ("pipeline_flush", variants.iter().any(|c| c.pipeline_flush)),
        (
            "auto_date_header=false",
            variants.iter().any(|c| !c.auto_date_header),
        ),
        (
            "max_buf_size",
            variants.iter().any(|c| c.max_buf_size.is_some()),
        ),
        (
            "max_headers",
            variants.iter().any(|c| c.max_headers.is_some()),
        ),
    ];
    for (name, ok) in covered {
        assert!(ok, "no script runs with {name}");
    }
    assert!(
        all.iter().all(|s| s.variants[0] == d),
        "every script runs under the default config"
    );
    assert!(
        all.iter().any(|s| !s.upgrades),
        "a script runs without with_upgrades()"
    );
}

#[test]
fn date_normalization() {
    let raw = b"HTTP/1.1 200 OK\r\ndate: Sun, 06 Nov 1994 08:49:37 GMT\r\nDate: Mon, 07 Nov 1994 08:49:37 GMT\r\nx-date: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\nDATE: Sun, 06 Nov";
    let n = normalize_dates(raw);
    let expected = [
        &b"HTTP/1.1 200 OK\r\ndate: "[..],
        DATE_PLACEHOLDER,
        b"\r\nDate: ",
        DATE_PLACEHOLDER,
        b"\r\nx-date: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\nDATE: ",
        &DATE_PLACEHOLDER[..11],
    ]
    .concat();
    assert_eq!(escape(&n), escape(&expected));
    // Not a date: left alone.
    let odd = b"\r\ndate: tomorrow, probably, or so they say\r\n";
    assert_eq!(normalize_dates(odd), odd.to_vec());
}
