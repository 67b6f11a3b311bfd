//! [`Incoming`], the body of a message received by a connection.
//!
//! The connection task and the application run concurrently, so a received body is a
//! one-slot channel between them: the connection's [`Sender`] offers one chunk at a time and
//! waits until the application has taken it, which is what back-pressures the transport. The
//! slot also carries the body's end: a clean end only comes from [`Sender::finish`]; a sender
//! dropped any other way (the connection failed or was dropped mid-body) ends the body with an
//! error, so a truncated body can never look complete.
use std::fmt;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

#[cfg(all(feature = "http1", any(feature = "client", feature = "server")))]
pub(crate) use self::chan::{BodyLength, Sender};

/// The body of a request a server received, or of a response a client received.
///
/// It yields data frames as the connection reads them, and a trailers frame if the peer sent
/// trailers. Its [`size_hint`](Body::size_hint) is exact when the message declared a
/// `Content-Length`, and [`is_end_stream`](Body::is_end_stream) is true once that many bytes
/// were yielded (or for messages without a body).
#[must_use = "streams do nothing unless polled"]
pub struct Incoming {
    kind: Kind,
    _unwind: UnwindMarker,
}

/// Upstream hyper's `Incoming` is neither `UnwindSafe` nor `RefUnwindSafe` wherever it can
/// carry an HTTP/1 body, and is both elsewhere; keeping the same auto traits in every feature
/// set means code written against one compiles against the other.
#[cfg(all(feature = "http1", any(feature = "client", feature = "server")))]
type UnwindMarker = PhantomData<Box<dyn Fn() + Send + Sync>>;
#[cfg(not(all(feature = "http1", any(feature = "client", feature = "server"))))]
type UnwindMarker = PhantomData<()>;

enum Kind {
    Empty,
    #[cfg(all(feature = "http1", any(feature = "client", feature = "server")))]
    Chan {
        rx: chan::Receiver,
        remaining: BodyLength,
    },
    #[cfg(all(feature = "http2", any(feature = "client", feature = "server")))]
    H2 {
        recv: h2::RecvStream,
        /// What is left of a declared `Content-Length`.
        remaining: Option<u64>,
        /// Every data frame was yielded; trailers (if any) come next.
        data_done: bool,
        /// Reports reads to the connection's PINGs (keep-alive, `adaptive_window`), and keeps
        /// a client stream counted as open while its response body is alive.
        tracker: Option<crate::proto::h2::ping::Tracker>,
    },
}

impl Incoming {
    /// A body with no bytes at all.
    #[allow(dead_code)]
    pub(crate) fn empty() -> Incoming {
        Incoming {
            kind: Kind::Empty,
            _unwind: PhantomData,
        }
    }

    /// A body fed by the returned [`Sender`].
    ///
    /// With `wait_for_demand`, the sender is not ready until the application polls the body
    /// for the first time; a server uses this to send `100 Continue` only to a client whose
    /// body is actually wanted.
    #[cfg(all(feature = "http1", any(feature = "client", feature = "server")))]
    pub(crate) fn channel(length: BodyLength, wait_for_demand: bool) -> (Sender, Incoming) {
        let (tx, rx) = chan::pair(wait_for_demand);
        let body = Incoming {
            kind: Kind::Chan {
                rx,
                remaining: length,
            },
            _unwind: PhantomData,
        };
        (tx, body)
    }
}

#[cfg(all(feature = "http2", any(feature = "client", feature = "server")))]
impl Incoming {
    /// The body of an HTTP/2 message: the stream's data frames, then its trailers.
    pub(crate) fn h2(
        recv: h2::RecvStream,
        content_length: Option<u64>,
        tracker: Option<crate::proto::h2::ping::Tracker>,
    ) -> Incoming {
        // A stream that already ended has no more bytes, whatever was (not) declared.
        let content_length = match content_length {
            None if recv.is_end_stream() => Some(0),
            declared => declared,
        };
        Incoming {
            kind: Kind::H2 {
                recv,
                remaining: content_length,
                data_done: false,
                tracker,
            },
            _unwind: PhantomData,
        }
    }
}

