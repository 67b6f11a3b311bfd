use std::{error::Error as StdError, fmt, future::Future, marker::PhantomData};

use ::http::{Request, Response};
use http_body::Body;

use super::Service;

/// Turns a closure `Fn(Request<R>) -> impl Future<Output = Result<Response<_>, _>>` into
/// a [`Service`].
///
/// The closure is called once per request and is not required to be `FnMut`: like
/// [`Service::call`], several calls may be outstanding at once.
///
/// # Example
///
/// ```
/// use hyper::service::service_fn;
/// use hyper::{Request, Response};
///
/// let echo = service_fn(|req: Request<String>| async move {
///     if req.body().is_empty() {
///         // Errors abort the connection; this is only for illustration. A response
///         // with a 400 status would usually be the better answer.
///         return Err("empty body");
///     }
///     Ok(Response::new(req.into_body()))
/// });
/// # let _ = echo;
/// ```
pub fn service_fn<F, R, S>(f: F) -> ServiceFn<F, R>
where
    F: Fn(Request<R>) -> S,
    S: Future,
{
    service_fn_unchecked(f)
}

/// The [`Service`] made by [`service_fn`].
///
/// `R` is the request body type, recorded so that the closure's argument type is fixed
/// even before the service is first called.
pub struct ServiceFn<F, R> {
    f: F,
    // `fn(R)` rather than `R`: the service never holds an `R`, so `R` must not affect
    // whether the service is `Send`, `Sync`, `Unpin` or unwind-safe; only `F` does.
    _request_body: PhantomData<fn(R)>,
}

impl<F, ReqBody, Fut, ResBody, E> Service<Request<ReqBody>> for ServiceFn<F, ReqBody>
where
    F: Fn(Request<ReqBody>) -> Fut,
    Fut: Future<Output = Result<Response<ResBody>, E>>,
    ReqBody: Body,
    ResBody: Body,
    E: Into<Box<dyn StdError + Send + Sync>>,
{
    type Response = Response<ResBody>;
    type Error = E;
    type Future = Fut;

    fn call(&self, req: Request<ReqBody>) -> Self::Future {
        let handler = &self.f;
        handler(req)
    }
}

// Written by hand: a derive would also demand `R: Clone` / `R: Copy`.
impl<F: Clone, R> Clone for ServiceFn<F, R> {
    fn clone(&self) -> Self {
        service_fn_unchecked(self.f.clone())
    }
}

impl<F: Copy, R> Copy for ServiceFn<F, R> {}

// Closures have no useful Debug output, so only the role is shown (no bounds needed).
impl<F, R> fmt::Debug for ServiceFn<F, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("impl Service")
    }
}

/// Builds a `ServiceFn` without `service_fn`'s bounds (which `Clone` cannot assume).
fn service_fn_unchecked<F, R>(f: F) -> ServiceFn<F, R> {
    ServiceFn {
        f,
        _request_body: PhantomData,
    }
}

#[cfg(test)]
mod tests {
    use super::service_fn;
    use crate::service::{HttpService, Service};
    use bytes::Bytes;
    use http::{Request, Response};
    use http_body_util::{BodyExt, Full};
    use std::convert::Infallible;
    use std::rc::Rc;

    async fn hello(req: Request<Full<Bytes>>) -> Result<Response<Full<Bytes>>, Infallible> {
        let body = req.into_body().collect().await.unwrap().to_bytes();
        let mut greeting = b"hello ".to_vec();
        greeting.extend_from_slice(&body);
        Ok(Response::new(Full::new(Bytes::from(greeting))))
    }

