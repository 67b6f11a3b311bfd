//! The transport of an HTTP/1 connection together with its read and output buffers.
//!
//! # The close invariant
//!
//! This module owns the IO object, and it is the only code that writes to it (through the
//! output buffer, [`OutBuf`], which it lends the IO for each write), flushes it, shuts it down
//! or gives it away. The connection drivers decide that a connection ends; this module decides
//! when it may. A connection ends through [`Transport::poll_end`], which writes and flushes
//! everything owed before it shuts anything down, and gives the transport away through
//! [`Transport::release_after`], which releases it cleanly only after that drain (otherwise it
//! reports how many bytes were still owed). Shutdown and a clean release need a [`Drained`]
//! token that only the drain creates. So whatever path a connection takes to its end (a
//! finished exchange, `Connection: close`, a graceful shutdown, an error after a response was
//! started, an upgrade), it cannot shut the transport down, complete, or hand the transport
//! back while bytes it encoded are unwritten.
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{BufMut, Bytes, BytesMut};
use http::HeaderMap;

use super::buffer_pool;
use super::framing::decode::{Decoded, Decoder};
use super::out_buf::{OutBuf, WriteMode};
use super::testing::injected_bugs::{self, Bug};
use crate::rt::{Read, ReadBuf, Write};

/// Smallest read attempted, and the initial one.
const MIN_READ: usize = 8 * 1024;

/// Proof that the output buffer was empty and the transport flushed.
///
/// Only [`Transport::poll_drain`] creates one. It is consumed by the operations that end the
/// transport's use by this connection.
#[must_use = "a drain proof is needed to shut down or release the transport"]
#[derive(Debug)]
pub(crate) struct Drained {
    _private: (),
}

/// How far a connection got in ending its use of the transport.
#[derive(Debug)]
pub(crate) enum Ending {
    /// Owed bytes are being written.
    Draining,
    /// Everything was written and flushed; the shutdown (if asked) is under way or done.
    Drained { proof: Drained, shut_down: bool },
    /// Writing failed: nothing more can reach the peer.
    Broken,
}

/// Why ending failed.
#[derive(Debug)]
pub(crate) enum EndError {
    /// Writing what was owed failed.
    Write(io::Error),
    /// The shutdown itself failed.
    Shutdown(io::Error),
}

/// The next piece of a received body (see [`Transport::poll_body_piece`]).
#[derive(Debug)]
pub(crate) enum BodyPiece {
    /// Body bytes; never empty.
    Data(Bytes),
    /// The body is complete, with its trailer section if it had one.
    End { trailers: Option<HeaderMap> },
}

/// One connection's IO object, its read buffer and its output buffer.
///
/// Owns: every read, write, flush and shutdown of the IO, and giving the IO away. Guarantees:
/// nothing is written except what the output buffer holds, in order; the IO is shut down or
/// handed over cleanly only with a [`Drained`] proof; one read asks for at most `max_read`
/// bytes.
pub(crate) struct Transport<I, B> {
    io: I,
    read_buf: BytesMut,
    /// Size of the next read; grows while reads fill it, shrinks when they stop.
    next_read: usize,
    max_read: usize,
    /// Reads are always `next_read` bytes (`read_buf_exact_size`).
    fixed_reads: bool,
    read_eof: bool,
    /// A read through [`poll_read_parking`](Self::poll_read_parking) returned `Pending` since
    /// the last [`unpark_reads`](Self::unpark_reads).
    read_parked: bool,
    out: OutBuf<B>,
    /// Bytes were written since the transport was last flushed.
    needs_flush: bool,
}

