//! Client connections, one module per protocol.
//!
//! A handshake returns a handle that sends requests and a connection future that must be
//! polled (usually spawned) for the requests to make progress.

#[cfg(feature = "http1")]
pub mod http1;
#[cfg(feature = "http2")]
pub mod http2;

pub use super::dispatch::TrySendError;
