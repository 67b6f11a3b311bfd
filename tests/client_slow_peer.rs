//! The fork's client sends a 4 MiB request body to a peer that reads slowly (16 KiB every
//! 0.3 ms) and answers only once it has the whole request. Every body byte must arrive, checked
//! by content, whether the body is a `Full` or a 64-frame stream, with keep-alive (then a
//! second request reuses the connection) or `Connection: close`, and when the connection is
//! driven with `without_shutdown` while the server answers early.
use std::convert::Infallible;
use std::time::Duration;

use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Bytes, Frame};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

const BODY: usize = 4 * 1024 * 1024;
const FRAMES: usize = 64;
const RUNS: usize = 5;

#[path = "support/pattern.rs"]
mod pattern;
use pattern::pattern;

#[derive(Clone, Copy, Debug)]
enum Shape {
    Full,
    Stream,
}

fn request(
    shape: Shape,
    close: bool,
    salt: usize,
) -> Request<http_body_util::combinators::BoxBody<Bytes, Infallible>> {
    let data = pattern(BODY, salt);
    let body = match shape {
        Shape::Full => Full::new(data).boxed(),
        Shape::Stream => {
            let frames: Vec<Result<Frame<Bytes>, Infallible>> = data
                .chunks(BODY / FRAMES)
                .map(|c| Ok(Frame::data(Bytes::copy_from_slice(c))))
                .collect();
            StreamBody::new(futures_util::stream::iter(frames)).boxed()
        }
    };
    let mut req = Request::post("/upload").header("host", "peer");
    if close {
        req = req.header("connection", "close");
    }
    req.body(body).expect("valid request")
}

/// What the peer received of one request.
struct Received {
    head: String,
    body: Vec<u8>,
}

/// Reads one more chunk of at most 16 KiB, then pauses 0.3 ms: the slow pace.
async fn read_more(io: &mut UnixStream, carry: &mut Vec<u8>) {
    let mut chunk = [0u8; 16 * 1024];
    let n = io.read(&mut chunk).await.expect("read");
    assert!(n > 0, "EOF inside a request");
    carry.extend_from_slice(&chunk[..n]);
    tokio::time::sleep(Duration::from_micros(300)).await;
}

/// Reads one request at the slow pace: the head, then the body by its framing. Bytes read
/// past the request stay in `carry`.
async fn read_request_slowly(io: &mut UnixStream, carry: &mut Vec<u8>) -> Received {
    let head_end = loop {
        if let Some(end) = carry.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        read_more(io, carry).await;
    };
    let head = String::from_utf8(carry[..head_end].to_vec()).expect("ASCII head");
    carry.drain(..head_end);
    let mut fields = [httparse::EMPTY_HEADER; 32];
    let mut parsed = httparse::Request::new(&mut fields);
    assert!(parsed
        .parse(head.as_bytes())
        .expect("head parses")
        .is_complete());
    let field = |name: &str| {
        parsed
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).to_ascii_lowercase())
    };
    let mut body = Vec::new();
    if let Some(len) = field("content-length") {
        let len: usize = len.parse().expect("a length");
        while carry.len() < len {
            read_more(io, carry).await;
        }
        body.extend(carry.drain(..len));
    } else if field("transfer-encoding").as_deref() == Some("chunked") {
        loop {
            let line_end = loop {
                if let Some(i) = carry.windows(2).position(|w| w == b"\r\n") {
                    break i;
                }
                read_more(io, carry).await;
            };
            let size_text = String::from_utf8_lossy(&carry[..line_end])
                .trim()
                .to_string();
            let size = usize::from_str_radix(&size_text, 16).expect("chunk size");
            carry.drain(..line_end + 2);
            while carry.len() < size + 2 {
                read_more(io, carry).await;
            }
            assert_eq!(&carry[size..size + 2], b"\r\n", "chunk ends with CRLF");
            body.extend_from_slice(&carry[..size]);
            carry.drain(..size + 2);
            if size == 0 {
                break;
            }
        }
    }
    Received { head, body }
}

