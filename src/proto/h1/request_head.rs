//! Parsing a request head from the front of a server's read buffer.
//!
//! [`parse`] either takes a complete head off the buffer (leaving the body and anything after
//! it in place), asks for more bytes, or rejects the input with the [`Parse`] kind that picks
//! the server's error status. Framing headers are checked the way hyper 1.12 checks them, so a
//! request is framed identically (and smuggling attempts rejected identically) by both.
use std::mem::MaybeUninit;
use std::ops::Range;

use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Uri, Version};

use super::header_values::{ends_with_chunked, parse_content_length, says_close, says_keep_alive};
use crate::error::{Header, Parse};
use crate::ext::HeaderCaseMap;

/// Header fields accepted by default; more is `431 Request Header Fields Too Large`.
pub(crate) const DEFAULT_MAX_HEADERS: usize = 100;
/// Longest request target accepted; longer is `414 URI Too Long`.
const MAX_URI_LEN: usize = u16::MAX as usize - 1;
/// The largest `Content-Length` representable next to the special lengths hyper reserves.
const MAX_CONTENT_LENGTH: u64 = u64::MAX - 2;

/// Limits and options for parsing request heads.
#[derive(Clone, Debug)]
pub(crate) struct HeadConfig {
    pub(crate) parser: httparse::ParserConfig,
    pub(crate) max_headers: Option<usize>,
    pub(crate) max_header_size: Option<usize>,
    /// A head still incomplete once the buffer holds this much is too large.
    pub(crate) max_buf: usize,
    pub(crate) preserve_case: bool,
}

/// How the request's body is framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RequestBody {
    Empty,
    Length(u64),
    Chunked,
}

#[derive(Debug)]
pub(crate) struct ParsedRequest {
    pub(crate) head: Request<()>,
    pub(crate) body: RequestBody,
    pub(crate) expect_continue: bool,
    /// Whether the request (alone) allows the connection to be reused.
    pub(crate) keep_alive: bool,
    pub(crate) wants_upgrade: bool,
}

/// Reusable scratch space for one connection's parses.
#[derive(Debug, Default)]
pub(crate) struct HeadScratch {
    fields: Vec<(Range<usize>, Range<usize>)>,
    /// Length of the buffer at the last incomplete parse; bytes before it hold no head end.
    partial_len: Option<usize>,
}

/// Parses the head at the front of `buf`.
///
/// `Ok(None)` means the head is incomplete and more bytes may complete it. A complete head's
/// header map is `spare` (cleared) when one is offered, which saves an allocation per request.
pub(crate) fn parse(
    buf: &mut BytesMut,
    cfg: &HeadConfig,
    scratch: &mut HeadScratch,
    spare: &mut Option<HeaderMap>,
) -> Result<Option<ParsedRequest>, Parse> {
    if buf.is_empty() {
        return Ok(None);
    }
    if let Some(prev) = scratch.partial_len {
        if !has_head_end(buf, prev.saturating_sub(3)) {
            return incomplete(buf, cfg, scratch);
        }
    }
    let max_headers = cfg.max_headers.unwrap_or(DEFAULT_MAX_HEADERS);
    let mut inline = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; DEFAULT_MAX_HEADERS];
    let mut heap;
    let slots: &mut [MaybeUninit<httparse::Header<'_>>] = if max_headers <= DEFAULT_MAX_HEADERS {
        &mut inline[..max_headers]
    } else {
        heap = Vec::with_capacity(max_headers);
        heap.resize_with(max_headers, MaybeUninit::uninit);
        &mut heap[..]
    };

    let bytes: &[u8] = buf;
    let mut req = httparse::Request::new(&mut []);
    let head_len = match cfg
        .parser
        .parse_request_with_uninit_headers(&mut req, bytes, slots)
    {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return incomplete(buf, cfg, scratch),
        Err(httparse::Error::Token) if req.method.is_none() => return Err(Parse::Method),
        Err(httparse::Error::Token) => return Err(Parse::Uri),
        Err(e) => return Err(parse_kind(e)),
    };
    scratch.partial_len = None;
    if cfg.max_header_size.is_some_and(|max| head_len > max) {
        return Err(Parse::TooLarge);
    }
    let (Some(method), Some(path), Some(minor)) = (req.method, req.path, req.version) else {
        return Err(Parse::Internal);
    };
    if path.len() > MAX_URI_LEN {
        return Err(Parse::UriTooLong);
    }
    let method = Method::from_bytes(method.as_bytes()).map_err(|_| Parse::Method)?;
    let path_range = offset_in(bytes, path.as_bytes());
    scratch.fields.clear();
    scratch.fields.extend(req.headers.iter().map(|h| {
        (
            offset_in(bytes, h.name.as_bytes()),
            offset_in(bytes, h.value),
        )
    }));

    let head = buf.split_to(head_len).freeze();
    let uri = Uri::from_maybe_shared(head.slice(path_range)).map_err(|_| Parse::Uri)?;
    let version = if minor == 1 {
        Version::HTTP_11
    } else {
        Version::HTTP_10
    };
    let headers = spare.take().unwrap_or_default();
    build(method, uri, version, &head, &scratch.fields, cfg, headers).map(Some)
}

