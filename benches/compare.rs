//! The fork against upstream hyper 1.13.0 on identical workloads, in one run, with a raw socket
//! copy of the same bytes as the ceiling for large bodies.
//!
//! `cargo bench --features full --bench compare` runs it (a filter after `--` selects
//! workloads by name). Each workload is a criterion group with the sides `upstream`, `fork`
//! and, for large bodies, `raw socket`; every sample runs on a fresh connection. At the end a
//! paired comparison alternates the sides round by round and prints the median ratios, which
//! is what to trust on a shared machine; `cargo run --example bench_table` turns criterion's
//! saved estimates into a Markdown table too. Everything runs on one current-thread tokio
//! runtime, over a Unix socket pair and over TCP loopback.
use std::convert::Infallible;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use http_body_util::{Full, StreamBody};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::runtime::Runtime;

#[macro_use]
#[path = "../tests/support/tokio_io.rs"]
mod tokio_io;

const BIG: usize = 4 * 1024 * 1024;
const FRAME: usize = 64 * 1024;
const FRAMES: usize = 64;
const POST: usize = 1024 * 1024;
const DEPTH: usize = 16;

/// Send and receive buffer size requested for both ends of a TCP loopback connection.
///
/// Left to autotuning, loopback buffers on this VM grow to several MiB and a connection's
/// throughput then depends on luck: the same side measured 3.2 to 7.6 GB/s from one fresh
/// connection to the next, which no number of rounds averages into a 10% comparison. With the
/// sizes fixed (the kernel doubles the request and caps it at `net.core.{r,w}mem_max`), every
/// side sees the same socket and the spread between connections shrinks to a few percent.
/// Unix socket pairs have fixed buffers already. `BENCH_TCP_AUTOTUNE=1` leaves the sizes to
/// the kernel, to see that spread.
const TCP_SOCKET_BUFFER: u32 = 1024 * 1024;

/// A connected pair of the chosen transport.
async fn pair(tcp: bool) -> (Box<dyn StreamObj>, Box<dyn StreamObj>) {
    if tcp {
        let sockets = [
            tokio::net::TcpSocket::new_v4().unwrap(),
            tokio::net::TcpSocket::new_v4().unwrap(),
        ];
        if std::env::var_os("BENCH_TCP_AUTOTUNE").is_none() {
            for socket in &sockets {
                socket.set_send_buffer_size(TCP_SOCKET_BUFFER).unwrap();
                socket.set_recv_buffer_size(TCP_SOCKET_BUFFER).unwrap();
            }
        }
        let [listen, connect] = sockets;
        listen.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        // The accepted socket inherits the listener's buffer sizes.
        let listener = listen.listen(1).unwrap();
        let client = connect
            .connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        client.set_nodelay(true).unwrap();
        server.set_nodelay(true).unwrap();
        (Box::new(client), Box::new(server))
    } else {
        let (a, b) = UnixStream::pair().unwrap();
        (Box::new(a), Box::new(b))
    }
}

/// Object-safe stream, so both transports share one code path.
trait StreamObj: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> StreamObj for T {}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Reply {
    Big,
    Small,
    Chunked,
}