async fn run_case(shape: Shape, close: bool, run: usize) {
    let (client_io, mut peer) = UnixStream::pair().unwrap();
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(client_io))
        .await
        .unwrap();
    let conn = tokio::spawn(conn);

    let first = tokio::spawn(send.send_request(request(shape, close, run)));
    let mut carry = Vec::new();
    let got = read_request_slowly(&mut peer, &mut carry).await;
    assert!(
        got.head.starts_with("POST /upload HTTP/1.1\r\n"),
        "{}",
        got.head
    );
    assert_eq!(
        got.body.len(),
        BODY,
        "{shape:?} close={close} run {run}: body bytes received"
    );
    assert!(
        got.body == pattern(BODY, run),
        "{shape:?} close={close} run {run}: body content"
    );
    let answer: &[u8] = if close {
        b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok"
    } else {
        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"
    };
    peer.write_all(answer).await.unwrap();
    let res = first.await.unwrap().expect("response");
    assert_eq!(res.into_body().collect().await.unwrap().to_bytes(), "ok");

    if close {
        // The client wrote everything and then closed its side.
        let mut rest = Vec::new();
        peer.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty(), "nothing after the request");
        conn.await.unwrap().unwrap();
        assert!(send.is_closed());
    } else {
        // The same connection carries a second request.
        send.ready().await.expect("connection reused");
        let second = tokio::spawn(
            send.send_request(
                Request::get("/again")
                    .header("host", "peer")
                    .body(Full::new(Bytes::new()).boxed())
                    .unwrap(),
            ),
        );
        let got = read_request_slowly(&mut peer, &mut carry).await;
        assert!(
            got.head.starts_with("GET /again HTTP/1.1\r\n"),
            "{}",
            got.head
        );
        peer.write_all(b"HTTP/1.1 204 No Content\r\n\r\n")
            .await
            .unwrap();
        assert_eq!(second.await.unwrap().unwrap().status(), 204);
        drop(send);
        conn.await.unwrap().unwrap();
    }
}

macro_rules! cases {
    ($($name:ident: $shape:expr, $close:expr;)*) => {$(
        #[tokio::test]
        async fn $name() {
            for run in 0..RUNS {
                run_case($shape, $close, run).await;
            }
        }
    )*};
}

cases! {
    slow_peer_gets_whole_4mib_full_request_body_with_keep_alive: Shape::Full, false;
    slow_peer_gets_whole_4mib_full_request_body_with_connection_close: Shape::Full, true;
    slow_peer_gets_whole_64_frame_streamed_request_body_with_keep_alive: Shape::Stream, false;
    slow_peer_gets_whole_64_frame_streamed_request_body_with_connection_close: Shape::Stream, true;
}

#[tokio::test]
async fn without_shutdown_resolves_only_after_the_whole_request_body_was_written_despite_an_early_answer(
) {
    for run in 0..RUNS {
        let (client_io, mut peer) = UnixStream::pair().unwrap();
        let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(client_io))
            .await
            .unwrap();
        let parts = tokio::spawn(conn.without_shutdown());
        let first = tokio::spawn(send.send_request(request(Shape::Stream, true, run)));

        // Answer as soon as the head arrived, then keep reading slowly.
        let mut carry = Vec::new();
        let mut chunk = vec![0u8; 16 * 1024];
        while !carry.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = peer.read(&mut chunk).await.unwrap();
            assert!(n > 0);
            carry.extend_from_slice(&chunk[..n]);
        }
        peer.write_all(b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 5\r\n\r\nearly")
            .await
            .unwrap();
        let got = read_request_slowly(&mut peer, &mut carry).await;
        assert_eq!(got.body.len(), BODY, "run {run}");
        assert!(got.body == pattern(BODY, run), "run {run}: content");
        let res = first.await.unwrap().expect("response");
        assert_eq!(res.into_body().collect().await.unwrap().to_bytes(), "early");
        let parts = parts.await.unwrap().expect("parts");
        assert!(parts.read_buf.is_empty());
        drop(send);
    }
}
