//! [`Protocol`]: the `:protocol` pseudo-header of an HTTP/2 extended CONNECT request.
use std::fmt;

/// The protocol an HTTP/2 extended CONNECT request asks for (RFC 8441), such as
/// `websocket`.
///
/// A server built with `enable_connect_protocol` puts it into the extensions of such requests;
/// a client sets it in a CONNECT request's extensions to send one.
#[derive(Clone, Eq, PartialEq)]
pub struct Protocol {
    value: h2::ext::Protocol,
}

impl Protocol {
    /// A protocol name known at compile time.
    pub const fn from_static(value: &'static str) -> Self {
        Protocol {
            value: h2::ext::Protocol::from_static(value),
        }
    }

    /// The protocol name.
    pub fn as_str(&self) -> &str {
        self.value.as_str()
    }

    #[cfg(feature = "server")]
    pub(crate) fn from_h2(value: h2::ext::Protocol) -> Self {
        Protocol { value }
    }

    #[allow(dead_code)]
    pub(crate) fn into_h2(self) -> h2::ext::Protocol {
        self.value
    }
}

impl<'a> From<&'a str> for Protocol {
    fn from(value: &'a str) -> Self {
        Protocol {
            value: h2::ext::Protocol::from(value),
        }
    }
}

impl AsRef<[u8]> for Protocol {
    fn as_ref(&self) -> &[u8] {
        self.value.as_ref()
    }
}

impl fmt::Debug for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.value, f)
    }
}
