#![cfg(feature = "full")]
//! HTTP/2 behaviours where the fork once differed from upstream hyper 1.13.0, each run against
//! both crates so the test states upstream's behaviour and holds the fork to it:
//!
//! - a client with keep-alive (not while idle) and a request in flight pings, and when the PONG
//!   never comes fails the request and the connection with a timeout;
//! - a client whose application drops a response future resets the stream with CANCEL, even
//!   while the request body waits for flow-control window;
//! - a server resets a stream with the HTTP/2 reason found in the service's or body's error;
//! - a server sends an empty, finished response body as HEADERS with END_STREAM and no
//!   `content-length`.
//!
//! The peers are `h2` itself or a socket that never answers, so only the crate under test
//! decides what goes on the wire. Every wait is bounded.
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper_util::rt::TokioIo;
use tokio::io::AsyncReadExt;
use tokio::net::UnixStream;

#[path = "support/upstream_io.rs"]
mod upstream_io;
use upstream_io::UpIo;

#[path = "support/upstream_exec.rs"]
mod upstream_exec;
use upstream_exec::UpExec;

#[path = "support/upstream_timer.rs"]
mod upstream_timer;
use upstream_timer::UpTimer;

type Body = BoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

/// The longest any step may take before the test fails instead of hanging.
const BOUND: Duration = Duration::from_secs(5);

fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

/// What a client saw in the keep-alive scenario.
#[derive(Debug, PartialEq)]
struct KeepAliveOutcome {
    request_timed_out: bool,
    connection_timed_out: bool,
    ready_reports_closed: bool,
    /// Roughly when the request failed, in multiples of `interval + timeout` (rounded up).
    within_one_round: bool,
}

/// Starts a client with keep-alive every 50 ms (timeout 100 ms, not while idle) on a socket
/// whose peer reads everything and never writes, sends one request at once, and reports what
/// the application sees.
macro_rules! keep_alive_with_request_in_flight {
    ($krate:ident, $io:ident, $exec:expr, $timer:expr) => {{
        let (client_io, mut peer) = UnixStream::pair().unwrap();
        let reader = tokio::spawn(async move {
            let mut sink = Vec::new();
            peer.read_to_end(&mut sink).await.ok();
        });
        let mut builder = $krate::client::conn::http2::Builder::new($exec);
        builder
            .timer($timer)
            .keep_alive_interval(Duration::from_millis(50))
            .keep_alive_timeout(Duration::from_millis(100))
            .keep_alive_while_idle(false);
        let (mut send, conn) = builder.handshake::<_, Body>($io::new(client_io)).await.unwrap();
        let started = std::time::Instant::now();
        let conn = tokio::spawn(conn);
        let req = http::Request::get("http://peer.test/").body(full(Bytes::new())).unwrap();
        let request = tokio::time::timeout(BOUND, send.send_request(req))
            .await
            .expect("the request must fail, not hang");
        let elapsed = started.elapsed();
        let connection = tokio::time::timeout(BOUND, conn)
            .await
            .expect("the connection task must end, not hang")
            .unwrap();
        let ready = std::future::poll_fn(|cx| std::task::Poll::Ready(send.poll_ready(cx))).await;
        reader.abort();
        KeepAliveOutcome {
            request_timed_out: request.as_ref().is_err_and(|e| e.is_timeout()),
            connection_timed_out: connection.as_ref().is_err_and(|e| e.is_timeout()),
            ready_reports_closed: matches!(ready, std::task::Poll::Ready(Err(e)) if e.is_closed()) && send.is_closed(),
            // 150 ms, with generous room for a loaded machine.
            within_one_round: elapsed < Duration::from_millis(150) * 10,
        }
    }};
}

#[tokio::test]
async fn keep_alive_with_a_request_in_flight_pings_and_fails_the_request_and_the_connection_with_a_timeout(
) {
    let expected = KeepAliveOutcome {
        request_timed_out: true,
        connection_timed_out: true,
        ready_reports_closed: true,
        within_one_round: true,
    };
    let upstream = keep_alive_with_request_in_flight!(hyper_upstream, UpIo, UpExec, UpTimer);
    assert_eq!(upstream, expected, "upstream");
    let fork = keep_alive_with_request_in_flight!(
        hyper,
        TokioIo,
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioTimer::new()
    );
    assert_eq!(fork, expected, "fork");
}

