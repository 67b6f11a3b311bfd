//! Encoding a server's response head, and choosing how its body is framed.
//!
//! The bytes produced here are meant to equal upstream hyper 1.13's for every response it
//! encodes correctly (header order, casing, which framing header is added, where `date` goes),
//! so that switching to this crate changes nothing on the wire. Where upstream would panic or
//! corrupt a header, this module returns an error or writes the correct bytes instead; those
//! cases are listed in `UPSTREAM.md`.
use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Extensions, Method, StatusCode, Version};

use super::body_decoder::Framing;
use super::body_encoder::{BodyEncoder, BodySize};
use super::head_scan::{field, parse_kind, take_head, with_field_slots, HeadConfig, HeadScratch};
use super::header_values::{
    ends_with_chunked, parse_content_length, says_close, says_keep_alive, MAX_CONTENT_LENGTH,
};
use super::request_head::declared_content_length;
use crate::error::{Error, Parse, User};
use crate::ext::HeaderCaseMap;
use crate::proto::date;

/// The parts of a response that end up in its head.
pub(crate) struct ResponseHead {
    pub(crate) status: StatusCode,
    pub(crate) version: Version,
    pub(crate) headers: HeaderMap,
    pub(crate) extensions: Extensions,
}

/// Connection facts the encoding depends on.
pub(crate) struct EncodeContext<'a> {
    pub(crate) request_method: Option<&'a Method>,
    /// Whether the connection still intends to serve another request after this one.
    pub(crate) keep_alive: bool,
    pub(crate) title_case: bool,
    pub(crate) date_header: bool,
}

/// The result of encoding a head.
#[derive(Debug)]
pub(crate) struct Encoded {
    pub(crate) body: BodyEncoder,
    /// The connection must close once this response is written.
    pub(crate) closes: bool,
    /// The head written is not the one the application asked for; report this once the
    /// connection ends.
    pub(crate) replaced_because: Option<Error>,
}

/// Statuses and methods after which a response carries no body at all.
fn may_have_body(method: Option<&Method>, status: StatusCode) -> bool {
    let connect_ok = method == Some(&Method::CONNECT) && status.is_success();
    !(method == Some(&Method::HEAD)
        || connect_ok
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED)
}

/// Statuses and methods whose responses may announce a `content-length`.
fn may_have_length(method: Option<&Method>, status: StatusCode) -> bool {
    let connect_ok = method == Some(&Method::CONNECT) && status.is_success();
    !(connect_ok
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED)
}

