//! Streaming bodies for requests and responses.
//!
//! Bodies are [`http_body::Body`] implementations (re-exported here as [`Body`], with
//! [`Frame`] and [`SizeHint`]); this crate's connections accept any of them for outgoing
//! messages and hand out [`Incoming`] for the messages they receive. Utilities such as `Full`,
//! `Empty` and `BodyExt::collect` live in the `http-body-util` crate.

pub use bytes::{Buf, Bytes};
pub use http_body::{Body, Frame, SizeHint};

pub use self::incoming::Incoming;

#[cfg(all(feature = "http1", any(feature = "client", feature = "server")))]
pub(crate) use self::incoming::{BodyLength, Sender};

mod incoming;

#[allow(dead_code)]
fn incoming_is_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Incoming>();
}
