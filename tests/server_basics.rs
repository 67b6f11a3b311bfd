//! Everyday server behaviour over a Unix socket pair: exact response bytes for simple
//! exchanges, keep-alive, pipelining, and the connection ending by itself.
use std::convert::Infallible;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

#[path = "support/dates.rs"]
mod dates;
use dates::replace_dates;

async fn hello(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = match req.uri().path() {
        "/echo" => req.into_body().collect().await.unwrap().to_bytes(),
        _ => Bytes::from_static(b"Hello, World!"),
    };
    Ok(Response::new(Full::new(body)))
}

/// Sends `input`, then reads until the server closes; returns what it wrote with the date
/// value blanked, and the connection's result.
async fn exchange(builder: &http1::Builder, input: &[u8]) -> (String, hyper::Result<()>) {
    let (client, server) = UnixStream::pair().unwrap();
    let conn = builder.serve_connection(TokioIo::new(server), service_fn(hello));
    let server = tokio::spawn(conn);
    let (mut rd, mut wr) = client.into_split();
    wr.write_all(input).await.unwrap();
    if input.is_empty() {
        wr.shutdown().await.unwrap();
    }
    let mut out = Vec::new();
    rd.read_to_end(&mut out).await.unwrap();
    let result = server.await.unwrap();
    let out = replace_dates(&out, b"<date>");
    (String::from_utf8(out).unwrap(), result)
}

#[tokio::test]
async fn a_get_with_connection_close_gets_one_exact_response_then_eof() {
    let (out, result) = exchange(
        &http1::Builder::new(),
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(
        out,
        "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 13\r\ndate: <date>\r\n\r\nHello, World!"
    );
    result.unwrap();
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order_on_one_connection() {
    let mut input = Vec::new();
    for _ in 0..20 {
        input.extend_from_slice(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    }
    input.extend_from_slice(
        b"POST /echo HTTP/1.1\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc",
    );
    let (out, result) = exchange(&http1::Builder::new(), &input).await;
    assert_eq!(out.matches("Hello, World!").count(), 20);
    assert!(out.ends_with("\r\n\r\nabc"), "{out}");
    assert_eq!(out.matches("HTTP/1.1 200 OK").count(), 21);
    result.unwrap();
}

#[tokio::test]
async fn a_malformed_request_gets_400_and_the_parse_error() {
    let (out, result) = exchange(&http1::Builder::new(), b"G@T / HTTP/1.1\r\n\r\n").await;
    assert_eq!(
        out,
        "HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\ndate: <date>\r\n\r\n"
    );
    assert!(result.unwrap_err().is_parse());
}

#[tokio::test]
async fn an_idle_client_closing_ends_the_connection_cleanly() {
    let (out, result) = exchange(&http1::Builder::new(), b"").await;
    assert_eq!(out, "");
    result.unwrap();
}
