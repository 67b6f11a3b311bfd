//! How a server connection uses its transport around exchanges: waiting for its next request
//! it holds no buffer memory, takes buffers again when bytes arrive, and keeps them while
//! anything is buffered or owed; reads that decide something on `Pending` look again even
//! after an earlier read of the same poll returned `Pending`.
use std::cell::RefCell;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;

use crate::body::Incoming;
use crate::proto::h1::head_parse::HeadConfig;
use crate::proto::h1::server::{EndMode, FlushPolicy, ServerConfig, ServerConn};
use crate::rt::{Read, ReadBufCursor, Write};

#[derive(Default)]
struct Wire {
    input: VecDeque<u8>,
    output: Vec<u8>,
    /// Bytes accepted per write; 0 means the transport refuses writes (`Pending`).
    write_room: Option<usize>,
    /// Become readable with the first write, as a peer's packets that the kernel processes
    /// while the server sends.
    arrive_on_write: Vec<u8>,
}

/// A transport over a shared [`Wire`]: reads what the test queued, `Pending` when nothing is.
struct ScriptedIo(Rc<RefCell<Wire>>);

impl Read for ScriptedIo {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let mut wire = self.0.borrow_mut();
        if wire.input.is_empty() {
            return Poll::Pending;
        }
        let n = wire.input.len().min(buf.remaining());
        let bytes: Vec<u8> = wire.input.drain(..n).collect();
        buf.put_slice(&bytes);
        Poll::Ready(Ok(()))
    }
}

impl Write for ScriptedIo {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut wire = self.0.borrow_mut();
        let n = buf.len().min(wire.write_room.unwrap_or(usize::MAX));
        if n == 0 {
            return Poll::Pending;
        }
        wire.output.extend_from_slice(&buf[..n]);
        let arrived = std::mem::take(&mut wire.arrive_on_write);
        wire.input.extend(arrived);
        Poll::Ready(Ok(n))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

fn config() -> ServerConfig {
    ServerConfig {
        head: HeadConfig {
            parser: httparse::ParserConfig::default(),
            max_headers: None,
            max_header_size: None,
            max_buf: crate::proto::h1::DEFAULT_MAX_BUFFER_SIZE,
            preserve_case: false,
        },
        keep_alive: true,
        half_close: false,
        title_case: false,
        write_mode: None,
        flush: FlushPolicy::BeforeWaiting,
        date_header: false,
        header_read_timeout: None,
    }
}

/// Answers every request with `hello`.
struct Hello;

impl crate::service::Service<Request<Incoming>> for Hello {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self::Response, Infallible>>;

    fn call(&self, _: Request<Incoming>) -> Self::Future {
        std::future::ready(Ok(Response::new(Full::new(Bytes::from_static(b"hello")))))
    }
}

type Conn = ServerConn<ScriptedIo, Hello>;

fn connection() -> (Rc<RefCell<Wire>>, Conn) {
    let wire = Rc::new(RefCell::new(Wire::default()));
    let conn = ServerConn::new(ScriptedIo(wire.clone()), Hello, config());
    (wire, conn)
}

fn poll(conn: &mut Conn) {
    let mut cx = Context::from_waker(Waker::noop());
    match conn.poll_conn(&mut cx, EndMode::Shutdown) {
        Poll::Pending => {}
        Poll::Ready(r) => panic!("the connection ended: {:?}", r.err()),
    }
}

const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nhost: x\r\n\r\n";
const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello";

#[test]
fn a_connection_waiting_for_its_next_request_holds_no_buffers() {
    let (wire, mut conn) = connection();
    assert!(
        !conn.holds_buffers(),
        "nothing is allocated before bytes arrive"
    );
    for round in 1..=3 {
        wire.borrow_mut().input.extend(REQUEST);
        poll(&mut conn);
        assert_eq!(wire.borrow().output, RESPONSE.repeat(round));
        assert!(
            !conn.holds_buffers(),
            "round {round}: buffers released while idle"
        );
    }
}

#[test]
fn buffers_stay_while_a_head_is_incomplete() {
    let (wire, mut conn) = connection();
    wire.borrow_mut().input.extend(&REQUEST[..10]);
    poll(&mut conn);
    assert!(conn.holds_buffers(), "the partial head is kept");
    wire.borrow_mut().input.extend(&REQUEST[10..]);
    poll(&mut conn);
    assert_eq!(wire.borrow().output, RESPONSE);
    assert!(!conn.holds_buffers());
}

#[test]
fn buffers_stay_while_output_is_owed() {
    let (wire, mut conn) = connection();
    wire.borrow_mut().write_room = Some(0);
    wire.borrow_mut().input.extend(REQUEST);
    poll(&mut conn);
    assert!(wire.borrow().output.is_empty());
    assert!(conn.holds_buffers(), "the unwritten response is kept");
    wire.borrow_mut().write_room = None;
    poll(&mut conn);
    assert_eq!(wire.borrow().output, RESPONSE);
    assert!(!conn.holds_buffers());
}

#[test]
fn pipelined_requests_are_answered_across_releases() {
    let (wire, mut conn) = connection();
    wire.borrow_mut().input.extend(REQUEST.repeat(3));
    poll(&mut conn);
    assert_eq!(wire.borrow().output, RESPONSE.repeat(3));
    assert!(!conn.holds_buffers());
    wire.borrow_mut().input.extend(REQUEST.repeat(2));
    poll(&mut conn);
    assert_eq!(wire.borrow().output, RESPONSE.repeat(5));
}

#[test]
fn an_abandoned_body_arriving_while_the_response_drains_is_discarded_before_closing() {
    let (wire, mut conn) = connection();
    // The service never reads the body; half of it is here, the rest arrives once the server
    // writes. Without a timer only what arrived is discarded, and leaving it unread would
    // make a TCP close reset the connection.
    wire.borrow_mut().input.extend(
        b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\nconnection: close\r\n\r\n01234",
    );
    wire.borrow_mut().arrive_on_write = b"56789".to_vec();
    let mut cx = Context::from_waker(Waker::noop());
    let mut ended = false;
    for _ in 0..4 {
        if let Poll::Ready(result) = conn.poll_conn(&mut cx, EndMode::Shutdown) {
            assert!(result.is_ok(), "{:?}", result.err());
            ended = true;
            break;
        }
    }
    assert!(ended, "the connection ends after its response");
    let wire = wire.borrow();
    assert!(wire.output.starts_with(b"HTTP/1.1 200 OK\r\n"));
    assert!(wire.input.is_empty(), "unread body bytes: {:?}", wire.input);
}
