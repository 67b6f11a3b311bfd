//! An HTTP/2 (prior knowledge) server answering every request with 13 bytes, on the fork's or
//! upstream 1.13.0's `server::conn::http2`, for measuring what a small request costs the
//! server: `benches/h2_cost.sh` runs it under `valgrind --tool=callgrind` (instruction
//! counts) and under `h2load` (CPU time).
//!
//! ```text
//! h2_server_cost fork|upstream ADDR CONNECTIONS [READY_FILE]
//! ```
//!
//! It accepts `CONNECTIONS` TCP connections on `ADDR`, serves each until the client closes it,
//! prints the CPU time it used (in clock ticks, from `/proc/self/stat`) as
//! `cpu_ticks TOTAL user USER system SYSTEM`, and exits, so a profiler sees a complete run. Once listening it creates
//! `READY_FILE`, if given. One current-thread runtime serves everything, as on one core.
use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use tokio::net::TcpListener;

#[path = "../tests/support/tokio_io.rs"]
#[macro_use]
mod tokio_io;

tokio_io_for!(hyper, ForkIo);
mod up {
    tokio_io_for!(hyper_upstream, UpIo);
}

const BODY: &[u8] = b"hello world!\n";

#[path = "../tests/support/upstream_exec.rs"]
mod upstream_exec;
use upstream_exec::UpExec;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: h2_server_cost fork|upstream ADDR CONNECTIONS [READY_FILE]";
    let side = args.get(1).expect(usage).clone();
    let addr: SocketAddr = args.get(2).expect(usage).parse().expect("an address");
    let connections: usize = args.get(3).expect(usage).parse().expect("a count");
    let ready = args.get(4).cloned();
    assert!(side == "fork" || side == "upstream", "{usage}");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let listener = TcpListener::bind(addr).await.expect("bind");
        if let Some(path) = ready {
            std::fs::write(path, "ready\n").unwrap();
        }
        let mut served = tokio::task::JoinSet::new();
        for _ in 0..connections {
            let (tcp, _) = listener.accept().await.expect("accept");
            tcp.set_nodelay(true).unwrap();
            if side == "fork" {
                let service = hyper::service::service_fn(|_req| async {
                    Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from_static(BODY))))
                });
                let conn =
                    hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
                        .serve_connection(ForkIo(tcp), service);
                served.spawn(async move { conn.await.is_ok() });
            } else {
                let service = hyper_upstream::service::service_fn(|_req| async {
                    Ok::<_, Infallible>(hyper_upstream::Response::new(Full::new(
                        Bytes::from_static(BODY),
                    )))
                });
                let conn = hyper_upstream::server::conn::http2::Builder::new(UpExec)
                    .serve_connection(up::UpIo(tcp), service);
                served.spawn(async move { conn.await.is_ok() });
            }
        }
        while served.join_next().await.is_some() {}
    });
    if let Some((user, system)) = cpu_ticks() {
        println!("cpu_ticks {} user {user} system {system}", user + system);
    }
}

/// User and system CPU time of this process so far, in clock ticks (Linux).
fn cpu_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the parenthesised command name; utime and stime are the 14th and 15th
    // fields of the whole line.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime, stime))
}
