//! Decoding HTTP/1 message bodies from bytes already read, without touching any IO.
//!
//! [`Decoder::decode`] takes the connection's read buffer and splits body bytes off its front
//! (zero-copy), or reports that it needs more input. The caller reads more and calls again; at
//! EOF it says so, and a body that is not complete by then is an error. Because the decoder
//! never reads by itself, every prefix of every input can be fed to it in tests.
use std::fmt;
use std::io;

use bytes::{Buf, Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue};

/// Extension bytes (`;name=value` after a chunk size) accepted over a whole body.
const MAX_EXTENSION_BYTES: u64 = 16 * 1024;
/// Default trailer section size limit when no header size limit is configured.
const DEFAULT_MAX_TRAILER_BYTES: usize = 16 * 1024;
/// Default trailer field count limit when no header count limit is configured.
const DEFAULT_MAX_TRAILER_FIELDS: usize = 100;

/// How a received message's body is delimited, as its head says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    /// No body at all.
    Empty,
    /// `Content-Length` (never 0: that is `Empty`).
    Length(u64),
    Chunked,
    /// Until the peer closes the connection (responses only).
    UntilClose,
}

impl Framing {
    /// The decoder for a body framed this way (`None` for no body), and the length the
    /// body's receiver reports.
    pub(crate) fn decoder(
        self,
        max_trailer_fields: Option<usize>,
        max_trailer_bytes: Option<usize>,
    ) -> Option<(Decoder, crate::body::BodyLength)> {
        use crate::body::BodyLength;
        match self {
            Framing::Empty => None,
            Framing::Length(n) => Some((Decoder::length(n), BodyLength::Exact(n))),
            Framing::Chunked => Some((
                Decoder::chunked(max_trailer_fields, max_trailer_bytes),
                BodyLength::Chunked,
            )),
            Framing::UntilClose => Some((Decoder::until_close(), BodyLength::UntilClose)),
        }
    }
}

/// What one call to [`Decoder::decode`] produced.
#[derive(Debug, PartialEq)]
pub(crate) enum Decoded {
    /// Body bytes; never empty.
    Data(Bytes),
    /// The trailer section of a chunked body; the body is complete.
    Trailers(HeaderMap),
    /// The body is complete.
    End,
    /// The buffer holds no further complete step; read more and call again.
    NeedMore,
}

/// A body decoder, chosen from the message head's framing.
#[derive(Clone, Debug)]
pub(crate) enum Decoder {
    /// `Content-Length`: this many bytes remain.
    Length(u64),
    Chunked(Chunked),
    /// No framing: the body runs until the peer closes (responses only).
    UntilClose {
        ended: bool,
    },
}

#[derive(Clone, Debug)]
pub(crate) struct Chunked {
    step: Step,
    /// Size of the chunk being read, or bytes of it still to read once in `Step::Data`.
    size: u64,
    extension_bytes: u64,
    trailers: Option<BytesMut>,
    trailer_fields: usize,
    max_trailer_fields: usize,
    max_trailer_bytes: usize,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Step {
    /// Expecting the first hex digit of a chunk size.
    SizeStart,
    Size,
    /// Whitespace after the size; only `;`, `\r` or more whitespace may follow.
    SizeWhitespace,
    Extension,
    SizeLf,
    Data,
    DataCr,
    DataLf,
    /// After the last chunk's size line: either the final CRLF or a trailer field.
    TrailerStart,
    Trailer,
    TrailerLf,
    FinalLf,
    Done,
}

impl Decoder {
    pub(crate) fn length(n: u64) -> Decoder {
        Decoder::Length(n)
    }

    pub(crate) fn chunked(max_fields: Option<usize>, max_bytes: Option<usize>) -> Decoder {
        Decoder::Chunked(Chunked {
            step: Step::SizeStart,
            size: 0,
            extension_bytes: 0,
            trailers: None,
            trailer_fields: 0,
            max_trailer_fields: max_fields.unwrap_or(DEFAULT_MAX_TRAILER_FIELDS),
            max_trailer_bytes: max_bytes.unwrap_or(DEFAULT_MAX_TRAILER_BYTES),
        })
    }

