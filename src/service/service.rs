use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;

/// An asynchronous function from a `Request` to a `Response`.
///
/// Calling the service returns a future immediately; the work of answering happens as that
/// future is polled, and it resolves to either the response or an error.
///
/// `Request` is a type parameter, not an associated type, so one type may serve several
/// kinds of requests. Nothing here is HTTP-specific; [`HttpService`](super::HttpService)
/// is the HTTP-shaped alias hyper's connections use.
///
/// This trait is intentionally minimal: there is no readiness (`poll_ready`) step as in
/// `tower::Service`. The `hyper-util` crate provides adapters between the two.
///
/// # Example
///
/// A handler with shared state:
///
/// ```
/// use std::convert::Infallible;
/// use std::future::{ready, Ready};
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use std::sync::Arc;
/// use hyper::service::Service;
/// use hyper::{Request, Response};
///
/// #[derive(Clone, Default)]
/// struct Counter(Arc<AtomicU64>);
///
/// impl<B> Service<Request<B>> for Counter {
///     type Response = Response<String>;
///     type Error = Infallible;
///     type Future = Ready<Result<Self::Response, Self::Error>>;
///
///     fn call(&self, _req: Request<B>) -> Self::Future {
///         let n = self.0.fetch_add(1, Ordering::Relaxed) + 1;
///         ready(Ok(Response::new(format!("request #{n}"))))
///     }
/// }
/// ```
pub trait Service<Request> {
    /// What the service answers with.
    type Response;

    /// What the service fails with.
    ///
    /// When a hyper server gets an error instead of a response, it can only abort: the
    /// stream is reset where the protocol allows that (HTTP/2), otherwise the whole
    /// connection is closed. To tell the client something went wrong, respond with an
    /// error status code instead.
    type Error;

    /// The future that produces the outcome of one call.
    type Future: Future<Output = Result<Self::Response, Self::Error>>;

    /// Starts handling `req`, returning the future of its outcome.
    ///
    /// The receiver is `&self` so that several calls can be in flight at once, with each
    /// returned future borrowing nothing mutable from the service. State that calls must
    /// update goes behind interior mutability (an `Arc<Mutex<_>>`, an atomic, ...); see
    /// <https://github.com/hyperium/hyper/issues/3040> for the design discussion.
    fn call(&self, req: Request) -> Self::Future;
}

// Services behind any kind of shared or owning pointer are services too, so a handler
// can be shared between connections without a wrapper type.
macro_rules! forward_service {
    ($($pointer:ty),+ $(,)?) => {$(
        impl<Request, S> Service<Request> for $pointer
        where
            S: Service<Request> + ?Sized,
        {
            type Response = S::Response;
            type Error = S::Error;
            type Future = S::Future;

            fn call(&self, req: Request) -> Self::Future {
                S::call(self, req)
            }
        }
    )+};
}

forward_service!(&'_ S, &'_ mut S, Box<S>, Rc<S>, Arc<S>);

#[cfg(test)]
mod tests {
    use super::Service;
    use std::cell::Cell;
    use std::future::{ready, Ready};
    use std::rc::Rc;
    use std::sync::Arc;

    /// Doubles its input and counts how often it was called.
    #[derive(Default)]
    struct Double {
        calls: Cell<u32>,
    }

    /// Stateless and thread-safe, for the `Arc` case.
    struct SyncDouble;

    impl Service<u32> for SyncDouble {
        type Response = u32;
        type Error = ();
        type Future = Ready<Result<u32, ()>>;

        fn call(&self, req: u32) -> Self::Future {
            ready(Ok(req * 2))
        }
    }

    impl Service<u32> for Double {
        type Response = u32;
        type Error = ();
        type Future = Ready<Result<u32, ()>>;

        fn call(&self, req: u32) -> Self::Future {
            self.calls.set(self.calls.get() + 1);
            ready(Ok(req * 2))
        }
    }

    async fn call_once<S: Service<u32, Response = u32, Error = ()>>(svc: S, n: u32) -> u32 {
        svc.call(n).await.unwrap()
    }

    #[tokio::test]
    async fn pointer_impls_forward_to_the_target() {
        let svc = Double::default();
        assert_eq!(call_once(&svc, 1).await, 2);
        let mut owned = Double::default();
        assert_eq!(call_once(&mut owned, 2).await, 4);
        assert_eq!(owned.calls.get(), 1);
        assert_eq!(call_once(Box::new(Double::default()), 3).await, 6);
        let shared = Rc::new(Double::default());
        assert_eq!(call_once(shared.clone(), 4).await, 8);
        assert_eq!(call_once(&shared, 5).await, 10);
        assert_eq!(shared.calls.get(), 2);
        assert_eq!(call_once(Arc::new(SyncDouble), 6).await, 12);
        assert_eq!(svc.calls.get(), 1);
    }

    #[tokio::test]
    async fn unsized_targets() {
        type Dyn = dyn Service<u32, Response = u32, Error = (), Future = Ready<Result<u32, ()>>>;
        let boxed: Box<Dyn> = Box::<Double>::default();
        assert_eq!(call_once(&boxed, 7).await, 14);
        assert_eq!(call_once(boxed, 8).await, 16);
        let arc: Arc<Dyn> = Arc::new(SyncDouble);
        assert_eq!(call_once(arc, 9).await, 18);
    }
}
