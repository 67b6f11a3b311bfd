//! The connection's output buffer: every byte the connection has encoded and still owes the
//! transport.
//!
//! There is exactly one of these per connection and nothing reaches the transport except
//! through it, so [`OutBuf::owed`] is the single answer to "is everything that was encoded
//! written?". Whether bytes are copied into one flat region (`writev(false)`) or queued as the
//! application's own buffers and written with vectored IO (`writev(true)`) is a representation
//! detail behind `owed / write_to`: both keep the bytes in encoding order.
use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::buf::Take;
use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::buffer_pool;
use crate::rt::Write;

/// Queued buffers beyond which encoding waits for a write, like the byte limit.
const MAX_QUEUED_SEGMENTS: usize = 16;
/// Slices handed to one vectored write.
const MAX_IOVECS: usize = 64;
/// Data chunks up to this size are copied even in queue mode: one more memcpy is cheaper than
/// one more iovec, and it lets small pipelined responses leave in a single write.
const COPY_BELOW: usize = 1024;

/// How body data enters the buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WriteMode {
    /// Copy everything into one contiguous region; one `poll_write` per attempt.
    Flatten,
    /// Keep large application buffers as they are and write with `poll_write_vectored`.
    Queue,
}

/// The bytes a connection encoded and still owes its transport, in encoding order.
///
/// Owns: heads and chunk framing (copied into `staging`) and body data (copied, or queued as
/// the application's buffers in [`WriteMode::Queue`]). Guarantees: `owed` is exactly the sum
/// of what is held; a write removes only what the IO reported accepted, and an IO reporting
/// more than it was offered is an error rather than a lost count.
pub(crate) struct OutBuf<B> {
    /// Bytes already ordered before `staging`, oldest first.
    segments: VecDeque<Segment<B>>,
    /// Flat bytes that follow every segment; encoders append here.
    staging: BytesMut,
    owed: usize,
    mode: WriteMode,
    /// Encoding pauses (waits for writes) once this many bytes are owed.
    soft_limit: usize,
}

enum Segment<B> {
    Flat(Bytes),
    Data(Take<B>),
}

impl<B: Buf> Segment<B> {
    fn remaining(&self) -> usize {
        match self {
            Segment::Flat(b) => b.len(),
            Segment::Data(b) => b.remaining(),
        }
    }

    fn chunks_vectored<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        match self {
            Segment::Flat(b) => b.chunks_vectored(dst),
            Segment::Data(b) => b.chunks_vectored(dst),
        }
    }

    fn advance(&mut self, n: usize) {
        match self {
            Segment::Flat(b) => b.advance(n),
            Segment::Data(b) => b.advance(n),
        }
    }
}

impl<B: Buf> OutBuf<B> {
    pub(crate) fn new(mode: WriteMode, soft_limit: usize) -> Self {
        OutBuf {
            segments: VecDeque::new(),
            staging: BytesMut::new(),
            owed: 0,
            mode,
            soft_limit,
        }
    }

    /// Bytes encoded but not yet accepted by the transport.
    pub(crate) fn owed(&self) -> usize {
        self.owed
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.owed == 0
    }

    #[allow(dead_code)] // the client role and tests read it
    pub(crate) fn mode(&self) -> WriteMode {
        self.mode
    }

    /// Whether encoders may add more before the transport takes some.
    pub(crate) fn has_room(&self) -> bool {
        self.owed < self.soft_limit && self.segments.len() < MAX_QUEUED_SEGMENTS
    }

    /// Appends flat bytes (heads, chunk framing) through `encode`; the closure may append any
    /// amount. Returns what `encode` returned. On `Err` nothing it appended is kept.
    pub(crate) fn encode_flat<T, E>(
        &mut self,
        encode: impl FnOnce(&mut BytesMut) -> Result<T, E>,
    ) -> Result<T, E> {
        self.take_staging();
        let before = self.staging.len();
        let result = encode(&mut self.staging);
        match result {
            Ok(_) => self.owed += self.staging.len() - before,
            Err(_) => self.staging.truncate(before),
        }
        result
    }

    pub(crate) fn push_static(&mut self, bytes: &'static [u8]) {
        self.take_staging();
        self.staging.extend_from_slice(bytes);
        self.owed += bytes.len();
    }

