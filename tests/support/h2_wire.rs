// A scripted HTTP/2 peer speaking raw frames over a Unix socket, for tests that must see (and
// choose) every frame on the wire. Frames are encoded and decoded here; header blocks are sent
// as HPACK literals without indexing and decoded with `fluke-hpack` (which handles Huffman
// strings and the dynamic table `h2` uses). Included by tests with `#[path]`.
#![allow(dead_code)]

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

pub const DATA: u8 = 0;
pub const HEADERS: u8 = 1;
pub const PRIORITY: u8 = 2;
pub const RST_STREAM: u8 = 3;
pub const SETTINGS: u8 = 4;
pub const PUSH_PROMISE: u8 = 5;
pub const PING: u8 = 6;
pub const GOAWAY: u8 = 7;
pub const WINDOW_UPDATE: u8 = 8;
pub const CONTINUATION: u8 = 9;

pub const END_STREAM: u8 = 0x1;
pub const ACK: u8 = 0x1;
pub const END_HEADERS: u8 = 0x4;
pub const PADDED: u8 = 0x8;
pub const PRIORITY_FLAG: u8 = 0x20;

pub const HEADER_TABLE_SIZE: u16 = 1;
pub const ENABLE_PUSH: u16 = 2;
pub const MAX_CONCURRENT_STREAMS: u16 = 3;
pub const INITIAL_WINDOW_SIZE: u16 = 4;
pub const MAX_FRAME_SIZE: u16 = 5;
pub const MAX_HEADER_LIST_SIZE: u16 = 6;
pub const ENABLE_CONNECT_PROTOCOL: u16 = 8;

/// One frame's bytes: the 9-byte header, then `payload`.
pub fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut out = Vec::with_capacity(9 + payload.len());
    out.extend_from_slice(&len.to_be_bytes()[1..]);
    out.push(kind);
    out.push(flags);
    out.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// An HPACK integer with an `prefix`-bit prefix, the first byte's other bits set to `high`.
fn hpack_integer(out: &mut Vec<u8>, value: usize, prefix: u8, high: u8) {
    let max = (1usize << prefix) - 1;
    if value < max {
        out.push(high | value as u8);
        return;
    }
    out.push(high | max as u8);
    let mut rest = value - max;
    while rest >= 128 {
        out.push((rest % 128) as u8 | 0x80);
        rest /= 128;
    }
    out.push(rest as u8);
}

/// A header block of literal fields without indexing (RFC 7541 §6.2.2), raw strings.
pub fn header_block(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in fields {
        out.push(0x00);
        hpack_integer(&mut out, name.len(), 7, 0);
        out.extend_from_slice(name.as_bytes());
        hpack_integer(&mut out, value.len(), 7, 0);
        out.extend_from_slice(value.as_bytes());
    }
    out
}

pub fn settings(params: &[(u16, u32)]) -> Vec<u8> {
    let mut payload = Vec::new();
    for (id, value) in params {
        payload.extend_from_slice(&id.to_be_bytes());
        payload.extend_from_slice(&value.to_be_bytes());
    }
    frame(SETTINGS, 0, 0, &payload)
}

pub fn settings_ack() -> Vec<u8> {
    frame(SETTINGS, ACK, 0, &[])
}

pub fn headers(stream: u32, end_stream: bool, fields: &[(&str, &str)]) -> Vec<u8> {
    let flags = END_HEADERS | if end_stream { END_STREAM } else { 0 };
    frame(HEADERS, flags, stream, &header_block(fields))
}

pub fn data(stream: u32, end_stream: bool, bytes: &[u8]) -> Vec<u8> {
    frame(DATA, if end_stream { END_STREAM } else { 0 }, stream, bytes)
}

pub fn rst_stream(stream: u32, code: u32) -> Vec<u8> {
    frame(RST_STREAM, 0, stream, &code.to_be_bytes())
}

pub fn ping(ack: bool, payload: [u8; 8]) -> Vec<u8> {
    frame(PING, if ack { ACK } else { 0 }, 0, &payload)
}

pub fn goaway(last_stream: u32, code: u32) -> Vec<u8> {
    let mut payload = last_stream.to_be_bytes().to_vec();
    payload.extend_from_slice(&code.to_be_bytes());
    frame(GOAWAY, 0, 0, &payload)
}

pub fn window_update(stream: u32, increment: u32) -> Vec<u8> {
    frame(WINDOW_UPDATE, 0, stream, &increment.to_be_bytes())
}

/// A frame as received, header blocks decoded (CONTINUATION frames folded into their HEADERS).
#[derive(Clone, Debug, PartialEq)]
pub enum Frame {
    Data {
        stream: u32,
        end_stream: bool,
        bytes: Vec<u8>,
    },
    Headers {
        stream: u32,
        end_stream: bool,
        fields: Vec<(String, String)>,
    },
    Priority {
        stream: u32,
    },
    Reset {
        stream: u32,
        code: u32,
    },
    Settings {
        ack: bool,
        params: Vec<(u16, u32)>,
    },
    PushPromise {
        stream: u32,
    },
    Ping {
        ack: bool,
        payload: [u8; 8],
    },
    GoAway {
        last_stream: u32,
        code: u32,
    },
    WindowUpdate {
        stream: u32,
        increment: u32,
    },
    Unknown {
        kind: u8,
        stream: u32,
    },
    /// The peer's bytes could not be decoded (a bad frame or header block).
    Garbled(String),
}

