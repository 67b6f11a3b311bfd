//! Reproducer for hyper 1.x: an HTTP/1 server connection on one end of a Unix socket pair, a
//! client thread on the other end that reads slowly, and a count of the response bytes that
//! arrive. Built by the patch harness against a pristine and a patched copy of a release.
//!
//! Every case runs `RUNS` times and prints one line the harness parses:
//! `case <name> truncated <k>/<runs> received <min>..<max> of <expected>`.
use std::convert::Infallible;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper::server::conn::http1;
use hyper::{Request, Response};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

#[path = "common.rs"]
mod common;
use common::{Case, Ending, Shape, BODY_LEN, FRAME_LEN};

/// hyper 1.x speaks its own IO traits; this wraps tokio's Unix stream in them.
struct Io(tokio::net::UnixStream);

impl Read for Io {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        // SAFETY: the bytes tokio reports as filled were initialised by the read, and
        // `advance` only marks those.
        let filled = unsafe {
            let mut tbuf = ReadBuf::uninit(buf.as_mut());
            match Pin::new(&mut self.0).poll_read(cx, &mut tbuf) {
                Poll::Ready(Ok(())) => tbuf.filled().len(),
                other => return other,
            }
        };
        unsafe { buf.advance(filled) };
        Poll::Ready(Ok(()))
    }
}

impl Write for Io {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        b: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, b)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// The response body: one 4 MiB frame with an exact length, or 64 frames without one
/// (so hyper frames it as chunked), yielding before each frame like a real producer.
struct Payload {
    shape: Shape,
    sent: usize,
    yielded: bool,
}

impl Body for Payload {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let frame_len = match self.shape {
            Shape::Chunked => FRAME_LEN,
            Shape::Full | Shape::Upgrade => BODY_LEN,
        };
        if self.sent >= BODY_LEN {
            return Poll::Ready(None);
        }
        if self.shape == Shape::Chunked && !self.yielded {
            self.yielded = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        self.yielded = false;
        let chunk = common::pattern(self.sent, frame_len);
        self.sent += frame_len;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(chunk)))))
    }

    fn is_end_stream(&self) -> bool {
        self.sent >= BODY_LEN
    }

    fn size_hint(&self) -> SizeHint {
        match self.shape {
            Shape::Chunked => SizeHint::default(),
            Shape::Full | Shape::Upgrade => SizeHint::with_exact((BODY_LEN - self.sent) as u64),
        }
    }
}

async fn write_all<W: Write + Unpin>(io: &mut W, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        let n = poll_fn(|cx| Pin::new(&mut *io).poll_write(cx, data)).await?;
        data = &data[n..];
    }
    poll_fn(|cx| Pin::new(&mut *io).poll_shutdown(cx)).await
}

async fn serve(case: Case, io: tokio::net::UnixStream) {
    // Boxed: the `without_shutdown` of hyper 1.0.x needs an `Unpin` service future.
    let service = hyper::service::service_fn(move |mut req: Request<hyper::body::Incoming>| {
        Box::pin(async move {
            if case.shape == Shape::Upgrade {
                let on_upgrade = hyper::upgrade::on(&mut req);
                tokio::spawn(async move {
                    if let Ok(mut upgraded) = on_upgrade.await {
                        let _ignored = write_all(&mut upgraded, common::UPGRADED_GREETING).await;
                    }
                });
                let res = Response::builder()
                    .status(101)
                    .header("connection", "upgrade")
                    .header("upgrade", "repro")
                    .body(Payload {
                        shape: Shape::Full,
                        sent: BODY_LEN,
                        yielded: false,
                    })
                    .expect("response");
                return Ok::<_, Infallible>(res);
            }
            // The request body is never read: that is what stops hyper's reading early.
            drop(req);
            Ok(Response::new(Payload {
                shape: case.shape,
                sent: 0,
                yielded: false,
            }))
        })
    });
    let mut builder = http1::Builder::new();
    builder.pipeline_flush(case.pipeline_flush);
    let conn = builder.serve_connection(Io(io), service);
    match case.ending {
        Ending::Shutdown if case.shape == Shape::Upgrade => {
            let _ignored = conn.with_upgrades().await;
        }
        Ending::Shutdown => {
            let _ignored = conn.await;
        }
        Ending::WithoutShutdown => {
            if let Ok(parts) = conn.without_shutdown().await {
                // The application is done with the connection: close it as a proxy or a
                // connection pool would.
                let mut io = parts.io;
                let _ignored = poll_fn(|cx| Pin::new(&mut io).poll_shutdown(cx)).await;
            }
        }
    }
}

fn main() {
    common::run_all(serve);
}
