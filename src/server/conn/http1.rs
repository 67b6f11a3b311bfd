//! HTTP/1 server connections.
//!
//! [`Builder::serve_connection`] binds a transport to a service and returns a [`Connection`],
//! a future that serves requests until the connection ends. Every way it can end (the client
//! closes, `Connection: close`, keep-alive disabled, [`graceful_shutdown`], an error after a
//! reply was started, [`without_shutdown`], an upgrade) waits until every byte of the
//! responses it encoded has been accepted by the transport.
//!
//! [`graceful_shutdown`]: Connection::graceful_shutdown
//! [`without_shutdown`]: Connection::without_shutdown
use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;

use crate::body::{Body, Incoming as IncomingBody};
use crate::proto::h1::conn_options::ConnOptions;
use crate::proto::h1::server::{EndMode, Ended, FlushPolicy, ServerConfig, ServerConn};
use crate::rt::{Read, Timer, Write};
use crate::service::HttpService;
use crate::upgrade::Upgraded;

/// The default `header_read_timeout`, applied only when a timer is configured.
const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// A future that serves HTTP/1 requests on one transport with a service.
///
/// Returned by [`Builder::serve_connection`]. It makes progress only while polled, and
/// resolves once the connection has ended and every response byte it encoded was written.
#[must_use = "futures do nothing unless polled"]
pub struct Connection<T, S>
where
    S: HttpService<IncomingBody>,
{
    conn: ServerConn<T, S>,
}

// The connection is never pinned structurally: its futures and bodies are boxed, and the
// transport is required to be `Unpin`. So moving it is always fine.
impl<T, S> Unpin for Connection<T, S> where S: HttpService<IncomingBody> {}

/// Options for HTTP/1 server connections.
///
/// Defaults are those of hyper 1.13 and are not guaranteed to stay the same.
///
/// ```
/// use hyper::server::conn::http1::Builder;
///
/// let mut builder = Builder::new();
/// builder.keep_alive(true).title_case_headers(true).max_buf_size(64 * 1024);
/// ```
#[derive(Clone, Debug)]
pub struct Builder {
    options: ConnOptions,
    timer: Option<SharedTimer>,
    half_close: bool,
    keep_alive: bool,
    header_read_timeout: HeaderReadTimeout,
    pipeline_flush: Option<bool>,
    date_header: bool,
}

#[derive(Clone)]
struct SharedTimer(Arc<dyn Timer + Send + Sync>);

impl fmt::Debug for SharedTimer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Timer")
    }
}

/// The timeout as configured: the default applies only with a timer; an explicit one without a
/// timer is ignored (with a warning) rather than enforced by nothing.
#[derive(Clone, Copy, Debug)]
enum HeaderReadTimeout {
    Default,
    Configured(Option<Duration>),
}

/// The pieces of a [`Connection`] taken apart, to reuse the transport.
#[derive(Debug)]
#[non_exhaustive]
pub struct Parts<T, S> {
    /// The service that handled the requests.
    pub service: S,
    /// Bytes read from the transport after the last request the connection handled (for
    /// example what a client sent right after an upgrade request). Process them before
    /// reading from `io` again.
    pub read_buf: Bytes,
    /// The transport the connection was served on.
    pub io: T,
}

/// A [`Connection`] that can hand its transport to an HTTP upgrade.
///
/// When a request asks for an upgrade and the response agrees (`101 Switching Protocols`, or
/// a successful `CONNECT`), the connection resolves after writing that response completely,
/// and the request's [`OnUpgrade`](crate::upgrade::OnUpgrade) yields the transport.
#[must_use = "futures do nothing unless polled"]
#[allow(missing_debug_implementations)]
pub struct UpgradeableConnection<T, S>
where
    S: HttpService<IncomingBody>,
{
    inner: Option<Connection<T, S>>,
}

/// Ends an upgrade the connection agreed to but cannot hand its transport to: without
/// `with_upgrades` the transport type is not known to be `Send`. The waiting side learns why
/// no upgrade comes.
fn refuse_upgrade(ended: Ended) {
    if let Ended::Upgrade(pending) = ended {
        pending.manual();
    }
}

