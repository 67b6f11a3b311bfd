//! Wire protocols: HTTP/1 (this crate's own codec and connection driver) and HTTP/2 (on the
//! `h2` crate).

#[cfg(any(feature = "http1", all(feature = "http2", feature = "server")))]
pub(crate) mod date;
#[cfg(feature = "http1")]
pub(crate) mod h1;
#[cfg(feature = "http2")]
pub(crate) mod h2;
