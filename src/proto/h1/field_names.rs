//! How header field names go on the wire, for every head and trailer section this crate
//! encodes: the spelling recorded for them, else title case when the connection asks for it,
//! else the lowercase form `http` stores.
use bytes::BytesMut;
use http::header::HeaderName;

use crate::ext::HeaderCaseMap;

/// Writes field names in the casing the connection was asked for. With a [`HeaderCaseMap`]
/// (recorded when a message was parsed with `preserve_header_case`), the n-th value of a name
/// gets the n-th spelling recorded for it; values past the recorded ones, and names it does
/// not know, fall back to the connection's casing.
///
/// Names must be written in the order a `HeaderMap` yields them (all values of a name one
/// after another), which is how the writer counts values per name.
pub(crate) struct NameWriter<'a> {
    case_map: Option<&'a HeaderCaseMap>,
    title_case: bool,
    /// The name whose values are being written, and how many of them were written.
    group: Option<HeaderName>,
    index: usize,
}

impl<'a> NameWriter<'a> {
    pub(crate) fn new(case_map: Option<&'a HeaderCaseMap>, title_case: bool) -> Self {
        NameWriter {
            case_map,
            title_case,
            group: None,
            index: 0,
        }
    }

    pub(crate) fn write(&mut self, dst: &mut BytesMut, name: &HeaderName) {
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
fn write_title_case(dst: &mut BytesMut, name: &[u8]) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_spellings_go_to_values_in_order_and_the_rest_follow_the_casing() {
        let name = HeaderName::from_static("x-mixed");
        let mut map = HeaderCaseMap::default();
        map.append(&name, bytes::Bytes::from_static(b"X-MIXED"));
        let mut dst = BytesMut::new();
        let mut names = NameWriter::new(Some(&map), true);
        for _ in 0..2 {
            names.write(&mut dst, &name);
            dst.extend_from_slice(b" ");
        }
        names.write(&mut dst, &http::header::CONTENT_TYPE);
        assert_eq!(&dst[..], b"X-MIXED X-Mixed Content-Type");

        let mut dst = BytesMut::new();
        NameWriter::new(None, false).write(&mut dst, &http::header::CONTENT_TYPE);
        assert_eq!(&dst[..], b"content-type");
    }
}
