//! Reading the few header values that steer HTTP/1 framing and connection reuse, and
//! adjusting an outgoing head's `Connection` header to the peer.
//!
//! All of them are comma-separated token lists compared case-insensitively; a value that is
//! not visible ASCII never matches anything.
use http::header::{self, HeaderMap, HeaderValue};
use http::Version;

/// Aligns an outgoing head with what the peer understands, as hyper does: an HTTP/1.0 peer
/// gets an HTTP/1.0 message that keeps the connection only with `keep-alive`, and an HTTP/1.1
/// peer of a connection that will close is told `connection: close` when `announce_close`
/// (false for a `101`, which hands the connection to another protocol instead of closing it).
///
/// Returns whether the connection may stay open after this message.
#[inline]
pub(crate) fn adjust_for_peer(
    version: &mut Version,
    headers: &mut HeaderMap,
    peer: Version,
    keep_alive: bool,
    announce_close: bool,
) -> bool {
    if peer == Version::HTTP_11 && keep_alive {
        // Nothing to adjust (the common case, checked where the call is).
        return true;
    }
    adjust_for_other_peers(version, headers, peer, keep_alive, announce_close)
}

fn adjust_for_other_peers(
    version: &mut Version,
    headers: &mut HeaderMap,
    peer: Version,
    mut keep_alive: bool,
    announce_close: bool,
) -> bool {
    if peer == Version::HTTP_10 {
        let has_keep_alive = headers
            .get_all(header::CONNECTION)
            .iter()
            .any(says_keep_alive);
        if !has_keep_alive {
            if *version == Version::HTTP_10 {
                keep_alive = false;
            } else if *version == Version::HTTP_11 && keep_alive {
                headers.append(header::CONNECTION, HeaderValue::from_static("keep-alive"));
            }
        }
        *version = Version::HTTP_10;
    } else if peer == Version::HTTP_11 && !keep_alive && announce_close {
        let has_close = headers.get_all(header::CONNECTION).iter().any(says_close);
        if !has_close {
            headers.append(header::CONNECTION, HeaderValue::from_static("close"));
        }
    }
    keep_alive
}

/// The largest `Content-Length` accepted: hyper reserves the two values above it.
pub(crate) const MAX_CONTENT_LENGTH: u64 = u64::MAX - 2;

/// Whether a comma-separated list contains `token` (case-insensitive).
pub(crate) fn list_contains(value: &HeaderValue, token: &str) -> bool {
    value.to_str().is_ok_and(|list| {
        list.split(',')
            .any(|item| item.trim().eq_ignore_ascii_case(token))
    })
}

/// `Connection: close` (possibly among other options).
pub(crate) fn says_close(value: &HeaderValue) -> bool {
    list_contains(value, "close")
}

/// `Connection: keep-alive` (possibly among other options).
pub(crate) fn says_keep_alive(value: &HeaderValue) -> bool {
    list_contains(value, "keep-alive")
}

/// The one length all `content-length` values (comma lists included) agree on.
pub(crate) fn declared_content_length(headers: &HeaderMap) -> Option<u64> {
    let mut agreed = None;
    for value in headers.get_all(header::CONTENT_LENGTH) {
        for item in value.to_str().ok()?.split(',') {
            let n = parse_content_length(item.trim().as_bytes())?;
            if agreed.is_some_and(|prev| prev != n) {
                return None;
            }
            agreed = Some(n);
        }
    }
    agreed
}

/// Whether the last coding in a `Transfer-Encoding` value is `chunked`.
pub(crate) fn ends_with_chunked(value: &HeaderValue) -> bool {
    value.to_str().is_ok_and(|list| {
        list.rsplit(',')
            .next()
            .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"))
    })
}

/// A `Content-Length` value: one or more ASCII digits, nothing else, no overflow.
pub(crate) fn parse_content_length(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() {
        return None;
    }
    bytes.iter().try_fold(0u64, |acc, &b| {
        let digit = b.checked_sub(b'0').filter(|d| *d < 10)?;
        acc.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_match_case_insensitively_inside_lists() {
        let v = HeaderValue::from_static("Upgrade, CLOSE");
        assert!(says_close(&v));
        assert!(!says_keep_alive(&v));
        assert!(says_keep_alive(&HeaderValue::from_static(" keep-alive ")));
        assert!(!says_close(&HeaderValue::from_static("closed")));
    }

    #[test]
    fn chunked_must_be_the_final_coding() {
        assert!(ends_with_chunked(&HeaderValue::from_static(
            "gzip, chunked"
        )));
        assert!(ends_with_chunked(&HeaderValue::from_static("Chunked")));
        assert!(!ends_with_chunked(&HeaderValue::from_static(
            "chunked, gzip"
        )));
        assert!(!ends_with_chunked(&HeaderValue::from_static("")));
    }

    #[test]
    fn content_length_is_digits_only_without_overflow() {
        assert_eq!(parse_content_length(b"0"), Some(0));
        assert_eq!(parse_content_length(b"0042"), Some(42));
        assert_eq!(
            parse_content_length(b"18446744073709551615"),
            Some(u64::MAX)
        );
        assert_eq!(parse_content_length(b"18446744073709551616"), None);
        assert_eq!(parse_content_length(b""), None);
        assert_eq!(parse_content_length(b"+1"), None);
        assert_eq!(parse_content_length(b"1 "), None);
        assert_eq!(parse_content_length(b"1,1"), None);
    }
}
