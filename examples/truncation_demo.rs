//! The reported bug, reproduced against this crate and upstream hyper 1.13.0 in one run.
//!
//! A client POSTs a 64 KiB body that the service never reads; the service answers with a
//! 4 MiB body; the client reads 16 KiB every 0.3 ms. Over a Unix socket pair upstream hyper
//! up to 1.10 shut the socket down while most of the response sat in its write buffer. Over
//! TCP, upstream 1.13 still loses most of it: it closes the socket with the unread request
//! body in it, and the kernel answers with a reset that throws away the response bytes not
//! yet transmitted. This crate drains its buffer before closing and consumes the abandoned
//! body, so every byte arrives.
//!
//! Run: `cargo run --release --example truncation_demo --features full`
use std::convert::Infallible;
use std::time::Duration;

use http_body_util::Full;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const BODY: usize = 4 * 1024 * 1024;

fn pattern() -> Vec<u8> {
    (0..BODY).map(|i| (i * 31 + i / 7) as u8).collect()
}

macro_rules! serve_one {
    ($krate:ident, $stream:expr, $body:expr) => {{
        let body = $body.clone();
        let service = $krate::service::service_fn(move |_req| {
            let body = body.clone();
            async move {
                Ok::<_, Infallible>($krate::Response::new(Full::new($krate::body::Bytes::from(
                    body,
                ))))
            }
        });
        let io = io::Tokio::new($stream);
        $krate::server::conn::http1::Builder::new()
            .serve_connection(io, service)
            .await
    }};
}

/// Reads the response at the slow pace; returns body bytes received and whether they match.
async fn slow_client(addr: std::net::SocketAddr, expected: &[u8]) -> (usize, bool) {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut rd, mut wr) = stream.into_split();
    let unread = vec![b'u'; 64 * 1024];
    let head = format!(
        "POST /image HTTP/1.1\r\nHost: demo\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        unread.len()
    );
    tokio::spawn(async move {
        // The server may answer and close before taking the whole body; that is its right.
        if wr.write_all(head.as_bytes()).await.is_ok() && wr.write_all(&unread).await.is_err() {
            eprintln!("(the server closed before taking the whole request body)");
        }
    });
    let mut got = Vec::new();
    let mut chunk = vec![0; 16 * 1024];
    while let Ok(n) = rd.read(&mut chunk).await {
        if n == 0 {
            break;
        }
        got.extend_from_slice(&chunk[..n]);
        tokio::time::sleep(Duration::from_micros(300)).await;
    }
    let Some(split) = got.windows(4).position(|w| w == b"\r\n\r\n") else {
        return (0, false);
    };
    let body = &got[split + 4..];
    (body.len(), body == expected)
}

#[tokio::main]
async fn main() {
    let expected = pattern();
    println!("4 MiB response, unread 64 KiB request body, client reads 16 KiB / 0.3 ms over TCP\n");
    for side in ["fork (this crate)", "upstream hyper 1.13.0"] {
        let mut lost_runs = 0;
        for run in 1..=3 {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let body = expected.clone();
            let fork = side.starts_with("fork");
            let server = tokio::spawn(async move {
                let (stream, _) = listener.accept().await.unwrap();
                if fork {
                    serve_one!(hyper, stream, body).map_err(|e| e.to_string())
                } else {
                    serve_one!(hyper_upstream, stream, body).map_err(|e| e.to_string())
                }
            });
            let (received, intact) = slow_client(addr, &expected).await;
            let result = server.await.unwrap();
            if received != BODY || !intact {
                lost_runs += 1;
            }
            println!(
                "{side:<24} run {run}: {received:>9} of {BODY} body bytes, content {}, server result {result:?}",
                if intact { "intact" } else { "NOT intact" },
            );
        }
        println!("{side:<24} truncated {lost_runs}/3\n");
    }
}

/// `tokio::net::TcpStream` as both crates' IO traits (each crate has its own `rt` traits).
mod io {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use tokio::io::{AsyncRead, AsyncWrite};

    pub struct Tokio<T>(T);

    impl<T> Tokio<T> {
        pub fn new(inner: T) -> Self {
            Tokio(inner)
        }
    }

    macro_rules! impl_io {
        ($krate:ident) => {
            impl<T: AsyncRead + Unpin> $krate::rt::Read for Tokio<T> {
                fn poll_read(
                    mut self: Pin<&mut Self>,
                    cx: &mut Context<'_>,
                    mut buf: $krate::rt::ReadBufCursor<'_>,
                ) -> Poll<std::io::Result<()>> {
                    // SAFETY: tokio's ReadBuf only writes initialized bytes into the
                    // cursor's memory and reports how many; we advance by exactly that.
                    let n = unsafe {
                        let mut tbuf = tokio::io::ReadBuf::uninit(buf.as_mut());
                        match Pin::new(&mut self.0).poll_read(cx, &mut tbuf) {
                            Poll::Ready(Ok(())) => tbuf.filled().len(),
                            other => return other,
                        }
                    };
                    // SAFETY: `n` bytes were just initialized by the read above.
                    unsafe { buf.advance(n) };
                    Poll::Ready(Ok(()))
                }
            }

            impl<T: AsyncWrite + Unpin> $krate::rt::Write for Tokio<T> {
                fn poll_write(
                    mut self: Pin<&mut Self>,
                    cx: &mut Context<'_>,
                    buf: &[u8],
                ) -> Poll<std::io::Result<usize>> {
                    Pin::new(&mut self.0).poll_write(cx, buf)
                }
                fn poll_write_vectored(
                    mut self: Pin<&mut Self>,
                    cx: &mut Context<'_>,
                    bufs: &[std::io::IoSlice<'_>],
                ) -> Poll<std::io::Result<usize>> {
                    Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
                }
                fn is_write_vectored(&self) -> bool {
                    self.0.is_write_vectored()
                }
                fn poll_flush(
                    mut self: Pin<&mut Self>,
                    cx: &mut Context<'_>,
                ) -> Poll<std::io::Result<()>> {
                    Pin::new(&mut self.0).poll_flush(cx)
                }
                fn poll_shutdown(
                    mut self: Pin<&mut Self>,
                    cx: &mut Context<'_>,
                ) -> Poll<std::io::Result<()>> {
                    Pin::new(&mut self.0).poll_shutdown(cx)
                }
            }
        };
    }

    impl_io!(hyper);
    impl_io!(hyper_upstream);
}
