#![cfg(feature = "full")]
//! The fork's HTTP/2 client (`client::conn::http2`) against the fork's server and against
//! upstream hyper 1.13.0's server, over Unix socket pairs: 4 MiB both ways with a slow reader,
//! concurrent streams, trailers, graceful shutdown mid-flight, the keep-alive timeout.
use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::AsyncReadExt;
use tokio::net::UnixStream;

#[path = "support/upstream_io.rs"]
mod upstream_io;
use upstream_io::UpIo;

const FOUR_MIB: usize = 4 * 1024 * 1024;

type Req = BoxBody<Bytes, Infallible>;
type Client = hyper::client::conn::http2::SendRequest<Req>;

#[path = "support/pattern.rs"]
mod pattern;
use pattern::{pattern, pattern_byte};

#[path = "support/upstream_exec.rs"]
mod upstream_exec;
use upstream_exec::UpExec;

#[derive(Clone, Copy, Debug)]
enum Server {
    Fork,
    Upstream,
}

/// Reads what arrives on an upgraded connection until EOF and writes it back reversed, then
/// shuts its sending side down. Written once per crate (their IO traits differ).
macro_rules! reverse_echo {
    ($krate:ident, $io:expr) => {{
        use std::pin::Pin;
        let mut io = $io;
        let mut got = Vec::new();
        loop {
            let mut space = [0u8; 1024];
            let mut buf = $krate::rt::ReadBuf::new(&mut space);
            std::future::poll_fn(|cx| {
                $krate::rt::Read::poll_read(Pin::new(&mut io), cx, buf.unfilled())
            })
            .await
            .unwrap();
            if buf.filled().is_empty() {
                break;
            }
            got.extend_from_slice(buf.filled());
        }
        got.reverse();
        let mut rest = &got[..];
        while !rest.is_empty() {
            let n = std::future::poll_fn(|cx| {
                $krate::rt::Write::poll_write(Pin::new(&mut io), cx, rest)
            })
            .await
            .unwrap();
            rest = &rest[n..];
        }
        std::future::poll_fn(|cx| $krate::rt::Write::poll_shutdown(Pin::new(&mut io), cx))
            .await
            .unwrap();
    }};
}

/// The test service, written once for both servers: CONNECT opens a tunnel that answers
/// with the reversed bytes it received; `/big` answers 4 MiB, `/n/{k}` answers
/// `k * 100` bytes, `/echo` echoes the body's length and integrity, `/trailers` answers with
/// trailers that echo the request's.
macro_rules! service {
    ($krate:ident) => {
        $krate::service::service_fn(
            |mut req: $krate::Request<$krate::body::Incoming>| async move {
                if req.method() == http::Method::CONNECT {
                    // Tell the client which protocol arrived (empty for a plain CONNECT).
                    let protocol = req
                        .extensions()
                        .get::<$krate::ext::Protocol>()
                        .map(|p| p.as_str().to_string())
                        .unwrap_or_default();
                    let on_upgrade = $krate::upgrade::on(&mut req);
                    tokio::spawn(async move {
                        let upgraded = on_upgrade.await.expect("the tunnel opens");
                        reverse_echo!($krate, upgraded);
                    });
                    let mut res = $krate::Response::new(Full::new(Bytes::new()).boxed());
                    res.headers_mut()
                        .insert("x-protocol", protocol.parse().unwrap());
                    return Ok::<_, Infallible>(res);
                }
                let path = req.uri().path().to_string();
                let body: BoxBody<Bytes, Infallible> = if path == "/big" {
                    Full::new(pattern(FOUR_MIB, 0)).boxed()
                } else if let Some(k) = path.strip_prefix("/n/") {
                    Full::new(pattern(k.parse::<usize>().unwrap() * 100, 0)).boxed()
                } else if path == "/echo" {
                    let got = req.into_body().collect().await.unwrap().to_bytes();
                    let intact = got
                        .iter()
                        .enumerate()
                        .all(|(i, b)| *b == pattern_byte(i, 0));
                    Full::new(Bytes::from(format!("{} {intact}", got.len()))).boxed()
                } else {
                    let collected = req.into_body().collect().await.unwrap();
                    let echo = collected
                        .trailers()
                        .and_then(|t| t.get("x-sum"))
                        .cloned()
                        .unwrap_or_else(|| "missing".parse().unwrap());
                    let mut trailers = http::HeaderMap::new();
                    trailers.insert("x-echo", echo);
                    StreamBody::new(stream::iter([
                        Ok::<_, Infallible>(http_body::Frame::data(Bytes::from_static(b"t"))),
                        Ok(http_body::Frame::trailers(trailers)),
                    ]))
                    .boxed()
                };
                Ok::<_, Infallible>($krate::Response::new(body))
            },
        )
    };
}

