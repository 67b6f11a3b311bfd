//! The PING frames of an HTTP/2 connection: keep-alive and the bandwidth-delay estimate of
//! `adaptive_window`, which share the one PING `h2` lets a connection have in flight.
//!
//! Keep-alive follows upstream hyper's rules: a PING goes out once `interval` has passed since
//! the application last read a frame (a head, data, trailers, or a PONG), so a connection that
//! keeps delivering is never pinged; a client that does not keep alive while idle sends none
//! while no stream is open; a PONG slower than `timeout` declares the connection dead.
//!
//! The connection task owns [`Pings`]; its streams report what the application reads through
//! the connection's shared [`Activity`]. Neither exists on a connection without keep-alive
//! and `adaptive_window`, so such connections pay nothing for them.
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::rt::{Sleep, Timer};

/// The windows `adaptive_window` starts from: the protocol's default.
pub(crate) const ADAPTIVE_START: u32 = 65_535;

/// The largest window `adaptive_window` grows to.
const MAX_ADAPTIVE_WINDOW: u32 = 16 << 20;

/// What a connection's streams tell its PING driver, and what it tells them back.
pub(crate) struct Activity {
    /// With keep-alive: the instant `last_read` counts from, and the clock to read.
    clock: Option<(Instant, Arc<dyn Timer + Send + Sync>)>,
    /// Nanoseconds from the clock's origin to the last frame the application read.
    last_read: AtomicU64,
    /// DATA bytes read since the current bandwidth-delay PING went out.
    received: AtomicUsize,
    /// Client streams still open (see [`Tracker`]); keep-alive that does not ping while idle
    /// waits for this to be non-zero.
    open: AtomicUsize,
    /// Keep-alive declared the connection dead: streams failing from now on fail with a
    /// timeout error.
    timed_out: AtomicBool,
}

// Received bodies hold an `Activity` (through their `Tracker`), and upstream's `Incoming` is
// unwind safe wherever it cannot carry an HTTP/1 body; the timer inside is only asked for the
// time, and everything else is atomics, so a panic cannot leave it half-updated.
impl std::panic::UnwindSafe for Activity {}
impl std::panic::RefUnwindSafe for Activity {}

impl Activity {
    fn now(&self) -> Option<Instant> {
        self.clock.as_ref().map(|(_, timer)| timer.now())
    }

    /// The application read a frame that is not DATA.
    pub(crate) fn record_read(&self) {
        if let (Some((origin, _)), Some(now)) = (&self.clock, self.now()) {
            let nanos = now.saturating_duration_since(*origin).as_nanos();
            self.last_read
                .store(nanos.min(u64::MAX as u128) as u64, Ordering::Relaxed);
        }
    }

    /// The application read `len` bytes of DATA.
    pub(crate) fn record_data(&self, len: usize) {
        self.received.fetch_add(len, Ordering::Relaxed);
        self.record_read();
    }

    fn last_read_at(&self) -> Option<Instant> {
        let (origin, _) = self.clock.as_ref()?;
        Some(*origin + Duration::from_nanos(self.last_read.load(Ordering::Relaxed)))
    }

    #[cfg(feature = "client")]
    pub(crate) fn timed_out(&self) -> bool {
        self.timed_out.load(Ordering::Relaxed)
    }
}

/// A stream's handle on its connection's [`Activity`]. A client stream's handles count it as
/// open while any of them lives (the request task, the response body, a tunnel).
pub(crate) struct Tracker {
    activity: Arc<Activity>,
    counted: bool,
}

impl Tracker {
    /// A handle that counts a stream as open.
    #[cfg(feature = "client")]
    pub(crate) fn open(activity: &Arc<Activity>) -> Tracker {
        activity.open.fetch_add(1, Ordering::Relaxed);
        Tracker {
            activity: activity.clone(),
            counted: true,
        }
    }

    /// A handle that only reports reads.
    pub(crate) fn reads(activity: &Arc<Activity>) -> Tracker {
        Tracker {
            activity: activity.clone(),
            counted: false,
        }
    }

    /// Another handle on the same stream, counted like this one.
    #[cfg(feature = "client")]
    pub(crate) fn share(&self) -> Tracker {
        if self.counted {
            Tracker::open(&self.activity)
        } else {
            Tracker::reads(&self.activity)
        }
    }
}

impl std::ops::Deref for Tracker {
    type Target = Activity;

