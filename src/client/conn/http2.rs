//! HTTP/2 client connections.
//!
//! [`handshake`] (or [`Builder::handshake`]) performs the HTTP/2 handshake on a transport and
//! returns a [`SendRequest`] handle, which can be cloned and used concurrently (each request
//! is a stream), and a [`Connection`] future that must be polled (usually spawned) for any
//! request to make progress. The connection ends when every `SendRequest` is dropped and its
//! streams are done, or on error.
use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Request, Response};
use http_body::Body;
use tokio::sync::oneshot;

use super::TrySendError;
use crate::body::Incoming;
use crate::proto::h2::client::{self as proto, ClientConn, Config, Envelope, RequestTx};
use crate::rt::bounds::Http2ClientConnExec;
use crate::rt::{Read, Timer, Write};

/// Sends requests on an HTTP/2 connection. Cheap to clone; every clone uses the same
/// connection.
pub struct SendRequest<B> {
    tx: RequestTx<B>,
    /// Upstream's handle is neither `UnwindSafe` nor `RefUnwindSafe`; the same auto traits
    /// keep code written against one compiling against the other.
    _unwind: PhantomData<Box<dyn Fn() + Send + Sync>>,
}

impl<B> Clone for SendRequest<B> {
    fn clone(&self) -> Self {
        SendRequest {
            tx: self.tx.clone(),
            _unwind: PhantomData,
        }
    }
}

impl<B> fmt::Debug for SendRequest<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendRequest")
            .field("closed", &self.tx.is_closed())
            .finish()
    }
}

impl<B> SendRequest<B> {
    /// Ready while the connection is open: HTTP/2 multiplexes, so an open connection can
    /// always take another request (it waits for a free stream if the server limits them).
    pub fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<crate::Result<()>> {
        if self.tx.is_closed() {
            Poll::Ready(Err(crate::Error::new_closed()))
        } else {
            Poll::Ready(Ok(()))
        }
    }

    /// Waits until the connection can take a request (see [`poll_ready`](Self::poll_ready)).
    pub async fn ready(&mut self) -> crate::Result<()> {
        std::future::poll_fn(|cx| self.poll_ready(cx)).await
    }

    /// Whether the connection can take a request now.
    pub fn is_ready(&self) -> bool {
        !self.tx.is_closed()
    }

    /// Whether the connection is gone.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

impl<B> SendRequest<B>
where
    B: Body + 'static,
{
    #[allow(clippy::result_large_err)] // the error hands the request back, as upstream's does
    fn queue(
        &mut self,
        req: Request<B>,
    ) -> Result<oneshot::Receiver<proto::Reply<B>>, TrySendError<Request<B>>> {
        let (reply, rx) = oneshot::channel();
        match self.tx.send(Envelope::new(req, reply)) {
            Ok(()) => Ok(rx),
            Err(refused) => Err(TrySendError {
                error: crate::Error::new_canceled(),
                message: refused.0.into_request(),
            }),
        }
    }

    /// Sends a request and resolves to its response head; the body streams in as the
    /// application reads it.
    ///
    /// The request's URI must be absolute (HTTP/2 sends its scheme and authority).
    pub fn send_request(
        &mut self,
        req: Request<B>,
    ) -> impl Future<Output = crate::Result<Response<Incoming>>> {
        let queued = self.try_send_request(req);
        async move { queued.await.map_err(TrySendError::into_error) }
    }

    /// Like [`send_request`](Self::send_request), but a request that was never sent comes
    /// back inside the error, for a retry on another connection.
    #[allow(clippy::result_large_err)]
    pub fn try_send_request(
        &mut self,
        req: Request<B>,
    ) -> impl Future<Output = Result<Response<Incoming>, TrySendError<Request<B>>>> {
        let queued = self.queue(req);
        async move {
            match queued?.await {
                Ok(result) => result,
                // The connection task went away with the request queued.
                Err(_) => Err(TrySendError {
                    error: crate::Error::new_canceled(),
                    message: None,
                }),
            }
        }
    }
}

/// The HTTP/2 connection: a future that drives the transport and every stream on it.
#[must_use = "futures do nothing unless polled"]
pub struct Connection<T, B, E> {
    conn: ClientConn<T, B, E>,
}

// Nothing inside is pinned in place: request bodies are only moved until a stream takes them,
// and then they live boxed in that stream's task.
impl<T, B, E> Unpin for Connection<T, B, E> {}

impl<T: Read + Write + Unpin, B, E> Connection<T, B, E> {
    /// Whether the server allows extended CONNECT (RFC 8441), so a CONNECT request may carry
    /// an [`ext::Protocol`](crate::ext::Protocol).
    pub fn is_extended_connect_protocol_enabled(&self) -> bool {
        self.conn.is_extended_connect_protocol_enabled()
    }

