//! HTTP clients.
//!
//! A client here is one connection: open a transport with whatever runtime you use, then run
//! the handshake in [`conn::http1`] to get a `SendRequest` handle and the connection future.
//! Pooling, DNS and TLS live in `hyper-util` (`client::legacy`) and in `reqwest`.

pub mod conn;
pub(crate) mod dispatch;
