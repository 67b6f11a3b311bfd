//! HTTP/1.x: the sans-IO pieces (head parsing and encoding, body framing, the output buffer)
//! and the connection drivers built on them.
//!
//! - [`request_head`], [`response_head`]: message heads, pure functions over buffers.
//! - [`body_decoder`], [`body_encoder`]: body framing, also free of IO.
//! - [`body_pump`]: feeds an outgoing body through its encoder into the output buffer.
//! - [`out_buf`]: the single buffer of bytes encoded and not yet written. It holds them in
//!   order and writes them to the IO it is lent; it never shuts the IO down or lets it go.
//! - [`transport`]: the IO object with its read buffer and the output buffer; the only owner
//!   of the IO. It alone shuts the IO down (`Transport::poll_end`) or gives it away
//!   (`Transport::release_after`): shutting down needs the `Drained` proof that only writing
//!   and flushing everything owed creates, and a release without it reports the bytes lost
//!   (the public `into_parts` called early, or a transport that failed).
//! - [`server`], [`client`]: the two connection drivers. They decide that a connection ends
//!   (no keep-alive, an error, a graceful shutdown, an upgrade) and then go through the
//!   transport's ending, which decides when: once nothing encoded is unwritten.
//!
//! Test support (the interleaving explorer, tests spanning several of these pieces) lives in
//! `testing`, compiled only into the crate's own tests; `injected_bugs` holds the switches the
//! explorer uses to put upstream's bugs back, beside the code that consults them.

// The codecs serve both roles; a build with only one of them leaves parts of them unused.
#![cfg_attr(
    not(all(feature = "client", feature = "server")),
    allow(dead_code, unused_imports)
)]

pub(crate) mod body_pump;
pub(crate) mod buffer_pool;
#[cfg(feature = "client")]
pub(crate) mod client;
pub(crate) mod conn_options;
pub(crate) mod field_names;
pub(crate) mod framing;
pub(crate) mod head_encode;
pub(crate) mod head_parse;
pub(crate) mod header_values;
pub(crate) mod injected_bugs;
pub(crate) mod out_buf;
#[cfg(feature = "server")]
pub(crate) mod server;
#[cfg(test)]
mod testing;
pub(crate) mod transport;

/// The smallest `max_buf_size` a connection accepts: one initial read must fit.
pub(crate) const MINIMUM_MAX_BUFFER_SIZE: usize = 8192;
/// Default limit for buffered input (an incomplete head) and output.
pub(crate) const DEFAULT_MAX_BUFFER_SIZE: usize = 8192 + 4096 * 100;
