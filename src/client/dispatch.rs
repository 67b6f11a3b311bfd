//! The request channel between a client's `SendRequest` handle and its connection task.
//!
//! The handle queues a request with a reply slot; the connection takes requests one at a time
//! and fills each reply slot with the response or an error. Readiness is the connection's
//! demand, one request per demand: a new channel starts with one (so a fresh connection takes
//! its first request before it was ever polled), and after that the connection renews it
//! each time it finished an exchange and waits for the next. That is what lets a pool see
//! when a connection can be reused.
//!
//! Nothing is lost on the way: a queued request whose connection ends comes back to its
//! sender inside the error (when the connection ends, not only when it is dropped), and a
//! reply slot dropped unanswered reports that the connection task is gone.
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

/// A request that could not be sent, with the error and (if it was never started) the
/// request itself, so it can be retried on another connection.
#[derive(Debug)]
pub struct TrySendError<T> {
    pub(crate) error: crate::Error,
    pub(crate) message: Option<T>,
}

impl<T> TrySendError<T> {
    /// The error.
    pub fn error(&self) -> &crate::Error {
        &self.error
    }

    /// The request, if it was never started.
    pub fn message(&self) -> Option<&T> {
        self.message.as_ref()
    }

    /// Takes the request out, if it was never started.
    pub fn take_message(&mut self) -> Option<T> {
        std::mem::take(&mut self.message)
    }

    /// The error, dropping the request.
    pub fn into_error(self) -> crate::Error {
        let TrySendError { error, .. } = self;
        error
    }
}

pub(crate) fn channel<T, U>() -> (Sender<T, U>, Receiver<T, U>) {
    let shared = Arc::new(Mutex::new(Queue {
        items: VecDeque::new(),
        wanted: true,
        receiver_closed: false,
        sender_alive: true,
        sender_waker: None,
        receiver_waker: None,
    }));
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared },
    )
}

struct Queue<T, U> {
    items: VecDeque<(T, Callback<T, U>)>,
    /// The connection will take one more request: set when the channel is made and whenever
    /// the connection finds the queue empty, cleared by the request that uses it.
    wanted: bool,
    receiver_closed: bool,
    sender_alive: bool,
    sender_waker: Option<Waker>,
    receiver_waker: Option<Waker>,
}

type Shared<T, U> = Arc<Mutex<Queue<T, U>>>;

fn lock<T, U>(shared: &Shared<T, U>) -> MutexGuard<'_, Queue<T, U>> {
    // No critical section below can panic midway, so a poisoned queue is still consistent.
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

fn wake(waker: Option<Waker>) {
    if let Some(w) = waker {
        w.wake();
    }
}

pub(crate) struct Sender<T, U> {
    shared: Shared<T, U>,
}

impl<T, U> Sender<T, U> {
    pub(crate) fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<crate::Result<()>> {
        let mut q = lock(&self.shared);
        if q.receiver_closed {
            return Poll::Ready(Err(crate::Error::new_closed()));
        }
        if q.wanted {
            return Poll::Ready(Ok(()));
        }
        q.sender_waker = Some(cx.waker().clone());
        Poll::Pending
    }

    pub(crate) fn is_ready(&self) -> bool {
        let q = lock(&self.shared);
        q.wanted && !q.receiver_closed
    }

    pub(crate) fn is_closed(&self) -> bool {
        lock(&self.shared).receiver_closed
    }

    /// Queues `request` with a reply slot that gives it back on failure.
    pub(crate) fn try_send(&mut self, request: T) -> Result<Reply<Result<U, TrySendError<T>>>, T> {
        let (tx, rx) = reply();
        self.enqueue(request, Callback::Retry(Some(tx)))
            .map(|()| rx)
    }

    /// Queues `request` with a reply slot that reports only the error on failure.
    pub(crate) fn send(&mut self, request: T) -> Result<Reply<Result<U, crate::Error>>, T> {
        let (tx, rx) = reply();
        self.enqueue(request, Callback::NoRetry(Some(tx)))
            .map(|()| rx)
    }

    fn enqueue(&mut self, request: T, callback: Callback<T, U>) -> Result<(), T> {
        let mut q = lock(&self.shared);
        if !q.wanted || q.receiver_closed {
            drop(q);
            callback.disarm();
            return Err(request);
        }
        q.wanted = false;
        q.items.push_back((request, callback));
        let waker = q.receiver_waker.take();
        drop(q);
        wake(waker);
        Ok(())
    }
}

impl<T, U> Drop for Sender<T, U> {
    fn drop(&mut self) {
        let mut q = lock(&self.shared);
        q.sender_alive = false;
        let waker = q.receiver_waker.take();
        drop(q);
        wake(waker);
    }
}

pub(crate) struct Receiver<T, U> {
    shared: Shared<T, U>,
}