/// A request body larger than the protocol's initial windows (64 KiB).
const LARGER_THAN_A_WINDOW: usize = 200_000;

/// An `h2` server that accepts one request and never returns window for its body (so the
/// client is stalled after 64 KiB), and returns the reason the body ended with (`None` for a
/// clean end) once the client stops sending.
async fn stalling_server(io: UnixStream) -> Option<h2::Reason> {
    let mut conn = h2::server::handshake(io).await.unwrap();
    let (req, _respond) = conn.accept().await.unwrap().unwrap();
    // Keep the connection going while the body is read.
    let driver = tokio::spawn(async move { while conn.accept().await.is_some() {} });
    let mut body = req.into_body();
    let ended = loop {
        match body.data().await {
            // The bytes are not released: the window stays closed.
            Some(Ok(_)) => continue,
            Some(Err(e)) => break e.reason(),
            None => break None,
        }
    };
    driver.abort();
    ended
}

/// The client sends a body larger than the window the server will ever give, the application
/// gives up on the response after 100 ms (the future is dropped), and the server reports how
/// the body ended.
macro_rules! dropped_response_future {
    ($krate:ident, $io:ident, $exec:expr) => {{
        let (client_io, server_io) = UnixStream::pair().unwrap();
        let server = tokio::spawn(stalling_server(server_io));
        let (mut send, conn) = $krate::client::conn::http2::handshake::<_, _, Body>(
            $exec,
            $io::new(client_io),
        )
        .await
        .unwrap();
        tokio::spawn(conn);
        // In chunks, so the client holds some of them back while the window is closed.
        let chunks = (0..LARGER_THAN_A_WINDOW / 10_000)
            .map(|_| Ok(http_body::Frame::data(Bytes::from(vec![7u8; 10_000]))));
        let req = http::Request::post("http://peer.test/upload")
            .body(StreamBody::new(stream::iter(chunks)).boxed())
            .unwrap();
        let gave_up = tokio::time::timeout(Duration::from_millis(100), send.send_request(req)).await;
        assert!(gave_up.is_err(), "the server never answers");
        tokio::time::timeout(BOUND, server)
            .await
            .expect("the server must learn that the stream ended")
            .unwrap()
    }};
}

#[tokio::test]
async fn a_dropped_response_future_resets_its_stream_with_cancel_while_the_body_waits_for_window() {
    let upstream = dropped_response_future!(hyper_upstream, UpIo, UpExec);
    assert_eq!(upstream, Some(h2::Reason::CANCEL), "upstream");
    let fork = dropped_response_future!(hyper, TokioIo, hyper_util::rt::TokioExecutor::new());
    assert_eq!(fork, Some(h2::Reason::CANCEL), "fork");
}

/// An error whose source is an `h2::Error` carrying `reason`, wrapped once more the way an
/// application would wrap it.
#[derive(Debug)]
struct Wrapped(h2::Error);

impl std::fmt::Display for Wrapped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "application failure")
    }
}

