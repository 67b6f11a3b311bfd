//! An HTTP library with the public API of hyper 1.13, whose HTTP/1 connections close only after
//! every byte they have encoded was accepted by the transport.
//!
//! The modules mirror hyper's: [`body`], [`rt`], [`service`], [`upgrade`], [`ext`], and behind
//! the `server` / `client` features the connection builders in `server::conn` and
//! `client::conn`. Protocols are enabled with the `http1` (and `http2`) features; `full`
//! enables everything.
//!
//! # What differs from upstream hyper
//!
//! An HTTP/1 connection ends its use of the transport (shuts it down, completes the
//! connection future, hands the transport back or to an upgrade) in one place, the
//! connection's transport wrapper. Its ending step first writes and flushes every byte the
//! connection encoded, and shutting the transport down or handing it over cleanly takes a
//! proof that only this drain creates. The connection decides *whether* to end; the transport
//! decides *when*: never while an encoded byte is unwritten. (Only `into_parts`, which the
//! application may call at any time, hands the transport back without that drain.) See
//! `UPSTREAM.md` in the repository for every behavioural difference and the tests that pin
//! them.
#![deny(missing_docs)]
#![deny(missing_debug_implementations)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![cfg_attr(feature = "__deny_warnings", deny(warnings, unreachable_pub))]

#[doc(hidden)]
pub use http;

#[doc(no_inline)]
pub use http::{header, HeaderMap, Method, Request, Response, StatusCode, Uri, Version};

pub use crate::error::{Error, Result};

#[macro_use]
mod trace;

pub mod body;
mod error;
pub mod ext;
pub mod rt;
pub mod service;
pub mod upgrade;

#[cfg(all(
    any(feature = "http1", feature = "http2"),
    any(feature = "client", feature = "server")
))]
mod proto;

#[cfg(feature = "client")]
pub mod client;
#[cfg(feature = "server")]
pub mod server;

// Only under the `fuzzing` cfg cargo-fuzz sets for a whole build (see `Cargo.toml`), never
// through a feature.
#[cfg(all(fuzzing, feature = "client", feature = "server", feature = "http1"))]
#[doc(hidden)]
#[path = "fuzz_entry.rs"]
pub mod __fuzz;
