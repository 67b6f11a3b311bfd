//! The scripted world a connection runs in during exploration: a source of choices, the
//! wake-ups that are pending, and mock transport, bodies and timing built on them.
//!
//! Every nondeterministic outcome (how many bytes a write accepts, whether a read is
//! `Pending`, which pending wake-up fires next, what a body yields) is a call to
//! [`Choices::pick`]. A run is therefore a function of its choice sequence: random runs draw it
//! from a seed, exhaustive runs enumerate it, and either can be replayed.
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use crate::rt::{Read, ReadBufCursor, Write};

/// Where choices come from.
#[derive(Debug)]
pub(super) enum Source {
    /// xorshift64* state.
    Random(u64),
    /// Follow `prefix`, then always choose option 0, recording every decision.
    Enumerate { prefix: Vec<u32> },
}

#[derive(Debug)]
pub(super) struct Choices {
    source: Source,
    /// Every decision made: (chosen, number of options).
    pub(super) trail: Vec<(u32, u32)>,
}

impl Choices {
    pub(super) fn random(seed: u64) -> Choices {
        Choices {
            source: Source::Random(seed | 1),
            trail: Vec::new(),
        }
    }

    pub(super) fn enumerate(prefix: Vec<u32>) -> Choices {
        Choices {
            source: Source::Enumerate { prefix },
            trail: Vec::new(),
        }
    }

    /// One of `options` outcomes, numbered from 0.
    pub(super) fn pick(&mut self, options: u32) -> u32 {
        debug_assert!(options > 0);
        let chosen = match &mut self.source {
            Source::Random(state) => {
                *state ^= *state >> 12;
                *state ^= *state << 25;
                *state ^= *state >> 27;
                let r = state.wrapping_mul(0x2545_f491_4f6c_dd1d);
                ((r >> 32) % u64::from(options)) as u32
            }
            Source::Enumerate { prefix } => prefix
                .get(self.trail.len())
                .copied()
                .unwrap_or(0)
                .min(options - 1),
        };
        self.trail.push((chosen, options));
        chosen
    }

    /// True with probability about `1/n`. Option 0 (what enumeration follows past its
    /// depth) is `false`, so the rare outcome is never the default one.
    pub(super) fn one_in(&mut self, n: u32) -> bool {
        match self.source {
            Source::Random(_) => self.pick(n) == n - 1,
            // Enumeration visits both outcomes whatever their odds.
            Source::Enumerate { .. } => self.pick(2) == 1,
        }
    }

    /// A number in `lo..=hi`. Enumeration only distinguishes the ends and the middle, which
    /// keeps its branching small.
    pub(super) fn range(&mut self, lo: u32, hi: u32) -> u32 {
        match self.source {
            Source::Random(_) => lo + self.pick(hi - lo + 1),
            Source::Enumerate { .. } => {
                let mut candidates = vec![lo, lo + (hi - lo) / 2, hi];
                candidates.dedup();
                candidates[self.pick(candidates.len() as u32) as usize]
            }
        }
    }

    /// The next prefix in depth-first order over the decisions of the last run, limited to
    /// the first `depth` decisions; `None` when every sequence was visited.
    pub(super) fn next_prefix(trail: &[(u32, u32)], depth: usize) -> Option<Vec<u32>> {
        let limit = trail.len().min(depth);
        for i in (0..limit).rev() {
            let (chosen, options) = trail[i];
            if chosen + 1 < options {
                let mut next: Vec<u32> = trail[..i].iter().map(|(c, _)| *c).collect();
                next.push(chosen + 1);
                return Some(next);
            }
        }
        None
    }
}

/// Who registered a pending wake-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum WakeSource {
    Read,
    Write,
    Flush,
    Shutdown,
    Body,
    Service,
}

/// The peer's side of the transport and everything the scheduler may do next.
#[derive(Debug)]
pub(super) struct World {
    pub(super) choices: Choices,
    /// Bytes the peer sends, and how many the connection has read.
    pub(super) inbound: Vec<u8>,
    pub(super) read_pos: usize,
    /// The peer closes its sending side once everything inbound was read.
    pub(super) peer_sends_eof: bool,
    /// What the connection wrote, in order.
    pub(super) outbound: Vec<u8>,
    /// The peer stops reading once this many bytes arrived: writes then stay `Pending`.
    pub(super) peer_reads_up_to: Option<usize>,
    pub(super) shutdown_at: Option<usize>,
    pub(super) wrote_after_shutdown: bool,
    /// The transport failed; every later call fails too, as a broken socket does.
    pub(super) broken: bool,
    /// Pending wake-ups. A source the scenario never fires (a silent peer) stays here.
    pub(super) wakers: Vec<(WakeSource, Waker)>,
    /// IO calls and their outcomes, for failure reports.
    pub(super) log: Vec<String>,
    pub(super) log_enabled: bool,
}

pub(super) type SharedWorld = Arc<Mutex<World>>;

pub(super) fn lock(world: &SharedWorld) -> MutexGuard<'_, World> {
    world.lock().unwrap_or_else(|p| p.into_inner())
}

