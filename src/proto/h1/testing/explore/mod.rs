//! The interleaving explorer: runs server connections (here) and client connections
//! ([`client`]) against a scripted world and checks, after every step, that no encoded byte is
//! ever lost.
//!
//! A scenario (builder options, requests, what each service and response body does, how the
//! connection ends) and a schedule (every `Pending`, every short write, which wake-up fires
//! next) both come from one [`Choices`] source. After each poll of the connection the explorer
//! checks:
//!
//! - no shutdown, completion, hand-back or upgrade while a response the service produced is not
//!   completely in the bytes the peer received, and nothing is written after a shutdown;
//! - the received bytes, read by an independent parser, are exactly the produced responses,
//!   in order;
//! - when the connection waits, something that will fire is registered to wake it (no lost
//!   wake-up), and if it waits only for a silent peer, everything produced was written;
//! - a bounded number of polls without observable progress (no busy loop).
//!
//! Failures print the seed and the scenario; `EXPLORE_SEED=<seed>` replays one.
#![allow(clippy::type_complexity)]

mod client;
mod oracle;
mod world;

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;

use self::world::{
    blocked_on_writes, lock, BodyEnd, BodyStep, BusyLoopGuard, Choices, MockIo, ScriptBody,
    SharedWorld, WakeSource, World,
};
use crate::body::Incoming;
use crate::proto::h1::testing::injected_bugs::{with_bug, Bug};
use crate::server::conn::http1::Builder;

/// Polls without observable progress tolerated before calling it a busy loop.
const MAX_IDLE_POLLS: usize = 64;
/// Scheduler steps after which a run is cut off (it is then checked as it stands).
const MAX_STEPS: usize = 20_000;

#[derive(Clone, Copy, Debug)]
struct Options {
    writev: Option<bool>,
    pipeline_flush: Option<bool>,
    keep_alive: bool,
    half_close: bool,
    small_buf: bool,
    title_case: bool,
}

#[derive(Clone, Debug)]
enum RequestBody {
    None,
    Length(usize),
    Chunked(usize),
}

#[derive(Clone, Debug)]
enum Reply {
    /// A body of known length, in one or more frames.
    Full(usize),
    /// A streamed body: steps, and whether it announces its exact size.
    Stream(Vec<BodyStep>, bool),
    /// `204 No Content`.
    NoContent,
    /// `101 Switching Protocols` (only for the last request of an upgrade run).
    SwitchProtocols,
}

