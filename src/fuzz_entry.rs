//! Entry points for the fuzz targets in `fuzz/`, compiled only under `cfg(fuzzing)` (which
//! `cargo fuzz` passes to every crate it builds) with the `client`, `server` and `http1` features.
//!
//! Each takes arbitrary bytes and must never panic; the targets only call these.
use bytes::BytesMut;

use crate::proto::h1::framing::decode::{Decoded, Decoder};
use crate::proto::h1::head_parse::{self, HeadConfig, HeadScratch};
use crate::proto::h1::DEFAULT_MAX_BUFFER_SIZE;

fn config() -> HeadConfig {
    HeadConfig {
        parser: httparse::ParserConfig::default(),
        max_headers: None,
        max_header_size: None,
        max_buf: DEFAULT_MAX_BUFFER_SIZE,
        preserve_case: true,
    }
}

/// Splits `input` at `split` and parses a request head from the pieces as they arrive.
pub fn request_head(input: &[u8], split: usize) {
    let cfg = config();
    let mut scratch = HeadScratch::default();
    let mut buf = BytesMut::new();
    let cut = split.min(input.len());
    for piece in [&input[..cut], &input[cut..]] {
        buf.extend_from_slice(piece);
        match head_parse::request::parse(&mut buf, &cfg, &mut scratch, &mut None) {
            Ok(Some(parsed)) => {
                if let Some((decoder, _)) = parsed.body.decoder(None, None) {
                    drive_decoder(decoder, &mut buf);
                }
                return;
            }
            Ok(None) => {}
            Err(_) => return,
        }
    }
}

/// Parses response heads (interim ones included) from `input`, with `method` deciding the
/// framing, and decodes whatever body follows.
pub fn response_head(input: &[u8], method_selector: u8, http09: bool) {
    let method = match method_selector % 4 {
        0 => http::Method::GET,
        1 => http::Method::HEAD,
        2 => http::Method::CONNECT,
        _ => http::Method::POST,
    };
    let mut cfg = config();
    cfg.parser
        .allow_obsolete_multiline_headers_in_responses(method_selector & 0x10 != 0)
        .allow_spaces_after_header_name_in_responses(method_selector & 0x20 != 0);
    let mut buf = BytesMut::from(input);
    let mut scratch = HeadScratch::default();
    for _ in 0..16 {
        match head_parse::response::parse(
            &mut buf,
            &cfg,
            &mut scratch,
            &mut None,
            Some(&method),
            http09,
        ) {
            Ok(Some(head_parse::response::ParsedResponse::Interim(_))) => continue,
            Ok(Some(head_parse::response::ParsedResponse::Final(res))) => {
                if let Some((decoder, _)) = res.body.decoder(None, None) {
                    drive_decoder(decoder, &mut buf);
                }
                return;
            }
            Ok(None) | Err(_) => return,
        }
    }
}

/// Decodes a chunked body from `input`, delivered in pieces of `step` bytes.
pub fn chunked(input: &[u8], step: u8) {
    let step = usize::from(step.max(1));
    let mut decoder = Decoder::chunked(None, None);
    let mut buf = BytesMut::new();
    let mut fed = 0;
    loop {
        match decoder.decode(&mut buf, fed == input.len()) {
            Ok(Decoded::NeedMore) => {
                let end = (fed + step).min(input.len());
                buf.extend_from_slice(&input[fed..end]);
                fed = end;
            }
            Ok(Decoded::Data(d)) => assert!(!d.is_empty(), "decoders never yield empty data"),
            Ok(Decoded::End | Decoded::Trailers(_)) | Err(_) => return,
        }
    }
}

fn drive_decoder(mut decoder: Decoder, buf: &mut BytesMut) {
    loop {
        match decoder.decode(buf, true) {
            Ok(Decoded::Data(d)) => assert!(!d.is_empty(), "decoders never yield empty data"),
            Ok(Decoded::NeedMore) => unreachable!("at EOF a decoder ends or fails"),
            Ok(Decoded::End | Decoded::Trailers(_)) | Err(_) => return,
        }
    }
}
