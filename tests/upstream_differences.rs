//! Each behavioural difference from upstream hyper 1.13.0 that `UPSTREAM.md` lists under
//! "Smaller differences" and "An unread request body is consumed", pinned on both sides.
//!
//! Every scenario runs against the fork's server and upstream's with the same service, and the
//! test asserts what each side does. When a new upstream release changes its side (fixes the
//! bug, say), the upstream assertion fails and points at the `UPSTREAM.md` row to drop.
//! Where upstream panics, the panic happens inside a spawned task and is asserted as such.
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http_body_util::{Full, StreamBody};
use hyper::body::{Body, Bytes, Frame, SizeHint};
use hyper::{Request, Response, Version};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

#[path = "support/upstream_io.rs"]
mod upstream_io;
use upstream_io::UpIo;

/// How a server connection ended, in terms both crates share.
#[derive(Debug, PartialEq)]
enum Ended {
    Ok,
    Err {
        user: bool,
        body_write_aborted: bool,
    },
    /// The connection task panicked.
    Panicked,
}

/// What the client read until EOF, and how the connection ended.
struct Served {
    wire: Vec<u8>,
    ended: Ended,
}

impl Served {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.wire).into_owned()
    }
}

/// Options of a run.
#[derive(Clone, Copy, Default)]
struct Options {
    /// `header_read_timeout`, with no timer installed.
    header_read_timeout_without_timer: Option<Duration>,
    /// Wait this long before sending the input.
    delay_input: Option<Duration>,
}

macro_rules! server_side {
    ($module:ident, $krate:ident, $io:ident) => {
        mod $module {
            use super::*;
            use $krate::service::service_fn;

            use super::$io as Io;

            fn ended(result: Result<$krate::Result<()>, tokio::task::JoinError>) -> Ended {
                match result {
                    Ok(Ok(())) => Ended::Ok,
                    Ok(Err(e)) => Ended::Err {
                        user: e.is_user(),
                        body_write_aborted: e.is_body_write_aborted(),
                    },
                    Err(join) if join.is_panic() => Ended::Panicked,
                    Err(join) => panic!("connection task: {join}"),
                }
            }

            /// Serves one connection answering every request with `respond()`, sends `input` (keeping the client's write
            /// half open), and reads until the server closes.
            pub async fn serve<F, B>(input: &[u8], opts: Options, respond: F) -> Served
            where
                F: Fn() -> Response<B> + Send + Sync + 'static,
                B: Body<Data = Bytes> + Send + 'static,
                B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
            {
                let (client, server) = UnixStream::pair().unwrap();
                let service = service_fn(move |_req: Request<$krate::body::Incoming>| {
                    let res = respond();
                    async move { Ok::<_, Infallible>(res) }
                });
                let mut builder = $krate::server::conn::http1::Builder::new();
                if let Some(timeout) = opts.header_read_timeout_without_timer {
                    builder.header_read_timeout(timeout);
                }
                // Built inside the task: upstream panics there on some options.
                let server = tokio::spawn(async move {
                    builder.serve_connection(Io::new(server), service).await
                });
                let (mut rd, mut wr) = client.into_split();
                if let Some(delay) = opts.delay_input {
                    tokio::time::sleep(delay).await;
                }
                // A server that panicked before reading has closed its end; what it wrote
                // (nothing) is read below either way.
                wr.write_all(input).await.ok();
                let mut wire = Vec::new();
                tokio::time::timeout(Duration::from_secs(10), rd.read_to_end(&mut wire))
                    .await
                    .expect("the server closes the connection")
                    .unwrap_or_default();
                Served {
                    wire,
                    ended: ended(server.await),
                }
            }

            /// Sends a POST announcing a 200,000-byte body the service never reads, reads the
            /// response, then returns whether the connection was still running 50 ms later
            /// (and lets it finish by sending the body).
            pub async fn still_running_after_answering_an_unread_body() -> bool {
                let (client, server) = UnixStream::pair().unwrap();
                let conn = $krate::server::conn::http1::Builder::new()
                    .timer(Timer)
                    .serve_connection(
                        Io::new(server),
                        service_fn(|_req| async {
                            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(
                                b"early",
                            ))))
                        }),
                    );
                let server = tokio::spawn(conn);
                let (mut rd, mut wr) = client.into_split();
                wr.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n")
                    .await
                    .unwrap();
                let mut out = Vec::new();
                rd.read_to_end(&mut out).await.unwrap();
                assert!(out.ends_with(b"early"));
                assert!(out.windows(19).any(|w| w == b"connection: close\r\n"));
                tokio::time::sleep(Duration::from_millis(50)).await;
                let running = !server.is_finished();
                // Upstream's side may be closed already; then the write fails, which is fine.
                let _sent = wr.write_all(&vec![b'b'; 200_000]).await;
                tokio::time::timeout(Duration::from_secs(10), server)
                    .await
                    .expect("the connection completes")
                    .unwrap()
                    .unwrap();
                running
            }

            /// Tokio's clock for the crate's timer trait.
            #[derive(Clone)]
            struct Timer;

            struct Sleep(Pin<Box<tokio::time::Sleep>>);

            impl std::future::Future for Sleep {
                type Output = ();
                fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
                    self.0.as_mut().poll(cx)
                }
            }

            impl $krate::rt::Sleep for Sleep {}

            impl $krate::rt::Timer for Timer {
                fn sleep(&self, duration: Duration) -> Pin<Box<dyn $krate::rt::Sleep>> {
                    Box::pin(Sleep(Box::pin(tokio::time::sleep(duration))))
                }
                fn sleep_until(&self, at: std::time::Instant) -> Pin<Box<dyn $krate::rt::Sleep>> {
                    Box::pin(Sleep(Box::pin(tokio::time::sleep_until(at.into()))))
                }
            }
        }
    };
}

