//! Wire protocols: HTTP/1 (this crate's own codec and connection driver) and HTTP/2 (on the
//! `h2` crate).

#[cfg(any(feature = "http1", all(feature = "http2", feature = "server")))]
pub(crate) mod date;
#[cfg(feature = "http1")]
pub(crate) mod h1;
// The HTTP/2 client is not written yet (issue 7); the server is.
#[cfg(all(feature = "http2", feature = "server"))]
pub(crate) mod h2;
