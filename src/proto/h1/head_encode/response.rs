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
/// In order: the status may replace the head or fix its framing ([`StatusRules`]); the status
/// line; the application's fields in map order, where same-named framing and list fields share
/// one line ([`Fields`]); the framing header the body needs if no field gave one; `date`; the
/// blank line.
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
    let rules = StatusRules::apply(head, size, cx);
    write_status_line(head, dst);

    let method = cx.request_method;
    let mut fields = Fields {
        names: NameWriter::new(head.extensions.get::<HeaderCaseMap>(), cx.title_case),
        method,
        size: rules.size,
        chunk_ok: head.version != Version::HTTP_10 && may_have_body(method, head.status),
        open: Open::None,
        te_add_chunked: false,
        length_fixed: rules.length_fixed,
        framing: None,
        first_length: None,
        wrote_date: false,
        closes: rules.closes,
        trailer_names: None,
    };
    let mut previous: Option<&HeaderName> = None;
    for (name, value) in head.headers.iter() {
        if previous != Some(name) {
            fields.close_line(dst);
        }
        previous = Some(name);
        fields.write(dst, name, value)?;
    }
    fields.close_line(dst);
    let body = fields.finish_framing(dst, head.status);

    if !fields.wrote_date && cx.date_header {
        fields.names.write(dst, &header::DATE);
        dst.extend_from_slice(b": ");
        date::append_to(dst);
        dst.extend_from_slice(b"\r\n");
    }
    dst.extend_from_slice(b"\r\n");

    Ok(Encoded {
        body,
        closes: fields.closes,
        replaced_because: rules.replaced_because,
    })
}

/// What the status decides before any field is looked at.
struct StatusRules {
    size: BodySize,
    closes: bool,
    /// No framing header may be added: the response has none by definition.
    length_fixed: bool,
    replaced_because: Option<Error>,
}

impl StatusRules {
    /// A `101` closes this HTTP/1 connection (the upgrade takes it over); a successful
    /// `CONNECT` answer opens a tunnel, which has no body length; an interim status cannot be
    /// a service's answer, so the head becomes a `500` and the application gets an error.
    fn apply(head: &mut ResponseHead, size: BodySize, cx: &EncodeContext<'_>) -> StatusRules {
        let mut rules = StatusRules {
            size,
            closes: !cx.keep_alive,
            length_fixed: false,
            replaced_because: None,
        };
        if head.status == StatusCode::SWITCHING_PROTOCOLS {
            rules.closes = true;
        } else if cx.request_method == Some(&Method::CONNECT) && head.status.is_success() {
            rules.length_fixed = true;
            rules.closes = true;
        } else if head.status.is_informational() {
            // A service answers once; an interim response would leave the request unanswered.
            *head = ResponseHead {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                version: Version::HTTP_11,
                headers: HeaderMap::new(),
                extensions: Extensions::new(),
            };
            rules.size = BodySize::Empty;
            rules.closes = true;
            rules.replaced_because = Some(Error::new_user(User::UnsupportedStatusCode));
        }
        rules
    }
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

/// The walk over a head's fields: what is written so far and what the fields decided about
/// the body's framing and the connection.
struct Fields<'a> {
    names: NameWriter<'a>,
    method: Option<&'a Method>,
    size: BodySize,
    /// The response may be chunked (HTTP/1.1 and a status and method that allow a body).
    chunk_ok: bool,
    /// The line still open for more values of the same field.
    open: Open,
    /// The last transfer coding written is not `chunked`, so the line must end with it.
    te_add_chunked: bool,
    /// A `content-length` or `transfer-encoding` was written (or must not be).
    length_fixed: bool,
    framing: Option<BodyEncoder>,
    /// The first `content-length` of a body whose size is unknown: later ones must agree.
    first_length: Option<u64>,
    wrote_date: bool,
    closes: bool,
    trailer_names: Option<Vec<HeaderName>>,
}