async fn connect(server: Server) -> Client {
    let (client_io, server_io) = UnixStream::pair().unwrap();
    match server {
        Server::Fork => {
            let conn = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                .enable_connect_protocol()
                .serve_connection(TokioIo::new(server_io), service!(hyper));
            tokio::spawn(conn);
        }
        Server::Upstream => {
            let conn = hyper_upstream::server::conn::http2::Builder::new(UpExec)
                .enable_connect_protocol()
                .serve_connection(UpIo::new(server_io), service!(hyper_upstream));
            tokio::spawn(conn);
        }
    }
    let (send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(client_io))
            .await
            .expect("handshake");
    tokio::spawn(conn);
    send
}

fn request(path: &str, body: Req) -> Request<Req> {
    Request::post(format!("http://h2.test{path}"))
        .body(body)
        .unwrap()
}

fn empty() -> Req {
    Full::new(Bytes::new()).boxed()
}

#[tokio::test]
async fn a_4_mib_download_read_slowly_arrives_whole_from_either_server() {
    for server in [Server::Fork, Server::Upstream] {
        let mut send = connect(server).await;
        let res = send.send_request(request("/big", empty())).await.unwrap();
        assert_eq!(res.status(), 200, "{server:?}");
        let mut body = res.into_body();
        let mut got = Vec::new();
        while let Some(frame) = http_body_util::BodyExt::frame(&mut body).await {
            if let Ok(data) = frame.unwrap().into_data() {
                got.extend_from_slice(&data);
                tokio::time::sleep(Duration::from_micros(300)).await;
            }
        }
        assert_eq!(got.len(), FOUR_MIB, "{server:?}");
        assert!(
            got.iter()
                .enumerate()
                .all(|(i, b)| *b == pattern_byte(i, 0)),
            "{server:?}"
        );
    }
}

#[tokio::test]
async fn a_4_mib_upload_reaches_either_server_whole() {
    for server in [Server::Fork, Server::Upstream] {
        let mut send = connect(server).await;
        // Streamed in 64 frames, so flow control paces the client.
        let frames = stream::iter((0..64).map(|k| {
            Ok::<_, Infallible>(Frame::data(
                pattern(FOUR_MIB, 0).slice(k * 65536..(k + 1) * 65536),
            ))
        }));
        let res = send
            .send_request(request("/echo", StreamBody::new(frames).boxed()))
            .await
            .unwrap();
        let text = res.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(text, format!("{FOUR_MIB} true").as_bytes(), "{server:?}");
    }
}

#[tokio::test]
async fn a_hundred_concurrent_streams_on_one_connection_each_get_their_answer() {
    for server in [Server::Fork, Server::Upstream] {
        let send = connect(server).await;
        let mut tasks = Vec::new();
        for k in 0..100usize {
            let mut send = send.clone();
            tasks.push(tokio::spawn(async move {
                let res = send
                    .send_request(request(&format!("/n/{k}"), empty()))
                    .await
                    .unwrap();
                res.into_body().collect().await.unwrap().to_bytes()
            }));
        }
        for (k, t) in tasks.into_iter().enumerate() {
            assert_eq!(
                t.await.unwrap(),
                pattern(k * 100, 0),
                "{server:?} stream {k}"
            );
        }
    }
}

#[tokio::test]
async fn request_and_response_trailers_cross_both_ways() {
    for server in [Server::Fork, Server::Upstream] {
        let mut send = connect(server).await;
        let mut trailers = http::HeaderMap::new();
        trailers.insert("x-sum", "99".parse().unwrap());
        let body = StreamBody::new(stream::iter([
            Ok::<_, Infallible>(Frame::data(Bytes::from_static(b"data"))),
            Ok(Frame::trailers(trailers)),
        ]));
        let res = send
            .send_request(request("/trailers", body.boxed()))
            .await
            .unwrap();
        let collected = res.into_body().collect().await.unwrap();
        assert_eq!(
            collected
                .trailers()
                .and_then(|t| t.get("x-echo"))
                .map(|v| v.as_bytes()),
            Some(&b"99"[..]),
            "{server:?}"
        );
    }
}