/// The next frame of an HTTP/2 body. Each data frame's bytes are handed back to the stream's
/// flow-control window as they are yielded, so the peer may send more only as fast as the
/// application reads. A reset with `NO_ERROR` (the peer answered early and needs no more of
/// the body, RFC 9113 §8.1) ends the body instead of failing it.
#[cfg(all(feature = "http2", any(feature = "client", feature = "server")))]
fn poll_h2_frame(
    recv: &mut h2::RecvStream,
    remaining: &mut Option<u64>,
    data_done: &mut bool,
    tracker: Option<&crate::proto::h2::ping::Tracker>,
    cx: &mut Context<'_>,
) -> Poll<Option<Result<Frame<Bytes>, crate::Error>>> {
    let early_end = |e: &h2::Error| e.reason() == Some(h2::Reason::NO_ERROR);
    if !*data_done {
        match recv.poll_data(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Some(Ok(data))) => {
                // Releasing only fails once the stream is gone, when there is no window
                // left to return the bytes to.
                recv.flow_control().release_capacity(data.len()).ok();
                if let Some(tracker) = tracker {
                    tracker.record_data(data.len());
                }
                if let Some(left) = remaining {
                    *left = left.saturating_sub(data.len() as u64);
                }
                return Poll::Ready(Some(Ok(Frame::data(data))));
            }
            Poll::Ready(Some(Err(e))) if early_end(&e) => return Poll::Ready(None),
            Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(crate::Error::new_body(e)))),
            Poll::Ready(None) => *data_done = true,
        }
    }
    match recv.poll_trailers(cx) {
        Poll::Pending => Poll::Pending,
        Poll::Ready(Ok(trailers)) => {
            if let Some(tracker) = tracker {
                tracker.record_read();
            }
            Poll::Ready(trailers.map(|t| Ok(Frame::trailers(t))))
        }
        Poll::Ready(Err(e)) if early_end(&e) => Poll::Ready(None),
        Poll::Ready(Err(e)) => Poll::Ready(Some(Err(crate::Error::new_h2(e)))),
    }
}

impl Body for Incoming {
    type Data = Bytes;
    type Error = crate::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, crate::Error>>> {
        match &mut self.kind {
            Kind::Empty => {
                let _ = cx;
                Poll::Ready(None)
            }
            #[cfg(all(feature = "http1", any(feature = "client", feature = "server")))]
            Kind::Chan { rx, remaining } => {
                let polled = rx.poll_frame(cx);
                if let Poll::Ready(Some(Ok(frame))) = &polled {
                    if let Some(data) = frame.data_ref() {
                        remaining.consume(data.len() as u64);
                    }
                }
                polled
            }
            #[cfg(all(feature = "http2", any(feature = "client", feature = "server")))]
            Kind::H2 {
                recv,
                remaining,
                data_done,
                tracker,
            } => poll_h2_frame(recv, remaining, data_done, tracker.as_ref(), cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Empty => true,
            #[cfg(all(feature = "http1", any(feature = "client", feature = "server")))]
            Kind::Chan { remaining, .. } => *remaining == BodyLength::Exact(0),
            #[cfg(all(feature = "http2", any(feature = "client", feature = "server")))]
            Kind::H2 { recv, .. } => recv.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Empty => SizeHint::with_exact(0),
            #[cfg(all(feature = "http1", any(feature = "client", feature = "server")))]
            Kind::Chan { remaining, .. } => match remaining {
                BodyLength::Exact(n) => SizeHint::with_exact(*n),
                _ => SizeHint::default(),
            },
            #[cfg(all(feature = "http2", any(feature = "client", feature = "server")))]
            Kind::H2 { remaining, .. } => match remaining {
                Some(n) => SizeHint::with_exact(*n),
                None => SizeHint::default(),
            },
        }
    }
}

impl fmt::Debug for Incoming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            Kind::Empty => "Empty",
            #[cfg(all(feature = "http1", any(feature = "client", feature = "server")))]
            Kind::Chan { .. } => "Streaming",
            #[cfg(all(feature = "http2", any(feature = "client", feature = "server")))]
            Kind::H2 { .. } => "Streaming",
        };
        f.debug_tuple("Body")
            .field(&format_args!("{what}"))
            .finish()
    }
}

#[cfg(all(feature = "http1", any(feature = "client", feature = "server")))]
mod chan {
    use std::sync::{Arc, Mutex, MutexGuard};
    use std::task::{Context, Poll, Waker};

    use bytes::Bytes;
    use http::HeaderMap;
    use http_body::Frame;