/// Encodes `head` into `dst` and returns how its body must be framed.
///
/// On `Err`, whatever was appended to `dst` must be discarded (the caller's
/// `OutBuf::encode_flat` does that).
pub(crate) fn encode(
    head: &mut ResponseHead,
    size: BodySize,
    cx: &EncodeContext<'_>,
    dst: &mut BytesMut,
) -> Result<Encoded, Error> {
    if let Some(encoded) = encode_bare(head, size, cx, dst) {
        return Ok(encoded);
    }
    let method = cx.request_method;
    let mut size = size;
    let mut replaced_because = None;
    let mut closes = !cx.keep_alive;
    let mut length_fixed = false;

    if head.status == StatusCode::SWITCHING_PROTOCOLS {
        closes = true;
    } else if method == Some(&Method::CONNECT) && head.status.is_success() {
        // A tunnel's response never announces a body length.
        length_fixed = true;
        closes = true;
    } else if head.status.is_informational() {
        // A service answers once; an interim response would leave the request unanswered,
        // so the peer gets a 500 and the application an error.
        *head = ResponseHead {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            version: Version::HTTP_11,
            headers: HeaderMap::new(),
            extensions: Extensions::new(),
        };
        size = BodySize::Empty;
        closes = true;
        replaced_because = Some(Error::new_user(User::UnsupportedStatusCode));
    }

    write_status_line(head, dst);

    let case_map = head.extensions.get::<HeaderCaseMap>();
    let mut names = NameWriter {
        case_map,
        title_case: cx.title_case,
        group: None,
        index: 0,
    };
    let mut state = HeaderState {
        length_fixed,
        open: Open::None,
        framing: None,
        wrote_date: false,
        first_length: None,
        te_add_chunked: false,
        closes,
        trailer_names: None,
    };

    let chunk_ok = head.version != Version::HTTP_10 && may_have_body(method, head.status);
    let mut previous: Option<&HeaderName> = None;
    for (name, value) in head.headers.iter() {
        let new_group = previous != Some(name);
        if new_group {
            state.close_line(dst);
        }
        previous = Some(name);
        match *name {
            header::CONTENT_LENGTH => {
                if state.length_fixed && state.open != Open::ContentLength {
                    return Err(Error::new_user(User::UnexpectedHeader));
                }
                match size {
                    BodySize::Known(n) => {
                        if state.open == Open::ContentLength {
                            continue;
                        }
                        let declared = parse_content_length(value.as_bytes());
                        if method != Some(&Method::HEAD) && declared != Some(n) {
                            // The body and the header disagree: either the peer waits for
                            // bytes that never come, or reads body bytes as the next message.
                            return Err(Error::new_user(User::UnexpectedHeader));
                        }
                        state.framing = Some(BodyEncoder::Length(n));
                        names.write(dst, name);
                        dst.extend_from_slice(b": ");
                        dst.extend_from_slice(value.as_bytes());
                        state.length_fixed = true;
                        state.open = Open::ContentLength;
                    }
                    BodySize::Unknown => {
                        let n = parse_content_length(value.as_bytes())
                            .ok_or_else(|| Error::new_user(User::UnexpectedHeader))?;
                        if state.open == Open::ContentLength {
                            if state.first_length != Some(n) {
                                return Err(Error::new_user(User::UnexpectedHeader));
                            }
                            continue;
                        }
                        state.framing = Some(BodyEncoder::Length(n));
                        state.first_length = Some(n);
                        names.write(dst, name);
                        dst.extend_from_slice(b": ");
                        dst.extend_from_slice(value.as_bytes());
                        state.length_fixed = true;
                        state.open = Open::ContentLength;
                    }
                    BodySize::Empty => {
                        if method != Some(&Method::HEAD) {
                            // No body: the implicit `content-length: 0` below says so.
                            continue;
                        }
                        // A HEAD response may describe the body a GET would get.
                        state.length_fixed = true;
                        write_plain(&mut names, dst, name, value);
                    }
                }
            }
            header::TRANSFER_ENCODING => {
                if state.length_fixed && state.open != Open::TransferEncoding {
                    return Err(Error::new_user(User::UnexpectedHeader));
                }
                if !chunk_ok {
                    continue;
                }
                state.length_fixed = true;
                let needs_chunked = !ends_with_chunked(value);
                if state.open == Open::TransferEncoding {
                    dst.extend_from_slice(b", ");
                } else {
                    state.framing = Some(BodyEncoder::Chunked {
                        trailer_names: None,
                    });
                    names.write(dst, name);
                    dst.extend_from_slice(b": ");
                }
                dst.extend_from_slice(value.as_bytes());
                state.open = Open::TransferEncoding;
                state.te_add_chunked = needs_chunked;
            }
            header::CONNECTION => {
                if says_close(value) {
                    state.closes = true;
                }
                state.append_to_line(&mut names, dst, name, value, Open::Connection);
            }
            header::TRAILER => {
                if !chunk_ok {
                    continue;
                }
                state.append_to_line(&mut names, dst, name, value, Open::Trailer);
                if let Ok(list) = value.to_str() {
                    let announced = state.trailer_names.get_or_insert_with(Vec::new);
                    announced
                        .extend(list.split(',').filter_map(|item| {
                            HeaderName::from_bytes(item.trim().as_bytes()).ok()
                        }));
                }
            }
            header::DATE => {
                state.wrote_date = true;
                write_plain(&mut names, dst, name, value);
            }
            _ => write_plain(&mut names, dst, name, value),
        }
    }
    state.close_line(dst);

    let mut framing = match state.framing.take() {
        Some(framing) if state.length_fixed => framing,
        _ if state.length_fixed => BodyEncoder::Length(0),
        _ => match size {
            BodySize::Unknown if chunk_ok => {
                names.write(dst, &header::TRANSFER_ENCODING);
                dst.extend_from_slice(b": chunked\r\n");
                BodyEncoder::Chunked {
                    trailer_names: None,
                }
            }
            BodySize::Unknown => BodyEncoder::UntilClose,
            BodySize::Empty | BodySize::Known(0) => {
                if may_have_length(method, head.status) && method != Some(&Method::HEAD) {
                    names.write(dst, &header::CONTENT_LENGTH);
                    dst.extend_from_slice(b": 0\r\n");
                }
                BodyEncoder::Length(0)
            }
            BodySize::Known(n) => {
                if may_have_length(method, head.status) {
                    names.write(dst, &header::CONTENT_LENGTH);
                    dst.extend_from_slice(b": ");
                    dst.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
                    dst.extend_from_slice(b"\r\n");
                    BodyEncoder::Length(n)
                } else {
                    BodyEncoder::Length(0)
                }
            }
        },
    };

    if !may_have_body(method, head.status) {
        framing = BodyEncoder::Length(0);
    }

    if !state.wrote_date && cx.date_header {
        names.write(dst, &header::DATE);
        dst.extend_from_slice(b": ");
        date::append_to(dst);
        dst.extend_from_slice(b"\r\n");
    }
    dst.extend_from_slice(b"\r\n");

    if let (BodyEncoder::Chunked { trailer_names }, Some(announced)) =
        (&mut framing, state.trailer_names.take())
    {
        *trailer_names = Some(announced);
    }

    Ok(Encoded {
        body: framing,
        closes: state.closes,
        replaced_because,
    })
}