#[derive(Clone, Debug)]
struct Plan {
    body: RequestBody,
    close: bool,
    read_body: bool,
    delay: u32,
    fail: bool,
    reply: Reply,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ending {
    /// The peer closes after sending everything.
    PeerCloses,
    /// The peer sends everything and then stays silent.
    PeerSilent,
    /// `graceful_shutdown` after this many polls.
    Graceful(u32),
    /// Driven with `without_shutdown`.
    WithoutShutdown,
    /// The last request upgrades; driven with `with_upgrades`.
    Upgrade,
}

#[derive(Clone, Debug)]
struct Scenario {
    options: Options,
    plans: Vec<Plan>,
    ending: Ending,
    /// All requests are sent at once (else each after the previous response arrived).
    pipelined: bool,
    /// The peer stops reading after this many bytes.
    peer_reads_up_to: Option<usize>,
}

fn pattern(len: usize, salt: usize) -> Bytes {
    (0..len)
        .map(|i| (i * 7 + salt * 13) as u8 | 0x20)
        .collect::<Vec<u8>>()
        .into()
}

impl Scenario {
    fn generate(c: &mut Choices) -> Scenario {
        let options = Options {
            writev: [None, Some(true), Some(false)][c.pick(3) as usize],
            pipeline_flush: [None, Some(true), Some(false)][c.pick(3) as usize],
            keep_alive: !c.one_in(4),
            half_close: c.one_in(3),
            small_buf: c.one_in(3),
            title_case: c.one_in(3),
        };
        let ending = match c.pick(6) {
            0 | 1 => Ending::PeerCloses,
            2 => Ending::PeerSilent,
            3 => Ending::Graceful(c.range(0, 12)),
            4 => Ending::WithoutShutdown,
            _ => Ending::Upgrade,
        };
        let count = c.range(1, 4) as usize;
        let mut plans: Vec<Plan> = (0..count)
            .map(|i| {
                let body = match c.pick(3) {
                    0 => RequestBody::None,
                    1 => RequestBody::Length(c.range(1, 3000) as usize),
                    _ => RequestBody::Chunked(c.range(1, 4) as usize),
                };
                let reply = match c.pick(5) {
                    0 | 1 => Reply::Full([0, 5, 700, 20_000][c.pick(4) as usize]),
                    2 | 3 => {
                        let mut steps = Vec::new();
                        for k in 0..c.range(0, 5) {
                            match c.pick(6) {
                                0 => steps.push(BodyStep::Pending),
                                1 => steps.push(BodyStep::Data(Bytes::new())),
                                _ => steps.push(BodyStep::Data(pattern(
                                    c.range(1, 9000) as usize,
                                    i + k as usize,
                                ))),
                            }
                        }
                        match c.pick(8) {
                            0 => steps.push(BodyStep::Trailers),
                            1 => steps.push(BodyStep::Fail),
                            _ => {}
                        }
                        let exact = c.one_in(3)
                            && !steps
                                .iter()
                                .any(|s| matches!(s, BodyStep::Fail | BodyStep::Trailers));
                        Reply::Stream(steps, exact)
                    }
                    _ => Reply::NoContent,
                };
                Plan {
                    body,
                    close: c.one_in(5),
                    read_body: !c.one_in(3),
                    delay: c.range(0, 2),
                    fail: c.one_in(25),
                    reply,
                }
            })
            .collect();
        if ending == Ending::Upgrade {
            plans.push(Plan {
                body: RequestBody::None,
                close: false,
                read_body: true,
                delay: c.range(0, 1),
                fail: false,
                reply: Reply::SwitchProtocols,
            });
        }
        Scenario {
            options,
            plans,
            ending,
            pipelined: c.one_in(2),
            peer_reads_up_to: c.one_in(8).then(|| c.range(0, 400) as usize),
        }
    }