    /// How long a received body is, as its message head declared it.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub(crate) enum BodyLength {
        /// `Content-Length`; counts down as data is yielded.
        Exact(u64),
        /// `Transfer-Encoding: chunked`.
        Chunked,
        /// Delimited by the peer closing the connection (responses only).
        UntilClose,
    }

    impl BodyLength {
        pub(super) fn consume(&mut self, n: u64) {
            if let BodyLength::Exact(left) = self {
                *left = left.saturating_sub(n);
            }
        }
    }

    struct Slot {
        data: Option<Bytes>,
        /// Delivered after `data`, so an error never displaces bytes already accepted.
        error: Option<crate::Error>,
        trailers: Option<HeaderMap>,
        /// Set by `Sender::finish`: the body ended as its framing said it would.
        finished: bool,
        sender_gone: bool,
        receiver_gone: bool,
        /// The receiver has asked for data at least once.
        demanded: bool,
        receiver_waker: Option<Waker>,
        sender_waker: Option<Waker>,
    }

    type Shared = Arc<Mutex<Slot>>;

    fn lock(shared: &Shared) -> MutexGuard<'_, Slot> {
        // The critical sections below cannot panic, so a poisoned lock still holds a
        // consistent slot.
        shared
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(super) fn pair(wait_for_demand: bool) -> (Sender, Receiver) {
        let shared = Arc::new(Mutex::new(Slot {
            data: None,
            error: None,
            trailers: None,
            finished: false,
            sender_gone: false,
            receiver_gone: false,
            demanded: !wait_for_demand,
            receiver_waker: None,
            sender_waker: None,
        }));
        (
            Sender {
                shared: shared.clone(),
            },
            Receiver {
                shared,
                done: false,
            },
        )
    }

    /// The connection's end of a received body.
    #[must_use = "a body sender must be finished, or the body ends with an error"]
    pub(crate) struct Sender {
        shared: Shared,
    }

    /// The receiver was dropped: nobody will read the rest of the body.
    #[derive(Debug)]
    pub(crate) struct ReceiverGone;

    impl Sender {
        /// Ready when the slot is free and the receiver has asked for data at least once.
        pub(crate) fn poll_ready(
            &mut self,
            cx: &mut Context<'_>,
        ) -> Poll<Result<(), ReceiverGone>> {
            let mut slot = lock(&self.shared);
            if slot.receiver_gone {
                return Poll::Ready(Err(ReceiverGone));
            }
            if slot.demanded && slot.data.is_none() && slot.error.is_none() {
                return Poll::Ready(Ok(()));
            }
            slot.sender_waker = Some(cx.waker().clone());
            Poll::Pending
        }

        /// Offers one chunk; gives it back if the slot is taken or the receiver is gone.
        pub(crate) fn try_send_data(&mut self, chunk: Bytes) -> Result<(), Bytes> {
            let mut slot = lock(&self.shared);
            if slot.receiver_gone || slot.data.is_some() || slot.error.is_some() {
                return Err(chunk);
            }
            slot.data = Some(chunk);
            let waker = slot.receiver_waker.take();
            drop(slot);
            wake(waker);
            Ok(())
        }

        /// Stores the trailers, delivered once the data has been taken and the body finished.
        pub(crate) fn send_trailers(&mut self, trailers: HeaderMap) -> Result<(), HeaderMap> {
            let mut slot = lock(&self.shared);
            if slot.receiver_gone {
                return Err(trailers);
            }
            slot.trailers = Some(trailers);
            Ok(())
        }

        /// Ends the body cleanly.
        pub(crate) fn finish(self) {
            lock(&self.shared).finished = true;
            // `Drop` marks the sender gone and wakes the receiver.
        }

        /// Ends the body with `err`, after any data already in the slot.
        pub(crate) fn fail(self, err: crate::Error) {
            let mut slot = lock(&self.shared);
            if slot.error.is_none() {
                slot.error = Some(err);
            }
        }
    }

    impl Drop for Sender {
        fn drop(&mut self) {
            let mut slot = lock(&self.shared);
            slot.sender_gone = true;
            if !slot.finished && slot.error.is_none() {
                slot.error = Some(crate::Error::new_incomplete());
            }
            let waker = slot.receiver_waker.take();
            drop(slot);
            wake(waker);
        }
    }

    impl std::fmt::Debug for Sender {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("Sender").finish_non_exhaustive()
        }
    }

    pub(super) struct Receiver {
        shared: Shared,
        /// The end was yielded; keep returning `None` without touching the lock.
        done: bool,
    }

    impl Receiver {
        pub(super) fn poll_frame(
            &mut self,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, crate::Error>>> {
            if self.done {
                return Poll::Ready(None);
            }
            let mut slot = lock(&self.shared);
            let first_demand = !slot.demanded;
            slot.demanded = true;
            let item = if let Some(data) = slot.data.take() {
                Some(Some(Ok(Frame::data(data))))
            } else if let Some(err) = slot.error.take() {
                self.done = true;
                Some(Some(Err(err)))
            } else if slot.sender_gone {
                self.done = true;
                Some(slot.trailers.take().map(|t| Ok(Frame::trailers(t))))
            } else {
                slot.receiver_waker = Some(cx.waker().clone());
                None
            };
            // The sender waits for a free slot, or for the first demand.
            let waker = if item.is_some() || first_demand {
                slot.sender_waker.take()
            } else {
                None
            };
            drop(slot);
            wake(waker);
            match item {
                Some(item) => Poll::Ready(item),
                None => Poll::Pending,
            }
        }
    }

    impl Drop for Receiver {
        fn drop(&mut self) {
            let mut slot = lock(&self.shared);
            slot.receiver_gone = true;
            let waker = slot.sender_waker.take();
            drop(slot);
            wake(waker);
        }
    }

    fn wake(waker: Option<Waker>) {
        if let Some(w) = waker {
            w.wake();
        }
    }
}