impl Frame {
    pub fn stream(&self) -> u32 {
        match self {
            Frame::Data { stream, .. }
            | Frame::Headers { stream, .. }
            | Frame::Priority { stream }
            | Frame::Reset { stream, .. }
            | Frame::PushPromise { stream }
            | Frame::WindowUpdate { stream, .. }
            | Frame::Unknown { stream, .. } => *stream,
            _ => 0,
        }
    }

    /// Ends `stream` (END_STREAM from this side, or a reset).
    pub fn ends(&self, id: u32) -> bool {
        match self {
            Frame::Data {
                stream, end_stream, ..
            }
            | Frame::Headers {
                stream, end_stream, ..
            } => *stream == id && *end_stream,
            Frame::Reset { stream, .. } => *stream == id,
            _ => false,
        }
    }
}

/// How reading from the peer ended.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Ending {
    /// The other side closed (EOF or a reset connection).
    Closed,
    /// Nothing arrived within the wait.
    Silent,
}

/// One end of a connection, with a log of every frame the other end sent.
pub struct Peer {
    io: UnixStream,
    buf: Vec<u8>,
    hpack: fluke_hpack::Decoder<'static>,
    /// A HEADERS frame waiting for its CONTINUATION frames: stream, END_STREAM, block so far.
    partial: Option<(u32, bool, Vec<u8>)>,
    /// Everything received, in order.
    pub log: Vec<Frame>,
    /// How long a wait for a frame may take before the peer counts the other side as silent.
    pub patience: Duration,
    pub closed: bool,
    /// Streams whose request `until_request` returned.
    taken: Vec<u32>,
}

impl Peer {
    pub fn new(io: UnixStream) -> Peer {
        Peer {
            io,
            buf: Vec::new(),
            hpack: fluke_hpack::Decoder::new(),
            partial: None,
            log: Vec::new(),
            patience: Duration::from_secs(3),
            closed: false,
            taken: Vec::new(),
        }
    }

    /// Writes bytes; a peer that went away is noted, not an error.
    pub async fn send(&mut self, bytes: &[u8]) {
        if self.io.write_all(bytes).await.is_err() {
            self.closed = true;
        }
    }

    pub async fn shutdown_write(&mut self) {
        self.io.shutdown().await.ok();
    }

    /// Decodes one whole frame from the buffer, if there is one.
    fn decode(&mut self) -> Option<Option<Frame>> {
        if self.buf.len() < 9 {
            return None;
        }
        let len = u32::from_be_bytes([0, self.buf[0], self.buf[1], self.buf[2]]) as usize;
        if self.buf.len() < 9 + len {
            return None;
        }
        let kind = self.buf[3];
        let flags = self.buf[4];
        let stream =
            u32::from_be_bytes([self.buf[5], self.buf[6], self.buf[7], self.buf[8]]) & 0x7fff_ffff;
        let payload: Vec<u8> = self.buf[9..9 + len].to_vec();
        self.buf.drain(..9 + len);
        let word = |at: usize| {
            payload
                .get(at..at + 4)
                .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
                .unwrap_or(u32::MAX)
        };
        let unpadded = |payload: &[u8], extra: usize| -> Vec<u8> {
            if flags & PADDED != 0 {
                let pad = payload.first().copied().unwrap_or(0) as usize;
                payload
                    .get(1 + extra..payload.len().saturating_sub(pad))
                    .unwrap_or_default()
                    .to_vec()
            } else {
                payload.get(extra..).unwrap_or_default().to_vec()
            }
        };
        let decoded = match kind {
            DATA => Frame::Data {
                stream,
                end_stream: flags & END_STREAM != 0,
                bytes: unpadded(&payload, 0),
            },
            HEADERS => {
                let skip = if flags & PRIORITY_FLAG != 0 { 5 } else { 0 };
                let block = unpadded(&payload, skip);
                let end_stream = flags & END_STREAM != 0;
                if flags & END_HEADERS == 0 {
                    self.partial = Some((stream, end_stream, block));
                    return Some(None);
                }
                self.header_frame(stream, end_stream, &block)
            }
            CONTINUATION => {
                let Some((id, end_stream, mut block)) = self.partial.take() else {
                    return Some(Some(Frame::Garbled("CONTINUATION without HEADERS".into())));
                };
                block.extend_from_slice(&payload);
                if flags & END_HEADERS == 0 {
                    self.partial = Some((id, end_stream, block));
                    return Some(None);
                }
                self.header_frame(id, end_stream, &block)
            }
            PRIORITY => Frame::Priority { stream },
            RST_STREAM => Frame::Reset {
                stream,
                code: word(0),
            },
            SETTINGS => Frame::Settings {
                ack: flags & ACK != 0,
                params: payload
                    .chunks(6)
                    .filter(|c| c.len() == 6)
                    .map(|c| {
                        (
                            u16::from_be_bytes([c[0], c[1]]),
                            u32::from_be_bytes([c[2], c[3], c[4], c[5]]),
                        )
                    })
                    .collect(),
            },
            PUSH_PROMISE => Frame::PushPromise { stream },
            PING => Frame::Ping {
                ack: flags & ACK != 0,
                payload: payload.get(..8).map_or([0; 8], |p| p.try_into().unwrap()),
            },
            GOAWAY => Frame::GoAway {
                last_stream: word(0) & 0x7fff_ffff,
                code: word(4),
            },
            WINDOW_UPDATE => Frame::WindowUpdate {
                stream,
                increment: word(0) & 0x7fff_ffff,
            },
            kind => Frame::Unknown { kind, stream },
        };
        Some(Some(decoded))
    }

