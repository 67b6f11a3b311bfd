//! Framing outgoing message bodies into the output buffer.
//!
//! The encoder decides how each data frame goes on the wire (as is, cut to the declared
//! length, or as a chunk) and what ends the body. It only appends to [`OutBuf`]; finishing the
//! encoding of a body says nothing about whether its bytes were written.
use std::fmt::Write as _;

use bytes::{Buf, BytesMut};
use http::header::{self, HeaderMap, HeaderName};

use crate::proto::h1::field_names::NameWriter;
use crate::proto::h1::out_buf::OutBuf;

/// What an outgoing body will look like, as far as framing is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BodySize {
    /// The body is known to be empty.
    Empty,
    /// The body reports an exact size.
    Known(u64),
    Unknown,
}

impl BodySize {
    pub(crate) fn of<B: http_body::Body>(body: &B) -> BodySize {
        if body.is_end_stream() {
            BodySize::Empty
        } else {
            body.size_hint()
                .exact()
                .map_or(BodySize::Unknown, BodySize::Known)
        }
    }
}

/// How an outgoing body is framed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum BodyEncoder {
    /// `Content-Length`: this many bytes remain; data beyond it is cut off.
    Length(u64),
    /// `Transfer-Encoding: chunked`, with the trailer fields the head announced (if any).
    Chunked {
        trailer_names: Option<Vec<HeaderName>>,
    },
    /// No framing: the body ends when the connection closes.
    UntilClose,
}

/// The body ended before the length its head declared.
#[derive(Debug)]
pub(crate) struct EndedEarly {
    pub(crate) missing: u64,
}

impl std::fmt::Display for EndedEarly {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "body ended {} bytes before its declared length",
            self.missing
        )
    }
}

impl std::error::Error for EndedEarly {}

const CHUNKED_END: &[u8] = b"0\r\n\r\n";

impl BodyEncoder {
    /// Whether nothing more may be written for this body.
    pub(crate) fn is_complete(&self) -> bool {
        matches!(self, BodyEncoder::Length(0))
    }

    /// Whether the connection must close for the peer to find the end of this body.
    pub(crate) fn ends_by_closing(&self) -> bool {
        matches!(self, BodyEncoder::UntilClose)
    }

    /// Frames one non-empty data chunk.
    pub(crate) fn encode_data<B: Buf>(&mut self, data: B, out: &mut OutBuf<B>) {
        let len = data.remaining();
        debug_assert!(len > 0, "empty chunks are skipped before encoding");
        match self {
            BodyEncoder::Length(left) => {
                let take = usize::try_from(*left).map_or(len, |l| l.min(len));
                *left -= take as u64;
                out.push_data(data, take);
            }
            BodyEncoder::Chunked { .. } => {
                write_chunk_size(out, len);
                out.push_data(data, len);
                out.push_static(b"\r\n");
            }
            BodyEncoder::UntilClose => out.push_data(data, len),
        }
    }

    /// Ends the body: the last-chunk marker for chunked bodies, nothing otherwise.
    ///
    /// A length-framed body that is still owed bytes cannot end: the peer would wait for them
    /// (or read the next message's bytes as body), so that is an error.
    pub(crate) fn encode_end<B: Buf>(&mut self, out: &mut OutBuf<B>) -> Result<(), EndedEarly> {
        match self {
            BodyEncoder::Length(0) | BodyEncoder::UntilClose => Ok(()),
            BodyEncoder::Length(left) => Err(EndedEarly { missing: *left }),
            BodyEncoder::Chunked { .. } => {
                out.push_static(CHUNKED_END);
                *self = BodyEncoder::Length(0);
                Ok(())
            }
        }
    }

