//! HTTP servers.
//!
//! A server here is a connection: accept a transport with whatever runtime you use, then
//! serve one connection on it with [`conn::http1::Builder`]. Accept loops, graceful shutdown
//! across many connections and protocol auto-detection live in `hyper-util`.

pub mod conn;
