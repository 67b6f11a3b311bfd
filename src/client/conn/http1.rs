//! HTTP/1 client connections.
//!
//! [`handshake`] (or [`Builder::handshake`]) turns a transport into a [`SendRequest`] handle
//! and a [`Connection`] future. Requests go out one at a time; the handle is ready while the
//! connection waits for the next one. The connection ends (and resolves) only after every
//! byte of the requests it encoded was accepted by the transport.
use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};

use super::super::dispatch::{self, TrySendError};
use crate::body::{Body, Incoming as IncomingBody};
use crate::proto::h1::client::{ClientConfig, ClientConn, EndMode, Ended};
use crate::proto::h1::conn_options::ConnOptions;
use crate::rt::{Read, Write};

/// A future that runs an HTTP/1 client connection until it ends.
///
/// It must be polled (usually spawned) for requests sent through its [`SendRequest`] to make
/// progress.
#[must_use = "futures do nothing unless polled"]
pub struct Connection<T, B>
where
    B: Body + 'static,
    T: Read + Write,
{
    inner: ClientConn<T, B>,
}

/// The handle that sends requests on a [`Connection`].
pub struct SendRequest<B> {
    dispatch: dispatch::Sender<Request<B>, Response<IncomingBody>>,
    /// Upstream's handle is neither `UnwindSafe` nor `RefUnwindSafe`; the same auto traits
    /// keep code written against one compiling against the other.
    _unwind: PhantomData<Box<dyn Fn() + Send + Sync>>,
}

/// The pieces of a [`Connection`] taken apart, to reuse the transport.
#[derive(Debug)]
#[non_exhaustive]
pub struct Parts<T> {
    /// Bytes read from the transport after the last response (for example what a server
    /// sent right after switching protocols). Process them before reading from `io` again.
    pub read_buf: Bytes,
    /// The transport the connection ran on.
    pub io: T,
}

// A connection pins nothing structurally (the request body is boxed), so it is `Unpin`
// exactly when its transport is, as upstream's is.
impl<T, B> Unpin for Connection<T, B>
where
    B: Body + 'static,
    T: Read + Write + Unpin,
{
}

/// Options for HTTP/1 client connections.
///
/// ```
/// use hyper::client::conn::http1::Builder;
///
/// let mut builder = Builder::new();
/// builder.title_case_headers(true).max_buf_size(64 * 1024);
/// ```
#[derive(Clone, Debug)]
pub struct Builder {
    options: ConnOptions,
    http09: bool,
    /// Replaces `options.max_buf_size` (each setter clears the other).
    read_buf_exact_size: Option<usize>,
}

impl Builder {
    /// Applies one option; every setter below is this and its documentation.
    fn with(&mut self, change: impl FnOnce(&mut Self)) -> &mut Self {
        change(self);
        self
    }

    /// A builder with the default options.
    #[allow(clippy::new_without_default)] // upstream's API has no `Default` impl
    #[inline]
    pub fn new() -> Builder {
        Builder {
            options: ConnOptions::default(),
            http09: false,
            read_buf_exact_size: None,
        }
    }

    /// Whether an HTTP/0.9 response (a body with no status line) is accepted as the first
    /// response. Default is `false`.
    pub fn http09_responses(&mut self, enabled: bool) -> &mut Builder {
        self.with(|b| b.http09 = enabled)
    }

    /// Whether response header names may be followed by spaces before the colon (RFC 9112
    /// forbids it; some servers send it). Default is `false`.
    pub fn allow_spaces_after_header_name_in_responses(&mut self, enabled: bool) -> &mut Builder {
        self.with(|b| {
            b.options
                .parser
                .allow_spaces_after_header_name_in_responses(enabled);
        })
    }

    /// Whether response header values may use obsolete line folding; folds are replaced by a
    /// space. Default is `false`.
    pub fn allow_obsolete_multiline_headers_in_responses(&mut self, enabled: bool) -> &mut Builder {
        self.with(|b| {
            b.options
                .parser
                .allow_obsolete_multiline_headers_in_responses(enabled);
        })
    }

    /// Whether malformed response header lines are skipped instead of rejected. Default is
    /// `false`.
    pub fn ignore_invalid_headers_in_responses(&mut self, enabled: bool) -> &mut Builder {
        self.with(|b| {
            b.options
                .parser
                .ignore_invalid_headers_in_responses(enabled);
        })
    }

    /// Whether request bodies are written with vectored IO (`true`) or copied into one buffer
    /// first (`false`). Default asks the transport. The bytes on the wire are the same.
    pub fn writev(&mut self, enabled: bool) -> &mut Builder {
        self.with(|b| b.options.writev = Some(enabled))
    }

    /// Whether header names are written in title case. Default is `false`.
    pub fn title_case_headers(&mut self, enabled: bool) -> &mut Builder {
        self.with(|b| b.options.title_case_headers = enabled)
    }