impl World {
    pub(super) fn new(choices: Choices) -> World {
        World {
            choices,
            inbound: Vec::new(),
            read_pos: 0,
            peer_sends_eof: false,
            outbound: Vec::new(),
            peer_reads_up_to: None,
            shutdown_at: None,
            wrote_after_shutdown: false,
            broken: false,
            wakers: Vec::new(),
            log: Vec::new(),
            log_enabled: false,
        }
    }

    fn note(&mut self, what: impl FnOnce() -> String) {
        if self.log_enabled {
            let line = what();
            self.log.push(line);
        }
    }

    /// Whether this call fails: rarely at first, then always once the transport broke.
    fn fails(&mut self, what: &str) -> bool {
        if !self.broken && self.choices.one_in(400) {
            self.broken = true;
            self.note(|| format!("{what} -> error (transport breaks)"));
        }
        self.broken
    }

    fn park(&mut self, source: WakeSource, cx: &Context<'_>) {
        self.wakers.push((source, cx.waker().clone()));
    }

    /// Whether the scenario will ever fire a wake-up of this source.
    pub(super) fn fires(&self, source: WakeSource) -> bool {
        match source {
            WakeSource::Read => self.read_pos < self.inbound.len() || self.peer_sends_eof,
            WakeSource::Write | WakeSource::Flush | WakeSource::Shutdown => self
                .peer_reads_up_to
                .is_none_or(|limit| self.outbound.len() < limit),
            WakeSource::Body | WakeSource::Service => true,
        }
    }

    /// Fires one pending wake-up the scenario allows, chosen by the choices. False if none
    /// can fire.
    pub(super) fn fire_one(&mut self) -> bool {
        let fireable: Vec<usize> = (0..self.wakers.len())
            .filter(|&i| self.fires(self.wakers[i].0))
            .collect();
        if fireable.is_empty() {
            return false;
        }
        let pick = self.choices.pick(fireable.len() as u32) as usize;
        let (source, waker) = self.wakers.remove(fireable[pick]);
        self.note(|| format!("fire {source:?}"));
        waker.wake();
        true
    }

    /// Sources of the pending wake-ups that will never fire.
    pub(super) fn silent_waits(&self) -> Vec<WakeSource> {
        self.wakers
            .iter()
            .filter(|(s, _)| !self.fires(*s))
            .map(|(s, _)| *s)
            .collect()
    }

    /// The checks due after every step that do not depend on the role: nothing may be written
    /// after a shutdown, and at the first shutdown `check` must accept what was written up to
    /// it (`checked` remembers that the first shutdown was seen).
    pub(super) fn check_shutdown(
        &self,
        checked: &mut bool,
        check: impl FnOnce(&[u8]) -> Result<(), String>,
    ) -> Result<(), String> {
        if let (Some(at), false) = (self.shutdown_at, *checked) {
            *checked = true;
            check(&self.outbound[..at]).map_err(|why| format!("at shutdown: {why}"))?;
        }
        if self.wrote_after_shutdown {
            return Err("bytes written after shutdown".into());
        }
        Ok(())
    }
}

/// True when one of the silent waits is on the transport's write side: the connection is then
/// stuck on a peer that stopped reading, and owed bytes may rightly still be unwritten.
pub(super) fn blocked_on_writes(silent: &[WakeSource]) -> bool {
    silent.iter().any(|s| {
        matches!(
            s,
            WakeSource::Write | WakeSource::Flush | WakeSource::Shutdown
        )
    })
}

/// Counts consecutive polls that changed nothing observable while the connection keeps
/// waking itself.
pub(super) struct BusyLoopGuard<T> {
    last: T,
    idle_polls: usize,
}

impl<T: PartialEq> BusyLoopGuard<T> {
    /// Starts from the state before the first poll.
    pub(super) fn new(start: T) -> Self {
        BusyLoopGuard {
            last: start,
            idle_polls: 0,
        }
    }

    /// Records the state after a poll; true once more than `limit` polls in a row left it
    /// unchanged although the connection woke itself again.
    pub(super) fn is_busy(&mut self, now: T, woken_again: bool, limit: usize) -> bool {
        if woken_again && self.last == now {
            self.idle_polls += 1;
        } else {
            self.idle_polls = 0;
        }
        self.last = now;
        self.idle_polls > limit
    }
}

/// The transport: reads serve `inbound`, writes append to `outbound`, each call's outcome
/// chosen by the world.
#[derive(Debug, Clone)]
pub(super) struct MockIo {
    pub(super) world: SharedWorld,
    pub(super) vectored: bool,
}

impl Read for MockIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let mut w = lock(&self.world);
        if w.fails("read") {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "injected",
            )));
        }
        let available = w.inbound.len() - w.read_pos;
        if available == 0 {
            if w.peer_sends_eof {
                w.note(|| "read -> EOF".into());
                return Poll::Ready(Ok(()));
            }
            w.note(|| "read -> Pending (nothing sent)".into());
            w.park(WakeSource::Read, cx);
            return Poll::Pending;
        }
        if w.choices.one_in(3) {
            w.note(|| "read -> Pending".into());
            w.park(WakeSource::Read, cx);
            return Poll::Pending;
        }
        let most = available.min(buf.remaining()) as u32;
        let n = if w.choices.one_in(2) {
            w.choices.range(1, most)
        } else {
            most
        } as usize;
        let start = w.read_pos;
        buf.put_slice(&w.inbound[start..start + n]);
        w.read_pos += n;
        w.note(|| format!("read -> {n} bytes"));
        Poll::Ready(Ok(()))
    }
}

