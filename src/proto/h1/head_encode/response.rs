//! Encoding a server's response head, and choosing how its body is framed.
//!
//! The bytes produced here are meant to equal upstream hyper 1.13's for every response it
//! encodes correctly (header order, casing, which framing header is added, where `date` goes),
//! so that switching to this crate changes nothing on the wire. Where upstream would panic or
//! corrupt a header, this module returns an error or writes the correct bytes instead; those
//! cases are listed in `UPSTREAM.md`.
use std::cell::RefCell;

use bytes::BytesMut;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Extensions, Method, StatusCode, Version};

use crate::error::{Error, User};
use crate::ext::HeaderCaseMap;
use crate::proto::date;
use crate::proto::h1::field_names::NameWriter;
use crate::proto::h1::framing::encode::{BodyEncoder, BodySize};
use crate::proto::h1::header_values::{ends_with_chunked, parse_content_length, says_close};

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
    let mut names = NameWriter::new(case_map, cx.title_case);
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
                        state.open_content_length(&mut names, dst, name, value, n);
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
                        state.first_length = Some(n);
                        state.open_content_length(&mut names, dst, name, value, n);
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

/// Everything the bytes of a bare head depend on.
#[derive(Clone, Copy, PartialEq, Eq)]
struct BareKey {
    status: StatusCode,
    is_10: bool,
    size: BodySize,
    /// The [`date::generation`] written, if a `date` is.
    date: Option<u64>,
}

/// The last bare head built on this thread and what it was built from. A server answering
/// alike requests sends the same head (same status and length) again and again until the
/// date's second changes; copying it is cheaper than assembling it.
struct LastBare {
    key: Option<BareKey>,
    head: BareHead,
}

thread_local! {
    static LAST_BARE: RefCell<LastBare> = const {
        RefCell::new(LastBare {
            key: None,
            head: BareHead {
                buf: [0; BARE_HEAD_MAX],
                len: 0,
            },
        })
    };
}

/// The common response, encoded without walking any header map: no headers, no extensions
/// (so no custom reason or recorded casing), no title case, a status whose body is framed by
/// a length this crate computes, or chunked in HTTP/1.1. Writes exactly what [`encode`]
/// writes for it (status line, the framing header, `date`, blank line) with one copy into
/// `dst`: the head built last on this thread when it was built from the same [`BareKey`],
/// else a new one. `None` (and nothing written) for anything else.
fn encode_bare(
    head: &ResponseHead,
    size: BodySize,
    cx: &EncodeContext<'_>,
    dst: &mut BytesMut,
) -> Option<Encoded> {
    if !head.headers.is_empty()
        || !head.extensions.is_empty()
        || cx.title_case
        || !may_have_body(cx.request_method, head.status)
    {
        return None;
    }
    let is_10 = head.version == Version::HTTP_10;
    let body = match size {
        BodySize::Empty | BodySize::Known(0) => BodyEncoder::Length(0),
        BodySize::Known(n) => BodyEncoder::Length(n),
        BodySize::Unknown if !is_10 => BodyEncoder::Chunked {
            trailer_names: None,
        },
        BodySize::Unknown => return None,
    };
    let key = BareKey {
        status: head.status,
        is_10,
        size,
        date: cx.date_header.then(date::generation),
    };
    let reused = LAST_BARE.with(|last| {
        let last = last.borrow();
        let same = last.key == Some(key);
        if same {
            dst.extend_from_slice(last.head.bytes());
        }
        same
    });
    if !reused {
        let line = build_bare(head.status, is_10, size, cx.date_header)?;
        dst.extend_from_slice(line.bytes());
        LAST_BARE.with(|last| {
            *last.borrow_mut() = LastBare {
                key: Some(key),
                head: line,
            }
        });
    }
    Some(Encoded {
        body,
        closes: !cx.keep_alive,
        replaced_because: None,
    })
}

/// Assembles a bare head; `None` for a status without a canonical reason.
fn build_bare(status: StatusCode, is_10: bool, size: BodySize, date: bool) -> Option<BareHead> {
    let mut line = BareHead {
        buf: [0; BARE_HEAD_MAX],
        len: 0,
    };
    if status == StatusCode::OK && !is_10 {
        line.push(b"HTTP/1.1 200 OK\r\n");
    } else {
        let reason = status.canonical_reason()?;
        line.push(if is_10 { b"HTTP/1.0 " } else { b"HTTP/1.1 " });
        line.push(status.as_str().as_bytes());
        line.push(b" ");
        line.push(reason.as_bytes());
        line.push(b"\r\n");
    }
    match size {
        BodySize::Empty | BodySize::Known(0) => line.push(b"content-length: 0\r\n"),
        BodySize::Known(n) => {
            line.push(b"content-length: ");
            line.push(itoa::Buffer::new().format(n).as_bytes());
            line.push(b"\r\n");
        }
        BodySize::Unknown => line.push(b"transfer-encoding: chunked\r\n"),
    }
    if date {
        line.push(b"date: ");
        date::with_text(|text| line.push(text));
        line.push(b"\r\n");
    }
    line.push(b"\r\n");
    Some(line)
}

/// A head assembled on the stack, at most [`BARE_HEAD_MAX`] bytes.
#[derive(Clone, Copy)]
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

    fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
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
    /// Starts the `content-length` line with its first value, which frames the body as `n`
    /// bytes.
    fn open_content_length(
        &mut self,
        names: &mut NameWriter<'_>,
        dst: &mut BytesMut,
        name: &HeaderName,
        value: &HeaderValue,
        n: u64,
    ) {
        self.framing = Some(BodyEncoder::Length(n));
        names.write(dst, name);
        dst.extend_from_slice(b": ");
        dst.extend_from_slice(value.as_bytes());
        self.length_fixed = true;
        self.open = Open::ContentLength;
    }

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
