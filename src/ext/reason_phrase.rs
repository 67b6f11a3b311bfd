//! The free text at the end of an HTTP/1 status line.

use std::fmt;

use bytes::Bytes;

/// The reason phrase of an HTTP/1 response, for when the exact text matters.
///
/// An HTTP/1 status line ends with free text, as in `HTTP/1.1 404 Not Found`. The protocol
/// attaches no meaning to it and [`http::Response`] does not model it, so this type carries it
/// in the response's extensions when it is not the usual text:
///
/// - A **client** connection adds a `ReasonPhrase` to a received response whose reason phrase
///   differs from the canonical one for its status code (see
///   [`StatusCode::canonical_reason`](http::StatusCode::canonical_reason)). A response with the
///   canonical phrase gets no extension.
/// - A **server** connection writing an HTTP/1 response that has a `ReasonPhrase` in its
///   extensions puts that text on the status line instead of the canonical phrase.
///
/// # Validity
///
/// Every `ReasonPhrase` holds only bytes that the HTTP/1 grammar allows in a reason phrase:
/// horizontal tab, space, visible ASCII (`0x21..=0x7E`) and obs-text (`0x80..=0xFF`). The
/// constructors check this. It matters for servers: a carriage return or line feed would end the
/// status line early and let the rest of the phrase be read as header fields.
///
/// ```
/// use hyper::ext::ReasonPhrase;
///
/// let mut res = http::Response::new(());
/// res.extensions_mut()
///     .insert(ReasonPhrase::from_static(b"Everything Is Fine"));
///
/// let smuggled = String::from("OK\r\nSet-Cookie: a=b");
/// assert!(ReasonPhrase::try_from(smuggled).is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReasonPhrase(Bytes);

impl ReasonPhrase {
    /// Makes a reason phrase from a static byte string, without copying it.
    ///
    /// # Panics
    ///
    /// Panics if `reason` contains a byte that is not allowed in a reason phrase (see
    /// [Validity](ReasonPhrase#validity)). When evaluated in a const context, such as the
    /// initializer of a `const`, this becomes a compile-time error instead.
    pub const fn from_static(reason: &'static [u8]) -> Self {
        if first_disallowed(reason).is_some() {
            panic!("static reason phrase contains a byte that is not allowed in a reason phrase");
        }
        ReasonPhrase(Bytes::from_static(reason))
    }

    /// Wraps bytes without checking them.
    ///
    /// Only for bytes that already went through an equivalent check, such as a status line
    /// accepted by the HTTP/1 parser: a phrase with CR or LF in it would let a server write
    /// arbitrary header fields.
    #[cfg_attr(not(feature = "client"), allow(dead_code))]
    pub(crate) fn from_bytes_unchecked(reason: Bytes) -> Self {
        ReasonPhrase(reason)
    }

    /// The phrase's bytes (not necessarily UTF-8: obs-text bytes are allowed).
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_ref()
    }
}

/// Whether `byte` may appear in a reason phrase: `HTAB / SP / VCHAR / obs-text`.
const fn is_allowed(byte: u8) -> bool {
    matches!(byte, b'\t' | b' ' | 0x21..=0x7e | 0x80..=0xff)
}

/// The first byte of `phrase` that may not appear in a reason phrase, if any. A `const fn`
/// (hence the manual loop) so that `from_static` can run it at compile time.
const fn first_disallowed(phrase: &[u8]) -> Option<u8> {
    let mut rest = phrase;
    while let [byte, tail @ ..] = rest {
        if !is_allowed(*byte) {
            return Some(*byte);
        }
        rest = tail;
    }
    None
}

/// Checks `phrase` before any copy or conversion is made.
fn validate(phrase: &[u8]) -> Result<(), InvalidReasonPhrase> {
    match first_disallowed(phrase) {
        Some(bad_byte) => Err(InvalidReasonPhrase { bad_byte }),
        None => Ok(()),
    }
}

impl TryFrom<&[u8]> for ReasonPhrase {
    type Error = InvalidReasonPhrase;

    /// Copies the bytes into a new reason phrase if all of them are allowed.
    fn try_from(reason: &[u8]) -> Result<Self, Self::Error> {
        validate(reason)?;
        Ok(ReasonPhrase(Bytes::copy_from_slice(reason)))
    }
}

/// Conversions from owned buffers: validate, then take over the buffer without copying.
macro_rules! try_from_owned {
    ($($owned:ty),+) => {$(
        impl TryFrom<$owned> for ReasonPhrase {
            type Error = InvalidReasonPhrase;

            fn try_from(reason: $owned) -> Result<Self, Self::Error> {
                validate(AsRef::<[u8]>::as_ref(&reason))?;
                Ok(ReasonPhrase(Bytes::from(reason)))
            }
        }
    )+};
}

try_from_owned!(Vec<u8>, String, Bytes);

impl AsRef<[u8]> for ReasonPhrase {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

/// Gives the phrase's buffer back without copying.
impl From<ReasonPhrase> for Bytes {
    fn from(reason: ReasonPhrase) -> Bytes {
        let ReasonPhrase(bytes) = reason;
        bytes
    }
}

/// The error returned when converting bytes that are not a valid reason phrase into a
/// [`ReasonPhrase`].
///
/// Its message names the first offending byte. The allowed bytes are listed under
/// [Validity](ReasonPhrase#validity).
#[derive(Debug)]
pub struct InvalidReasonPhrase {
    bad_byte: u8,
}

impl fmt::Display for InvalidReasonPhrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Invalid byte in reason phrase: {}", self.bad_byte)
    }
}