#[tokio::test]
async fn send_request_is_closed_once_the_connection_ends() {
    let (client_io, server_io) = UnixStream::pair().unwrap();
    let (send, conn) = hyper::client::conn::http2::handshake::<_, _, Req>(
        TokioExecutor::new(),
        TokioIo::new(client_io),
    )
    .await
    .unwrap();
    let task = tokio::spawn(conn);
    assert!(send.is_ready());
    drop(server_io);
    let _ended = task.await.unwrap();
    // The connection task is gone, so the handle can no longer send.
    tokio::task::yield_now().await;
    assert!(send.is_closed());
}

#[tokio::test]
async fn an_unanswered_keep_alive_ping_fails_the_client_connection_with_a_timeout() {
    let (client_io, mut server_io) = UnixStream::pair().unwrap();
    let mut builder = hyper::client::conn::http2::Builder::new(TokioExecutor::new());
    builder
        .timer(hyper_util::rt::TokioTimer::new())
        .keep_alive_interval(Duration::from_millis(50))
        .keep_alive_timeout(Duration::from_millis(100))
        .keep_alive_while_idle(true);
    let (_send, conn) = builder
        .handshake::<_, Req>(TokioIo::new(client_io))
        .await
        .unwrap();
    // A peer that never answers anything.
    let drain = tokio::spawn(async move {
        let mut sink = Vec::new();
        server_io.read_to_end(&mut sink).await.ok();
    });
    let err = tokio::time::timeout(Duration::from_secs(5), conn)
        .await
        .expect("the client gives up")
        .expect_err("a timeout error");
    assert!(err.is_timeout(), "{err:?}");
    drain.abort();
}

/// Opens the tunnel of an accepted CONNECT, sends `data`, ends the sending side, and returns
/// everything that comes back until the other side ends.
async fn round_trip_through_tunnel(
    res: &mut hyper::Response<hyper::body::Incoming>,
    data: &[u8],
) -> Vec<u8> {
    use tokio::io::AsyncWriteExt;
    let upgraded = hyper::upgrade::on(res).await.expect("the tunnel opens");
    let mut io = TokioIo::new(upgraded);
    io.write_all(data).await.unwrap();
    io.shutdown().await.unwrap();
    let mut back = Vec::new();
    io.read_to_end(&mut back).await.unwrap();
    back
}

#[tokio::test]
async fn a_connect_tunnel_carries_bytes_both_ways_with_either_server() {
    for server in [Server::Fork, Server::Upstream] {
        let mut send = connect(server).await;
        let req = Request::connect("tunnel.test:443").body(empty()).unwrap();
        let mut res = send.send_request(req).await.unwrap();
        assert_eq!(res.status(), 200, "{server:?}");
        let back = round_trip_through_tunnel(&mut res, b"through the tunnel").await;
        assert_eq!(back, b"lennut eht hguorht", "{server:?}");
    }
}

/// Upstream refuses a CONNECT whose body has a length as a user error, without handing the
/// request back; the fork does the same.
#[tokio::test]
async fn a_connect_request_with_a_body_is_refused_as_a_user_error_on_both_clients() {
    let mut send = connect(Server::Fork).await;
    let req = Request::connect("tunnel.test:443")
        .body(Full::new(Bytes::from_static(b"early")).boxed())
        .unwrap();
    let err = send.try_send_request(req).await.expect_err("refused");
    assert!(err.error().is_user(), "{:?}", err.error());
    assert!(err.message().is_none(), "the request is not handed back");

    let (client_io, server_io) = UnixStream::pair().unwrap();
    let conn = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
        .serve_connection(TokioIo::new(server_io), service!(hyper));
    tokio::spawn(conn);
    let (mut send, conn) =
        hyper_upstream::client::conn::http2::handshake(UpExec, UpIo::new(client_io))
            .await
            .expect("handshake");
    tokio::spawn(conn);
    let req = Request::connect("tunnel.test:443")
        .body(Full::new(Bytes::from_static(b"early")).boxed())
        .unwrap();
    let err = send.try_send_request(req).await.expect_err("refused");
    assert!(err.error().is_user(), "{:?}", err.error());
    assert!(
        err.message().is_none(),
        "upstream does not hand it back either"
    );
}

