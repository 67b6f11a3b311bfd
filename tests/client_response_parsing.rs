//! How the HTTP/1 client reads response heads and bodies that are unusual but allowed (or
//! allowed by an option): HTTP/0.9 bodies, folded header values, both framing headers, and
//! trailers ending in a bare LF. Each case runs on the fork's client and on upstream hyper
//! 1.13.0's, and both must give the expected result.
use std::time::Duration;

use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

#[path = "support/upstream_io.rs"]
mod upstream_io;
use upstream_io::UpIo;

/// Client options a case turns on.
#[derive(Clone, Copy, Default)]
struct Options {
    http09: bool,
    obs_fold: bool,
}

/// What the application saw, in terms both crates share.
#[derive(Debug, PartialEq)]
enum Seen {
    Response {
        status: u16,
        version: String,
        headers: Vec<(String, String)>,
        /// The body, or the error that ended it.
        body: Result<Vec<u8>, String>,
    },
    /// The request failed: the error's predicates.
    Failed { parse: bool, incomplete: bool },
}

macro_rules! client_side {
    ($module:ident, $krate:ident, $io:ident) => {
        mod $module {
            use super::*;
            use http_body_util::{BodyExt, Empty};
            use $krate::body::Bytes;

            use super::$io as Io;

            /// Sends a GET, answers it with `response` (then closes), and reports what the
            /// application saw.
            pub async fn exchange(response: &'static [u8], opts: Options) -> Seen {
                let (io, mut peer) = UnixStream::pair().unwrap();
                let mut builder = $krate::client::conn::http1::Builder::new();
                builder
                    .http09_responses(opts.http09)
                    .allow_obsolete_multiline_headers_in_responses(opts.obs_fold);
                let (mut send, conn) = builder
                    .handshake::<_, Empty<Bytes>>(Io::new(io))
                    .await
                    .unwrap();
                tokio::spawn(conn);
                let server = tokio::spawn(async move {
                    let mut buf = [0u8; 1024];
                    let n = peer.read(&mut buf).await.unwrap();
                    assert!(buf[..n].starts_with(b"GET / HTTP/1.1\r\n"));
                    peer.write_all(response).await.unwrap();
                    peer.shutdown().await.unwrap();
                    // Keep the read side open until the client is done.
                    let _rest = peer.read_to_end(&mut Vec::new()).await;
                });
                let req = $krate::Request::get("/")
                    .header("host", "example.test")
                    .body(Empty::new())
                    .unwrap();
                let seen = match send.send_request(req).await {
                    Ok(res) => {
                        let status = res.status().as_u16();
                        let version = format!("{:?}", res.version());
                        let headers = res
                            .headers()
                            .iter()
                            .map(|(n, v)| {
                                (
                                    n.to_string(),
                                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                                )
                            })
                            .collect();
                        let body = match tokio::time::timeout(
                            Duration::from_secs(5),
                            res.into_body().collect(),
                        )
                        .await
                        .expect("the body ends")
                        {
                            Ok(collected) => Ok(collected.to_bytes().to_vec()),
                            Err(e) => Err(format!("body error (is_parse={})", e.is_parse())),
                        };
                        Seen::Response {
                            status,
                            version,
                            headers,
                            body,
                        }
                    }
                    Err(e) => Seen::Failed {
                        parse: e.is_parse(),
                        incomplete: e.is_incomplete_message(),
                    },
                };
                drop(send);
                tokio::time::timeout(Duration::from_secs(5), server)
                    .await
                    .expect("the peer finishes once the client closed")
                    .expect("the peer's checks hold");
                seen
            }
        }
    };
}

client_side!(fork, hyper, TokioIo);
client_side!(upstream, hyper_upstream, UpIo);

async fn both(response: &'static [u8], opts: Options) -> Seen {
    let fork = fork::exchange(response, opts).await;
    let upstream = upstream::exchange(response, opts).await;
    assert_eq!(fork, upstream, "fork (left) and upstream (right) differ");
    fork
}

fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

#[tokio::test]
async fn a_bare_body_is_an_http09_response_when_allowed() {
    let opts = Options {
        http09: true,
        ..Options::default()
    };
    let seen = both(b"just some text", opts).await;
    assert_eq!(
        seen,
        Seen::Response {
            status: 200,
            version: "HTTP/0.9".into(),
            headers: vec![],
            body: Ok(b"just some text".to_vec()),
        }
    );
}

#[tokio::test]
async fn a_bare_body_is_an_error_unless_http09_is_allowed() {
    let seen = both(b"just some text", Options::default()).await;
    assert!(matches!(seen, Seen::Failed { parse: true, .. }), "{seen:?}");
}

#[tokio::test]
async fn folded_header_values_are_joined_with_single_spaces_when_allowed() {
    let response: &[u8] =
        b"HTTP/1.1 200 OK\r\nX-Folded: first\r\n second\r\n\t third\r\ncontent-length: 2\r\n\r\nok";
    let opts = Options {
        obs_fold: true,
        ..Options::default()
    };
    let seen = both(response, opts).await;
    assert_eq!(
        seen,
        Seen::Response {
            status: 200,
            version: "HTTP/1.1".into(),
            headers: headers(&[("x-folded", "first second third"), ("content-length", "2")]),
            body: Ok(b"ok".to_vec()),
        }
    );
    let seen = both(response, Options::default()).await;
    assert!(matches!(seen, Seen::Failed { parse: true, .. }), "{seen:?}");
}

#[tokio::test]
async fn with_both_framing_headers_the_application_sees_no_content_length() {
    let seen = both(
        b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
        Options::default(),
    )
    .await;
    assert_eq!(
        seen,
        Seen::Response {
            status: 200,
            version: "HTTP/1.1".into(),
            headers: headers(&[("transfer-encoding", "chunked")]),
            body: Ok(b"ok".to_vec()),
        }
    );
}

#[tokio::test]
async fn trailers_ending_in_a_bare_lf_fail_the_body() {
    let seen = both(
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX-T: 1\n\r\n",
        Options::default(),
    )
    .await;
    let Seen::Response { body, .. } = seen else {
        panic!("the head is fine: {seen:?}");
    };
    assert!(body.is_err(), "{body:?}");
}
