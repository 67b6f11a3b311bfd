//! Observing the interim (1xx) responses a client receives before the final one.
use std::fmt;
use std::sync::Arc;

/// Calls `callback` with each informational (1xx) response the server sends for `req`
/// before its final response, such as `103 Early Hints`. (`100 Continue` and other 1xx
/// responses are otherwise skipped silently.)
///
/// The callback runs on the connection task; keep it short.
pub fn on_informational<B, F>(req: &mut http::Request<B>, callback: F)
where
    F: Fn(Response<'_>) + Send + Sync + 'static,
{
    req.extensions_mut()
        .insert(OnInformational(Arc::new(callback)));
}

/// The callback stored in a request's extensions.
#[derive(Clone)]
pub(crate) struct OnInformational(Arc<dyn Fn(Response<'_>) + Send + Sync>);

impl OnInformational {
    pub(crate) fn call(&self, res: &http::Response<()>) {
        (self.0)(Response(res));
    }
}

impl fmt::Debug for OnInformational {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OnInformational")
    }
}

/// An informational response, lent to an [`on_informational`] callback.
#[derive(Debug)]
pub struct Response<'a>(&'a http::Response<()>);

impl Response<'_> {
    /// The 1xx status.
    pub fn status(&self) -> http::StatusCode {
        self.0.status()
    }

    /// The HTTP version of the response.
    pub fn version(&self) -> http::Version {
        self.0.version()
    }

    /// The response's header fields.
    pub fn headers(&self) -> &http::HeaderMap {
        self.0.headers()
    }
}