impl Fields<'_> {
    /// Writes one field, or leaves it out where the response's framing rules say so.
    fn write(
        &mut self,
        dst: &mut BytesMut,
        name: &HeaderName,
        value: &HeaderValue,
    ) -> Result<(), Error> {
        match *name {
            header::CONTENT_LENGTH => return self.content_length(dst, name, value),
            header::TRANSFER_ENCODING => return self.transfer_encoding(dst, name, value),
            header::CONNECTION => {
                if says_close(value) {
                    self.closes = true;
                }
                self.append_to_line(dst, name, value, Open::Connection);
            }
            header::TRAILER => self.trailer(dst, name, value),
            header::DATE => {
                self.wrote_date = true;
                write_plain(&mut self.names, dst, name, value);
            }
            _ => write_plain(&mut self.names, dst, name, value),
        }
        Ok(())
    }

    /// A `content-length` must agree with the body: the one this crate measured, or, for a
    /// body of unknown size, the first one given. A response without a body drops it, except
    /// for `HEAD`, whose answer may describe the body a `GET` would get.
    fn content_length(
        &mut self,
        dst: &mut BytesMut,
        name: &HeaderName,
        value: &HeaderValue,
    ) -> Result<(), Error> {
        if self.length_fixed && self.open != Open::ContentLength {
            return Err(Error::new_user(User::UnexpectedHeader));
        }
        match self.size {
            BodySize::Known(n) => {
                if self.open == Open::ContentLength {
                    return Ok(());
                }
                let declared = parse_content_length(value.as_bytes());
                if self.method != Some(&Method::HEAD) && declared != Some(n) {
                    // The body and the header disagree: either the peer waits for bytes that
                    // never come, or reads body bytes as the next message.
                    return Err(Error::new_user(User::UnexpectedHeader));
                }
                self.open_content_length(dst, name, value, n);
            }
            BodySize::Unknown => {
                let n = parse_content_length(value.as_bytes())
                    .ok_or_else(|| Error::new_user(User::UnexpectedHeader))?;
                if self.open == Open::ContentLength {
                    return if self.first_length == Some(n) {
                        Ok(())
                    } else {
                        Err(Error::new_user(User::UnexpectedHeader))
                    };
                }
                self.first_length = Some(n);
                self.open_content_length(dst, name, value, n);
            }
            BodySize::Empty if self.method != Some(&Method::HEAD) => {
                // No body: the implicit `content-length: 0` says so.
            }
            BodySize::Empty => {
                self.length_fixed = true;
                write_plain(&mut self.names, dst, name, value);
            }
        }
        Ok(())
    }

    /// Same-named `transfer-encoding` fields are joined on one line, which ends in `chunked`
    /// (added if the last coding is another); left out where the response cannot be chunked.
    fn transfer_encoding(
        &mut self,
        dst: &mut BytesMut,
        name: &HeaderName,
        value: &HeaderValue,
    ) -> Result<(), Error> {
        if self.length_fixed && self.open != Open::TransferEncoding {
            return Err(Error::new_user(User::UnexpectedHeader));
        }
        if !self.chunk_ok {
            return Ok(());
        }
        self.length_fixed = true;
        if self.open == Open::TransferEncoding {
            dst.extend_from_slice(b", ");
        } else {
            self.framing = Some(BodyEncoder::Chunked {
                trailer_names: None,
            });
            self.names.write(dst, name);
            dst.extend_from_slice(b": ");
        }
        dst.extend_from_slice(value.as_bytes());
        self.open = Open::TransferEncoding;
        self.te_add_chunked = !ends_with_chunked(value);
        Ok(())
    }

    /// `trailer` announces the fields a chunked body may end with; the names are kept for the
    /// body encoder. Left out where the response cannot be chunked.
    fn trailer(&mut self, dst: &mut BytesMut, name: &HeaderName, value: &HeaderValue) {
        if !self.chunk_ok {
            return;
        }
        self.append_to_line(dst, name, value, Open::Trailer);
        if let Ok(list) = value.to_str() {
            let announced = self.trailer_names.get_or_insert_with(Vec::new);
            announced.extend(
                list.split(',')
                    .filter_map(|item| HeaderName::from_bytes(item.trim().as_bytes()).ok()),
            );
        }
    }

    /// The body's framing once every field is written: the one a field gave, or the header
    /// this crate adds for the body's size (none where the status or method forbids a
    /// length); no body at all where the status or method forbids one.
    fn finish_framing(&mut self, dst: &mut BytesMut, status: StatusCode) -> BodyEncoder {
        let method = self.method;
        let mut framing = match self.framing.take() {
            Some(framing) if self.length_fixed => framing,
            _ if self.length_fixed => BodyEncoder::Length(0),
            _ => match self.size {
                BodySize::Unknown if self.chunk_ok => {
                    self.names.write(dst, &header::TRANSFER_ENCODING);
                    dst.extend_from_slice(b": chunked\r\n");
                    BodyEncoder::Chunked {
                        trailer_names: None,
                    }
                }
                BodySize::Unknown => BodyEncoder::UntilClose,
                BodySize::Empty | BodySize::Known(0) => {
                    if may_have_length(method, status) && method != Some(&Method::HEAD) {
                        self.names.write(dst, &header::CONTENT_LENGTH);
                        dst.extend_from_slice(b": 0\r\n");
                    }
                    BodyEncoder::Length(0)
                }
                BodySize::Known(n) if may_have_length(method, status) => {
                    self.names.write(dst, &header::CONTENT_LENGTH);
                    dst.extend_from_slice(b": ");
                    dst.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
                    dst.extend_from_slice(b"\r\n");
                    BodyEncoder::Length(n)
                }
                BodySize::Known(_) => BodyEncoder::Length(0),
            },
        };
        if !may_have_body(method, status) {
            framing = BodyEncoder::Length(0);
        }
        if let (BodyEncoder::Chunked { trailer_names }, Some(announced)) =
            (&mut framing, self.trailer_names.take())
        {
            *trailer_names = Some(announced);
        }
        framing
    }

    /// Starts the `content-length` line with its first value, which frames the body as `n`
    /// bytes.
    fn open_content_length(
        &mut self,
        dst: &mut BytesMut,
        name: &HeaderName,
        value: &HeaderValue,
        n: u64,
    ) {
        self.framing = Some(BodyEncoder::Length(n));
        self.names.write(dst, name);
        dst.extend_from_slice(b": ");
        dst.extend_from_slice(value.as_bytes());
        self.length_fixed = true;
        self.open = Open::ContentLength;
    }

    fn append_to_line(
        &mut self,
        dst: &mut BytesMut,
        name: &HeaderName,
        value: &HeaderValue,
        line: Open,
    ) {
        if self.open == line {
            dst.extend_from_slice(b", ");
        } else {
            self.names.write(dst, name);
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