macro_rules! server_for {
    ($module:ident, $krate:ident) => {
        mod $module {
            use super::*;

            tokio_io_for!($krate, Io);

            type Boxed = http_body_util::combinators::BoxBody<$krate::body::Bytes, Infallible>;

            pub fn spawn(io: Box<dyn StreamObj>, reply: Reply) {
                let big = $krate::body::Bytes::from(vec![b'x'; BIG]);
                let frame = $krate::body::Bytes::from(vec![b'y'; FRAME]);
                let service = $krate::service::service_fn(move |_req| {
                    let body: Boxed = match reply {
                        Reply::Big => http_body_util::BodyExt::boxed(Full::new(big.clone())),
                        Reply::Small => http_body_util::BodyExt::boxed(Full::new(
                            $krate::body::Bytes::from_static(b"Hello, World!"),
                        )),
                        Reply::Chunked => {
                            let frames = (0..FRAMES).map({
                                let frame = frame.clone();
                                move |_| {
                                    Ok::<_, Infallible>($krate::body::Frame::data(frame.clone()))
                                }
                            });
                            http_body_util::BodyExt::boxed(StreamBody::new(
                                futures_util::stream::iter(frames),
                            ))
                        }
                    };
                    async move { Ok::<_, Infallible>($krate::Response::new(body)) }
                });
                let conn =
                    $krate::server::conn::http1::Builder::new().serve_connection(Io(io), service);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        eprintln!("server connection: {e}");
                    }
                });
            }

            /// The crate's client on `io`, posting 1 MiB bodies.
            pub async fn poster(
                io: Box<dyn StreamObj>,
            ) -> impl FnMut() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>> {
                let (send, conn) =
                    $krate::client::conn::http1::handshake::<_, Full<$krate::body::Bytes>>(Io(io))
                        .await
                        .unwrap();
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        eprintln!("client connection: {e}");
                    }
                });
                let body = $krate::body::Bytes::from(vec![b'p'; POST]);
                let send = std::rc::Rc::new(tokio::sync::Mutex::new(send));
                move || {
                    let send = send.clone();
                    let body = body.clone();
                    Box::pin(async move {
                        let mut send = send.lock().await;
                        send.ready().await.unwrap();
                        let req = $krate::Request::post("/").body(Full::new(body)).unwrap();
                        let res = send.send_request(req).await.unwrap();
                        drop(
                            http_body_util::BodyExt::collect(res.into_body())
                                .await
                                .unwrap(),
                        );
                    })
                }
            }
        }
    };
}

server_for!(fork, hyper);
server_for!(upstream, hyper_upstream);

/// Who serves (or sends) the bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Fork,
    Upstream,
    /// The same request answered with the same response bytes (head and framing included)
    /// over a plain socket in one `write_all`, without HTTP: the physical ceiling for large
    /// bodies.
    Raw,
}

impl Side {
    fn label(self) -> &'static str {
        match self {
            Side::Fork => "fork",
            Side::Upstream => "upstream",
            Side::Raw => "raw socket",
        }
    }
}

/// What one iteration does.
#[derive(Clone, Copy)]
enum Workload {
    /// A raw client writes `depth` GET requests and reads the responses.
    Server { reply: Reply, depth: usize },
    /// The crate's client posts 1 MiB to a minimal peer.
    ClientPost,
}

impl Workload {
    fn throughput(self) -> Throughput {
        match self {
            Workload::Server {
                reply: Reply::Big, ..
            } => Throughput::Bytes(BIG as u64),
            Workload::Server {
                reply: Reply::Chunked,
                ..
            } => Throughput::Bytes((FRAME * FRAMES) as u64),
            Workload::Server { depth, .. } => Throughput::Elements(depth as u64),
            Workload::ClientPost => Throughput::Bytes(POST as u64),
        }
    }

    /// Whether a raw socket copy of the response is a meaningful ceiling (large bodies).
    fn has_raw_ceiling(self) -> bool {
        matches!(
            self,
            Workload::Server {
                reply: Reply::Big | Reply::Chunked,
                ..
            }
        )
    }

    /// Iterations in one round of the paired comparison (a few tens of milliseconds).
    fn round_iters(self) -> u64 {
        match self {
            Workload::Server {
                reply: Reply::Small,
                depth: 1,
            } => 2_000,
            Workload::Server {
                reply: Reply::Small,
                ..
            } => 400,
            _ => 16,
        }
    }
}

/// Reads exactly `n` bytes.
async fn read_exact_len(io: &mut Box<dyn StreamObj>, n: usize, buf: &mut [u8]) {
    let mut left = n;
    while left > 0 {
        let want = left.min(buf.len());
        let got = io.read(&mut buf[..want]).await.unwrap();
        assert!(got > 0, "peer closed");
        left -= got;
    }
}

/// Reads one response and returns its bytes, finding its end from its framing.
async fn read_response(io: &mut Box<dyn StreamObj>, reply: Reply, buf: &mut [u8]) -> Vec<u8> {
    let mut got = Vec::new();
    loop {
        let n = io.read(buf).await.unwrap();
        assert!(n > 0);
        got.extend_from_slice(&buf[..n]);
        let Some(head) = got.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4) else {
            continue;
        };
        let done = match reply {
            Reply::Big => got.len() >= head + BIG,
            Reply::Small => got.len() >= head + 13,
            Reply::Chunked => got.ends_with(b"0\r\n\r\n"),
        };
        if done {
            return got;
        }
    }
}