    fn deref(&self) -> &Activity {
        &self.activity
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        if self.counted {
            self.activity.open.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl std::fmt::Debug for Tracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracker")
            .field("counted", &self.counted)
            .finish()
    }
}

/// Keep-alive settings: PING after `interval` without reads, give up after `timeout`.
pub(crate) struct KeepAliveConfig {
    pub(crate) interval: Duration,
    pub(crate) timeout: Duration,
    pub(crate) while_idle: bool,
    pub(crate) timer: Arc<dyn Timer + Send + Sync>,
}

/// What the PING driver asks its connection to do.
enum PingEvent {
    /// Use this many bytes as the connection and stream windows from now on.
    Window(u32),
    /// The connection is dead: a PONG did not come in time, or pinging failed.
    Failed(crate::Error),
}

/// An `h2` connection (either role) whose windows `adaptive_window` resizes.
pub(crate) trait Windows {
    /// Uses `window` bytes as the connection window and the initial stream window.
    fn resize(&mut self, window: u32);
}

#[cfg(feature = "client")]
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin, B: bytes::Buf> Windows
    for h2::client::Connection<T, B>
{
    fn resize(&mut self, window: u32) {
        self.set_target_window_size(window);
        // Fails only for a window over 2^31 - 1, which the estimate never reaches.
        self.set_initial_window_size(window).ok();
    }
}

#[cfg(feature = "server")]
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin, B: bytes::Buf> Windows
    for h2::server::Connection<T, B>
{
    fn resize(&mut self, window: u32) {
        self.set_target_window_size(window);
        self.set_initial_window_size(window).ok();
    }
}

enum KeepAliveState {
    /// No deadline runs (nothing read yet since the last PONG was taken into account, or the
    /// connection is idle and need not be pinged).
    Waiting,
    /// A PING is due at this instant unless something is read before.
    Scheduled(Instant),
    /// A PING is in flight; its PONG is due when `sleep` fires.
    PingSent,
}

struct KeepAlive {
    interval: Duration,
    timeout: Duration,
    while_idle: bool,
    timer: Arc<dyn Timer + Send + Sync>,
    sleep: Option<Pin<Box<dyn Sleep>>>,
    state: KeepAliveState,
}

impl KeepAlive {
    fn arm(&mut self, at: Instant) {
        match &mut self.sleep {
            Some(sleep) => self.timer.reset(sleep, at),
            None => self.sleep = Some(self.timer.sleep_until(at)),
        }
    }

    fn fired(&mut self, cx: &mut Context<'_>) -> bool {
        self.sleep
            .as_mut()
            .is_some_and(|sleep| sleep.as_mut().poll(cx).is_ready())
    }
}

/// The one user of a connection's PING frames.
pub(crate) struct Pings {
    pong: Option<h2::PingPong>,
    activity: Arc<Activity>,
    keep_alive: Option<KeepAlive>,
    /// With `adaptive_window`: the current window.
    bdp_window: Option<u32>,
    in_flight: bool,
}

impl Pings {
    /// `None` when neither keep-alive nor `adaptive_window` is wanted.
    pub(crate) fn new(keep_alive: Option<KeepAliveConfig>, adaptive: bool) -> Option<Pings> {
        if keep_alive.is_none() && !adaptive {
            return None;
        }
        let clock = keep_alive
            .as_ref()
            .map(|ka| (ka.timer.now(), ka.timer.clone()));
        let activity = Arc::new(Activity {
            clock,
            last_read: AtomicU64::new(0),
            received: AtomicUsize::new(0),
            open: AtomicUsize::new(0),
            timed_out: AtomicBool::new(false),
        });
        Some(Pings {
            pong: None,
            activity,
            keep_alive: keep_alive.map(|ka| KeepAlive {
                interval: ka.interval,
                timeout: ka.timeout,
                while_idle: ka.while_idle,
                timer: ka.timer,
                sleep: None,
                state: KeepAliveState::Waiting,
            }),
            bdp_window: adaptive.then_some(ADAPTIVE_START),
            in_flight: false,
        })
    }

    pub(crate) fn activity(&self) -> &Arc<Activity> {
        &self.activity
    }

    /// Begins once the connection exists.
    pub(crate) fn start(&mut self, pong: Option<h2::PingPong>) {
        self.pong = pong;
    }