server_side!(fork, hyper, TokioIo);
server_side!(upstream, hyper_upstream, UpIo);

const GET_CLOSE: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

/// A body whose size hint promises more bytes than it yields before ending.
struct ShortBody {
    sent: bool,
}

impl Body for ShortBody {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.sent {
            return Poll::Ready(None);
        }
        self.sent = true;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b"only ten b")))))
    }
    fn is_end_stream(&self) -> bool {
        self.sent
    }
    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(if self.sent { 0 } else { 20 })
    }
}

#[tokio::test]
async fn a_body_ending_before_its_declared_length_is_reported_as_aborted_after_its_bytes() {
    let respond = || Response::new(ShortBody { sent: false });
    let fork = fork::serve(GET_CLOSE, Options::default(), respond).await;
    assert!(
        fork.text().contains("content-length: 20\r\n"),
        "{}",
        fork.text()
    );
    assert!(
        fork.text().ends_with("\r\n\r\nonly ten b"),
        "the bytes the body gave are delivered: {}",
        fork.text()
    );
    assert_eq!(
        fork.ended,
        Ended::Err {
            user: true,
            body_write_aborted: true
        }
    );

    // Upstream 1.13.0 reports the same error but returns it without writing the head and
    // the data it had encoded.
    let upstream = upstream::serve(GET_CLOSE, Options::default(), respond).await;
    assert!(upstream.wire.is_empty(), "{}", upstream.text());
    assert_eq!(upstream.ended, fork.ended);
}

#[tokio::test]
async fn a_content_length_header_contradicting_the_body_is_a_user_error_not_a_desync() {
    let respond = || {
        let mut res = Response::new(Full::new(Bytes::from_static(b"12345")));
        res.headers_mut()
            .insert("content-length", "50".parse().unwrap());
        res
    };
    let fork = fork::serve(GET_CLOSE, Options::default(), respond).await;
    assert!(
        fork.wire.is_empty(),
        "nothing of that response is written: {}",
        fork.text()
    );
    assert!(matches!(fork.ended, Ended::Err { user: true, .. }));

    // Upstream trusts the header: a debug build asserts that the two agree (and panics), a
    // release build announces 50 bytes and sends 5.
    let upstream = upstream::serve(GET_CLOSE, Options::default(), respond).await;
    if cfg!(debug_assertions) {
        assert_eq!(upstream.ended, Ended::Panicked);
    } else {
        assert!(
            upstream.text().contains("content-length: 50\r\n"),
            "{}",
            upstream.text()
        );
    }
}

