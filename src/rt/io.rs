//! hyper's own byte-transport traits and the read buffer they fill.
//!
//! These deliberately are not `tokio::io::AsyncRead`/`AsyncWrite`: owning the traits keeps
//! hyper independent of any one runtime and leaves room to grow them later (for example
//! towards completion-based I/O) without a breaking release.

use std::io::{self, IoSlice};
use std::task::{Context, Poll};
use std::{fmt, mem::MaybeUninit, ops::DerefMut, pin::Pin};

/// An asynchronous source of bytes.
///
/// This is the read half of the transport a connection is driven over; think of it as a
/// poll-based [`std::io::Read`].
///
/// # Implementing
///
/// Copy what is available into the cursor and return `Ready(Ok(()))`. The number of
/// bytes produced is measured by how far the cursor moved, so returning without moving
/// it means end-of-stream. [`ReadBufCursor::put_slice`] does the copying and bookkeeping
/// safely:
///
/// ```
/// use std::collections::VecDeque;
/// use std::io;
/// use std::pin::Pin;
/// use std::task::{Context, Poll};
/// use hyper::rt::{Read, ReadBufCursor};
///
/// /// Serves bytes from memory, never blocking.
/// struct Canned(VecDeque<u8>);
///
/// impl Read for Canned {
///     fn poll_read(
///         mut self: Pin<&mut Self>,
///         _cx: &mut Context<'_>,
///         mut buf: ReadBufCursor<'_>,
///     ) -> Poll<io::Result<()>> {
///         let n = self.0.len().min(buf.remaining());
///         let chunk: Vec<u8> = self.0.drain(..n).collect();
///         buf.put_slice(&chunk); // n == 0 at the end: that signals EOF
///         Poll::Ready(Ok(()))
///     }
/// }
/// ```
///
/// Code that must hand a raw pointer to a lower layer can use the `unsafe`
/// [`ReadBufCursor::as_mut`] / [`ReadBufCursor::advance`] pair instead.
pub trait Read {
    /// Tries to read some bytes into `buf`.
    ///
    /// * `Ready(Ok(()))` after advancing `buf` by the number of bytes read; if `buf` was
    ///   not advanced (and it had room), the source has reached end-of-stream.
    /// * `Pending` if nothing is available yet; the waker in `cx` is then scheduled to be
    ///   woken once the source becomes readable or is closed.
    /// * `Ready(Err(_))` on an I/O error.
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>>;
}

/// An asynchronous sink of bytes.
///
/// This is the write half of the transport a connection is driven over; think of it as a
/// poll-based [`std::io::Write`] that can also be shut down.
pub trait Write {
    /// Tries to write bytes from `buf`.
    ///
    /// `Ready(Ok(n))` means the first `n` bytes of `buf` were accepted, with
    /// `n <= buf.len()`. `n == 0` for a non-empty `buf` means the sink can no longer accept
    /// data. `Pending` schedules the waker in `cx` for when writing may make progress.
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>>;

    /// Tries to write from a sequence of buffers, as if they were concatenated.
    ///
    /// Returns the total number of bytes accepted, like
    /// [`poll_write`](Write::poll_write). The default implementation only writes the first
    /// buffer that is not empty (or an empty slice if there is none), which is correct but
    /// gains nothing over `poll_write`.
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<Result<usize, std::io::Error>> {
        let first_with_data: &[u8] = match bufs.iter().find(|slice| !slice.is_empty()) {
            Some(slice) => slice,
            None => &[],
        };
        self.poll_write(cx, first_with_data)
    }

    /// Whether [`poll_write_vectored`](Write::poll_write_vectored) is worth calling, i.e.
    /// whether it writes several buffers at once rather than just the first.
    ///
    /// Callers use this to decide between gathering buffers and flattening them
    /// themselves. Defaults to `false`, matching the default `poll_write_vectored`.
    fn is_write_vectored(&self) -> bool {
        false
    }

    /// Tries to shut the sink down (for a socket: flush, then close the write side).
    ///
    /// `Pending` schedules the waker in `cx` for when the shutdown may make progress.
    fn poll_shutdown(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), std::io::Error>>;

    /// Tries to push any buffered data through to the underlying destination.
    ///
    /// `Pending` schedules the waker in `cx` for when flushing may make progress.
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), std::io::Error>>;
}

