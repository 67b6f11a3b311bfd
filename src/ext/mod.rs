//! Extensions: typed values that the connection and the application exchange through a
//! message's [`http::Extensions`].
//!
//! `http::Request` and `http::Response` model what every HTTP version has in common. Details that
//! only exist on the wire of one protocol version (such as the free text after an HTTP/1 status
//! code) do not fit in them, so the connection puts such details into the message's extensions
//! when it parses a message, and looks for them when it writes one. The types in this module are
//! the ones an application can read or set that way, through
//! [`extensions()`](http::Request::extensions) and
//! [`extensions_mut()`](http::Request::extensions_mut).
//!
//! Which of them exist depends on the enabled features:
//!
//! - `ReasonPhrase` (feature `http1`): the reason phrase of an HTTP/1 response, when it is not
//!   the canonical one for the status code.
//! - `Protocol` (feature `http2`): the `:protocol` of an HTTP/2 extended CONNECT request.
//!
//! The connection also stores values of crate-private types, such as the original spelling of
//! header names when header case is preserved. Applications cannot name those types; their
//! effect is visible only through connection options.

#[cfg(all(any(feature = "client", feature = "server"), feature = "http1"))]
mod header_case;
#[cfg(all(feature = "client", feature = "http1"))]
mod informational;
#[cfg(feature = "http2")]
mod protocol;
#[cfg(feature = "http1")]
mod reason_phrase;

#[cfg(all(any(feature = "client", feature = "server"), feature = "http1"))]
pub(crate) use header_case::HeaderCaseMap;
#[cfg(all(feature = "client", feature = "http1"))]
pub use informational::on_informational;
#[cfg(all(feature = "client", feature = "http1"))]
pub(crate) use informational::OnInformational;
#[cfg(feature = "http2")]
pub use protocol::Protocol;
#[cfg(feature = "http1")]
pub use reason_phrase::ReasonPhrase;
