//! Responses without headers or extensions take a shortcut in `response_head::encode`; an
//! extension that changes nothing on the wire sends the same response down the general path.
//! Both must write the same bytes and choose the same framing.
use bytes::BytesMut;
use http::{HeaderMap, Method, StatusCode, Version};

use crate::proto::h1::framing::encode::BodySize;
use crate::proto::h1::head_encode::response::{encode, EncodeContext, Encoded, ResponseHead};

fn encoded(
    status: StatusCode,
    version: Version,
    size: BodySize,
    cx: &EncodeContext<'_>,
    general: bool,
) -> (Vec<u8>, String) {
    let mut head = ResponseHead {
        status,
        version,
        headers: HeaderMap::new(),
        extensions: http::Extensions::new(),
    };
    if general {
        // No extension of this type means anything to the encoder.
        head.extensions.insert(7u8);
    }
    let mut dst = BytesMut::new();
    let result: Result<Encoded, _> = encode(&mut head, size, cx, &mut dst);
    let framing = match result {
        Ok(e) => format!("{:?} closes={}", e.body, e.closes),
        Err(e) => format!("error {e}"),
    };
    (dst.to_vec(), framing)
}

#[test]
fn the_shortcut_writes_what_the_general_encoder_writes() {
    let statuses = [
        StatusCode::OK,
        StatusCode::CREATED,
        StatusCode::NO_CONTENT,
        StatusCode::NOT_MODIFIED,
        StatusCode::SWITCHING_PROTOCOLS,
        StatusCode::CONTINUE,
        StatusCode::NOT_FOUND,
        StatusCode::from_u16(599).unwrap(),
    ];
    let sizes = [
        BodySize::Empty,
        BodySize::Known(0),
        BodySize::Known(13),
        BodySize::Known(u64::MAX),
        BodySize::Unknown,
    ];
    let methods = [
        None,
        Some(Method::GET),
        Some(Method::HEAD),
        Some(Method::CONNECT),
    ];
    let mut compared = 0;
    for status in statuses {
        for version in [Version::HTTP_11, Version::HTTP_10, Version::HTTP_2] {
            for size in sizes {
                for method in &methods {
                    for (keep_alive, date_header) in [(true, false), (false, true)] {
                        let cx = EncodeContext {
                            request_method: method.as_ref(),
                            keep_alive,
                            title_case: false,
                            date_header,
                        };
                        let bare = encoded(status, version, size, &cx, false);
                        let general = encoded(status, version, size, &cx, true);
                        assert_eq!(
                            bare, general,
                            "{status} {version:?} {size:?} {method:?} keep_alive={keep_alive}"
                        );
                        compared += 1;
                    }
                }
            }
        }
    }
    assert_eq!(compared, 8 * 3 * 5 * 4 * 2);
}

#[test]
fn a_head_reused_from_the_last_response_follows_the_date_and_the_length() {
    let cx = EncodeContext {
        request_method: Some(&Method::GET),
        keep_alive: true,
        title_case: false,
        date_header: true,
    };
    let at = |secs| std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs);
    crate::proto::date::render_for_test(at(1_000_000_000));
    let first = encoded(
        StatusCode::OK,
        Version::HTTP_11,
        BodySize::Known(13),
        &cx,
        false,
    );
    let again = encoded(
        StatusCode::OK,
        Version::HTTP_11,
        BodySize::Known(13),
        &cx,
        false,
    );
    assert_eq!(first, again);
    assert!(String::from_utf8_lossy(&first.0).contains("date: Sun, 09 Sep 2001 01:46:40 GMT"));

    crate::proto::date::render_for_test(at(1_000_000_001));
    let later = encoded(
        StatusCode::OK,
        Version::HTTP_11,
        BodySize::Known(13),
        &cx,
        false,
    );
    assert!(String::from_utf8_lossy(&later.0).contains("date: Sun, 09 Sep 2001 01:46:41 GMT"));
    assert_eq!(
        later,
        encoded(
            StatusCode::OK,
            Version::HTTP_11,
            BodySize::Known(13),
            &cx,
            true
        )
    );

    let longer = encoded(
        StatusCode::OK,
        Version::HTTP_11,
        BodySize::Known(14),
        &cx,
        false,
    );
    assert!(String::from_utf8_lossy(&longer.0).contains("content-length: 14\r\n"));
    let without_date = EncodeContext {
        date_header: false,
        ..cx
    };
    let bare = encoded(
        StatusCode::OK,
        Version::HTTP_11,
        BodySize::Known(14),
        &without_date,
        false,
    );
    assert!(!String::from_utf8_lossy(&bare.0).contains("date:"));
}
