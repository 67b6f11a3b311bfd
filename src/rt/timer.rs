//! The clock hyper uses for its timeouts.
//!
//! A runtime supplies a [`Timer`] that creates [`Sleep`] futures. hyper stores those as
//! `Pin<Box<dyn Sleep>>`, so a timer that wants to reuse an existing sleep when a
//! deadline moves (rather than allocating a new one) recovers its own concrete type with
//! [`downcast_mut_pin`](Sleep#method.downcast_mut_pin).
//!
//! A Tokio-backed timer, for example:
//!
//! ```
//! use std::future::Future;
//! use std::pin::Pin;
//! use std::task::{Context, Poll};
//! use std::time::{Duration, Instant};
//! use hyper::rt::{Sleep, Timer};
//!
//! #[derive(Clone, Debug)]
//! struct TokioTimer;
//!
//! // `tokio::time::Sleep` is `!Unpin`, so it is boxed here to keep the wrapper simple.
//! struct TokioSleep(Pin<Box<tokio::time::Sleep>>);
//!
//! impl Future for TokioSleep {
//!     type Output = ();
//!     fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
//!         self.0.as_mut().poll(cx)
//!     }
//! }
//!
//! // Nothing to implement: the trait's only method is provided.
//! impl Sleep for TokioSleep {}
//!
//! impl Timer for TokioTimer {
//!     fn sleep(&self, duration: Duration) -> Pin<Box<dyn Sleep>> {
//!         Box::pin(TokioSleep(Box::pin(tokio::time::sleep(duration))))
//!     }
//!
//!     fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn Sleep>> {
//!         Box::pin(TokioSleep(Box::pin(tokio::time::sleep_until(deadline.into()))))
//!     }
//!
//!     fn reset(&self, sleep: &mut Pin<Box<dyn Sleep>>, new_deadline: Instant) {
//!         match sleep.as_mut().downcast_mut_pin::<TokioSleep>() {
//!             // One of ours: move its deadline in place.
//!             Some(mut ours) => ours.0.as_mut().reset(new_deadline.into()),
//!             // Created by some other timer: replace it.
//!             None => *sleep = self.sleep_until(new_deadline),
//!         }
//!     }
//! }
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let timer = TokioTimer;
//! let mut sleep = timer.sleep(Duration::from_secs(3600));
//! timer.reset(&mut sleep, Instant::now());
//! sleep.await;
//! # }
//! ```

use std::any::TypeId;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

/// A source of [`Sleep`] futures and of the current time.
///
/// hyper calls these methods to arm and re-arm its timeouts; nothing here needs to be
/// precise beyond what the timeouts themselves require.
pub trait Timer {
    /// The current time, as this timer sees it.
    ///
    /// Provided as [`Instant::now()`]. Override it when the sleeps are driven by another
    /// clock (a paused or simulated one in tests, say), so that deadlines computed from
    /// `now()` agree with when the sleeps fire.
    fn now(&self) -> Instant {
        Instant::now()
    }

    /// A future that completes once `deadline` has been reached.
    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn Sleep>>;

    /// Moves the deadline of `sleep` to `new_deadline`.
    ///
    /// Provided as replacing `*sleep` with [`sleep_until(new_deadline)`](Timer::sleep_until).
    /// Override it to adjust the existing future in place; see
    /// [`downcast_mut_pin`](Sleep#method.downcast_mut_pin) for getting at it.
    fn reset(&self, sleep: &mut Pin<Box<dyn Sleep>>, new_deadline: Instant) {
        *sleep = self.sleep_until(new_deadline);
    }

    /// A future that completes once `duration` has elapsed.
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Sleep>>;
}