fn incomplete(
    buf: &BytesMut,
    cfg: &HeadConfig,
    scratch: &mut HeadScratch,
) -> Result<Option<ParsedRequest>, Parse> {
    let len = buf.len();
    if cfg.max_header_size.is_some_and(|max| len >= max) || len >= cfg.max_buf {
        return Err(Parse::TooLarge);
    }
    scratch.partial_len = Some(len);
    Ok(None)
}

/// Whether `buf[from..]` contains the blank line ending a head (`\n\n` or `\n\r\n`).
fn has_head_end(buf: &[u8], from: usize) -> bool {
    let tail = buf.get(from..).unwrap_or_default();
    tail.iter()
        .enumerate()
        .any(|(i, &b)| b == b'\n' && matches!(&tail[i + 1..], [b'\n', ..] | [b'\r', b'\n', ..]))
}

fn offset_in(outer: &[u8], inner: &[u8]) -> Range<usize> {
    let start = inner.as_ptr() as usize - outer.as_ptr() as usize;
    start..start + inner.len()
}

fn parse_kind(e: httparse::Error) -> Parse {
    match e {
        httparse::Error::HeaderName
        | httparse::Error::HeaderValue
        | httparse::Error::NewLine
        | httparse::Error::Token => Parse::Header(Header::Token),
        httparse::Error::Status => Parse::Status,
        httparse::Error::TooManyHeaders => Parse::TooLarge,
        httparse::Error::Version => Parse::Version,
    }
}

