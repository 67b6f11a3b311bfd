//! The setters `client::conn::http2::Builder` and `server::conn::http2::Builder` share.
//!
//! Each is the same method on both builders (same signature, same [`Settings`] call), so it is
//! written once here, with the documentation of each role beside the other: the defaults and
//! the peer they talk about differ. Setters whose behaviour differs per role (`max_frame_size`,
//! whose `None` means something else on each side) or that only one role has stay with their
//! builder, as do `new`, `executor` and `timer`.
//!
//! [`Settings`]: super::settings::Settings
use std::time::Duration;

/// Defines, for each entry, the method `$name` on both builders: it hands its argument to the
/// [`Settings`](super::settings::Settings) method `$setting` and returns the builder. The doc
/// attributes before `for client;` document the client's method, those before `for server;`
/// the server's.
macro_rules! shared_setters {
    ($(
        $(#[$client_doc:meta])*
        for client;
        $(#[$server_doc:meta])*
        for server;
        pub fn $name:ident(&mut self, $arg:ident: $ty:ty) => $setting:ident;
    )*) => {
        #[cfg(feature = "client")]
        impl<Ex> crate::client::conn::http2::Builder<Ex>
        where
            Ex: Clone,
        {
            $(
                $(#[$client_doc])*
                pub fn $name(&mut self, $arg: $ty) -> &mut Self {
                    self.config.settings.$setting($arg);
                    self
                }
            )*
        }

        #[cfg(feature = "server")]
        impl<E> crate::server::conn::http2::Builder<E> {
            $(
                $(#[$server_doc])*
                pub fn $name(&mut self, $arg: $ty) -> &mut Self {
                    self.config.settings.$setting($arg);
                    self
                }
            )*
        }
    };
}

shared_setters! {
    /// `SETTINGS_INITIAL_WINDOW_SIZE` for streams (default 2 MiB). `None` keeps the default.
    for client;
    /// The `SETTINGS_INITIAL_WINDOW_SIZE` for streams (default 1 MiB). `None` keeps the default.
    for server;
    pub fn initial_stream_window_size(&mut self, sz: impl Into<Option<u32>>) => stream_window;

    /// The connection-level window (default 5 MiB). `None` keeps the default.
    for client;
    /// The connection-level flow-control window (default 1 MiB). `None` keeps the default.
    for server;
    pub fn initial_connection_window_size(&mut self, sz: impl Into<Option<u32>>) => connection_window;

    /// Sizes the flow-control windows from the measured bandwidth-delay product: they start at
    /// the protocol's 64 KiB and grow (up to 16 MiB) while data fills them within a PING round
    /// trip. Setting a window size explicitly turns this off again.
    for client;
    /// Sizes the flow-control windows from the measured bandwidth-delay product: they start at
    /// the protocol's 64 KiB and grow (up to 16 MiB) while data fills them within a PING round
    /// trip. Setting a window size explicitly turns this off again.
    for server;
    pub fn adaptive_window(&mut self, enabled: bool) => adaptive_window;

    /// The largest header list the server may send (default 16 KiB).
    for client;
    /// The largest header list the peer may send (default 16 KiB).
    for server;
    pub fn max_header_list_size(&mut self, max: u32) => header_list_limit;

    /// The HPACK dynamic table size the server may use.
    for client;
    /// The HPACK dynamic table size the peer may use (`SETTINGS_HEADER_TABLE_SIZE`).
    for server;
    pub fn header_table_size(&mut self, size: impl Into<Option<u32>>) => hpack_table;

    /// `SETTINGS_MAX_CONCURRENT_STREAMS` this side announces (streams the server may push).
    for client;
    /// `SETTINGS_MAX_CONCURRENT_STREAMS` (default 200); `None` sets no limit.
    for server;
    pub fn max_concurrent_streams(&mut self, max: impl Into<Option<u32>>) => stream_limit;

    /// Sends a PING every `interval` (needs a `timer`); `None` disables.
    for client;
    /// Sends a PING after this much time without one (needs a `timer`); `None` disables.
    for server;
    pub fn keep_alive_interval(&mut self, interval: impl Into<Option<Duration>>) => keep_alive_interval;

    /// How long to wait for a PING's acknowledgement before the connection fails with an
    /// error for which `is_timeout()` is true (default 20 s).
    for client;
    /// How long to wait for a PING's acknowledgement before closing the connection with an
    /// error for which `is_timeout()` is true (default 20 s).
    for server;
    pub fn keep_alive_timeout(&mut self, timeout: Duration) => keep_alive_timeout;

    /// How many bytes a stream may have buffered for sending (default 1 MiB).
    for client;
    /// How many bytes a stream may have buffered for sending (default 400 KiB).
    for server;
    pub fn max_send_buf_size(&mut self, max: usize) => send_buffer;

    /// How many streams the server may open and reset before they are accepted.
    for client;
    /// How many streams the peer may open and reset before they are accepted (a defence
    /// against rapid-reset floods); `None` keeps `h2`'s default.
    for server;
    pub fn max_pending_accept_reset_streams(&mut self, max: impl Into<Option<usize>>) => pending_reset_limit;

    /// How many streams this side may reset because of the server's errors before the
    /// connection is closed (default 1024); `None` sets no limit.
    for client;
    /// How many streams this side may reset because of the peer's errors before the
    /// connection is closed (default 1024); `None` sets no limit.
    for server;
    pub fn max_local_error_reset_streams(&mut self, max: impl Into<Option<usize>>) => error_reset_limit;
}

#[cfg(test)]
mod tests {
    #[derive(Clone, Debug, PartialEq)]
    struct Named(&'static str);

    // Adaptive windows are the one shared setting a test can observe from outside `h2`: they
    // need the PING driver, and an explicit window size turns them off again.

    #[cfg(feature = "client")]
    #[test]
    fn the_client_builder_keeps_its_executor_and_hands_shared_settings_on() {
        let mut builder = crate::client::conn::http2::Builder::new(Named("pool-a"));
        builder.adaptive_window(true);
        assert!(builder.config.settings.pings(false).is_some());
        builder.initial_stream_window_size(1 << 16);
        assert!(builder.config.settings.pings(false).is_none());
        assert_eq!(builder.clone().executor(), &Named("pool-a"));
    }

    #[cfg(feature = "server")]
    #[test]
    fn the_server_builder_keeps_its_executor_and_hands_shared_settings_on() {
        let mut builder = crate::server::conn::http2::Builder::new(Named("streams"));
        builder.adaptive_window(true);
        assert!(builder.config.settings.pings(true).is_some());
        builder.initial_connection_window_size(1 << 16);
        assert!(builder.config.settings.pings(true).is_none());
        assert_eq!(builder.executor(), &Named("streams"));
    }
}
