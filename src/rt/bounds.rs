//! Trait aliases for the executors that HTTP/2 connections need.
//!
//! HTTP/2 spawns one background task per stream, and those tasks have types that are
//! internal to hyper. Rather than making users spell out `Executor<SomeInternalFuture>`
//! bounds, this module names the requirement once (`Http2ClientConnExec` and
//! `Http2ServerConnExec`, available with the `http2` feature); both are implemented
//! automatically for any suitable [`Executor`](crate::rt::Executor).

#[cfg(all(feature = "server", feature = "http2"))]
pub use self::server::Http2ServerConnExec;

#[cfg(all(feature = "server", feature = "http2"))]
mod server {
    use std::future::Future;

    use http_body::Body;

    use crate::proto::h2::server::H2Stream;
    use crate::rt::Executor;

    /// An executor that can run the stream tasks of an HTTP/2 server connection whose service
    /// futures are `F` and whose response bodies are `B`.
    ///
    /// Implemented for every `Clone` [`Executor`] of those tasks; name this trait in bounds
    /// instead of the task type, which is private to the crate.
    pub trait Http2ServerConnExec<F, B: Body>: sealed::Sealed<(F, B)> + Clone {
        #[doc(hidden)]
        fn execute_h2stream(&mut self, task: H2Stream<F, B>);
    }

    impl<E, F, B> Http2ServerConnExec<F, B> for E
    where
        B: Body,
        E: Executor<H2Stream<F, B>> + Clone,
        H2Stream<F, B>: Future<Output = ()>,
    {
        fn execute_h2stream(&mut self, task: H2Stream<F, B>) {
            self.execute(task);
        }
    }

    // What such an executor is, is said once, by the impl above: the seal follows from it.
    impl<E, F, B> sealed::Sealed<(F, B)> for E
    where
        B: Body,
        E: Http2ServerConnExec<F, B>,
    {
    }

    mod sealed {
        pub trait Sealed<T> {}
    }
}

#[cfg(all(feature = "client", feature = "http2"))]
pub use self::client::Http2ClientConnExec;

#[cfg(all(feature = "client", feature = "http2"))]
mod client {
    use std::error::Error as StdError;
    use std::future::Future;

    use crate::proto::h2::client::H2ClientFuture;
    use crate::rt::{Executor, Read, Write};

    /// An executor that can run the background tasks of an HTTP/2 client connection whose
    /// request bodies are `B` and whose transport is `T`.
    ///
    /// Implemented for every `Clone` [`Executor`] of those tasks; name this trait in bounds
    /// instead of the task type, which is private to the crate.
    pub trait Http2ClientConnExec<B, T>: sealed::Sealed<(B, T)> + Clone
    where
        B: http_body::Body,
        B::Error: Into<Box<dyn StdError + Send + Sync>>,
        T: Read + Write + Unpin,
    {
        #[doc(hidden)]
        fn execute_h2_future(&mut self, task: H2ClientFuture<B, T>);
    }

    impl<E, B, T> Http2ClientConnExec<B, T> for E
    where
        E: Executor<H2ClientFuture<B, T>> + Clone,
        H2ClientFuture<B, T>: Future<Output = ()>,
        B: http_body::Body + 'static,
        B::Error: Into<Box<dyn StdError + Send + Sync>>,
        T: Read + Write + Unpin,
    {
        fn execute_h2_future(&mut self, task: H2ClientFuture<B, T>) {
            self.execute(task);
        }
    }

    // As for the server: the seal follows from the one impl that states the bounds.
    impl<E, B, T> sealed::Sealed<(B, T)> for E
    where
        E: Http2ClientConnExec<B, T>,
        B: http_body::Body,
        B::Error: Into<Box<dyn StdError + Send + Sync>>,
        T: Read + Write + Unpin,
    {
    }

    mod sealed {
        pub trait Sealed<T> {}
    }
}