    /// How many streams this side may open at once, as the server last said.
    pub fn current_max_send_streams(&self) -> usize {
        self.conn.current_max_send_streams()
    }

    /// How many streams the server may open at once.
    pub fn current_max_recv_streams(&self) -> usize {
        self.conn.current_max_recv_streams()
    }
}

impl<T, B, E> fmt::Debug for Connection<T, B, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection").finish_non_exhaustive()
    }
}

/// Drives the connection; completes when it closes (every `SendRequest` dropped and the
/// streams done, or the server went away), with an error if it failed.
impl<T, B, E> Future for Connection<T, B, E>
where
    E: Http2ClientConnExec<B, T>,
    B: Body + 'static,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
    T: Read + Write + Unpin,
{
    type Output = crate::Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.conn.poll_conn(cx)
    }
}

/// Configures HTTP/2 client connections.
///
/// The defaults are upstream hyper's: a 2 MiB stream window and a 5 MiB connection window,
/// up to 100 streams until the server says otherwise, 16 KiB of headers, 1 MiB of send buffer
/// per stream, no keep-alive pings.
#[derive(Clone, Debug)]
pub struct Builder<Ex> {
    exec: Ex,
    pub(crate) config: Config,
}

/// Performs the HTTP/2 handshake on `io` with the default settings.
pub async fn handshake<E, T, B>(
    exec: E,
    io: T,
) -> crate::Result<(SendRequest<B>, Connection<T, B, E>)>
where
    E: Http2ClientConnExec<B, T>,
    B: Body + 'static,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
    T: Read + Write + Unpin,
{
    let builder = Builder::new(exec);
    builder.handshake(io).await
}

// The setters the server's builder has too are in `proto::h2::shared_setters`.
impl<Ex> Builder<Ex>
where
    Ex: Clone,
{
    /// Applies a setting of this role's.
    fn with(&mut self, change: impl FnOnce(&mut Config)) -> &mut Self {
        change(&mut self.config);
        self
    }

    /// A builder whose connections run their background tasks on `exec`.
    pub fn new(exec: Ex) -> Builder<Ex> {
        Builder {
            exec,
            config: Config::default(),
        }
    }

    /// The executor the connections this builder makes will spawn their tasks on.
    pub fn executor(&self) -> &Ex {
        &self.exec
    }

    /// The timer for keep-alive pings; without one, `keep_alive_interval` has no effect.
    pub fn timer<M>(&mut self, timer: M) -> &mut Builder<Ex>
    where
        M: Timer + Send + Sync + 'static,
    {
        self.with(|c| c.settings.timer(Arc::new(timer)))
    }

    /// How many streams to allow before the server's SETTINGS arrive (default 100).
    pub fn initial_max_send_streams(&mut self, initial: impl Into<Option<usize>>) -> &mut Self {
        match initial.into() {
            Some(n) => self.with(|c| {
                c.settings.h2_mut().initial_max_send_streams(n);
            }),
            None => self,
        }
    }

    /// The largest frame payload the server may send (default 16 KiB); `None` leaves it out
    /// of the SETTINGS frame.
    pub fn max_frame_size(&mut self, sz: impl Into<Option<u32>>) -> &mut Self {
        let sz = sz.into();
        self.with(|c| c.settings.frame_limit(sz))
    }

    /// Whether to keep pinging while no stream is open (default `false`: an idle connection
    /// is not pinged, and so cannot time out).
    pub fn keep_alive_while_idle(&mut self, enabled: bool) -> &mut Self {
        self.with(|c| c.keep_alive_while_idle = enabled)
    }

    /// How long a locally reset stream is remembered (to ignore frames still in flight).
    pub fn reset_stream_duration(&mut self, dur: Duration) -> &mut Self {
        self.with(|c| {
            c.settings.h2_mut().reset_stream_duration(dur);
        })
    }

    /// How many locally reset streams are remembered at once.
    pub fn max_concurrent_reset_streams(&mut self, max: usize) -> &mut Self {
        self.with(|c| {
            c.settings.h2_mut().max_concurrent_reset_streams(max);
        })
    }

    /// Performs the handshake on `io` with these settings.
    pub fn handshake<T, B>(
        &self,
        io: T,
    ) -> impl Future<Output = crate::Result<(SendRequest<B>, Connection<T, B, Ex>)>>
    where
        Ex: Http2ClientConnExec<B, T>,
        B: Body + 'static,
        B::Error: Into<Box<dyn StdError + Send + Sync>>,
        T: Read + Write + Unpin,
    {
        let config = self.config.clone();
        let exec = self.exec.clone();
        async move {
            let (tx, conn) = proto::handshake(io, &config, exec).await?;
            Ok((
                SendRequest {
                    tx,
                    _unwind: PhantomData,
                },
                Connection { conn },
            ))
        }
    }
}