impl<I, B, S> Connection<I, S>
where
    I: Read + Write + Unpin,
    B: Body + 'static,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
    S: HttpService<IncomingBody, ResBody = B>,
    S::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    /// Takes the connection apart.
    ///
    /// Call it after [`poll_without_shutdown`](Self::poll_without_shutdown) resolved (or use
    /// [`without_shutdown`](Self::without_shutdown)): then every response byte has been
    /// written. Called earlier, bytes the connection still owed the transport are lost.
    pub fn into_parts(self) -> Parts<I, S> {
        let Connection { conn } = self;
        let (io, read_buf, service) = conn.into_parts();
        Parts {
            service,
            read_buf,
            io,
        }
    }

    /// Lets this connection hand its transport to HTTP upgrades.
    ///
    /// See [the `upgrade` module](crate::upgrade).
    pub fn with_upgrades(self) -> UpgradeableConnection<I, S>
    where
        I: Send,
    {
        let inner = Some(self);
        UpgradeableConnection { inner }
    }

    /// Stops the connection from taking new requests.
    ///
    /// An idle connection ends at its next poll; one in the middle of an exchange finishes it
    /// (telling the client the connection closes, if the response head is not yet written)
    /// and then ends. Keep polling the connection until it resolves.
    pub fn graceful_shutdown(self: Pin<&mut Self>) {
        Pin::into_inner(self).conn.graceful_shutdown();
    }

    /// Polls the connection to its end without shutting the transport down.
    ///
    /// Resolves once the connection has ended and every response byte was written; the
    /// transport is then still open, to be taken back with [`into_parts`](Self::into_parts).
    pub fn poll_without_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<crate::Result<()>>
    where
        S: Unpin,
        S::Future: Unpin,
    {
        self.conn
            .poll_conn(cx, EndMode::KeepOpen)
            .map_ok(refuse_upgrade)
    }

    /// Serves the connection to its end without shutting the transport down, then returns
    /// its [`Parts`]. Every response byte has been written when this resolves.
    pub fn without_shutdown(self) -> impl Future<Output = crate::Result<Parts<I, S>>> {
        let mut slot = Some(self);
        std::future::poll_fn(move |cx| {
            let Some(conn) = slot.as_mut() else {
                // Polled again after it resolved: the parts were already handed out.
                return Poll::Ready(Err(crate::Error::new_canceled()));
            };
            match conn.conn.poll_conn(cx, EndMode::KeepOpen) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(result) => {
                    let conn = slot.take().expect("present: checked above");
                    Poll::Ready(result.map(|ended| {
                        refuse_upgrade(ended);
                        conn.into_parts()
                    }))
                }
            }
        })
    }
}

impl<I, B, S> Future for Connection<I, S>
where
    B: Body + 'static,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
    S: HttpService<IncomingBody, ResBody = B>,
    S::Error: Into<Box<dyn StdError + Send + Sync>>,
    I: Read + Write + Unpin,
{
    type Output = crate::Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.conn
            .poll_conn(cx, EndMode::Shutdown)
            .map_ok(refuse_upgrade)
    }
}

impl Builder {
    /// Applies one option; every setter below is this and its documentation.
    fn with(&mut self, change: impl FnOnce(&mut Self)) -> &mut Self {
        change(self);
        self
    }

    /// A builder with the default options.
    #[allow(clippy::new_without_default)] // upstream's API has no `Default` impl
    pub fn new() -> Self {
        Builder {
            options: ConnOptions::default(),
            timer: None,
            half_close: false,
            keep_alive: true,
            header_read_timeout: HeaderReadTimeout::Default,
            pipeline_flush: None,
            date_header: true,
        }
    }

    /// Whether a client may close its write side while waiting for the response.
    ///
    /// Without it, EOF in the middle of an exchange ends the connection with an
    /// [incomplete message](crate::Error::is_incomplete_message) error.
    ///
    /// Default is `false`.
    pub fn half_close(&mut self, val: bool) -> &mut Self {
        self.with(|b| b.half_close = val)
    }

    /// Whether connections serve more than one request.
    ///
    /// Default is `true`.
    pub fn keep_alive(&mut self, val: bool) -> &mut Self {
        self.with(|b| b.keep_alive = val)
    }

