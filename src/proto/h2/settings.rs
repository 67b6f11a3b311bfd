//! The HTTP/2 connection settings both roles share.
//!
//! `client::conn::http2::Builder` and `server::conn::http2::Builder` offer the same knobs for
//! flow-control windows, frame and header-list sizes, stream limits, send buffering and
//! keep-alive. [`Settings`] holds them and implements each knob once, over either role's `h2`
//! builder; the public setters both builders have are generated from one list in
//! `shared_setters`, each a call into it. What only one role has (the client's
//! initial stream allowance, reset-stream memory and idle pings, the server's `Date` header
//! and extended CONNECT) stays in that role's `Config`.
//!
//! The defaults differ per role (upstream hyper's values), see [`Defaults`].
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::ping::{KeepAliveConfig, Pings, ADAPTIVE_START};
use crate::rt::Timer;

/// The `h2` builder calls [`Settings`] makes, on either role's builder.
///
/// `h2::client::Builder` and `h2::server::Builder` have these methods under the same names but
/// share no trait; this one names them so the settings need to be written only once.
pub(crate) trait H2Builder: Clone + fmt::Debug {
    fn stream_window(&mut self, size: u32);
    fn connection_window(&mut self, size: u32);
    fn frame_size(&mut self, size: u32);
    fn header_list_limit(&mut self, max: u32);
    fn hpack_table(&mut self, size: u32);
    fn stream_limit(&mut self, max: u32);
    fn send_buffer(&mut self, max: usize);
    fn pending_reset_limit(&mut self, max: usize);
    fn error_reset_limit(&mut self, max: Option<usize>);
}

/// Implements [`H2Builder`] for one of `h2`'s builders by forwarding to its own methods.
macro_rules! h2_builder {
    ($builder:ty) => {
        impl H2Builder for $builder {
            fn stream_window(&mut self, size: u32) {
                self.initial_window_size(size);
            }
            fn connection_window(&mut self, size: u32) {
                self.initial_connection_window_size(size);
            }
            fn frame_size(&mut self, size: u32) {
                self.max_frame_size(size);
            }
            fn header_list_limit(&mut self, max: u32) {
                self.max_header_list_size(max);
            }
            fn hpack_table(&mut self, size: u32) {
                self.header_table_size(size);
            }
            fn stream_limit(&mut self, max: u32) {
                self.max_concurrent_streams(max);
            }
            fn send_buffer(&mut self, max: usize) {
                self.max_send_buffer_size(max);
            }
            fn pending_reset_limit(&mut self, max: usize) {
                self.max_pending_accept_reset_streams(max);
            }
            fn error_reset_limit(&mut self, max: Option<usize>) {
                self.max_local_error_reset_streams(max);
            }
        }
    };
}

#[cfg(feature = "client")]
h2_builder!(h2::client::Builder);
#[cfg(feature = "server")]
h2_builder!(h2::server::Builder);

/// What a role starts from where the roles differ.
pub(crate) struct Defaults {
    pub(crate) stream_window: u32,
    pub(crate) connection_window: u32,
    pub(crate) send_buffer: usize,
    pub(crate) stream_limit: Option<u32>,
}

/// One role's shared settings over its `h2` builder `B`.
///
/// Everything `h2` enforces and can take as a plain value lives in its builder. Beside it
/// are what `h2`'s builder cannot unset once set (the frame size, HPACK table and stream
/// limits, which `None` leaves out of the SETTINGS frame), handed to a copy of it at each
/// handshake, and what this crate does itself (adaptive windows, keep-alive pings).
#[derive(Clone)]
pub(crate) struct Settings<B> {
    h2: B,
    frame_limit: Option<u32>,
    hpack_table: Option<u32>,
    stream_limit: Option<u32>,
    pending_reset_limit: Option<usize>,
    /// Set explicitly, a window size turns this off again.
    adaptive_window: bool,
    /// PING after this long without reads; it takes a `timer` to happen.
    keep_alive_interval: Option<Duration>,
    /// How long a PING may go unanswered before the connection fails.
    keep_alive_timeout: Duration,
    timer: Option<Arc<dyn Timer + Send + Sync>>,
}

impl<B: fmt::Debug> fmt::Debug for Settings<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("h2", &self.h2)
            .field("frame_limit", &self.frame_limit)
            .field("hpack_table", &self.hpack_table)
            .field("stream_limit", &self.stream_limit)
            .field("pending_reset_limit", &self.pending_reset_limit)
            .field("adaptive_window", &self.adaptive_window)
            .field("keep_alive_interval", &self.keep_alive_interval)
            .field("keep_alive_timeout", &self.keep_alive_timeout)
            .field("timer", &self.timer.is_some())
            .finish()
    }
}

impl<B: H2Builder> Settings<B> {
    /// `h2` with the values both roles start from (upstream hyper's: 16 KiB frames and header
    /// lists, 1024 resets caused by the peer's errors, no pings) and the role's `defaults`.
    /// Role-only `h2` settings are expected on `h2` already.
    pub(crate) fn new(mut h2: B, defaults: Defaults) -> Self {
        h2.stream_window(defaults.stream_window);
        h2.connection_window(defaults.connection_window);
        h2.send_buffer(defaults.send_buffer);
        h2.header_list_limit(1 << 14);
        h2.error_reset_limit(Some(1024));
        Settings {
            h2,
            frame_limit: Some(1 << 14),
            hpack_table: None,
            stream_limit: defaults.stream_limit,
            pending_reset_limit: None,
            adaptive_window: false,
            keep_alive_interval: None,
            keep_alive_timeout: Duration::from_secs(20),
            timer: None,
        }
    }

