//! Server connections, one module per protocol.
//!
//! Each module's `Builder` configures and starts a connection on a transport that implements
//! [`rt::Read`](crate::rt::Read) and [`rt::Write`](crate::rt::Write); the returned connection
//! is a future that must be polled (awaited) for the connection to make progress.

#[cfg(feature = "http1")]
pub mod http1;
#[cfg(feature = "http2")]
pub mod http2;
