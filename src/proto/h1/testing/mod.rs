//! Test support for the HTTP/1 stack, compiled only into the crate's own test build: the
//! interleaving explorer and the tests that exercise several pieces of the stack together
//! (unit tests of one piece stay beside it, in its own file).
//!
//! - [`explore`]: drives server and client connections against a scripted peer through
//!   schedules of `Pending`s, short writes and wake-ups, checking after every step that no
//!   encoded byte is lost.
//! - [`codec_roundtrip`]: what one role's encoder writes, the other role's parser reads back.
//! - [`bare_response`]: the shortcut for responses without headers writes what the general
//!   encoder writes.
//! - [`server_io`]: how a server connection holds and releases its buffers around exchanges.
//! - [`sink`]: what an output buffer writes, collected whole.
//!
//! The switches that put upstream's write-path bugs back for the explorer
//! (`super::injected_bugs`) stay beside the connection drivers that consult them.

#[cfg(feature = "server")]
mod bare_response;
#[cfg(all(feature = "client", feature = "server"))]
mod codec_roundtrip;
// The explorer drives both roles against each other.
#[cfg(all(feature = "client", feature = "server"))]
mod explore;
#[cfg(feature = "server")]
mod server_io;
pub(crate) mod sink;