    /// The role's own `h2` settings (only the client has some the server lacks).
    #[cfg(feature = "client")]
    pub(crate) fn h2_mut(&mut self) -> &mut B {
        &mut self.h2
    }

    pub(crate) fn timer(&mut self, timer: Arc<dyn Timer + Send + Sync>) {
        self.timer = Some(timer);
    }

    pub(crate) fn keep_alive_interval(&mut self, interval: impl Into<Option<Duration>>) {
        self.keep_alive_interval = interval.into();
    }

    pub(crate) fn keep_alive_timeout(&mut self, timeout: Duration) {
        self.keep_alive_timeout = timeout;
    }

    /// `None` keeps the current size; a size turns `adaptive_window` off.
    pub(crate) fn stream_window(&mut self, size: impl Into<Option<u32>>) {
        if let Some(size) = size.into() {
            self.adaptive_window = false;
            self.h2.stream_window(size);
        }
    }

    /// `None` keeps the current size; a size turns `adaptive_window` off.
    pub(crate) fn connection_window(&mut self, size: impl Into<Option<u32>>) {
        if let Some(size) = size.into() {
            self.adaptive_window = false;
            self.h2.connection_window(size);
        }
    }

    pub(crate) fn adaptive_window(&mut self, enabled: bool) {
        self.adaptive_window = enabled;
    }

    /// `None` leaves the frame size out of the SETTINGS frame (the protocol's 16 KiB apply).
    pub(crate) fn frame_limit(&mut self, size: Option<u32>) {
        self.frame_limit = size;
    }

    pub(crate) fn header_list_limit(&mut self, max: u32) {
        self.h2.header_list_limit(max);
    }

    pub(crate) fn hpack_table(&mut self, size: impl Into<Option<u32>>) {
        self.hpack_table = size.into();
    }

    pub(crate) fn stream_limit(&mut self, max: impl Into<Option<u32>>) {
        self.stream_limit = max.into();
    }

    pub(crate) fn send_buffer(&mut self, max: usize) {
        self.h2.send_buffer(max);
    }

    /// `None` keeps `h2`'s default.
    pub(crate) fn pending_reset_limit(&mut self, max: impl Into<Option<usize>>) {
        self.pending_reset_limit = max.into();
    }

    /// `None` sets no limit.
    pub(crate) fn error_reset_limit(&mut self, max: impl Into<Option<usize>>) {
        self.h2.error_reset_limit(max.into());
    }

    /// The `h2` builder a handshake uses: `h2`'s settings with the rest applied.
    pub(crate) fn h2_builder(&self) -> B {
        let mut b = self.h2.clone();
        if self.adaptive_window {
            // Start from the protocol's default windows and grow them from measurements.
            b.stream_window(ADAPTIVE_START);
            b.connection_window(ADAPTIVE_START);
        }
        if let Some(size) = self.frame_limit {
            b.frame_size(size);
        }
        if let Some(size) = self.hpack_table {
            b.hpack_table(size);
        }
        if let Some(max) = self.stream_limit {
            b.stream_limit(max);
        }
        if let Some(max) = self.pending_reset_limit {
            b.pending_reset_limit(max);
        }
        b
    }

    /// The PING driver of a connection, if keep-alive (which takes a timer) or
    /// `adaptive_window` wants one; `while_idle` pings even with no stream open.
    pub(crate) fn pings(&self, while_idle: bool) -> Option<Pings> {
        let keep_alive =
            self.keep_alive_interval
                .zip(self.timer.clone())
                .map(|(interval, timer)| KeepAliveConfig {
                    interval,
                    timeout: self.keep_alive_timeout,
                    while_idle,
                    timer,
                });
        Pings::new(keep_alive, self.adaptive_window)
    }
}

#[cfg(all(test, feature = "server"))]
mod tests {
    use super::{Defaults, Settings};

    fn settings() -> Settings<h2::server::Builder> {
        let defaults = Defaults {
            stream_window: 1 << 20,
            connection_window: 1 << 20,
            send_buffer: 1 << 16,
            stream_limit: None,
        };
        Settings::new(h2::server::Builder::new(), defaults)
    }

    #[test]
    fn an_explicit_window_size_turns_adaptive_windows_off() {
        let mut s = settings();
        s.adaptive_window(true);
        s.stream_window(None);
        assert!(s.adaptive_window, "`None` keeps the windows as they are");
        s.connection_window(1 << 18);
        assert!(!s.adaptive_window);
        s.adaptive_window(true);
        s.stream_window(1 << 18);
        assert!(!s.adaptive_window);
    }

    #[test]
    fn keep_alive_without_a_timer_and_fixed_windows_need_no_pings() {
        let mut s = settings();
        s.keep_alive_interval(std::time::Duration::from_secs(1));
        assert!(s.pings(true).is_none());
        s.adaptive_window(true);
        assert!(
            s.pings(true).is_some(),
            "adaptive windows are measured with pings"
        );
    }
}
