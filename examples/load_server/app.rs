//! The load benchmark's server app, shared by `load_server` (run under `wrk` and `h2load`) and
//! `load_probe` (allocation and instruction counts).
//!
//! One app, three servers for it:
//! - `fork`: the app on this crate (`hyper`);
//! - `upstream`: the very same app on upstream hyper 1.13.0 (`hyper_upstream`);
//! - `canned`: no HTTP at all. It reads requests, finds the end of each head and answers it
//!   with the bytes the fork would send for that path, written from prebuilt buffers: what
//!   serving costs in syscalls and copies alone, the ceiling any HTTP/1 server can reach.
//!
//! Routes (HTTP/1 and HTTP/2 alike): `/` answers 13 bytes, `/large` one 4 MiB body of known
//! length, `/chunked` 64 frames of 64 KiB without a length (chunked in HTTP/1).
#![allow(dead_code)] // each binary uses a part of it

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[macro_use]
#[path = "../../tests/support/tokio_io.rs"]
mod tokio_io;

pub const SMALL: &[u8] = b"Hello, world!";
pub const LARGE: usize = 4 * 1024 * 1024;
pub const FRAME: usize = 64 * 1024;
pub const FRAMES: usize = 64;

/// Which server answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Fork,
    Upstream,
    Canned,
}

impl Side {
    pub fn parse(s: &str) -> Option<Side> {
        match s {
            "fork" => Some(Side::Fork),
            "upstream" => Some(Side::Upstream),
            "canned" => Some(Side::Canned),
            _ => None,
        }
    }
}

/// The response bodies. One concrete type (no boxing), identical for both crates: `http-body`
/// and `bytes` are the same crates under the fork and upstream.
pub enum AppBody {
    /// One frame of known length.
    Whole(Option<Bytes>),
    /// `left` more copies of `frame`, length unknown to the server.
    Frames { frame: Bytes, left: usize },
}

impl Body for AppBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let frame = match self.get_mut() {
            AppBody::Whole(data) => data.take(),
            AppBody::Frames { frame, left } => {
                if *left == 0 {
                    None
                } else {
                    *left -= 1;
                    Some(frame.clone())
                }
            }
        };
        Poll::Ready(frame.map(|data| Ok(Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        match self {
            AppBody::Whole(data) => data.is_none(),
            AppBody::Frames { left, .. } => *left == 0,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            AppBody::Whole(data) => {
                SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len()) as u64)
            }
            AppBody::Frames { .. } => SizeHint::default(),
        }
    }
}

/// Bodies built once and shared by every response.
#[derive(Clone)]
pub struct Payloads {
    large: Bytes,
    frame: Bytes,
}

impl Payloads {
    pub fn new() -> Self {
        Payloads {
            large: Bytes::from(vec![b'x'; LARGE]),
            frame: Bytes::from(vec![b'y'; FRAME]),
        }
    }

    /// The app: a response for the request's path. The request body is not read (every
    /// workload sends none).
    pub fn respond<B>(&self, req: &Request<B>) -> Response<AppBody> {
        let body = match req.uri().path() {
            "/large" => AppBody::Whole(Some(self.large.clone())),
            "/chunked" => AppBody::Frames {
                frame: self.frame.clone(),
                left: FRAMES,
            },
            _ => AppBody::Whole(Some(Bytes::from_static(SMALL))),
        };
        Response::new(body)
    }
}

macro_rules! serve_with {
    ($module:ident, $krate:ident) => {
        pub mod $module {
            use super::*;

            tokio_io_for!($krate, Io);

            #[derive(Clone, Copy)]
            struct Spawner;

            impl<F> $krate::rt::Executor<F> for Spawner
            where
                F: std::future::Future + Send + 'static,
                F::Output: Send + 'static,
            {
                fn execute(&self, fut: F) {
                    tokio::spawn(fut);
                }
            }

            /// Serves HTTP/1 on one accepted connection.
            pub async fn http1(stream: TcpStream, payloads: Payloads) {
                let service = $krate::service::service_fn(move |req| {
                    let response = payloads.respond(&req);
                    async move { Ok::<_, Infallible>(response) }
                });
                let conn = $krate::server::conn::http1::Builder::new()
                    .serve_connection(Io(stream), service);
                if let Err(e) = conn.await {
                    if std::env::var_os("LOAD_VERBOSE").is_some() {
                        eprintln!("http1 connection: {e}");
                    }
                }
            }

            /// Serves HTTP/2 (prior knowledge) on one accepted connection.
            pub async fn http2(stream: TcpStream, payloads: Payloads) {
                let service = $krate::service::service_fn(move |req| {
                    let response = payloads.respond(&req);
                    async move { Ok::<_, Infallible>(response) }
                });
                let conn = $krate::server::conn::http2::Builder::new(Spawner)
                    .serve_connection(Io(stream), service);
                if let Err(e) = conn.await {
                    if std::env::var_os("LOAD_VERBOSE").is_some() {
                        eprintln!("http2 connection: {e}");
                    }
                }
            }
        }
    };
}

