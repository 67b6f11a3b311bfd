//! What both reproducers share: the cases, the slow client and the report line.
//!
//! The client is a plain blocking thread on its end of the socket pair, so its pace (16 KiB
//! every 0.3 ms) does not depend on the async runtime under test.
#![allow(dead_code)]
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

pub const BODY_LEN: usize = 4 * 1024 * 1024;
pub const FRAMES: usize = 64;
pub const FRAME_LEN: usize = BODY_LEN / FRAMES;
/// The request body the service never reads.
pub const UNREAD_LEN: usize = 64 * 1024;
pub const READ_LEN: usize = 16 * 1024;
pub const READ_PAUSE: Duration = Duration::from_micros(300);
pub const RUNS: usize = 5;
pub const UPGRADED_GREETING: &[u8] = b"hello from the upgraded connection\n";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// One 4 MiB body with a Content-Length.
    Full,
    /// 64 frames of 64 KiB, chunked on the wire.
    Chunked,
    /// A `101 Switching Protocols`, then the upgraded connection writes a greeting.
    Upgrade,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// The connection future runs to completion and shuts the socket down.
    Shutdown,
    /// `without_shutdown()`, then the application closes the socket it got back.
    WithoutShutdown,
}

/// What the client sends before it starts reading (an upgrade request has its own).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ask {
    /// A POST with a 64 KiB body the service never reads.
    UnreadUpload,
    /// A GET with `connection: close`, then a second GET right behind it in the same write:
    /// the server answers the first, closes, and never reads the second, which stays in its
    /// read buffer (where `pipeline_flush` sees "more requests coming" and skips flushing).
    CloseThenPipelined,
}

#[derive(Clone, Copy, Debug)]
pub struct Case {
    pub shape: Shape,
    pub ask: Ask,
    pub ending: Ending,
    pub pipeline_flush: bool,
}

impl Case {
    pub fn name(&self) -> String {
        let mut name = match self.shape {
            Shape::Full => "full",
            Shape::Chunked => "chunked",
            Shape::Upgrade => "upgrade",
        }
        .to_string();
        if self.ask == Ask::CloseThenPipelined {
            name.push_str("+close_pipelined");
        }
        if self.ending == Ending::WithoutShutdown {
            name.push_str("+without_shutdown");
        }
        if self.pipeline_flush {
            name.push_str("+pipeline_flush");
        }
        name
    }

    fn expected(&self) -> usize {
        match self.shape {
            Shape::Upgrade => UPGRADED_GREETING.len(),
            _ => BODY_LEN,
        }
    }
}

pub fn cases() -> Vec<Case> {
    let mut all = Vec::new();
    for pipeline_flush in [false, true] {
        for shape in [Shape::Full, Shape::Chunked] {
            for ending in [Ending::Shutdown, Ending::WithoutShutdown] {
                all.push(Case {
                    shape,
                    ask: Ask::UnreadUpload,
                    ending,
                    pipeline_flush,
                });
            }
        }
        all.push(Case {
            shape: Shape::Upgrade,
            ask: Ask::UnreadUpload,
            ending: Ending::Shutdown,
            pipeline_flush,
        });
    }
    // Appended after the original cases so that their names and order stay as they were.
    for pipeline_flush in [false, true] {
        for shape in [Shape::Full, Shape::Chunked] {
            all.push(Case {
                shape,
                ask: Ask::CloseThenPipelined,
                ending: Ending::Shutdown,
                pipeline_flush,
            });
        }
    }
    match std::env::args().nth(1) {
        Some(only) => all.into_iter().filter(|c| c.name() == only).collect(),
        None => all,
    }
}

/// The byte at offset `i` of the response body: a pattern whose position can be checked.
pub fn pattern(start: usize, len: usize) -> Vec<u8> {
    (start..start + len).map(|i| (i % 251) as u8).collect()
}

