//! The explorer for client connections: a scripted application sends requests (with scripted
//! bodies) through a `SendRequest` handle; a scripted server peer answers each request once it
//! arrived completely (or, in some runs, as soon as its head arrived). The same invariants as
//! for servers are checked, on the request side: the connection never shuts down, completes
//! or hands its transport back while request bytes it encoded are unwritten, the peer receives
//! exactly the requests sent, and waiting always has a wake-up that will fire.
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http::Request;
use http_body_util::BodyExt;

use super::oracle;
use super::world::{
    blocked_on_writes, lock, BodyEnd, BodyStep, BusyLoopGuard, Choices, MockIo, ScriptBody,
    SharedWorld, World,
};
use super::{pattern, Failure, Flag, RunEnd, MAX_IDLE_POLLS, MAX_STEPS};
use crate::client::conn::http1::Builder;

#[derive(Clone, Debug)]
struct Plan {
    /// The request body's steps; `None` for a GET without body.
    body: Option<Vec<BodyStep>>,
    exact: bool,
    close: bool,
    response_len: usize,
    response_chunked: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ending {
    /// The application drops its handle after the last response.
    DropHandle,
    /// The server closes the connection after its last response.
    PeerCloses,
    /// Driven with `without_shutdown`.
    WithoutShutdown,
    /// The last request is answered with `101 Switching Protocols`; driven with upgrades.
    Upgrade,
}

#[derive(Clone, Debug)]
struct Scenario {
    writev: Option<bool>,
    title_case: bool,
    small_buf: bool,
    plans: Vec<Plan>,
    ending: Ending,
    /// The server answers as soon as a request's head arrived.
    early_answers: bool,
    peer_reads_up_to: Option<usize>,
}

impl Scenario {
    fn generate(c: &mut Choices) -> Scenario {
        let count = c.range(1, 3) as usize;
        let plans = (0..count)
            .map(|i| {
                let body = match c.pick(3) {
                    0 => None,
                    _ => {
                        let mut steps = Vec::new();
                        for k in 0..c.range(1, 4) {
                            match c.pick(5) {
                                0 => steps.push(BodyStep::Pending),
                                1 => steps.push(BodyStep::Data(Bytes::new())),
                                _ => steps.push(BodyStep::Data(pattern(
                                    c.range(1, 7000) as usize,
                                    i * 3 + k as usize,
                                ))),
                            }
                        }
                        if c.one_in(10) {
                            steps.push(BodyStep::Fail);
                        }
                        Some(steps)
                    }
                };
                let exact = c.one_in(2)
                    && body
                        .as_ref()
                        .is_some_and(|s| !s.iter().any(|st| matches!(st, BodyStep::Fail)));
                Plan {
                    body,
                    exact,
                    close: c.one_in(6),
                    response_len: [0, 3, 2000][c.pick(3) as usize],
                    response_chunked: c.one_in(3),
                }
            })
            .collect();
        Scenario {
            writev: [None, Some(true), Some(false)][c.pick(3) as usize],
            title_case: c.one_in(3),
            small_buf: c.one_in(3),
            plans,
            ending: match c.pick(5) {
                0 | 1 => Ending::DropHandle,
                2 => Ending::PeerCloses,
                3 => Ending::WithoutShutdown,
                _ => Ending::Upgrade,
            },
            early_answers: c.one_in(4),
            peer_reads_up_to: c.one_in(10).then(|| c.range(0, 300) as usize),
        }
    }