    pub(crate) fn until_close() -> Decoder {
        Decoder::UntilClose { ended: false }
    }

    /// Whether the body has been decoded completely.
    pub(crate) fn is_complete(&self) -> bool {
        match self {
            Decoder::Length(n) => *n == 0,
            Decoder::Chunked(c) => c.step == Step::Done,
            Decoder::UntilClose { ended } => *ended,
        }
    }

    /// Decodes the next piece of the body from the front of `buf`.
    ///
    /// `at_eof` says the transport will deliver nothing after `buf`.
    pub(crate) fn decode(
        &mut self,
        buf: &mut BytesMut,
        at_eof: bool,
    ) -> Result<Decoded, io::Error> {
        match self {
            Decoder::Length(0) => Ok(Decoded::End),
            Decoder::Length(left) => {
                if buf.is_empty() {
                    return if at_eof {
                        Err(incomplete_body())
                    } else {
                        Ok(Decoded::NeedMore)
                    };
                }
                let n = usize::try_from(*left).map_or(buf.len(), |l| l.min(buf.len()));
                *left -= n as u64;
                Ok(Decoded::Data(buf.split_to(n).freeze()))
            }
            Decoder::UntilClose { ended } => {
                if *ended {
                    Ok(Decoded::End)
                } else if !buf.is_empty() {
                    Ok(Decoded::Data(buf.split().freeze()))
                } else if at_eof {
                    *ended = true;
                    Ok(Decoded::End)
                } else {
                    Ok(Decoded::NeedMore)
                }
            }
            Decoder::Chunked(chunked) => chunked.decode(buf, at_eof),
        }
    }
}

impl Chunked {
    fn decode(&mut self, buf: &mut BytesMut, at_eof: bool) -> Result<Decoded, io::Error> {
        loop {
            if self.step == Step::Done {
                return Ok(match self.trailers.take() {
                    Some(section) => {
                        Decoded::Trailers(parse_trailers(&section, self.trailer_fields)?)
                    }
                    None => Decoded::End,
                });
            }
            if self.step == Step::Data {
                if buf.is_empty() {
                    return self.starved(at_eof);
                }
                let n = usize::try_from(self.size).map_or(buf.len(), |s| s.min(buf.len()));
                self.size -= n as u64;
                if self.size == 0 {
                    self.step = Step::DataCr;
                }
                return Ok(Decoded::Data(buf.split_to(n).freeze()));
            }
            let Some(&byte) = buf.first() else {
                return self.starved(at_eof);
            };
            buf.advance(1);
            self.step = self.step_on(byte)?;
        }
    }

    fn starved(&self, at_eof: bool) -> Result<Decoded, io::Error> {
        if !at_eof {
            return Ok(Decoded::NeedMore);
        }
        Err(match self.step {
            Step::Data => incomplete_body(),
            _ => io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "unexpected EOF during chunked framing",
            ),
        })
    }