impl MockIo {
    fn accept(&self, cx: &Context<'_>, offered: &[u8]) -> Poll<io::Result<usize>> {
        let mut w = lock(&self.world);
        if w.shutdown_at.is_some() {
            w.wrote_after_shutdown = true;
        }
        if w.fails("write") {
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::BrokenPipe, "injected")));
        }
        let room = w
            .peer_reads_up_to
            .map_or(usize::MAX, |limit| limit.saturating_sub(w.outbound.len()));
        if room == 0 || w.choices.one_in(3) {
            w.note(|| "write -> Pending".into());
            w.park(WakeSource::Write, cx);
            return Poll::Pending;
        }
        let most = offered.len().min(room) as u32;
        // Short writes of a few bytes are the adversarial case; whole writes the default.
        let n = if w.choices.pick(3) == 0 {
            most
        } else {
            w.choices.range(1, most.min(7))
        } as usize;
        w.outbound.extend_from_slice(&offered[..n]);
        w.note(|| format!("write -> {n} of {}", offered.len()));
        Poll::Ready(Ok(n))
    }
}

impl Write for MockIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        self.accept(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let joined: Vec<u8> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
        if joined.is_empty() {
            return Poll::Ready(Ok(0));
        }
        self.accept(cx, &joined)
    }

    fn is_write_vectored(&self) -> bool {
        self.vectored
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut w = lock(&self.world);
        if w.fails("flush") {
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::BrokenPipe, "injected")));
        }
        if w.choices.one_in(4) {
            w.park(WakeSource::Flush, cx);
            return Poll::Pending;
        }
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut w = lock(&self.world);
        if w.shutdown_at.is_none() {
            let at = w.outbound.len();
            w.shutdown_at = Some(at);
            w.note(|| format!("shutdown after {at} bytes"));
        }
        if w.fails("shutdown") {
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::BrokenPipe, "injected")));
        }
        if w.choices.one_in(4) {
            w.park(WakeSource::Shutdown, cx);
            return Poll::Pending;
        }
        Poll::Ready(Ok(()))
    }
}

/// One step of a scripted body.
#[derive(Clone, Debug)]
pub(super) enum BodyStep {
    Data(Bytes),
    Pending,
    Trailers,
    Fail,
}

impl BodyStep {
    /// The body bytes a script yields in all.
    pub(super) fn data_len<'a>(steps: impl IntoIterator<Item = &'a BodyStep>) -> usize {
        steps
            .into_iter()
            .map(|s| match s {
                BodyStep::Data(d) => d.len(),
                _ => 0,
            })
            .sum()
    }
}

/// A response body that follows its script, then ends.
#[derive(Debug)]
pub(super) struct ScriptBody {
    pub(super) steps: std::collections::VecDeque<BodyStep>,
    pub(super) world: SharedWorld,
    /// The exact size it announces, if any.
    pub(super) exact: Option<u64>,
    /// Data bytes yielded so far, shared with the scenario's expectations.
    pub(super) yielded: Arc<Mutex<Vec<u8>>>,
    pub(super) ended: Arc<Mutex<BodyEnd>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum BodyEnd {
    Open,
    Done,
    Failed,
}

impl Body for ScriptBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        match self.steps.pop_front() {
            None => {
                *self.ended.lock().unwrap_or_else(|p| p.into_inner()) = BodyEnd::Done;
                Poll::Ready(None)
            }
            Some(BodyStep::Pending) => {
                lock(&self.world).park(WakeSource::Body, cx);
                Poll::Pending
            }
            Some(BodyStep::Data(data)) => {
                self.yielded
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .extend_from_slice(&data);
                if self.steps.is_empty() {
                    *self.ended.lock().unwrap_or_else(|p| p.into_inner()) = BodyEnd::Done;
                }
                Poll::Ready(Some(Ok(Frame::data(data))))
            }
            Some(BodyStep::Trailers) => {
                *self.ended.lock().unwrap_or_else(|p| p.into_inner()) = BodyEnd::Done;
                self.steps.clear();
                let mut t = http::HeaderMap::new();
                t.insert("x-trailer", http::HeaderValue::from_static("yes"));
                Poll::Ready(Some(Ok(Frame::trailers(t))))
            }
            Some(BodyStep::Fail) => {
                *self.ended.lock().unwrap_or_else(|p| p.into_inner()) = BodyEnd::Failed;
                self.steps.clear();
                Poll::Ready(Some(Err(io::Error::other("scripted body failure"))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.steps.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        match self.exact {
            Some(n) => SizeHint::with_exact(n),
            None => SizeHint::default(),
        }
    }
}
