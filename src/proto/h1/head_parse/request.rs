//! Parsing a request head from the front of a server's read buffer.
//!
//! [`parse`] either takes a complete head off the buffer (leaving the body and anything after
//! it in place), asks for more bytes, or rejects the input with the [`Parse`] kind that picks
//! the server's error status. Framing headers are checked the way hyper 1.13 checks them, so a
//! request is framed identically (and smuggling attempts rejected identically) by both.
use std::ops::Range;

use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderMap};
use http::{Method, Request, Uri, Version};

use super::{field, offset_in, parse_kind, take_head, with_field_slots, HeadConfig, HeadScratch};
use crate::error::{Header, Parse};
use crate::ext::HeaderCaseMap;
use crate::proto::h1::framing::decode::Framing;
use crate::proto::h1::header_values::{
    ends_with_chunked, list_contains, parse_content_length, says_close, says_keep_alive,
    MAX_CONTENT_LENGTH,
};

/// Longest request target accepted; longer is `414 URI Too Long`.
const MAX_URI_LEN: usize = u16::MAX as usize - 1;

#[derive(Debug)]
pub(crate) struct ParsedRequest {
    pub(crate) head: Request<()>,
    pub(crate) body: Framing,
    pub(crate) expect_continue: bool,
    /// Whether the request (alone) allows the connection to be reused.
    pub(crate) keep_alive: bool,
    pub(crate) wants_upgrade: bool,
    /// A `TE` field lists `trailers`: the response may carry trailers.
    pub(crate) te_trailers: bool,
}

/// Parses the head at the front of `buf`.
///
/// `Ok(None)` means the head is incomplete and more bytes may complete it. A complete head's
/// header map is `spare` when one is offered, which saves an allocation per request; `spare`
/// must be empty (the engine empties a map before it keeps one).
pub(crate) fn parse(
    buf: &mut BytesMut,
    cfg: &HeadConfig,
    scratch: &mut HeadScratch,
    spare: &mut Option<HeaderMap>,
) -> Result<Option<ParsedRequest>, Parse> {
    if !scratch.worth_parsing(buf) {
        scratch.incomplete(buf, cfg, false)?;
        return Ok(None);
    }
    let bytes: &[u8] = buf;
    let parsed = with_field_slots(cfg.max_headers, |slots| {
        let mut req = httparse::Request::new(&mut []);
        let head_len = match cfg
            .parser
            .parse_request_with_uninit_headers(&mut req, bytes, slots)
        {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(httparse::Error::Token) if req.method.is_none() => return Err(Parse::Method),
            Err(httparse::Error::Token) => return Err(Parse::Uri),
            Err(e) => return Err(parse_kind(e)),
        };
        if cfg.max_header_size.is_some_and(|max| head_len > max) {
            return Err(Parse::TooLarge);
        }
        let (Some(method), Some(path), Some(minor)) = (req.method, req.path, req.version) else {
            return Err(Parse::Internal);
        };
        if path.len() > MAX_URI_LEN {
            return Err(Parse::UriTooLong);
        }
        let method = match method {
            // Most requests: skip the general lookup (which returns the same constant).
            "GET" => Method::GET,
            other => Method::from_bytes(other.as_bytes()).map_err(|_| Parse::Method)?,
        };
        scratch.complete(bytes, req.headers)?;
        Ok(Some((
            head_len,
            method,
            offset_in(bytes, path.as_bytes()),
            minor,
        )))
    })?;
    let Some((head_len, method, path_at, minor)) = parsed else {
        scratch.incomplete(buf, cfg, true)?;
        return Ok(None);
    };
    let head = take_head(buf, head_len);
    let uri = Uri::from_maybe_shared(head.slice(path_at)).map_err(|_| Parse::Uri)?;
    let version = if minor == 1 {
        Version::HTTP_11
    } else {
        Version::HTTP_10
    };
    let headers = spare.take().unwrap_or_default();
    build(method, uri, version, &head, &scratch.fields, cfg, headers)
}

/// Builds the request from a complete head (always `Some`: the type is `parse`'s, which
/// saves moving the request once more) and applies the framing rules:
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
) -> Result<Option<ParsedRequest>, Parse> {
    let is_11 = version == Version::HTTP_11;
    let mut keep_alive = is_11;
    let mut saw_close = false;
    let mut body = Framing::Empty;
    let mut content_length: Option<u64> = None;
    let mut saw_content_length = false;
    let mut saw_te = false;
    let mut te_chunked = false;
    let mut expect_continue = false;
    let mut wants_upgrade = method == Method::CONNECT;
    let mut te_trailers = false;
    let mut case_map = cfg.preserve_case.then(HeaderCaseMap::default);

    debug_assert!(
        headers.is_empty(),
        "a spare header map is handed over empty"
    );
    headers.reserve(fields.len());
    for (name_at, value_at) in fields {
        let (name, value) = field(head, name_at, value_at)?;
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
                    body = Framing::Chunked;
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
                            Framing::Empty
                        } else {
                            Framing::Length(n)
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
            header::TE => te_trailers |= list_contains(&value, "trailers"),
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
    // The placeholders replaced here own no memory (an empty `HeaderMap` never allocates, the
    // default `Uri` is static): forgetting them skips their destructors, which is all.
    std::mem::forget(std::mem::replace(request.uri_mut(), uri));
    *request.version_mut() = version;
    std::mem::forget(std::mem::replace(request.headers_mut(), headers));
    if let Some(map) = case_map {
        request.extensions_mut().insert(map);
    }
    Ok(Some(ParsedRequest {
        head: request,
        body,
        expect_continue,
        keep_alive,
        wants_upgrade,
        te_trailers,
    }))
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
                assert_eq!(req.body, Framing::Length(5));
                assert!(req.keep_alive);
            }
        }
        assert!(buf.is_empty());
    }

    #[test]
    fn methods_are_what_the_general_lookup_makes_of_them() {
        for name in [
            "GET",
            "POST",
            "HEAD",
            "PUT",
            "CONNECT",
            "PURGE",
            "get",
            "MKCALENDAR",
        ] {
            let input = format!("{name} / HTTP/1.1\r\n\r\n");
            let req = parse_all(input.as_bytes(), &cfg()).unwrap().unwrap();
            assert_eq!(
                req.head.method(),
                Method::from_bytes(name.as_bytes()).unwrap()
            );
            assert_eq!(req.head.method().as_str(), name);
        }
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
        assert_eq!(te_after_cl.body, Framing::Chunked);
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
        long.extend(std::iter::repeat_n(b'a', MAX_URI_LEN));
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
        let name = http::header::HeaderName::from_static("x-mixed-case");
        let spellings: Vec<&Bytes> = map.get_all(&name).collect();
        assert_eq!(
            spellings,
            [
                &Bytes::from_static(b"X-Mixed-CASE"),
                &Bytes::from_static(b"x-mixed-case")
            ]
        );
    }
}