    fn send(&mut self) -> Result<(), crate::Error> {
        let Some(pong) = self.pong.as_mut() else {
            return Ok(());
        };
        pong.send_ping(h2::Ping::opaque())
            .map_err(crate::Error::new_h2)?;
        self.in_flight = true;
        // Count what arrives from now until the PONG.
        self.activity.received.store(0, Ordering::Relaxed);
        Ok(())
    }

    /// The window the last round trip's bytes call for, if larger than the current one.
    fn grown_window(&mut self) -> Option<u32> {
        let window = self.bdp_window.as_mut()?;
        let sample = self.activity.received.load(Ordering::Relaxed) as u64;
        // Data filled most of the window within one round trip: the window, not the link,
        // limits the transfer.
        if sample * 3 < *window as u64 * 2 {
            return None;
        }
        let grown = (sample * 2).min(MAX_ADAPTIVE_WINDOW as u64) as u32;
        (grown > *window).then(|| {
            *window = grown;
            grown
        })
    }

    /// Drives the PINGs, resizing `conn`'s windows as the estimate grows; `Ready` with the
    /// error once the connection is found dead.
    pub(crate) fn poll_dead(
        &mut self,
        cx: &mut Context<'_>,
        conn: &mut impl Windows,
    ) -> Poll<crate::Error> {
        loop {
            match self.poll(cx) {
                Poll::Ready(PingEvent::Window(window)) => conn.resize(window),
                Poll::Ready(PingEvent::Failed(e)) => return Poll::Ready(e),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<PingEvent> {
        loop {
            let Some(pong) = self.pong.as_mut() else {
                return Poll::Pending;
            };
            if self.in_flight {
                match pong.poll_pong(cx) {
                    Poll::Ready(Ok(_)) => {
                        self.in_flight = false;
                        self.activity.record_read();
                        if let Some(window) = self.grown_window() {
                            return Poll::Ready(PingEvent::Window(window));
                        }
                        continue;
                    }
                    // The connection is going away and reports why itself.
                    Poll::Ready(Err(_)) => {
                        self.pong = None;
                        return Poll::Pending;
                    }
                    Poll::Pending => {
                        if let Some(ka) = &mut self.keep_alive {
                            if matches!(ka.state, KeepAliveState::PingSent) && ka.fired(cx) {
                                self.activity.timed_out.store(true, Ordering::Relaxed);
                                // Reported once; the connection is closing.
                                self.keep_alive = None;
                                return Poll::Ready(PingEvent::Failed(
                                    crate::Error::new_keep_alive_timeout(),
                                ));
                            }
                        }
                    }
                }
            } else if self.bdp_window.is_some_and(|w| w < MAX_ADAPTIVE_WINDOW)
                && self.activity.received.load(Ordering::Relaxed) > 0
            {
                if let Err(e) = self.send() {
                    return Poll::Ready(PingEvent::Failed(e));
                }
                continue;
            }
            let Some(ka) = &mut self.keep_alive else {
                return Poll::Pending;
            };
            let idle = !ka.while_idle && self.activity.open.load(Ordering::Relaxed) == 0;
            let last_read = self
                .activity
                .last_read_at()
                .expect("keep-alive has a clock");
            match ka.state {
                KeepAliveState::Waiting => {
                    if idle {
                        return Poll::Pending;
                    }
                    let at = last_read + ka.interval;
                    ka.arm(at);
                    ka.state = KeepAliveState::Scheduled(at);
                }
                KeepAliveState::Scheduled(at) => {
                    if !ka.fired(cx) {
                        return Poll::Pending;
                    }
                    if last_read + ka.interval > at {
                        // Something was read meanwhile: the peer is alive.
                        ka.state = KeepAliveState::Waiting;
                        continue;
                    }
                    if idle {
                        // Due, but not wanted until a stream opens.
                        return Poll::Pending;
                    }
                    let deadline = ka.timer.now() + ka.timeout;
                    ka.arm(deadline);
                    ka.state = KeepAliveState::PingSent;
                    // A PING already in flight (for the bandwidth estimate) serves as well.
                    if !self.in_flight {
                        if let Err(e) = self.send() {
                            return Poll::Ready(PingEvent::Failed(e));
                        }
                    }
                }
                KeepAliveState::PingSent => {
                    if self.in_flight {
                        return Poll::Pending;
                    }
                    ka.state = KeepAliveState::Waiting;
                }
            }
        }
    }
}