    /// The bytes of request `i`.
    fn request_bytes(&self, i: usize) -> Vec<u8> {
        let plan = &self.plans[i];
        let mut out = Vec::new();
        if matches!(plan.reply, Reply::SwitchProtocols) {
            out.extend_from_slice(b"GET /upgrade HTTP/1.1\r\nhost: x\r\nconnection: upgrade\r\nupgrade: explore\r\n\r\n");
            return out;
        }
        let method = if matches!(plan.body, RequestBody::None) {
            "GET"
        } else {
            "POST"
        };
        out.extend_from_slice(format!("{method} /r{i} HTTP/1.1\r\nhost: x\r\n").as_bytes());
        if plan.close {
            out.extend_from_slice(b"connection: close\r\n");
        }
        match plan.body {
            RequestBody::None => out.extend_from_slice(b"\r\n"),
            RequestBody::Length(n) => {
                out.extend_from_slice(format!("content-length: {n}\r\n\r\n").as_bytes());
                out.extend_from_slice(&pattern(n, i));
            }
            RequestBody::Chunked(pieces) => {
                out.extend_from_slice(b"transfer-encoding: chunked\r\n\r\n");
                for p in 0..pieces {
                    let data = pattern(p * 37 + 5, i);
                    out.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
                    out.extend_from_slice(&data);
                    out.extend_from_slice(b"\r\n");
                }
                out.extend_from_slice(b"0\r\n\r\n");
            }
        }
        out
    }
}

/// What a service produced: the response it returned and how its body went.
#[derive(Debug)]
struct Produced {
    request: usize,
    status: StatusCode,
    yielded: Arc<Mutex<Vec<u8>>>,
    ended: Arc<Mutex<BodyEnd>>,
}

impl Produced {
    fn yielded(&self) -> Vec<u8> {
        self.yielded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
    fn ended(&self) -> BodyEnd {
        *self.ended.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Returns `Pending` `n` times, each time registering a service wake-up.
struct Delay {
    left: u32,
    world: SharedWorld,
}

impl Future for Delay {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.left == 0 {
            return Poll::Ready(());
        }
        self.left -= 1;
        lock(&self.world)
            .wakers
            .push((WakeSource::Service, cx.waker().clone()));
        Poll::Pending
    }
}

struct Flag(AtomicBool);
impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[derive(Debug)]
struct Failure(String);

/// How a run ended, for coverage accounting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum RunEnd {
    Completed,
    Released,
    Upgraded,
    Failed,
    Idle,
    CutOff,
}

/// Runs one scenario under one schedule; `Err` describes the broken invariant. The scenario
/// is drawn from the choices unless one is given.
fn run(
    seed_note: &str,
    mut choices: Choices,
    log: bool,
    fixed: Option<Scenario>,
) -> Result<(RunEnd, Vec<(u32, u32)>), Failure> {
    let scenario = match fixed {
        Some(s) => s,
        None => Scenario::generate(&mut choices),
    };
    let mut world = World::new(choices);
    world.log_enabled = log;
    world.peer_reads_up_to = scenario.peer_reads_up_to;
    world.peer_sends_eof = false;
    let world: SharedWorld = Arc::new(Mutex::new(world));
    let fail = |why: String, world: &SharedWorld, scenario: &Scenario| {
        let w = lock(world);
        let mut report = format!(
            "{why}\n  {seed_note}\n  scenario: {scenario:?}\n  received: {:?}",
            String::from_utf8_lossy(&w.outbound)
        );
        if w.log_enabled {
            report.push_str(&format!("\n  log: {:?}", w.log));
        }
        Failure(report)
    };

    let requests: Vec<Vec<u8>> = (0..scenario.plans.len())
        .map(|i| scenario.request_bytes(i))
        .collect();
    let mut sent = 0usize;
    let reveal = |sent: &mut usize, upto: usize, world: &SharedWorld| {
        let mut w = lock(world);
        while *sent < upto.min(requests.len()) {
            w.inbound.extend_from_slice(&requests[*sent]);
            *sent += 1;
        }
    };
    reveal(
        &mut sent,
        if scenario.pipelined { usize::MAX } else { 1 },
        &world,
    );

    let produced: Arc<Mutex<Vec<Produced>>> = Arc::new(Mutex::new(Vec::new()));
    let calls = Arc::new(AtomicUsize::new(0));
    let upgrades: Arc<Mutex<Vec<crate::upgrade::OnUpgrade>>> = Arc::new(Mutex::new(Vec::new()));
    let service = {
        let plans = scenario.plans.clone();
        let produced = produced.clone();
        let world = world.clone();
        let upgrades = upgrades.clone();
        crate::service::service_fn(move |mut req: Request<Incoming>| {
            let i = calls.fetch_add(1, Ordering::SeqCst);
            let plan = plans.get(i).cloned();
            let produced = produced.clone();
            let world = world.clone();
            if plan
                .as_ref()
                .is_some_and(|p| matches!(p.reply, Reply::SwitchProtocols))
            {
                upgrades
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(crate::upgrade::on(&mut req));
            }
            async move {
                let Some(plan) = plan else {
                    return Err(std::io::Error::other("unplanned request"));
                };
                Delay {
                    left: plan.delay,
                    world: world.clone(),
                }
                .await;
                if plan.read_body {
                    // A body error (the connection failed mid-body) is the connection's to report.
                    if req.into_body().collect().await.is_err() {
                        return Err(std::io::Error::other("request body failed"));
                    }
                }
                if plan.fail {
                    return Err(std::io::Error::other("scripted service failure"));
                }
                let yielded = Arc::new(Mutex::new(Vec::new()));
                let ended = Arc::new(Mutex::new(BodyEnd::Open));
                let (status, steps, exact) = match &plan.reply {
                    Reply::Full(n) => {
                        let data = pattern(*n, i);
                        let mut steps = VecDeque::new();
                        if *n > 0 {
                            let half = n / 2;
                            steps.push_back(BodyStep::Data(data.slice(..half)));
                            steps.push_back(BodyStep::Data(data.slice(half..)));
                        }
                        (StatusCode::OK, steps, Some(*n as u64))
                    }
                    Reply::Stream(steps, exact) => {
                        let total = BodyStep::data_len(steps);
                        (
                            StatusCode::OK,
                            steps.iter().cloned().collect(),
                            exact.then_some(total as u64),
                        )
                    }
                    Reply::NoContent => (StatusCode::NO_CONTENT, VecDeque::new(), Some(0)),
                    Reply::SwitchProtocols => {
                        (StatusCode::SWITCHING_PROTOCOLS, VecDeque::new(), Some(0))
                    }
                };
                if steps.is_empty() {
                    *ended.lock().unwrap_or_else(|p| p.into_inner()) = BodyEnd::Done;
                }
                let body = ScriptBody {
                    steps,
                    world,
                    exact,
                    yielded: yielded.clone(),
                    ended: ended.clone(),
                };
                let mut res = Response::new(body);
                *res.status_mut() = status;
                if status == StatusCode::SWITCHING_PROTOCOLS {
                    res.headers_mut()
                        .insert("upgrade", http::HeaderValue::from_static("explore"));
                }
                produced
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(Produced {
                        request: i,
                        status,
                        yielded,
                        ended,
                    });
                Ok::<_, std::io::Error>(res)
            }
        })
    };

    let mut builder = Builder::new();
    let o = scenario.options;
    builder
        .keep_alive(o.keep_alive)
        .half_close(o.half_close)
        .title_case_headers(o.title_case);
    if let Some(v) = o.writev {
        builder.writev(v);
    }
    if let Some(p) = o.pipeline_flush {
        builder.pipeline_flush(p);
    }
    if o.small_buf {
        builder.max_buf_size(8192);
    }
    let io = MockIo {
        world: world.clone(),
        vectored: o.writev != Some(false),
    };
    let conn = builder.serve_connection(io, service);
    let mut driver: Pin<Box<dyn Future<Output = crate::Result<Outcome>>>> = match scenario.ending {
        Ending::WithoutShutdown => {
            Box::pin(async move { conn.without_shutdown().await.map(|_| Outcome::Released) })
        }
        Ending::Upgrade => {
            Box::pin(async move { conn.with_upgrades().await.map(|()| Outcome::Ended) })
        }
        _ => {
            let graceful = match scenario.ending {
                Ending::Graceful(after) => Some(after),
                _ => None,
            };
            Box::pin(GracefulAfter {
                conn,
                after: graceful,
                polls: 0,
            })
        }
    };

    let flag = Arc::new(Flag(AtomicBool::new(true)));
    let waker = Waker::from(flag.clone());
    let mut cx = Context::from_waker(&waker);
    let mut busy = BusyLoopGuard::new((0usize, 0usize, 0usize, 0usize));
    let mut checked_shutdown = false;
    let mut result = None;

    for _ in 0..MAX_STEPS {
        if flag.0.swap(false, Ordering::SeqCst) {
            if let Poll::Ready(r) = driver.as_mut().poll(&mut cx) {
                result = Some(r);
                break;
            }
            // Progress accounting for busy-loop detection.
            let w = lock(&world);
            let yielded: usize = produced
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .map(|p| p.yielded().len())
                .sum();
            let now = (w.outbound.len(), w.read_pos, yielded, w.wakers.len());
            drop(w);
            if busy.is_busy(now, flag.0.load(Ordering::SeqCst), MAX_IDLE_POLLS) {
                return Err(fail(
                    "busy loop: the connection keeps waking itself without progress".into(),
                    &world,
                    &scenario,
                ));
            }
        }
        // At the first shutdown, everything produced and finished must already be written.
        let shutdown_checked = lock(&world).check_shutdown(&mut checked_shutdown, |out| {
            check_written(out, &produced, &scenario, Check::Complete)
        });
        shutdown_checked.map_err(|why| fail(why, &world, &scenario))?;
        // Reveal the next request once the previous response arrived completely.
        if !scenario.pipelined {
            let out = lock(&world).outbound.clone();
            let complete = oracle::read_responses(&out, &no_body)
                .map(|seen| seen.iter().filter(|s| s.complete).count())
                .unwrap_or(0);
            reveal(&mut sent, complete + 1, &world);
        }
        if sent == requests.len() && matches!(scenario.ending, Ending::PeerCloses) {
            lock(&world).peer_sends_eof = true;
        }
        if flag.0.load(Ordering::SeqCst) {
            continue;
        }
        if lock(&world).fire_one() {
            continue;
        }
        // Nothing will wake the connection any more.
        let silent = lock(&world).silent_waits();
        if silent.is_empty() {
            return Err(fail(
                "lost wake-up: the connection waits but registered nothing that will fire".into(),
                &world,
                &scenario,
            ));
        }
        if !blocked_on_writes(&silent) {
            // Waiting for a silent peer: everything produced must be out already.
            let out = lock(&world).outbound.clone();
            check_written(&out, &produced, &scenario, Check::Complete).map_err(|why| {
                fail(
                    format!("idle with output stranded: {why}"),
                    &world,
                    &scenario,
                )
            })?;
        }
        return Ok((RunEnd::Idle, lock(&world).choices.trail.clone()));
    }

    let Some(result) = result else {
        // Cut off: still running normally.
        return Ok((RunEnd::CutOff, lock(&world).choices.trail.clone()));
    };
    let mut end = RunEnd::Failed;
    match result {
        Ok(outcome) => {
            let out = lock(&world).outbound.clone();
            check_written(&out, &produced, &scenario, Check::Complete)
                .map_err(|why| fail(format!("at completion: {why}"), &world, &scenario))?;
            let shutdown = lock(&world).shutdown_at;
            match outcome {
                Outcome::Released if shutdown.is_some() => {
                    return Err(fail(
                        "without_shutdown shut the transport down".into(),
                        &world,
                        &scenario,
                    ));
                }
                Outcome::Ended if scenario.ending != Ending::Upgrade && shutdown.is_none() => {
                    return Err(fail(
                        "completed without shutting the transport down".into(),
                        &world,
                        &scenario,
                    ));
                }
                _ => {}
            }
            end = match outcome {
                Outcome::Released => RunEnd::Released,
                Outcome::Ended => RunEnd::Completed,
            };
            // An upgrade, if any, must find the 101 completely written.
            for on in upgrades.lock().unwrap_or_else(|p| p.into_inner()).drain(..) {
                let mut on = Box::pin(on);
                if let Poll::Ready(Ok(_upgraded)) = on.as_mut().poll(&mut cx) {
                    end = RunEnd::Upgraded;
                    let out = lock(&world).outbound.clone();
                    let seen = oracle::read_responses(&out, &no_body)
                        .map_err(|e| fail(e, &world, &scenario))?;
                    if !seen.iter().any(|s| s.status == 101 && s.complete) {
                        return Err(fail(
                            "upgraded before the 101 was written".into(),
                            &world,
                            &scenario,
                        ));
                    }
                }
            }
        }
        Err(err) => {
            let broken = lock(&world).broken;
            let injected =
                std::error::Error::source(&err).is_some_and(|s| s.to_string() == "injected");
            let expected = err.is_incomplete_message()
                || err.is_user()
                || err.is_body_write_aborted()
                || (broken && injected);
            if !expected {
                return Err(fail(
                    format!("unexpected connection error: {err:?}"),
                    &world,
                    &scenario,
                ));
            }
            // A broken transport cannot deliver what is owed; what did arrive must still be
            // the produced responses, in order.
            let check = if broken {
                Check::PrefixOnly
            } else {
                Check::Partial
            };
            let out = lock(&world).outbound.clone();
            check_written(&out, &produced, &scenario, check)
                .map_err(|why| fail(format!("after error {err:?}: {why}"), &world, &scenario))?;
        }
    }
    let trail = lock(&world).choices.trail.clone();
    Ok((end, trail))
}

enum Outcome {
    Ended,
    Released,
}

/// Drives a plain connection, calling `graceful_shutdown` after some polls.
struct GracefulAfter<C> {
    conn: C,
    after: Option<u32>,
    polls: u32,
}

impl<I, S, B> Future for GracefulAfter<crate::server::conn::http1::Connection<I, S>>
where
    I: crate::rt::Read + crate::rt::Write + Unpin,
    S: crate::service::HttpService<Incoming, ResBody = B>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: http_body::Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Output = crate::Result<Outcome>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if this.after == Some(this.polls) {
            Pin::new(&mut this.conn).graceful_shutdown();
        }
        this.polls += 1;
        Pin::new(&mut this.conn)
            .poll(cx)
            .map_ok(|()| Outcome::Ended)
    }
}

