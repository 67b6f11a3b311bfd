//! The options both HTTP/1 builders (`client::conn::http1::Builder` and
//! `server::conn::http1::Builder`) have, and how they become the head parser's limits and the
//! output's write mode of a connection.
//!
//! Each builder keeps the options only its role has beside a [`ConnOptions`], and turns both
//! into its role's connection config (`proto::h1::client::ClientConfig`,
//! `proto::h1::server::ServerConfig`) when a connection starts.
use super::head_parse::HeadConfig;
use super::out_buf::WriteMode;
use super::{DEFAULT_MAX_BUFFER_SIZE, MINIMUM_MAX_BUFFER_SIZE};

/// The options of an HTTP/1 connection that mean the same for either role; a role's builder
/// documents each for its side (heads parsed are requests on a server, responses on a
/// client).
#[derive(Clone, Debug, Default)]
pub(crate) struct ConnOptions {
    /// The `httparse` leniencies; each role sets only those for the heads it reads.
    pub(crate) parser: httparse::ParserConfig,
    /// `None` asks the transport whether it prefers vectored writes.
    pub(crate) writev: Option<bool>,
    pub(crate) title_case_headers: bool,
    pub(crate) preserve_header_case: bool,
    /// `None` is the parser's default of 100 fields.
    pub(crate) max_headers: Option<usize>,
    /// `None` leaves heads bounded by the buffer size alone.
    pub(crate) max_header_size: Option<usize>,
    /// `None` is [`DEFAULT_MAX_BUFFER_SIZE`].
    pub(crate) max_buf_size: Option<usize>,
}

impl ConnOptions {
    /// Sets `max_buf_size`.
    ///
    /// # Panics
    ///
    /// If `max` is less than [`MINIMUM_MAX_BUFFER_SIZE`] (one initial read must fit), as
    /// upstream's builders do.
    pub(crate) fn max_buf_size(&mut self, max: usize) {
        assert!(
            max >= MINIMUM_MAX_BUFFER_SIZE,
            "max_buf_size must be at least {MINIMUM_MAX_BUFFER_SIZE} bytes"
        );
        self.max_buf_size = Some(max);
    }

    /// The limits and leniencies the connection parses heads with.
    pub(crate) fn head_config(&self) -> HeadConfig {
        HeadConfig {
            parser: self.parser.clone(),
            max_headers: self.max_headers,
            max_header_size: self.max_header_size,
            max_buf: self.max_buf_size.unwrap_or(DEFAULT_MAX_BUFFER_SIZE),
            preserve_case: self.preserve_header_case,
        }
    }

    /// How the connection's output is written; `None` lets the transport decide.
    pub(crate) fn write_mode(&self) -> Option<WriteMode> {
        self.writev.map(|vectored| {
            if vectored {
                WriteMode::Queue
            } else {
                WriteMode::Flatten
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::ConnOptions;
    use crate::proto::h1::out_buf::WriteMode;
    use crate::proto::h1::{DEFAULT_MAX_BUFFER_SIZE, MINIMUM_MAX_BUFFER_SIZE};

    #[test]
    fn unset_options_leave_the_buffer_default_and_the_write_mode_to_the_transport() {
        let options = ConnOptions::default();
        assert_eq!(options.head_config().max_buf, DEFAULT_MAX_BUFFER_SIZE);
        assert!(options.write_mode().is_none());
    }

    #[test]
    fn writev_chooses_queued_or_flattened_output() {
        let vectored = |writev| ConnOptions {
            writev: Some(writev),
            ..ConnOptions::default()
        };
        assert!(vectored(true).write_mode() == Some(WriteMode::Queue));
        assert!(vectored(false).write_mode() == Some(WriteMode::Flatten));
    }

    #[test]
    fn the_buffer_limit_bounds_heads() {
        let mut options = ConnOptions::default();
        options.max_buf_size(MINIMUM_MAX_BUFFER_SIZE);
        assert_eq!(options.head_config().max_buf, MINIMUM_MAX_BUFFER_SIZE);
    }

    #[test]
    #[should_panic(expected = "max_buf_size must be at least")]
    fn a_buffer_limit_below_the_minimum_panics() {
        ConnOptions::default().max_buf_size(MINIMUM_MAX_BUFFER_SIZE - 1);
    }
}
