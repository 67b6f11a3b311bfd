//! HTTP/2 server connections.
//!
//! `Builder::new(executor)` configures a connection and `serve_connection` starts it on a
//! transport; the returned [`Connection`] is a future that drives the whole connection (every
//! stream's response runs as a task on the executor) and completes when the connection is
//! closed, after the peer has been sent everything.
use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http_body::Body;

use crate::body::Incoming;
use crate::proto::h2::server::{Config, Server};
use crate::rt::bounds::Http2ServerConnExec;
use crate::rt::{Read, Timer, Write};
use crate::service::HttpService;

/// A future that serves HTTP/2 on one transport.
#[must_use = "futures do nothing unless polled"]
pub struct Connection<T, S, E>
where
    S: HttpService<Incoming>,
{
    server: Server<T, S, E>,
}

impl<T, S, E> fmt::Debug for Connection<T, S, E>
where
    S: HttpService<Incoming>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection").finish_non_exhaustive()
    }
}

impl<T: Read + Write + Unpin, S: HttpService<Incoming>, E> Connection<T, S, E> {
    /// Starts a graceful shutdown: sends GOAWAY so the client opens no new streams, lets the
    /// streams in flight finish, then completes.
    ///
    /// Call it on a connection that is being polled, and keep polling it until it completes.
    pub fn graceful_shutdown(mut self: Pin<&mut Self>) {
        self.server.graceful_shutdown();
    }
}

/// Drives the connection; completes once it is closed (after a graceful shutdown, or when the
/// client went away) and everything owed to the client was handed to the transport.
impl<T, S, E> Future for Connection<T, S, E>
where
    E: Http2ServerConnExec<S::Future, S::ResBody>,
    S: HttpService<Incoming>,
    T: Read + Write + Unpin,
{
    type Output = crate::Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.server.poll_serve(cx)
    }
}

impl<T, S, E> Unpin for Connection<T, S, E> where S: HttpService<Incoming> {}

/// Configures HTTP/2 server connections.
///
/// The defaults are upstream hyper's: 1 MiB stream and connection windows, 16 KiB frames, 200
/// concurrent streams, 16 KiB of headers, 400 KiB of send buffer per stream, no keep-alive
/// pings, a `Date` header on every response.
#[derive(Clone, Debug)]
pub struct Builder<E> {
    exec: E,
    pub(crate) config: Config,
}

// The setters the client's builder has too are in `proto::h2::shared_setters`.
impl<E> Builder<E> {
    /// Applies a setting of this role's.
    fn with(&mut self, change: impl FnOnce(&mut Config)) -> &mut Self {
        change(&mut self.config);
        self
    }

    /// A builder whose connections run their stream tasks on `exec`.
    pub fn new(exec: E) -> Self {
        Builder {
            exec,
            config: Config::default(),
        }
    }

    /// The executor the connections this builder serves will spawn their stream tasks on.
    pub fn executor(&self) -> &E {
        &self.exec
    }

    /// The largest frame payload the peer may send (default 16 KiB). `None` keeps the default.
    pub fn max_frame_size(&mut self, sz: impl Into<Option<u32>>) -> &mut Self {
        // Unlike the client's, `None` does not take the size out of the SETTINGS frame.
        match sz.into() {
            Some(sz) => self.with(|c| c.settings.frame_limit(Some(sz))),
            None => self,
        }
    }

    /// Accepts extended CONNECT requests (RFC 8441); their `:protocol` appears as an
    /// [`ext::Protocol`](crate::ext::Protocol) in the request's extensions.
    pub fn enable_connect_protocol(&mut self) -> &mut Self {
        self.with(|c| c.connect_protocol = true)
    }

    /// The timer for keep-alive pings; without one, `keep_alive_interval` has no effect.
    pub fn timer<M>(&mut self, timer: M) -> &mut Self
    where
        M: Timer + Send + Sync + 'static,
    {
        self.with(|c| c.settings.timer(Arc::new(timer)))
    }

    /// Sets whether every response gets a `Date` header (default `true`).
    pub fn auto_date_header(&mut self, enabled: bool) -> &mut Self {
        self.with(|c| c.date_header = enabled)
    }

    /// Serves `service` on `io`; the connection runs when the returned future is polled.
    pub fn serve_connection<S, I, Bd>(&self, io: I, service: S) -> Connection<I, S, E>
    where
        I: Read + Write + Unpin,
        E: Http2ServerConnExec<S::Future, Bd>,
        Bd: Body + 'static,
        S: HttpService<Incoming, ResBody = Bd>,
        S::Error: Into<Box<dyn StdError + Send + Sync>>,
        Bd::Error: Into<Box<dyn StdError + Send + Sync>>,
    {
        Connection {
            server: Server::new(io, service, &self.config, self.exec.clone()),
        }
    }
}