    /// Appends the first `limit` bytes of `data` (all of them if it holds fewer).
    pub(crate) fn push_data(&mut self, data: B, limit: usize) {
        let mut data = data.take(limit);
        let n = data.remaining();
        if n == 0 {
            return;
        }
        self.owed += n;
        if self.mode == WriteMode::Flatten || n < COPY_BELOW {
            self.take_staging();
            let first = data.chunk();
            if first.len() == n {
                // One contiguous chunk (a `Bytes`, say): nothing to walk.
                self.staging.extend_from_slice(first);
                return;
            }
            self.staging.reserve(n);
            while data.has_remaining() {
                let chunk = data.chunk();
                let len = chunk.len();
                self.staging.put_slice(chunk);
                data.advance(len);
            }
        } else {
            if !self.staging.is_empty() {
                let flat = self.staging.split().freeze();
                self.segments.push_back(Segment::Flat(flat));
            }
            self.segments.push_back(Segment::Data(data));
        }
    }

    /// The staging buffer was given back while idle: take one again before appending.
    #[inline]
    fn take_staging(&mut self) {
        if self.staging.capacity() == 0 {
            self.staging = buffer_pool::take();
        }
    }

    /// Gives the staging buffer back to the pool if nothing is owed (see
    /// [`buffer_pool`]).
    pub(crate) fn release_staging(&mut self) {
        if self.owed == 0 && self.segments.is_empty() {
            self.staging.clear();
            buffer_pool::give_back(&mut self.staging);
        }
    }

    #[cfg(test)]
    pub(crate) fn holds_buffer(&self) -> bool {
        self.staging.capacity() > 0
    }

    /// Writes owed bytes until none are left (`Ready(Ok)`) or the transport is not ready
    /// (`Pending`, with the task registered for writability). Bytes accepted before a
    /// `Pending` are gone from the buffer; compare [`owed`](Self::owed) to see progress.
    pub(crate) fn poll_write_to<I: Write + Unpin>(
        &mut self,
        io: &mut I,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        while self.owed > 0 {
            if self.segments.is_empty() {
                // Only flat bytes: the one-slice case below, without gathering slices.
                let n = match Pin::new(&mut *io).poll_write(cx, &self.staging) {
                    Poll::Ready(r) => accepted(r?, self.staging.len())?,
                    Poll::Pending => return Poll::Pending,
                };
                if n == self.owed {
                    // Everything went (the usual case): with no segments, the staging bytes
                    // are all that was owed.
                    self.owed = 0;
                    self.staging.clear();
                    break;
                }
                self.consume(n);
                continue;
            }
            let mut slices = [IoSlice::new(&[]); MAX_IOVECS];
            let mut used = 0;
            for seg in &self.segments {
                if used == MAX_IOVECS {
                    break;
                }
                used += seg.chunks_vectored(&mut slices[used..]);
            }
            if used < MAX_IOVECS && !self.staging.is_empty() {
                slices[used] = IoSlice::new(&self.staging);
                used += 1;
            }
            // A single contiguous piece (all of flatten mode, and the tail of a large body in
            // queue mode) goes through `poll_write`. Same bytes, but transports may treat the
            // two differently: tokio's sockets take a short `poll_write` as proof that the
            // socket buffer is full and wait for the next readiness event, while after a
            // short vectored write they try again and pay a syscall that fails with
            // `WouldBlock`. Over a Unix socket pair that was one wasted syscall per ~200 KB
            // and about 3% of a 4 MiB response's time.
            let written = if used == 1 {
                Pin::new(&mut *io).poll_write(cx, &slices[0])
            } else {
                Pin::new(&mut *io).poll_write_vectored(cx, &slices[..used])
            };
            let n = match written {
                Poll::Ready(r) => {
                    let offered = slices[..used].iter().map(|s| s.len()).sum();
                    accepted(r?, offered)?
                }
                Poll::Pending => return Poll::Pending,
            };
            self.consume(n);
        }
        Poll::Ready(Ok(()))
    }

