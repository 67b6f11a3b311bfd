//! Serves with `hyper::server::conn::http1` over hyper-util's `TokioIo`, with hyper-util's
//! graceful shutdown watching the connections, and checks the answers over real TCP.
//! Exits non-zero (panics) on any mismatch.
use std::convert::Infallible;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

async fn handle(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = match req.uri().path() {
        "/echo" => req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default(),
        "/slow" => {
            tokio::time::sleep(Duration::from_millis(200)).await;
            Bytes::from_static(b"finished after shutdown began")
        }
        _ => Bytes::from_static(b"hello from hyper-util"),
    };
    Ok(Response::new(Full::new(body)))
}

#[tokio::main]
async fn main() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let graceful = GracefulShutdown::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let (stream, _) = accepted.unwrap();
                    let conn = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service_fn(handle));
                    let watched = graceful.watch(conn);
                    tokio::spawn(async move {
                        if let Err(e) = watched.await {
                            eprintln!("connection error: {e}");
                        }
                    });
                }
                _ = &mut stop_rx => break,
            }
        }
        tokio::time::timeout(Duration::from_secs(5), graceful.shutdown())
            .await
            .expect("graceful shutdown finished");
    });

    let mut conn = TcpStream::connect(addr).await.unwrap();
    conn.write_all(
        b"GET / HTTP/1.1\r\nHost: t\r\n\r\n\
          POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    )
    .await
    .unwrap();
    let mut got = vec![0; 4096];
    let mut len = 0;
    while !String::from_utf8_lossy(&got[..len]).contains("abc") {
        let n = conn.read(&mut got[len..]).await.unwrap();
        assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&got[..len]));
        len += n;
    }
    let text = String::from_utf8_lossy(&got[..len]);
    assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 2, "{text}");
    assert!(text.contains("hello from hyper-util"), "{text}");

    // A request in flight when shutdown begins still gets its whole response, marked close.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n").await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    stop_tx.send(()).unwrap();
    let mut rest = Vec::new();
    slow.read_to_end(&mut rest).await.unwrap();
    let text = String::from_utf8_lossy(&rest);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains("connection: close"), "{text}");
    assert!(text.ends_with("finished after shutdown began"), "{text}");

    // The idle keep-alive connection was closed by the shutdown.
    let n = conn.read(&mut got).await.unwrap_or(0);
    assert_eq!(n, 0, "idle connection closed");
    server.await.unwrap();
    println!("hyper-util-app: ok");
}
