//! Encoding a client's request head, and choosing how its body is framed.
//!
//! Framing follows hyper 1.13: explicit framing headers win over what the body knows about
//! itself; a `transfer-encoding` is completed with `chunked` when it lacks it; a body of
//! unknown size goes chunked, except on GET, HEAD and CONNECT (and in HTTP/1.0), where it is
//! not sent at all unless the request declares a length.
use std::fmt::Write as _;

use bytes::BytesMut;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Version};

use crate::ext::HeaderCaseMap;
use crate::proto::h1::field_names::NameWriter;
use crate::proto::h1::framing::encode::{BodyEncoder, BodySize};
use crate::proto::h1::header_values::{declared_content_length, ends_with_chunked};

/// Encodes a client's request head into `dst` and returns how its body must be framed.
pub(crate) fn encode(
    parts: &mut http::request::Parts,
    size: BodySize,
    title_case: bool,
    dst: &mut BytesMut,
) -> BodyEncoder {
    let framing = choose_request_framing(parts, size);

    dst.extend_from_slice(parts.method.as_str().as_bytes());
    dst.extend_from_slice(b" ");
    // Writing into memory cannot fail.
    let _written: std::fmt::Result = write!(dst, "{}", parts.uri);
    // Only HTTP/1.0 and 1.1 exist on this connection; anything else is sent as 1.1.
    dst.extend_from_slice(if parts.version == Version::HTTP_10 {
        b" HTTP/1.0\r\n"
    } else {
        b" HTTP/1.1\r\n"
    });

    let case_map = parts.extensions.get::<HeaderCaseMap>();
    let mut names = NameWriter::new(case_map, title_case);
    for (name, value) in &parts.headers {
        names.write(dst, name);
        if case_map.is_some() && value.is_empty() {
            // With recorded spellings an empty value is written as `name:`, nothing after
            // the colon, as curl's test cases expect.
            dst.extend_from_slice(b":\r\n");
        } else {
            dst.extend_from_slice(b": ");
            dst.extend_from_slice(value.as_bytes());
            dst.extend_from_slice(b"\r\n");
        }
    }
    dst.extend_from_slice(b"\r\n");
    framing
}

fn choose_request_framing(parts: &mut http::request::Parts, size: BodySize) -> BodyEncoder {
    let headers = &mut parts.headers;
    if size == BodySize::Empty {
        headers.remove(header::TRANSFER_ENCODING);
        return BodyEncoder::Length(0);
    }
    let declared = declared_content_length(headers);
    // Every version but 1.0 goes out as HTTP/1.1 (see the request line) and is framed as such:
    // a request marked HTTP/2 may be chunked. HTTP/1.0 has no chunked coding, so only a
    // declared length can carry a body there.
    if parts.version == Version::HTTP_10 {
        headers.remove(header::TRANSFER_ENCODING);
        return match (declared, size) {
            (Some(n), _) => BodyEncoder::Length(n),
            (None, BodySize::Known(n)) => set_content_length(headers, n),
            _ => BodyEncoder::Length(0),
        };
    }
    let encoder = if headers.contains_key(header::TRANSFER_ENCODING) {
        complete_with_chunked(headers);
        headers.remove(header::CONTENT_LENGTH);
        BodyEncoder::Chunked {
            trailer_names: None,
        }
    } else if let Some(n) = declared {
        BodyEncoder::Length(n)
    } else if let BodySize::Known(n) = size {
        set_content_length(headers, n)
    } else if matches!(parts.method, Method::GET | Method::HEAD | Method::CONNECT) {
        // These almost never carry a body; a caller who means it declares a length.
        BodyEncoder::Length(0)
    } else {
        headers.insert(
            header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
        headers.remove(header::CONTENT_LENGTH);
        BodyEncoder::Chunked {
            trailer_names: None,
        }
    };
    match encoder {
        BodyEncoder::Chunked { .. } => {
            let announced: Vec<HeaderName> = headers
                .get_all(header::TRAILER)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|list| list.split(','))
                .filter_map(|item| HeaderName::from_bytes(item.trim().as_bytes()).ok())
                .collect();
            BodyEncoder::Chunked {
                trailer_names: (!announced.is_empty()).then_some(announced),
            }
        }
        other => other,
    }
}

fn set_content_length(headers: &mut HeaderMap, n: u64) -> BodyEncoder {
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(n));
    BodyEncoder::Length(n)
}

/// Makes `chunked` the last coding of the last `transfer-encoding` value.
fn complete_with_chunked(headers: &mut HeaderMap) {
    let header::Entry::Occupied(mut entry) = headers.entry(header::TRANSFER_ENCODING) else {
        return;
    };
    let Some(last) = entry.iter_mut().last() else {
        return;
    };
    if ends_with_chunked(last) {
        return;
    }
    let mut joined = BytesMut::with_capacity(last.len() + 9);
    joined.extend_from_slice(last.as_bytes());
    joined.extend_from_slice(b", chunked");
    if let Ok(value) = HeaderValue::from_maybe_shared(joined.freeze()) {
        *last = value;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_of_unknown_size_is_chunked_in_every_version_written_as_http11() {
        for (version, chunked) in [
            (Version::HTTP_11, true),
            (Version::HTTP_2, true),
            (Version::HTTP_10, false),
        ] {
            let (mut parts, ()) = http::Request::post("/upload")
                .version(version)
                .body(())
                .unwrap()
                .into_parts();
            let mut dst = BytesMut::new();
            let encoder = encode(&mut parts, BodySize::Unknown, false, &mut dst);
            let text = String::from_utf8_lossy(&dst);
            assert_eq!(
                matches!(encoder, BodyEncoder::Chunked { .. }),
                chunked,
                "{version:?}: {text}"
            );
            assert_eq!(
                text.contains("transfer-encoding: chunked\r\n"),
                chunked,
                "{version:?}: {text}"
            );
        }
    }
}
