//! The crate's error type.
//!
//! An [`Error`] is a boxed pair of a [`Kind`] (what went wrong, as far as HTTP is concerned) and
//! an optional cause (the lower-level error that triggered it, visible through
//! [`std::error::Error::source`]). Keeping it one pointer wide keeps `Result<T, Error>` cheap on
//! the hot paths that return it.
use std::error::Error as StdError;
use std::fmt;

/// Result type returned by the fallible operations of this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// The type-erased lower-level error an [`Error`] may carry.
pub(crate) type Cause = Box<dyn StdError + Send + Sync>;

/// An error that occurred while handling an HTTP connection or message.
///
/// The `Display` output describes only this level; walk [`source()`](StdError::source) (or use
/// a reporter that does) to see what caused it. The wording of messages is not part of the API,
/// and neither are the concrete types found in the source chain: use the `is_*` methods to
/// classify an error.
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: Kind,
    cause: Option<Cause>,
}

/// What went wrong, in HTTP terms. The variant names show up in `Debug` output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(dead_code)] // which kinds can occur depends on the enabled features
pub(crate) enum Kind {
    /// The peer sent bytes that are not a valid HTTP message.
    Parse(Parse),
    /// The application (service, body, headers) did something the protocol cannot carry.
    User(User),
    /// The transport reached EOF while a message was still incomplete.
    IncompleteMessage,
    /// Bytes arrived on a connection that was not expecting a message.
    UnexpectedMessage,
    /// An operation was dropped before it could complete.
    Canceled,
    /// The other end of a channel (request sender, body receiver) is gone.
    ChannelClosed,
    /// The transport failed while reading or writing.
    Io,
    /// The request head did not arrive within the configured time.
    HeaderTimeout,
    /// Reading a message body from the transport failed.
    Body,
    /// Writing a message body to the transport failed.
    BodyWrite,
    /// Shutting down the transport's write side failed.
    Shutdown,
    /// An HTTP/2 protocol error.
    Http2,
}

/// Why an incoming message could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(dead_code)]
pub(crate) enum Parse {
    Method,
    Version,
    /// The HTTP/2 connection preface arrived on an HTTP/1 connection.
    VersionH2,
    Uri,
    /// The request target is longer than the parser accepts.
    UriTooLong,
    Header(Header),
    /// The message head exceeds the buffer or header-count limits.
    TooLarge,
    Status,
    /// A bug inside this crate or its parser; never the peer's fault.
    Internal,
}

/// Which header made a message head unacceptable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(dead_code)]
pub(crate) enum Header {
    Token,
    ContentLengthInvalid,
    TransferEncodingInvalid,
    TransferEncodingUnexpected,
}

/// Mistakes made by the application rather than the peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(dead_code)]
pub(crate) enum User {
    /// The outgoing body stream yielded an error.
    Body,
    /// The outgoing body ended before its declared length was sent.
    BodyWriteAborted,
    /// An HTTP/2 CONNECT request was given a body.
    InvalidConnectWithBody,
    /// The service returned an error.
    Service,
    /// The outgoing head carries headers that contradict each other or the body.
    UnexpectedHeader,
    /// A server response with a 1xx status.
    UnsupportedStatusCode,
    /// `upgrade::on` was used on a message that cannot be upgraded.
    NoUpgrade,
    /// An upgrade was requested while the connection is driven without upgrade support.
    ManualUpgrade,
    /// The client's connection task is gone.
    DispatchGone,
    /// An application callback asked to abort.
    AbortedByCallback,
}

/// Marker placed in the source chain of errors caused by a timer firing.
#[derive(Debug)]
pub(crate) struct TimedOut;

impl fmt::Display for TimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("operation timed out")
    }
}

impl StdError for TimedOut {}

impl Error {
    /// Returns true if this was about an operation (a request, an upgrade) that was canceled
    /// before it completed.
    pub fn is_canceled(&self) -> bool {
        self.inner.kind == Kind::Canceled
    }

    /// Returns true if the other end of a channel (request sender or body receiver) was dropped.
    pub fn is_closed(&self) -> bool {
        self.inner.kind == Kind::ChannelClosed
    }

    /// Returns true if this error was caused by user code: a `Service` or `Body` that failed,
    /// or headers the protocol cannot carry.
    pub fn is_user(&self) -> bool {
        matches!(self.inner.kind, Kind::User(_))
    }

    /// Returns true if the connection reached EOF before a message was complete.
    ///
    /// For a server this includes a client that closes its write half while waiting for the
    /// response; see [`half_close`](crate::server::conn::http1::Builder::half_close).
    pub fn is_incomplete_message(&self) -> bool {
        self.inner.kind == Kind::IncompleteMessage
    }