impl std::error::Error for Wrapped {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

fn failing(reason: Option<h2::Reason>) -> Box<dyn std::error::Error + Send + Sync> {
    match reason {
        Some(reason) => Box::new(Wrapped(h2::Error::from(reason))),
        None => "no reason in here".into(),
    }
}

/// Serves with `$krate`'s HTTP/2 server: `/service/{reason}` fails in the service,
/// `/body/{reason}` answers 200 and fails in the body after one chunk, `/empty` answers with
/// an empty body (reason `none` means an error with no `h2::Error` in its chain). Returns,
/// per path asked, the reset reason an `h2` client saw (or `None` if the stream ended
/// cleanly) and whether the response head carried a `content-length`.
macro_rules! reset_reasons {
    ($krate:ident, $io:ident, $exec:expr, $paths:expr) => {{
        let (client_io, server_io) = UnixStream::pair().unwrap();
        let service =
            $krate::service::service_fn(|req: http::Request<$krate::body::Incoming>| async move {
                let path = req.uri().path().to_string();
                let reason = |s: &str| match s {
                    "none" => None,
                    code => Some(h2::Reason::from(code.parse::<u32>().unwrap())),
                };
                if let Some(code) = path.strip_prefix("/service/") {
                    return Err(failing(reason(code)));
                }
                if let Some(code) = path.strip_prefix("/body/") {
                    let error = failing(reason(code));
                    let frames = stream::iter([
                        Ok(http_body::Frame::data(Bytes::from_static(b"partial"))),
                        Err(error),
                    ]);
                    return Ok(http::Response::new(StreamBody::new(frames).boxed()));
                }
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(http::Response::new(full(
                    Bytes::new(),
                )))
            });
        let conn = $krate::server::conn::http2::Builder::new($exec)
            .serve_connection($io::new(server_io), service);
        tokio::spawn(conn);
        h2_client_outcomes(client_io, $paths).await
    }};
}

/// How one stream ended, as an `h2` client saw it.
#[derive(Debug, PartialEq)]
struct StreamEnd {
    reset: Option<h2::Reason>,
    content_length: Option<String>,
    end_stream_on_headers: bool,
}

async fn h2_client_outcomes(io: UnixStream, paths: &[&str]) -> Vec<StreamEnd> {
    let (client, conn) = h2::client::handshake(io).await.unwrap();
    tokio::spawn(conn);
    let mut ends = Vec::new();
    for path in paths {
        let mut client = client.clone().ready().await.unwrap();
        let req = http::Request::get(format!("http://peer.test{path}"))
            .body(())
            .unwrap();
        let (response, _) = client.send_request(req, true).unwrap();
        let end = tokio::time::timeout(BOUND, async {
            match response.await {
                Err(e) => StreamEnd {
                    reset: e.reason(),
                    content_length: None,
                    end_stream_on_headers: false,
                },
                Ok(res) => {
                    let content_length = res
                        .headers()
                        .get(http::header::CONTENT_LENGTH)
                        .map(|v| v.to_str().unwrap().to_string());
                    let mut body = res.into_body();
                    let end_stream_on_headers = body.is_end_stream();
                    let mut reset = None;
                    while let Some(data) = body.data().await {
                        if let Err(e) = data {
                            reset = e.reason();
                            break;
                        }
                    }
                    StreamEnd {
                        reset,
                        content_length,
                        end_stream_on_headers,
                    }
                }
            }
        })
        .await
        .expect("every stream ends");
        ends.push(end);
    }
    ends
}

const REASON_PATHS: &[&str] = &["/service/12", "/service/none", "/body/11", "/body/none"];

#[tokio::test]
async fn a_reset_caused_by_a_service_or_body_error_carries_the_reason_in_its_source_chain() {
    let reset = |reason| StreamEnd {
        reset: Some(reason),
        content_length: None,
        end_stream_on_headers: false,
    };
    let expected = vec![
        reset(h2::Reason::INADEQUATE_SECURITY),
        reset(h2::Reason::INTERNAL_ERROR),
        reset(h2::Reason::ENHANCE_YOUR_CALM),
        reset(h2::Reason::INTERNAL_ERROR),
    ];
    let upstream = reset_reasons!(hyper_upstream, UpIo, UpExec, REASON_PATHS);
    assert_eq!(upstream, expected, "upstream");
    let fork = reset_reasons!(
        hyper,
        TokioIo,
        hyper_util::rt::TokioExecutor::new(),
        REASON_PATHS
    );
    assert_eq!(fork, expected, "fork");
}

#[tokio::test]
async fn an_empty_finished_response_body_ends_the_stream_on_its_headers_without_content_length() {
    let expected = vec![StreamEnd {
        reset: None,
        content_length: None,
        end_stream_on_headers: true,
    }];
    let upstream = reset_reasons!(hyper_upstream, UpIo, UpExec, &["/empty"]);
    assert_eq!(upstream, expected, "upstream");
    let fork = reset_reasons!(
        hyper,
        TokioIo,
        hyper_util::rt::TokioExecutor::new(),
        &["/empty"]
    );
    assert_eq!(fork, expected, "fork");
}