    /// Whether the original case of response header names is recorded, and a request
    /// carrying such a record is written with it. Default is `false`.
    pub fn preserve_header_case(&mut self, enabled: bool) -> &mut Builder {
        self.with(|b| b.options.preserve_header_case = enabled)
    }

    /// The most header fields a response may have. Default is 100; a larger limit costs an
    /// allocation per response.
    pub fn max_headers(&mut self, val: usize) -> &mut Self {
        self.with(|b| b.options.max_headers = Some(val))
    }

    /// The largest response head in bytes; also limits trailer sections. Default is `None`
    /// (bounded by the buffer size).
    pub fn max_header_size(&mut self, val: usize) -> &mut Self {
        self.with(|b| b.options.max_header_size = Some(val))
    }

    /// Reads exactly this many bytes at a time, which also bounds response heads (`None`
    /// returns to adaptive reads). Replaces [`max_buf_size`](Builder::max_buf_size).
    pub fn read_buf_exact_size(&mut self, sz: Option<usize>) -> &mut Builder {
        self.with(|b| {
            b.read_buf_exact_size = sz;
            b.options.max_buf_size = None;
        })
    }

    /// The most bytes buffered for an incomplete response head, and the output size at which
    /// encoding waits for the transport. Default is about 400kb. Replaces
    /// [`read_buf_exact_size`](Builder::read_buf_exact_size).
    ///
    /// # Panics
    ///
    /// If `max` is less than 8192.
    pub fn max_buf_size(&mut self, max: usize) -> &mut Self {
        self.with(|b| {
            b.options.max_buf_size(max);
            b.read_buf_exact_size = None;
        })
    }

    /// Starts a client connection on `io`: returns the handle that sends requests and the
    /// connection future, which must be polled (usually spawned) for them to progress.
    pub fn handshake<T, B>(
        &self,
        io: T,
    ) -> impl Future<Output = crate::Result<(SendRequest<B>, Connection<T, B>)>>
    where
        B: Body + 'static,
        B::Error: Into<Box<dyn StdError + Send + Sync>>,
        B::Data: Send,
        T: Read + Write + Unpin,
    {
        let cfg = ClientConfig {
            head: self.options.head_config(),
            title_case: self.options.title_case_headers,
            write_mode: self.options.write_mode(),
            http09: self.http09,
            read_exact: self.read_buf_exact_size,
        };
        async move {
            let (tx, rx) = dispatch::channel();
            let inner = ClientConn::new(io, rx, cfg);
            Ok((
                SendRequest {
                    dispatch: tx,
                    _unwind: PhantomData,
                },
                Connection { inner },
            ))
        }
    }
}

/// Starts an HTTP/1 client connection on `io` with the default options.
///
/// See [`Builder::handshake`].
pub async fn handshake<T, B>(io: T) -> crate::Result<(SendRequest<B>, Connection<T, B>)>
where
    B: Body + 'static,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
    B::Data: Send,
    T: Read + Write + Unpin,
{
    Builder::new().handshake(io).await
}

impl<B> SendRequest<B> {
    /// Whether the connection has closed and takes no more requests.
    pub fn is_closed(&self) -> bool {
        self.dispatch.is_closed()
    }

    /// Whether the connection is waiting for a request right now.
    pub fn is_ready(&self) -> bool {
        self.dispatch.is_ready()
    }

    /// Waits until the connection can take a request.
    pub async fn ready(&mut self) -> crate::Result<()> {
        let dispatch = &mut self.dispatch;
        std::future::poll_fn(move |cx| dispatch.poll_ready(cx)).await
    }

    /// Ready once the connection can take a request; an error once it has closed.
    pub fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<crate::Result<()>> {
        self.dispatch.poll_ready(cx)
    }
}

impl<B: Body + 'static> SendRequest<B> {
    /// Sends a request; on failure before the request started, the error carries the request
    /// back so it can be retried on another connection.
    #[allow(clippy::result_large_err)]
    pub fn try_send_request(
        &mut self,
        req: Request<B>,
    ) -> impl Future<Output = Result<Response<IncomingBody>, TrySendError<Request<B>>>> {
        let queued = self.dispatch.try_send(req);
        async move {
            let reply = match queued {
                Ok(reply) => reply,
                Err(unsent) => {
                    return Err(TrySendError {
                        error: crate::Error::new_canceled().with("connection was not ready"),
                        message: Some(unsent),
                    })
                }
            };
            reply.await.unwrap_or_else(|| {
                Err(TrySendError {
                    error: dispatch_gone(),
                    message: None,
                })
            })
        }
    }

    /// Sends a request; resolves to its response.
    ///
    /// The request is sent as given: set the `Host` header and use an origin-form URI
    /// (`/path?query`) unless talking to a proxy. If the connection was not ready (see
    /// [`poll_ready`](Self::poll_ready)) the future fails with a
    /// [canceled](crate::Error::is_canceled) error.
    pub fn send_request(
        &mut self,
        req: Request<B>,
    ) -> impl Future<Output = crate::Result<Response<IncomingBody>>> {
        let queued = self.dispatch.send(req).map_err(|_unsent| ());
        async move {
            let Ok(reply) = queued else {
                return Err(crate::Error::new_canceled().with("connection was not ready"));
            };
            reply.await.unwrap_or_else(|| Err(dispatch_gone()))
        }
    }
}

