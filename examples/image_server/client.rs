//! A blocking HTTP/1 client for the image server that reads the response at a chosen pace and
//! reports what arrived. Used by `examples/image_client.rs` and `tests/image_server.rs`.
//!
//! It speaks HTTP on a plain socket so that its pace is exactly what it claims: with `slow`
//! it reads at most 16 KiB, then sleeps 0.3 ms, like the client of the original report.
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

pub const SLOW_READ: usize = 16 * 1024;
pub const SLOW_PAUSE: Duration = Duration::from_micros(300);

#[derive(Clone, Debug)]
pub enum Target {
    Tcp(String),
    Unix(PathBuf),
}

#[derive(Clone, Debug)]
pub struct Request {
    pub method: &'static str,
    pub path: String,
    pub body: Vec<u8>,
    /// Send `Connection: close`.
    pub close: bool,
    /// Read 16 KiB every 0.3 ms instead of as fast as possible.
    pub slow: bool,
}

#[derive(Debug)]
pub struct Outcome {
    pub status: u16,
    pub head: String,
    pub content_length: Option<usize>,
    pub body: Vec<u8>,
}

impl Outcome {
    /// The value of the first header called `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    /// Whether every byte the response announced arrived.
    pub fn complete(&self) -> bool {
        self.content_length == Some(self.body.len())
    }
}

trait Stream: Read + Write + Send {
    fn try_clone_box(&self) -> io::Result<Box<dyn Stream>>;
}

impl Stream for TcpStream {
    fn try_clone_box(&self) -> io::Result<Box<dyn Stream>> {
        Ok(Box::new(self.try_clone()?))
    }
}

impl Stream for UnixStream {
    fn try_clone_box(&self) -> io::Result<Box<dyn Stream>> {
        Ok(Box::new(self.try_clone()?))
    }
}

fn connect(target: &Target) -> io::Result<Box<dyn Stream>> {
    Ok(match target {
        Target::Tcp(addr) => {
            let s = TcpStream::connect(addr)?;
            s.set_read_timeout(Some(Duration::from_secs(60)))?;
            Box::new(s)
        }
        Target::Unix(path) => {
            let s = UnixStream::connect(path)?;
            s.set_read_timeout(Some(Duration::from_secs(60)))?;
            Box::new(s)
        }
    })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Sends `req` and reads one response (until its `Content-Length` is complete, or EOF).
///
/// The body is written from a second thread while the response is read, so an early answer
/// (a 413 before the upload is done) is seen even if the server stops reading.
pub fn fetch(target: &Target, req: &Request) -> io::Result<Outcome> {
    let mut sock = connect(target)?;
    let mut head = format!(
        "{} {} HTTP/1.1\r\nhost: image-server\r\ncontent-length: {}\r\n",
        req.method,
        req.path,
        req.body.len()
    );
    if req.close {
        head.push_str("connection: close\r\n");
    }
    head.push_str("\r\n");
    sock.write_all(head.as_bytes())?;
    let mut writer = sock.try_clone_box()?;
    let body = req.body.clone();
    let upload = std::thread::spawn(move || {
        // A server that answered early may stop reading and close: not an error here.
        writer.write_all(&body).ok();
    });

    let mut got = Vec::new();
    let mut buf = vec![0u8; if req.slow { SLOW_READ } else { 256 * 1024 }];
    let mut parsed: Option<(usize, u16, Option<usize>)> = None;
    loop {
        let n = match sock.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset && parsed.is_some() => 0,
            Err(e) => return Err(e),
        };
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
        if parsed.is_none() {
            if let Some(end) = find(&got, b"\r\n\r\n") {
                let text = String::from_utf8_lossy(&got[..end]).to_string();
                let status = text
                    .split(' ')
                    .nth(1)
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                let length = text.lines().find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().ok())?
                });
                parsed = Some((end + 4, status, length));
            }
        }
        if let Some((start, _, Some(len))) = parsed {
            if got.len() >= start + len {
                break;
            }
        }
        if req.slow {
            std::thread::sleep(SLOW_PAUSE);
        }
    }
    drop(sock);
    upload.join().ok();
    let (start, status, content_length) =
        parsed.ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "no response head"))?;
    Ok(Outcome {
        status,
        head: String::from_utf8_lossy(&got[..start]).to_string(),
        content_length,
        body: got[start..].to_vec(),
    })
}
