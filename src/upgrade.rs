//! Taking over a connection once HTTP is done with it.
//!
//! Two HTTP mechanisms end with both peers speaking something other than HTTP on the same
//! transport: an HTTP/1.1 `Upgrade` (for example to WebSocket, answered by a
//! `101 Switching Protocols`) and a `CONNECT` request (answered by a `2xx`, after which the
//! connection is a tunnel). This module treats both the same way: the connection hands its
//! transport over as an [`Upgraded`] once the message that switched protocols is finished.
//!
//! The connection only performs the hand-over. Deciding that an upgrade happens is up to the
//! application: it sends and checks the headers, methods and status codes that the protocol
//! being switched to requires.
//!
//! - A **server** inspects the request, answers with a response that agrees to the switch, and
//!   calls [`on`] with the request (or a `&mut` to it). The returned [`OnUpgrade`] completes
//!   once the response has been written; the service usually spawns a task that awaits it,
//!   since the response can only be written after the service has returned it.
//! - A **client** sends a request asking for the switch, checks that the response agrees, and
//!   calls [`on`] with the response. The connection future must keep being polled until the
//!   upgrade completes; it is what performs the hand-over.
//!
//! ```
//! async fn after_switching_protocols(mut req: http::Request<()>) {
//!     let upgrade = hyper::upgrade::on(&mut req);
//!     // ...return a `101 Switching Protocols` response from the service, then:
//!     match upgrade.await {
//!         Ok(upgraded) => { /* speak the new protocol over `upgraded` */ }
//!         Err(err) => eprintln!("upgrade failed: {err}"),
//!     }
//! }
//! ```

use bytes::Bytes;
use std::{
    any::Any,
    error::Error as StdError,
    fmt,
    future::Future,
    io, mem,
    pin::Pin,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    task::{Context, Poll, Waker},
};

use crate::error::{Error, User};
use crate::rt::{Read, ReadBufCursor, Write};

/// What the IO methods return.
type IoPoll<T> = Poll<Result<T, io::Error>>;

/// The transport of a connection that stopped speaking HTTP.
///
/// It is a [`Read`] + [`Write`] object in its own right, so the new protocol can be spoken over
/// it directly. When the concrete transport type is known, [`downcast`](Upgraded::downcast)
/// gives the transport back, together with any bytes the connection had already read from it.
///
/// Reads first return the bytes that the HTTP connection had read past the end of the message
/// which switched protocols (a peer may send the start of the new protocol right behind it),
/// and only then read from the transport; writes go to the transport directly.
pub struct Upgraded {
    /// Bytes already taken off the transport that belong to the new protocol. They come before
    /// anything still in the transport, so reads hand them out first. Once drained, this is
    /// replaced by an empty `Bytes` so that the connection's read buffer is not kept alive.
    unread: Bytes,
    /// The transport itself, type-erased. Boxing it keeps `Upgraded` a single type whatever the
    /// transport is; the box is `Send` but not `Sync`, and so is `Upgraded`.
    transport: Box<dyn Transport>,
}

/// What the connection knows about the transport it hands over: an IO object that can be
/// moved to another task, plus enough type information to give it back by value.
///
/// `Send` is a supertrait so that `Box<dyn Transport>` is `Send` without a separate bound.
trait Transport: Read + Write + Unpin + Send + 'static {
    /// Moves the transport into `slot` if `slot` is an `Option<Self>` and returns `Ok`;
    /// otherwise returns the box unchanged.
    ///
    /// Going through a caller-provided `Option<T>` lets `downcast` test the type and move the
    /// value out in one step, using only `Any` (no pointer casts). The method is dispatched
    /// through the vtable, so `Self` here is the concrete transport type.
    fn move_into(self: Box<Self>, slot: &mut dyn Any) -> Result<(), Box<dyn Transport>>;
}

