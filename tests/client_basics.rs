//! The fork's HTTP/1 client against the fork's server over a Unix socket pair: requests with
//! and without bodies, keep-alive reuse and readiness, and the exact bytes a request puts on
//! the wire.
use std::convert::Infallible;

use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

async fn echo(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let method = req.method().clone();
    let body = req.into_body().collect().await.unwrap().to_bytes();
    let mut text = format!("{method} {}:", body.len()).into_bytes();
    text.extend_from_slice(&body);
    Ok(Response::new(Full::new(Bytes::from(text))))
}

#[tokio::test]
async fn requests_reuse_one_connection_and_the_handle_is_ready_between_them() {
    let (client_io, server_io) = UnixStream::pair().unwrap();
    let server = tokio::spawn(
        hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(server_io), service_fn(echo)),
    );
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(client_io))
        .await
        .unwrap();
    let conn = tokio::spawn(conn);

    for i in 0..5 {
        send.ready().await.unwrap();
        assert!(send.is_ready());
        let req = Request::post("/")
            .header("host", "test")
            .body(Full::new(Bytes::from(format!("body {i}"))))
            .unwrap();
        let res = send.send_request(req).await.unwrap();
        assert_eq!(res.status(), 200);
        let body = res.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, format!("POST 6:body {i}"));
    }
    drop(send);
    conn.await.unwrap().unwrap();
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_request_goes_on_the_wire_as_upstream_encodes_it() {
    let (client_io, mut peer) = UnixStream::pair().unwrap();
    let (mut send, conn) =
        hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(client_io))
            .await
            .unwrap();
    tokio::spawn(conn);
    let req = Request::post("/submit?x=1")
        .header("host", "example")
        .header("x-custom", "1")
        .body(Full::new(Bytes::from_static(b"hello")))
        .unwrap();
    let response = tokio::spawn(send.send_request(req));
    let mut got = vec![0; 1024];
    let n = peer.read(&mut got).await.unwrap();
    assert_eq!(
        String::from_utf8_lossy(&got[..n]),
        "POST /submit?x=1 HTTP/1.1\r\nhost: example\r\nx-custom: 1\r\ncontent-length: 5\r\n\r\nhello"
    );
    peer.write_all(b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\nok")
        .await
        .unwrap();
    let res = response.await.unwrap().unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(res.into_body().collect().await.unwrap().to_bytes(), "ok");
}

#[tokio::test]
async fn a_closed_connection_fails_the_request_as_incomplete() {
    let (client_io, mut peer) = UnixStream::pair().unwrap();
    let (mut send, conn) =
        hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(client_io))
            .await
            .unwrap();
    let conn = tokio::spawn(conn);
    let req = Request::get("/").body(Empty::new()).unwrap();
    let response = tokio::spawn(send.send_request(req));
    let mut got = vec![0; 1024];
    let _ = peer.read(&mut got).await.unwrap();
    drop(peer);
    let err = response.await.unwrap().unwrap_err();
    assert!(err.is_incomplete_message(), "{err:?}");
    conn.await.unwrap().unwrap();
    assert!(send.is_closed());
}