    /// Consumes one framing byte and returns the next step.
    fn step_on(&mut self, byte: u8) -> Result<Step, io::Error> {
        let next = match (self.step, byte) {
            (Step::SizeStart | Step::Size, _) if hex_value(byte).is_some() => {
                let digit = u64::from(hex_value(byte).unwrap_or(0));
                self.size = self
                    .size
                    .checked_mul(16)
                    .and_then(|s| s.checked_add(digit))
                    .ok_or_else(|| invalid(io::ErrorKind::InvalidData, "chunk size overflows"))?;
                Step::Size
            }
            (Step::SizeStart, _) => return Err(invalid_input("chunk size line without digits")),
            (Step::Size | Step::SizeWhitespace, b' ' | b'\t') => Step::SizeWhitespace,
            (Step::Size | Step::SizeWhitespace, b';') => Step::Extension,
            (Step::Size | Step::SizeWhitespace, b'\r') => Step::SizeLf,
            (Step::Size, _) => return Err(invalid_input("invalid byte in chunk size")),
            (Step::SizeWhitespace, _) => {
                return Err(invalid_input("invalid byte after chunk size whitespace"))
            }
            (Step::Extension, b'\r') => Step::SizeLf,
            (Step::Extension, b'\n') => {
                return Err(invalid(
                    io::ErrorKind::InvalidData,
                    "chunk extension contains a bare newline",
                ))
            }
            (Step::Extension, _) => {
                self.extension_bytes += 1;
                if self.extension_bytes >= MAX_EXTENSION_BYTES {
                    return Err(invalid(
                        io::ErrorKind::InvalidData,
                        "chunk extensions exceed their limit",
                    ));
                }
                Step::Extension
            }
            (Step::SizeLf, b'\n') if self.size == 0 => Step::TrailerStart,
            (Step::SizeLf, b'\n') => Step::Data,
            (Step::SizeLf, _) => return Err(invalid_input("chunk size line missing LF")),
            (Step::DataCr, b'\r') => Step::DataLf,
            (Step::DataCr, _) => return Err(invalid_input("chunk data not followed by CR")),
            (Step::DataLf, b'\n') => {
                self.size = 0;
                Step::SizeStart
            }
            (Step::DataLf, _) => return Err(invalid_input("chunk data not followed by LF")),
            (Step::TrailerStart, b'\r') => {
                self.push_trailer_byte(byte)?;
                Step::FinalLf
            }
            (Step::Trailer, b'\r') => {
                self.push_trailer_byte(byte)?;
                Step::TrailerLf
            }
            // A trailer line must end in CRLF. A bare LF would let the peer and this
            // decoder disagree on where the trailer section (and so the message) ends.
            (Step::TrailerStart | Step::Trailer, b'\n') => {
                return Err(invalid_input("trailer line ends in a bare LF"))
            }
            (Step::TrailerStart | Step::Trailer, _) => {
                if self.trailers.is_none() {
                    self.trailers = Some(BytesMut::with_capacity(64));
                }
                self.push_trailer_byte(byte)?;
                Step::Trailer
            }
            (Step::TrailerLf, b'\n') => {
                if self.trailer_fields >= self.max_trailer_fields {
                    return Err(invalid(
                        io::ErrorKind::InvalidData,
                        "too many trailer fields",
                    ));
                }
                self.trailer_fields += 1;
                self.push_trailer_byte(byte)?;
                Step::TrailerStart
            }
            (Step::TrailerLf, _) => return Err(invalid_input("trailer field missing LF")),
            (Step::FinalLf, b'\n') => {
                self.push_trailer_byte(byte)?;
                Step::Done
            }
            (Step::FinalLf, _) => return Err(invalid_input("chunked body missing final LF")),
            (Step::Data | Step::Done, _) => unreachable!("handled before reading a framing byte"),
        };
        Ok(next)
    }

    /// Appends to the trailer section, if one was started; enforces the size limit.
    fn push_trailer_byte(&mut self, byte: u8) -> Result<(), io::Error> {
        if let Some(section) = &mut self.trailers {
            section.extend_from_slice(&[byte]);
            if section.len() >= self.max_trailer_bytes {
                return Err(invalid(
                    io::ErrorKind::InvalidData,
                    "trailer section exceeds its size limit",
                ));
            }
        }
        Ok(())
    }
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

fn parse_trailers(section: &[u8], fields: usize) -> Result<HeaderMap, io::Error> {
    let mut slots = vec![httparse::EMPTY_HEADER; fields];
    let parsed = match httparse::parse_headers(section, &mut slots) {
        Ok(httparse::Status::Complete((_, parsed))) => parsed,
        Ok(httparse::Status::Partial) => return Err(invalid_input("incomplete trailer section")),
        Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidInput, e)),
    };
    let mut map = HeaderMap::with_capacity(parsed.len());
    for field in parsed {
        let name = HeaderName::from_bytes(field.name.as_bytes())
            .map_err(|_| invalid_input("invalid trailer field name"))?;
        let value = HeaderValue::from_bytes(field.value)
            .map_err(|_| invalid_input("invalid trailer field value"))?;
        map.append(name, value);
    }
    Ok(map)
}