impl<T: Read + Write + Unpin + Send + 'static> Transport for T {
    fn move_into(self: Box<Self>, slot: &mut dyn Any) -> Result<(), Box<dyn Transport>> {
        match slot.downcast_mut::<Option<T>>() {
            Some(empty) => {
                *empty = Some(*self);
                Ok(())
            }
            None => Err(self),
        }
    }
}

/// An [`Upgraded`] taken apart by [`Upgraded::downcast`].
#[non_exhaustive]
#[derive(Debug)]
pub struct Parts<T> {
    /// The transport the connection used before the upgrade.
    pub io: T,
    /// Bytes already read from `io` that belong to the new protocol and were not yet returned
    /// by a read on the [`Upgraded`].
    ///
    /// They precede whatever `io` yields next, so anyone who keeps using `io` must process these
    /// first. For example a server may have sent the first frames of the new protocol in the
    /// same packet as its `101` response.
    pub read_buf: Bytes,
}

impl Upgraded {
    /// Wraps the transport of a connection that finished its last HTTP message. `read_buf`
    /// holds the bytes the connection read past the end of that message.
    #[cfg_attr(
        not(all(
            any(feature = "client", feature = "server"),
            any(feature = "http1", feature = "http2")
        )),
        allow(dead_code)
    )]
    pub(crate) fn new<T>(io: T, read_buf: Bytes) -> Upgraded
    where
        T: Read + Write + Unpin + Send + 'static,
    {
        Upgraded {
            unread: read_buf,
            transport: Box::new(io),
        }
    }

    /// Recovers the transport if it is of type `T`.
    ///
    /// On success, [`Parts::read_buf`] holds the bytes that were read from the transport
    /// before the hand-over and were not yet returned by reads on this `Upgraded`.
    ///
    /// # Errors
    ///
    /// If the transport is not a `T`, the `Upgraded` is returned unchanged, still holding its
    /// unread bytes.
    pub fn downcast<T: Read + Write + Unpin + 'static>(self) -> Result<Parts<T>, Self> {
        let Upgraded { unread, transport } = self;
        let mut slot: Option<T> = None;
        match Transport::move_into(transport, &mut slot) {
            Err(transport) => Err(Upgraded { unread, transport }),
            Ok(()) => Ok(Parts {
                io: slot.expect("`move_into` fills the slot whenever it returns Ok"),
                read_buf: unread,
            }),
        }
    }

    fn transport(&mut self) -> Pin<&mut dyn Transport> {
        Pin::new(&mut *self.transport)
    }
}

impl Read for Upgraded {
    /// Serves the read-ahead bytes while there are any, then reads from the transport.
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> IoPoll<()> {
        let this = self.get_mut();
        if this.unread.is_empty() {
            return this.transport().poll_read(cx, buf);
        }
        // Serve from the bytes read ahead. Returning after them, without also reading from the
        // transport, keeps this call from blocking on IO when data is already at hand.
        let take = this.unread.len().min(buf.remaining());
        let chunk = if take == this.unread.len() {
            mem::take(&mut this.unread)
        } else {
            this.unread.split_to(take)
        };
        buf.put_slice(&chunk);
        Poll::Ready(Ok(()))
    }
}

