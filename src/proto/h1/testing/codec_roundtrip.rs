//! Property tests: what one role encodes, the other role's parser reads back unchanged, for
//! any content and any way the bytes are split on arrival.
use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Version};
use proptest::prelude::*;

use crate::proto::h1::framing::decode::{Decoded, Decoder, Framing};
use crate::proto::h1::framing::encode::{BodyEncoder, BodySize};
use crate::proto::h1::head_encode::{request as request_encode, response as response_encode};
use crate::proto::h1::head_parse::{request as request_parse, response as response_parse};
use crate::proto::h1::head_parse::{HeadConfig, HeadScratch};
use crate::proto::h1::header_values;
use crate::proto::h1::out_buf::{OutBuf, WriteMode};
use crate::proto::h1::testing::sink::drain;

/// Feeds `wire` to `decoder` in pieces of the given sizes (cycled), collecting the body.
fn decode_split(
    mut decoder: Decoder,
    wire: &[u8],
    splits: &[usize],
) -> (Vec<u8>, Option<HeaderMap>) {
    let mut buf = BytesMut::new();
    let mut fed = 0;
    let mut body = Vec::new();
    let mut i = 0;
    loop {
        match decoder
            .decode(&mut buf, fed == wire.len())
            .expect("valid framing")
        {
            Decoded::Data(d) => body.extend_from_slice(&d),
            Decoded::Trailers(t) => return (body, Some(t)),
            Decoded::End => return (body, None),
            Decoded::NeedMore => {
                let step = splits[i % splits.len()].max(1);
                i += 1;
                let end = (fed + step).min(wire.len());
                buf.extend_from_slice(&wire[fed..end]);
                fed = end;
            }
        }
    }
}

fn head_config() -> HeadConfig {
    HeadConfig {
        parser: httparse::ParserConfig::default(),
        max_headers: None,
        max_header_size: None,
        max_buf: 1 << 20,
        preserve_case: false,
    }
}

fn header_name() -> impl Strategy<Value = HeaderName> {
    "x-[a-z0-9-]{1,12}".prop_map(|s| HeaderName::from_bytes(s.as_bytes()).expect("token"))
}

fn header_value() -> impl Strategy<Value = HeaderValue> {
    "[!-~]([ -~]{0,30}[!-~])?".prop_map(|s| HeaderValue::from_str(&s).expect("visible ASCII"))
}