/// The exact bytes the fork answers one GET with, for the raw side to send.
async fn response_bytes(reply: Reply) -> Vec<u8> {
    let (mut client, server) = pair(false).await;
    fork::spawn(server, reply);
    client.write_all(GET).await.unwrap();
    read_response(&mut client, reply, &mut vec![0u8; 256 * 1024]).await
}

const GET: &[u8] = b"GET / HTTP/1.1\r\nhost: bench\r\n\r\n";

/// A minimal HTTP/1 peer for the client benches: reads each request (head + 1 MiB) and answers
/// with an empty 200.
fn spawn_post_sink(mut server: Box<dyn StreamObj>) {
    tokio::spawn(async move {
        let mut buf = vec![0u8; 256 * 1024];
        let mut pending = Vec::new();
        loop {
            while !pending.windows(4).any(|w| w == b"\r\n\r\n") {
                match server.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => pending.extend_from_slice(&buf[..n]),
                }
            }
            let head = pending.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
            while pending.len() < head + POST {
                match server.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => pending.extend_from_slice(&buf[..n]),
                }
            }
            pending.drain(..head + POST);
            if server
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                .await
                .is_err()
            {
                return;
            }
        }
    });
}

/// Runs `iters` iterations of `workload` by `side` on a fresh connection and returns the time
/// they took. The connection setup and one warm-up iteration are not timed.
///
/// A fresh connection each time matters over TCP loopback: one connection can be luckier than
/// another (buffer autotuning), and reusing one connection per side would turn that luck into
/// a difference between the sides.
async fn measure(workload: Workload, side: Side, tcp: bool, iters: u64) -> Duration {
    let (mut client, server) = pair(tcp).await;
    let mut buf = vec![0u8; 256 * 1024];
    match (workload, side) {
        (Workload::Server { reply, .. }, Side::Raw) => {
            // The same exchange without HTTP: the client sends the request bytes, the peer
            // reads them and answers with the bytes the fork would send, in one write.
            let response = response_bytes(reply).await;
            let len = response.len();
            let mut peer = server;
            tokio::spawn(async move {
                let mut request = [0u8; 512];
                while let Ok(n @ 1..) = peer.read(&mut request).await {
                    if request[..n].ends_with(b"\r\n\r\n")
                        && peer.write_all(&response).await.is_err()
                    {
                        return;
                    }
                }
            });
            client.write_all(GET).await.unwrap();
            read_exact_len(&mut client, len, &mut buf).await;
            let start = Instant::now();
            for _ in 0..iters {
                client.write_all(GET).await.unwrap();
                read_exact_len(&mut client, len, &mut buf).await;
            }
            start.elapsed()
        }
        (Workload::ClientPost, Side::Raw) => unreachable!("no raw ceiling for the client POST"),
        (Workload::Server { reply, depth }, side) => {
            match side {
                Side::Fork => fork::spawn(server, reply),
                _ => upstream::spawn(server, reply),
            }
            // The warm-up exchange also tells the exact response size (it has a date header).
            client.write_all(GET).await.unwrap();
            let one = read_response(&mut client, reply, &mut buf).await.len();
            let request = GET.repeat(depth);
            let start = Instant::now();
            for _ in 0..iters {
                client.write_all(&request).await.unwrap();
                read_exact_len(&mut client, one * depth, &mut buf).await;
            }
            start.elapsed()
        }
        (Workload::ClientPost, side) => {
            spawn_post_sink(server);
            // The posters keep their `SendRequest` in an `Rc`: run them on a local set.
            let local = tokio::task::LocalSet::new();
            local
                .run_until(async move {
                    let mut post = match side {
                        Side::Fork => fork::poster(client).await.boxed_poster(),
                        _ => upstream::poster(client).await.boxed_poster(),
                    };
                    post().await;
                    let start = Instant::now();
                    for _ in 0..iters {
                        post().await;
                    }
                    start.elapsed()
                })
                .await
        }
    }
}