#[tokio::test]
async fn graceful_shutdown_of_either_server_completes_every_in_flight_request() {
    for server in [Server::Fork, Server::Upstream] {
        let (client_io, server_io) = UnixStream::pair().unwrap();
        let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
        // Each response waits a little, so all of them are in flight at the shutdown.
        macro_rules! slow_service {
            ($krate:ident) => {
                $krate::service::service_fn(|_req: $krate::Request<$krate::body::Incoming>| async {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    Ok::<_, Infallible>($krate::Response::new(Full::new(pattern(FOUR_MIB / 8, 0))))
                })
            };
        }
        let server_task = match server {
            Server::Fork => tokio::spawn(async move {
                let conn = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(server_io), slow_service!(hyper));
                let mut conn = std::pin::pin!(conn);
                tokio::select! {
                    res = conn.as_mut() => return res.is_ok(),
                    _ = shutdown_rx => {}
                }
                conn.as_mut().graceful_shutdown();
                conn.await.is_ok()
            }),
            Server::Upstream => tokio::spawn(async move {
                let conn = hyper_upstream::server::conn::http2::Builder::new(UpExec)
                    .serve_connection(UpIo::new(server_io), slow_service!(hyper_upstream));
                let mut conn = std::pin::pin!(conn);
                tokio::select! {
                    res = conn.as_mut() => return res.is_ok(),
                    _ = shutdown_rx => {}
                }
                conn.as_mut().graceful_shutdown();
                conn.await.is_ok()
            }),
        };
        let (send, conn) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(client_io))
                .await
                .unwrap();
        let client_task = tokio::spawn(conn);
        let mut in_flight = Vec::new();
        for _ in 0..8 {
            let mut send = send.clone();
            in_flight.push(tokio::spawn(async move {
                let res = send.send_request(request("/slow", empty())).await?;
                Ok::<_, hyper::Error>(res.into_body().collect().await?.to_bytes())
            }));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        shutdown_tx.send(()).unwrap();
        for task in in_flight {
            let body = task.await.unwrap().expect("an in-flight request completes");
            assert_eq!(body, pattern(FOUR_MIB / 8, 0), "{server:?}");
        }
        assert!(
            server_task.await.unwrap(),
            "{server:?}: the server ends cleanly"
        );
        drop(send);
        client_task
            .await
            .unwrap()
            .expect("the client connection ends cleanly");
    }
}

#[tokio::test]
async fn an_extended_connect_carries_its_protocol_and_opens_a_tunnel() {
    for server in [Server::Fork, Server::Upstream] {
        let mut send = connect(server).await;
        let mut req = Request::connect("http://tunnel.test/chat")
            .body(empty())
            .unwrap();
        req.extensions_mut()
            .insert(hyper::ext::Protocol::from_static("websocket"));
        let mut res = send.send_request(req).await.unwrap();
        assert_eq!(res.status(), 200, "{server:?}");
        assert_eq!(
            res.headers().get("x-protocol").map(|v| v.as_bytes()),
            Some(&b"websocket"[..]),
            "{server:?}: {:?}",
            res.headers()
        );
        let back = round_trip_through_tunnel(&mut res, b"abc").await;
        assert_eq!(back, b"cba", "{server:?}");
    }
}

#[tokio::test]
async fn without_while_idle_an_idle_connection_is_not_pinged_but_a_busy_one_is() {
    let (client_io, mut server_io) = UnixStream::pair().unwrap();
    let mut builder = hyper::client::conn::http2::Builder::new(TokioExecutor::new());
    builder
        .timer(hyper_util::rt::TokioTimer::new())
        .keep_alive_interval(Duration::from_millis(50))
        .keep_alive_timeout(Duration::from_millis(100));
    let (mut send, conn) = builder
        .handshake::<_, Req>(TokioIo::new(client_io))
        .await
        .unwrap();
    // A peer that never answers anything.
    let drain = tokio::spawn(async move {
        let mut sink = Vec::new();
        server_io.read_to_end(&mut sink).await.ok();
    });
    let mut conn = std::pin::pin!(conn);
    let idle = tokio::time::timeout(Duration::from_millis(400), conn.as_mut()).await;
    assert!(
        idle.is_err(),
        "an idle connection must not time out: {idle:?}"
    );
    // With a stream open, the unanswered PING ends the connection.
    let pending_request = tokio::spawn(send.send_request(request("/never", empty())));
    let err = tokio::time::timeout(Duration::from_secs(5), conn)
        .await
        .expect("the client gives up")
        .expect_err("a timeout error");
    assert!(err.is_timeout(), "{err:?}");
    pending_request.abort();
    drain.abort();
}
