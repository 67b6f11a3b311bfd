//! A hyper 0.14 service that answers an upload it does not read with a 4 MiB body, served to
//! a client that reads 16 KiB every 0.3 ms over a Unix socket pair. On pristine 0.14.32 about
//! 219 KB of the body arrive; on the patched copy all of it must.
use std::convert::Infallible;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use hyper::server::conn::Http;
use hyper::service::service_fn;
use hyper::{Body, Request, Response};

const LEN: usize = 4 * 1024 * 1024;

fn byte(i: usize) -> u8 {
    (i * 7 % 256) as u8
}

fn thumbnail(chunked: bool) -> Body {
    let bytes: Vec<u8> = (0..LEN).map(byte).collect();
    if !chunked {
        return Body::from(bytes);
    }
    let (mut tx, body) = Body::channel();
    tokio::spawn(async move {
        for part in bytes.chunks(LEN / 64) {
            if tx.send_data(part.to_vec().into()).await.is_err() {
                return;
            }
        }
    });
    body
}

/// Sends an upload, then reads the answer slowly until EOF; returns the body bytes that
/// arrived in order.
fn slow_client(mut sock: UnixStream) -> usize {
    sock.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut req = b"POST /resize HTTP/1.1\r\nhost: app\r\ncontent-length: 65536\r\n\r\n".to_vec();
    req.resize(req.len() + 65536, b'i');
    sock.write_all(&req).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    while let Ok(n @ 1..) = sock.read(&mut buf) {
        got.extend_from_slice(&buf[..n]);
        std::thread::sleep(Duration::from_micros(300));
    }
    let head = got
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(got.len(), |p| p + 4);
    let mut rest = &got[head..];
    let mut body = Vec::new();
    if String::from_utf8_lossy(&got[..head])
        .to_ascii_lowercase()
        .contains("chunked")
    {
        while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
            let size = usize::from_str_radix(std::str::from_utf8(&rest[..eol]).unwrap_or("x"), 16);
            let Ok(size) = size else { break };
            rest = &rest[eol + 2..];
            if size == 0 || rest.len() < size {
                body.extend_from_slice(&rest[..size.min(rest.len())]);
                break;
            }
            body.extend_from_slice(&rest[..size]);
            rest = &rest[(size + 2).min(rest.len())..];
        }
    } else {
        body.extend_from_slice(rest);
    }
    body.iter()
        .enumerate()
        .take_while(|(i, b)| **b == byte(*i))
        .count()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    for chunked in [false, true] {
        for run in 0..3 {
            let (server, client) = UnixStream::pair().unwrap();
            server.set_nonblocking(true).unwrap();
            let reader = std::thread::spawn(move || slow_client(client));
            let io = tokio::net::UnixStream::from_std(server).unwrap();
            let svc = service_fn(move |req: Request<Body>| async move {
                drop(req); // the upload is never read
                Ok::<_, Infallible>(Response::new(thumbnail(chunked)))
            });
            Http::new()
                .http1_only(true)
                .serve_connection(io, svc)
                .await
                .unwrap();
            let received = tokio::task::spawn_blocking(move || reader.join().unwrap())
                .await
                .unwrap();
            println!("chunked={chunked} run={run}: {received} of {LEN} body bytes");
            assert_eq!(received, LEN, "the response was cut short");
        }
    }
    println!("hyper014-app: ok");
}