impl<I, B> Transport<I, B>
where
    I: Read + Write + Unpin,
    B: bytes::Buf,
{
    pub(crate) fn new(
        io: I,
        mode: Option<WriteMode>,
        max_buf: usize,
        exact_reads: Option<usize>,
    ) -> Self {
        let mode = mode.unwrap_or(if io.is_write_vectored() {
            WriteMode::Queue
        } else {
            WriteMode::Flatten
        });
        Transport {
            io,
            read_buf: BytesMut::new(),
            next_read: exact_reads.unwrap_or(MIN_READ),
            max_read: exact_reads.unwrap_or(max_buf.max(MIN_READ)),
            fixed_reads: exact_reads.is_some(),
            read_eof: false,
            read_parked: false,
            out: OutBuf::new(mode, max_buf),
            needs_flush: false,
        }
    }

    pub(crate) fn read_buf(&mut self) -> &mut BytesMut {
        &mut self.read_buf
    }

    pub(crate) fn read_buf_is_empty(&self) -> bool {
        self.read_buf.is_empty()
    }

    /// Whether the peer closed its side: nothing follows the read buffer's contents.
    pub(crate) fn read_eof(&self) -> bool {
        self.read_eof
    }

    pub(crate) fn out(&mut self) -> &mut OutBuf<B> {
        &mut self.out
    }

    pub(crate) fn owed(&self) -> usize {
        self.out.owed()
    }

    /// Reads once from the transport into the read buffer, appending at most `limit` bytes
    /// (when given). Returns the number of bytes read; 0 means EOF, after which it keeps
    /// returning 0 without reading.
    pub(crate) fn poll_read_more(
        &mut self,
        cx: &mut Context<'_>,
        limit: Option<usize>,
    ) -> Poll<io::Result<usize>> {
        if self.read_eof {
            return Poll::Ready(Ok(0));
        }
        let want = limit
            .map_or(self.next_read, |l| l.min(self.next_read))
            .max(1);
        if self.read_buf.capacity() == 0 {
            self.read_buf = buffer_pool::take();
        }
        // Reading into somewhat less room than planned only makes this one read smaller,
        // while making room can mean moving bytes or allocating: at least half the planned
        // size is used as it is (but exact-size reads always get their size).
        let room_now = self.read_buf.capacity() - self.read_buf.len();
        let want = if !self.fixed_reads && room_now > 0 && room_now >= want / 2 {
            want.min(room_now)
        } else {
            self.read_buf.reserve(want);
            want
        };
        let spare = &mut self.read_buf.spare_capacity_mut()[..want];
        let n = {
            let mut rb = ReadBuf::uninit(spare);
            match Pin::new(&mut self.io).poll_read(cx, rb.unfilled()) {
                Poll::Ready(Ok(())) => rb.filled().len(),
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        };
        // SAFETY: the transport initialized `n` bytes at the start of the spare capacity
        // (`ReadBuf::filled` only covers bytes written through it), so they are now part of
        // the buffer's initialized length.
        unsafe { self.read_buf.advance_mut(n) };
        self.adapt_read_size(n, want);
        if n == 0 {
            self.read_eof = true;
        }
        Poll::Ready(Ok(n))
    }

    /// [`poll_read_more`](Self::poll_read_more) for a driver that calls
    /// [`unpark_reads`](Self::unpark_reads) each time its task is polled: once a read returned
    /// `Pending`, the transport holds the task's waker, and reading again before the task is
    /// woken (and polled anew) would mostly return `Pending` again, after a readiness check or
    /// even a syscall. So until then this returns `Pending` without reading.
    ///
    /// Only for reads after which a `Pending` means waiting for the wake-up. A read whose
    /// `Pending` decides something (stop discarding a body: "what already arrived") must look
    /// again: bytes can become readable during the same poll (a write lets the kernel process
    /// queued packets, another thread's IO driver marks the socket readable), and skipping
    /// them there left body bytes unread at close, which resets the connection.
    pub(crate) fn poll_read_parking(
        &mut self,
        cx: &mut Context<'_>,
        limit: Option<usize>,
    ) -> Poll<io::Result<usize>> {
        if self.read_parked {
            return Poll::Pending;
        }
        let read = self.poll_read_more(cx, limit);
        self.read_parked = read.is_pending();
        read
    }

    /// Decodes the next piece of a body with `decoder`, reading from the transport whenever
    /// the read buffer holds no complete piece. Errors are the transport's (a read failed)
    /// or the decoder's (malformed framing, or the body cut short by end of file).
    pub(crate) fn poll_body_piece(
        &mut self,
        cx: &mut Context<'_>,
        decoder: &mut Decoder,
    ) -> Poll<io::Result<BodyPiece>> {
        loop {
            match decoder.decode(&mut self.read_buf, self.read_eof)? {
                Decoded::Data(bytes) => return Poll::Ready(Ok(BodyPiece::Data(bytes))),
                Decoded::Trailers(trailers) => {
                    return Poll::Ready(Ok(BodyPiece::End {
                        trailers: Some(trailers),
                    }))
                }
                Decoded::End => return Poll::Ready(Ok(BodyPiece::End { trailers: None })),
                Decoded::NeedMore => {
                    if let Err(e) = std::task::ready!(self.poll_read_more(cx, None)) {
                        return Poll::Ready(Err(e));
                    }
                }
            }
        }
    }

    /// Gives the read and output buffers back to the pool while both are empty; they are
    /// taken again by the next read or encoding. For a connection about to wait for its
    /// next request (see [`buffer_pool`]).
    pub(crate) fn release_idle_buffers(&mut self) {
        if self.read_buf.is_empty() && self.out.is_empty() {
            buffer_pool::give_back(&mut self.read_buf);
            self.out.release_staging();
        }
    }

    /// Whether the transport holds any buffer memory of its own.
    #[cfg(test)]
    pub(crate) fn holds_buffers(&self) -> bool {
        self.read_buf.capacity() > 0 || self.out.holds_buffer()
    }

    /// The task is being polled: reads may find bytes again.
    pub(crate) fn unpark_reads(&mut self) {
        self.read_parked = false;
    }

    fn adapt_read_size(&mut self, got: usize, asked: usize) {
        if self.fixed_reads {
            return;
        }
        if got >= asked && asked == self.next_read {
            self.next_read = (self.next_read * 2).min(self.max_read);
        } else if got < self.next_read / 4 {
            self.next_read = (self.next_read / 2).max(MIN_READ);
        }
    }

    /// Writes owed bytes and, once none are left, flushes the transport.
    ///
    /// `Ready(Ok)` means nothing is owed and everything written was flushed. `Pending` means
    /// the transport is not ready and the task will be woken when it is; some bytes may have
    /// been written (see [`owed`](Self::owed)).
    pub(crate) fn poll_write_out(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if injected_bugs::active(Bug::FlushSkippedWhileInputBuffered) && !self.read_buf.is_empty() {
            return Poll::Ready(Ok(()));
        }
        if !self.out.is_empty() {
            let before = self.out.owed();
            let result = self.out.poll_write_to(&mut self.io, cx);
            if self.out.owed() != before {
                self.needs_flush = true;
            }
            match result {
                Poll::Ready(Ok(())) => {}
                other => return other,
            }
        }
        if self.needs_flush {
            match Pin::new(&mut self.io).poll_flush(cx) {
                Poll::Ready(Ok(())) => self.needs_flush = false,
                other => return other,
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Completes once every encoded byte was accepted by the transport and flushed.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Drained>> {
        if injected_bugs::active(Bug::ShutdownBeforeFlush) {
            return Poll::Ready(Ok(Drained { _private: () }));
        }
        match self.poll_write_out(cx) {
            Poll::Ready(Ok(())) => {
                debug_assert!(
                    (self.out.is_empty() && !self.needs_flush) || injected_bugs::any_active()
                );
                Poll::Ready(Ok(Drained { _private: () }))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }

    /// Shuts down the transport's write side; only after a drain.
    fn poll_shutdown(&mut self, cx: &mut Context<'_>, _proof: &Drained) -> Poll<io::Result<()>> {
        debug_assert!(
            self.out.is_empty() || injected_bugs::any_active(),
            "output was encoded after the drain proof"
        );
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    /// Ends the connection's use of the transport: writes everything owed, then shuts the
    /// write side down if `shutdown`. Resolves once both are done. Polled again after that
    /// (or after a failure) it resolves at once.
    pub(crate) fn poll_end(
        &mut self,
        cx: &mut Context<'_>,
        ending: &mut Ending,
        shutdown: bool,
    ) -> Poll<Result<(), EndError>> {
        if let Ending::Draining = ending {
            match self.poll_drain(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(proof)) => {
                    *ending = Ending::Drained {
                        proof,
                        shut_down: false,
                    }
                }
                Poll::Ready(Err(e)) => {
                    *ending = Ending::Broken;
                    return Poll::Ready(Err(EndError::Write(e)));
                }
            }
        }
        match ending {
            Ending::Drained { proof, shut_down } if shutdown && !*shut_down => {
                match self.poll_shutdown(cx, proof) {
                    Poll::Pending => Poll::Pending,
                    Poll::Ready(Ok(())) => {
                        *shut_down = true;
                        Poll::Ready(Ok(()))
                    }
                    Poll::Ready(Err(e)) => Poll::Ready(Err(EndError::Shutdown(e))),
                }
            }
            _ => Poll::Ready(Ok(())),
        }
    }

    /// Releases the transport and what was read past the last message; after a drain nothing
    /// owed is lost, otherwise the number of bytes lost is returned with it.
    pub(crate) fn release_after(self, ending: Ending) -> (I, Bytes, usize) {
        match ending {
            Ending::Drained { proof, .. } => {
                let (io, read_buf) = self.release(proof);
                (io, read_buf, 0)
            }
            _ => self.release_owing(),
        }
    }

    /// Releases the transport and the bytes read past the last message; only after a drain.
    fn release(self, proof: Drained) -> (I, Bytes) {
        let Drained { _private: () } = proof;
        debug_assert!(
            self.out.is_empty() || injected_bugs::any_active(),
            "output was encoded after the drain proof"
        );
        (self.io, self.read_buf.freeze())
    }

    /// Releases the transport at the application's request, whatever is still owed.
    ///
    /// This backs the public `into_parts`, which can be called at any time; the bytes still
    /// owed are returned so the caller can report them. Connection futures never use it.
    fn release_owing(self) -> (I, Bytes, usize) {
        let owed = self.out.owed();
        (self.io, self.read_buf.freeze(), owed)
    }
}

impl<I, B> std::fmt::Debug for Transport<I, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("read_buf", &self.read_buf.len())
            .field("read_eof", &self.read_eof)
            .field("out", &self.out)
            .finish()
    }
}
