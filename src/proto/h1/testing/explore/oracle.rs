//! An HTTP/1 response-stream reader independent of the crate's own codecs: httparse for heads,
//! and framing decoded here from first principles. The explorer checks the bytes a peer
//! received against what the services produced with it, so a bug shared by the crate's
//! encoder and decoder cannot hide itself.

/// One response as the peer saw it.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Seen {
    pub(super) status: u16,
    pub(super) body: Vec<u8>,
    /// The body's framing was complete (its length reached, or the last chunk seen).
    pub(super) complete: bool,
}

/// Reads responses from `bytes` until it runs out, skipping interim (1xx other than 101)
/// heads. `no_body(i, status)` says that response `i`, with that status, carries no body (it
/// answers a HEAD, say); a response without length or chunked framing has a body running to
/// the end of `bytes`.
pub(super) fn read_responses(
    bytes: &[u8],
    no_body: &dyn Fn(usize, u16) -> bool,
) -> Result<Vec<Seen>, String> {
    let mut seen = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let mut fields = [httparse::EMPTY_HEADER; 64];
        let mut res = httparse::Response::new(&mut fields);
        let head_len = match res.parse(rest) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => {
                seen.push(Seen {
                    status: 0,
                    body: Vec::new(),
                    complete: false,
                });
                return Ok(seen);
            }
            Err(e) => return Err(format!("response {} head does not parse: {e}", seen.len())),
        };
        let status = res.code.unwrap_or(0);
        if (100..200).contains(&status) && status != 101 {
            rest = &rest[head_len..];
            continue;
        }
        let mut length = None;
        let mut chunked = false;
        for f in res.headers.iter() {
            if f.name.eq_ignore_ascii_case("content-length") {
                let text = std::str::from_utf8(f.value).map_err(|e| e.to_string())?;
                length = Some(text.trim().parse::<usize>().map_err(|e| e.to_string())?);
            } else if f.name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = f.value.to_ascii_lowercase().ends_with(b"chunked");
            }
        }
        rest = &rest[head_len..];
        if no_body(seen.len(), status) {
            seen.push(Seen {
                status,
                body: Vec::new(),
                complete: true,
            });
            continue;
        }
        if chunked {
            let (body, used, complete) = read_chunked(rest)?;
            seen.push(Seen {
                status,
                body,
                complete,
            });
            rest = &rest[used..];
        } else if let Some(n) = length {
            let take = n.min(rest.len());
            seen.push(Seen {
                status,
                body: rest[..take].to_vec(),
                complete: take == n,
            });
            rest = &rest[take..];
        } else {
            seen.push(Seen {
                status,
                body: rest.to_vec(),
                complete: true,
            });
            rest = &[];
        }
    }
    Ok(seen)
}

/// One request as the peer (a server) saw it.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct SeenRequest {
    pub(super) path: String,
    pub(super) body: Vec<u8>,
    pub(super) complete: bool,
}

/// Reads requests from `bytes` until it runs out; a request without framing headers has no
/// body.
pub(super) fn read_requests(bytes: &[u8]) -> Result<Vec<SeenRequest>, String> {
    let mut seen = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let mut fields = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut fields);
        let head_len = match req.parse(rest) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => {
                seen.push(SeenRequest {
                    path: String::new(),
                    body: Vec::new(),
                    complete: false,
                });
                return Ok(seen);
            }
            Err(e) => return Err(format!("request {} head does not parse: {e}", seen.len())),
        };
        let path = req.path.unwrap_or_default().to_string();
        let mut length = 0usize;
        let mut chunked = false;
        for f in req.headers.iter() {
            if f.name.eq_ignore_ascii_case("content-length") {
                let text = std::str::from_utf8(f.value).map_err(|e| e.to_string())?;
                length = text
                    .trim()
                    .parse()
                    .map_err(|e: std::num::ParseIntError| e.to_string())?;
            } else if f.name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = f.value.to_ascii_lowercase().ends_with(b"chunked");
            }
        }
        rest = &rest[head_len..];
        if chunked {
            let (body, used, complete) = read_chunked(rest)?;
            seen.push(SeenRequest {
                path,
                body,
                complete,
            });
            rest = &rest[used..];
        } else {
            let take = length.min(rest.len());
            seen.push(SeenRequest {
                path,
                body: rest[..take].to_vec(),
                complete: take == length,
            });
            rest = &rest[take..];
        }
    }
    Ok(seen)
}

/// Decodes a chunked body: (data, bytes used, whether the terminating chunk and final CRLF
/// arrived). Trailer fields are skipped.
fn read_chunked(mut input: &[u8]) -> Result<(Vec<u8>, usize, bool), String> {
    let total = input.len();
    let mut body = Vec::new();
    loop {
        let Some(line_end) = find_crlf(input) else {
            return Ok((body, total, false));
        };
        let size_text = std::str::from_utf8(&input[..line_end]).map_err(|e| e.to_string())?;
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|e| format!("chunk size {size_text:?}: {e}"))?;
        input = &input[line_end + 2..];
        if size == 0 {
            // Trailer fields, then an empty line.
            loop {
                let Some(end) = find_crlf(input) else {
                    return Ok((body, total, false));
                };
                let empty = end == 0;
                input = &input[end + 2..];
                if empty {
                    return Ok((body, total - input.len(), true));
                }
            }
        }
        if input.len() < size {
            body.extend_from_slice(input);
            return Ok((body, total, false));
        }
        body.extend_from_slice(&input[..size]);
        input = &input[size..];
        if input.len() < 2 {
            return Ok((body, total, false));
        }
        if &input[..2] != b"\r\n" {
            return Err("chunk data not followed by CRLF".into());
        }
        input = &input[2..];
    }
}

fn find_crlf(bytes: &[u8]) -> Option<usize> {
    bytes.windows(2).position(|w| w == b"\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_length_chunked_and_partial_responses() {
        let stream = b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nabc\
            HTTP/1.1 201 Created\r\ntransfer-encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\nx: y\r\n\r\n\
            HTTP/1.1 202 Accepted\r\ncontent-length: 5\r\n\r\nab";
        let seen = read_responses(stream, &|_, _| false).unwrap();
        assert_eq!(seen.len(), 3);
        assert_eq!(
            (seen[0].status, seen[0].body.as_slice(), seen[0].complete),
            (200, &b"abc"[..], true)
        );
        assert_eq!(
            (seen[1].status, seen[1].body.as_slice(), seen[1].complete),
            (201, &b"hi"[..], true)
        );
        assert_eq!(
            (seen[2].status, seen[2].body.as_slice(), seen[2].complete),
            (202, &b"ab"[..], false)
        );
    }
}
