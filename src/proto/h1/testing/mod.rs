//! Test support for the HTTP/1 stack, compiled only into the crate's own test build (except
//! [`injected_bugs`], whose checks compile to nothing elsewhere): the interleaving explorer and
//! the tests that exercise several pieces of the stack together (unit tests of one piece stay
//! beside it, in its own file).
//!
//! - `explore`: drives server and client connections against a scripted peer through
//!   schedules of `Pending`s, short writes and wake-ups, checking after every step that no
//!   encoded byte is lost.
//! - `codec_roundtrip`: what one role's encoder writes, the other role's parser reads back.
//! - `bare_response`: the shortcut for responses without headers writes what the general
//!   encoder writes.
//! - `server_io`: how a server connection holds and releases its buffers around exchanges.
//! - `sink`: what an output buffer writes, collected whole.
//! - [`injected_bugs`]: the switches that put upstream's write-path bugs back for the
//!   explorer; the engine and the transport consult them where those bugs were.

#[cfg(all(test, feature = "server"))]
mod bare_response;
#[cfg(all(test, feature = "client", feature = "server"))]
mod codec_roundtrip;
// The explorer drives both roles against each other.
#[cfg(all(test, feature = "client", feature = "server"))]
mod explore;
pub(crate) mod injected_bugs;
#[cfg(all(test, feature = "server"))]
mod server_io;
#[cfg(test)]
pub(crate) mod sink;