impl Write for Upgraded {
    fn is_write_vectored(&self) -> bool {
        // Deref first: on the `Box` itself, method lookup would pick the `Box<_>` impl of
        // `Write` instead of the transport's.
        let transport: &dyn Transport = &*self.transport;
        transport.is_write_vectored()
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> IoPoll<usize> {
        self.get_mut().transport().poll_write_vectored(cx, bufs)
    }

    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> IoPoll<usize> {
        self.get_mut().transport().poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> IoPoll<()> {
        self.get_mut().transport().poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> IoPoll<()> {
        self.get_mut().transport().poll_shutdown(cx)
    }
}

impl fmt::Debug for Upgraded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Upgraded")
    }
}

/// A future that completes with the [`Upgraded`] transport once the connection hands it over.
///
/// Obtained from [`on`]. It fails with an error when the message cannot be upgraded (it did not
/// come from or go to a connection, or the connection has no upgrade to offer), when the
/// connection is driven in a way that does not support upgrades, or when the connection ends
/// before the hand-over (then [`Error::is_canceled`] is true).
///
/// Clones share one outcome: the first clone to complete gets it, and every clone polled
/// afterwards fails. While the outcome is pending, only the task that polled last is woken.
#[derive(Clone)]
pub struct OnUpgrade {
    /// `None` when the message carried no upgrade handle; the future then fails at once.
    handoff: Option<Arc<Mutex<Handoff>>>,
}

/// The state shared by a [`Pending`] and its [`OnUpgrade`] clones: a one-shot channel.
///
/// It only ever moves forward: `Waiting` becomes `Decided` or `Abandoned` (by the connection
/// side) and `Decided` becomes `Delivered` (by a poll). The first settlement wins.
enum Handoff {
    /// The connection has not decided yet. Holds the waker of the most recent poll.
    Waiting(Option<Waker>),
    /// The connection decided; no poll has taken the outcome yet.
    Decided(crate::Result<Upgraded>),
    /// A poll took the outcome.
    Delivered,
    /// The `Pending` was dropped without a decision.
    Abandoned,
}

/// Locks the shared hand-off state.
///
/// Poisoning is ignored: the critical sections only move values in and out of the enum (the one
/// thing that can panic inside them is cloning a waker), and each leaves a valid state behind.
fn lock(handoff: &Mutex<Handoff>) -> MutexGuard<'_, Handoff> {
    handoff.lock().unwrap_or_else(PoisonError::into_inner)
}

impl OnUpgrade {
    /// The handle of a message that cannot be upgraded.
    pub(crate) fn none() -> OnUpgrade {
        OnUpgrade { handoff: None }
    }

    /// Whether this is the handle of a message that cannot be upgraded.
    // Part of the API offered to the connection code, which may not need it in every build.
    #[allow(dead_code)]
    pub(crate) fn is_none(&self) -> bool {
        self.handoff.is_none()
    }
}

impl Future for OnUpgrade {
    type Output = Result<Upgraded, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(handoff) = &self.handoff else {
            return Poll::Ready(Err(Error::new_user(User::NoUpgrade)));
        };
        let mut state = lock(handoff);
        match &mut *state {
            Handoff::Waiting(waker) => {
                // The clone happens before the store, so a panicking clone changes nothing.
                if !waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                    *waker = Some(cx.waker().clone());
                }
                Poll::Pending
            }
            Handoff::Decided(_) => match mem::replace(&mut *state, Handoff::Delivered) {
                Handoff::Decided(outcome) => Poll::Ready(outcome),
                _ => unreachable!("the state was `Decided` under this same lock"),
            },
            // Another clone (or an earlier poll of this one) already took the outcome.
            Handoff::Delivered => Poll::Ready(Err(Error::new_user(User::NoUpgrade))),
            Handoff::Abandoned => Poll::Ready(Err(Error::new_canceled().with(UpgradeNotCompleted))),
        }
    }
}

impl fmt::Debug for OnUpgrade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OnUpgrade")
    }
}

/// The connection's end of an upgrade hand-off; see [`pending`].
///
/// Consuming it with [`fulfill`](Pending::fulfill) or [`manual`](Pending::manual) settles the
/// paired [`OnUpgrade`]; dropping it without either settles it with a canceled error.
#[cfg_attr(
    not(all(
        any(feature = "client", feature = "server"),
        any(feature = "http1", feature = "http2")
    )),
    allow(dead_code)
)]
pub(crate) struct Pending {
    handoff: Arc<Mutex<Handoff>>,
}

/// Creates a hand-off: the connection keeps the `Pending`, and the `OnUpgrade` goes into the
/// extensions of the message that may switch protocols.
#[cfg_attr(
    not(all(
        any(feature = "client", feature = "server"),
        any(feature = "http1", feature = "http2")
    )),
    allow(dead_code)
)]
pub(crate) fn pending() -> (Pending, OnUpgrade) {
    let handoff = Arc::new(Mutex::new(Handoff::Waiting(None)));
    let on_upgrade = OnUpgrade {
        handoff: Some(Arc::clone(&handoff)),
    };
    (Pending { handoff }, on_upgrade)
}