/// Sends the request, reads the response slowly and returns how many bytes of the expected
/// payload arrived intact (the body, or for an upgrade the greeting after the `101`).
pub fn client(case: Case, mut sock: UnixStream) -> usize {
    sock.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let request: Vec<u8> = match case.shape {
        Shape::Upgrade => {
            b"GET / HTTP/1.1\r\nhost: repro\r\nconnection: upgrade\r\nupgrade: repro\r\n\r\nPING"
                .to_vec()
        }
        _ if case.ask == Ask::CloseThenPipelined => {
            b"GET /first HTTP/1.1\r\nhost: repro\r\nconnection: close\r\n\r\n\
              GET /second HTTP/1.1\r\nhost: repro\r\n\r\n"
                .to_vec()
        }
        _ => {
            let mut r = format!(
                "POST /upload HTTP/1.1\r\nhost: repro\r\ncontent-length: {UNREAD_LEN}\r\n\r\n"
            )
            .into_bytes();
            r.resize(r.len() + UNREAD_LEN, b'u');
            r
        }
    };
    if sock.write_all(&request).is_err() {
        return 0;
    }
    let mut got = Vec::new();
    let mut buf = vec![0u8; READ_LEN];
    loop {
        match sock.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
        if intact(case, &got) == case.expected() {
            break;
        }
        std::thread::sleep(READ_PAUSE);
    }
    intact(case, &got)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn intact(case: Case, got: &[u8]) -> usize {
    let Some(head_end) = find(got, b"\r\n\r\n").map(|i| i + 4) else {
        return 0;
    };
    let head = String::from_utf8_lossy(&got[..head_end]).to_ascii_lowercase();
    let rest = &got[head_end..];
    if case.shape == Shape::Upgrade {
        if !head.starts_with("http/1.1 101") {
            return 0;
        }
        return rest
            .iter()
            .zip(UPGRADED_GREETING)
            .take_while(|(a, b)| a == b)
            .count();
    }
    if !head.starts_with("http/1.1 200") {
        return 0;
    }
    let body: Vec<u8> = if head.contains("transfer-encoding: chunked") {
        dechunk(rest)
    } else {
        rest.to_vec()
    };
    let want = pattern(0, BODY_LEN);
    body.iter().zip(&want).take_while(|(a, b)| a == b).count()
}

/// Decodes as much of a chunked body as arrived.
fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(line_end) = find(data, b"\r\n") else {
            return out;
        };
        let size = std::str::from_utf8(&data[..line_end])
            .ok()
            .and_then(|s| usize::from_str_radix(s.trim(), 16).ok());
        let Some(size) = size else { return out };
        data = &data[line_end + 2..];
        let take = size.min(data.len());
        out.extend_from_slice(&data[..take]);
        if size == 0 || take < size {
            return out;
        }
        data = &data[take..];
        if data.len() < 2 {
            return out;
        }
        data = &data[2..];
    }
}

/// Runs every case `RUNS` times with `serve` as the server and prints the report lines.
pub fn run_all<F, Fut>(serve: F)
where
    F: Fn(Case, tokio::net::UnixStream) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    for case in cases() {
        let received: Vec<usize> = (0..RUNS)
            .map(|_| {
                let (server, client) = UnixStream::pair().expect("socket pair");
                server.set_nonblocking(true).expect("nonblocking");
                let reader = std::thread::spawn(move || self::client(case, client));
                rt.block_on(async {
                    let io = tokio::net::UnixStream::from_std(server).expect("tokio stream");
                    serve(case, io).await;
                    // Give a spawned upgrade task the time to finish.
                    tokio::time::sleep(Duration::from_millis(5)).await;
                });
                reader.join().expect("client thread")
            })
            .collect();
        report(case, &received);
    }
}

pub fn report(case: Case, received: &[usize]) {
    let expected = case.expected();
    let truncated = received.iter().filter(|&&n| n < expected).count();
    let min = received.iter().min().copied().unwrap_or(0);
    let max = received.iter().max().copied().unwrap_or(0);
    println!(
        "case {} truncated {}/{} received {}..{} of {}",
        case.name(),
        truncated,
        received.len(),
        min,
        max,
        expected
    );
}
