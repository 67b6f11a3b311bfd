use std::error::Error as StdError;
use std::future::Future;

use ::http::{Request, Response};
use http_body::Body;

use super::Service;

/// A [`Service`] from `Request<ReqBody>` to `Response<Self::ResBody>`: what hyper's
/// connections accept.
///
/// This is an alias, not a trait to implement (it is sealed). Every `Service` whose
/// request is an `http::Request<ReqBody>`, whose response is an `http::Response<B>` with
/// `B:` [`Body`], and whose error converts into `Box<dyn Error + Send + Sync>`, implements
/// it automatically; implement [`Service`] (or use
/// [`service_fn`](fn@crate::service::service_fn)) to get one.
///
/// It is generic over the request body only, with the response body an associated type,
/// so that bounds elsewhere stay short.
pub trait HttpService<ReqBody>: sealed::Sealed<ReqBody> {
    /// The future of one response, as in [`Service::Future`].
    type Future: Future<Output = Result<Response<Self::ResBody>, Self::Error>>;

    /// The body type of the responses.
    type ResBody: Body;

    /// The service's error, as in [`Service::Error`].
    ///
    /// Handing an error to a hyper server aborts the stream or the connection; prefer
    /// responding with a 4xx/5xx status when the client should learn what happened.
    type Error: Into<Box<dyn StdError + Send + Sync>>;

    // Hidden: callers outside hyper use `Service::call`, which this only forwards to. Its
    // `&mut self` receiver is part of the (hidden) public signature, so it stays.
    #[doc(hidden)]
    fn call(&mut self, req: Request<ReqBody>) -> Self::Future;
}

impl<S, ReqBody, ResBody> HttpService<ReqBody> for S
where
    ResBody: Body,
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    type Future = S::Future;
    type ResBody = ResBody;
    type Error = S::Error;

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        Service::call(self, req)
    }
}

mod sealed {
    /// Implemented exactly for the types that get the blanket `HttpService` impl, which
    /// keeps other crates from implementing `HttpService` themselves.
    pub trait Sealed<ReqBody> {}

    impl<S, ReqBody, ResBody> Sealed<ReqBody> for S
    where
        S: super::Service<super::Request<ReqBody>, Response = super::Response<ResBody>>,
        ResBody: super::Body,
    {
    }
}

#[cfg(test)]
mod tests {
    use super::HttpService;
    use crate::service::Service;
    use http::{Request, Response, StatusCode};
    use std::convert::Infallible;
    use std::future::{ready, Ready};

    struct Teapot;

    impl Service<Request<String>> for Teapot {
        type Response = Response<String>;
        type Error = Infallible;
        type Future = Ready<Result<Response<String>, Infallible>>;

        fn call(&self, req: Request<String>) -> Self::Future {
            let mut res = Response::new(format!("no {}", req.into_body()));
            *res.status_mut() = StatusCode::IM_A_TEAPOT;
            ready(Ok(res))
        }
    }

    /// What the connection code does: only the request body type is named.
    async fn serve_one<S: HttpService<String>>(mut svc: S, body: &str) -> Response<S::ResBody> {
        let fut = svc.call(Request::new(body.to_owned()));
        match fut.await {
            Ok(res) => res,
            Err(e) => {
                let e: Box<dyn std::error::Error + Send + Sync> = e.into();
                panic!("service failed: {e}")
            }
        }
    }

    #[tokio::test]
    async fn services_are_http_services() {
        let res = serve_one(Teapot, "coffee").await;
        assert_eq!(res.status(), StatusCode::IM_A_TEAPOT);
        assert_eq!(res.into_body(), "no coffee");

        // Through the pointer impls as well.
        let res = serve_one(&Teapot, "tea?").await;
        assert_eq!(res.into_body(), "no tea?");
        let res = serve_one(std::sync::Arc::new(Teapot), "").await;
        assert_eq!(res.into_body(), "no ");
    }
}