    /// Whether header names are written in title case (`Content-Type`) instead of lowercase.
    ///
    /// Default is `false`.
    pub fn title_case_headers(&mut self, enabled: bool) -> &mut Self {
        self.with(|b| b.options.title_case_headers = enabled)
    }

    /// Whether a request line may separate its parts with more than one space.
    ///
    /// Default is `false`.
    pub fn allow_multiple_spaces_in_request_line_delimiters(&mut self, enabled: bool) -> &mut Self {
        self.with(|b| {
            b.options
                .parser
                .allow_multiple_spaces_in_request_line_delimiters(enabled);
        })
    }

    /// Whether malformed header lines in requests are skipped instead of rejected.
    ///
    /// Default is `false`.
    pub fn ignore_invalid_headers(&mut self, enabled: bool) -> &mut Builder {
        self.with(|b| {
            b.options.parser.ignore_invalid_headers_in_requests(enabled);
        })
    }

    /// Whether the original case of request header names is recorded.
    ///
    /// The spellings are kept in a private request extension; a response that carries the
    /// same extension is written with them, which lets proxies forward names unchanged.
    ///
    /// Default is `false`.
    pub fn preserve_header_case(&mut self, enabled: bool) -> &mut Self {
        self.with(|b| b.options.preserve_header_case = enabled)
    }

    /// The most header fields a request may have; more is answered with
    /// `431 Request Header Fields Too Large`.
    ///
    /// Up to the default of 100 the parser works on the stack; a larger limit costs an
    /// allocation per request.
    pub fn max_headers(&mut self, val: usize) -> &mut Self {
        self.with(|b| b.options.max_headers = Some(val))
    }

    /// The largest request head (request line and headers) in bytes; larger is answered with
    /// `431 Request Header Fields Too Large`. Also limits chunked trailer sections.
    ///
    /// Without it, [`max_buf_size`](Builder::max_buf_size) bounds heads. Default is `None`.
    pub fn max_header_size(&mut self, val: usize) -> &mut Self {
        self.with(|b| b.options.max_header_size = Some(val))
    }

    /// How long a client may take to send a complete request head, including the wait for
    /// the next request on an idle keep-alive connection. Past it the connection ends with a
    /// [timeout](crate::Error::is_timeout) error.
    ///
    /// It takes effect only with a [`Timer`] set by [`Builder::timer`]; without one it is
    /// ignored (upstream hyper panics instead). `None` disables it. Default is 30 seconds.
    pub fn header_read_timeout(&mut self, read_timeout: impl Into<Option<Duration>>) -> &mut Self {
        self.with(|b| b.header_read_timeout = HeaderReadTimeout::Configured(read_timeout.into()))
    }

    /// Whether response bodies are written with vectored IO (`true`), or copied into one
    /// buffer first (`false`).
    ///
    /// Default asks the transport ([`Write::is_write_vectored`]). Either way, the bytes on
    /// the wire are the same.
    pub fn writev(&mut self, val: bool) -> &mut Self {
        self.with(|b| b.options.writev = Some(val))
    }

    /// The most bytes buffered for an incomplete request head, and the output size at which
    /// encoding waits for the transport.
    ///
    /// Default is about 400kb.
    ///
    /// # Panics
    ///
    /// If `max` is less than 8192.
    pub fn max_buf_size(&mut self, max: usize) -> &mut Self {
        self.with(|b| b.options.max_buf_size(max))
    }

    /// Whether responses carry a `date` header (when the service did not set one).
    ///
    /// Default is `true`.
    pub fn auto_date_header(&mut self, enabled: bool) -> &mut Self {
        self.with(|b| b.date_header = enabled)
    }

    /// Whether responses to pipelined requests are written together.
    ///
    /// `true` batches: while more requests are already buffered, their responses are
    /// encoded before writing, and everything is written before the connection waits for
    /// anything. `false` starts writing each response as soon as it is encoded.
    ///
    /// Unset (the default), the connection batches as with `true`. That is safe here
    /// because batching only decides *when* to write: a connection never waits, ends, or
    /// hands its transport over with bytes still owed.
    pub fn pipeline_flush(&mut self, enabled: bool) -> &mut Self {
        self.with(|b| b.pipeline_flush = Some(enabled))
    }

