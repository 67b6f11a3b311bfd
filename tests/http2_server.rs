#![cfg(feature = "full")]
//! The fork's HTTP/2 server (`server::conn::http2`) against upstream hyper 1.13.0's HTTP/2
//! client, over Unix socket pairs: large bodies both ways with a slow reader, many concurrent
//! streams, trailers both ways, graceful shutdown with every in-flight response delivered
//! whole, and the keep-alive timeout.
use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Body as _;
use hyper::body::Frame;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

#[path = "support/upstream_io.rs"]
mod upstream_io;
use upstream_io::UpIo;

const FOUR_MIB: usize = 4 * 1024 * 1024;

#[path = "support/pattern.rs"]
mod pattern;
use pattern::{pattern, pattern_byte};

#[path = "support/upstream_exec.rs"]
mod upstream_exec;
use upstream_exec::UpExec;

/// The fork's server on one end of a socket pair, `service` answering, and upstream's client
/// on the other end.
async fn connect<S, B>(
    service: S,
    configure: impl FnOnce(&mut hyper::server::conn::http2::Builder<hyper_util::rt::TokioExecutor>),
) -> (
    hyper_upstream::client::conn::http2::SendRequest<Req>,
    tokio::task::JoinHandle<hyper::Result<()>>,
)
where
    S: hyper::service::Service<Request<hyper::body::Incoming>, Response = Response<B>>
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (client_io, server_io) = UnixStream::pair().unwrap();
    let mut builder =
        hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new());
    configure(&mut builder);
    let server = tokio::spawn(builder.serve_connection(TokioIo::new(server_io), service));
    let (send, conn) = hyper_upstream::client::conn::http2::handshake(UpExec, UpIo::new(client_io))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    (send, server)
}

/// Request bodies of every shape, as one type.
type Req = BoxBody<Bytes, Infallible>;

fn get(path: &str) -> Request<Req> {
    Request::get(format!("http://fork.test{path}"))
        .body(Full::new(Bytes::new()).boxed())
        .unwrap()
}

#[tokio::test]
async fn a_4_mib_response_reaches_a_client_that_reads_slowly_whole() {
    let (mut send, _server) = connect(
        service_fn(|_req| async {
            Ok::<_, Infallible>(Response::new(Full::new(pattern(FOUR_MIB, 0))))
        }),
        |_| {},
    )
    .await;
    let res = send.send_request(get("/big")).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-length"],
        FOUR_MIB.to_string().as_str()
    );
    assert!(res.headers().contains_key("date"));
    let mut body = res.into_body();
    let mut got = Vec::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.unwrap().into_data() {
            got.extend_from_slice(&data);
            // A slow reader: flow control holds the server back meanwhile.
            tokio::time::sleep(Duration::from_micros(300)).await;
        }
    }
    assert_eq!(got.len(), FOUR_MIB);
    assert!(got
        .iter()
        .enumerate()
        .all(|(i, b)| *b == pattern_byte(i, 0)));
}

#[tokio::test]
async fn a_4_mib_upload_is_read_whole_by_the_service() {
    let (mut send, _server) = connect(
        service_fn(|req: Request<hyper::body::Incoming>| async move {
            let declared = req.body().size_hint().exact();
            let body = req.into_body().collect().await.unwrap().to_bytes();
            let intact = body
                .iter()
                .enumerate()
                .all(|(i, b)| *b == pattern_byte(i, 0));
            let reply = format!("{} {:?} {intact}", body.len(), declared);
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(reply))))
        }),
        |_| {},
    )
    .await;
    let req = Request::post("http://fork.test/upload")
        .header("content-length", FOUR_MIB)
        .body(Full::new(pattern(FOUR_MIB, 0)).boxed())
        .unwrap();
    let res = send.send_request(req).await.unwrap();
    let text = res.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(text, format!("{FOUR_MIB} Some({FOUR_MIB}) true").as_bytes());
}