impl<T, U> Receiver<T, U> {
    /// The next request; `None` once the sender is gone and nothing is queued. While it
    /// returns `Pending`, the sender is ready.
    pub(crate) fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<(T, Callback<T, U>)>> {
        let mut q = lock(&self.shared);
        if let Some(item) = q.items.pop_front() {
            q.wanted = false;
            return Poll::Ready(Some(item));
        }
        if !q.sender_alive {
            return Poll::Ready(None);
        }
        q.receiver_waker = Some(cx.waker().clone());
        let newly_wanted = !q.wanted;
        q.wanted = true;
        let waker = if newly_wanted {
            q.sender_waker.take()
        } else {
            None
        };
        drop(q);
        wake(waker);
        Poll::Pending
    }

    /// Stops taking requests; the sender sees the connection closed. Requests already
    /// queued stay for [`try_recv`](Self::try_recv) or [`cancel_queued`](Self::cancel_queued).
    pub(crate) fn close(&mut self) {
        let mut q = lock(&self.shared);
        q.receiver_closed = true;
        q.wanted = false;
        let waker = q.sender_waker.take();
        drop(q);
        wake(waker);
    }

    /// Takes a queued request without waiting.
    pub(crate) fn try_recv(&mut self) -> Option<(T, Callback<T, U>)> {
        lock(&self.shared).items.pop_front()
    }

    /// Closes the channel and gives every request still queued back to its sender, unsent,
    /// with a canceled error.
    pub(crate) fn cancel_queued(&mut self) {
        self.close();
        let pending: Vec<_> = lock(&self.shared).items.drain(..).collect();
        for (request, callback) in pending {
            callback.send(Err(TrySendError {
                error: crate::Error::new_canceled().with("connection closed"),
                message: Some(request),
            }));
        }
    }
}

impl<T, U> Drop for Receiver<T, U> {
    fn drop(&mut self) {
        self.cancel_queued();
    }
}

/// The reply slot of one request.
pub(crate) enum Callback<T, U> {
    /// Failures give the request back (`try_send_request`).
    Retry(Option<ReplyTx<Result<U, TrySendError<T>>>>),
    /// Failures report only the error (`send_request`).
    NoRetry(Option<ReplyTx<Result<U, crate::Error>>>),
}

impl<T, U> Callback<T, U> {
    /// Ready once whoever waits for the reply stopped waiting.
    pub(crate) fn poll_canceled(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        match self {
            Callback::Retry(Some(tx)) => tx.poll_closed(cx),
            Callback::NoRetry(Some(tx)) => tx.poll_closed(cx),
            _ => Poll::Ready(()),
        }
    }

    pub(crate) fn send(mut self, result: Result<U, TrySendError<T>>) {
        match &mut self {
            Callback::Retry(tx) => {
                if let Some(tx) = tx.take() {
                    tx.send(result);
                }
            }
            Callback::NoRetry(tx) => {
                if let Some(tx) = tx.take() {
                    tx.send(result.map_err(|e| e.error));
                }
            }
        }
    }

    /// Drops the slot without reporting anything (the request was never accepted).
    fn disarm(mut self) {
        match &mut self {
            Callback::Retry(tx) => drop(tx.take().map(ReplyTx::forget)),
            Callback::NoRetry(tx) => drop(tx.take().map(ReplyTx::forget)),
        }
    }
}

impl<T, U> Drop for Callback<T, U> {
    fn drop(&mut self) {
        let gone = || {
            let why = if std::thread::panicking() {
                "user code panicked"
            } else {
                "runtime dropped the dispatch task"
            };
            crate::Error::new_user(crate::error::User::DispatchGone).with(why)
        };
        match self {
            Callback::Retry(tx) => {
                if let Some(tx) = tx.take() {
                    tx.send(Err(TrySendError {
                        error: gone(),
                        message: None,
                    }));
                }
            }
            Callback::NoRetry(tx) => {
                if let Some(tx) = tx.take() {
                    tx.send(Err(gone()));
                }
            }
        }
    }
}

impl<T, U> fmt::Debug for Callback<T, U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Callback")
    }
}

// ===== the reply slot: a one-shot channel =====

struct Slot<V> {
    value: Option<V>,
    sender_gone: bool,
    receiver_gone: bool,
    receiver_waker: Option<Waker>,
    sender_waker: Option<Waker>,
}

fn reply<V>() -> (ReplyTx<V>, Reply<V>) {
    let slot = Arc::new(Mutex::new(Slot {
        value: None,
        sender_gone: false,
        receiver_gone: false,
        receiver_waker: None,
        sender_waker: None,
    }));
    (ReplyTx { slot: slot.clone() }, Reply { slot })
}

fn lock_slot<V>(slot: &Mutex<Slot<V>>) -> MutexGuard<'_, Slot<V>> {
    slot.lock().unwrap_or_else(|p| p.into_inner())
}

pub(crate) struct ReplyTx<V> {
    slot: Arc<Mutex<Slot<V>>>,
}

impl<V> ReplyTx<V> {
    fn send(self, value: V) {
        let mut s = lock_slot(&self.slot);
        if !s.receiver_gone {
            s.value = Some(value);
        }
        // `Drop` wakes the receiver.
    }