serve_with!(fork, hyper);
serve_with!(upstream, hyper_upstream);

/// The bytes the fork sends for each route, for the canned server. The date is fixed; its
/// length is the real one's.
pub struct Canned {
    small: Vec<u8>,
    large: Vec<u8>,
    chunked: Vec<u8>,
}

const CANNED_DATE: &str = "date: Thu, 01 Jan 2026 00:00:00 GMT\r\n";

impl Canned {
    pub fn new() -> Self {
        let mut small =
            format!("HTTP/1.1 200 OK\r\ncontent-length: 13\r\n{CANNED_DATE}\r\n").into_bytes();
        small.extend_from_slice(SMALL);
        let mut large =
            format!("HTTP/1.1 200 OK\r\ncontent-length: {LARGE}\r\n{CANNED_DATE}\r\n").into_bytes();
        large.resize(large.len() + LARGE, b'x');
        let mut chunked =
            format!("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n{CANNED_DATE}\r\n")
                .into_bytes();
        for _ in 0..FRAMES {
            chunked.extend_from_slice(format!("{FRAME:X}\r\n").as_bytes());
            chunked.resize(chunked.len() + FRAME, b'y');
            chunked.extend_from_slice(b"\r\n");
        }
        chunked.extend_from_slice(b"0\r\n\r\n");
        Canned {
            small,
            large,
            chunked,
        }
    }

    fn for_head(&self, head: &[u8]) -> &[u8] {
        let path = head.split(|&b| b == b' ').nth(1).unwrap_or_default();
        match path {
            b"/large" => &self.large,
            b"/chunked" => &self.chunked,
            _ => &self.small,
        }
    }

    /// Answers every complete head on `stream` until the peer closes. Small answers of one
    /// read are written together, large ones straight from the prebuilt buffer.
    pub async fn serve(&self, mut stream: TcpStream) {
        let mut input = vec![0u8; 64 * 1024];
        let mut filled = 0;
        let mut out = Vec::with_capacity(64 * 1024);
        loop {
            let n = match stream.read(&mut input[filled..]).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            filled += n;
            let mut start = 0;
            while let Some(end) = find_head_end(&input[start..filled]) {
                let answer = self.for_head(&input[start..start + end]);
                if answer.len() > 64 * 1024 {
                    if !out.is_empty() && stream.write_all(&out).await.is_err() {
                        return;
                    }
                    out.clear();
                    if stream.write_all(answer).await.is_err() {
                        return;
                    }
                } else {
                    out.extend_from_slice(answer);
                }
                start += end;
            }
            if !out.is_empty() {
                if stream.write_all(&out).await.is_err() {
                    return;
                }
                out.clear();
            }
            input.copy_within(start..filled, 0);
            filled -= start;
            if filled == input.len() {
                return; // a head larger than the buffer: not a workload of this bench
            }
        }
    }
}

/// Length of the head at the front of `buf` (through its blank line), if complete.
fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// Accepts connections on `listener` forever, serving each on its own task.
pub async fn accept_loop(listener: TcpListener, side: Side, h2: bool) {
    let payloads = Payloads::new();
    let canned = std::sync::Arc::new(Canned::new());
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        if let Err(e) = stream.set_nodelay(true) {
            eprintln!("set_nodelay: {e}");
        }
        let payloads = payloads.clone();
        let canned = canned.clone();
        tokio::spawn(async move {
            match (side, h2) {
                (Side::Fork, false) => fork::http1(stream, payloads).await,
                (Side::Fork, true) => fork::http2(stream, payloads).await,
                (Side::Upstream, false) => upstream::http1(stream, payloads).await,
                (Side::Upstream, true) => upstream::http2(stream, payloads).await,
                (Side::Canned, false) => canned.serve(stream).await,
                // There is no canned HTTP/2: its framing and HPACK state are the protocol.
                (Side::Canned, true) => {}
            }
        });
    }
}