    async fn through_http_service<S>(mut svc: S, body: &'static str) -> Bytes
    where
        S: HttpService<Full<Bytes>>,
        S::ResBody: http_body::Body<Data = Bytes>,
        <S::ResBody as http_body::Body>::Error: std::fmt::Debug,
    {
        let fut = HttpService::call(&mut svc, Request::new(Full::new(Bytes::from(body))));
        let res = match fut.await {
            Ok(res) => res,
            Err(e) => {
                let e: Box<dyn std::error::Error + Send + Sync> = e.into();
                panic!("service failed: {e}")
            }
        };
        res.into_body().collect().await.unwrap().to_bytes()
    }

    #[tokio::test]
    async fn usable_as_http_service() {
        let svc = service_fn(hello);
        assert_eq!(through_http_service(svc, "world").await, "hello world");
        // Copy + Clone because the fn item is.
        let copy = svc;
        #[allow(clippy::clone_on_copy)]
        let cloned = svc.clone();
        assert_eq!(through_http_service(copy, "a").await, "hello a");
        assert_eq!(through_http_service(cloned, "b").await, "hello b");
    }

    #[tokio::test]
    async fn closures_with_captured_state_and_errors() {
        let limit = 3usize;
        let svc = service_fn(move |req: Request<String>| async move {
            if req.body().len() > limit {
                Err(format!("body of {} bytes is too long", req.body().len()))
            } else {
                Ok(Response::new(req.into_body()))
            }
        });
        assert_eq!(
            svc.call(Request::new("abc".into()))
                .await
                .unwrap()
                .into_body(),
            "abc"
        );
        let err = svc.call(Request::new("abcd".into())).await.unwrap_err();
        assert_eq!(err, "body of 4 bytes is too long");
        // Clone only needs the closure to be Clone, not the body type.
        #[allow(clippy::clone_on_copy)]
        let svc2 = svc.clone();
        assert!(svc2.call(Request::new(String::new())).await.is_ok());
    }

    #[test]
    fn debug_hides_the_closure() {
        let svc = service_fn(|_: Request<String>| async {
            Ok::<_, Infallible>(Response::new(String::new()))
        });
        assert_eq!(format!("{svc:?}"), "impl Service");
        let upstream = hyper_upstream::service::service_fn(|_: Request<String>| async {
            Ok::<_, Infallible>(Response::new(String::new()))
        });
        assert_eq!(format!("{svc:?}"), format!("{upstream:?}"));
    }

    /// Auto traits of the wrapper depend on the closure only: a body type that is neither
    /// `Send` nor `Sync` (nor unwind-safe) must not leak into the service.
    #[test]
    fn auto_traits_follow_the_closure() {
        type LocalBody = Rc<std::cell::Cell<u8>>;
        fn all<T: Send + Sync + Unpin + std::panic::UnwindSafe + std::panic::RefUnwindSafe>(_: &T) {
        }
        // `R` is not even a Body here: construction does not require it.
        let svc = service_fn(|_: Request<LocalBody>| async {});
        all(&svc);
        let svc = super::service_fn_unchecked::<u8, LocalBody>(0);
        all(&svc);
    }

    // Closures with different auto traits. They are built in separate functions because
    // a closure's auto traits cannot be queried inside the function that defines it.
    type Local = Rc<std::cell::Cell<u8>>;
    type Done = std::future::Ready<()>;

    fn plain() -> impl Fn(Request<Local>) -> Done + Clone {
        |_| std::future::ready(())
    }
    fn capturing_rc() -> impl Fn(Request<String>) -> Done + Clone {
        let rc = Rc::new(0u8);
        move |_| {
            let _ = &rc;
            std::future::ready(())
        }
    }
    fn capturing_cell() -> impl Fn(Request<String>) -> Done + Clone {
        let cell = std::cell::Cell::new(0u8);
        move |_| {
            cell.set(1);
            std::future::ready(())
        }
    }
    fn capturing_mut_ref() -> impl Fn(Request<String>) -> Done {
        let n: &'static mut u8 = Box::leak(Box::new(0));
        move |_| {
            let _ = &n;
            std::future::ready(())
        }
    }
    fn capturing_pinned() -> impl Fn(Request<String>) -> Done {
        let pinned = std::marker::PhantomPinned;
        move |_| {
            let _ = &pinned;
            std::future::ready(())
        }
    }

    /// Compares with upstream's `ServiceFn` (unnameable there, hence probed via values):
    /// the auto traits must be exactly those of the closure, whatever the body type.
    #[test]
    fn same_auto_traits_as_upstream() {
        use crate::rt::auto_traits::{auto_traits, of_val};
        use hyper_upstream::service::service_fn as up_service_fn;

        macro_rules! compare {
            ($make:expr, $expected:expr) => {{
                let closure = $make;
                assert_eq!(auto_traits!(of_val(&closure)), $expected);
                let ours = service_fn($make);
                assert_eq!(auto_traits!(of_val(&ours)), $expected);
                let theirs = up_service_fn($make);
                assert_eq!(auto_traits!(of_val(&theirs)), $expected);
            }};
        }

        // [Send, Sync, Unpin, UnwindSafe, RefUnwindSafe]
        compare!(plain(), [true; 5]);
        compare!(capturing_rc(), [false, false, true, true, true]);
        compare!(capturing_cell(), [true, false, true, true, false]);
        compare!(capturing_pinned(), [true, true, false, true, true]);
        compare!(capturing_mut_ref(), [true, true, true, false, true]);
    }

    #[test]
    fn clone_does_not_require_clonable_body() {
        struct NotClone;
        fn clone_it<T: Clone>(t: &T) -> T {
            t.clone()
        }
        let svc = service_fn(|_: Request<NotClone>| async {});
        let _copy = clone_it(&svc);
    }
}
