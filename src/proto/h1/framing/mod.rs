//! Body framing, both directions, free of IO: [`decode`] splits an incoming body (by length,
//! chunked, or up to the end of the connection) off the read buffer; [`encode`] frames an
//! outgoing body's data and ending into the output buffer. Which framing a message uses is
//! decided where its head is parsed or encoded.

pub(crate) mod decode;
pub(crate) mod encode;
