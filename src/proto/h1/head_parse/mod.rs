//! Parsing message heads: [`request`] (a server reads requests) and [`response`] (a client
//! reads responses), pure functions over the read buffer. This module holds what both share:
//! limits, the incremental scan for a head's end, the header slots handed to httparse, and
//! turning parsed fields into `http` types.
//!
//! A head arrives in pieces, and bytes that can never start a valid head (a TLS handshake
//! sent to a plain-HTTP port, a NUL, an HTTP/0.9 request line) must be rejected as soon as
//! they arrive, not once a blank line, a timer or a full buffer ends the wait. So every
//! arrival is parsed while the incomplete head is small (up to [`EAGER_PARSE_LEN`]). Past
//! that, re-parsing the whole head at each arrival would cost quadratic time with a peer that
//! sends a byte at a time; the scratch remembers how far the buffer went, scans only the new
//! bytes for the blank line that ends a head, and parses again when one is there or when the
//! head has doubled since the last parse (so the total work stays linear in the head's
//! size). The limits are checked while a head is still incomplete, so a peer cannot make the
//! buffer grow past them.
use std::mem::MaybeUninit;
use std::ops::Range;

use bytes::{Bytes, BytesMut};
use http::header::{HeaderName, HeaderValue};

use crate::error::{Header, Parse};

mod common_names;
pub(crate) mod request;
#[cfg(feature = "client")]
pub(crate) mod response;

/// Header fields accepted by default; more is `431 Request Header Fields Too Large` (server)
/// or a parse error (client).
pub(crate) const DEFAULT_MAX_HEADERS: usize = 100;
/// Header names longer than this make the head too large.
const MAX_NAME_LEN: usize = 1 << 16;
/// An incomplete head up to this size is parsed at every arrival of bytes.
pub(crate) const EAGER_PARSE_LEN: usize = 8 * 1024;

/// Limits and options for parsing heads.
#[derive(Clone, Debug)]
pub(crate) struct HeadConfig {
    pub(crate) parser: httparse::ParserConfig,
    pub(crate) max_headers: Option<usize>,
    pub(crate) max_header_size: Option<usize>,
    /// A head still incomplete once the buffer holds this much is too large.
    pub(crate) max_buf: usize,
    pub(crate) preserve_case: bool,
}

/// Reusable scratch space for one connection's parses.
#[derive(Debug, Default)]
pub(crate) struct HeadScratch {
    /// Where each field's name and value lie in the head.
    pub(crate) fields: Vec<(Range<usize>, Range<usize>)>,
    /// Length of the buffer at the last incomplete attempt; bytes before it hold no head end.
    partial_len: Option<usize>,
    /// Length of the buffer at the last incomplete parse.
    parsed_len: usize,
}

impl HeadScratch {
    /// Whether to parse `buf` now: never while nothing arrived since the last incomplete
    /// attempt (or at all), always while it is small, and past that once a head end arrived
    /// since the last incomplete attempt or the head doubled since the last parse.
    pub(crate) fn worth_parsing(&self, buf: &[u8]) -> bool {
        if buf.is_empty() {
            return false;
        }
        match self.partial_len {
            None => true,
            // An incomplete head only grows: the same length means the same bytes.
            Some(prev) if buf.len() == prev => false,
            Some(_) if buf.len() <= EAGER_PARSE_LEN => true,
            Some(_) if buf.len() >= 2 * self.parsed_len => true,
            Some(prev) => has_head_end(buf, prev.saturating_sub(3)),
        }
    }

    /// Records an incomplete head, or rejects it if it already reached a limit. `parsed`
    /// says whether the attempt ran the parser (rather than being skipped).
    pub(crate) fn incomplete(
        &mut self,
        buf: &[u8],
        cfg: &HeadConfig,
        parsed: bool,
    ) -> Result<(), Parse> {
        let len = buf.len();
        if cfg.max_header_size.is_some_and(|max| len >= max) || len >= cfg.max_buf {
            return Err(Parse::TooLarge);
        }
        self.partial_len = Some(len);
        if parsed {
            self.parsed_len = len;
        }
        Ok(())
    }