/// The longest head [`encode_bare`] writes: a status line with the longest reason phrase,
/// a 20-digit `content-length`, `date`, and the blank line.
const BARE_HEAD_MAX: usize = 160;

/// The common response, encoded without walking any header map: no headers, no extensions
/// (so no custom reason or recorded casing), no title case, a status whose body is framed by
/// a length this crate computes, or chunked in HTTP/1.1. Writes exactly what [`encode`]
/// writes for it (status line, the framing header, `date`, blank line) with one copy into
/// `dst`. `None` (and nothing written) for anything else.
fn encode_bare(
    head: &ResponseHead,
    size: BodySize,
    cx: &EncodeContext<'_>,
    dst: &mut BytesMut,
) -> Option<Encoded> {
    let method = cx.request_method;
    if !head.headers.is_empty()
        || !head.extensions.is_empty()
        || cx.title_case
        || !may_have_body(method, head.status)
    {
        return None;
    }
    let reason = head.status.canonical_reason()?;
    let is_10 = head.version == Version::HTTP_10;
    let mut line = BareHead {
        buf: [0; BARE_HEAD_MAX],
        len: 0,
    };
    if head.status == StatusCode::OK && !is_10 {
        line.push(b"HTTP/1.1 200 OK\r\n");
    } else {
        line.push(if is_10 { b"HTTP/1.0 " } else { b"HTTP/1.1 " });
        line.push(head.status.as_str().as_bytes());
        line.push(b" ");
        line.push(reason.as_bytes());
        line.push(b"\r\n");
    }
    let body = match size {
        BodySize::Empty | BodySize::Known(0) => {
            line.push(b"content-length: 0\r\n");
            BodyEncoder::Length(0)
        }
        BodySize::Known(n) => {
            line.push(b"content-length: ");
            line.push(itoa::Buffer::new().format(n).as_bytes());
            line.push(b"\r\n");
            BodyEncoder::Length(n)
        }
        BodySize::Unknown if !is_10 => {
            line.push(b"transfer-encoding: chunked\r\n");
            BodyEncoder::Chunked {
                trailer_names: None,
            }
        }
        BodySize::Unknown => return None,
    };
    if cx.date_header {
        line.push(b"date: ");
        line.push(&date::current());
        line.push(b"\r\n");
    }
    line.push(b"\r\n");
    dst.extend_from_slice(&line.buf[..line.len]);
    Some(Encoded {
        body,
        closes: !cx.keep_alive,
        replaced_because: None,
    })
}

