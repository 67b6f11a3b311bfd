//! The fork against upstream hyper 1.12.0 on identical workloads, in one run, with a raw socket
//! copy of the same bytes as the ceiling for large bodies.
//!
//! `cargo bench --features full --bench compare` runs it; a summary of ratios is printed at
//! the end, and `cargo run --example bench_table --features full` turns criterion's saved
//! estimates into a Markdown table. Everything runs on one current-thread tokio runtime, over a
//! Unix socket pair and over TCP loopback.
use std::convert::Infallible;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use http_body_util::{Full, StreamBody};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UnixStream};
use tokio::runtime::Runtime;

#[macro_use]
#[path = "../tests/support/tokio_io.rs"]
mod tokio_io;

const BIG: usize = 4 * 1024 * 1024;
const FRAME: usize = 64 * 1024;
const FRAMES: usize = 64;
const POST: usize = 1024 * 1024;
const DEPTH: usize = 16;

/// A connected pair of the chosen transport.
async fn pair(tcp: bool) -> (Box<dyn StreamObj>, Box<dyn StreamObj>) {
    if tcp {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
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
                                move |_| Ok::<_, Infallible>($krate::body::Frame::data(frame.clone()))
                            });
                            http_body_util::BodyExt::boxed(StreamBody::new(futures_util::stream::iter(frames)))
                        }
                    };
                    async move { Ok::<_, Infallible>($krate::Response::new(body)) }
                });
                let conn = $krate::server::conn::http1::Builder::new().serve_connection(Io(io), service);
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
                let (send, conn) = $krate::client::conn::http1::handshake::<_, Full<$krate::body::Bytes>>(Io(io))
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
                        drop(http_body_util::BodyExt::collect(res.into_body()).await.unwrap());
                    })
                }
            }
        }
    };
}

server_for!(fork, hyper);
server_for!(upstream, hyper_upstream);

#[derive(Clone, Copy)]
enum Side {
    Fork,
    Upstream,
}

/// Means recorded for the summary: (workload, side, seconds per iteration).
static MEANS: Mutex<Vec<(String, &'static str, f64)>> = Mutex::new(Vec::new());

fn record(workload: &str, side: &'static str, per_iter: f64) {
    MEANS.lock().unwrap().push((workload.to_string(), side, per_iter));
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

/// Measures one server workload: a raw client writes `depth` requests and reads the answers.
fn server_bench(c: &mut Criterion, rt: &Runtime, name: &str, reply: Reply, depth: usize, tcp: bool, throughput: Throughput) {
    let mut group = c.benchmark_group(name);
    group.throughput(throughput);
    for (side, label) in [(Side::Upstream, "upstream"), (Side::Fork, "fork")] {
        let (mut client, server) = rt.block_on(pair(tcp));
        rt.block_on(async {
            match side {
                Side::Fork => fork::spawn(server, reply),
                Side::Upstream => upstream::spawn(server, reply),
            }
        });
        let request = b"GET / HTTP/1.1\r\nhost: bench\r\n\r\n".repeat(depth);
        let mut buf = vec![0u8; 256 * 1024];
        // One warm-up exchange tells the exact response size (it includes a date header).
        let one = rt.block_on(async {
            client.write_all(b"GET / HTTP/1.1\r\nhost: bench\r\n\r\n").await.unwrap();
            response_len(&mut client, reply, &mut buf).await
        });
        group.bench_function(label, |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        client.write_all(&request).await.unwrap();
                        read_exact_len(&mut client, one * depth, &mut buf).await;
                    }
                    let elapsed = start.elapsed();
                    record(name, label, elapsed.as_secs_f64() / iters as f64);
                    elapsed
                })
            })
        });
    }
    group.finish();
}

/// Reads one response and returns its length, finding its end from its framing.
async fn response_len(io: &mut Box<dyn StreamObj>, reply: Reply, buf: &mut [u8]) -> usize {
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
            return got.len();
        }
    }
}