    /// Records where the parsed fields lie, for slicing them out of the head afterwards.
    pub(crate) fn complete(
        &mut self,
        bytes: &[u8],
        fields: &[httparse::Header<'_>],
    ) -> Result<(), Parse> {
        self.partial_len = None;
        self.parsed_len = 0;
        self.fields.clear();
        for field in fields {
            if field.name.len() >= MAX_NAME_LEN {
                return Err(Parse::TooLarge);
            }
            self.fields.push((
                offset_in(bytes, field.name.as_bytes()),
                offset_in(bytes, field.value),
            ));
        }
        Ok(())
    }
}

/// Runs `parse` with room for `max_headers` fields: on the stack up to the default count, on
/// the heap beyond it.
#[inline(always)]
pub(crate) fn with_field_slots<'b, R>(
    max_headers: Option<usize>,
    parse: impl FnOnce(&mut [MaybeUninit<httparse::Header<'b>>]) -> R,
) -> R {
    let max = max_headers.unwrap_or(DEFAULT_MAX_HEADERS);
    if max <= DEFAULT_MAX_HEADERS {
        let mut inline =
            [const { MaybeUninit::<httparse::Header<'b>>::uninit() }; DEFAULT_MAX_HEADERS];
        parse(&mut inline[..max])
    } else {
        let mut heap = Vec::with_capacity(max);
        heap.resize_with(max, MaybeUninit::uninit);
        parse(&mut heap[..])
    }
}

/// Whether `buf[from..]` contains the blank line ending a head (`\n\n` or `\n\r\n`).
pub(crate) fn has_head_end(buf: &[u8], from: usize) -> bool {
    let tail = buf.get(from..).unwrap_or_default();
    tail.iter()
        .enumerate()
        .any(|(i, &b)| b == b'\n' && matches!(&tail[i + 1..], [b'\n', ..] | [b'\r', b'\n', ..]))
}

/// Where `inner`, a subslice of `outer`, lies within it.
pub(crate) fn offset_in(outer: &[u8], inner: &[u8]) -> Range<usize> {
    let start = inner.as_ptr() as usize - outer.as_ptr() as usize;
    start..start + inner.len()
}

/// The parse error kind for an httparse error: anything wrong inside a field is a header
/// error; the rest map one to one.
pub(crate) fn parse_kind(e: httparse::Error) -> Parse {
    use httparse::Error as E;
    match e {
        E::Version => Parse::Version,
        E::Status => Parse::Status,
        E::TooManyHeaders => Parse::TooLarge,
        E::Token | E::NewLine | E::HeaderValue | E::HeaderName => Parse::Header(Header::Token),
    }
}

/// The field at `name_at` / `value_at` of `head`, sharing its memory. Both must lie where
/// httparse found a field's name and its (single-line) value.
#[inline(always)]
pub(crate) fn field(
    head: &Bytes,
    name_at: &Range<usize>,
    value_at: &Range<usize>,
) -> Result<(HeaderName, HeaderValue), Parse> {
    let raw_name = &head[name_at.clone()];
    let name = match common_names::standard(raw_name) {
        Some(name) => name,
        None => HeaderName::from_bytes(raw_name).map_err(|_| Parse::Internal)?,
    };
    let value = head.slice(value_at.clone());
    // SAFETY: httparse accepted these bytes as a field value, and the bytes it accepts there
    // (tab, 0x20 to 0x7E, 0x80 to 0xFF; its SIMD scans included) are exactly the ones a
    // `HeaderValue` may hold, which is all that `HeaderValue` relies on (it never assumes
    // UTF-8: `to_str` checks). The test `every_value_byte_httparse_accepts_is_a_valid_header_value`
    // pins that equivalence; debug builds check each value again. Upstream hyper builds its
    // values the same way.
    let value = unsafe { HeaderValue::from_maybe_shared_unchecked(value) };
    Ok((name, value))
}

/// Splits a complete head of `len` bytes off the front of the buffer.
#[inline(always)]
pub(crate) fn take_head(buf: &mut BytesMut, len: usize) -> Bytes {
    buf.split_to(len).freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses one field whose value is `value` (between other bytes, so httparse's SIMD scans
    /// see it at several alignments) and returns the value httparse accepted, if any.
    fn accepted_value(prefix: &[u8], value: &[u8]) -> Option<Vec<u8>> {
        let mut input = prefix.to_vec();
        input.extend_from_slice(b"x: ");
        input.extend_from_slice(value);
        input.extend_from_slice(b"\r\n\r\n");
        let mut fields = [httparse::EMPTY_HEADER; 4];
        let parsed = if prefix.starts_with(b"HTTP") {
            let mut res = httparse::Response::new(&mut fields);
            match res.parse(&input) {
                Ok(httparse::Status::Complete(_)) => Some(res.headers[0].value.to_vec()),
                _ => None,
            }
        } else {
            let mut req = httparse::Request::new(&mut fields);
            match req.parse(&input) {
                Ok(httparse::Status::Complete(_)) => Some(req.headers[0].value.to_vec()),
                _ => None,
            }
        };
        parsed
    }

    #[test]
    fn every_value_byte_httparse_accepts_is_a_valid_header_value() {
        let mut accepted = 0;
        for prefix in [&b"GET / HTTP/1.1\r\n"[..], b"HTTP/1.1 200 OK\r\n"] {
            for len in [1, 7, 31, 32, 33, 64, 100] {
                for at in [0, len / 2, len - 1] {
                    for b in 0..=255u8 {
                        let mut value = vec![b'v'; len];
                        value[at] = b;
                        if let Some(parsed) = accepted_value(prefix, &value) {
                            accepted += 1;
                            assert!(
                                HeaderValue::from_bytes(&parsed).is_ok(),
                                "httparse accepted {b:#04x} at {at} of {len}"
                            );
                        }
                    }
                }
            }
        }
        // Every byte but the controls other than tab, and DEL, gets through (the check above
        // is not vacuous).
        assert!(accepted > 2 * 7 * 2 * 200, "{accepted}");
    }

    #[test]
    fn fields_are_the_general_constructions_of_their_bytes() {
        let head =
            Bytes::from_static(b"HoSt: a\tb \xff\r\nX-Custom-Name: v\r\nconnection: close\r\n");
        for (name_at, value_at) in [(0..4, 6..11), (13..26, 28..29), (31..41, 43..48)] {
            let (name, value) = field(&head, &name_at, &value_at).unwrap();
            assert_eq!(name, HeaderName::from_bytes(&head[name_at]).unwrap());
            assert_eq!(value, HeaderValue::from_bytes(&head[value_at]).unwrap());
        }
    }

    #[test]
    fn head_end_detection_accepts_bare_newlines() {
        assert!(has_head_end(b"GET / HTTP/1.1\n\n", 0));
        assert!(has_head_end(b"GET / HTTP/1.1\r\n\r\n", 0));
        assert!(has_head_end(b"GET / HTTP/1.1\n\r\n", 0));
        assert!(!has_head_end(b"GET / HTTP/1.1\r\nHost: x\r\n", 0));
    }

    #[test]
    fn an_incomplete_head_at_a_limit_is_too_large() {
        let cfg = HeadConfig {
            parser: httparse::ParserConfig::default(),
            max_headers: None,
            max_header_size: Some(10),
            max_buf: 100,
            preserve_case: false,
        };
        let mut scratch = HeadScratch::default();
        assert!(scratch.incomplete(b"123456789", &cfg, true).is_ok());
        assert_eq!(
            scratch.incomplete(b"1234567890", &cfg, true),
            Err(Parse::TooLarge)
        );
    }

    #[test]
    fn small_heads_are_parsed_at_every_arrival_and_large_ones_only_when_they_may_end() {
        let cfg = HeadConfig {
            parser: httparse::ParserConfig::default(),
            max_headers: None,
            max_header_size: None,
            max_buf: 1 << 20,
            preserve_case: false,
        };
        let mut scratch = HeadScratch::default();
        assert!(!scratch.worth_parsing(b""));
        scratch.incomplete(b"", &cfg, false).unwrap();
        assert!(scratch.worth_parsing(b"GET"), "a first piece is parsed");
        scratch.incomplete(b"GET", &cfg, true).unwrap();
        assert!(scratch.worth_parsing(b"GET / HT"), "so is every small one");
        assert!(
            !scratch.worth_parsing(b"GET"),
            "the same bytes are not parsed twice"
        );
        scratch.incomplete(b"", &cfg, false).unwrap();
        assert!(!scratch.worth_parsing(b""), "nor is an empty buffer");
        scratch.incomplete(b"GET", &cfg, true).unwrap();

        // A large head that does not end is parsed again only once it doubled.
        let big = vec![b'a'; EAGER_PARSE_LEN + 100];
        scratch.incomplete(&big, &cfg, true).unwrap();
        let mut more = big.clone();
        more.extend_from_slice(b"bbbb");
        assert!(!scratch.worth_parsing(&more));
        scratch.incomplete(&more, &cfg, false).unwrap();
        let mut ended = more.clone();
        ended.extend_from_slice(b"\r\n\r\n");
        assert!(scratch.worth_parsing(&ended), "a head end arrived");
        let doubled = vec![b'a'; 2 * big.len()];
        assert!(scratch.worth_parsing(&doubled), "the head doubled");
    }
}