    /// Drops the first `n` owed bytes; `n` never exceeds what was offered, so never `owed`.
    fn consume(&mut self, mut n: usize) {
        self.owed -= n;
        while n > 0 {
            match self.segments.front_mut() {
                Some(seg) => {
                    let here = seg.remaining();
                    if n >= here {
                        n -= here;
                        self.segments.pop_front();
                    } else {
                        seg.advance(n);
                        n = 0;
                    }
                }
                None => {
                    if n == self.staging.len() {
                        // All of it went: emptying keeps the whole allocation in front of
                        // the next bytes, where advancing would first move the start past
                        // the written ones.
                        self.staging.clear();
                    } else {
                        self.staging.advance(n);
                    }
                    n = 0;
                }
            }
        }
        if self.owed == 0 {
            // Lets `reserve` reuse the allocation instead of growing past written bytes.
            self.staging.clear();
        }
    }
}

/// Checks a transport's answer to a write of `offered` bytes. Zero bytes while output is owed
/// would loop forever; more than was offered means the transport is broken and which bytes
/// reached the peer is unknown, so the connection cannot go on as if some were written.
#[inline]
fn accepted(n: usize, offered: usize) -> io::Result<usize> {
    if n == 0 {
        return Err(io::Error::new(
            io::ErrorKind::WriteZero,
            "transport accepted no bytes while output was owed",
        ));
    }
    if n > offered {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "transport reported more bytes written than it was offered",
        ));
    }
    Ok(n)
}