/// Erases the poster closure's type so both crates fit one variable.
trait BoxedPoster {
    fn boxed_poster(
        self,
    ) -> Box<dyn FnMut() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>>;
}

impl<F> BoxedPoster for F
where
    F: FnMut() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>> + 'static,
{
    fn boxed_poster(
        self,
    ) -> Box<dyn FnMut() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>> {
        Box::new(self)
    }
}

/// The sides that take part in a workload.
fn sides(workload: Workload) -> Vec<Side> {
    let mut sides = vec![Side::Upstream, Side::Fork];
    if workload.has_raw_ceiling() {
        sides.push(Side::Raw);
    }
    sides
}

fn criterion_group(c: &mut Criterion, rt: &Runtime, name: &str, workload: Workload, tcp: bool) {
    let mut group = c.benchmark_group(name);
    group.throughput(workload.throughput());
    for side in sides(workload) {
        group.bench_function(side.label(), |b| {
            b.iter_custom(|iters| rt.block_on(measure(workload, side, tcp, iters)))
        });
    }
    group.finish();
}

/// Rounds of the paired comparison.
const ROUNDS: usize = 15;

/// Criterion measures one side after the other, so slow drift on a shared machine (another
/// process, thermal state) lands on one side. This comparison alternates the sides round by
/// round, on fresh connections, and reports the median of the per-round ratios.
fn paired_ratios(rt: &Runtime, workload: Workload, tcp: bool) -> (f64, Option<f64>) {
    let iters = workload.round_iters();
    let mut vs_upstream = Vec::new();
    let mut vs_raw = Vec::new();
    for round in 0..ROUNDS {
        let mut order = sides(workload);
        if round % 2 == 1 {
            order.reverse();
        }
        let mut times = [Duration::ZERO; 3];
        for side in order {
            times[side as usize] = rt.block_on(measure(workload, side, tcp, iters));
        }
        let [fork, upstream, raw] = times.map(|t| t.as_secs_f64());
        vs_upstream.push(upstream / fork);
        if raw > 0.0 {
            vs_raw.push(raw / fork);
        }
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let raw = (!vs_raw.is_empty()).then(|| median(vs_raw));
    (median(vs_upstream), raw)
}

/// Whether the filter given on the command line (`cargo bench ... -- FILTER`, matched as a
/// substring here) selects this workload; criterion applies the same filter to its groups.
fn selected(name: &str) -> bool {
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    filter.is_none_or(|f| name.contains(&f))
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    let workloads = [
        (
            "4 MiB response",
            Workload::Server {
                reply: Reply::Big,
                depth: 1,
            },
        ),
        (
            "64 x 64 KiB chunked response",
            Workload::Server {
                reply: Reply::Chunked,
                depth: 1,
            },
        ),
        (
            "13-byte keep-alive",
            Workload::Server {
                reply: Reply::Small,
                depth: 1,
            },
        ),
        (
            "16-deep pipelining",
            Workload::Server {
                reply: Reply::Small,
                depth: DEPTH,
            },
        ),
        ("client POST 1 MiB", Workload::ClientPost),
    ];
    let mut table = Vec::new();
    for (tcp, transport) in [(false, "unix"), (true, "tcp")] {
        for (what, workload) in workloads {
            let name = format!("{transport}: {what}");
            criterion_group(&mut c, &rt, &name, workload, tcp);
            if selected(&name) {
                table.push((name, paired_ratios(&rt, workload, tcp)));
            }
        }
    }
    c.final_summary();
    println!(
        "\nPaired comparison ({ROUNDS} alternating rounds on fresh connections, median ratio;"
    );
    println!("speed, so above 1.00 means the fork is faster):\n");
    println!("| workload | fork / upstream | fork / raw socket |");
    println!("|---|---|---|");
    for (name, (vs_upstream, vs_raw)) in table {
        let raw = vs_raw.map_or("-".to_string(), |r| format!("{r:.2}"));
        println!("| {name} | {vs_upstream:.2} | {raw} |");
    }
}