/// Responses that carry no body by their status.
fn no_body(_index: usize, status: u16) -> bool {
    status == 204 || status == 304 || status == 101
}

/// How strictly [`check_written`] compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Check {
    /// Every produced response is there with every byte its body yielded, and bodies that
    /// ended are complete.
    Complete,
    /// Every yielded byte is there; framing may be unfinished (the connection failed).
    Partial,
    /// What arrived is a prefix of the produced responses (the transport broke).
    PrefixOnly,
}

/// Checks that `out` holds the produced responses, in order, as strictly as `check` says.
fn check_written(
    out: &[u8],
    produced: &Arc<Mutex<Vec<Produced>>>,
    _scenario: &Scenario,
    check: Check,
) -> Result<(), String> {
    let seen = oracle::read_responses(out, &no_body)?;
    let produced = produced.lock().unwrap_or_else(|p| p.into_inner());
    for (i, p) in produced.iter().enumerate() {
        let Some(s) = seen.get(i) else {
            if check == Check::PrefixOnly {
                return Ok(());
            }
            return Err(format!(
                "response {i} (to request {}) is missing",
                p.request
            ));
        };
        if check == Check::PrefixOnly {
            let consistent = (s.status == 0 || s.status == p.status.as_u16())
                && p.yielded().starts_with(&s.body);
            if !consistent {
                return Err(format!(
                    "response {i} on the wire is not a prefix of what was produced"
                ));
            }
            continue;
        }
        if s.status != p.status.as_u16() {
            return Err(format!(
                "response {i}: status {} on the wire, {} produced",
                s.status, p.status
            ));
        }
        let yielded = p.yielded();
        if s.body != yielded {
            return Err(format!(
                "response {i}: {} body bytes on the wire, {} yielded",
                s.body.len(),
                yielded.len()
            ));
        }
        if check == Check::Complete && p.ended() == BodyEnd::Done && !s.complete {
            return Err(format!(
                "response {i}: body ended but its framing is incomplete"
            ));
        }
    }
    if seen.len() > produced.len() && seen[produced.len()..].iter().any(|s| s.status != 0) {
        return Err("more responses on the wire than produced".into());
    }
    Ok(())
}