/// A head assembled on the stack, at most [`BARE_HEAD_MAX`] bytes.
struct BareHead {
    buf: [u8; BARE_HEAD_MAX],
    len: usize,
}

impl BareHead {
    #[inline(always)]
    fn push(&mut self, bytes: &[u8]) {
        let end = self.len + bytes.len();
        self.buf[self.len..end].copy_from_slice(bytes);
        self.len = end;
    }
}

// ===== parsing (client) =====

/// A response head parsed by a client.
#[cfg(feature = "client")]
#[derive(Debug)]
pub(crate) enum ParsedResponse {
    /// A 1xx response other than 101: reported, then the final response follows.
    Interim(http::Response<()>),
    Final(FinalResponse),
}

#[cfg(feature = "client")]
#[derive(Debug)]
pub(crate) struct FinalResponse {
    pub(crate) head: http::Response<()>,
    pub(crate) body: Framing,
    /// Whether the response allows the connection to be reused.
    pub(crate) keep_alive: bool,
    /// `101 Switching Protocols`, or a successful CONNECT: the connection becomes a tunnel.
    pub(crate) upgrade: bool,
}

/// Parses the response head at the front of `buf`; `Ok(None)` when incomplete.
///
/// `request_method` decides which responses carry no body (HEAD) or open a tunnel
/// (CONNECT). With `http09`, a response that does not start with a status line is taken as an
/// HTTP/0.9 body running to the end of the connection.
#[cfg(feature = "client")]
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
        Some(StatusLine::Http09) => {
            // A `200` without headers: framed like any other response to the request's
            // method, so it carries no body after a HEAD and opens a tunnel after a CONNECT.
            let mut head = http::Response::new(());
            *head.version_mut() = Version::HTTP_09;
            // (A 200 is never interim, so the fallback is never taken.)
            let (body, upgrade) =
                response_framing(&head, request_method)?.unwrap_or((Framing::UntilClose, false));
            return Ok(Some(ParsedResponse::Final(FinalResponse {
                head,
                body,
                keep_alive: false,
                upgrade,
            })));
        }
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
    headers.clear();
    headers.reserve(scratch.fields.len());
    let mut case_map = cfg.preserve_case.then(HeaderCaseMap::default);
    let mut keep_alive = version == Version::HTTP_11;
    let mut saw_close = false;
    for (name_at, value_at) in &scratch.fields {
        let (name, value) = if unfold && head[value_at.clone()].contains(&b'\n') {
            // A folded value holds line breaks, which no `HeaderValue` may: unfold it first.
            let name = HeaderName::from_bytes(&head[name_at.clone()])
                .map_err(|_| Parse::Header(crate::error::Header::Token))?;
            (name, unfold_value(&head[value_at.clone()])?)
        } else {
            field(&head, name_at, value_at)?
        };
        if name == header::CONNECTION {
            if saw_close || says_close(&value) {
                saw_close = true;
                keep_alive = false;
            } else if !keep_alive {
                keep_alive = says_keep_alive(&value);
            }
        }
        if let Some(map) = &mut case_map {
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

#[cfg(feature = "client")]
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
#[cfg(feature = "client")]
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
#[cfg(feature = "client")]
fn unfold_value(folded: &[u8]) -> Result<HeaderValue, Parse> {
    let mut lines = folded.split(|b| *b == b'\n');
    let mut out = lines.next().unwrap_or_default().trim_ascii_end().to_vec();
    for line in lines {
        out.push(b' ');
        out.extend_from_slice(line.trim_ascii());
    }
    HeaderValue::from_bytes(&out).map_err(|_| Parse::Header(crate::error::Header::Token))
}

fn write_status_line(head: &ResponseHead, dst: &mut BytesMut) {
    let reason = head.extensions.get::<crate::ext::ReasonPhrase>();
    // HTTP/2 and anything else an application may have set is sent as HTTP/1.1: that is
    // what this connection speaks.
    let version: &[u8] = if head.version == Version::HTTP_10 {
        b"HTTP/1.0 "
    } else {
        b"HTTP/1.1 "
    };
    dst.extend_from_slice(version);
    dst.extend_from_slice(head.status.as_str().as_bytes());
    dst.extend_from_slice(b" ");
    match reason {
        Some(custom) => dst.extend_from_slice(custom.as_bytes()),
        None => dst.extend_from_slice(
            head.status
                .canonical_reason()
                .unwrap_or("<none>")
                .as_bytes(),
        ),
    }
    dst.extend_from_slice(b"\r\n");
}

fn write_plain(
    names: &mut NameWriter<'_>,
    dst: &mut BytesMut,
    name: &HeaderName,
    value: &HeaderValue,
) {
    names.write(dst, name);
    dst.extend_from_slice(b": ");
    dst.extend_from_slice(value.as_bytes());
    dst.extend_from_slice(b"\r\n");
}

/// A framing or list header whose values are joined on one line, which is still open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Open {
    None,
    ContentLength,
    TransferEncoding,
    Connection,
    Trailer,
}

struct HeaderState {
    /// A `content-length` or `transfer-encoding` was written (or must not be).
    length_fixed: bool,
    open: Open,
    framing: Option<BodyEncoder>,
    wrote_date: bool,
    first_length: Option<u64>,
    /// The last transfer coding written is not `chunked`, so the line must end with it.
    te_add_chunked: bool,
    closes: bool,
    trailer_names: Option<Vec<HeaderName>>,
}

impl HeaderState {
    fn append_to_line(
        &mut self,
        names: &mut NameWriter<'_>,
        dst: &mut BytesMut,
        name: &HeaderName,
        value: &HeaderValue,
        line: Open,
    ) {
        if self.open == line {
            dst.extend_from_slice(b", ");
        } else {
            names.write(dst, name);
            dst.extend_from_slice(b": ");
            self.open = line;
        }
        dst.extend_from_slice(value.as_bytes());
    }

    fn close_line(&mut self, dst: &mut BytesMut) {
        match self.open {
            Open::None => return,
            Open::TransferEncoding if self.te_add_chunked => {
                dst.extend_from_slice(b", chunked\r\n")
            }
            _ => dst.extend_from_slice(b"\r\n"),
        }
        self.open = Open::None;
        self.te_add_chunked = false;
    }
}

/// Writes header names in the casing the connection was asked for: the original spelling
/// recorded in a [`HeaderCaseMap`] (one spelling per value, in order), else title case if
/// enabled, else the lowercase form `http` stores.
struct NameWriter<'a> {
    case_map: Option<&'a HeaderCaseMap>,
    title_case: bool,
    /// The name whose values are being written, and how many of them were written.
    group: Option<HeaderName>,
    index: usize,
}

impl NameWriter<'_> {
    fn write(&mut self, dst: &mut BytesMut, name: &HeaderName) {
        if let Some(map) = self.case_map {
            if self.group.as_ref() != Some(name) {
                self.group = Some(name.clone());
                self.index = 0;
            }
            let original = map.get_all(name).nth(self.index);
            self.index += 1;
            if let Some(original) = original {
                dst.extend_from_slice(original);
                return;
            }
        }
        if self.title_case {
            write_title_case(dst, name.as_str().as_bytes());
        } else {
            dst.extend_from_slice(name.as_str().as_bytes());
        }
    }
}

/// `content-type` becomes `Content-Type`: the first letter and each one after a `-` are
/// upper-cased.
pub(crate) fn write_title_case(dst: &mut BytesMut, name: &[u8]) {
    dst.reserve(name.len());
    let mut upper_next = true;
    for &b in name {
        dst.extend_from_slice(&[if upper_next {
            b.to_ascii_uppercase()
        } else {
            b
        }]);
        upper_next = b == b'-';
    }
}

#[cfg(all(test, feature = "client"))]
mod parse_tests {
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