/// A borrowed byte buffer that is filled from the front, and may start out uninitialized.
///
/// It keeps two watermarks over the borrowed storage:
///
/// ```text
/// 0          filled            init              capacity
/// |--data read--|--initialized--|--maybe uninit--|
/// ```
///
/// `filled <= init <= capacity` always holds. Bytes below `filled` are the data read so
/// far ([`filled`](ReadBuf::filled)). Bytes below `init` are known to be initialized, so
/// zeroing them again can be skipped. Bytes past `init` must be treated as uninitialized,
/// but they may in fact have been initialized by someone else, so they must never be
/// de-initialized either.
///
/// Readers do not get the `ReadBuf` itself but a [`ReadBufCursor`] over its unfilled
/// part, obtained from [`unfilled`](ReadBuf::unfilled).
pub struct ReadBuf<'data> {
    storage: &'data mut [MaybeUninit<u8>],
    filled: usize,
    init: usize,
}

/// Write access to the unfilled part of a [`ReadBuf`]; what [`Read::poll_read`] is given.
///
/// Writing through the cursor and moving its position updates the `ReadBuf` it came
/// from. There are two ways to do so:
///
/// * [`put_slice`](Self::put_slice) (or [`initialize_unfilled`](Self::initialize_unfilled)
///   followed by `advance`) is entirely safe bookkeeping.
/// * [`as_mut`](Self::as_mut) and [`advance`](Self::advance) expose the possibly
///   uninitialized storage, e.g. for a system call to write into; the caller then vouches
///   for what was initialized.
///
/// ```
/// use hyper::rt::ReadBuf;
///
/// let mut storage = [0u8; 16];
/// let mut buf = ReadBuf::new(&mut storage);
///
/// let mut cursor = buf.unfilled();
/// cursor.put_slice(b"GET ");
/// let rest = cursor.initialize_unfilled_to(2);
/// rest.copy_from_slice(b"/x");
/// // SAFETY: the two bytes were just initialized by `initialize_unfilled_to`.
/// unsafe { cursor.advance(2) };
///
/// assert_eq!(buf.filled(), b"GET /x");
/// ```
#[derive(Debug)]
pub struct ReadBufCursor<'buf> {
    buf: &'buf mut ReadBuf<'buf>,
}

/// Views initialized storage as bytes.
///
/// # Safety
///
/// Every element of `slice` must be initialized.
#[inline]
unsafe fn assume_init(slice: &[MaybeUninit<u8>]) -> &[u8] {
    // SAFETY: `MaybeUninit<u8>` is layout-compatible with `u8`, and the caller
    // guarantees the elements are initialized.
    unsafe { &*(slice as *const [MaybeUninit<u8>] as *const [u8]) }
}

/// Mutable counterpart of [`assume_init`].
///
/// # Safety
///
/// Every element of `slice` must be initialized.
#[inline]
unsafe fn assume_init_mut(slice: &mut [MaybeUninit<u8>]) -> &mut [u8] {
    // SAFETY: as in `assume_init`; writing a `u8` through the result can only ever
    // store initialized bytes, so the storage stays initialized.
    unsafe { &mut *(slice as *mut [MaybeUninit<u8>] as *mut [u8]) }
}

impl<'data> ReadBuf<'data> {
    /// Wraps storage that is already initialized (so `init` starts at its full length).
    #[inline]
    pub fn new(raw: &'data mut [u8]) -> Self {
        let capacity = raw.len();
        // SAFETY: same layout. Handing out `&mut [MaybeUninit<u8>]` over bytes the caller
        // will read again as `u8` is sound only if no uninitialized value is ever written
        // into it: this module only writes real bytes, and `ReadBufCursor::as_mut`'s
        // contract forbids its caller from de-initializing anything.
        let storage = unsafe { &mut *(raw as *mut [u8] as *mut [MaybeUninit<u8>]) };
        ReadBuf {
            storage,
            filled: 0,
            init: capacity,
        }
    }

    /// Wraps storage that may be uninitialized (so `init` starts at zero).
    #[inline]
    pub fn uninit(raw: &'data mut [MaybeUninit<u8>]) -> Self {
        ReadBuf {
            storage: raw,
            filled: 0,
            init: 0,
        }
    }

