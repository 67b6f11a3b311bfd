//! HTTP/1.x: the sans-IO pieces (head parsing and encoding, body framing, the output buffer)
//! and the connection engine built on them.
//!
//! - [`head_parse`], [`head_encode`]: message heads by direction, pure functions over buffers.
//! - [`framing`]: body framing (decoding and encoding), also free of IO.
//! - [`body_pump`]: feeds an outgoing body through its encoder into the output buffer; a
//!   received body is read piece by piece with
//!   [`Transport::poll_body_piece`](transport::Transport::poll_body_piece).
//! - [`out_buf`]: the single buffer of bytes encoded and not yet written. It holds them in
//!   order and writes them to the IO it is lent; it never shuts the IO down or lets it go.
//! - [`transport`]: the IO object with its read buffer and the output buffer; the only owner
//!   of the IO. It alone shuts the IO down (`Transport::poll_end`) or gives it away
//!   (`Transport::release_after`): shutting down needs the `Drained` proof that only writing
//!   and flushing everything owed creates, and a release without it reports the bytes lost
//!   (the public `into_parts` called early, or a transport that failed).
//! - [`engine`]: the connection both roles share: the exchange loop, receiving and sending
//!   bodies, and the ending. It decides that a connection ends (no keep-alive, an error, a
//!   graceful shutdown, an upgrade) and then goes through the transport's ending, which
//!   decides when: once nothing encoded is unwritten.
//! - [`server`], [`client`]: the two roles: the head each parses and the one it encodes, how
//!   an exchange starts (a request head and the service's call; a request from the handle's
//!   queue) and what a role does about errors and unwanted bodies.
//!
//! Test support (the interleaving explorer, tests spanning several of these pieces) lives in
//! `testing`, compiled only into the crate's own tests, except `testing::injected_bugs`: the
//! switches the explorer uses to put upstream's bugs back, consulted where those bugs were
//! and constant `false` outside tests.

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
pub(crate) mod engine;
pub(crate) mod field_names;
pub(crate) mod framing;
pub(crate) mod head_encode;
pub(crate) mod head_parse;
pub(crate) mod header_values;
pub(crate) mod out_buf;
#[cfg(feature = "server")]
pub(crate) mod server;
pub(crate) mod testing;
pub(crate) mod transport;

/// The smallest `max_buf_size` a connection accepts: one initial read must fit.
pub(crate) const MINIMUM_MAX_BUFFER_SIZE: usize = 8192;
/// Default limit for buffered input (an incomplete head) and output.
pub(crate) const DEFAULT_MAX_BUFFER_SIZE: usize = 8192 + 4096 * 100;