impl std::error::Error for InvalidReasonPhrase {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// The grammar, spelled out independently of `is_allowed`.
    fn allowed_by_grammar(byte: u8) -> bool {
        let htab = byte == 0x09;
        let sp = byte == 0x20;
        let vchar = (0x21..=0x7e).contains(&byte);
        let obs_text = byte >= 0x80;
        htab || sp || vchar || obs_text
    }

    #[test]
    fn every_byte_is_classified_like_the_grammar() {
        for byte in 0..=u8::MAX {
            let phrase = [b'a', byte, b'z'];
            let result = ReasonPhrase::try_from(&phrase[..]);
            assert_eq!(result.is_ok(), allowed_by_grammar(byte), "byte {byte:#04x}");
            if let Err(err) = result {
                assert_eq!(err.bad_byte, byte);
                assert_eq!(
                    err.to_string(),
                    format!("Invalid byte in reason phrase: {byte}")
                );
            }
        }
    }

    #[test]
    fn first_bad_byte_is_reported() {
        let err = ReasonPhrase::try_from(&b"ok\x7f\r\n"[..]).unwrap_err();
        assert_eq!(err.bad_byte, 0x7f);
    }

    #[test]
    fn control_characters_are_rejected_by_every_constructor() {
        for bad in [&b"a\rb"[..], b"a\nb", b"\0", b"del\x7f"] {
            assert!(ReasonPhrase::try_from(bad).is_err());
            assert!(ReasonPhrase::try_from(bad.to_vec()).is_err());
            assert!(ReasonPhrase::try_from(Bytes::copy_from_slice(bad)).is_err());
            let text = String::from_utf8(bad.to_vec()).unwrap();
            assert!(ReasonPhrase::try_from(text).is_err());
        }
    }

    #[test]
    fn valid_phrases_round_trip_through_every_constructor() {
        let samples: [&[u8]; 4] = [b"", b"OK", b"Not\tFound  ", b"caf\xe9 \xff"];
        for sample in samples {
            let expected = ReasonPhrase::try_from(sample).unwrap();
            assert_eq!(expected.as_bytes(), sample);
            assert_eq!(expected.as_ref(), sample);
            assert_eq!(ReasonPhrase::try_from(sample.to_vec()).unwrap(), expected);
            assert_eq!(
                ReasonPhrase::try_from(Bytes::copy_from_slice(sample)).unwrap(),
                expected
            );
            assert_eq!(Bytes::from(expected), sample);
        }
        let text = ReasonPhrase::try_from(String::from("Teapot Time")).unwrap();
        assert_eq!(text.as_bytes(), b"Teapot Time");
    }

    #[test]
    fn owned_conversions_reuse_the_buffer() {
        let bytes = Bytes::from(b"Reused".to_vec());
        let ptr = bytes.as_ptr();
        let phrase = ReasonPhrase::try_from(bytes).unwrap();
        assert_eq!(phrase.as_bytes().as_ptr(), ptr);
        assert_eq!(Bytes::from(phrase).as_ptr(), ptr);

        let vec = b"Also reused".to_vec();
        let ptr = vec.as_ptr();
        assert_eq!(
            ReasonPhrase::try_from(vec).unwrap().as_bytes().as_ptr(),
            ptr
        );
    }

    #[test]
    fn from_static_works_in_const_context() {
        const FINE: ReasonPhrase = ReasonPhrase::from_static(b"Fine \xa0 Thanks");
        assert_eq!(FINE.as_bytes(), b"Fine \xa0 Thanks");
        assert_eq!(ReasonPhrase::from_static(b"").as_bytes(), b"");
    }

    #[test]
    #[should_panic(expected = "not allowed in a reason phrase")]
    fn from_static_panics_on_line_feed() {
        let _ = ReasonPhrase::from_static(b"Line\nBreak");
    }

    #[test]
    #[should_panic(expected = "not allowed in a reason phrase")]
    fn from_static_panics_on_carriage_return() {
        let _ = ReasonPhrase::from_static(b"Carriage\rReturn");
    }

    #[test]
    fn unchecked_wraps_as_is() {
        let raw = Bytes::from_static(b"anything\n");
        assert_eq!(
            ReasonPhrase::from_bytes_unchecked(raw).as_bytes(),
            b"anything\n"
        );
    }

    #[test]
    fn derived_traits_behave_like_the_bytes() {
        let a = ReasonPhrase::from_static(b"Alpha");
        let b = ReasonPhrase::from_static(b"Beta");
        assert!(a < b);
        assert_eq!(a.clone(), a);
        let set: HashSet<_> = [a.clone(), b, a].into_iter().collect();
        assert_eq!(set.len(), 2);
        assert_eq!(
            format!("{:?}", ReasonPhrase::from_static(b"Hi")),
            "ReasonPhrase(b\"Hi\")"
        );
    }

    #[test]
    fn lives_in_extensions() {
        fn bounds<T: Clone + Send + Sync + 'static>() {}
        bounds::<ReasonPhrase>();
        fn error_bounds<E: std::error::Error + Send + Sync + 'static>() {}
        error_bounds::<InvalidReasonPhrase>();

        let mut res = http::Response::new(());
        res.extensions_mut()
            .insert(ReasonPhrase::from_static(b"Custom"));
        let got = res.extensions().get::<ReasonPhrase>().unwrap();
        assert_eq!(got.as_bytes(), b"Custom");
    }
}