fn seed_from_env() -> Option<u64> {
    std::env::var("EXPLORE_SEED").ok().and_then(|s| {
        let s = s.trim_start_matches("0x");
        u64::from_str_radix(s, 16).ok()
    })
}

/// Runs `count` random schedules from `base` through `run_one` (one role's explorer); returns
/// how the runs ended, or the first failure. `replay_test` names the test that replays a seed.
fn explore_random(
    base: u64,
    count: u64,
    replay_test: &str,
    run_one: impl Fn(&str, Choices) -> Result<RunEnd, Failure>,
) -> Result<std::collections::HashMap<RunEnd, u64>, Failure> {
    let mut ends = std::collections::HashMap::new();
    for i in 0..count {
        let seed = base.wrapping_add(i.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let note = format!(
            "replay: EXPLORE_SEED={seed:x} cargo test --features full --lib explore::tests::{replay_test} -- --nocapture"
        );
        let end = run_one(&note, Choices::random(seed))?;
        *ends.entry(end).or_insert(0) += 1;
    }
    Ok(ends)
}

/// One random server run, as `explore_random` wants it.
fn run_server(note: &str, choices: Choices) -> Result<RunEnd, Failure> {
    run(note, choices, false, None).map(|(end, _trail)| end)
}

/// The small exchange enumerated exhaustively: one GET answered with 5 bytes, then the peer
/// closes; everything sent at once.
fn tiny_scenario() -> Scenario {
    Scenario {
        options: Options {
            writev: None,
            pipeline_flush: None,
            keep_alive: true,
            half_close: false,
            small_buf: false,
            title_case: false,
        },
        plans: vec![Plan {
            body: RequestBody::Length(3),
            close: false,
            read_body: true,
            delay: 1,
            fail: false,
            reply: Reply::Full(5),
        }],
        ending: Ending::PeerCloses,
        pipelined: true,
        peer_reads_up_to: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hundred_random_schedules_smoke() {
        let start = std::time::Instant::now();
        match explore_random(0x5eed_2026, 100, "replay", run_server) {
            Err(Failure(report)) => panic!("{report}"),
            Ok(ends) => println!("100 schedules in {:?}: {ends:?}", start.elapsed()),
        }
    }

    #[test]
    fn five_thousand_random_schedules_keep_every_invariant() {
        let ends = match explore_random(0x5eed_2026, 5_000, "replay", run_server) {
            Err(Failure(report)) => panic!("{report}"),
            Ok(ends) => ends,
        };
        // The schedules must reach every way a connection ends, or they prove little.
        for end in [
            RunEnd::Completed,
            RunEnd::Released,
            RunEnd::Upgraded,
            RunEnd::Failed,
            RunEnd::Idle,
        ] {
            assert!(
                ends.get(&end).copied().unwrap_or(0) >= 50,
                "too few runs ended {end:?}: {ends:?}"
            );
        }
    }

    #[test]
    fn every_schedule_of_a_small_exchange_up_to_depth_keeps_every_invariant() {
        // Exhaustive over the first `depth` scheduling decisions of a fixed small exchange;
        // past the depth, each run takes option 0.
        let depth: usize = std::env::var("EXPLORE_DEPTH")
            .ok()
            .and_then(|d| d.parse().ok())
            .unwrap_or(22);
        let mut prefix = Vec::new();
        let mut runs = 0u64;
        loop {
            let note = format!("exhaustive prefix {prefix:?}");
            let trail = match run(
                &note,
                Choices::enumerate(prefix.clone()),
                false,
                Some(tiny_scenario()),
            ) {
                Ok((_, trail)) => trail,
                Err(Failure(report)) => panic!("{report}"),
            };
            runs += 1;
            match Choices::next_prefix(&trail, depth) {
                Some(next) => prefix = next,
                None => break,
            }
            assert!(runs < 2_000_000, "enumeration did not terminate");
        }
        println!("enumerated {runs} schedules to depth {depth}");
        assert!(runs > 1_000, "enumerated only {runs} schedules");
    }

    #[test]
    fn replay() {
        let Some(seed) = seed_from_env() else {
            return;
        };
        if let Err(Failure(report)) =
            run(&format!("seed {seed:x}"), Choices::random(seed), true, None)
        {
            panic!("{report}");
        }
    }

    #[test]
    fn five_thousand_random_client_schedules_keep_every_invariant() {
        let ends = match explore_random(0xc11e_2026, 5_000, "replay_client", client::run) {
            Err(Failure(report)) => panic!("{report}"),
            Ok(ends) => ends,
        };
        // A malformed response head fails its request and then ends the connection cleanly
        // (as upstream's dispatcher does), so fewer client runs end `Failed` than server runs.
        for (end, floor) in [
            (RunEnd::Completed, 50),
            (RunEnd::Released, 50),
            (RunEnd::Upgraded, 50),
            (RunEnd::Failed, 40),
        ] {
            assert!(
                ends.get(&end).copied().unwrap_or(0) >= floor,
                "too few client runs ended {end:?}: {ends:?}"
            );
        }
    }

    #[test]
    fn replay_client() {
        let Some(seed) = seed_from_env() else {
            return;
        };
        if let Err(Failure(report)) = client::run(&format!("seed {seed:x}"), Choices::random(seed))
        {
            panic!("{report}");
        }
    }

    #[test]
    fn the_client_explorer_catches_shutdown_before_flush() {
        match with_bug(Bug::ShutdownBeforeFlush, || {
            explore_random(0xb0b_c11e, 5_000, "replay_client", client::run)
        }) {
            Err(Failure(report)) => assert!(report.starts_with("client:"), "{report}"),
            Ok(_) => panic!("the client explorer missed the shutdown-before-flush bug"),
        }
    }

    #[test]
    fn the_client_explorer_catches_yielding_without_writing() {
        match with_bug(Bug::YieldWithoutWriting, || {
            explore_random(0xb0b_c11e, 5_000, "replay_client", client::run)
        }) {
            Err(Failure(report)) => assert!(
                report.contains("stranded") || report.contains("lost wake-up"),
                "{report}"
            ),
            Ok(_) => panic!("the client explorer missed the yield-without-writing bug"),
        }
    }

    fn catches(bug: Bug) -> String {
        match with_bug(bug, || {
            explore_random(0xb0b_5eed, 5_000, "replay", run_server)
        }) {
            Err(Failure(report)) => report,
            Ok(_) => panic!("the explorer missed {bug:?} within 5,000 schedules"),
        }
    }

    #[test]
    fn the_explorer_catches_shutdown_before_flush() {
        let report = catches(Bug::ShutdownBeforeFlush);
        assert!(
            report.contains("at shutdown")
                || report.contains("completion")
                || report.contains("upgraded"),
            "{report}"
        );
    }

    #[test]
    fn the_explorer_catches_a_flush_skipped_while_input_is_buffered() {
        catches(Bug::FlushSkippedWhileInputBuffered);
    }

    #[test]
    fn the_explorer_catches_yielding_without_writing() {
        let report = catches(Bug::YieldWithoutWriting);
        assert!(
            report.contains("stranded") || report.contains("lost wake-up"),
            "{report}"
        );
    }

    /// `cargo test --release --features full --lib explore::tests::a_million_schedules -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn a_million_schedules() {
        let start = std::time::Instant::now();
        let count = std::env::var("EXPLORE_COUNT")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(1_000_000);
        let ends = match explore_random(0xfeed_2026, count, "replay", run_server) {
            Err(Failure(report)) => panic!("{report}"),
            Ok(ends) => ends,
        };
        let secs = start.elapsed().as_secs_f64();
        println!(
            "server: {count} schedules in {secs:.1} s: {:.0} schedules/s; ended: {ends:?}",
            count as f64 / secs
        );
        let start = std::time::Instant::now();
        let ends = match explore_random(0xfeed_c11e, count, "replay_client", client::run) {
            Err(Failure(report)) => panic!("{report}"),
            Ok(ends) => ends,
        };
        let secs = start.elapsed().as_secs_f64();
        println!(
            "client: {count} schedules in {secs:.1} s: {:.0} schedules/s; ended: {ends:?}",
            count as f64 / secs
        );
    }
}