#[cfg_attr(
    not(all(
        any(feature = "client", feature = "server"),
        any(feature = "http1", feature = "http2")
    )),
    allow(dead_code)
)]
impl Pending {
    /// Hands the transport over: the `OnUpgrade` completes with `upgraded`.
    ///
    /// If every `OnUpgrade` clone is gone already, `upgraded` (and so the transport) is dropped
    /// along with this `Pending`.
    pub(crate) fn fulfill(self, upgraded: Upgraded) {
        self.settle(Handoff::Decided(Ok(upgraded)));
    }

    /// Declines the hand-over because the connection is driven without upgrade support (the
    /// application keeps the transport through other means): the `OnUpgrade` fails with a
    /// user error.
    #[cfg(feature = "http1")]
    pub(crate) fn manual(self) {
        self.settle(Handoff::Decided(Err(Error::new_user(User::ManualUpgrade))));
    }

    /// Moves the shared state out of `Waiting` and wakes the last poller. Does nothing if it
    /// was settled before, so that `Drop` after `fulfill`/`manual` keeps their outcome.
    fn settle(&self, outcome: Handoff) {
        let waker = {
            let mut state = lock(&self.handoff);
            match &mut *state {
                Handoff::Waiting(waker) => {
                    let waker = waker.take();
                    *state = outcome;
                    waker
                }
                _ => None,
            }
        };
        // Woken outside the lock: the woken task may poll (and lock) right away.
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.settle(Handoff::Abandoned);
    }
}

/// Cause attached to the canceled error of an [`OnUpgrade`] whose connection went away (or
/// stopped being polled and was dropped) before handing the transport over.
#[derive(Debug)]
struct UpgradeNotCompleted;

impl StdError for UpgradeNotCompleted {}

impl fmt::Display for UpgradeNotCompleted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an upgrade was expected, but the connection ended without completing it")
    }
}

/// Gets the upgrade future of a message.
///
/// Works on an `http::Request<B>` or `http::Response<B>`, by value or through `&mut`. The
/// connection attaches the future to the message's extensions; this removes it from there, so
/// a second call on the same message returns a future that fails. A message that did not come
/// from (or was not sent on) a connection, or that cannot switch protocols, yields a future
/// that fails right away.
pub fn on<T: sealed::CanUpgrade>(msg: T) -> OnUpgrade {
    msg.take_on_upgrade()
}

/// Removes the connection's upgrade handle from a message's extensions.
fn take_from(extensions: &mut http::Extensions) -> OnUpgrade {
    extensions
        .remove::<OnUpgrade>()
        .unwrap_or_else(OnUpgrade::none)
}

mod sealed {
    use super::{take_from, OnUpgrade};

    /// Messages that can carry an upgrade handle. Sealed: implemented for requests and
    /// responses only, by value and by `&mut`.
    pub trait CanUpgrade {
        /// Takes the handle out of the message's extensions.
        fn take_on_upgrade(self) -> OnUpgrade;
    }

    impl<B> CanUpgrade for http::Request<B> {
        fn take_on_upgrade(mut self) -> OnUpgrade {
            take_from(self.extensions_mut())
        }
    }

    impl<B> CanUpgrade for &mut http::Request<B> {
        fn take_on_upgrade(self) -> OnUpgrade {
            take_from(self.extensions_mut())
        }
    }

    impl<B> CanUpgrade for http::Response<B> {
        fn take_on_upgrade(mut self) -> OnUpgrade {
            take_from(self.extensions_mut())
        }
    }

