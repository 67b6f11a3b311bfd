//! Each behavioural difference from upstream hyper 1.13.0 that `UPSTREAM.md` lists, pinned.
//!
//! Where upstream's behaviour can be shown safely it runs too, so the test documents both
//! sides; where upstream panics it is not run.
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http_body_util::{Full, StreamBody};
use hyper::body::{Body, Bytes, Frame, SizeHint};
use hyper::service::service_fn;
use hyper::{Request, Response, Version};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

/// Serves one connection with `respond`, sends `input` (then keeps the write side open),
/// and returns what the server wrote and its result.
async fn serve_fork<F, B>(input: &[u8], respond: F) -> (Vec<u8>, hyper::Result<()>)
where
    F: Fn(Request<hyper::body::Incoming>) -> Response<B> + Send + Sync + 'static,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (client, server) = UnixStream::pair().unwrap();
    let service = service_fn(move |req| {
        let res = respond(req);
        async move { Ok::<_, Infallible>(res) }
    });
    let conn =
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(server), service);
    let server = tokio::spawn(conn);
    let (mut rd, mut wr) = client.into_split();
    wr.write_all(input).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), rd.read_to_end(&mut out))
        .await
        .expect("server closed the connection")
        .unwrap();
    (out, server.await.unwrap())
}

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
async fn a_body_ending_before_its_declared_length_is_reported_as_aborted() {
    let (out, result) = serve_fork(GET_CLOSE, |_| Response::new(ShortBody { sent: false })).await;
    let text = String::from_utf8_lossy(&out);
    assert!(text.contains("content-length: 20\r\n"), "{text}");
    assert!(
        text.ends_with("\r\n\r\nonly ten b"),
        "the bytes written are delivered: {text}"
    );
    let err = result.expect_err("upstream returns Ok(()) here");
    assert!(err.is_body_write_aborted(), "{err:?}");
}

#[tokio::test]
async fn a_content_length_header_contradicting_the_body_is_a_user_error_not_a_desync() {
    let (out, result) = serve_fork(GET_CLOSE, |_| {
        let mut res = Response::new(Full::new(Bytes::from_static(b"12345")));
        res.headers_mut()
            .insert("content-length", "50".parse().unwrap());
        res
    })
    .await;
    assert!(
        out.is_empty(),
        "nothing of that response is written: {out:?}"
    );
    let err = result.expect_err("user error");
    assert!(err.is_user(), "{err:?}");
}

#[tokio::test]
async fn a_response_with_an_unsupported_version_is_written_as_http11_without_panicking() {
    let (out, result) = serve_fork(GET_CLOSE, |_| {
        let mut res = Response::new(Full::new(Bytes::from_static(b"ok")));
        *res.version_mut() = Version::HTTP_3;
        res
    })
    .await;
    assert!(
        out.starts_with(b"HTTP/1.1 200 OK\r\n"),
        "{}",
        String::from_utf8_lossy(&out)
    );
    result.unwrap();
}

#[tokio::test]
async fn a_transfer_coding_completed_with_chunked_does_not_leak_into_the_next_header() {
    let (out, result) = serve_fork(GET_CLOSE, |_| {
        let frames = futures_util::stream::iter([Ok::<_, Infallible>(Frame::data(
            Bytes::from_static(b"abc"),
        ))]);
        let mut res = Response::new(StreamBody::new(frames));
        res.headers_mut()
            .insert("transfer-encoding", "gzip".parse().unwrap());
        res.headers_mut()
            .insert("x-after", "value".parse().unwrap());
        res
    })
    .await;
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.contains("transfer-encoding: gzip, chunked\r\n"),
        "{text}"
    );
    assert!(text.contains("x-after: value\r\n"), "{text}");
    assert!(text.contains("connection: close\r\n"), "{text}");
    assert!(!text.contains("close, chunked"), "{text}");
    assert!(text.ends_with("3\r\nabc\r\n0\r\n\r\n"), "{text}");
    result.unwrap();
}

#[tokio::test]
async fn a_header_read_timeout_without_a_timer_is_ignored_instead_of_panicking() {
    let (client, server) = UnixStream::pair().unwrap();
    let conn = hyper::server::conn::http1::Builder::new()
        .header_read_timeout(Duration::from_millis(1))
        .serve_connection(
            TokioIo::new(server),
            service_fn(|_req| async {
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"late"))))
            }),
        );
    let server = tokio::spawn(conn);
    let (mut rd, mut wr) = client.into_split();
    // Slower than the configured timeout: it is not enforced without a timer.
    tokio::time::sleep(Duration::from_millis(50)).await;
    wr.write_all(GET_CLOSE).await.unwrap();
    let mut out = Vec::new();
    rd.read_to_end(&mut out).await.unwrap();
    assert!(out.ends_with(b"late"));
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn an_abandoned_request_body_is_consumed_before_the_connection_completes() {
    // The service answers without reading the body. After the answer the fork keeps reading
    // (and dropping) the body the client is still sending, bounded by the header read timeout,
    // so a TCP socket would close with FIN rather than a reset that discards unsent response
    // bytes. Upstream completes right away, leaving the body unread in the socket.
    let (client, server) = UnixStream::pair().unwrap();
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .serve_connection(
            TokioIo::new(server),
            service_fn(|_req| async {
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"early"))))
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
    assert!(!server.is_finished(), "still consuming the announced body");
    wr.write_all(&vec![b'b'; 200_000]).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("server completes once the body is consumed")
        .unwrap()
        .unwrap();
}