impl<B> std::fmt::Debug for OutBuf<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutBuf")
            .field("owed", &self.owed)
            .field("segments", &self.segments.len())
            .field("mode", &self.mode)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rt::{Read, ReadBufCursor};
    use std::task::Waker;

    /// Accepts at most `per_call` bytes per write, optionally refusing every other call.
    struct Trickle {
        got: Vec<u8>,
        per_call: usize,
        refuse_next: bool,
        alternate: bool,
        vectored: bool,
        /// Slice counts of the vectored calls, in order.
        vectored_calls: Vec<usize>,
    }

    impl Read for Trickle {
        fn poll_read(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: ReadBufCursor<'_>,
        ) -> Poll<io::Result<()>> {
            Poll::Pending
        }
    }

    impl Write for Trickle {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            if self.refuse_next {
                self.refuse_next = false;
                return Poll::Pending;
            }
            self.refuse_next = self.alternate;
            let n = buf.len().min(self.per_call);
            self.got.extend_from_slice(&buf[..n]);
            Poll::Ready(Ok(n))
        }
        fn poll_write_vectored(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            self.vectored_calls.push(bufs.len());
            let flat: Vec<u8> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
            self.as_mut().poll_write(cx, &flat)
        }
        fn is_write_vectored(&self) -> bool {
            self.vectored
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    fn fill(out: &mut OutBuf<Bytes>, expected: &mut Vec<u8>, round: usize) {
        out.encode_flat(|b| -> Result<(), ()> {
            b.extend_from_slice(format!("HEAD{round}\r\n").as_bytes());
            Ok(())
        })
        .unwrap();
        expected.extend_from_slice(format!("HEAD{round}\r\n").as_bytes());
        let big = Bytes::from(vec![b'a' + (round % 26) as u8; 3000 + round]);
        out.push_data(big.clone(), 2500);
        expected.extend_from_slice(&big[..2500]);
        out.push_static(b"\r\n");
        expected.extend_from_slice(b"\r\n");
        let small = Bytes::from(format!("small{round}"));
        out.push_data(small.clone(), usize::MAX);
        expected.extend_from_slice(&small);
    }

    #[test]
    fn bytes_leave_in_encoding_order_for_every_write_size_and_mode() {
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        for mode in [WriteMode::Flatten, WriteMode::Queue] {
            for per_call in [1, 2, 7, 100, 4096, usize::MAX] {
                let mut out = OutBuf::new(mode, 1 << 20);
                let mut io = Trickle {
                    got: Vec::new(),
                    per_call,
                    refuse_next: false,
                    alternate: true,
                    vectored: true,
                    vectored_calls: Vec::new(),
                };
                let mut expected = Vec::new();
                for round in 0..5 {
                    fill(&mut out, &mut expected, round);
                    assert_eq!(out.owed(), expected.len() - io.got.len());
                    // Interleave partial writes with further encoding.
                    if let Poll::Ready(r) = out.poll_write_to(&mut io, &mut cx) {
                        r.unwrap();
                    }
                }
                let mut spins = 0;
                while out.poll_write_to(&mut io, &mut cx).is_pending() {
                    spins += 1;
                    assert!(spins < 1_000_000);
                }
                assert!(out.is_empty());
                assert_eq!(io.got, expected, "mode {mode:?} per_call {per_call}");
            }
        }
    }

    #[test]
    fn a_rejected_encoding_leaves_nothing_behind() {
        let mut out = OutBuf::<Bytes>::new(WriteMode::Queue, 1 << 20);
        out.push_static(b"kept");
        let r = out.encode_flat(|b| -> Result<(), &str> {
            b.extend_from_slice(b"half a head");
            Err("bad header")
        });
        assert!(r.is_err());
        assert_eq!(out.owed(), 4);
    }

    #[test]
    fn zero_byte_writes_are_an_error_not_a_hang() {
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        let mut out = OutBuf::<Bytes>::new(WriteMode::Flatten, 1 << 20);
        out.push_static(b"x");
        let mut io = Trickle {
            got: Vec::new(),
            per_call: 0,
            refuse_next: false,
            alternate: false,
            vectored: false,
            vectored_calls: Vec::new(),
        };
        match out.poll_write_to(&mut io, &mut cx) {
            Poll::Ready(Err(e)) => assert_eq!(e.kind(), io::ErrorKind::WriteZero),
            other => panic!("{other:?}"),
        }
        assert_eq!(out.owed(), 1, "nothing was accepted, so it is still owed");
    }

    #[test]
    fn a_transport_claiming_more_than_it_was_offered_is_an_error_in_every_mode() {
        /// Says it wrote one byte more than it was given.
        struct Overclaims;
        impl Write for Overclaims {
            fn poll_write(
                self: Pin<&mut Self>,
                _: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                Poll::Ready(Ok(buf.len() + 1))
            }
            fn poll_write_vectored(
                self: Pin<&mut Self>,
                _: &mut Context<'_>,
                bufs: &[IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                Poll::Ready(Ok(bufs.iter().map(|b| b.len()).sum::<usize>() + 1))
            }
            fn is_write_vectored(&self) -> bool {
                true
            }
            fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }
            fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }
        }
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        for mode in [WriteMode::Flatten, WriteMode::Queue] {
            let mut out = OutBuf::<Bytes>::new(mode, 1 << 20);
            out.push_static(b"HTTP/1.1 200 OK\r\n\r\n");
            out.push_data(Bytes::from(vec![b'x'; 10_000]), usize::MAX);
            let owed = out.owed();
            match out.poll_write_to(&mut Overclaims, &mut cx) {
                Poll::Ready(Err(e)) => assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{mode:?}"),
                other => panic!("{mode:?}: {other:?}"),
            }
            assert_eq!(out.owed(), owed, "{mode:?}: nothing counts as written");
        }
    }

    #[test]
    fn room_is_bounded_by_bytes_and_by_queued_segments() {
        let mut out = OutBuf::<Bytes>::new(WriteMode::Queue, 10_000);
        assert!(out.has_room());
        out.push_data(Bytes::from(vec![0; 10_000]), usize::MAX);
        assert!(!out.has_room());
        let mut out = OutBuf::<Bytes>::new(WriteMode::Queue, usize::MAX);
        for _ in 0..MAX_QUEUED_SEGMENTS {
            out.push_data(Bytes::from(vec![0; COPY_BELOW]), usize::MAX);
        }
        assert!(!out.has_room());
    }

    #[test]
    fn a_lone_remaining_slice_is_written_with_poll_write() {
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        let mut out = OutBuf::<Bytes>::new(WriteMode::Queue, usize::MAX);
        out.push_static(b"HTTP/1.1 200 OK\r\n\r\n");
        out.push_data(Bytes::from(vec![b'x'; 100_000]), usize::MAX);
        let mut io = Trickle {
            got: Vec::new(),
            per_call: 30_000,
            refuse_next: false,
            alternate: false,
            vectored: true,
            vectored_calls: Vec::new(),
        };
        assert!(out.poll_write_to(&mut io, &mut cx).is_ready());
        assert!(out.is_empty());
        assert_eq!(io.got.len(), 19 + 100_000);
        // Head and body go out together once; every later write has only the body's tail,
        // which tokio's sockets handle best through `poll_write` (see `poll_write_to`).
        assert_eq!(io.vectored_calls, [2]);
    }
}