    /// Returns true if writing a body ended early because the application's body stream ended
    /// before the length it declared.
    pub fn is_body_write_aborted(&self) -> bool {
        self.inner.kind == Kind::User(User::BodyWriteAborted)
    }

    /// Returns true if the error happened while shutting down the transport's write side.
    pub fn is_shutdown(&self) -> bool {
        self.inner.kind == Kind::Shutdown
    }

    /// Returns true if the error was caused by a timeout, such as the server's
    /// [`header_read_timeout`](crate::server::conn::http1::Builder::header_read_timeout).
    pub fn is_timeout(&self) -> bool {
        self.inner.kind == Kind::HeaderTimeout || self.find_source::<TimedOut>().is_some()
    }

    /// Returns true if this was an HTTP parse error.
    ///
    /// A malformed message, an invalid header, URI or version, or a head that is too large.
    pub fn is_parse(&self) -> bool {
        matches!(self.inner.kind, Kind::Parse(_))
    }

    /// Returns true if this was a parse error caused by an invalid response status code or
    /// reason phrase.
    pub fn is_parse_status(&self) -> bool {
        self.inner.kind == Kind::Parse(Parse::Status)
    }

    /// Returns true if this was a parse error caused by a message head that was too large.
    ///
    /// The head exceeded the connection's
    /// [`max_buf_size`](crate::server::conn::http1::Builder::max_buf_size), header count or
    /// header size limit, or the request target exceeded the maximum URI length.
    #[cfg(all(feature = "http1", feature = "server"))]
    pub fn is_parse_too_large(&self) -> bool {
        matches!(
            self.inner.kind,
            Kind::Parse(Parse::TooLarge | Parse::UriTooLong)
        )
    }

    /// Returns true if this was a parse error caused by an HTTP/2 connection preface arriving on
    /// an HTTP/1 connection.
    #[cfg(all(any(feature = "client", feature = "server"), feature = "http1"))]
    pub fn is_parse_version_h2(&self) -> bool {
        self.inner.kind == Kind::Parse(Parse::VersionH2)
    }
}

#[allow(dead_code)] // constructors are used by different feature combinations
impl Error {
    pub(crate) fn new(kind: Kind) -> Error {
        Error {
            inner: Box::new(Inner { kind, cause: None }),
        }
    }

    pub(crate) fn with<C: Into<Cause>>(mut self, cause: C) -> Error {
        self.inner.cause = Some(cause.into());
        self
    }

    pub(crate) fn kind(&self) -> Kind {
        self.inner.kind
    }

    /// The first error of type `E` in the source chain.
    pub(crate) fn find_source<E: StdError + 'static>(&self) -> Option<&E> {
        let mut next = self.source();
        while let Some(err) = next {
            if let Some(found) = err.downcast_ref::<E>() {
                return Some(found);
            }
            next = err.source();
        }
        None
    }

    pub(crate) fn new_parse(parse: Parse) -> Error {
        Error::new(Kind::Parse(parse))
    }

    pub(crate) fn new_user(user: User) -> Error {
        Error::new(Kind::User(user))
    }

    pub(crate) fn new_incomplete() -> Error {
        Error::new(Kind::IncompleteMessage)
    }

    pub(crate) fn new_canceled() -> Error {
        Error::new(Kind::Canceled)
    }

    pub(crate) fn new_closed() -> Error {
        Error::new(Kind::ChannelClosed)
    }

    pub(crate) fn new_io(cause: std::io::Error) -> Error {
        Error::new(Kind::Io).with(cause)
    }

    pub(crate) fn new_body<C: Into<Cause>>(cause: C) -> Error {
        Error::new(Kind::Body).with(cause)
    }

    pub(crate) fn new_body_write<C: Into<Cause>>(cause: C) -> Error {
        Error::new(Kind::BodyWrite).with(cause)
    }

    pub(crate) fn new_shutdown(cause: std::io::Error) -> Error {
        Error::new(Kind::Shutdown).with(cause)
    }

    pub(crate) fn new_header_timeout() -> Error {
        Error::new(Kind::HeaderTimeout)
    }

    pub(crate) fn new_user_service<C: Into<Cause>>(cause: C) -> Error {
        Error::new_user(User::Service).with(cause)
    }

    pub(crate) fn new_user_body<C: Into<Cause>>(cause: C) -> Error {
        Error::new_user(User::Body).with(cause)
    }

    /// An error from `h2`: a transport failure stays an IO error, anything else is an HTTP/2
    /// protocol error with the `h2::Error` as its source (where reqwest and tonic look for it).
    #[cfg(all(feature = "http2", any(feature = "client", feature = "server")))]
    pub(crate) fn new_h2(cause: h2::Error) -> Error {
        if cause.is_io() {
            match cause.into_io() {
                Some(io) => Error::new_io(io),
                None => Error::new(Kind::Io),
            }
        } else {
            Error::new(Kind::Http2).with(cause)
        }
    }

    /// An HTTP/2 keep-alive PING went unanswered for too long (`is_timeout()` is true).
    #[cfg(all(feature = "http2", any(feature = "client", feature = "server")))]
    pub(crate) fn new_keep_alive_timeout() -> Error {
        Error::new(Kind::Http2).with(TimedOut)
    }
}

