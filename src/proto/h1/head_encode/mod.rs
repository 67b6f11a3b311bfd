//! Encoding message heads into the output buffer's flat bytes: [`response`] (a server's
//! answer) and [`request`] (a client's request). Each also chooses how the message's body is
//! framed, returning the [`BodyEncoder`](super::framing::encode::BodyEncoder) for it; neither
//! touches any IO. Field names are written by [`NameWriter`](super::field_names::NameWriter).

#[cfg(feature = "client")]
pub(crate) mod request;
pub(crate) mod response;