    fn response_bytes(&self, i: usize) -> Vec<u8> {
        let plan = &self.plans[i];
        if self.ending == Ending::Upgrade && i + 1 == self.plans.len() {
            return b"HTTP/1.1 101 Switching Protocols\r\nupgrade: explore\r\nconnection: upgrade\r\n\r\n".to_vec();
        }
        let mut out = b"HTTP/1.1 200 OK\r\n".to_vec();
        let closing =
            plan.close || (self.ending == Ending::PeerCloses && i + 1 == self.plans.len());
        if closing {
            out.extend_from_slice(b"connection: close\r\n");
        }
        let body = pattern(plan.response_len, 100 + i);
        if plan.response_chunked {
            out.extend_from_slice(b"transfer-encoding: chunked\r\n\r\n");
            if !body.is_empty() {
                out.extend_from_slice(format!("{:x}\r\n", body.len()).as_bytes());
                out.extend_from_slice(&body);
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"0\r\n\r\n");
        } else {
            out.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
            out.extend_from_slice(&body);
        }
        out
    }
}

/// A request the application handed to the connection, and how its body went.
struct Sent {
    yielded: Arc<Mutex<Vec<u8>>>,
    ended: Arc<Mutex<BodyEnd>>,
}

pub(super) fn run(seed_note: &str, mut choices: Choices) -> Result<RunEnd, Failure> {
    let scenario = Scenario::generate(&mut choices);
    let mut world = World::new(choices);
    world.log_enabled = std::env::var_os("EXPLORE_LOG").is_some();
    world.peer_reads_up_to = scenario.peer_reads_up_to;
    let world: SharedWorld = Arc::new(Mutex::new(world));
    let fail = |why: String, world: &SharedWorld| {
        let w = lock(world);
        Failure(format!(
            "client: {why}\n  {seed_note}\n  scenario: {scenario:?}\n  sent by the client: {:?}\n  log: {:?}",
            String::from_utf8_lossy(&w.outbound),
            w.log
        ))
    };

    let mut builder = Builder::new();
    builder.title_case_headers(scenario.title_case);
    if let Some(v) = scenario.writev {
        builder.writev(v);
    }
    if scenario.small_buf {
        builder.max_buf_size(8192);
    }
    let io = MockIo {
        world: world.clone(),
        vectored: scenario.writev != Some(false),
    };
    let handshake = builder.handshake::<_, ScriptBody>(io);
    let mut handshake = Box::pin(handshake);
    let flag = Arc::new(Flag(AtomicBool::new(true)));
    let waker = Waker::from(flag.clone());
    let mut cx = Context::from_waker(&waker);
    let Poll::Ready(Ok((mut send, conn))) = handshake.as_mut().poll(&mut cx) else {
        return Err(fail("handshake did not complete at once".into(), &world));
    };

    let sent: Arc<Mutex<Vec<Sent>>> = Arc::new(Mutex::new(Vec::new()));
    // Where the application parks its handle when the scenario wants it kept open.
    let kept: Arc<Mutex<Option<crate::client::conn::http1::SendRequest<ScriptBody>>>> =
        Arc::new(Mutex::new(None));
    let upgrade_slot: Arc<Mutex<Option<crate::upgrade::OnUpgrade>>> = Arc::new(Mutex::new(None));
    let app_done = Arc::new(AtomicBool::new(false));
    let app = {
        let plans = scenario.plans.clone();
        let sent = sent.clone();
        let world = world.clone();
        let upgrade_slot = upgrade_slot.clone();
        let app_done = app_done.clone();
        let kept = kept.clone();
        let ending = scenario.ending;
        async move {
            for (i, plan) in plans.iter().enumerate() {
                if send.ready().await.is_err() {
                    break;
                }
                let yielded = Arc::new(Mutex::new(Vec::new()));
                let ended = Arc::new(Mutex::new(BodyEnd::Open));
                let steps: VecDeque<BodyStep> =
                    plan.body.clone().unwrap_or_default().into_iter().collect();
                if steps.is_empty() {
                    *ended.lock().unwrap_or_else(|p| p.into_inner()) = BodyEnd::Done;
                }
                let total = BodyStep::data_len(&steps);
                let body = ScriptBody {
                    steps,
                    world: world.clone(),
                    exact: plan.exact.then_some(total as u64),
                    yielded: yielded.clone(),
                    ended: ended.clone(),
                };
                let method = if plan.body.is_some() { "POST" } else { "GET" };
                let mut req = Request::builder()
                    .method(method)
                    .uri(format!("/c{i}"))
                    .header("host", "x");
                if plan.close {
                    req = req.header("connection", "close");
                }
                let Ok(req) = req.body(body) else {
                    break;
                };
                sent.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(Sent { yielded, ended });
                match send.send_request(req).await {
                    Ok(mut res) => {
                        if res.status() == http::StatusCode::SWITCHING_PROTOCOLS {
                            *upgrade_slot.lock().unwrap_or_else(|p| p.into_inner()) =
                                Some(crate::upgrade::on(&mut res));
                            break;
                        }
                        if res.into_body().collect().await.is_err() {
                            break;
                        }
                    }
                    Err(_) => break,
                }
            }
            if ending == Ending::PeerCloses || ending == Ending::WithoutShutdown {
                // Keep the handle: the connection ends by the peer or by `without_shutdown`.
                *kept.lock().unwrap_or_else(|p| p.into_inner()) = Some(send);
            }
            app_done.store(true, Ordering::SeqCst);
        }
    };
    let mut app: Pin<Box<dyn Future<Output = ()>>> = Box::pin(app);
    let mut conn: Pin<Box<dyn Future<Output = crate::Result<bool>>>> = match scenario.ending {
        Ending::WithoutShutdown => {
            Box::pin(async move { conn.without_shutdown().await.map(|_| true) })
        }
        Ending::Upgrade => Box::pin(async move { conn.with_upgrades().await.map(|()| false) }),
        _ => Box::pin(async move { conn.await.map(|()| false) }),
    };

    let mut answered = 0usize;
    let mut result = None;
    let mut busy = BusyLoopGuard::new((0usize, 0usize));
    let mut checked_shutdown = false;
    for _ in 0..MAX_STEPS {
        if flag.0.swap(false, Ordering::SeqCst) {
            if !app_done.load(Ordering::SeqCst) {
                let _pending_or_done: Poll<()> = app.as_mut().poll(&mut cx);
            }
            if result.is_none() {
                if let Poll::Ready(r) = conn.as_mut().poll(&mut cx) {
                    result = Some(r);
                }
            }
            let now = {
                let w = lock(&world);
                (w.outbound.len(), w.read_pos)
            };
            if busy.is_busy(now, flag.0.load(Ordering::SeqCst), MAX_IDLE_POLLS) {
                return Err(fail("busy loop".into(), &world));
            }
        }
        if result.is_some() && app_done.load(Ordering::SeqCst) {
            break;
        }
        // The peer answers each request once it arrived (or its head did).
        let out = lock(&world).outbound.clone();
        let seen = oracle::read_requests(&out).map_err(|e| fail(e, &world))?;
        let ready = seen
            .iter()
            .filter(|r| r.complete || (scenario.early_answers && !r.path.is_empty()))
            .count()
            .min(scenario.plans.len());
        while answered < ready {
            let bytes = scenario.response_bytes(answered);
            let mut w = lock(&world);
            w.inbound.extend_from_slice(&bytes);
            if scenario.plans[answered].close
                || (scenario.ending == Ending::PeerCloses && answered + 1 == scenario.plans.len())
            {
                w.peer_sends_eof = true;
            }
            answered += 1;
        }
        let shutdown_checked =
            lock(&world).check_shutdown(&mut checked_shutdown, |out| check_sent(out, &sent, true));
        shutdown_checked.map_err(|why| fail(why, &world))?;
        if flag.0.load(Ordering::SeqCst) || lock(&world).fire_one() {
            continue;
        }
        let silent = lock(&world).silent_waits();
        if silent.is_empty() && result.is_none() {
            return Err(fail(
                "lost wake-up: waiting with nothing registered that will fire".into(),
                &world,
            ));
        }
        if !blocked_on_writes(&silent) && !lock(&world).broken {
            let out = lock(&world).outbound.clone();
            check_sent(&out, &sent, true)
                .map_err(|why| fail(format!("idle with request bytes stranded: {why}"), &world))?;
        }
        return Ok(if result.is_some() {
            RunEnd::Completed
        } else {
            RunEnd::Idle
        });
    }
    let Some(result) = result else {
        return Ok(RunEnd::CutOff);
    };
    let broken = lock(&world).broken;
    match result {
        Ok(released) => {
            // A transport error goes to the request in flight, and the connection itself
            // then resolves `Ok`; nothing owed could be delivered.
            let out = lock(&world).outbound.clone();
            check_sent(&out, &sent, !broken)
                .map_err(|why| fail(format!("at completion: {why}"), &world))?;
            if released && lock(&world).shutdown_at.is_some() {
                return Err(fail(
                    "without_shutdown shut the transport down".into(),
                    &world,
                ));
            }
            if let Some(on) = upgrade_slot
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take()
            {
                let mut on = Box::pin(on);
                if let Poll::Ready(Ok(_io)) = on.as_mut().poll(&mut cx) {
                    return Ok(RunEnd::Upgraded);
                }
            }
            Ok(if released {
                RunEnd::Released
            } else {
                RunEnd::Completed
            })
        }
        Err(err) => {
            let injected =
                std::error::Error::source(&err).is_some_and(|s| s.to_string() == "injected");
            if !(err.is_incomplete_message() || err.is_user() || (broken && injected)) {
                return Err(fail(format!("unexpected connection error {err:?}"), &world));
            }
            if !broken {
                let out = lock(&world).outbound.clone();
                check_sent(&out, &sent, false)
                    .map_err(|why| fail(format!("after error {err:?}: {why}"), &world))?;
            }
            Ok(RunEnd::Failed)
        }
    }
}

/// Checks that the peer received the requests handed to the connection, in order, each with
/// every body byte yielded; with `complete`, requests whose bodies ended must be complete.
fn check_sent(out: &[u8], sent: &Arc<Mutex<Vec<Sent>>>, complete: bool) -> Result<(), String> {
    let seen = oracle::read_requests(out)?;
    let sent = sent.lock().unwrap_or_else(|p| p.into_inner());
    for (i, s) in sent.iter().enumerate() {
        let ended = *s.ended.lock().unwrap_or_else(|p| p.into_inner());
        let yielded = s.yielded.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let Some(r) = seen.get(i) else {
            if complete && ended == BodyEnd::Done {
                return Err(format!("request {i} is missing"));
            }
            continue;
        };
        if r.path.is_empty() && !complete {
            continue;
        }
        if r.path != format!("/c{i}") {
            return Err(format!("request {i} arrived as {:?}", r.path));
        }
        if r.body != yielded && (complete || !yielded.starts_with(&r.body)) {
            return Err(format!(
                "request {i}: {} body bytes arrived, {} yielded",
                r.body.len(),
                yielded.len()
            ));
        }
        if complete && ended == BodyEnd::Done && !r.complete {
            return Err(format!(
                "request {i}: body ended but its framing is incomplete"
            ));
        }
    }
    Ok(())
}
