//! When an HTTP/1 client connection takes requests, gives them back, and ends: readiness of a
//! fresh connection, a request queued on a connection whose peer closed it while idle,
//! request bodies shorter than their `content-length`, and readiness during an upgrade.
//!
//! Every scenario runs against the fork's client and upstream hyper 1.13.0's with the same
//! assertions, so a re-sync shows at once where upstream's behaviour moved.
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

#[path = "support/upstream_io.rs"]
mod upstream_io;
use upstream_io::UpIo;

/// Reads from `peer` until a whole request head (and nothing more is expected) arrived.
async fn read_head(peer: &mut UnixStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(5), peer.read(&mut buf))
            .await
            .expect("the request head arrives")
            .unwrap();
        assert!(n > 0, "client closed before a whole head");
        got.extend_from_slice(&buf[..n]);
    }
    got
}

/// Polls `fut` once.
fn poll_once<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
    let waker = std::task::Waker::noop();
    Pin::new(fut).poll(&mut Context::from_waker(waker))
}

/// Polls `conn` (without a runtime waker: the test drives it) until `done` holds.
async fn drive_until<F: Future + Unpin>(conn: &mut F, mut done: impl FnMut() -> bool) {
    for _ in 0..2000 {
        if poll_once(conn).is_ready() {
            panic!("the connection ended early");
        }
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("condition never held");
}

macro_rules! client_side {
    ($module:ident, $krate:ident, $io:ident, writes_what_it_encoded: $writes:expr) => {
        mod $module {
            use super::*;
            /// On an aborted request body, upstream returns the error without writing the
            /// head and data it had encoded; the fork writes them first (`UPSTREAM.md`).
            const WRITES_WHAT_IT_ENCODED: bool = $writes;
            use http_body_util::{BodyExt, Empty, Full, StreamBody};
            use $krate::body::{Bytes, Frame};
            use $krate::client::conn::http1;
            use $krate::Request;

            use super::$io as Io;

            type Conn<B> = http1::Connection<Io<UnixStream>, B>;

            async fn connect<B>(io: UnixStream) -> (http1::SendRequest<B>, Conn<B>)
            where
                B: $krate::body::Body + 'static,
                B::Data: Send,
                B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
            {
                http1::handshake(Io::new(io)).await.unwrap()
            }

            fn get(path: &str) -> Request<Empty<Bytes>> {
                Request::get(path)
                    .header("host", "example.test")
                    .body(Empty::new())
                    .unwrap()
            }

            pub async fn a_fresh_connection_takes_one_request_before_it_is_polled() {
                let (io, mut peer) = UnixStream::pair().unwrap();
                let (mut send, conn) = connect::<Empty<Bytes>>(io).await;
                assert!(send.is_ready(), "ready before the connection ran");
                std::future::poll_fn(|cx| send.poll_ready(cx))
                    .await
                    .expect("poll_ready is Ready(Ok) at once");
                let first = send.try_send_request(get("/first"));
                assert!(!send.is_ready(), "the first request used the demand");
                let mut second = Box::pin(send.try_send_request(get("/second")));
                match poll_once(&mut second) {
                    Poll::Ready(Err(mut e)) => {
                        assert!(e.error().is_canceled(), "{:?}", e.error());
                        assert_eq!(e.take_message().unwrap().uri(), "/second");
                    }
                    _ => panic!("a second request waits for the connection's demand"),
                }
                tokio::spawn(conn);
                let head = read_head(&mut peer).await;
                assert!(head.starts_with(b"GET /first HTTP/1.1\r\n"));
                peer.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                    .await
                    .unwrap();
                let res = first.await.unwrap();
                assert_eq!(res.status(), 200);
                send.ready().await.expect("ready again after the exchange");
            }

            pub async fn a_request_queued_on_a_connection_whose_peer_closed_comes_back_unsent() {
                let (io, mut peer) = UnixStream::pair().unwrap();
                let (mut send, mut conn) = connect::<Empty<Bytes>>(io).await;
                // One exchange, then the connection idles waiting for the next request.
                let mut first = Box::pin(send.try_send_request(get("/first")));
                drive_until(&mut conn, || true).await;
                let head = read_head(&mut peer).await;
                assert!(head.starts_with(b"GET /first HTTP/1.1\r\n"));
                peer.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                    .await
                    .unwrap();
                let mut answered = false;
                drive_until(&mut conn, || {
                    answered |= poll_once(&mut first).is_ready();
                    answered
                })
                .await;
                drive_until(&mut conn, || send.is_ready()).await;
                // The server closes the idle connection; the application sends before the
                // connection task runs again.
                drop(peer);
                tokio::time::sleep(Duration::from_millis(10)).await;
                let queued = send.try_send_request(get("/second"));
                let result = tokio::time::timeout(Duration::from_secs(5), &mut conn)
                    .await
                    .expect("the connection ends");
                assert!(result.is_ok(), "{result:?}");
                // `conn` is still alive: the request comes back when the connection ends,
                // not when it is dropped.
                let mut queued = Box::pin(queued);
                match poll_once(&mut queued) {
                    Poll::Ready(Err(mut e)) => {
                        assert!(e.error().is_canceled(), "{:?}", e.error());
                        assert_eq!(
                            e.take_message().expect("the request comes back").uri(),
                            "/second"
                        );
                    }
                    Poll::Ready(Ok(_)) => panic!("no response can have come"),
                    Poll::Pending => panic!("the request is still queued"),
                }
            }

            pub async fn the_handle_waits_while_an_upgraded_connection_is_not_taken_apart() {
                for tunnel in [false, true] {
                    let (io, mut peer) = UnixStream::pair().unwrap();
                    let (mut send, mut conn) = connect::<Empty<Bytes>>(io).await;
                    let req = if tunnel {
                        Request::connect("example.test:443")
                            .header("host", "example.test:443")
                            .body(Empty::new())
                            .unwrap()
                    } else {
                        Request::get("/chat")
                            .header("host", "example.test")
                            .header("connection", "upgrade")
                            .header("upgrade", "chat")
                            .body(Empty::new())
                            .unwrap()
                    };
                    let mut reply = Box::pin(send.try_send_request(req));
                    let answer: &[u8] = if tunnel {
                        b"HTTP/1.1 200 Connection Established\r\n\r\ntunnel bytes"
                    } else {
                        b"HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: chat\r\n\r\ntunnel bytes"
                    };
                    let server = async {
                        read_head(&mut peer).await;
                        peer.write_all(answer).await.unwrap();
                        peer
                    };
                    let ended = async {
                        std::future::poll_fn(|cx| conn.poll_without_shutdown(cx)).await
                    };
                    let (_peer, ended) = tokio::join!(server, ended);
                    ended.expect("the connection stops for the upgrade");
                    let res = poll_once(&mut reply);
                    assert!(matches!(res, Poll::Ready(Ok(_))), "tunnel={tunnel}");
                    // The connection still exists until its parts are taken.
                    assert!(!send.is_closed(), "tunnel={tunnel}");
                    assert!(!send.is_ready(), "tunnel={tunnel}");
                    let waker = std::task::Waker::noop();
                    let mut cx = Context::from_waker(waker);
                    assert!(
                        send.poll_ready(&mut cx).is_pending(),
                        "tunnel={tunnel}: readiness waits, it does not fail"
                    );
                    let parts = conn.into_parts();
                    assert_eq!(&parts.read_buf[..], b"tunnel bytes");
                    assert!(send.is_closed(), "tunnel={tunnel}");
                    assert!(matches!(send.poll_ready(&mut cx), Poll::Ready(Err(_))));
                }
            }

            pub async fn a_request_body_shorter_than_its_content_length_is_an_aborted_write() {
                for streamed in [false, true] {
                    let (io, mut peer) = UnixStream::pair().unwrap();
                    type Boxed = http_body_util::combinators::BoxBody<
                        Bytes,
                        Box<dyn std::error::Error + Send + Sync>,
                    >;
                    let (mut send, conn) = connect::<Boxed>(io).await;
                    let conn = tokio::spawn(conn);
                    let body: Boxed = if streamed {
                        let frames = futures_util::stream::iter([Ok(Frame::data(
                            Bytes::from_static(b"hello"),
                        ))]);
                        StreamBody::new(frames).boxed()
                    } else {
                        Full::new(Bytes::from_static(b"hello"))
                            .map_err(|never| match never {})
                            .boxed()
                    };
                    let req = Request::post("/upload")
                        .header("host", "example.test")
                        .header("content-length", "10")
                        .body(body)
                        .unwrap();
                    let reply = send.send_request(req);
                    let err = tokio::time::timeout(Duration::from_secs(5), reply)
                        .await
                        .expect("the request fails instead of hanging")
                        .expect_err("a short body is an error");
                    assert!(err.is_body_write_aborted(), "streamed={streamed}: {err:?}");
                    let mut wire = Vec::new();
                    drop(send);
                    tokio::time::timeout(Duration::from_secs(5), conn)
                        .await
                        .expect("the connection ends once the handle is gone")
                        .expect("the connection task does not panic")
                        .expect("the request took the error; the connection ends cleanly");
                    peer.read_to_end(&mut wire).await.unwrap();
                    if WRITES_WHAT_IT_ENCODED {
                        assert!(
                            wire.ends_with(b"\r\n\r\nhello"),
                            "what the body gave is written: {:?}",
                            String::from_utf8_lossy(&wire)
                        );
                    } else {
                        assert!(wire.is_empty(), "upstream drops the head and data it encoded");
                    }
                }
            }
        }
    };
}

client_side!(fork, hyper, TokioIo, writes_what_it_encoded: true);
client_side!(upstream, hyper_upstream, UpIo, writes_what_it_encoded: false);

macro_rules! both {
    ($name:ident) => {
        mod $name {
            #[tokio::test]
            async fn fork() {
                super::fork::$name().await;
            }
            #[tokio::test]
            async fn upstream() {
                super::upstream::$name().await;
            }
        }
    };
}

both!(a_fresh_connection_takes_one_request_before_it_is_polled);
both!(a_request_queued_on_a_connection_whose_peer_closed_comes_back_unsent);
both!(the_handle_waits_while_an_upgraded_connection_is_not_taken_apart);
both!(a_request_body_shorter_than_its_content_length_is_an_aborted_write);
