// An HTTP/1.1 response reader independent of both crates under test: the head through
// httparse, the body framing decoded here. Tests read what a server wrote with it and compare
// it with what the service produced. Included by tests with `#[path]`.
#![allow(dead_code)]

/// How a response's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// A 1xx, 204 or 304 response: no body, whatever its headers say.
    NoBody,
    Length(usize),
    Chunked,
    /// Neither a length nor chunked: the body runs until the connection closes.
    UntilClose,
}

/// A response head and the framing it announces.
#[derive(Debug)]
pub struct Head {
    pub status: u16,
    /// Every field in order, names as written.
    pub headers: Vec<(String, Vec<u8>)>,
    pub framing: Framing,
    /// Bytes the head occupies.
    pub len: usize,
}

impl Head {
    /// The first field named `name` (in any case).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        first_field(&self.headers, name)
    }
}

/// A whole response.
#[derive(Debug)]
pub struct ParsedResponse {
    pub status: u16,
    pub headers: Vec<(String, Vec<u8>)>,
    pub framing: Framing,
    pub body: Vec<u8>,
    /// Trailer fields of a chunked body, name and value trimmed.
    pub trailers: Vec<(String, String)>,
    /// Bytes the response occupies, head included.
    pub len: usize,
}

impl ParsedResponse {
    /// The first field named `name` (in any case).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        first_field(&self.headers, name)
    }
}

fn first_field<'a>(fields: &'a [(String, Vec<u8>)], name: &str) -> Option<&'a [u8]> {
    fields
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_slice())
}

/// Parses one response at the start of `buf`: [`parse_head`], then [`read_body`].
pub fn parse_response(buf: &[u8], eof: bool) -> Result<Option<ParsedResponse>, String> {
    match parse_head(buf)? {
        Some(head) => read_body(buf, head, eof),
        None => Ok(None),
    }
}

/// Parses the response head at the start of `buf`; `Ok(None)` while it is incomplete. Only
/// HTTP/1.1, at most one `content-length`, and `chunked` as the only transfer coding are
/// accepted, never both framings at once.
pub fn parse_head(buf: &[u8]) -> Result<Option<Head>, String> {
    let mut fields = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Response::new(&mut fields);
    let len = match parsed.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => {
            return Err(format!(
                "malformed response head ({e}): {:?}",
                String::from_utf8_lossy(&buf[..buf.len().min(200)])
            ))
        }
    };
    if parsed.version != Some(1) {
        return Err(format!(
            "expected an HTTP/1.1 response, got version {:?}",
            parsed.version
        ));
    }
    let status = parsed.code.expect("a complete head has a status");
    let headers: Vec<(String, Vec<u8>)> = parsed
        .headers
        .iter()
        .map(|f| (f.name.to_string(), f.value.to_vec()))
        .collect();
    let mut length = None;
    let mut chunked = false;
    for (name, value) in &headers {
        if name.eq_ignore_ascii_case("content-length") {
            let text = std::str::from_utf8(value).map_err(|_| "non-UTF-8 content-length")?;
            if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("invalid content-length {text:?}"));
            }
            let n = text
                .parse()
                .map_err(|e| format!("content-length {text:?}: {e}"))?;
            if length.replace(n).is_some() {
                return Err("more than one content-length field".into());
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            if chunked || !value.eq_ignore_ascii_case(b"chunked") {
                return Err(format!(
                    "unexpected transfer-encoding {:?}",
                    String::from_utf8_lossy(value)
                ));
            }
            chunked = true;
        }
    }
    let framing = match (status, length, chunked) {
        (100..=199 | 204 | 304, _, _) => Framing::NoBody,
        (_, Some(_), true) => return Err("both content-length and chunked".into()),
        (_, Some(n), false) => Framing::Length(n),
        (_, None, true) => Framing::Chunked,
        (_, None, false) => Framing::UntilClose,
    };
    Ok(Some(Head {
        status,
        headers,
        framing,
        len,
    }))
}

/// Reads the body `head` announces from `buf` (which starts with that head); `Ok(None)` while
/// it is incomplete. `eof`: nothing follows `buf`, which ends a body framed by the close.
pub fn read_body(buf: &[u8], head: Head, eof: bool) -> Result<Option<ParsedResponse>, String> {
    let start = head.len;
    let mut trailers = Vec::new();
    let (body, len) = match head.framing {
        Framing::NoBody => (Vec::new(), start),
        Framing::Length(n) if buf.len() - start < n => return Ok(None),
        Framing::Length(n) => (buf[start..start + n].to_vec(), start + n),
        Framing::UntilClose if eof => (buf[start..].to_vec(), buf.len()),
        Framing::UntilClose => return Ok(None),
        Framing::Chunked => match read_chunked(buf, start, &mut trailers)? {
            Some(read) => read,
            None => return Ok(None),
        },
    };
    Ok(Some(ParsedResponse {
        status: head.status,
        headers: head.headers,
        framing: head.framing,
        body,
        trailers,
        len,
    }))
}

/// Decodes the chunked body at `buf[at..]`: its data and where it ends, once the last chunk and
/// the trailer section arrived. Trailer fields are added to `trailers`.
fn read_chunked(
    buf: &[u8],
    mut at: usize,
    trailers: &mut Vec<(String, String)>,
) -> Result<Option<(Vec<u8>, usize)>, String> {
    let mut body = Vec::new();
    loop {
        let Some(line_end) = find_crlf(buf, at) else {
            if buf.len() - at > 1024 {
                return Err(format!("chunk-size line at {at} longer than 1 KiB"));
            }
            return Ok(None);
        };
        let size_field = buf[at..line_end]
            .split(|&b| b == b';')
            .next()
            .unwrap_or_default();
        let size_text = std::str::from_utf8(size_field)
            .map_err(|_| format!("non-ASCII chunk size at {at}"))?
            .trim_matches(|c| c == ' ' || c == '\t');
        if size_text.is_empty() || !size_text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("invalid chunk size {size_text:?} at {at}"));
        }
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|e| format!("chunk size {size_text:?}: {e}"))?;
        at = line_end + 2;
        if size == 0 {
            // Trailer fields up to an empty line.
            loop {
                let Some(line_end) = find_crlf(buf, at) else {
                    return Ok(None);
                };
                if line_end == at {
                    return Ok(Some((body, at + 2)));
                }
                let line = String::from_utf8_lossy(&buf[at..line_end]);
                let (name, value) = line
                    .split_once(':')
                    .ok_or_else(|| format!("malformed trailer line {line:?} at {at}"))?;
                trailers.push((name.trim().to_string(), value.trim().to_string()));
                at = line_end + 2;
            }
        }
        if buf.len() - at < size.saturating_add(2) {
            return Ok(None);
        }
        if &buf[at + size..at + size + 2] != b"\r\n" {
            return Err(format!("chunk at {at} (size {size}) not followed by CRLF"));
        }
        body.extend_from_slice(&buf[at..at + size]);
        at += size + 2;
    }
}

fn find_crlf(buf: &[u8], from: usize) -> Option<usize> {
    buf.get(from..)?
        .windows(2)
        .position(|w| w == b"\r\n")
        .map(|p| from + p)
}
