#![cfg_attr(not(feature = "server"), allow(dead_code))]
//! The `Date` header value, rendered once per second per thread.
//!
//! Formatting an IMF-fixdate costs far more than copying 29 bytes, and a server sends one per
//! response, so each thread keeps the rendering of the current second and refreshes it when
//! the connection task polls ([`refresh`]).
use std::cell::{Cell, RefCell};
use std::time::{Duration, SystemTime};

/// Length of an IMF-fixdate such as `Sun, 06 Nov 1994 08:49:37 GMT`.
pub(crate) const LEN: usize = 29;

struct Rendered {
    /// Written into HTTP/1 heads.
    #[cfg_attr(not(feature = "http1"), allow(dead_code))]
    text: [u8; LEN],
    /// The same text as a header value, so an HTTP/2 response takes a reference-counted
    /// clone instead of a copy.
    #[cfg(all(feature = "http2", feature = "server"))]
    value: http::HeaderValue,
}

thread_local! {
    static CURRENT: RefCell<Rendered> = RefCell::new(render(SystemTime::now()));
    /// Until when `CURRENT` shows the current second. Kept apart, in a constant-initialized
    /// cell without destructor, so the check made at every poll is a plain load.
    static VALID_UNTIL: Cell<SystemTime> = const { Cell::new(SystemTime::UNIX_EPOCH) };
    /// Counts the renderings on this thread: equal numbers mean equal text.
    static GENERATION: Cell<u64> = const { Cell::new(0) };
}

/// Renders `now` into `CURRENT` unless the rendering there is still valid.
fn ensure_current(now: SystemTime) {
    if VALID_UNTIL.get() <= now {
        CURRENT.with(|cell| *cell.borrow_mut() = render(now));
    }
}

/// Renders `now` (and records until when it holds).
fn render(now: SystemTime) -> Rendered {
    let mut text = [0u8; LEN];
    let formatted = httpdate::fmt_http_date(now);
    let bytes = formatted.as_bytes();
    let n = bytes.len().min(LEN);
    text[..n].copy_from_slice(&bytes[..n]);
    let since_epoch = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let to_next_second =
        Duration::from_secs(1) - Duration::from_nanos(u64::from(since_epoch.subsec_nanos()));
    VALID_UNTIL.set(now + to_next_second);
    GENERATION.set(GENERATION.get().wrapping_add(1));
    Rendered {
        text,
        #[cfg(all(feature = "http2", feature = "server"))]
        value: http::HeaderValue::from_maybe_shared(bytes::Bytes::copy_from_slice(&text))
            .expect("an IMF-fixdate is a valid header value"),
    }
}

/// Re-renders the value if the second it shows has passed.
#[cfg_attr(not(feature = "http1"), allow(dead_code))]
pub(crate) fn refresh() {
    ensure_current(SystemTime::now());
}

/// Appends the current value (as of the last [`refresh`]).
#[cfg(feature = "http1")]
pub(crate) fn append_to(dst: &mut bytes::BytesMut) {
    with_text(|text| dst.extend_from_slice(text));
}

/// Identifies the current value (as of the last [`refresh`]): it changes whenever the value
/// is rendered anew, and never comes back. A value read after a generation number belongs to
/// that generation or a later one.
#[cfg(feature = "http1")]
pub(crate) fn generation() -> u64 {
    GENERATION.get()
}

/// Runs `f` on the current value (as of the last [`refresh`]).
#[cfg(feature = "http1")]
#[inline]
pub(crate) fn with_text<R>(f: impl FnOnce(&[u8; LEN]) -> R) -> R {
    CURRENT.with(|cell| f(&cell.borrow().text))
}

/// The current `Date` value as a header value (for HTTP/2 responses).
#[cfg(all(feature = "http2", feature = "server"))]
pub(crate) fn header_value() -> http::HeaderValue {
    ensure_current(SystemTime::now());
    CURRENT.with(|cell| cell.borrow().value.clone())
}

/// Makes `at` this thread's current value, as a refresh in that second would.
#[cfg(test)]
pub(crate) fn render_for_test(at: SystemTime) {
    CURRENT.with(|cell| *cell.borrow_mut() = render(at));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_an_imf_fixdate_that_parses_back_to_the_same_second() {
        refresh();
        let mut buf = bytes::BytesMut::new();
        append_to(&mut buf);
        assert_eq!(buf.len(), LEN);
        let text = std::str::from_utf8(&buf).unwrap();
        assert!(text.ends_with(" GMT"), "{text}");
        let parsed = httpdate::parse_http_date(text).unwrap();
        let age = SystemTime::now().duration_since(parsed).unwrap_or_default();
        assert!(age < Duration::from_secs(3), "{text} is stale");
    }
}
