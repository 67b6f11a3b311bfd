//! A slow reader must receive every byte of a large response.
//!
//! The reported bug: a server answers a POST whose 64 KiB body the service never reads with a
//! 4 MiB response. The client, on a Unix socket pair, reads 16 KiB roughly every 0.3 ms. Old
//! hyper versions shut the socket down while most of the response was still in the
//! connection's write buffer, so the client saw a clean EOF after a couple of hundred KB.
//!
//! Every test here serves one such connection five times and checks, on the client side,
//! byte for byte, that the whole response arrived. The client is a plain blocking thread: it
//! parses the bytes with `httparse` and decodes the body framing (content-length or chunked)
//! itself, so nothing of hyper's own client sits between the server and the checks.
//!
//! Cases (each a test):
//! - response body: a 4 MiB `Full<Bytes>` (content-length) or a `StreamBody` of 64 frames of
//!   64 KiB without a size hint (chunked);
//! - request: `Connection: close`, or keep-alive followed, once the first response has fully
//!   arrived, by a small `GET` with `Connection: close`. The server may close instead of
//!   answering that GET (it cannot reuse a connection whose request body is unread unless it
//!   drains it), but if it answers, the answer must be complete too;
//! - server builder: the default one, or `keep_alive(false)`.
//!
//! The connection future must finish with `Ok(())` in every case: the client sends well-formed
//! requests, reads until the server closes, and only then drops its end, so there is no
//! transport error the server could legitimately report. On the client side the stream may end
//! with ECONNRESET instead of EOF (see `run_client`): Linux does that when the server closes
//! with the unread request body still queued, after delivering everything sent before.

#[cfg(not(all(feature = "server", feature = "http1")))]
compile_error!("tests/slow_reader.rs needs the `server` and `http1` features: run `cargo test --features full`");

use std::convert::Infallible;
use std::io::{self, Read as _, Write as _};
use std::os::unix::net::UnixStream as StdUnixStream;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll};
use std::thread;
use std::time::{Duration, Instant};

use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Bytes, Frame, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};

#[path = "support/http1_response.rs"]
mod http1_response;
use http1_response::{parse_response, Framing};

#[path = "support/pattern.rs"]
mod pattern;
use pattern::pattern;

const RESPONSE_LEN: usize = 4 * 1024 * 1024;
const FRAME_LEN: usize = 64 * 1024;
const FRAMES: usize = RESPONSE_LEN / FRAME_LEN;
const REQUEST_BODY_LEN: usize = 64 * 1024;
const SECOND_RESPONSE_LEN: usize = 1500;
const READ_SIZE: usize = 16 * 1024;
const READ_PAUSE: Duration = Duration::from_micros(300);
const RUNS: usize = 5;
/// Upper bound for one run; a healthy run takes well under a second.
const RUN_DEADLINE: Duration = Duration::from_secs(15);

// ---------------------------------------------------------------------------------------------
// The server's socket, which also counts what it accepted and notes where the first shutdown
// happened, for failure messages. Served through hyper-util's `TokioIo`.
// ---------------------------------------------------------------------------------------------

#[derive(Default)]
struct WriteLog {
    accepted: AtomicUsize,
    /// `accepted` at the first `poll_shutdown`, plus one (0 = never shut down).
    shutdown_at: AtomicUsize,
}

struct CountedSocket {
    inner: tokio::net::UnixStream,
    log: Arc<WriteLog>,
}

impl CountedSocket {
    fn count(&self, written: &Poll<io::Result<usize>>) {
        if let Poll::Ready(Ok(n)) = written {
            self.log.accepted.fetch_add(*n, Ordering::SeqCst);
        }
    }
}