    /// The timer used for [`header_read_timeout`](Builder::header_read_timeout).
    pub fn timer<M>(&mut self, timer: M) -> &mut Self
    where
        M: Timer + Send + Sync + 'static,
    {
        self.timer = Some(SharedTimer(Arc::new(timer)));
        self
    }

    /// Serves requests arriving on `io` with `service`.
    ///
    /// The returned [`Connection`] must be polled (awaited) to make progress.
    pub fn serve_connection<I, S>(&self, io: I, service: S) -> Connection<I, S>
    where
        I: Read + Write + Unpin,
        S: HttpService<IncomingBody>,
        S::ResBody: 'static,
        <S::ResBody as Body>::Error: Into<Box<dyn StdError + Send + Sync>>,
        S::Error: Into<Box<dyn StdError + Send + Sync>>,
    {
        Connection {
            conn: ServerConn::new(io, service, self.config()),
        }
    }

    fn config(&self) -> ServerConfig {
        let timeout = match self.header_read_timeout {
            HeaderReadTimeout::Default => Some(DEFAULT_HEADER_READ_TIMEOUT),
            HeaderReadTimeout::Configured(t) => {
                if t.is_some() && self.timer.is_none() {
                    warn!("header_read_timeout is set but no timer is; it is not enforced");
                }
                t
            }
        };
        let header_read_timeout = match (timeout, &self.timer) {
            (Some(t), Some(timer)) => Some((t, timer.0.clone())),
            _ => None,
        };
        ServerConfig {
            head: self.options.head_config(),
            keep_alive: self.keep_alive,
            half_close: self.half_close,
            title_case: self.options.title_case_headers,
            write_mode: self.options.write_mode(),
            flush: match self.pipeline_flush {
                Some(false) => FlushPolicy::EachResponse,
                Some(true) | None => FlushPolicy::BeforeWaiting,
            },
            date_header: self.date_header,
            header_read_timeout,
        }
    }
}

impl<I, B, S> UpgradeableConnection<I, S>
where
    I: Read + Write + Unpin,
    B: Body + 'static,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
    S: HttpService<IncomingBody, ResBody = B>,
    S::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    /// Stops the connection from taking new requests; see
    /// [`Connection::graceful_shutdown`]. Does nothing once the connection was upgraded.
    pub fn graceful_shutdown(self: Pin<&mut Self>) {
        let this = self.get_mut();
        match &mut this.inner {
            Some(running) => Pin::new(running).graceful_shutdown(),
            None => trace!("graceful shutdown of an upgraded connection: nothing to stop"),
        }
    }

    /// Takes the connection apart; `None` if it was upgraded (the upgrade owns the
    /// transport).
    pub fn into_parts(self) -> Option<Parts<I, S>> {
        let UpgradeableConnection { inner } = self;
        let running = inner?;
        Some(running.into_parts())
    }
}

impl<I, B, S> Future for UpgradeableConnection<I, S>
where
    I: Read + Write + Unpin + Send + 'static,
    B: Body + 'static,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
    S: HttpService<IncomingBody, ResBody = B>,
    S::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    type Output = crate::Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(conn) = self.inner.as_mut() else {
            return Poll::Ready(Ok(()));
        };
        match conn.conn.poll_conn(cx, EndMode::Shutdown) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(Ended::Closed)) => Poll::Ready(Ok(())),
            Poll::Ready(Ok(Ended::Upgrade(pending))) => {
                if let Some(conn) = self.inner.take() {
                    // `poll_conn` returns an upgrade only after draining, so the 101 (or
                    // CONNECT) response is with the peer before the upgrade sees the IO.
                    let (io, read_buf, _service) = conn.conn.into_parts();
                    pending.fulfill(Upgraded::new(io, read_buf));
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(err)) => Poll::Ready(Err(err)),
        }
    }
}

impl<I, S: HttpService<IncomingBody>> fmt::Debug for Connection<I, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Connection")
    }
}