#[tokio::test]
async fn a_response_with_an_unsupported_version_is_written_as_http11_without_panicking() {
    let respond = || {
        let mut res = Response::new(Full::new(Bytes::from_static(b"ok")));
        *res.version_mut() = Version::HTTP_3;
        res
    };
    let fork = fork::serve(GET_CLOSE, Options::default(), respond).await;
    assert!(
        fork.wire.starts_with(b"HTTP/1.1 200 OK\r\n"),
        "{}",
        fork.text()
    );
    assert_eq!(fork.ended, Ended::Ok);

    let upstream = upstream::serve(GET_CLOSE, Options::default(), respond).await;
    assert_eq!(upstream.ended, Ended::Panicked);
}

#[tokio::test]
async fn a_transfer_coding_completed_with_chunked_does_not_leak_into_the_next_header() {
    let respond = || {
        let frames = futures_util::stream::iter([Ok::<_, Infallible>(Frame::data(
            Bytes::from_static(b"abc"),
        ))]);
        let mut res = Response::new(StreamBody::new(frames));
        res.headers_mut()
            .insert("transfer-encoding", "gzip".parse().unwrap());
        res.headers_mut()
            .insert("x-after", "value".parse().unwrap());
        res
    };
    let fork = fork::serve(GET_CLOSE, Options::default(), respond).await;
    let text = fork.text();
    assert!(
        text.contains("transfer-encoding: gzip, chunked\r\n"),
        "{text}"
    );
    assert!(text.contains("x-after: value\r\n"), "{text}");
    assert!(text.contains("connection: close\r\n"), "{text}");
    assert!(!text.contains("close, chunked"), "{text}");
    assert!(text.ends_with("3\r\nabc\r\n0\r\n\r\n"), "{text}");
    assert_eq!(fork.ended, Ended::Ok);

    // Upstream appends `, chunked` to whatever header line it wrote last.
    let upstream = upstream::serve(GET_CLOSE, Options::default(), respond).await;
    assert!(
        upstream.text().contains("close, chunked"),
        "{}",
        upstream.text()
    );
}

#[tokio::test]
async fn a_header_read_timeout_without_a_timer_is_ignored_instead_of_panicking() {
    let opts = Options {
        header_read_timeout_without_timer: Some(Duration::from_millis(1)),
        // Slower than the configured timeout: it is not enforced without a timer.
        delay_input: Some(Duration::from_millis(50)),
    };
    let respond = || Response::new(Full::new(Bytes::from_static(b"late")));
    let fork = fork::serve(GET_CLOSE, opts, respond).await;
    assert!(fork.wire.ends_with(b"late"), "{}", fork.text());
    assert_eq!(fork.ended, Ended::Ok);

    let upstream = upstream::serve(GET_CLOSE, opts, respond).await;
    assert_eq!(upstream.ended, Ended::Panicked);
}

#[tokio::test]
async fn an_abandoned_request_body_is_consumed_before_the_connection_completes() {
    // The service answers without reading the body. After the answer the fork keeps reading
    // (and dropping) the body the client is still sending, bounded by the header read timeout,
    // so a TCP socket would close with FIN rather than a reset that discards unsent response
    // bytes. Upstream completes right away, leaving the body unread in the socket.
    assert!(fork::still_running_after_answering_an_unread_body().await);
    assert!(!upstream::still_running_after_answering_an_unread_body().await);
}