fn invalid(kind: io::ErrorKind, msg: &'static str) -> io::Error {
    io::Error::new(kind, msg)
}

fn invalid_input(msg: &'static str) -> io::Error {
    invalid(io::ErrorKind::InvalidInput, msg)
}

fn incomplete_body() -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, IncompleteBody)
}

/// The transport ended before the body's declared length was reached.
#[derive(Debug)]
struct IncompleteBody;

impl fmt::Display for IncompleteBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("end of file before message length reached")
    }
}

impl std::error::Error for IncompleteBody {}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` in pieces of `step` bytes, collecting everything the decoder yields.
    fn decode_in_steps(
        mut decoder: Decoder,
        input: &[u8],
        step: usize,
    ) -> Result<(Vec<u8>, Option<HeaderMap>), io::Error> {
        let mut buf = BytesMut::new();
        let mut fed = 0;
        let mut body = Vec::new();
        loop {
            let at_eof = fed == input.len();
            match decoder.decode(&mut buf, at_eof)? {
                Decoded::Data(d) => {
                    assert!(!d.is_empty());
                    body.extend_from_slice(&d);
                }
                Decoded::Trailers(t) => return Ok((body, Some(t))),
                Decoded::End => return Ok((body, None)),
                Decoded::NeedMore => {
                    assert!(!at_eof, "NeedMore at EOF");
                    let end = (fed + step).min(input.len());
                    buf.extend_from_slice(&input[fed..end]);
                    fed = end;
                }
            }
        }
    }

    fn chunked() -> Decoder {
        Decoder::chunked(None, None)
    }

    #[test]
    fn chunked_bodies_decode_identically_for_every_split_size() {
        let input = b"4\r\nWiki\r\n5;ext=1\r\npedia\r\nE \r\n in\r\n\r\nchunks.\r\n0\r\n\r\n";
        for step in 1..=input.len() {
            let (body, trailers) = decode_in_steps(chunked(), input, step).unwrap();
            assert_eq!(body, b"Wikipedia in\r\n\r\nchunks.", "step {step}");
            assert!(trailers.is_none());
        }
    }

    #[test]
    fn trailers_are_parsed_into_a_header_map() {
        let input = b"3\r\nabc\r\n0\r\nX-Sum: 9\r\nx-more: a b\r\n\r\n";
        for step in 1..=input.len() {
            let (body, trailers) = decode_in_steps(chunked(), input, step).unwrap();
            assert_eq!(body, b"abc");
            let trailers = trailers.expect("trailers");
            assert_eq!(trailers["x-sum"], "9");
            assert_eq!(trailers["x-more"], "a b");
        }
    }

    #[test]
    fn malformed_chunk_framing_is_rejected() {
        let cases: &[&[u8]] = &[
            b"x\r\n",
            b"1x\r\n",
            b"1 2\r\n",
            b"1\n",
            b"1\r\nab\r\n",
            b"1\r\na\n\r\n",
            b"1;ext\n\r\n",
            b"FFFFFFFFFFFFFFFFF\r\n",
            b"0\r\nbad header\r\n\r\n",
        ];
        for input in cases {
            let err = decode_in_steps(chunked(), input, 1)
                .expect_err(&format!("{:?} should fail", String::from_utf8_lossy(input)));
            assert_ne!(err.kind(), io::ErrorKind::UnexpectedEof, "{err}");
        }
    }

    #[test]
    fn a_bare_lf_anywhere_in_the_trailer_section_is_rejected() {
        // Each would end the section early for a lenient reader and leave the rest (here a
        // request line) to be read as the next message.
        let sections: &[&[u8]] = &[
            b"\n",
            b"\nPOST /other HTTP/1.1\r\n\r\n",
            b"Name\n: v\r\n\r\n",
            b"Name: first\nsecond\r\n\r\n",
            b"Name: v\r\n\n",
            b"Name: v\r\nOther: w\n\r\n",
        ];
        for section in sections {
            let mut input = b"2\r\nok\r\n0\r\n".to_vec();
            input.extend_from_slice(section);
            for step in [1, 3, input.len()] {
                let err = decode_in_steps(chunked(), &input, step).expect_err(&format!(
                    "{:?} in pieces of {step}",
                    String::from_utf8_lossy(section)
                ));
                assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
            }
        }
    }

    #[test]
    fn trailers_end_exactly_at_their_blank_line() {
        let mut buf = BytesMut::from(&b"0\r\nA: 1\r\nB: 2\r\n\r\nGET /next HTTP/1.1\r\n\r\n"[..]);
        let mut decoder = chunked();
        match decoder.decode(&mut buf, false).unwrap() {
            Decoded::Trailers(t) => {
                assert_eq!(t.len(), 2);
                assert_eq!(t["b"], "2");
            }
            other => panic!("expected trailers, got {other:?}"),
        }
        assert!(decoder.is_complete());
        assert_eq!(&buf[..], b"GET /next HTTP/1.1\r\n\r\n");
    }

    #[test]
    fn extension_and_trailer_limits_hold() {
        let mut long_ext = b"1;".to_vec();
        long_ext.extend(std::iter::repeat_n(b'a', MAX_EXTENSION_BYTES as usize));
        long_ext.extend_from_slice(b"\r\nx\r\n0\r\n\r\n");
        assert!(decode_in_steps(chunked(), &long_ext, 4096).is_err());

        let mut many = b"0\r\n".to_vec();
        for i in 0..3 {
            many.extend_from_slice(format!("t{i}: v\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert!(decode_in_steps(Decoder::chunked(Some(2), None), &many, 7).is_err());
        assert!(decode_in_steps(Decoder::chunked(Some(3), None), &many, 7).is_ok());
        assert!(decode_in_steps(Decoder::chunked(None, Some(10)), &many, 7).is_err());
    }

    #[test]
    fn eof_before_the_end_is_an_error_and_eof_after_is_not() {
        let err = decode_in_steps(Decoder::length(10), b"12345", 2).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        let err = decode_in_steps(chunked(), b"5\r\nab", 1).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        let err = decode_in_steps(chunked(), b"5\r\nabcde\r\n", 1).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        let (body, _) = decode_in_steps(Decoder::until_close(), b"all of it", 3).unwrap();
        assert_eq!(body, b"all of it");
    }

    #[test]
    fn length_decoding_never_reads_past_the_body() {
        let mut buf = BytesMut::from(&b"helloGET / HTTP/1.1\r\n"[..]);
        let mut d = Decoder::length(5);
        assert_eq!(
            d.decode(&mut buf, false).unwrap(),
            Decoded::Data(Bytes::from_static(b"hello"))
        );
        assert!(d.is_complete());
        assert_eq!(d.decode(&mut buf, false).unwrap(), Decoded::End);
        assert_eq!(&buf[..], b"GET / HTTP/1.1\r\n");

        let mut buf = BytesMut::from(&b"2\r\nhi\r\n0\r\n\r\nNEXT"[..]);
        let (mut body, mut d) = (Vec::new(), chunked());
        loop {
            match d.decode(&mut buf, false).unwrap() {
                Decoded::Data(x) => body.extend_from_slice(&x),
                Decoded::End => break,
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(body, b"hi");
        assert_eq!(&buf[..], b"NEXT");
    }
}