    impl<B> CanUpgrade for &mut http::Response<B> {
        fn take_on_upgrade(self) -> OnUpgrade {
            take_from(self.extensions_mut())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Kind;
    use crate::rt::ReadBuf;
    use std::collections::VecDeque;
    use std::panic::{RefUnwindSafe, UnwindSafe};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    /// An in-memory transport: reads drain `inbound`, writes append to `outbound`.
    #[derive(Debug, Default)]
    struct Pipe {
        inbound: VecDeque<u8>,
        outbound: Vec<u8>,
        vectored: bool,
        flushes: usize,
        shut_down: bool,
    }

    impl Pipe {
        fn with_inbound(data: &[u8]) -> Pipe {
            Pipe {
                inbound: data.iter().copied().collect(),
                ..Pipe::default()
            }
        }
    }

    impl Read for Pipe {
        fn poll_read(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            mut buf: ReadBufCursor<'_>,
        ) -> IoPoll<()> {
            let this = self.get_mut();
            let n = this.inbound.len().min(buf.remaining());
            let chunk: Vec<u8> = this.inbound.drain(..n).collect();
            buf.put_slice(&chunk);
            Poll::Ready(Ok(()))
        }
    }

    impl Write for Pipe {
        fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, data: &[u8]) -> IoPoll<usize> {
            self.get_mut().outbound.extend_from_slice(data);
            Poll::Ready(Ok(data.len()))
        }

        fn poll_write_vectored(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            bufs: &[io::IoSlice<'_>],
        ) -> IoPoll<usize> {
            let this = self.get_mut();
            let before = this.outbound.len();
            for b in bufs {
                this.outbound.extend_from_slice(b);
            }
            Poll::Ready(Ok(this.outbound.len() - before))
        }

        fn is_write_vectored(&self) -> bool {
            self.vectored
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> IoPoll<()> {
            self.get_mut().flushes += 1;
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> IoPoll<()> {
            self.get_mut().shut_down = true;
            Poll::Ready(Ok(()))
        }
    }

    /// Gives each listed type IO impls that do nothing, for transports that only serve as
    /// downcast targets.
    macro_rules! inert_transport {
        ($($ty:ty),+) => {$(
            impl Read for $ty {
                fn poll_read(
                    self: Pin<&mut Self>,
                    _: &mut Context<'_>,
                    _: ReadBufCursor<'_>,
                ) -> IoPoll<()> {
                    Poll::Ready(Ok(()))
                }
            }

            impl Write for $ty {
                fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, b: &[u8]) -> IoPoll<usize> {
                    Poll::Ready(Ok(b.len()))
                }

                fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> IoPoll<()> {
                    Poll::Ready(Ok(()))
                }

                fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> IoPoll<()> {
                    Poll::Ready(Ok(()))
                }
            }
        )+};
    }

    /// A transport of another type, so that downcasts to `Pipe` miss.
    #[derive(Debug)]
    struct Sink;

    /// A transport that is not `Send`: `downcast` accepts such target types.
    struct Local(#[allow(dead_code)] std::rc::Rc<()>);

    inert_transport!(Sink, Local);

    /// Counts wake-ups, so tests can check who gets notified.
    #[derive(Default)]
    struct WakeCount(AtomicUsize);

    impl Wake for WakeCount {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    impl WakeCount {
        fn get(&self) -> usize {
            self.0.load(Ordering::SeqCst)
        }
    }

    fn counting_waker() -> (Arc<WakeCount>, Waker) {
        let count = Arc::new(WakeCount::default());
        (count.clone(), Waker::from(count))
    }

    fn poll_once(fut: &mut OnUpgrade, waker: &Waker) -> Poll<crate::Result<Upgraded>> {
        Pin::new(fut).poll(&mut Context::from_waker(waker))
    }

    fn ready(fut: &mut OnUpgrade) -> crate::Result<Upgraded> {
        let (_, waker) = counting_waker();
        match poll_once(fut, &waker) {
            Poll::Ready(outcome) => outcome,
            Poll::Pending => panic!("the upgrade future should have completed"),
        }
    }

    /// One `poll_read` with room for `room` bytes.
    fn read_chunk(io: &mut Upgraded, room: usize) -> Vec<u8> {
        let mut storage = vec![0u8; room];
        let mut buf = ReadBuf::new(&mut storage);
        let (_, waker) = counting_waker();
        let mut cx = Context::from_waker(&waker);
        match Pin::new(io).poll_read(&mut cx, buf.unfilled()) {
            Poll::Ready(Ok(())) => buf.filled().to_vec(),
            other => panic!("unexpected read result: {other:?}"),
        }
    }

    #[test]
    fn reads_hand_out_read_ahead_bytes_before_the_transport() {
        let mut up = Upgraded::new(Pipe::with_inbound(b" from io"), Bytes::from("buffered"));
        assert_eq!(read_chunk(&mut up, 5), b"buffe");
        // The rest of the read-ahead bytes come alone, even though there is room for more.
        assert_eq!(read_chunk(&mut up, 64), b"red");
        assert_eq!(read_chunk(&mut up, 64), b" from io");
        assert_eq!(read_chunk(&mut up, 64), b"");
    }

    #[test]
    fn empty_read_ahead_goes_straight_to_the_transport() {
        let mut up = Upgraded::new(Pipe::with_inbound(b"io"), Bytes::new());
        assert_eq!(read_chunk(&mut up, 64), b"io");
    }

    #[test]
    fn writes_reach_the_transport() {
        let pipe = Pipe {
            vectored: true,
            ..Pipe::default()
        };
        let mut up = Upgraded::new(pipe, Bytes::new());
        assert!(up.is_write_vectored());
        let (_, waker) = counting_waker();
        let mut cx = Context::from_waker(&waker);
        let mut pinned = Pin::new(&mut up);
        assert!(matches!(
            pinned.as_mut().poll_write(&mut cx, b"one "),
            Poll::Ready(Ok(4))
        ));
        let slices = [io::IoSlice::new(b"two "), io::IoSlice::new(b"three")];
        assert!(matches!(
            pinned.as_mut().poll_write_vectored(&mut cx, &slices),
            Poll::Ready(Ok(9))
        ));
        assert!(pinned.as_mut().poll_flush(&mut cx).is_ready());
        assert!(pinned.as_mut().poll_shutdown(&mut cx).is_ready());

        let pipe = up.downcast::<Pipe>().unwrap().io;
        assert_eq!(pipe.outbound, b"one two three");
        assert_eq!(pipe.flushes, 1);
        assert!(pipe.shut_down);
    }

    #[test]
    fn vectored_capability_is_the_transports() {
        let up = Upgraded::new(Pipe::default(), Bytes::new());
        assert!(!up.is_write_vectored());
    }

    #[test]
    fn downcast_returns_the_transport_and_unread_bytes() {
        let mut up = Upgraded::new(Pipe::with_inbound(b"later"), Bytes::from("early"));
        assert_eq!(read_chunk(&mut up, 2), b"ea");
        let parts = up.downcast::<Pipe>().expect("the transport is a Pipe");
        assert_eq!(parts.read_buf, "rly");
        assert_eq!(parts.io.inbound, b"later");
    }

    #[test]
    fn downcast_after_draining_has_empty_read_buf() {
        let mut up = Upgraded::new(Pipe::default(), Bytes::from("ab"));
        assert_eq!(read_chunk(&mut up, 8), b"ab");
        assert!(up.downcast::<Pipe>().unwrap().read_buf.is_empty());
    }

    #[test]
    fn failed_downcast_gives_back_an_intact_upgraded() {
        let up = Upgraded::new(Pipe::with_inbound(b"io"), Bytes::from("pre"));
        let up = up
            .downcast::<Sink>()
            .expect_err("the transport is not a Sink");
        // A box around the right type is still the wrong type.
        let mut up = up.downcast::<Box<Pipe>>().expect_err("not boxed");
        assert_eq!(read_chunk(&mut up, 1), b"p");
        let parts = up.downcast::<Pipe>().expect("the transport is a Pipe");
        assert_eq!(parts.read_buf, "re");
    }

    #[test]
    fn downcast_to_a_non_send_type_compiles_and_misses() {
        let up = Upgraded::new(Sink, Bytes::new());
        assert!(up.downcast::<Local>().is_err());
    }

    #[test]
    fn fulfill_completes_the_future_and_wakes_the_poller() {
        let (pending, mut on_upgrade) = pending();
        let (count, waker) = counting_waker();
        assert!(poll_once(&mut on_upgrade, &waker).is_pending());
        assert_eq!(count.get(), 0);

        pending.fulfill(Upgraded::new(Pipe::default(), Bytes::from("x")));
        assert_eq!(count.get(), 1);
        let parts = ready(&mut on_upgrade).unwrap().downcast::<Pipe>().unwrap();
        assert_eq!(parts.read_buf, "x");
    }

    #[test]
    fn outcome_settled_before_the_first_poll_is_delivered() {
        let (pending, mut on_upgrade) = pending();
        pending.fulfill(Upgraded::new(Sink, Bytes::new()));
        assert!(ready(&mut on_upgrade).is_ok());
    }

    #[test]
    fn manual_fails_with_a_user_error() {
        let (pending, mut on_upgrade) = pending();
        pending.manual();
        let err = ready(&mut on_upgrade).unwrap_err();
        assert!(err.is_user());
        assert_eq!(err.kind(), Kind::User(User::ManualUpgrade));
    }

    #[test]
    fn dropped_pending_cancels_and_wakes() {
        let (pending, mut on_upgrade) = pending();
        let (count, waker) = counting_waker();
        assert!(poll_once(&mut on_upgrade, &waker).is_pending());
        drop(pending);
        assert_eq!(count.get(), 1);
        for _ in 0..2 {
            // Cancellation is sticky: every poll reports it.
            let err = ready(&mut on_upgrade).unwrap_err();
            assert!(err.is_canceled());
            let cause = err.source().expect("a cause is attached");
            assert!(cause.is::<UpgradeNotCompleted>());
            assert!(cause.to_string().contains("expected"));
        }
    }

    #[test]
    fn only_the_latest_poller_is_woken() {
        let (pending, mut first) = pending();
        let mut second = first.clone();
        let (count_a, waker_a) = counting_waker();
        let (count_b, waker_b) = counting_waker();
        assert!(poll_once(&mut first, &waker_a).is_pending());
        assert!(poll_once(&mut second, &waker_b).is_pending());
        pending.fulfill(Upgraded::new(Sink, Bytes::new()));
        assert_eq!((count_a.get(), count_b.get()), (0, 1));
    }

    #[test]
    fn clones_share_a_single_outcome() {
        let (pending, mut first) = pending();
        let mut second = first.clone();
        pending.fulfill(Upgraded::new(Sink, Bytes::new()));
        assert!(ready(&mut second).is_ok());
        let err = ready(&mut first).unwrap_err();
        assert_eq!(err.kind(), Kind::User(User::NoUpgrade));
        // Polling the completed clone again does not panic either.
        assert!(ready(&mut second).is_err());
    }

    #[test]
    fn dropping_every_on_upgrade_does_not_disturb_the_connection() {
        let (pending, on_upgrade) = pending();
        drop(on_upgrade);
        pending.fulfill(Upgraded::new(Sink, Bytes::new()));
    }

    #[tokio::test]
    async fn awaiting_across_tasks() {
        let (pending, on_upgrade) = pending();
        let waiter = tokio::spawn(on_upgrade);
        tokio::task::yield_now().await;
        pending.fulfill(Upgraded::new(Pipe::default(), Bytes::from("hi")));
        let up = waiter.await.unwrap().unwrap();
        assert_eq!(up.downcast::<Pipe>().unwrap().read_buf, "hi");
    }

    #[test]
    fn none_fails_with_no_upgrade() {
        let mut none = OnUpgrade::none();
        assert!(none.is_none());
        let err = ready(&mut none).unwrap_err();
        assert!(err.is_user());
        assert_eq!(err.kind(), Kind::User(User::NoUpgrade));
        assert!(!pending().1.is_none());
    }

    #[test]
    fn on_takes_the_handle_out_of_requests() {
        let mut req = http::Request::new(());
        assert!(on(&mut req).is_none());

        let (pending_a, handle_a) = pending();
        req.extensions_mut().insert(handle_a);
        let mut taken = on(&mut req);
        assert!(!taken.is_none());
        assert!(req.extensions().get::<OnUpgrade>().is_none());
        assert!(on(&mut req).is_none(), "a second call finds nothing");
        pending_a.manual();
        assert_eq!(
            ready(&mut taken).unwrap_err().kind(),
            Kind::User(User::ManualUpgrade)
        );

        let (_pending_b, handle_b) = pending();
        req.extensions_mut().insert(handle_b);
        assert!(!on(req).is_none());
    }

    #[test]
    fn on_takes_the_handle_out_of_responses() {
        let mut res = http::Response::new(());
        let (connection, handle) = pending();
        res.extensions_mut().insert(handle);
        let mut taken = on(&mut res);
        assert!(on(&mut res).is_none());
        connection.fulfill(Upgraded::new(Sink, Bytes::new()));
        assert!(ready(&mut taken).is_ok());

        let mut none = on(http::Response::new(()));
        assert_eq!(
            ready(&mut none).unwrap_err().kind(),
            Kind::User(User::NoUpgrade)
        );
        let (_pending, handle) = pending();
        let mut res = http::Response::new(());
        res.extensions_mut().insert(handle);
        assert!(!on(res).is_none());
    }

    #[test]
    fn debug_output() {
        let up = Upgraded::new(Sink, Bytes::new());
        assert_eq!(format!("{up:?}"), "Upgraded");
        assert_eq!(format!("{:?}", OnUpgrade::none()), "OnUpgrade");
        let parts = up.downcast::<Sink>().unwrap();
        assert!(format!("{parts:?}").contains("Sink"));
    }

    /// Answers "does `$ty` implement `$tr`?" for a concrete type: the inherent method exists only
    /// when the bound holds and takes precedence over the trait method that always says no.
    macro_rules! implements {
        ($ty:ty: $tr:path) => {{
            struct Probe<T: ?Sized>(std::marker::PhantomData<T>);
            #[allow(dead_code)] // unused whenever the bound holds
            trait No {
                fn holds(&self) -> bool {
                    false
                }
            }
            impl<T: ?Sized> No for Probe<T> {}
            impl<T: ?Sized + $tr> Probe<T> {
                #[allow(dead_code)]
                fn holds(&self) -> bool {
                    true
                }
            }
            Probe::<$ty>(std::marker::PhantomData).holds()
        }};
    }

    #[test]
    fn auto_traits_match_upstream() {
        fn on_upgrade_bounds<T: Future + Clone + Send + Sync + Unpin + 'static>() {}
        on_upgrade_bounds::<OnUpgrade>();

        assert!(implements!(Upgraded: Send));
        assert!(implements!(Upgraded: Unpin));
        assert!(!implements!(Upgraded: Sync));
        assert!(!implements!(Upgraded: UnwindSafe));
        assert!(!implements!(Upgraded: RefUnwindSafe));

        assert!(implements!(OnUpgrade: UnwindSafe));
        assert!(implements!(OnUpgrade: RefUnwindSafe));

        assert!(implements!(Parts<Pipe>: Send));
        assert!(implements!(Parts<Pipe>: Sync));
        assert!(implements!(Parts<Pipe>: UnwindSafe));
        assert!(!implements!(Parts<std::rc::Rc<u8>>: Send));

        fn pending_is_send<T: Send + 'static>() {}
        pending_is_send::<Pending>();
    }
}
