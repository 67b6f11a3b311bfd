//! Wire protocols. Only HTTP/1 lives here so far.

pub(crate) mod h1;