#[tokio::test]
async fn a_hundred_concurrent_streams_each_get_their_own_answer() {
    let (send, _server) = connect(
        service_fn(|req: Request<hyper::body::Incoming>| async move {
            let n: usize = req.uri().path()[1..].parse().unwrap();
            tokio::time::sleep(Duration::from_millis((n % 7) as u64)).await;
            Ok::<_, Infallible>(Response::new(Full::new(pattern(n * 100, 0))))
        }),
        |_| {},
    )
    .await;
    let mut tasks = Vec::new();
    for n in 0..100 {
        let mut send = send.clone();
        tasks.push(tokio::spawn(async move {
            let res = send.send_request(get(&format!("/{n}"))).await.unwrap();
            let body = res.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(body, pattern(n * 100, 0), "stream {n}");
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

#[tokio::test]
async fn trailers_travel_both_ways() {
    let (mut send, _server) = connect(
        service_fn(|req: Request<hyper::body::Incoming>| async move {
            let collected = req.into_body().collect().await.unwrap();
            let got = collected
                .trailers()
                .and_then(|t| t.get("x-request-sum"))
                .cloned();
            let mut trailers = hyper::HeaderMap::new();
            trailers.insert("x-response-sum", "42".parse().unwrap());
            trailers.insert("x-echo", got.unwrap_or_else(|| "missing".parse().unwrap()));
            let frames = stream::iter([
                Ok::<_, Infallible>(Frame::data(Bytes::from_static(b"body"))),
                Ok(Frame::trailers(trailers)),
            ]);
            Ok::<_, Infallible>(Response::new(StreamBody::new(frames)))
        }),
        |_| {},
    )
    .await;
    let mut request_trailers = hyper::HeaderMap::new();
    request_trailers.insert("x-request-sum", "7".parse().unwrap());
    let frames = stream::iter([
        Ok::<_, Infallible>(Frame::data(Bytes::from_static(b"numbers"))),
        Ok(Frame::trailers(request_trailers)),
    ]);
    let req = Request::post("http://fork.test/t")
        .body(StreamBody::new(frames).boxed())
        .unwrap();
    let res = send.send_request(req).await.unwrap();
    let collected = res.into_body().collect().await.unwrap();
    let trailers = collected.trailers().cloned().expect("response trailers");
    assert_eq!(trailers["x-response-sum"], "42");
    assert_eq!(
        trailers["x-echo"], "7",
        "the service saw the request's trailers"
    );
    assert_eq!(collected.to_bytes(), Bytes::from_static(b"body"));
}

#[tokio::test]
async fn graceful_shutdown_delivers_every_in_flight_response_whole() {
    let (client_io, server_io) = UnixStream::pair().unwrap();
    let service = service_fn(|_req| async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        Ok::<_, Infallible>(Response::new(Full::new(pattern(FOUR_MIB / 4, 0))))
    });
    let conn = hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
        .serve_connection(TokioIo::new(server_io), service);
    let (send, client_conn) =
        hyper_upstream::client::conn::http2::handshake::<_, _, Req>(UpExec, UpIo::new(client_io))
            .await
            .unwrap();
    tokio::spawn(client_conn);
    let mut in_flight = Vec::new();
    for _ in 0..8 {
        let mut send = send.clone();
        in_flight.push(tokio::spawn(async move {
            let res = send.send_request(get("/slow")).await?;
            let body = res.into_body().collect().await?.to_bytes();
            Ok::<_, hyper_upstream::Error>(body)
        }));
    }
    let server = tokio::spawn(async move {
        let mut conn = std::pin::pin!(conn);
        // Let the requests arrive, then shut down while their responses are pending.
        tokio::select! {
            res = conn.as_mut() => return res,
            () = tokio::time::sleep(Duration::from_millis(20)) => {}
        }
        conn.as_mut().graceful_shutdown();
        conn.await
    });
    for task in in_flight {
        let body = task.await.unwrap().expect("an in-flight request completes");
        assert_eq!(body, pattern(FOUR_MIB / 4, 0));
    }
    server.await.unwrap().expect("the connection ends cleanly");
}

#[tokio::test]
async fn an_unanswered_keep_alive_ping_ends_the_connection_with_a_timeout() {
    let (mut client_io, server_io) = UnixStream::pair().unwrap();
    let mut builder =
        hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new());
    builder
        .timer(hyper_util::rt::TokioTimer::new())
        .keep_alive_interval(Duration::from_millis(50))
        .keep_alive_timeout(Duration::from_millis(100));
    let service =
        service_fn(|_req| async { Ok::<_, Infallible>(Response::new(Full::new(Bytes::new()))) });
    let server = tokio::spawn(builder.serve_connection(TokioIo::new(server_io), service));
    // A client that sends the preface and an empty SETTINGS frame, then never reads: the
    // server's PING goes unacknowledged.
    client_io
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .await
        .unwrap();
    let err = tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("the server gives up")
        .unwrap()
        .expect_err("a timeout error");
    assert!(err.is_timeout(), "{err:?}");
    let mut rest = Vec::new();
    client_io.read_to_end(&mut rest).await.ok();
}

/// A transport that keeps a copy of every byte the server writes.
struct Recording<T> {
    inner: T,
    written: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
}

impl<T: hyper::rt::Read + Unpin> hyper::rt::Read for Recording<T> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: hyper::rt::Write + Unpin> hyper::rt::Write for Recording<T> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        data: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let polled = std::pin::Pin::new(&mut self.inner).poll_write(cx, data);
        if let std::task::Poll::Ready(Ok(n)) = &polled {
            self.written.lock().unwrap().extend_from_slice(&data[..*n]);
        }
        polled
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// For each (non-ACK) SETTINGS frame of an HTTP/2 byte stream, in order, the
/// `SETTINGS_INITIAL_WINDOW_SIZE` it announces, if any.
fn initial_window_settings(mut frames: &[u8]) -> Vec<Option<u32>> {
    let mut per_frame = Vec::new();
    while frames.len() >= 9 {
        let len = u32::from_be_bytes([0, frames[0], frames[1], frames[2]]) as usize;
        let (kind, flags) = (frames[3], frames[4]);
        let Some(payload) = frames.get(9..9 + len) else {
            break;
        };
        if kind == 4 && flags & 1 == 0 {
            let window = payload
                .chunks_exact(6)
                .filter(|s| u16::from_be_bytes([s[0], s[1]]) == 4)
                .map(|s| u32::from_be_bytes([s[2], s[3], s[4], s[5]]))
                .next_back();
            per_frame.push(window);
        }
        frames = &frames[9 + len..];
    }
    per_frame
}

#[tokio::test]
async fn adaptive_window_grows_the_windows_while_an_upload_fills_them() {
    let (client_io, server_io) = UnixStream::pair().unwrap();
    let written = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let server_io = Recording {
        inner: TokioIo::new(server_io),
        written: written.clone(),
    };
    let service = service_fn(|req: Request<hyper::body::Incoming>| async move {
        let got = req.into_body().collect().await.unwrap().to_bytes();
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(got.len().to_string()))))
    });
    let conn = hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
        .adaptive_window(true)
        .serve_connection(server_io, service);
    tokio::spawn(conn);
    let (mut send, client_conn) =
        hyper_upstream::client::conn::http2::handshake::<_, _, Req>(UpExec, UpIo::new(client_io))
            .await
            .unwrap();
    tokio::spawn(client_conn);
    for _ in 0..4 {
        let req = Request::post("http://fork.test/upload")
            .body(Full::new(pattern(FOUR_MIB, 0)).boxed())
            .unwrap();
        let res = send.send_request(req).await.unwrap();
        let text = res.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(text, FOUR_MIB.to_string().as_bytes());
    }
    // A server's first frame is its SETTINGS: with adaptive windows it starts at the
    // protocol's 64 KiB, and later SETTINGS raise it once uploads fill it.
    let settings = initial_window_settings(&written.lock().unwrap());
    assert!(
        settings
            .first()
            .is_some_and(|w| w.is_none_or(|w| w <= 65_535)),
        "the connection did not start at the default window: {settings:?}"
    );
    assert!(
        settings[1..].iter().flatten().any(|w| *w > 65_535),
        "no later SETTINGS frame raised the initial window: {settings:?}"
    );
}