    fn header_frame(&mut self, stream: u32, end_stream: bool, block: &[u8]) -> Frame {
        match self.hpack.decode(block) {
            Ok(fields) => Frame::Headers {
                stream,
                end_stream,
                fields: fields
                    .into_iter()
                    .map(|(n, v)| {
                        (
                            String::from_utf8_lossy(&n).into_owned(),
                            String::from_utf8_lossy(&v).into_owned(),
                        )
                    })
                    .collect(),
            },
            Err(e) => Frame::Garbled(format!("HPACK: {e:?}")),
        }
    }

    /// The next frame, logged; `Err` if the other side closed or stayed silent for `wait`.
    pub async fn next_within(&mut self, wait: Duration) -> Result<Frame, Ending> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match self.decode() {
                Some(Some(frame)) => {
                    self.log.push(frame.clone());
                    return Ok(frame);
                }
                Some(None) => continue,
                None => {}
            }
            if self.closed {
                return Err(Ending::Closed);
            }
            let mut chunk = [0u8; 16384];
            match tokio::time::timeout_at(deadline, self.io.read(&mut chunk)).await {
                Err(_) => return Err(Ending::Silent),
                Ok(Ok(0)) | Ok(Err(_)) => {
                    self.closed = true;
                    return Err(Ending::Closed);
                }
                Ok(Ok(n)) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    pub async fn next(&mut self) -> Result<Frame, Ending> {
        self.next_within(self.patience).await
    }

    /// Reads until a frame satisfies `wanted` (returned), or the other side closes or goes
    /// silent.
    pub async fn until(&mut self, mut wanted: impl FnMut(&Frame) -> bool) -> Option<Frame> {
        loop {
            match self.next().await {
                Ok(frame) if wanted(&frame) => return Some(frame),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    }

    /// Reads until `stream` ends (END_STREAM or a reset), unless it already did.
    pub async fn until_end(&mut self, stream: u32) {
        if !self.log.iter().any(|f| f.ends(stream)) {
            self.until(|f| f.ends(stream)).await;
        }
    }

    /// Reads everything that arrives for `wait`.
    pub async fn quiet(&mut self, wait: Duration) {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() || self.next_within(left).await.is_err() {
                return;
            }
        }
    }

    /// Reads until the other side closes the connection (or goes silent).
    pub async fn until_closed(&mut self) -> Ending {
        loop {
            if let Err(ending) = self.next().await {
                return ending;
            }
        }
    }

    /// As a client: sends the preface and `params`, acknowledges the server's SETTINGS.
    pub async fn client_handshake(&mut self, params: &[(u16, u32)]) {
        let mut hello = PREFACE.to_vec();
        hello.extend_from_slice(&settings(params));
        self.send(&hello).await;
        self.until(|f| matches!(f, Frame::Settings { ack: false, .. }))
            .await;
        self.send(&settings_ack()).await;
    }

    /// As a server: reads the client's preface, sends `params`, acknowledges the client's
    /// SETTINGS.
    pub async fn server_handshake(&mut self, params: &[(u16, u32)]) {
        let mut preface = vec![0u8; PREFACE.len()];
        let read = tokio::time::timeout(self.patience, self.io.read_exact(&mut preface)).await;
        if !matches!(read, Ok(Ok(_))) || preface != PREFACE {
            self.log.push(Frame::Garbled("no client preface".into()));
            self.closed = true;
            return;
        }
        self.send(&settings(params)).await;
        self.until(|f| matches!(f, Frame::Settings { ack: false, .. }))
            .await;
        self.send(&settings_ack()).await;
    }

    /// The next request (the first HEADERS of a stream) not yet taken, waiting for one if
    /// every request received so far was taken; its stream id.
    pub async fn until_request(&mut self) -> Option<u32> {
        loop {
            let mut opened: Vec<u32> = Vec::new();
            for frame in &self.log {
                if let Frame::Headers { stream, .. } = frame {
                    if !opened.contains(stream) {
                        opened.push(*stream);
                    }
                }
            }
            if let Some(id) = opened.into_iter().find(|id| !self.taken.contains(id)) {
                self.taken.push(id);
                return Some(id);
            }
            self.next().await.ok()?;
        }
    }
}