    /// The bytes read into this buffer so far.
    #[inline]
    pub fn filled(&self) -> &[u8] {
        let data = &self.storage[..self.filled];
        // SAFETY: `filled <= init`, and everything below `init` is initialized.
        unsafe { assume_init(data) }
    }

    /// A cursor for appending to this buffer, starting where the filled part ends.
    #[inline]
    pub fn unfilled<'cursor>(&'cursor mut self) -> ReadBufCursor<'cursor> {
        let this: *mut ReadBuf<'data> = self;
        // SAFETY: this shortens `'data` to `'cursor` behind a unique reference (valid
        // since `'data: 'cursor`). That is unsound only if something lived just for
        // `'cursor` could be stored in the buffer and outlive it; but the cursor never
        // replaces `storage`, it only writes bytes into it and moves the counters.
        let buf = unsafe { &mut *this.cast::<ReadBuf<'cursor>>() };
        ReadBufCursor { buf }
    }

    #[inline]
    fn capacity(&self) -> usize {
        self.storage.len()
    }

    /// Number of bytes filled so far (`self.filled().len()`).
    // Used by the connection code, which is behind protocol features.
    #[allow(dead_code)]
    pub(crate) fn len(&self) -> usize {
        self.filled().len()
    }
}

impl ReadBufCursor<'_> {
    /// The unfilled storage, as possibly uninitialized bytes.
    ///
    /// Its length is [`remaining`](Self::remaining). After writing into it, report the
    /// bytes written with [`advance`](Self::advance).
    ///
    /// # Safety
    ///
    /// The caller must not de-initialize any byte of the returned slice (for example by
    /// writing `MaybeUninit::uninit()` into it): some of them may already be initialized,
    /// and the buffer's owner may rely on that.
    #[inline]
    pub unsafe fn as_mut(&mut self) -> &mut [MaybeUninit<u8>] {
        let start = self.buf.filled;
        &mut self.buf.storage[start..]
    }

    /// Moves the end of the filled part forward by `n` bytes.
    ///
    /// # Safety
    ///
    /// The first `n` bytes of the unfilled part must be initialized, e.g. written through
    /// [`as_mut`](Self::as_mut) or obtained from
    /// [`initialize_unfilled_to`](Self::initialize_unfilled_to).
    ///
    /// # Panics
    ///
    /// If `n` is larger than [`remaining`](Self::remaining) (which includes the case where
    /// the new position would overflow `usize`).
    #[inline]
    pub unsafe fn advance(&mut self, n: usize) {
        assert!(
            n <= self.remaining(),
            "advance({n}) past the end of the buffer ({} bytes remaining)",
            self.remaining()
        );
        let buf = &mut *self.buf;
        buf.filled += n;
        buf.init = buf.init.max(buf.filled);
    }

    /// How many bytes can still be appended before the buffer is full.
    #[inline]
    pub fn remaining(&self) -> usize {
        self.buf.capacity() - self.buf.filled
    }

    /// Appends a copy of `src` and moves the cursor past it.
    ///
    /// # Panics
    ///
    /// If `src` is longer than [`remaining`](Self::remaining).
    #[inline]
    pub fn put_slice(&mut self, src: &[u8]) {
        assert!(
            src.len() <= self.remaining(),
            "put_slice of {} bytes into a buffer with {} remaining",
            src.len(),
            self.remaining()
        );
        let buf = &mut *self.buf;
        let end = buf.filled + src.len();
        for (slot, &byte) in buf.storage[buf.filled..end].iter_mut().zip(src) {
            slot.write(byte);
        }
        buf.filled = end;
        buf.init = buf.init.max(end);
    }

    /// The whole unfilled part as initialized bytes, zeroing whatever was not yet
    /// initialized. Does not move the cursor.
    #[inline]
    pub fn initialize_unfilled(&mut self) -> &mut [u8] {
        let all = self.remaining();
        self.initialize_unfilled_to(all)
    }

    /// The first `n` unfilled bytes as initialized bytes, zeroing whatever among them was
    /// not yet initialized. Does not move the cursor.
    ///
    /// Bytes that were already initialized keep their contents, so calling this again is
    /// cheap.
    ///
    /// # Panics
    ///
    /// If `n` is larger than [`remaining`](Self::remaining).
    #[inline]
    pub fn initialize_unfilled_to(&mut self, n: usize) -> &mut [u8] {
        assert!(
            n <= self.remaining(),
            "initialize_unfilled_to({n}) with only {} bytes remaining",
            self.remaining()
        );
        let buf = &mut *self.buf;
        let start = buf.filled;
        let end = start + n;
        if end > buf.init {
            buf.storage[buf.init..end].fill(MaybeUninit::new(0));
            buf.init = end;
        }
        // SAFETY: `end <= init` now, so the whole range is initialized.
        unsafe { assume_init_mut(&mut buf.storage[start..end]) }
    }
}

