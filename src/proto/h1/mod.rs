//! HTTP/1.x: the sans-IO pieces (head parsing and encoding, body framing, the output buffer)
//! and the connection drivers built on them.
//!
//! - [`request_head`], [`response_head`]: message heads, pure functions over buffers.
//! - [`body_decoder`], [`body_encoder`]: body framing, also free of IO.
//! - [`out_buf`]: the single buffer of bytes encoded and not yet written.
//! - [`transport`]: the IO object with its buffers; the only place that writes, shuts down or
//!   releases the IO, and only after draining.
//! - [`server`], [`client`]: the two connection drivers.

// The codecs serve both roles; a build with only one of them leaves parts of them unused.
#![cfg_attr(
    not(all(feature = "client", feature = "server")),
    allow(dead_code, unused_imports)
)]

#[cfg(all(test, feature = "server"))]
mod bare_response_tests;
pub(crate) mod body_decoder;
pub(crate) mod body_encoder;
pub(crate) mod body_pump;
pub(crate) mod buffer_pool;
#[cfg(feature = "client")]
pub(crate) mod client;
#[cfg(all(test, feature = "client", feature = "server"))]
mod codec_roundtrip_tests;

// The explorer drives both roles against each other.
#[cfg(all(test, feature = "client", feature = "server"))]
mod explore;
pub(crate) mod head_scan;
pub(crate) mod header_values;
pub(crate) mod injected_bugs;
pub(crate) mod out_buf;
pub(crate) mod request_head;
pub(crate) mod response_head;
#[cfg(feature = "server")]
pub(crate) mod server;
#[cfg(all(test, feature = "server"))]
mod server_io_tests;
pub(crate) mod transport;

/// The smallest `max_buf_size` a connection accepts: one initial read must fit.
pub(crate) const MINIMUM_MAX_BUFFER_SIZE: usize = 8192;
/// Default limit for buffered input (an incomplete head) and output.
pub(crate) const DEFAULT_MAX_BUFFER_SIZE: usize = 8192 + 4096 * 100;