    /// Ends a chunked body with a trailer section, keeping only the fields its head announced
    /// in `Trailer` and that may appear in trailers at all. Returns false (writing nothing) if
    /// no field qualifies; the caller then ends the body plainly.
    pub(crate) fn encode_trailers<B: Buf>(
        &mut self,
        trailers: &HeaderMap,
        title_case: bool,
        out: &mut OutBuf<B>,
    ) -> bool {
        let BodyEncoder::Chunked {
            trailer_names: Some(announced),
        } = self
        else {
            return false;
        };
        let mut section = BytesMut::new();
        let mut names = NameWriter::new(None, title_case);
        for (name, value) in trailers {
            if !announced.contains(name) || !allowed_in_trailers(name) {
                continue;
            }
            names.write(&mut section, name);
            section.extend_from_slice(b": ");
            section.extend_from_slice(value.as_bytes());
            section.extend_from_slice(b"\r\n");
        }
        if section.is_empty() {
            return false;
        }
        out.push_static(b"0\r\n");
        let result: Result<(), std::convert::Infallible> = out.encode_flat(|dst| {
            dst.extend_from_slice(&section);
            dst.extend_from_slice(b"\r\n");
            Ok(())
        });
        let Ok(()) = result;
        *self = BodyEncoder::Length(0);
        true
    }
}

/// Fields that describe or route the message and so must never arrive after the body.
fn allowed_in_trailers(name: &HeaderName) -> bool {
    ![
        header::AUTHORIZATION,
        header::CACHE_CONTROL,
        header::CONTENT_ENCODING,
        header::CONTENT_LENGTH,
        header::CONTENT_RANGE,
        header::CONTENT_TYPE,
        header::HOST,
        header::MAX_FORWARDS,
        header::SET_COOKIE,
        header::TRAILER,
        header::TRANSFER_ENCODING,
        header::TE,
    ]
    .contains(name)
}

fn write_chunk_size<B: Buf>(out: &mut OutBuf<B>, len: usize) {
    let result: Result<(), std::fmt::Error> = out.encode_flat(|dst| write!(dst, "{len:X}\r\n"));
    debug_assert!(result.is_ok(), "writing into memory cannot fail");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::h1::out_buf::WriteMode;
    use crate::proto::h1::testing::sink::drain as written;
    use bytes::Bytes;

    #[test]
    fn chunks_carry_uppercase_hex_sizes_and_a_final_marker() {
        let mut out = OutBuf::new(WriteMode::Queue, usize::MAX);
        let mut enc = BodyEncoder::Chunked {
            trailer_names: None,
        };
        enc.encode_data(Bytes::from(vec![b'x'; 0x2AB]), &mut out);
        enc.encode_data(Bytes::from_static(b"hi"), &mut out);
        enc.encode_end(&mut out).unwrap();
        assert!(enc.is_complete());
        let mut expected = b"2AB\r\n".to_vec();
        expected.extend(vec![b'x'; 0x2AB]);
        expected.extend_from_slice(b"\r\n2\r\nhi\r\n0\r\n\r\n");
        assert_eq!(written(&mut out), expected);
    }

    #[test]
    fn length_framing_cuts_excess_and_refuses_to_end_early() {
        let mut out = OutBuf::new(WriteMode::Flatten, usize::MAX);
        let mut enc = BodyEncoder::Length(5);
        enc.encode_data(Bytes::from_static(b"abc"), &mut out);
        let err = enc.clone().encode_end(&mut out).unwrap_err();
        assert_eq!(err.missing, 2);
        enc.encode_data(Bytes::from_static(b"defgh"), &mut out);
        assert!(enc.is_complete());
        assert_eq!(written(&mut out), b"abcde");
    }

    #[test]
    fn only_announced_and_permitted_trailers_are_sent() {
        let mut out = OutBuf::new(WriteMode::Flatten, usize::MAX);
        let mut enc = BodyEncoder::Chunked {
            trailer_names: Some(vec![
                HeaderName::from_static("x-checksum"),
                header::CONTENT_TYPE,
            ]),
        };
        let mut trailers = HeaderMap::new();
        trailers.insert("x-checksum", "abc".parse().unwrap());
        trailers.insert("x-other", "no".parse().unwrap());
        trailers.insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
        assert!(enc.encode_trailers(&trailers, true, &mut out));
        assert_eq!(written(&mut out), b"0\r\nX-Checksum: abc\r\n\r\n");

        let mut unannounced = BodyEncoder::Chunked {
            trailer_names: None,
        };
        assert!(!unannounced.encode_trailers(&trailers, false, &mut out));
        assert!(out.is_empty());
    }
}
