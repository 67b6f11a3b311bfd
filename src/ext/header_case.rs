//! The original spelling of header names, for connections that preserve header case.

use bytes::Bytes;
use http::header::{HeaderMap, HeaderName};

/// How the peer (or the application) spelled each header name, byte for byte.
///
/// [`HeaderName`] is always lowercase, so a parsed message loses the case its header names had on
/// the wire. When a connection is told to preserve header case, its parser records here, for
/// every header line, the canonical name and the name's original bytes, and stores the map in the
/// message's extensions. A connection writing a message that carries such a map writes each
/// header line with the recorded spelling instead of the lowercase name.
///
/// Spellings are kept per name in the order they were added, which is the order the header lines
/// appeared in. Since `HeaderMap` keeps the values of one name in that order too, the n-th
/// spelling of a name belongs to its n-th value.
///
/// The type is crate-private: applications cannot name it, so they cannot look it up in (or put
/// it into) extensions themselves. It still has to be `Clone + Send + Sync + 'static` to be
/// stored in [`http::Extensions`].
#[derive(Clone, Debug)]
pub(crate) struct HeaderCaseMap {
    /// Canonical name -> original spellings, in insertion order. A `HeaderMap` is a multimap
    /// with exactly the lookup we need, and it keeps names as cheap `HeaderName` keys.
    spellings: HeaderMap<Bytes>,
}

// Which of these the connection code calls depends on the roles (client, server) compiled in.
#[allow(dead_code)]
impl HeaderCaseMap {
    /// An empty map.
    pub(crate) fn default() -> Self {
        HeaderCaseMap {
            spellings: HeaderMap::with_capacity(0),
        }
    }

    /// Records one more spelling of `name`, after those already recorded.
    pub(crate) fn append(&mut self, name: &HeaderName, orig: Bytes) {
        self.spellings.append(name, orig);
    }

    /// Makes `orig` the only recorded spelling of `name`.
    pub(crate) fn insert(&mut self, name: HeaderName, orig: Bytes) {
        self.spellings.insert(name, orig);
    }

    /// The recorded spellings of `name`, in the order they were added; empty if there are none.
    pub(crate) fn get_all(&self, name: &HeaderName) -> impl Iterator<Item = &Bytes> {
        self.spellings.get_all(name).into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spellings(map: &HeaderCaseMap, name: &HeaderName) -> Vec<Vec<u8>> {
        map.get_all(name).map(|b| b.to_vec()).collect()
    }

    #[test]
    fn spellings_come_back_in_insertion_order() {
        let mut map = HeaderCaseMap::default();
        let name = HeaderName::from_static("x-request-id");
        let other = HeaderName::from_static("host");
        map.append(&name, Bytes::from_static(b"X-Request-Id"));
        map.append(&other, Bytes::from_static(b"HOST"));
        map.append(&name, Bytes::from_static(b"x-REQUEST-id"));
        map.append(&name, Bytes::from_static(b"x-request-id"));

        assert_eq!(
            spellings(&map, &name),
            [&b"X-Request-Id"[..], b"x-REQUEST-id", b"x-request-id"]
        );
        assert_eq!(spellings(&map, &other), [b"HOST"]);
    }

    #[test]
    fn unknown_names_have_no_spellings() {
        let map = HeaderCaseMap::default();
        assert_eq!(map.get_all(&http::header::ACCEPT).count(), 0);
    }

    #[test]
    fn insert_replaces_earlier_spellings() {
        let mut map = HeaderCaseMap::default();
        let name = http::header::CONTENT_TYPE;
        map.append(&name, Bytes::from_static(b"Content-Type"));
        map.append(&name, Bytes::from_static(b"CONTENT-TYPE"));
        map.insert(name.clone(), Bytes::from_static(b"content-TYPE"));
        assert_eq!(spellings(&map, &name), [b"content-TYPE"]);
        map.append(&name, Bytes::from_static(b"Content-type"));
        assert_eq!(
            spellings(&map, &name),
            [&b"content-TYPE"[..], b"Content-type"]
        );
    }

    #[test]
    fn survives_a_trip_through_extensions() {
        fn bounds<T: Clone + Send + Sync + 'static>() {}
        bounds::<HeaderCaseMap>();

        let mut map = HeaderCaseMap::default();
        map.append(&http::header::HOST, Bytes::from_static(b"Host"));
        let mut req = http::Request::new(());
        req.extensions_mut().insert(map);
        let copy = req.extensions().clone();
        let stored = copy.get::<HeaderCaseMap>().expect("stored");
        assert_eq!(spellings(stored, &http::header::HOST), [b"Host"]);
    }
}