proptest! {
    #[test]
    fn chunked_bodies_survive_encoding_and_any_split(
        chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..300), 0..8),
        splits in proptest::collection::vec(1usize..64, 1..8),
        queue in any::<bool>(),
    ) {
        let mode = if queue { WriteMode::Queue } else { WriteMode::Flatten };
        let mut out = OutBuf::new(mode, usize::MAX);
        let mut enc = BodyEncoder::Chunked { trailer_names: None };
        let mut expected = Vec::new();
        for c in &chunks {
            expected.extend_from_slice(c);
            enc.encode_data(Bytes::from(c.clone()), &mut out);
        }
        enc.encode_end(&mut out).expect("chunked bodies can always end");
        let wire = drain(&mut out);
        let (body, trailers) = decode_split(Decoder::chunked(None, None), &wire, &splits);
        prop_assert_eq!(body, expected);
        prop_assert!(trailers.is_none());
    }

    #[test]
    fn length_bodies_survive_encoding_and_any_split(
        data in proptest::collection::vec(any::<u8>(), 1..2000),
        cut in 1usize..7,
        splits in proptest::collection::vec(1usize..500, 1..5),
    ) {
        let mut out = OutBuf::new(WriteMode::Queue, usize::MAX);
        let mut enc = BodyEncoder::Length(data.len() as u64);
        let piece = data.len().div_ceil(cut);
        for c in data.chunks(piece) {
            enc.encode_data(Bytes::copy_from_slice(c), &mut out);
        }
        prop_assert!(enc.is_complete());
        let wire = drain(&mut out);
        let (body, _) = decode_split(Decoder::length(data.len() as u64), &wire, &splits);
        prop_assert_eq!(body, data);
    }

    #[test]
    fn a_request_head_encoded_by_the_client_parses_identically_on_the_server(
        method in prop_oneof![Just(Method::GET), Just(Method::POST), Just(Method::PUT), Just(Method::DELETE), Just(Method::PATCH)],
        path in "/[a-zA-Z0-9._~-]{0,20}(\\?[a-z0-9=&]{0,20})?",
        fields in proptest::collection::vec((header_name(), header_value()), 0..10),
        size in prop_oneof![Just(BodySize::Empty), (1u64..1_000_000).prop_map(BodySize::Known), Just(BodySize::Unknown)],
        title_case in any::<bool>(),
        splits in proptest::collection::vec(1usize..40, 1..5),
    ) {
        let mut request = http::Request::new(());
        *request.method_mut() = method.clone();
        *request.uri_mut() = path.parse().expect("valid origin form");
        for (name, value) in &fields {
            request.headers_mut().append(name.clone(), value.clone());
        }
        let (mut parts, ()) = request.into_parts();
        let mut wire = BytesMut::new();
        let encoder = request_encode::encode(&mut parts, size, title_case, &mut wire);

        let cfg = head_config();
        let mut scratch = HeadScratch::default();
        let mut buf = BytesMut::new();
        let mut fed = 0;
        let mut i = 0;
        let parsed = loop {
            if let Some(p) = request_parse::parse(&mut buf, &cfg, &mut scratch, &mut None).expect("parses") {
                break p;
            }
            prop_assert!(fed < wire.len(), "complete head not recognised");
            let end = (fed + splits[i % splits.len()]).min(wire.len());
            i += 1;
            buf.extend_from_slice(&wire[fed..end]);
            fed = end;
        };
        prop_assert_eq!(parsed.head.method(), &method);
        prop_assert_eq!(parsed.head.uri(), &parts.uri);
        prop_assert_eq!(parsed.head.version(), Version::HTTP_11);
        prop_assert_eq!(parsed.head.headers(), &parts.headers);
        let expected = match encoder {
            BodyEncoder::Length(0) => Framing::Empty,
            BodyEncoder::Length(n) => Framing::Length(n),
            _ => Framing::Chunked,
        };
        prop_assert_eq!(parsed.body, expected);
    }

    #[test]
    fn a_response_head_encoded_by_the_server_parses_identically_on_the_client(
        status in 200u16..600,
        fields in proptest::collection::vec((header_name(), header_value()), 0..10),
        size in prop_oneof![Just(BodySize::Empty), (1u64..1_000_000).prop_map(BodySize::Known), Just(BodySize::Unknown)],
        title_case in any::<bool>(),
        keep_alive in any::<bool>(),
    ) {
        let status = StatusCode::from_u16(status).expect("valid status");
        let mut headers = HeaderMap::new();
        for (name, value) in &fields {
            headers.append(name.clone(), value.clone());
        }
        let mut head = response_encode::ResponseHead {
            status,
            version: Version::HTTP_11,
            headers: headers.clone(),
            extensions: http::Extensions::new(),
        };
        // As the server does before encoding: a closing connection says so.
        let keep_alive = header_values::adjust_for_peer(&mut head.version, &mut head.headers, Version::HTTP_11, keep_alive, true);
        let cx = response_encode::EncodeContext {
            request_method: Some(&Method::GET),
            keep_alive,
            title_case,
            date_header: true,
        };
        let mut wire = BytesMut::new();
        let encoded = response_encode::encode(&mut head, size, &cx, &mut wire).expect("encodes");
        let mut buf = wire.clone();
        let parsed = response_parse::parse(&mut buf, &head_config(), &mut HeadScratch::default(), &mut None, Some(&Method::GET), false)
            .expect("parses")
            .expect("complete");
        let response_parse::ParsedResponse::Final(parsed) = parsed else {
            return Err(TestCaseError::fail("a final status parsed as interim"));
        };
        prop_assert!(buf.is_empty(), "the whole head was consumed");
        prop_assert_eq!(parsed.head.status(), status);
        for (name, value) in &headers {
            prop_assert!(parsed.head.headers().get_all(name).iter().any(|v| v == value));
        }
        prop_assert!(parsed.head.headers().contains_key(http::header::DATE));
        let expected = match encoded.body {
            BodyEncoder::Length(0) => Framing::Empty,
            BodyEncoder::Length(n) => Framing::Length(n),
            BodyEncoder::Chunked { .. } => Framing::Chunked,
            BodyEncoder::UntilClose => Framing::UntilClose,
        };
        let no_body = status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED;
        prop_assert_eq!(parsed.body, if no_body { Framing::Empty } else { expected });
        prop_assert_eq!(parsed.keep_alive, keep_alive && !encoded.closes);
    }
}