#[cfg(all(test, feature = "http1", any(feature = "client", feature = "server")))]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::{Wake, Waker};

    struct CountWakes(AtomicUsize);
    impl Wake for CountWakes {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn counting_cx() -> (Arc<CountWakes>, Waker) {
        let count = Arc::new(CountWakes(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        (count, waker)
    }

    fn poll_body(
        body: &mut Incoming,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, crate::Error>>> {
        Pin::new(body).poll_frame(cx)
    }

    #[test]
    fn one_chunk_at_a_time_then_clean_end_with_trailers() {
        let (_c, waker) = counting_cx();
        let mut cx = Context::from_waker(&waker);
        let (mut tx, mut body) = Incoming::channel(BodyLength::Chunked, false);
        assert!(tx.poll_ready(&mut cx).is_ready());
        tx.try_send_data(Bytes::from_static(b"a")).unwrap();
        assert!(tx.poll_ready(&mut cx).is_pending(), "slot holds one chunk");
        assert_eq!(
            tx.try_send_data(Bytes::from_static(b"b")),
            Err(Bytes::from_static(b"b"))
        );
        let frame = match poll_body(&mut body, &mut cx) {
            Poll::Ready(Some(Ok(f))) => f,
            other => panic!("unexpected {other:?}"),
        };
        assert_eq!(frame.into_data().unwrap(), "a");
        let mut trailers = http::HeaderMap::new();
        trailers.insert("x-sum", http::HeaderValue::from_static("1"));
        tx.send_trailers(trailers).unwrap();
        tx.finish();
        match poll_body(&mut body, &mut cx) {
            Poll::Ready(Some(Ok(f))) => assert!(f.is_trailers()),
            other => panic!("expected trailers, got {other:?}"),
        }
        assert!(matches!(poll_body(&mut body, &mut cx), Poll::Ready(None)));
    }

    #[test]
    fn a_sender_dropped_without_finish_ends_the_body_with_an_error() {
        let (_c, waker) = counting_cx();
        let mut cx = Context::from_waker(&waker);
        let (mut tx, mut body) = Incoming::channel(BodyLength::Exact(10), false);
        tx.try_send_data(Bytes::from_static(b"12345")).unwrap();
        drop(tx);
        match poll_body(&mut body, &mut cx) {
            Poll::Ready(Some(Ok(f))) => assert_eq!(f.into_data().unwrap(), "12345"),
            other => panic!("data first, got {other:?}"),
        }
        match poll_body(&mut body, &mut cx) {
            Poll::Ready(Some(Err(e))) => assert!(e.is_incomplete_message()),
            other => panic!("expected an error, got {other:?}"),
        }
        assert!(matches!(poll_body(&mut body, &mut cx), Poll::Ready(None)));
    }

    #[test]
    fn demand_gated_sender_becomes_ready_only_after_the_first_poll() {
        let (count, waker) = counting_cx();
        let mut cx = Context::from_waker(&waker);
        let (mut tx, mut body) = Incoming::channel(BodyLength::Exact(3), true);
        assert!(tx.poll_ready(&mut cx).is_pending());
        assert!(poll_body(&mut body, &mut cx).is_pending());
        assert_eq!(
            count.0.load(Ordering::SeqCst),
            1,
            "first demand wakes the sender"
        );
        assert!(tx.poll_ready(&mut cx).is_ready());
    }

    #[test]
    fn dropping_the_body_makes_the_sender_see_the_receiver_gone() {
        let (count, waker) = counting_cx();
        let mut cx = Context::from_waker(&waker);
        let (mut tx, body) = Incoming::channel(BodyLength::Exact(3), true);
        assert!(tx.poll_ready(&mut cx).is_pending());
        drop(body);
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        assert!(matches!(tx.poll_ready(&mut cx), Poll::Ready(Err(_))));
        assert!(tx.try_send_data(Bytes::from_static(b"x")).is_err());
    }

    #[test]
    fn exact_length_counts_down_to_end_of_stream() {
        let (_c, waker) = counting_cx();
        let mut cx = Context::from_waker(&waker);
        let (mut tx, mut body) = Incoming::channel(BodyLength::Exact(4), false);
        assert_eq!(body.size_hint().exact(), Some(4));
        assert!(!body.is_end_stream());
        tx.try_send_data(Bytes::from_static(b"abcd")).unwrap();
        assert!(poll_body(&mut body, &mut cx).is_ready());
        assert!(body.is_end_stream());
        assert_eq!(body.size_hint().exact(), Some(0));
        let empty = Incoming::empty();
        assert!(empty.is_end_stream());
        assert_eq!(format!("{empty:?}"), "Body(Empty)");
        assert_eq!(format!("{body:?}"), "Body(Streaming)");
    }
}