/// Builds the request from a complete head and applies the framing rules:
///
/// - `Transfer-Encoding` is not allowed in HTTP/1.0, and its last coding must be `chunked`;
///   it overrides (and removes) any `Content-Length`, and their combination stops reuse of the
///   connection.
/// - Several `Content-Length` values must agree; only the first is kept.
/// - Once any `Connection` field says `close`, the connection closes; an HTTP/1.0 request
///   keeps it only with `keep-alive`.
fn build(
    method: Method,
    uri: Uri,
    version: Version,
    head: &Bytes,
    fields: &[(Range<usize>, Range<usize>)],
    cfg: &HeadConfig,
    mut headers: HeaderMap,
) -> Result<ParsedRequest, Parse> {
    let is_11 = version == Version::HTTP_11;
    let mut keep_alive = is_11;
    let mut saw_close = false;
    let mut body = RequestBody::Empty;
    let mut content_length: Option<u64> = None;
    let mut saw_content_length = false;
    let mut saw_te = false;
    let mut te_chunked = false;
    let mut expect_continue = false;
    let mut wants_upgrade = method == Method::CONNECT;
    let mut case_map = cfg.preserve_case.then(HeaderCaseMap::default);

    headers.clear();
    headers.reserve(fields.len());
    for (name_at, value_at) in fields {
        let name = HeaderName::from_bytes(&head[name_at.clone()]).map_err(|_| Parse::Internal)?;
        let value = HeaderValue::from_maybe_shared(head.slice(value_at.clone()))
            .map_err(|_| Parse::Header(Header::Token))?;
        match name {
            header::TRANSFER_ENCODING => {
                if !is_11 {
                    return Err(Parse::Header(Header::TransferEncodingUnexpected));
                }
                saw_te = true;
                if content_length.take().is_some() {
                    headers.remove(header::CONTENT_LENGTH);
                }
                te_chunked = ends_with_chunked(&value);
                if te_chunked {
                    body = RequestBody::Chunked;
                }
            }
            header::CONTENT_LENGTH => {
                saw_content_length = true;
                if saw_te {
                    continue;
                }
                let n = parse_content_length(value.as_bytes())
                    .ok_or(Parse::Header(Header::ContentLengthInvalid))?;
                match content_length {
                    Some(prev) if prev != n => {
                        return Err(Parse::Header(Header::ContentLengthInvalid))
                    }
                    Some(_) => continue,
                    None => {
                        if n > MAX_CONTENT_LENGTH {
                            return Err(Parse::TooLarge);
                        }
                        content_length = Some(n);
                        body = if n == 0 {
                            RequestBody::Empty
                        } else {
                            RequestBody::Length(n)
                        };
                    }
                }
            }
            header::CONNECTION => {
                if saw_close || says_close(&value) {
                    saw_close = true;
                    keep_alive = false;
                } else if !keep_alive {
                    keep_alive = says_keep_alive(&value);
                }
            }
            header::EXPECT => {
                expect_continue = value.as_bytes().eq_ignore_ascii_case(b"100-continue");
            }
            header::UPGRADE => wants_upgrade = is_11,
            _ => {}
        }
        if let Some(map) = &mut case_map {
            map.append(&name, head.slice(name_at.clone()));
        }
        headers.append(name, value);
    }

    if saw_te && !te_chunked {
        return Err(Parse::Header(Header::TransferEncodingInvalid));
    }
    if saw_te && saw_content_length {
        keep_alive = false;
    }

    let mut request = Request::new(());
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.version_mut() = version;
    *request.headers_mut() = headers;
    if let Some(map) = case_map {
        request.extensions_mut().insert(map);
    }
    Ok(ParsedRequest {
        head: request,
        body,
        expect_continue,
        keep_alive,
        wants_upgrade,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> HeadConfig {
        HeadConfig {
            parser: httparse::ParserConfig::default(),
            max_headers: None,
            max_header_size: None,
            max_buf: 8192 + 4096 * 100,
            preserve_case: false,
        }
    }

    fn parse_all(input: &[u8], cfg: &HeadConfig) -> Result<Option<ParsedRequest>, Parse> {
        let mut buf = BytesMut::from(input);
        parse(&mut buf, cfg, &mut HeadScratch::default(), &mut None)
    }

    #[test]
    fn every_prefix_of_a_valid_head_is_incomplete_and_the_whole_parses() {
        let input = b"POST /upload?x=1 HTTP/1.1\r\nHost: example\r\nContent-Length: 5\r\n\r\nhello";
        let head_len = input.len() - 5;
        let cfg = cfg();
        let mut scratch = HeadScratch::default();
        let mut buf = BytesMut::new();
        for (i, b) in input[..head_len].iter().enumerate() {
            buf.extend_from_slice(&[*b]);
            let r = parse(&mut buf, &cfg, &mut scratch, &mut None).unwrap();
            if i + 1 < head_len {
                assert!(r.is_none(), "prefix of {} bytes parsed", i + 1);
            } else {
                let req = r.expect("complete head");
                assert_eq!(req.head.method(), Method::POST);
                assert_eq!(req.head.uri(), "/upload?x=1");
                assert_eq!(req.body, RequestBody::Length(5));
                assert!(req.keep_alive);
            }
        }
        assert!(buf.is_empty());
    }

    #[test]
    fn framing_conflicts_are_resolved_or_rejected_like_upstream() {
        let c = cfg();
        let te_after_cl = parse_all(
            b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
            &c,
        )
        .unwrap()
        .unwrap();
        assert_eq!(te_after_cl.body, RequestBody::Chunked);
        assert!(!te_after_cl.keep_alive);
        assert!(te_after_cl.head.headers().get("content-length").is_none());

        let cases: &[(&[u8], Parse)] = &[
            (
                b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
                Parse::Header(Header::ContentLengthInvalid),
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 3,3\r\n\r\n",
                Parse::Header(Header::ContentLengthInvalid),
            ),
            (
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
                Parse::Header(Header::TransferEncodingInvalid),
            ),
            (
                b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
                Parse::Header(Header::TransferEncodingUnexpected),
            ),
            (b"G@T / HTTP/1.1\r\n\r\n", Parse::Method),
            (b"GET /\x01 HTTP/1.1\r\n\r\n", Parse::Uri),
            (b"GET / HTTP/1.2\r\n\r\n", Parse::Version),
            (
                b"GET / HTTP/1.1\r\nbad header\r\n\r\n",
                Parse::Header(Header::Token),
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 18446744073709551615\r\n\r\n",
                Parse::TooLarge,
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(
                parse_all(input, &c).unwrap_err(),
                *expected,
                "{}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn limits_map_to_too_large_and_uri_too_long() {
        let mut c = cfg();
        c.max_headers = Some(2);
        assert_eq!(
            parse_all(b"GET / HTTP/1.1\r\na: 1\r\nb: 2\r\nc: 3\r\n\r\n", &c).unwrap_err(),
            Parse::TooLarge
        );
        let mut c = cfg();
        c.max_buf = 8192;
        let big = vec![b'a'; 9000];
        let mut input = b"GET / HTTP/1.1\r\nx: ".to_vec();
        input.extend_from_slice(&big);
        assert_eq!(parse_all(&input, &c).unwrap_err(), Parse::TooLarge);
        let mut long = b"GET /".to_vec();
        long.extend(std::iter::repeat(b'a').take(MAX_URI_LEN));
        long.extend_from_slice(b" HTTP/1.1\r\n\r\n");
        assert_eq!(parse_all(&long, &cfg()).unwrap_err(), Parse::UriTooLong);
    }

    #[test]
    fn connection_close_sticks_and_http10_needs_keep_alive() {
        let c = cfg();
        let r = parse_all(
            b"GET / HTTP/1.1\r\nConnection: close\r\nConnection: keep-alive\r\n\r\n",
            &c,
        )
        .unwrap()
        .unwrap();
        assert!(!r.keep_alive);
        let r = parse_all(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &c)
            .unwrap()
            .unwrap();
        assert!(r.keep_alive);
        assert_eq!(r.head.version(), Version::HTTP_10);
        let r = parse_all(b"GET / HTTP/1.0\r\nUpgrade: x\r\n\r\n", &c)
            .unwrap()
            .unwrap();
        assert!(!r.keep_alive && !r.wants_upgrade);
        let r = parse_all(b"CONNECT a:1 HTTP/1.1\r\nExpect: 100-Continue\r\n\r\n", &c)
            .unwrap()
            .unwrap();
        assert!(r.wants_upgrade && r.expect_continue);
    }

    #[test]
    fn original_header_case_is_recorded_when_asked() {
        let mut c = cfg();
        c.preserve_case = true;
        let r = parse_all(
            b"GET / HTTP/1.1\r\nX-Mixed-CASE: 1\r\nx-mixed-case: 2\r\n\r\n",
            &c,
        )
        .unwrap()
        .unwrap();
        let map = r
            .head
            .extensions()
            .get::<HeaderCaseMap>()
            .expect("case map");
        let name = HeaderName::from_static("x-mixed-case");
        let spellings: Vec<&Bytes> = map.get_all(&name).collect();
        assert_eq!(
            spellings,
            [
                &Bytes::from_static(b"X-Mixed-CASE"),
                &Bytes::from_static(b"x-mixed-case")
            ]
        );
    }

    #[test]
    fn head_end_detection_accepts_bare_newlines() {
        assert!(has_head_end(b"GET / HTTP/1.1\n\n", 0));
        assert!(has_head_end(b"GET / HTTP/1.1\r\n\r\n", 0));
        assert!(has_head_end(b"GET / HTTP/1.1\n\r\n", 0));
        assert!(!has_head_end(b"GET / HTTP/1.1\r\nHost: x\r\n", 0));
    }
}