/// Sends a valid start of a head, then (in a second write) bytes no head may contain, and
/// returns what the server answered within `wait` (the client keeps its end open).
macro_rules! answer_to_invalid_bytes_in_a_later_piece {
    ($krate:ident, $io:ident, $wait:expr) => {{
        let (client, server) = UnixStream::pair().unwrap();
        let conn = $krate::server::conn::http1::Builder::new().serve_connection(
            $io::new(server),
            $krate::service::service_fn(|_req| async {
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
            }),
        );
        let server = tokio::spawn(conn);
        let (mut rd, mut wr) = client.into_split();
        wr.write_all(b"GET / HTTP/1.1\r\nHost: example.test\r\n")
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        wr.write_all(b"X-Bad: a\x00").await.unwrap();
        let mut wire = Vec::new();
        // Upstream stays silent: reading stops at `$wait` with nothing read.
        let read = tokio::time::timeout($wait, rd.read_to_end(&mut wire)).await;
        assert!(
            read.is_err() || !wire.is_empty(),
            "the server closed silently"
        );
        server.abort();
        wire
    }};
}

#[tokio::test]
async fn invalid_bytes_in_a_later_piece_of_a_head_are_rejected_at_once() {
    // The fork parses every arrival of a head up to 8 KiB, so it answers 400 when the NUL
    // arrives. Upstream parses again only once a blank line arrives (or a timer or a full
    // buffer ends the wait), so it is still silent.
    let wait = Duration::from_millis(300);
    let fork = answer_to_invalid_bytes_in_a_later_piece!(hyper, TokioIo, wait);
    assert!(
        fork.starts_with(b"HTTP/1.1 400 Bad Request\r\n"),
        "{}",
        String::from_utf8_lossy(&fork)
    );
    let upstream = answer_to_invalid_bytes_in_a_later_piece!(hyper_upstream, UpIo, wait);
    assert!(
        upstream.is_empty(),
        "{}",
        String::from_utf8_lossy(&upstream)
    );
}

macro_rules! client_side {
    ($module:ident, $krate:ident, $io:ident) => {
        mod $module {
            use super::*;

            use super::$io as ClientIo;

            /// Sends one request marked `version` on a fresh connection; returns the request
            /// line the peer received (empty if none) and whether the connection task panicked.
            pub async fn send_with_version(version: Version) -> (String, bool) {
                let (io, mut peer) = UnixStream::pair().unwrap();
                let (mut send, conn) =
                    $krate::client::conn::http1::handshake::<_, Full<Bytes>>(ClientIo::new(io))
                        .await
                        .unwrap();
                let conn = tokio::spawn(conn);
                let req = Request::post("/v")
                    .header("host", "example.test")
                    .version(version)
                    .body(Full::new(Bytes::from_static(b"body")))
                    .unwrap();
                let reply = tokio::spawn(send.send_request(req));
                let mut got = Vec::new();
                let mut buf = [0u8; 1024];
                while !got.windows(2).any(|w| w == b"\r\n") {
                    match tokio::time::timeout(Duration::from_secs(5), peer.read(&mut buf)).await {
                        Ok(Ok(n)) if n > 0 => got.extend_from_slice(&buf[..n]),
                        _ => break,
                    }
                }
                drop(peer);
                // The fork's request fails (its peer is gone); upstream's reply is dropped by
                // the panicking connection task.
                reply.await.expect("the request task does not panic").ok();
                let panicked = conn.await.is_err_and(|e| e.is_panic());
                let line = String::from_utf8_lossy(&got)
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_string();
                (line, panicked)
            }
        }
    };
}

client_side!(fork_client, hyper, TokioIo);
client_side!(upstream_client, hyper_upstream, UpIo);

#[tokio::test]
async fn a_request_with_an_unsupported_version_is_sent_as_http11_without_panicking() {
    for version in [Version::HTTP_09, Version::HTTP_3] {
        let (line, panicked) = fork_client::send_with_version(version).await;
        assert_eq!(line, "POST /v HTTP/1.1", "{version:?}");
        assert!(!panicked);

        let (line, panicked) = upstream_client::send_with_version(version).await;
        assert!(line.is_empty(), "{version:?}: {line}");
        assert!(panicked, "{version:?}");
    }
}