impl AsyncRead for CountedSocket {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for CountedSocket {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.count(&written);
        written
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.count(&written);
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let at = self.log.accepted.load(Ordering::SeqCst) + 1;
        // Only the first call is recorded: a later one finds the slot taken.
        if self.log.shutdown_at.load(Ordering::SeqCst) == 0 {
            self.log.shutdown_at.store(at, Ordering::SeqCst);
        }
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

// ---------------------------------------------------------------------------------------------
// The server.
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyKind {
    /// One `Full<Bytes>` of 4 MiB: content-length framing.
    Full,
    /// A `StreamBody` of 64 frames of 64 KiB with no size hint: chunked framing.
    Chunked,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RequestKind {
    /// The POST carries `Connection: close`.
    Close,
    /// The POST is keep-alive; a GET with `Connection: close` follows its response.
    KeepAliveThenGet,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ServerKind {
    Default,
    NoKeepAlive,
}

type RespBody = BoxBody<Bytes, Infallible>;

fn big_response(kind: BodyKind, body: &Bytes) -> Response<RespBody> {
    let body = match kind {
        BodyKind::Full => Full::new(body.clone()).boxed(),
        BodyKind::Chunked => {
            let frames: Vec<Result<Frame<Bytes>, Infallible>> = (0..FRAMES)
                .map(|i| Ok(Frame::data(body.slice(i * FRAME_LEN..(i + 1) * FRAME_LEN))))
                .collect();
            StreamBody::new(futures_util::stream::iter(frames)).boxed()
        }
    };
    Response::new(body)
}

async fn serve(
    io: TokioIo<CountedSocket>,
    body_kind: BodyKind,
    server_kind: ServerKind,
    big: Bytes,
    small: Bytes,
) -> hyper::Result<()> {
    let service = service_fn(move |req: Request<Incoming>| {
        let resp = if req.method() == Method::POST {
            // The request body is deliberately never read.
            drop(req);
            big_response(body_kind, &big)
        } else {
            Response::new(Full::new(small.clone()).boxed())
        };
        async move { Ok::<_, Infallible>(resp) }
    });
    let mut builder = http1::Builder::new();
    if server_kind == ServerKind::NoKeepAlive {
        builder.keep_alive(false);
    }
    builder.serve_connection(io, service).await
}

// ---------------------------------------------------------------------------------------------
// The client: a blocking thread that writes its requests and reads slowly.
// ---------------------------------------------------------------------------------------------

struct ClientResult {
    received: Vec<u8>,
    /// Offset just past the first response, if it was complete before EOF.
    first_end: Option<usize>,
    read_error: Option<io::Error>,
    /// The stream ended with ECONNRESET rather than EOF (see `run_client`).
    reset: bool,
    write_errors: Vec<String>,
    /// The POST was completely written before the first read.
    posted_before_reading: bool,
    elapsed: Duration,
}

fn post_request(request_kind: RequestKind) -> Vec<u8> {
    let connection = match request_kind {
        RequestKind::Close => "Connection: close\r\n",
        RequestKind::KeepAliveThenGet => "",
    };
    let mut req = format!(
        "POST /upload HTTP/1.1\r\nHost: slow.test\r\nContent-Type: application/octet-stream\r\n\
         Content-Length: {REQUEST_BODY_LEN}\r\n{connection}\r\n"
    )
    .into_bytes();
    req.extend_from_slice(&pattern(REQUEST_BODY_LEN, 77));
    req
}

fn run_client(sock: StdUnixStream, request_kind: RequestKind) -> ClientResult {
    let start = Instant::now();
    sock.set_read_timeout(Some(RUN_DEADLINE))
        .expect("set read timeout");
    let mut writer = sock.try_clone().expect("clone client socket");
    let (first_done_tx, first_done_rx) = mpsc::channel::<()>();
    let (posted_tx, posted_rx) = mpsc::channel::<()>();
    // The writer runs on its own thread so that a server that stops reading can never stall
    // the slow reader.
    let writer_thread = thread::spawn(move || {
        let mut errors = Vec::new();
        if let Err(e) = writer.write_all(&post_request(request_kind)) {
            errors.push(format!("writing the POST: {e}"));
        }
        // The reader may have given up waiting; it needs no signal then.
        if posted_tx.send(()).is_err() {
            errors.push("the reader stopped waiting for the POST to be written".into());
        }
        if request_kind == RequestKind::KeepAliveThenGet && first_done_rx.recv().is_ok() {
            let get = b"GET /second HTTP/1.1\r\nHost: slow.test\r\nConnection: close\r\n\r\n";
            if let Err(e) = writer.write_all(get) {
                errors.push(format!("writing the GET: {e}"));
            }
        }
        errors
    });

    // The whole request goes out before the slow reading starts. The socket buffer holds it
    // even if the server reads none of the body; should it not, reading starts anyway after a
    // while rather than deadlocking (and the failure message says so).
    let posted_before_reading = posted_rx.recv_timeout(Duration::from_secs(2)).is_ok();
    let mut reader = sock;
    let mut received = Vec::with_capacity(RESPONSE_LEN + 64 * 1024);
    let mut chunk = vec![0u8; READ_SIZE];
    let mut first_end = None;
    let mut read_error = None;
    let mut reset = false;
    // Only a keep-alive request is followed by a GET; the writer waits for this signal then.
    let mut first_done_tx =
        (request_kind == RequestKind::KeepAliveThenGet).then_some(first_done_tx);
    loop {
        match reader.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => received.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // Linux ends a Unix stream with ECONNRESET instead of EOF when the peer closed its
            // end with bytes still unread in its receive queue: here, the request body the
            // service never read. Everything queued before the close is delivered first, so
            // this is the end of the stream, and the byte checks below still see every byte.
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {
                reset = true;
                break;
            }
            Err(e) => {
                read_error = Some(e);
                break;
            }
        }
        if first_end.is_none() {
            if let Ok(Some(first)) = parse_response(&received, false) {
                first_end = Some(first.len);
                if let Some(tx) = first_done_tx.take() {
                    tx.send(()).expect("the writer waits for this signal");
                }
            }
        }
        thread::sleep(READ_PAUSE);
    }
    // Unblocks the writer if the first response never completed.
    drop(first_done_tx);
    let write_errors = writer_thread.join().expect("writer thread panicked");
    ClientResult {
        received,
        first_end,
        read_error,
        reset,
        write_errors,
        posted_before_reading,
        elapsed: start.elapsed(),
    }
}

// ---------------------------------------------------------------------------------------------
// One run and its checks.
// ---------------------------------------------------------------------------------------------

fn run_once(body_kind: BodyKind, request_kind: RequestKind, server_kind: ServerKind, run: usize) {
    let label = format!(
        "{body_kind:?} response / {request_kind:?} request / {server_kind:?} builder, run {run}"
    );
    let big = pattern(RESPONSE_LEN, run * 1009);
    let small = pattern(SECOND_RESPONSE_LEN, run * 7 + 3);
    let log = Arc::new(WriteLog::default());

    // Alternate runtime flavours between runs: the bug does not depend on the scheduler, and
    // the fix must not either.
    let rt = if run & 1 == 0 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
    }
    .expect("build runtime");

    let (server_sock, client_sock) = {
        let _guard = rt.enter();
        tokio::net::UnixStream::pair().expect("socket pair")
    };
    let client_sock = client_sock.into_std().expect("into std");
    client_sock
        .set_nonblocking(false)
        .expect("blocking client socket");
    let client = thread::spawn(move || run_client(client_sock, request_kind));

    let io = TokioIo::new(CountedSocket {
        inner: server_sock,
        log: log.clone(),
    });
    let server_result = rt.block_on(async {
        tokio::time::timeout(
            RUN_DEADLINE,
            serve(io, body_kind, server_kind, big.clone(), small.clone()),
        )
        .await
    });
    let client = client.join().expect("client thread panicked");
    drop(rt);

    let accepted = log.accepted.load(Ordering::SeqCst);
    let shutdown_at = match log.shutdown_at.load(Ordering::SeqCst) {
        0 => "never".to_string(),
        n => format!("after {} bytes", n - 1),
    };
    let context = format!(
        "{label}: the server's socket accepted {accepted} bytes, poll_shutdown was first called {shutdown_at}; \
         the client received {} bytes in {:?} (POST written before reading: {}, ended by reset: {}, read error: {:?}, write errors: {:?})",
        client.received.len(),
        client.elapsed,
        client.posted_before_reading,
        client.reset,
        client.read_error,
        client.write_errors,
    );

    match server_result {
        Err(_) => panic!("{context}: the connection future did not finish within {RUN_DEADLINE:?}"),
        Ok(Err(e)) => panic!("{context}: the connection future failed: {e:?}"),
        Ok(Ok(())) => {}
    }
    assert!(
        client.read_error.is_none(),
        "{context}: the client's read failed"
    );

    // The first response: complete, correctly framed, every byte right.
    let first = match parse_response(&client.received, true) {
        Ok(Some(first)) => first,
        Ok(None) => panic!(
            "{context}: the first response is incomplete when the stream ended \
             ({} bytes arrived in all; its body alone is {RESPONSE_LEN} bytes)",
            client.received.len()
        ),
        Err(e) => panic!("{context}: the first response is malformed: {e}"),
    };
    assert_eq!(first.status, 200, "{context}: first response status");
    let expected_framing = match body_kind {
        BodyKind::Full => Framing::Length(RESPONSE_LEN),
        BodyKind::Chunked => Framing::Chunked,
    };
    assert_eq!(
        first.framing, expected_framing,
        "{context}: first response framing"
    );
    assert_eq!(
        first.body.len(),
        RESPONSE_LEN,
        "{context}: first response body length"
    );
    if let Some(i) = first.body.iter().zip(big.iter()).position(|(a, b)| a != b) {
        panic!("{context}: first response body differs from what the service sent at byte {i}");
    }
    assert_eq!(
        client.first_end,
        Some(first.len),
        "{context}: first response end"
    );

    // Whatever follows: nothing, or (keep-alive request, keep-alive server) one complete
    // answer to the GET.
    let rest = &client.received[first.len..];
    let may_answer_get =
        request_kind == RequestKind::KeepAliveThenGet && server_kind == ServerKind::Default;
    if !rest.is_empty() {
        assert!(
            may_answer_get,
            "{context}: {} unexpected bytes after the first response: {:?}",
            rest.len(),
            String::from_utf8_lossy(&rest[..rest.len().min(200)])
        );
        let second = match parse_response(rest, true) {
            Ok(Some(second)) => second,
            Ok(None) => panic!(
                "{context}: the answer to the GET is incomplete at EOF: {:?}",
                String::from_utf8_lossy(rest)
            ),
            Err(e) => panic!("{context}: the answer to the GET is malformed: {e}"),
        };
        assert_eq!(second.status, 200, "{context}: second response status");
        assert_eq!(second.body, small, "{context}: second response body");
        assert_eq!(
            second.len,
            rest.len(),
            "{context}: bytes after the second response"
        );
    }
    // A first response announcing `connection: close` must indeed be the last one.
    let announced_close = first
        .header("connection")
        .is_some_and(|v| v.eq_ignore_ascii_case(b"close"));
    if announced_close {
        assert!(
            rest.is_empty(),
            "{context}: a response after `connection: close`"
        );
    }
    assert_eq!(
        accepted,
        client.received.len(),
        "{context}: bytes accepted by the server's socket vs bytes the client read"
    );
}

fn run_case(body_kind: BodyKind, request_kind: RequestKind, server_kind: ServerKind) {
    for run in 0..RUNS {
        run_once(body_kind, request_kind, server_kind, run);
    }
}

macro_rules! slow_reader_tests {
    ($($name:ident: $body:ident, $request:ident, $server:ident;)*) => {$(
        #[test]
        fn $name() {
            run_case(BodyKind::$body, RequestKind::$request, ServerKind::$server);
        }
    )*};
}

slow_reader_tests! {
    slow_reader_gets_whole_4mib_full_response_to_unread_post_with_connection_close: Full, Close, Default;
    slow_reader_gets_whole_4mib_full_response_to_unread_post_with_connection_close_keep_alive_off: Full, Close, NoKeepAlive;
    slow_reader_gets_whole_4mib_full_response_to_unread_keep_alive_post_then_get: Full, KeepAliveThenGet, Default;
    slow_reader_gets_whole_4mib_full_response_to_unread_keep_alive_post_keep_alive_off: Full, KeepAliveThenGet, NoKeepAlive;
    slow_reader_gets_whole_chunked_stream_response_to_unread_post_with_connection_close: Chunked, Close, Default;
    slow_reader_gets_whole_chunked_stream_response_to_unread_post_with_connection_close_keep_alive_off: Chunked, Close, NoKeepAlive;
    slow_reader_gets_whole_chunked_stream_response_to_unread_keep_alive_post_then_get: Chunked, KeepAliveThenGet, Default;
    slow_reader_gets_whole_chunked_stream_response_to_unread_keep_alive_post_keep_alive_off: Chunked, KeepAliveThenGet, NoKeepAlive;
}
