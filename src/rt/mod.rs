//! The seams between hyper and the async runtime it runs on.
//!
//! hyper does not depend on any particular runtime. Everything it needs from one is
//! expressed by the traits in this module, and the embedding application supplies
//! implementations of them:
//!
//! * [`Executor`] spawns the background tasks a connection may need (HTTP/2 streams,
//!   for instance);
//! * [`Timer`] and [`Sleep`] provide deadlines, used for header-read and keep-alive
//!   timeouts;
//! * [`Read`] and [`Write`] are the byte transport a connection is driven over.
//!
//! Adapters for Tokio live in the `hyper-util` crate; the runtime guide at
//! <https://hyper.rs/guides/1/init/runtime/> shows how to write your own.

mod io;
mod timer;

pub use io::{Read, ReadBuf, ReadBufCursor, Write};
pub use timer::{Sleep, Timer};

pub mod bounds;

/// Something that can run futures to completion in the background.
///
/// The type parameter is the future being spawned, so an implementation can restrict
/// which futures it accepts (for example requiring `Send + 'static` for a multi-threaded
/// runtime, or accepting `!Send` futures on a local set).
///
/// # Example
///
/// Spawning onto the ambient Tokio runtime:
///
/// ```
/// use std::future::Future;
/// use hyper::rt::Executor;
///
/// #[derive(Clone, Copy, Debug)]
/// struct SpawnOnTokio;
///
/// impl<Fut> Executor<Fut> for SpawnOnTokio
/// where
///     Fut: Future + Send + 'static,
///     Fut::Output: Send + 'static,
/// {
///     fn execute(&self, fut: Fut) {
///         // The JoinHandle is dropped on purpose: the task keeps running detached.
///         drop(tokio::spawn(fut));
///     }
/// }
/// ```
pub trait Executor<Fut> {
    /// Hands `fut` to the executor, which must keep polling it until it completes.
    fn execute(&self, fut: Fut);
}

/// Test helper: reports which auto traits a concrete type implements, so our types can be
/// compared with upstream's (which may be unnameable, hence probing through a value).
#[cfg(test)]
pub(crate) mod auto_traits {
    use std::marker::PhantomData;
    use std::panic::{RefUnwindSafe, UnwindSafe};

    pub(crate) struct Probe<T: ?Sized>(PhantomData<T>);

    pub(crate) fn of_val<T>(_: &T) -> Probe<T> {
        Probe(PhantomData)
    }

    pub(crate) fn of<T: ?Sized>() -> Probe<T> {
        Probe(PhantomData)
    }

    /// The answers used when the inherent methods below do not apply.
    pub(crate) trait Fallback {
        fn send(&self) -> bool {
            false
        }
        fn sync(&self) -> bool {
            false
        }
        fn unpin(&self) -> bool {
            false
        }
        fn unwind_safe(&self) -> bool {
            false
        }
        fn ref_unwind_safe(&self) -> bool {
            false
        }
    }

    impl<T: ?Sized> Fallback for Probe<T> {}

    // Inherent methods win over trait methods during method resolution, but only when
    // their impl's bounds hold; otherwise the `Fallback` answer is picked.
    impl<T: ?Sized + Send> Probe<T> {
        pub(crate) fn send(&self) -> bool {
            true
        }
    }
    impl<T: ?Sized + Sync> Probe<T> {
        pub(crate) fn sync(&self) -> bool {
            true
        }
    }
    impl<T: ?Sized + Unpin> Probe<T> {
        pub(crate) fn unpin(&self) -> bool {
            true
        }
    }
    impl<T: ?Sized + UnwindSafe> Probe<T> {
        pub(crate) fn unwind_safe(&self) -> bool {
            true
        }
    }
    impl<T: ?Sized + RefUnwindSafe> Probe<T> {
        pub(crate) fn ref_unwind_safe(&self) -> bool {
            true
        }
    }

    /// `[Send, Sync, Unpin, UnwindSafe, RefUnwindSafe]` for the probed type. Must be
    /// expanded where the type is concrete.
    macro_rules! auto_traits {
        ($probe:expr) => {{
            #[allow(unused_imports)]
            use $crate::rt::auto_traits::Fallback as _;
            let p = $probe;
            [
                p.send(),
                p.sync(),
                p.unpin(),
                p.unwind_safe(),
                p.ref_unwind_safe(),
            ]
        }};
    }
    pub(crate) use auto_traits;

    #[test]
    fn probe_works() {
        assert_eq!(auto_traits!(of::<u8>()), [true; 5]);
        assert_eq!(
            auto_traits!(of::<std::rc::Rc<u8>>()),
            [false, false, true, true, true]
        );
        assert_eq!(
            auto_traits!(of::<std::marker::PhantomPinned>()),
            [true, true, false, true, true]
        );
        assert_eq!(
            auto_traits!(of::<&mut u8>()),
            [true, true, true, false, true]
        );
        assert_eq!(
            auto_traits!(of::<std::cell::Cell<u8>>()),
            [true, false, true, true, false]
        );
    }
}

#[cfg(test)]
mod tests {
    use super::Executor;
    use std::cell::RefCell;
    use std::future::Future;
    use std::pin::Pin;

    /// Collects futures instead of running them, so a test can check what was spawned.
    #[derive(Default)]
    struct Queue {
        spawned: RefCell<Vec<Pin<Box<dyn Future<Output = u32>>>>>,
    }

    impl<F: Future<Output = u32> + 'static> Executor<F> for Queue {
        fn execute(&self, fut: F) {
            self.spawned.borrow_mut().push(Box::pin(fut));
        }
    }

    fn spawn_via<E: Executor<F>, F>(exec: &E, fut: F) {
        exec.execute(fut);
    }

    #[tokio::test]
    async fn executor_receives_the_future() {
        let queue = Queue::default();
        spawn_via(&queue, async { 7 });
        spawn_via(&queue, std::future::ready(35));
        let futures = queue.spawned.take();
        let mut total = 0;
        for fut in futures {
            total += fut.await;
        }
        assert_eq!(total, 42);
    }

    // The same executor written once, checked against both our trait and upstream's.
    macro_rules! user_executor {
        () => {
            #[allow(dead_code)]
            struct Inline;

            impl<F> api::Executor<F> for Inline
            where
                F: std::future::Future<Output = ()> + Send + 'static,
            {
                fn execute(&self, fut: F) {
                    drop(tokio::spawn(fut));
                }
            }
        };
    }

    mod against_ours {
        use crate::rt as api;
        user_executor!();
    }

    mod against_upstream {
        use hyper_upstream::rt as api;
        user_executor!();
    }
}
