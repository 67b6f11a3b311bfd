//! Parsing a response head from the front of a client's read buffer.
//!
//! [`parse`] takes a complete head off the buffer, reports an interim (1xx) response, asks
//! for more bytes, or rejects the input. How the body is delimited follows RFC 9112 section
//! 6.3 as hyper 1.13 applies it, including the request's method (no body after HEAD, a tunnel
//! after a successful CONNECT) and, when enabled, HTTP/0.9 answers and folded header values.
use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode, Version};

use super::{field, parse_kind, take_head, with_field_slots, HeadConfig, HeadScratch};
use crate::error::Parse;
use crate::ext::HeaderCaseMap;
use crate::proto::h1::framing::decode::Framing;
use crate::proto::h1::header_values::{
    declared_content_length, ends_with_chunked, says_close, says_keep_alive, MAX_CONTENT_LENGTH,
};

/// A response head parsed by a client.
#[derive(Debug)]
pub(crate) enum ParsedResponse {
    /// A 1xx response other than 101: reported, then the final response follows.
    Interim(http::Response<()>),
    Final(FinalResponse),
}

#[derive(Debug)]
pub(crate) struct FinalResponse {
    pub(crate) head: http::Response<()>,
    pub(crate) body: Framing,
    /// Whether the response allows the connection to be reused.
    pub(crate) keep_alive: bool,
    /// `101 Switching Protocols`, or a successful CONNECT: the connection becomes a tunnel.
    pub(crate) upgrade: bool,
}

/// Parses the response head at the front of `buf`; `Ok(None)` when incomplete. `spare`, an
/// empty map, becomes the response's header map when offered.
///
/// `request_method` decides which responses carry no body (HEAD) or open a tunnel
/// (CONNECT). With `http09`, a response that does not start with a status line is taken as an
/// HTTP/0.9 body running to the end of the connection.
pub(crate) fn parse(
    buf: &mut BytesMut,
    cfg: &HeadConfig,
    scratch: &mut HeadScratch,
    spare: &mut Option<HeaderMap>,
    request_method: Option<&Method>,
    http09: bool,
) -> Result<Option<ParsedResponse>, Parse> {
    if !scratch.worth_parsing(buf) {
        scratch.incomplete(buf, cfg, false)?;
        return Ok(None);
    }
    let bytes: &[u8] = buf;
    let parsed = with_field_slots(cfg.max_headers, |slots| {
        let mut res = httparse::Response::new(&mut []);
        let head_len = match cfg
            .parser
            .parse_response_with_uninit_headers(&mut res, bytes, slots)
        {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(httparse::Error::Version) if http09 => return Ok(Some(StatusLine::Http09)),
            Err(e) => return Err(parse_kind(e)),
        };
        if cfg.max_header_size.is_some_and(|max| head_len > max) {
            return Err(Parse::TooLarge);
        }
        let (Some(code), Some(reason), Some(minor)) = (res.code, res.reason, res.version) else {
            return Err(Parse::Internal);
        };
        let status = StatusCode::from_u16(code).map_err(|_| Parse::Status)?;
        let reason = (Some(reason) != status.canonical_reason())
            .then(|| Bytes::copy_from_slice(reason.as_bytes()));
        scratch.complete(bytes, res.headers)?;
        Ok(Some(StatusLine::Http1 {
            head_len,
            status,
            reason,
            minor,
        }))
    })?;
    let (head_len, status, reason, version) = match parsed {
        None => {
            scratch.incomplete(buf, cfg, true)?;
            return Ok(None);
        }
        Some(StatusLine::Http09) => return http09_response(request_method).map(Some),
        Some(StatusLine::Http1 {
            head_len,
            status,
            reason,
            minor,
        }) => (
            head_len,
            status,
            reason,
            if minor == 1 {
                Version::HTTP_11
            } else {
                Version::HTTP_10
            },
        ),
    };
    let head = take_head(buf, head_len);
    let unfold = cfg
        .parser
        .obsolete_multiline_headers_in_responses_are_allowed();

    let mut headers = spare.take().unwrap_or_default();
    debug_assert!(
        headers.is_empty(),
        "a spare header map is handed over empty"
    );
    let fields = read_fields(&head, scratch, unfold, cfg.preserve_case, &mut headers)?;
    let keep_alive = fields.keep_alive(version);
    let case_map = fields.case_map;

    let mut response = http::Response::new(());
    *response.status_mut() = status;
    *response.version_mut() = version;
    *response.headers_mut() = headers;
    if let Some(map) = case_map {
        response.extensions_mut().insert(map);
    }
    if let Some(reason) = reason {
        response
            .extensions_mut()
            .insert(crate::ext::ReasonPhrase::from_bytes_unchecked(reason));
    }

    let Some((body, upgrade)) = response_framing(&response, request_method)? else {
        return Ok(Some(ParsedResponse::Interim(response)));
    };
    Ok(Some(ParsedResponse::Final(FinalResponse {
        head: response,
        body,
        // A tunnel never carries another HTTP exchange.
        keep_alive: keep_alive && !upgrade,
        upgrade,
    })))
}