// The contents are deliberately left out: they may be large, and past `filled` they are
// not meaningful. Only the watermarks are shown.
impl fmt::Debug for ReadBuf<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ReadBuf { filled, init, .. } = *self;
        let capacity = self.capacity();
        let mut out = f.debug_struct("ReadBuf");
        out.field("filled", &filled);
        out.field("init", &init);
        out.field("capacity", &capacity);
        out.finish()
    }
}

// ===== forwarding impls =====

/// `Pin<&mut Box<T>>` / `Pin<&mut &mut T>` to `Pin<&mut T>`; sound without `unsafe`
/// because `T: Unpin`.
#[inline]
fn through_unpin<D>(outer: Pin<&mut D>) -> Pin<&mut D::Target>
where
    D: DerefMut + Unpin,
    D::Target: Unpin,
{
    Pin::new(&mut **outer.get_mut())
}

/// `Pin<&mut Pin<P>>` to `Pin<&mut P::Target>` (what `Pin::as_deref_mut` does on newer
/// compilers than our minimum supported one).
#[inline]
fn through_pin<P: DerefMut>(outer: Pin<&mut Pin<P>>) -> Pin<&mut P::Target> {
    // SAFETY: unwrapping the outer pin would be unsound only if the `Pin<P>` were then
    // moved or exposed by value. It is immediately re-pinned via `Pin::as_mut`, whose
    // target `P::Target` is already guaranteed pinned by the inner `Pin<P>`.
    let inner: &mut Pin<P> = unsafe { Pin::into_inner_unchecked(outer) };
    inner.as_mut()
}

macro_rules! read_through {
    ($project:ident) => {
        fn poll_read(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: ReadBufCursor<'_>,
        ) -> Poll<io::Result<()>> {
            $project(self).poll_read(cx, buf)
        }
    };
}

// Every method is forwarded, including the ones with defaults: otherwise a wrapped
// writer's efficient vectored path would be hidden behind the default implementation.
macro_rules! write_through {
    ($project:ident) => {
        fn is_write_vectored(&self) -> bool {
            (**self).is_write_vectored()
        }

        fn poll_write(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            $project(self).poll_write(cx, buf)
        }

        fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            $project(self).poll_flush(cx)
        }

        fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            $project(self).poll_shutdown(cx)
        }

        fn poll_write_vectored(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            $project(self).poll_write_vectored(cx, bufs)
        }
    };
}

impl<T: ?Sized + Read + Unpin> Read for Box<T> {
    read_through!(through_unpin);
}

impl<T: ?Sized + Read + Unpin> Read for &mut T {
    read_through!(through_unpin);
}

impl<P: DerefMut> Read for Pin<P>
where
    P::Target: Read,
{
    read_through!(through_pin);
}

impl<T: ?Sized + Write + Unpin> Write for Box<T> {
    write_through!(through_unpin);
}

impl<T: ?Sized + Write + Unpin> Write for &mut T {
    write_through!(through_unpin);
}

