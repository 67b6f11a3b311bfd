//! Buffers that idle connections gave back, for the next connection that has bytes to handle.
//!
//! A keep-alive connection spends most of its life waiting for its next request with an empty
//! read buffer and nothing owed. Holding an 8 KiB read buffer and an 8 KiB output buffer
//! through that wait costs two pages of memory per idle connection. So a connection that is
//! about to wait with nothing buffered gives its buffers here, and takes one again when
//! bytes arrive or a response is encoded.
//!
//! Taking and giving back is a push and a pop on a per-thread list: a busy connection that
//! waits between requests pays that instead of an allocation and a free per request. The
//! list is short ([`POOL_LEN`]), so at most a few buffers per thread outlive their
//! connections; whatever does not fit is freed. Only buffers this connection alone owns go
//! in (a request head the application still holds keeps its bytes, and the buffer, alive).
use std::cell::RefCell;

use bytes::BytesMut;

/// Capacity of a fresh buffer, and the least a pooled one has.
pub(crate) const BUFFER_SIZE: usize = 8 * 1024;
/// Larger buffers (grown by big reads or heads) are freed rather than kept.
const MAX_POOLED_CAPACITY: usize = 64 * 1024;
/// Buffers kept per thread.
const POOL_LEN: usize = 16;

thread_local! {
    static POOL: RefCell<Vec<BytesMut>> = const { RefCell::new(Vec::new()) };
}

/// An empty buffer, with room for [`BUFFER_SIZE`] bytes unless it came from the pool (the
/// caller reserves what it needs, which reuses the allocation when it can).
pub(crate) fn take() -> BytesMut {
    let pooled = POOL
        .try_with(|pool| pool.try_borrow_mut().ok().and_then(|mut p| p.pop()))
        .ok()
        .flatten();
    pooled.unwrap_or_else(|| BytesMut::with_capacity(BUFFER_SIZE))
}

/// Takes the empty `buf` away from its owner (leaving an unallocated buffer) and keeps it
/// for reuse unless it grew large or the pool is full; then it is freed.
///
/// A buffer whose front part still backs a request head the application holds may be
/// pooled: a `BytesMut` only ever writes into the region it owns, and reserving room in it
/// reclaims the whole allocation only once nobody else refers to it (otherwise it
/// allocates), as it would have for the connection that gave it back.
pub(crate) fn give_back(buf: &mut BytesMut) {
    debug_assert!(buf.is_empty(), "only empty buffers are given back");
    let capacity = buf.capacity();
    if capacity == 0 || !buf.is_empty() {
        return;
    }
    if capacity > MAX_POOLED_CAPACITY {
        *buf = BytesMut::new();
        return;
    }
    let kept = POOL.try_with(|pool| match pool.try_borrow_mut() {
        Ok(mut pool) if pool.len() < POOL_LEN => {
            pool.push(std::mem::take(buf));
            true
        }
        _ => false,
    });
    if !matches!(kept, Ok(true)) {
        trace!("a released buffer did not fit the pool and was freed");
        *buf = BytesMut::new();
    }
}

/// Buffers currently pooled on this thread.
#[cfg(test)]
pub(crate) fn pooled() -> usize {
    POOL.with(|pool| pool.borrow().len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_given_back_buffer_is_the_next_one_taken() {
        let mut buf = take();
        buf.extend_from_slice(b"request");
        buf.clear();
        let address = buf.as_ptr();
        let before = pooled();
        give_back(&mut buf);
        assert_eq!(buf.capacity(), 0, "the owner keeps no allocation");
        assert_eq!(pooled(), before + 1);
        let again = take();
        assert_eq!(again.as_ptr(), address, "the same allocation is reused");
        assert!(again.is_empty() && again.capacity() >= BUFFER_SIZE);
        assert_eq!(pooled(), before);
    }

    #[test]
    fn a_pooled_buffer_never_writes_over_a_head_still_held() {
        let mut buf = take();
        buf.extend_from_slice(b"GET / HTTP/1.1\r\n\r\n");
        let head = buf.split().freeze();
        give_back(&mut buf);
        let mut again = take();
        again.reserve(BUFFER_SIZE);
        again.extend_from_slice(&[b'x'; BUFFER_SIZE]);
        assert_eq!(&head[..], b"GET / HTTP/1.1\r\n\r\n");
        drop(head);
        again.clear();
        give_back(&mut again);
        let mut reclaimed = take();
        reclaimed.reserve(BUFFER_SIZE);
        assert!(reclaimed.capacity() >= BUFFER_SIZE);
    }

    #[test]
    fn large_buffers_are_freed_and_the_pool_is_bounded() {
        let mut large = BytesMut::with_capacity(MAX_POOLED_CAPACITY * 2);
        let before = pooled();
        give_back(&mut large);
        assert_eq!(pooled(), before);

        let mut many: Vec<BytesMut> = (0..POOL_LEN + 4).map(|_| take()).collect();
        for buf in &mut many {
            give_back(buf);
        }
        assert_eq!(pooled(), POOL_LEN);
    }
}
