//! Request handlers.
//!
//! A [`Service`] turns a request into a future of a response: the shape of
//! `async fn(Request) -> Result<Response, Error>`, but as a trait so that handlers can
//! carry state and name their future type.
//!
//! hyper's connections accept an [`HttpService`], which is not implemented directly: every
//! `Service<http::Request<B1>, Response = http::Response<B2>>` (with `B2` a body and an
//! error convertible to a boxed error) is one automatically. Bounding on `HttpService`
//! lets the connection code name the request body type alone instead of repeating the
//! whole `Service` bound.
//!
//! A server connection holds one service and calls it for every request arriving on that
//! connection, possibly while earlier responses are still being produced (HTTP/2), which
//! is why [`Service::call`] takes `&self`.
//!
//! [`service_fn`](fn@service_fn) covers most needs by wrapping a closure; for a handler type with its
//! own state, implement [`Service`] on it.

mod http;
#[allow(clippy::module_inception)]
mod service;
mod service_fn;

pub use self::http::HttpService;
pub use self::service::Service;
pub use self::service_fn::service_fn;
