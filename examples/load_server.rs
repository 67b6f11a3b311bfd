//! The server of the load benchmark (`benches/load.sh`), and the small clients it needs.
//!
//! ```sh
//! cargo build --release --features full --example load_server
//! load_server serve --side fork|upstream|canned --port 8080 [--h2-port 8081]
//! load_server idle --port 8080 --conns 2000      # opens idle keep-alive connections
//! load_server drive --port 8080 --requests 20000 [--conns 32] [--depth 16] [--path /]
//! ```
//!
//! `serve` runs the app of `load_server/app.rs` on one current-thread tokio runtime (the
//! benchmark pins it to one core), HTTP/1 on `--port` and, if given, HTTP/2 with prior
//! knowledge on `--h2-port`. Port 0 lets the system choose. It prints `listening H1 H2`
//! (the ports; 0 for no HTTP/2) once both accept.
//!
//! `idle` opens `--conns` connections, sends one request on each and reads its answer, then
//! prints `idle N` and keeps them open without a word until its standard input closes: the
//! server then holds that many keep-alive connections waiting for their next request.
//!
//! `drive` sends exactly `--requests` requests over `--conns` connections, `--depth` at a time
//! per connection, and checks every answer's length: a fixed amount of work for instruction
//! counts under valgrind, where a timed load generator would measure valgrind's speed.
use std::io::{BufRead, Read, Write};
use std::net::TcpStream;

#[path = "load_server/app.rs"]
mod app;

fn flag<T: std::str::FromStr>(args: &[String], name: &str, default: Option<T>) -> T {
    match args.iter().position(|a| a == name) {
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} needs a value")),
        None => default.unwrap_or_else(|| panic!("{name} is required")),
    }
}

fn flag_opt<T: std::str::FromStr>(args: &[String], name: &str) -> Option<T> {
    args.iter().position(|a| a == name).map(|i| {
        args.get(i + 1)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} needs a value"))
    })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("serve") => serve(&args),
        Some("idle") => idle(&args),
        Some("drive") => drive(&args),
        _ => {
            eprintln!("usage: load_server serve|idle|drive ... (see the doc comment)");
            std::process::exit(2);
        }
    }
}

fn serve(args: &[String]) {
    let side: String = flag(args, "--side", None);
    let side = app::Side::parse(&side).expect("--side is fork, upstream or canned");
    let port: u16 = flag(args, "--port", None);
    let h2_port: Option<u16> = flag_opt(args, "--h2-port");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let h1 = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        let h2 = match h2_port {
            Some(port) => Some(
                tokio::net::TcpListener::bind(("127.0.0.1", port))
                    .await
                    .unwrap(),
            ),
            None => None,
        };
        let h1_port = h1.local_addr().unwrap().port();
        let h2_port = h2.as_ref().map_or(0, |l| l.local_addr().unwrap().port());
        println!("listening {h1_port} {h2_port}");
        if let Some(h2) = h2 {
            tokio::spawn(app::accept_loop(h2, side, true));
        }
        app::accept_loop(h1, side, false).await;
    });
}

fn request(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").into_bytes()
}

/// Reads one response whose body has a `content-length` (every route but `/chunked`),
/// leaving what follows in `pending`. Returns false at EOF.
fn read_response(stream: &mut TcpStream, pending: &mut Vec<u8>) -> bool {
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if let Some(head_end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&pending[..head_end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map(|v| v.trim().parse().expect("content-length"))
                .expect("the drive client reads only responses with a content-length");
            let total = head_end + 4 + length;
            while pending.len() < total {
                match stream.read(&mut chunk) {
                    Ok(0) | Err(_) => return false,
                    Ok(n) => pending.extend_from_slice(&chunk[..n]),
                }
            }
            pending.drain(..total);
            return true;
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return false,
            Ok(n) => pending.extend_from_slice(&chunk[..n]),
        }
    }
}

fn idle(args: &[String]) {
    let port: u16 = flag(args, "--port", None);
    let conns: usize = flag(args, "--conns", Some(2000));
    let req = request("/");
    let mut streams = Vec::with_capacity(conns);
    for _ in 0..conns {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream.write_all(&req).unwrap();
        let mut pending = Vec::new();
        assert!(read_response(&mut stream, &mut pending), "server closed");
        streams.push(stream);
    }
    println!("idle {}", streams.len());
    std::io::stdout().flush().unwrap();
    let mut line = String::new();
    while std::io::stdin()
        .lock()
        .read_line(&mut line)
        .is_ok_and(|n| n > 0)
    {
        line.clear();
    }
    drop(streams);
}

fn drive(args: &[String]) {
    let port: u16 = flag(args, "--port", None);
    let requests: usize = flag(args, "--requests", None);
    let conns: usize = flag(args, "--conns", Some(1));
    let depth: usize = flag(args, "--depth", Some(1));
    let path: String = flag(args, "--path", Some("/".to_string()));
    let per_conn = requests.div_ceil(conns);
    let threads: Vec<_> = (0..conns)
        .map(|_| {
            let path = path.clone();
            std::thread::spawn(move || {
                let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
                stream.set_nodelay(true).unwrap();
                let batch = request(&path).repeat(depth);
                let mut pending = Vec::new();
                let mut done = 0;
                while done < per_conn {
                    let n = depth.min(per_conn - done);
                    let bytes = if n == depth {
                        &batch[..]
                    } else {
                        &batch[..batch.len() / depth * n]
                    };
                    stream.write_all(bytes).unwrap();
                    for _ in 0..n {
                        assert!(read_response(&mut stream, &mut pending), "server closed");
                    }
                    done += n;
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    println!("drove {}", per_conn * conns);
}