/// A future returned by a [`Timer`], completing when its deadline is reached.
///
/// Implementing it only takes an empty `impl Sleep for MySleep {}`: the one method is
/// provided, and hidden because it exists solely to let `dyn Sleep` be downcast (see
/// [`is`](#method.is) and [`downcast_mut_pin`](#method.downcast_mut_pin)).
pub trait Sleep: Send + Sync + Future<Output = ()> {
    /// Reports the concrete type behind a `dyn Sleep`.
    ///
    /// It cannot be overridden outside hyper because the argument type cannot be named
    /// there; that is what makes trusting it in `downcast_mut_pin` sound.
    #[doc(hidden)]
    fn __type_id(&self, _: private::Sealed) -> std::any::TypeId
    where
        Self: 'static,
    {
        // Implementors cannot override this (see above), so it always reports the
        // implementing type itself.
        std::any::TypeId::of::<Self>()
    }
}

mod private {
    /// The argument of `Sleep::__type_id`. It is public (the method signature needs it)
    /// but lives in a private module, so other crates can neither name nor construct it.
    #[derive(Debug)]
    pub struct Sealed;
}

// `Any`-style downcasting on the trait object. `Any` is not a supertrait of `Sleep`:
// that would force `'static` on every implementor, and using it from `dyn Sleep` would
// need trait upcasting, which our minimum supported compiler lacks.
impl dyn Sleep {
    /// Whether the concrete type of this sleep is `T`.
    pub fn is<T>(&self) -> bool
    where
        T: Sleep + 'static,
    {
        TypeId::of::<T>() == self.__type_id(private::Sealed)
    }

    /// Gets the concrete `T` behind a pinned `dyn Sleep`, if that is what it is.
    ///
    /// The result stays pinned: the sleep is not moved, only viewed at its real type.
    pub fn downcast_mut_pin<T>(self: Pin<&mut Self>) -> Option<Pin<&mut T>>
    where
        T: Sleep + 'static,
    {
        if !self.is::<T>() {
            return None;
        }
        // SAFETY: the type check above makes the pointer cast a cast to the value's real
        // type (`__type_id` cannot be overridden outside this crate, so it cannot lie).
        // `map_unchecked_mut` is fine because the value stays exactly where it is; the
        // same pinned object is merely seen through a more precise type.
        let concrete = unsafe {
            self.map_unchecked_mut(|erased| &mut *(erased as *mut dyn Sleep).cast::<T>())
        };
        Some(concrete)
    }
}