#[path = "support/differential_fuzz.rs"]
mod differential_fuzz;

#[test]
fn a_malformed_head_pipelined_behind_a_response_still_being_written_is_answered() {
    use differential_fuzz::{check_server, fork, upstream, Case, Deliberate, End, Verdict};
    // Bit 13: every write is `Pending` for a poll before the wire takes it. The first request
    // asks for an upgrade that its `200` does not grant; the second head is malformed.
    let data = Case::encode(
        1 << 13,
        0,
        b"GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\nGET  /  HTTP/1.1\r\n",
    );
    let case = Case::decode(&data).expect("a case");
    let (fork, upstream) = (fork::serve(&case), upstream::serve(&case));
    for side in [&fork, &upstream] {
        assert!(
            matches!(&side.end, End::Failed(e) if e.kinds[0]),
            "{side:?}"
        );
        assert!(
            side.written.0.starts_with(b"HTTP/1.1 200 OK\r\n"),
            "{side:?}"
        );
    }
    // The fork answers the malformed head once the 200 is written; upstream, whose write
    // state was not idle when the head failed, ends without an answer.
    assert!(
        fork.written.0.ends_with(b"\r\n\r\nseenHTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\ndate: -----------------------------\r\n\r\n"),
        "{fork:?}"
    );
    assert!(
        upstream.written.0.ends_with(b"\r\n\r\nseen"),
        "{upstream:?}"
    );
    assert_eq!(
        check_server(&data).expect("documented"),
        Verdict::Accepted(Deliberate::ErrorAnswerBehindUnwrittenResponse)
    );
}

#[test]
fn a_100_continue_encoded_before_the_connection_fails_is_written() {
    use differential_fuzz::{check_server, fork, upstream, Case, Deliberate, End, Verdict};
    // Options 0: the peer half-closes right after its bytes, so reading the body meets end of
    // file and the connection fails once the service has asked for the body.
    let data = Case::encode(
        0,
        0,
        b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
    );
    let case = Case::decode(&data).expect("a case");
    let (fork, upstream) = (fork::serve(&case), upstream::serve(&case));
    for side in [&fork, &upstream] {
        assert!(
            matches!(&side.end, End::Failed(e) if e.kinds[7]),
            "{side:?}"
        );
    }
    assert_eq!(fork.written.0, b"HTTP/1.1 100 Continue\r\n\r\n");
    assert_eq!(upstream.written.0, b"");
    assert_eq!(
        check_server(&data).expect("documented"),
        Verdict::Accepted(Deliberate::ContinueLostOnError)
    );
}

#[test]
fn a_response_to_a_request_asking_for_an_upgrade_is_written_before_the_connection_ends() {
    use differential_fuzz::{check_server, fork, upstream, Case, Deliberate, End, Verdict};
    // Bit 13: every write is `Pending` for a poll before the wire takes it. The service
    // answers 200 (no upgrade) after the request body failed (a bad trailer line).
    let data = Case::encode(
        1 << 13,
        0,
        b"GET / HTTP/1.1\r\nUpgrade: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nbad\r&\n\r\n",
    );
    let case = Case::decode(&data).expect("a case");
    let (fork, upstream) = (fork::serve(&case), upstream::serve(&case));
    for side in [&fork, &upstream] {
        assert_eq!(side.end, End::Finished, "{side:?}");
        assert!(side.requests[0].body.error.is_some(), "{side:?}");
    }
    assert!(
        fork.written.0.starts_with(b"HTTP/1.1 200 OK\r\n"),
        "{fork:?}"
    );
    assert!(fork.written.0.ends_with(b"\r\n\r\nseen"), "{fork:?}");
    assert_eq!(upstream.written.0, b"", "{upstream:?}");
    assert_eq!(
        check_server(&data).expect("documented"),
        Verdict::Accepted(Deliberate::UpgradeHandOffLeavesBytesUnwritten)
    );
}
