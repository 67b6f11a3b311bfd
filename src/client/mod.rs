//! HTTP clients.
//!
//! A client here is one connection: open a transport with whatever runtime you use, then run
//! the handshake in [`conn::http1`] to get a `SendRequest` handle and the connection future.
//! Pooling, DNS and TLS live in `hyper-util` (`client::legacy`) and in `reqwest`.

//!
//! With the `client` feature alone (no protocol), the module is empty, as upstream's is.

#[cfg(any(feature = "http1", feature = "http2"))]
pub mod conn;
// The HTTP/1 request channel; `TrySendError` is shared with HTTP/2.
#[cfg(any(feature = "http1", feature = "http2"))]
#[cfg_attr(not(feature = "http1"), allow(dead_code))]
pub(crate) mod dispatch;
