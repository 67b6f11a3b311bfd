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
use std::time::Duration;

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
#[derive(Clone)]
pub struct Builder<E> {
    exec: E,
    timer: Option<Arc<dyn Timer + Send + Sync>>,
    config: Config,
}

impl<E> fmt::Debug for Builder<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("config", &self.config)
            .field("timer", &self.timer.is_some())
            .finish_non_exhaustive()
    }
}

impl<E> Builder<E> {
    fn with(&mut self, change: impl FnOnce(&mut Config)) -> &mut Self {
        change(&mut self.config);
        self
    }

    /// A builder whose connections run their stream tasks on `exec`.
    pub fn new(exec: E) -> Self {
        Builder {
            exec,
            timer: None,
            config: Config::default(),
        }
    }

    /// The executor the connections this builder serves will spawn their stream tasks on.
    pub fn executor(&self) -> &E {
        &self.exec
    }

    /// Sets whether every response gets a `Date` header (default `true`).
    pub fn auto_date_header(&mut self, enabled: bool) -> &mut Self {
        self.with(|c| c.date_header = enabled)
    }

    /// The timer for keep-alive pings; without one, `keep_alive_interval` has no effect.
    pub fn timer<M>(&mut self, timer: M) -> &mut Self
    where
        M: Timer + Send + Sync + 'static,
    {
        self.timer = Some(Arc::new(timer));
        self
    }

    /// Sends a PING after this much time without one (needs a `timer`); `None` disables.
    pub fn keep_alive_interval(&mut self, interval: impl Into<Option<Duration>>) -> &mut Self {
        let interval = interval.into();
        self.with(|c| c.keep_alive.0 = interval)
    }

    /// How long to wait for a PING's acknowledgement before closing the connection with an
    /// error for which `is_timeout()` is true (default 20 s).
    pub fn keep_alive_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.with(|c| c.keep_alive.1 = timeout)
    }

    /// The `SETTINGS_INITIAL_WINDOW_SIZE` for streams (default 1 MiB). `None` keeps the default.
    pub fn initial_stream_window_size(&mut self, sz: impl Into<Option<u32>>) -> &mut Self {
        if let Some(sz) = sz.into() {
            self.with(|c| {
                c.adaptive_window = false;
                c.h2.initial_window_size(sz);
            });
        }
        self
    }

    /// The connection-level flow-control window (default 1 MiB). `None` keeps the default.
    pub fn initial_connection_window_size(&mut self, sz: impl Into<Option<u32>>) -> &mut Self {
        if let Some(sz) = sz.into() {
            self.with(|c| {
                c.adaptive_window = false;
                c.h2.initial_connection_window_size(sz);
            });
        }
        self
    }

    /// Sizes the flow-control windows from the measured bandwidth-delay product: they start at
    /// the protocol's 64 KiB and grow (up to 16 MiB) while data fills them within a PING round
    /// trip. Setting a window size explicitly turns this off again.
    pub fn adaptive_window(&mut self, enabled: bool) -> &mut Self {
        self.with(|c| c.adaptive_window = enabled)
    }

    /// The largest frame payload the peer may send (default 16 KiB). `None` keeps the default.
    pub fn max_frame_size(&mut self, sz: impl Into<Option<u32>>) -> &mut Self {
        if let Some(sz) = sz.into() {
            self.with(|c| {
                c.h2.max_frame_size(sz);
            });
        }
        self
    }

    /// `SETTINGS_MAX_CONCURRENT_STREAMS` (default 200); `None` sets no limit.
    pub fn max_concurrent_streams(&mut self, max: impl Into<Option<u32>>) -> &mut Self {
        let max = max.into();
        self.with(|c| c.stream_limit = max)
    }

    /// How many streams the peer may open and reset before they are accepted (a defence
    /// against rapid-reset floods); `None` keeps `h2`'s default.
    pub fn max_pending_accept_reset_streams(&mut self, max: impl Into<Option<usize>>) -> &mut Self {
        let max = max.into();
        self.with(|c| c.pending_reset_limit = max)
    }

    /// How many streams this side may reset because of the peer's errors before the
    /// connection is closed (default 1024); `None` sets no limit.
    pub fn max_local_error_reset_streams(&mut self, max: impl Into<Option<usize>>) -> &mut Self {
        let max = max.into();
        self.with(|c| {
            c.h2.max_local_error_reset_streams(max);
        })
    }

    /// How many bytes a stream may have buffered for sending (default 400 KiB).
    pub fn max_send_buf_size(&mut self, max: usize) -> &mut Self {
        self.with(|c| {
            c.h2.max_send_buffer_size(max);
        })
    }

    /// Accepts extended CONNECT requests (RFC 8441); their `:protocol` appears as an
    /// [`ext::Protocol`](crate::ext::Protocol) in the request's extensions.
    pub fn enable_connect_protocol(&mut self) -> &mut Self {
        self.with(|c| c.connect_protocol = true)
    }

    /// The HPACK dynamic table size the peer may use (`SETTINGS_HEADER_TABLE_SIZE`).
    pub fn header_table_size(&mut self, size: impl Into<Option<u32>>) -> &mut Self {
        let size = size.into();
        self.with(|c| c.hpack_table = size)
    }

    /// The largest header list the peer may send (default 16 KiB).
    pub fn max_header_list_size(&mut self, max: u32) -> &mut Self {
        self.with(|c| {
            c.h2.max_header_list_size(max);
        })
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
            server: Server::new(
                io,
                service,
                &self.config,
                self.exec.clone(),
                self.timer.clone(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Builder;

    #[test]
    fn the_builder_hands_back_the_executor_it_was_made_with() {
        #[derive(Clone, Debug, PartialEq)]
        struct Named(&'static str);
        let mut builder = Builder::new(Named("streams"));
        builder.max_concurrent_streams(10);
        assert_eq!(builder.executor(), &Named("streams"));
    }
}