/// The answer to a request that got an HTTP/0.9 response (allowed by the builder): a `200`
/// without headers, framed like any other response to the request's method, so it carries no
/// body after a HEAD and opens a tunnel after a CONNECT.
fn http09_response(request_method: Option<&Method>) -> Result<ParsedResponse, Parse> {
    let mut head = http::Response::new(());
    *head.version_mut() = Version::HTTP_09;
    // (A 200 is never interim, so the fallback is never taken.)
    let (body, upgrade) =
        response_framing(&head, request_method)?.unwrap_or((Framing::UntilClose, false));
    Ok(ParsedResponse::Final(FinalResponse {
        head,
        body,
        keep_alive: false,
        upgrade,
    }))
}

/// What a response's fields say beyond the map itself.
struct FieldFacts {
    case_map: Option<HeaderCaseMap>,
    /// Some `connection` field says `close` (which no later `keep-alive` undoes).
    saw_close: bool,
    /// Some `connection` field says `keep-alive` before any says `close`.
    saw_keep_alive: bool,
}

impl FieldFacts {
    /// HTTP/1.1 keeps the connection unless told to close; HTTP/1.0 closes it unless told
    /// to keep it.
    fn keep_alive(&self, version: Version) -> bool {
        !self.saw_close && (version == Version::HTTP_11 || self.saw_keep_alive)
    }
}

/// Fills `headers` with the fields `scratch` located in `head` (unfolding obsolete line
/// folding where the parser allows it), recording spellings when `preserve_case`.
fn read_fields(
    head: &Bytes,
    scratch: &HeadScratch,
    unfold: bool,
    preserve_case: bool,
    headers: &mut HeaderMap,
) -> Result<FieldFacts, Parse> {
    headers.reserve(scratch.fields.len());
    let mut facts = FieldFacts {
        case_map: preserve_case.then(HeaderCaseMap::default),
        saw_close: false,
        saw_keep_alive: false,
    };
    for (name_at, value_at) in &scratch.fields {
        let (name, value) = if unfold && head[value_at.clone()].contains(&b'\n') {
            // A folded value holds line breaks, which no `HeaderValue` may: unfold it first.
            let name = HeaderName::from_bytes(&head[name_at.clone()])
                .map_err(|_| Parse::Header(crate::error::Header::Token))?;
            (name, unfold_value(&head[value_at.clone()])?)
        } else {
            field(head, name_at, value_at)?
        };
        if name == header::CONNECTION {
            if facts.saw_close || says_close(&value) {
                facts.saw_close = true;
            } else if !facts.saw_keep_alive {
                facts.saw_keep_alive = says_keep_alive(&value);
            }
        }
        if let Some(map) = &mut facts.case_map {
            map.append(&name, head.slice(name_at.clone()));
        }
        headers.append(name, value);
    }
    // With both framing headers, `transfer-encoding` decides the body's length; a
    // `content-length` left in the map would tell the application a length the body does
    // not have.
    if headers.contains_key(header::TRANSFER_ENCODING) {
        headers.remove(header::CONTENT_LENGTH);
    }
    Ok(facts)
}

enum StatusLine {
    Http1 {
        head_len: usize,
        status: StatusCode,
        reason: Option<Bytes>,
        minor: u8,
    },
    Http09,
}

/// How a response's body is delimited (RFC 9112 section 6.3), and whether it opens a
/// tunnel; `None` for interim (1xx) responses.
fn response_framing(
    res: &http::Response<()>,
    method: Option<&Method>,
) -> Result<Option<(Framing, bool)>, Parse> {
    match res.status().as_u16() {
        101 => return Ok(Some((Framing::Empty, true))),
        100..=199 => return Ok(None),
        204 | 304 => return Ok(Some((Framing::Empty, false))),
        _ => {}
    }
    if method == Some(&Method::HEAD) {
        return Ok(Some((Framing::Empty, false)));
    }
    if method == Some(&Method::CONNECT) && res.status().is_success() {
        return Ok(Some((Framing::Empty, true)));
    }
    let headers = res.headers();
    let framing = if headers.contains_key(header::TRANSFER_ENCODING) {
        if res.version() == Version::HTTP_10 {
            return Err(Parse::Header(
                crate::error::Header::TransferEncodingUnexpected,
            ));
        }
        let chunked_last = headers
            .get_all(header::TRANSFER_ENCODING)
            .iter()
            .next_back()
            .is_some_and(ends_with_chunked);
        if chunked_last {
            Framing::Chunked
        } else {
            Framing::UntilClose
        }
    } else if let Some(n) = declared_content_length(headers) {
        if n > MAX_CONTENT_LENGTH {
            return Err(Parse::TooLarge);
        }
        if n == 0 {
            Framing::Empty
        } else {
            Framing::Length(n)
        }
    } else if headers.contains_key(header::CONTENT_LENGTH) {
        return Err(Parse::Header(crate::error::Header::ContentLengthInvalid));
    } else {
        Framing::UntilClose
    };
    Ok(Some((framing, false)))
}