    fn poll_closed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let mut s = lock_slot(&self.slot);
        if s.receiver_gone {
            return Poll::Ready(());
        }
        s.sender_waker = Some(cx.waker().clone());
        Poll::Pending
    }

    /// Drops the sender as if it never existed: the receiver is never polled anyway.
    fn forget(self) {}
}

impl<V> Drop for ReplyTx<V> {
    fn drop(&mut self) {
        let mut s = lock_slot(&self.slot);
        s.sender_gone = true;
        let waker = s.receiver_waker.take();
        drop(s);
        wake(waker);
    }
}

/// The receiving end of a reply slot; resolves to the reply.
pub(crate) struct Reply<V> {
    slot: Arc<Mutex<Slot<V>>>,
}

impl<V> Future for Reply<V> {
    /// `None` if the sender was dropped without replying (which `Callback`'s `Drop` rules
    /// out for request replies).
    type Output = Option<V>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<V>> {
        let mut s = lock_slot(&self.slot);
        if let Some(v) = s.value.take() {
            return Poll::Ready(Some(v));
        }
        if s.sender_gone {
            return Poll::Ready(None);
        }
        s.receiver_waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl<V> Drop for Reply<V> {
    fn drop(&mut self) {
        let mut s = lock_slot(&self.slot);
        s.receiver_gone = true;
        let waker = s.sender_waker.take();
        drop(s);
        wake(waker);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;

    fn cx() -> Context<'static> {
        Context::from_waker(Waker::noop())
    }

    #[test]
    fn a_new_channel_takes_one_request_before_the_connection_polls() {
        let (mut tx, mut rx) = channel::<&str, u32>();
        assert!(tx.is_ready(), "a new channel starts with one demand");
        let reply = tx.try_send("first").expect("first is accepted unasked");
        assert!(!tx.is_ready(), "the first request used the demand");
        assert!(
            tx.try_send("second").is_err(),
            "the second waits for demand"
        );
        let mut cx = cx();
        let (req, cb) = match rx.poll_recv(&mut cx) {
            Poll::Ready(Some(item)) => item,
            _ => panic!("queued request"),
        };
        assert_eq!(req, "first");
        assert!(rx.poll_recv(&mut cx).is_pending());
        assert!(tx.is_ready(), "a waiting connection makes the sender ready");
        cb.send(Ok(7));
        let mut reply = Box::pin(reply);
        assert!(matches!(
            reply.as_mut().poll(&mut cx),
            Poll::Ready(Some(Ok(7)))
        ));
        assert!(tx.try_send("second").is_ok());
    }

    #[test]
    fn cancel_queued_hands_requests_back_while_both_ends_live() {
        let (mut tx, mut rx) = channel::<&str, u32>();
        let reply = tx.try_send("queued").unwrap();
        rx.cancel_queued();
        assert!(tx.is_closed());
        assert!(!tx.is_ready());
        let mut reply = Box::pin(reply);
        match reply.as_mut().poll(&mut cx()) {
            Poll::Ready(Some(Err(mut e))) => {
                assert!(e.error().is_canceled());
                assert_eq!(e.take_message(), Some("queued"));
            }
            other => panic!("unexpected {:?}", other.is_ready()),
        }
        assert!(
            tx.try_send("late").is_err(),
            "a closed channel takes nothing"
        );
    }

    #[test]
    fn queued_requests_come_back_when_the_connection_goes_away() {
        let (mut tx, rx) = channel::<&str, u32>();
        let reply = tx.try_send("never started").unwrap();
        drop(rx);
        assert!(tx.is_closed());
        let mut reply = Box::pin(reply);
        match reply.as_mut().poll(&mut cx()) {
            Poll::Ready(Some(Err(e))) => {
                assert!(e.error().is_canceled());
                assert_eq!(e.message(), Some(&"never started"));
            }
            other => panic!("unexpected {:?}", other.is_ready()),
        }
    }

    #[test]
    fn an_unanswered_callback_reports_the_dispatch_task_gone() {
        let (mut tx, mut rx) = channel::<&str, u32>();
        let reply = tx.send("req").unwrap();
        let Poll::Ready(Some((_req, cb))) = rx.poll_recv(&mut cx()) else {
            panic!("queued");
        };
        drop(cb);
        let mut reply = Box::pin(reply);
        match reply.as_mut().poll(&mut cx()) {
            Poll::Ready(Some(Err(e))) => assert!(e.is_user(), "{e:?}"),
            _ => panic!("expected dispatch-gone"),
        }
    }

    #[test]
    fn a_dropped_reply_shows_as_canceled_to_the_connection() {
        let (mut tx, mut rx) = channel::<&str, u32>();
        let reply = tx.send("req").unwrap();
        let Poll::Ready(Some((_req, mut cb))) = rx.poll_recv(&mut cx()) else {
            panic!("queued");
        };
        assert!(cb.poll_canceled(&mut cx()).is_pending());
        drop(reply);
        assert!(cb.poll_canceled(&mut cx()).is_ready());
    }
}