impl<P: DerefMut> Write for Pin<P>
where
    P::Target: Write,
{
    write_through!(through_pin);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::poll_fn;
    use std::marker::PhantomPinned;

    // ----- ReadBuf / ReadBufCursor accounting -----

    fn state(buf: &ReadBuf<'_>) -> (usize, usize, usize) {
        (buf.filled, buf.init, buf.capacity())
    }

    #[test]
    fn new_counts_everything_as_initialized() {
        let mut storage = [9u8; 5];
        let buf = ReadBuf::new(&mut storage);
        assert_eq!(state(&buf), (0, 5, 5));
        assert!(buf.filled().is_empty());
        assert_eq!(buf.len(), 0);
    }

    #[test]
    fn uninit_starts_with_nothing_initialized() {
        let mut storage = [MaybeUninit::<u8>::uninit(); 7];
        let mut buf = ReadBuf::uninit(&mut storage);
        assert_eq!(state(&buf), (0, 0, 7));
        assert_eq!(buf.unfilled().remaining(), 7);
    }

    #[test]
    fn put_slice_appends_and_moves_both_marks() {
        let mut storage = [MaybeUninit::<u8>::uninit(); 8];
        let mut buf = ReadBuf::uninit(&mut storage);
        buf.unfilled().put_slice(b"abc");
        assert_eq!(state(&buf), (3, 3, 8));
        let mut cursor = buf.unfilled();
        cursor.put_slice(b"");
        cursor.put_slice(b"defgh");
        assert_eq!(cursor.remaining(), 0);
        assert_eq!(buf.filled(), b"abcdefgh");
        assert_eq!(buf.len(), 8);
    }

    #[test]
    fn put_slice_keeps_init_when_already_ahead() {
        let mut storage = [0u8; 6];
        let mut buf = ReadBuf::new(&mut storage);
        buf.unfilled().put_slice(b"xy");
        assert_eq!(state(&buf), (2, 6, 6));
    }

    #[test]
    #[should_panic]
    fn put_slice_overflowing_panics() {
        let mut storage = [0u8; 2];
        let mut buf = ReadBuf::new(&mut storage);
        buf.unfilled().put_slice(b"xyz");
    }

    #[test]
    fn initialize_unfilled_to_zeroes_only_new_bytes() {
        let mut storage = [MaybeUninit::<u8>::uninit(); 10];
        let mut buf = ReadBuf::uninit(&mut storage);
        let mut cursor = buf.unfilled();
        cursor.put_slice(b"ab");

        let scratch = cursor.initialize_unfilled_to(3);
        assert_eq!(scratch, &[0, 0, 0]);
        scratch.copy_from_slice(b"cde");
        assert_eq!(cursor.remaining(), 8, "initializing must not advance");

        // Asking for a prefix again must not wipe what was written above.
        assert_eq!(cursor.initialize_unfilled_to(2), b"cd");
        assert_eq!(state(&buf), (2, 5, 10));

        let mut cursor = buf.unfilled();
        // SAFETY: these three bytes were initialized above.
        unsafe { cursor.advance(3) };
        assert_eq!(buf.filled(), b"abcde");
        assert_eq!(state(&buf), (5, 5, 10));
    }

    #[test]
    fn initialize_unfilled_covers_the_rest() {
        let mut storage = [MaybeUninit::<u8>::uninit(); 4];
        let mut buf = ReadBuf::uninit(&mut storage);
        let mut cursor = buf.unfilled();
        cursor.put_slice(b"z");
        assert_eq!(cursor.initialize_unfilled(), &[0, 0, 0]);
        assert_eq!(state(&buf), (1, 4, 4));
    }

    #[test]
    #[should_panic]
    fn initialize_unfilled_to_past_end_panics() {
        let mut storage = [0u8; 3];
        let mut buf = ReadBuf::new(&mut storage);
        let mut cursor = buf.unfilled();
        cursor.put_slice(b"a");
        let _ = cursor.initialize_unfilled_to(3);
    }

    #[test]
    fn as_mut_and_advance_pair() {
        let mut storage = [MaybeUninit::<u8>::uninit(); 6];
        let mut buf = ReadBuf::uninit(&mut storage);
        let mut cursor = buf.unfilled();
        cursor.put_slice(b"1");
        // SAFETY: only initialized bytes are written.
        let raw = unsafe { cursor.as_mut() };
        assert_eq!(raw.len(), 5);
        raw[0].write(b'2');
        raw[1].write(b'3');
        // SAFETY: two bytes were written just above.
        unsafe { cursor.advance(2) };
        assert_eq!(cursor.remaining(), 3);
        assert_eq!(buf.filled(), b"123");
        assert_eq!(state(&buf), (3, 3, 6));
    }

    #[test]
    #[should_panic]
    fn advance_past_capacity_panics() {
        let mut storage = [0u8; 4];
        let mut buf = ReadBuf::new(&mut storage);
        // SAFETY: not actually sound to rely on; the assertion fires first.
        unsafe { buf.unfilled().advance(5) };
    }

    #[test]
    fn new_writes_reach_the_callers_storage() {
        let mut storage = [0u8; 4];
        let mut buf = ReadBuf::new(&mut storage);
        buf.unfilled().put_slice(b"hi");
        assert_eq!(buf.len(), 2);
        assert_eq!(&storage, b"hi\0\0");
    }

    #[test]
    fn debug_output() {
        let mut storage = [MaybeUninit::<u8>::uninit(); 9];
        let mut buf = ReadBuf::uninit(&mut storage);
        buf.unfilled().put_slice(b"ab");
        let _ = buf.unfilled().initialize_unfilled_to(4);
        assert_eq!(
            format!("{buf:?}"),
            "ReadBuf { filled: 2, init: 6, capacity: 9 }"
        );
        assert_eq!(
            format!("{:?}", buf.unfilled()),
            "ReadBufCursor { buf: ReadBuf { filled: 2, init: 6, capacity: 9 } }"
        );
    }

    /// Runs the same operations on our buffer and on upstream's and compares the
    /// observable state (Debug output and filled bytes) after every step.
    #[test]
    fn same_accounting_as_upstream() {
        use hyper_upstream::rt::ReadBuf as UpBuf;

        enum Op {
            Put(&'static [u8]),
            InitTo(usize),
            InitAll,
            Advance(usize),
        }
        let script = [
            Op::Put(b"he"),
            Op::InitTo(3),
            Op::Advance(1),
            Op::InitTo(1),
            Op::Put(b"llo"),
            Op::InitAll,
            Op::Advance(2),
            Op::Put(b""),
        ];

        for start_initialized in [false, true] {
            let mut ours_storage = [MaybeUninit::new(7u8); 12];
            let mut up_storage = [MaybeUninit::new(7u8); 12];
            let mut ours_bytes = [7u8; 12];
            let mut up_bytes = [7u8; 12];
            let (mut ours, mut up) = if start_initialized {
                (ReadBuf::new(&mut ours_bytes), UpBuf::new(&mut up_bytes))
            } else {
                (
                    ReadBuf::uninit(&mut ours_storage),
                    UpBuf::uninit(&mut up_storage),
                )
            };
            for op in &script {
                {
                    let (mut a, mut b) = (ours.unfilled(), up.unfilled());
                    match *op {
                        Op::Put(s) => {
                            a.put_slice(s);
                            b.put_slice(s);
                        }
                        Op::InitTo(n) => {
                            assert_eq!(a.initialize_unfilled_to(n), b.initialize_unfilled_to(n))
                        }
                        Op::InitAll => assert_eq!(a.initialize_unfilled(), b.initialize_unfilled()),
                        // SAFETY: the script only advances over initialized bytes.
                        Op::Advance(n) => unsafe {
                            a.advance(n);
                            b.advance(n);
                        },
                    }
                    assert_eq!(a.remaining(), b.remaining());
                }
                assert_eq!(format!("{ours:?}"), format!("{up:?}"));
                assert_eq!(ours.filled(), up.filled());
            }
        }
    }

    #[test]
    fn same_auto_traits_as_upstream() {
        use crate::rt::auto_traits::{auto_traits, of};
        use hyper_upstream::rt as up;
        assert_eq!(
            auto_traits!(of::<ReadBuf<'static>>()),
            auto_traits!(of::<up::ReadBuf<'static>>())
        );
        assert_eq!(
            auto_traits!(of::<ReadBufCursor<'static>>()),
            auto_traits!(of::<up::ReadBufCursor<'static>>())
        );
        assert_eq!(
            auto_traits!(of::<dyn Read>()),
            auto_traits!(of::<dyn up::Read>())
        );
        assert_eq!(
            auto_traits!(of::<dyn Write>()),
            auto_traits!(of::<dyn up::Write>())
        );
    }

    // ----- forwarding impls -----

    /// Records which methods were reached and claims to support vectored writes, so that a
    /// wrapper falling back to the trait defaults would be noticed.
    #[derive(Default)]
    struct Recorder {
        calls: Vec<&'static str>,
        written: Vec<u8>,
    }

    impl Read for Recorder {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            mut buf: ReadBufCursor<'_>,
        ) -> Poll<io::Result<()>> {
            self.calls.push("read");
            buf.put_slice(b"r");
            Poll::Ready(Ok(()))
        }
    }

    impl Write for Recorder {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.calls.push("write");
            self.written.extend_from_slice(buf);
            Poll::Ready(Ok(buf.len()))
        }

        fn poll_flush(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            self.calls.push("flush");
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            self.calls.push("shutdown");
            Poll::Ready(Ok(()))
        }

        fn is_write_vectored(&self) -> bool {
            true
        }

        fn poll_write_vectored(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            self.calls.push("write_vectored");
            let mut n = 0;
            for b in bufs {
                self.written.extend_from_slice(b);
                n += b.len();
            }
            Poll::Ready(Ok(n))
        }
    }

    pin_project_lite::pin_project! {
        /// A `!Unpin` recorder, so the `Pin<P>` impls are tested with a target that really
        /// relies on being pinned.
        #[derive(Default)]
        struct PinnedRecorder {
            #[pin]
            inner: Recorder,
            #[pin]
            _pin: PhantomPinned,
        }
    }

    impl Read for PinnedRecorder {
        read_through!(project_inner);
    }

    impl Write for PinnedRecorder {
        write_through!(project_inner);
    }

    impl std::ops::Deref for PinnedRecorder {
        type Target = Recorder;
        fn deref(&self) -> &Recorder {
            &self.inner
        }
    }

    fn project_inner(p: Pin<&mut PinnedRecorder>) -> Pin<&mut Recorder> {
        p.project().inner
    }

    /// Drives every trait method once through `io` and returns the bytes read.
    async fn exercise<T: Read + Write + Unpin>(mut io: T) -> Vec<u8> {
        assert!(io.is_write_vectored());
        let bufs = [IoSlice::new(b"ab"), IoSlice::new(b""), IoSlice::new(b"cd")];
        let n = poll_fn(|cx| Pin::new(&mut io).poll_write_vectored(cx, &bufs))
            .await
            .unwrap();
        assert_eq!(n, 4);
        let n = poll_fn(|cx| Pin::new(&mut io).poll_write(cx, b"e"))
            .await
            .unwrap();
        assert_eq!(n, 1);
        poll_fn(|cx| Pin::new(&mut io).poll_flush(cx))
            .await
            .unwrap();
        poll_fn(|cx| Pin::new(&mut io).poll_shutdown(cx))
            .await
            .unwrap();

        let mut storage = [0u8; 4];
        let mut buf = ReadBuf::new(&mut storage);
        poll_fn(|cx| Pin::new(&mut io).poll_read(cx, buf.unfilled()))
            .await
            .unwrap();
        buf.filled().to_vec()
    }

    const EXPECTED_CALLS: [&str; 5] = ["write_vectored", "write", "flush", "shutdown", "read"];

    #[tokio::test]
    async fn pin_impls_forward_everything() {
        let mut io = Box::pin(PinnedRecorder::default());
        // Pin<&mut Pin<Box<_>>> via `&mut`, then Pin<&mut PinnedRecorder> directly.
        assert_eq!(exercise(&mut io).await, b"r");
        assert_eq!(exercise(io.as_mut()).await, b"r");
        assert_eq!(io.calls, [EXPECTED_CALLS, EXPECTED_CALLS].concat());
        assert_eq!(io.written, b"abcdeabcde");
    }

    trait Transport: Read + Write + Unpin {}
    impl<T: Read + Write + Unpin> Transport for T {}

    #[tokio::test]
    async fn box_and_mut_ref_forward_everything() {
        let mut plain = Recorder::default();
        assert_eq!(exercise(&mut plain).await, b"r");
        assert_eq!(exercise(Box::new(&mut plain)).await, b"r");
        assert_eq!(plain.calls, [EXPECTED_CALLS, EXPECTED_CALLS].concat());

        // Unsized targets: `Box<dyn _>` and `&mut dyn _`.
        let mut boxed: Box<dyn Transport> = Box::<Recorder>::default();
        assert_eq!(exercise(&mut boxed).await, b"r");
        let as_ref: &mut dyn Transport = &mut plain;
        assert_eq!(exercise(as_ref).await, b"r");
        assert_eq!(plain.calls.len(), 3 * EXPECTED_CALLS.len());
    }

    // ----- trait defaults -----

    struct PlainWriter(Vec<u8>);

    impl Write for PlainWriter {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.0.extend_from_slice(buf);
            Poll::Ready(Ok(buf.len()))
        }
        fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn default_vectored_write_takes_first_non_empty_slice() {
        let mut w = PlainWriter(Vec::new());
        assert!(!w.is_write_vectored());
        let bufs = [IoSlice::new(b""), IoSlice::new(b"xy"), IoSlice::new(b"z")];
        let n = poll_fn(|cx| Pin::new(&mut w).poll_write_vectored(cx, &bufs))
            .await
            .unwrap();
        assert_eq!((n, &w.0[..]), (2, &b"xy"[..]));

        let n = poll_fn(|cx| Pin::new(&mut w).poll_write_vectored(cx, &[IoSlice::new(b"")]))
            .await
            .unwrap();
        assert_eq!(n, 0);
        let n = poll_fn(|cx| Pin::new(&mut w).poll_write_vectored(cx, &[]))
            .await
            .unwrap();
        assert_eq!(n, 0);
        assert_eq!(w.0, b"xy");
    }

    #[test]
    fn traits_are_object_safe_and_buffers_are_send_sync() {
        fn takes(_: Option<Pin<Box<dyn Read + Send>>>, _: Option<&mut (dyn Write + Unpin)>) {}
        takes(None, None);
        fn send_sync<T: Send + Sync + Unpin>() {}
        send_sync::<ReadBuf<'static>>();
        send_sync::<ReadBufCursor<'static>>();
    }

    // ----- the same user code against our API and upstream's -----

    macro_rules! user_transport {
        () => {
            use std::io;
            use std::pin::Pin;
            use std::task::{Context, Poll};

            pub(super) struct Loopback {
                pub(super) pending: Vec<u8>,
            }

            impl api::Read for Loopback {
                fn poll_read(
                    mut self: Pin<&mut Self>,
                    _cx: &mut Context<'_>,
                    mut buf: api::ReadBufCursor<'_>,
                ) -> Poll<Result<(), io::Error>> {
                    let n = self.pending.len().min(buf.remaining());
                    buf.put_slice(&self.pending[..n]);
                    self.pending.drain(..n);
                    Poll::Ready(Ok(()))
                }
            }

            impl api::Write for Loopback {
                fn poll_write(
                    mut self: Pin<&mut Self>,
                    _cx: &mut Context<'_>,
                    buf: &[u8],
                ) -> Poll<Result<usize, io::Error>> {
                    self.pending.extend_from_slice(buf);
                    Poll::Ready(Ok(buf.len()))
                }
                fn poll_flush(
                    self: Pin<&mut Self>,
                    _cx: &mut Context<'_>,
                ) -> Poll<Result<(), io::Error>> {
                    Poll::Ready(Ok(()))
                }
                fn poll_shutdown(
                    self: Pin<&mut Self>,
                    _cx: &mut Context<'_>,
                ) -> Poll<Result<(), io::Error>> {
                    Poll::Ready(Ok(()))
                }
            }

            pub(super) async fn round_trip(data: &[u8]) -> Vec<u8> {
                use api::{Read as _, Write as _};
                let mut io = Loopback {
                    pending: Vec::new(),
                };
                let mut pinned = Pin::new(&mut io);
                let n = std::future::poll_fn(|cx| {
                    pinned
                        .as_mut()
                        .poll_write_vectored(cx, &[io::IoSlice::new(data)])
                })
                .await
                .unwrap();
                assert_eq!(n, data.len());
                let mut raw = [std::mem::MaybeUninit::<u8>::uninit(); 32];
                let mut buf = api::ReadBuf::uninit(&mut raw);
                std::future::poll_fn(|cx| pinned.as_mut().poll_read(cx, buf.unfilled()))
                    .await
                    .unwrap();
                let mut out = buf.filled().to_vec();
                let mut plain = [0u8; 4];
                let mut buf = api::ReadBuf::new(&mut plain);
                let mut cur = buf.unfilled();
                cur.initialize_unfilled_to(2).copy_from_slice(b"!?");
                // SAFETY: initialized just above.
                unsafe { cur.advance(2) };
                out.extend_from_slice(buf.filled());
                out
            }
        };
    }

    mod against_ours {
        use crate::rt as api;
        user_transport!();
    }

    mod against_upstream {
        use hyper_upstream::rt as api;
        user_transport!();
    }

    #[tokio::test]
    async fn user_transport_behaves_the_same() {
        assert_eq!(against_ours::round_trip(b"ping").await, b"ping!?");
        assert_eq!(
            against_ours::round_trip(b"ping").await,
            against_upstream::round_trip(b"ping").await
        );
    }
}