/// Replaces each obsolete line fold (a line break followed by whitespace) with one space,
/// trimming the pieces, as RFC 9112 section 5.2 asks of a recipient.
fn unfold_value(folded: &[u8]) -> Result<HeaderValue, Parse> {
    let mut lines = folded.split(|b| *b == b'\n');
    let mut out = lines.next().unwrap_or_default().trim_ascii_end().to_vec();
    for line in lines {
        out.push(b' ');
        out.extend_from_slice(line.trim_ascii());
    }
    HeaderValue::from_bytes(&out).map_err(|_| Parse::Header(crate::error::Header::Token))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> HeadConfig {
        HeadConfig {
            parser: httparse::ParserConfig::default(),
            max_headers: None,
            max_header_size: None,
            max_buf: 1 << 16,
            preserve_case: false,
        }
    }

    /// Parses a complete response head to a GET.
    fn parse_final(bytes: &[u8]) -> FinalResponse {
        let mut buf = BytesMut::from(bytes);
        let parsed = parse(
            &mut buf,
            &config(),
            &mut HeadScratch::default(),
            &mut None,
            Some(&Method::GET),
            false,
        );
        match parsed {
            Ok(Some(ParsedResponse::Final(response))) => response,
            other => panic!("expected a final response, got {other:?}"),
        }
    }

    #[test]
    fn with_both_framing_headers_only_transfer_encoding_is_visible() {
        for head in [
            &b"HTTP/1.1 200 OK\r\ncontent-length: 7\r\ntransfer-encoding: chunked\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: 7\r\n\r\n",
        ] {
            let response = parse_final(head);
            assert_eq!(response.body, Framing::Chunked);
            let headers = response.head.headers();
            assert!(!headers.contains_key(header::CONTENT_LENGTH), "{headers:?}");
            assert_eq!(headers[header::TRANSFER_ENCODING], "chunked");
        }
    }

    fn parse_with(
        bytes: &[u8],
        cfg: &HeadConfig,
        http09: bool,
    ) -> Result<Option<ParsedResponse>, Parse> {
        let mut buf = BytesMut::from(bytes);
        parse(
            &mut buf,
            cfg,
            &mut HeadScratch::default(),
            &mut None,
            Some(&Method::GET),
            http09,
        )
    }

    #[test]
    fn folded_values_are_joined_with_single_spaces_when_allowed() {
        let head = b"HTTP/1.1 200 OK\r\nX-Folded: first\r\n second\r\n\t third\r\nX-Plain: p\r\ncontent-length: 0\r\n\r\n";
        let mut cfg = config();
        cfg.parser
            .allow_obsolete_multiline_headers_in_responses(true);
        for step in 1..=head.len() {
            // Whatever the pieces, the parse of the whole head gives the same result.
            let mut buf = BytesMut::new();
            let mut scratch = HeadScratch::default();
            let mut parsed = None;
            for piece in head.chunks(step) {
                buf.extend_from_slice(piece);
                if let Some(p) = parse(
                    &mut buf,
                    &cfg,
                    &mut scratch,
                    &mut None,
                    Some(&Method::GET),
                    false,
                )
                .unwrap()
                {
                    parsed = Some(p);
                }
            }
            let Some(ParsedResponse::Final(response)) = parsed else {
                panic!("pieces of {step}: no response");
            };
            let headers = response.head.headers();
            assert_eq!(
                headers["x-folded"], "first second third",
                "pieces of {step}"
            );
            assert_eq!(headers["x-plain"], "p");
        }
        assert!(
            parse_with(head, &config(), false).is_err(),
            "folding is rejected unless allowed"
        );
    }

    #[test]
    fn a_bare_body_is_an_http09_response_when_allowed_without_waiting_for_a_blank_line() {
        // As on a connection: a first attempt finds the buffer empty, then the bytes arrive.
        let mut buf = BytesMut::new();
        let mut scratch = HeadScratch::default();
        let method = Some(&Method::GET);
        assert!(matches!(
            parse(&mut buf, &config(), &mut scratch, &mut None, method, true),
            Ok(None)
        ));
        buf.extend_from_slice(b"just some text");
        let parsed = parse(&mut buf, &config(), &mut scratch, &mut None, method, true).unwrap();
        let Some(ParsedResponse::Final(response)) = parsed else {
            panic!("expected an HTTP/0.9 response, got {parsed:?}");
        };
        assert_eq!(response.head.version(), Version::HTTP_09);
        assert_eq!(response.body, Framing::UntilClose);
        // A prefix of a status line still waits for more.
        assert!(matches!(parse_with(b"HTT", &config(), true), Ok(None)));
        assert!(parse_with(b"just some text", &config(), false).is_err());
    }

    #[test]
    fn a_lone_content_length_stays_visible() {
        let response = parse_final(b"HTTP/1.1 200 OK\r\ncontent-length: 7\r\n\r\n");
        assert_eq!(response.body, Framing::Length(7));
        assert_eq!(response.head.headers()[header::CONTENT_LENGTH], "7");
    }
}