fn raw_copy_bench(c: &mut Criterion, rt: &Runtime, name: &str, bytes: usize, tcp: bool) {
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Bytes(bytes as u64));
    let (mut reader, mut writer) = rt.block_on(pair(tcp));
    let payload = vec![b'x'; bytes];
    let (go_tx, mut go_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    rt.spawn(async move {
        while go_rx.recv().await.is_some() {
            writer.write_all(&payload).await.unwrap();
        }
    });
    let mut buf = vec![0u8; 256 * 1024];
    group.bench_function("raw socket", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    go_tx.send(()).unwrap();
                    read_exact_len(&mut reader, bytes, &mut buf).await;
                }
                let elapsed = start.elapsed();
                record(name, "raw", elapsed.as_secs_f64() / iters as f64);
                elapsed
            })
        })
    });
    group.finish();
}

fn client_post_bench(c: &mut Criterion, rt: &Runtime, name: &str, tcp: bool) {
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Bytes(POST as u64));
    for (side, label) in [(Side::Upstream, "upstream"), (Side::Fork, "fork")] {
        let (client, mut server) = rt.block_on(pair(tcp));
        // A minimal server: reads each request (head + 1 MiB) and answers with an empty 200.
        rt.spawn(async move {
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
                if server.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").await.is_err() {
                    return;
                }
            }
        });
        let local = tokio::task::LocalSet::new();
        let mut post = match side {
            Side::Fork => local.block_on(rt, fork::poster(client)).boxed_poster(),
            Side::Upstream => local.block_on(rt, upstream::poster(client)).boxed_poster(),
        };
        group.bench_function(label, |b| {
            b.iter_custom(|iters| {
                local.block_on(rt, async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        post().await;
                    }
                    let elapsed = start.elapsed();
                    record(name, label, elapsed.as_secs_f64() / iters as f64);
                    elapsed
                })
            })
        });
    }
    group.finish();
}

/// Erases the poster closure's type so both crates fit one variable.
trait BoxedPoster {
    fn boxed_poster(self) -> Box<dyn FnMut() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>>;
}

impl<F> BoxedPoster for F
where
    F: FnMut() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>> + 'static,
{
    fn boxed_poster(self) -> Box<dyn FnMut() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>> {
        Box::new(self)
    }
}

fn summary() {
    let means = MEANS.lock().unwrap();
    // The last recording of each (workload, side) is criterion's final sampling pass.
    let mut last: std::collections::BTreeMap<(String, &str), f64> = Default::default();
    for (w, s, t) in means.iter() {
        last.insert((w.clone(), *s), *t);
    }
    let workloads: std::collections::BTreeSet<&String> = last.keys().map(|(w, _)| w).collect();
    println!("\n| workload | fork / upstream (speed) | fork / raw socket (speed) |");
    println!("|---|---|---|");
    for w in workloads {
        let get = |s: &str| last.get(&(w.clone(), s)).copied();
        let vs_upstream = match (get("fork"), get("upstream")) {
            (Some(f), Some(u)) => format!("{:.2}", u / f),
            _ => "-".into(),
        };
        let raw_name = w.replace("response", "raw copy");
        let vs_raw = match (get("fork"), last.get(&(raw_name, "raw")).copied()) {
            (Some(f), Some(r)) => format!("{:.2}", r / f),
            _ => "-".into(),
        };
        println!("| {w} | {vs_upstream} | {vs_raw} |");
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    for (tcp, transport) in [(false, "unix"), (true, "tcp")] {
        server_bench(&mut c, &rt, &format!("{transport}: 4 MiB response"), Reply::Big, 1, tcp, Throughput::Bytes(BIG as u64));
        raw_copy_bench(&mut c, &rt, &format!("{transport}: 4 MiB raw copy"), BIG, tcp);
        server_bench(&mut c, &rt, &format!("{transport}: 64 x 64 KiB chunked response"), Reply::Chunked, 1, tcp, Throughput::Bytes((FRAME * FRAMES) as u64));
        raw_copy_bench(&mut c, &rt, &format!("{transport}: 64 x 64 KiB chunked raw copy"), FRAME * FRAMES, tcp);
        server_bench(&mut c, &rt, &format!("{transport}: 13-byte keep-alive"), Reply::Small, 1, tcp, Throughput::Elements(1));
        server_bench(&mut c, &rt, &format!("{transport}: 16-deep pipelining"), Reply::Small, DEPTH, tcp, Throughput::Elements(DEPTH as u64));
        client_post_bench(&mut c, &rt, &format!("{transport}: client POST 1 MiB"), tcp);
    }
    c.final_summary();
    summary();
}