impl Kind {
    fn describe(self) -> &'static str {
        match self {
            Kind::Parse(p) => p.describe(),
            Kind::User(u) => u.describe(),
            Kind::IncompleteMessage => "connection closed before message completed",
            Kind::UnexpectedMessage => "received unexpected message from connection",
            Kind::Canceled => "operation was canceled",
            Kind::ChannelClosed => "channel closed",
            Kind::Io => "connection error",
            Kind::HeaderTimeout => "read header from client timeout",
            Kind::Body => "error reading a body from connection",
            Kind::BodyWrite => "error writing a body to connection",
            Kind::Shutdown => "error shutting down connection",
            Kind::Http2 => "http2 error",
        }
    }
}

impl Parse {
    fn describe(self) -> &'static str {
        match self {
            Parse::Method => "invalid HTTP method parsed",
            Parse::Version => "invalid HTTP version parsed",
            Parse::VersionH2 => "invalid HTTP version parsed (found HTTP2 preface)",
            Parse::Uri => "invalid URI",
            Parse::UriTooLong => "URI too long",
            Parse::Header(Header::Token) => "invalid HTTP header parsed",
            Parse::Header(Header::ContentLengthInvalid) => "invalid content-length parsed",
            Parse::Header(Header::TransferEncodingInvalid) => "invalid transfer-encoding parsed",
            Parse::Header(Header::TransferEncodingUnexpected) => {
                "unexpected transfer-encoding parsed"
            }
            Parse::TooLarge => "message head is too large",
            Parse::Status => "invalid HTTP status-code parsed",
            Parse::Internal => "internal error inside Hyper and/or its dependencies, please report",
        }
    }
}

impl User {
    fn describe(self) -> &'static str {
        match self {
            User::Body => "error from user's Body stream",
            User::BodyWriteAborted => "user body write aborted",
            User::InvalidConnectWithBody => "user sent CONNECT request with non-zero body",
            User::Service => "error from user's Service",
            User::UnexpectedHeader => "user sent unexpected header",
            User::UnsupportedStatusCode => "response has 1xx status code, not supported by server",
            User::NoUpgrade => "no upgrade available",
            User::ManualUpgrade => "upgrade expected but low level API in use",
            User::DispatchGone => "dispatch task is gone",
            User::AbortedByCallback => "operation aborted by an application callback",
        }
    }
}

impl From<Parse> for Error {
    fn from(parse: Parse) -> Error {
        Error::new_parse(parse)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut t = f.debug_tuple("hyper::Error");
        t.field(&self.inner.kind);
        if let Some(cause) = &self.inner.cause {
            t.field(cause);
        }
        t.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.inner.kind.describe())
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        let cause: &(dyn StdError + Send + Sync + 'static) = self.inner.cause.as_deref()?;
        Some(cause)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync + 'static>() {}

    #[test]
    fn error_is_send_sync_and_one_pointer_wide() {
        assert_send_sync::<Error>();
        assert_eq!(std::mem::size_of::<Error>(), std::mem::size_of::<usize>());
    }

    #[test]
    fn timeout_is_found_anywhere_in_the_source_chain() {
        let direct = Error::new(Kind::Io).with(TimedOut);
        assert!(direct.is_timeout());
        let nested = Error::new(Kind::Io).with(Error::new(Kind::Body).with(TimedOut));
        assert!(nested.is_timeout());
        assert!(!Error::new(Kind::Io).is_timeout());
        assert!(Error::new_header_timeout().is_timeout());
    }

    #[test]
    fn display_shows_only_this_level_and_source_exposes_the_cause() {
        let io = std::io::Error::new(std::io::ErrorKind::BrokenPipe, "pipe");
        let err = Error::new_io(io);
        assert_eq!(err.to_string(), "connection error");
        let src = err.source().expect("cause");
        assert_eq!(src.to_string(), "pipe");
        assert!(format!("{err:?}").starts_with("hyper::Error(Io, "));
    }
}