#[cfg(test)]
mod tests {
    use super::{Sleep, Timer};
    use std::cell::Cell;
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll};
    use std::time::{Duration, Instant};

    /// A sleep that is ready as soon as it is polled with a deadline in the past.
    struct Deadline(Instant);

    impl Future for Deadline {
        type Output = ();
        fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
            if Instant::now() >= self.0 {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        }
    }

    impl Sleep for Deadline {}

    /// A sleep that never completes; `!Unpin`, to check downcasting keeps it pinned.
    struct Never {
        _pinned: std::marker::PhantomPinned,
        tag: u8,
    }

    impl Future for Never {
        type Output = ();
        fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
            Poll::Pending
        }
    }

    impl Sleep for Never {}

    /// A timer relying on every provided method; counts `sleep_until` calls.
    #[derive(Default)]
    struct Basic {
        until_calls: Cell<u32>,
    }

    impl Timer for Basic {
        fn sleep(&self, duration: Duration) -> Pin<Box<dyn Sleep>> {
            Box::pin(Deadline(Instant::now() + duration))
        }
        fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn Sleep>> {
            self.until_calls.set(self.until_calls.get() + 1);
            Box::pin(Deadline(deadline))
        }
    }

    #[test]
    fn is_distinguishes_types() {
        let deadline: Pin<Box<dyn Sleep>> = Box::pin(Deadline(Instant::now()));
        let never: Pin<Box<dyn Sleep>> = Box::pin(Never {
            _pinned: std::marker::PhantomPinned,
            tag: 0,
        });
        assert!(deadline.is::<Deadline>());
        assert!(!deadline.is::<Never>());
        assert!(never.is::<Never>());
        assert!(!never.is::<Deadline>());
    }

    #[test]
    fn downcast_round_trip_mutates_in_place() {
        let mut sleep: Pin<Box<dyn Sleep>> = Box::pin(Never {
            _pinned: std::marker::PhantomPinned,
            tag: 1,
        });
        let before: *const dyn Sleep = &*sleep;

        assert!(sleep.as_mut().downcast_mut_pin::<Deadline>().is_none());
        let never = sleep
            .as_mut()
            .downcast_mut_pin::<Never>()
            .expect("is a Never");
        // SAFETY: only a plain field is written; nothing is moved.
        unsafe { never.get_unchecked_mut().tag = 9 };

        let after: *const dyn Sleep = &*sleep;
        assert_eq!(before.cast::<()>(), after.cast::<()>(), "must not move");
        let never = sleep.as_mut().downcast_mut_pin::<Never>().unwrap();
        assert_eq!(never.tag, 9);
    }

    #[tokio::test]
    async fn provided_methods() {
        let timer = Basic::default();
        let start = Instant::now();
        assert!(timer.now() >= start);

        let mut sleep = timer.sleep(Duration::from_secs(3600));
        assert!(sleep.is::<Deadline>());
        timer.reset(&mut sleep, Instant::now());
        assert_eq!(timer.until_calls.get(), 1, "reset goes through sleep_until");
        sleep.await;
    }

    #[test]
    fn same_auto_traits_as_upstream() {
        use crate::rt::auto_traits::{auto_traits, of};
        use hyper_upstream::rt as up;
        assert_eq!(
            auto_traits!(of::<dyn Sleep>()),
            auto_traits!(of::<dyn up::Sleep>())
        );
        assert_eq!(
            auto_traits!(of::<dyn Timer>()),
            auto_traits!(of::<dyn up::Timer>())
        );
    }

    #[test]
    fn dyn_sleep_is_send_sync() {
        fn check<T: Send + Sync + ?Sized>() {}
        check::<dyn Sleep>();
        check::<Pin<Box<dyn Sleep>>>();
    }

    // A user's timer and sleep, written once and compiled against both our traits and
    // upstream's, to keep the implementable surface identical.
    macro_rules! user_timer {
        () => {
            use std::future::Future;
            use std::pin::Pin;
            use std::task::{Context, Poll};
            use std::time::{Duration, Instant};

            pub(super) struct Instant0;

            impl Future for Instant0 {
                type Output = ();
                fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
                    Poll::Ready(())
                }
            }

            impl api::Sleep for Instant0 {}

            pub(super) struct Fixed(pub(super) Instant);

            impl api::Timer for Fixed {
                fn sleep(&self, _: Duration) -> Pin<Box<dyn api::Sleep>> {
                    Box::pin(Instant0)
                }
                fn sleep_until(&self, _: Instant) -> Pin<Box<dyn api::Sleep>> {
                    Box::pin(Instant0)
                }
                fn now(&self) -> Instant {
                    self.0
                }
            }

            pub(super) async fn run(base: Instant) -> (bool, bool, Instant) {
                use api::Timer as _;
                let timer = Fixed(base);
                let mut sleep = timer.sleep(Duration::from_millis(1));
                timer.reset(&mut sleep, base);
                let found = sleep.as_mut().downcast_mut_pin::<Instant0>().is_some();
                let is = sleep.is::<Instant0>();
                sleep.await;
                (found, is, timer.now())
            }
        };
    }

    mod against_ours {
        use crate::rt as api;
        user_timer!();
    }

    mod against_upstream {
        use hyper_upstream::rt as api;
        user_timer!();
    }

    #[tokio::test]
    async fn user_timer_behaves_the_same() {
        let base = Instant::now();
        let ours = against_ours::run(base).await;
        assert_eq!(ours, (true, true, base));
        assert_eq!(ours, against_upstream::run(base).await);
    }
}