fn dispatch_gone() -> crate::Error {
    crate::Error::new_user(crate::error::User::DispatchGone)
}

impl<B> fmt::Debug for SendRequest<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendRequest").finish()
    }
}

/// Ends an upgrade the connection agreed to but cannot hand its transport to: without
/// `with_upgrades` the transport is not known to be `Send`. The waiting side learns why no
/// upgrade comes.
fn refuse_upgrade(ended: Ended) {
    if let Ended::Upgrade(pending) = ended {
        pending.manual();
    }
}

impl<T, B> Connection<T, B>
where
    B: Body + 'static,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
    T: Read + Write + Unpin,
{
    /// Takes the connection apart.
    ///
    /// Call it after [`poll_without_shutdown`](Self::poll_without_shutdown) resolved (or use
    /// [`without_shutdown`](Self::without_shutdown)); then every request byte was written.
    pub fn into_parts(self) -> Parts<T> {
        let (io, read_buf) = self.inner.into_parts();
        Parts { io, read_buf }
    }

    /// Polls the connection to its end without shutting the transport down.
    pub fn poll_without_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<crate::Result<()>> {
        self.inner
            .poll_conn(cx, EndMode::KeepOpen)
            .map_ok(refuse_upgrade)
    }

    /// Runs the connection to its end without shutting the transport down, then returns its
    /// [`Parts`].
    pub async fn without_shutdown(self) -> crate::Result<Parts<T>> {
        let mut conn = Some(self);
        std::future::poll_fn(move |cx| {
            let Some(running) = conn.as_mut() else {
                return Poll::Ready(Err(crate::Error::new_canceled()));
            };
            match running.poll_without_shutdown(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(result) => {
                    let done = conn.take().expect("present: checked above");
                    Poll::Ready(result.map(|()| done.into_parts()))
                }
            }
        })
        .await
    }
}

impl<T, B> Connection<T, B>
where
    B: Body + 'static,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
    T: Read + Write + Unpin + Send,
{
    /// Lets this connection hand its transport to an HTTP upgrade (a `101 Switching
    /// Protocols` response, or a successful CONNECT).
    ///
    /// See [the `upgrade` module](crate::upgrade).
    pub fn with_upgrades(self) -> upgrades::UpgradeableConnection<T, B> {
        upgrades::UpgradeableConnection { inner: Some(self) }
    }
}

impl<T, B> fmt::Debug for Connection<T, B>
where
    B: Body + 'static,
    T: Read + Write + fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection").finish()
    }
}

impl<T, B> Future for Connection<T, B>
where
    B: Body + 'static,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
    B::Data: Send,
    T: Read + Write + Unpin,
{
    type Output = crate::Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner
            .poll_conn(cx, EndMode::Shutdown)
            .map_ok(refuse_upgrade)
    }
}

mod upgrades {
    use super::{Connection, Context, Future, Parts, Pin, Poll, Read, StdError, Write};
    use crate::body::Body;
    use crate::proto::h1::client::{EndMode, Ended};
    use crate::upgrade::Upgraded;

    /// A [`Connection`] that hands its transport to an HTTP upgrade. Returned by
    /// `with_upgrades`; the type cannot be named outside the crate.
    #[must_use = "futures do nothing unless polled"]
    #[allow(missing_debug_implementations)]
    pub struct UpgradeableConnection<T, B>
    where
        B: Body + 'static,
        B::Error: Into<Box<dyn StdError + Send + Sync>>,
        T: Read + Write + Unpin + Send + 'static,
    {
        pub(super) inner: Option<Connection<T, B>>,
    }

    impl<I, B> Future for UpgradeableConnection<I, B>
    where
        B: Body + 'static,
        B::Error: Into<Box<dyn StdError + Send + Sync>>,
        B::Data: Send,
        I: Read + Write + Unpin + Send + 'static,
    {
        type Output = crate::Result<()>;

        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
            let Some(conn) = self.inner.as_mut() else {
                return Poll::Ready(Ok(()));
            };
            match conn.inner.poll_conn(cx, EndMode::Shutdown) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(Ok(Ended::Closed)) => Poll::Ready(Ok(())),
                Poll::Ready(Ok(Ended::Upgrade(pending))) => {
                    if let Some(conn) = self.inner.take() {
                        // The request was written completely before the upgrade sees the IO.
                        let Parts { io, read_buf } = conn.into_parts();
                        pending.fulfill(Upgraded::new(io, read_buf));
                    }
                    Poll::Ready(Ok(()))
                }
                Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            }
        }
    }
}
