//! The HTTP/1 client, compared with upstream hyper 1.13.0 on the wire and in results.
//!
//! Each exchange (one or more requests on one connection) runs four ways through a relay that
//! records both directions: upstream client ↔ upstream server (the baseline), fork client ↔
//! fork server, fork client ↔ upstream server, and upstream client ↔ fork server. Every run
//! must give the baseline's results (statuses, headers, bodies, trailers, reason phrases,
//! error kinds, upgraded bytes) and put the baseline's bytes on the wire in both directions
//! (dates aside). Where upstream's server loses bytes, runs with the fork's server must deliver
//! a strict extension of the baseline's response bytes instead; those exchanges are marked.
use std::any::TypeId;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

#[path = "support/upstream_io.rs"]
mod upstream_io;
use upstream_io::UpIo;

#[path = "support/pattern.rs"]
mod pattern;
use pattern::pattern;

#[path = "support/dates.rs"]
mod dates;
use dates::normalize_dates;

#[derive(Clone, Debug)]
enum BodySpec {
    Empty,
    Full(Vec<u8>),
    Frames(Vec<Vec<u8>>),
    /// Data, then a trailer field `x-check: done`.
    WithTrailers(Vec<u8>),
}

#[derive(Clone, Debug)]
struct Req {
    method: &'static str,
    path: &'static str,
    headers: Vec<(&'static str, &'static str)>,
    body: BodySpec,
    http10: bool,
}

fn get(path: &'static str) -> Req {
    Req {
        method: "GET",
        path,
        headers: vec![("host", "example.test")],
        body: BodySpec::Empty,
        http10: false,
    }
}

fn post(path: &'static str, body: BodySpec) -> Req {
    Req {
        method: "POST",
        path,
        headers: vec![("host", "example.test")],
        body,
        http10: false,
    }
}

impl Req {
    fn with(mut self, name: &'static str, value: &'static str) -> Req {
        self.headers.push((name, value));
        self
    }
}

#[derive(Clone, Debug)]
struct Exchange {
    name: &'static str,
    requests: Vec<Req>,
    title_case: bool,
    preserve_case: bool,
    /// Upstream's server loses bytes here; the fork's delivers more (the reason).
    fork_server_delivers_more: Option<&'static str>,
}

fn exchange(name: &'static str, requests: Vec<Req>) -> Exchange {
    Exchange {
        name,
        requests,
        title_case: false,
        preserve_case: false,
        fork_server_delivers_more: None,
    }
}

/// One request's result as the client application saw it, crate-independent.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Response {
        status: u16,
        version: String,
        headers: Vec<(String, String)>,
        reason: Option<Vec<u8>>,
        body: Vec<u8>,
        trailers: Vec<(String, String)>,
        body_error: Option<String>,
    },
    Error(String),
}

#[derive(Debug, PartialEq, Eq)]
struct Run {
    outcomes: Vec<Outcome>,
    upgraded: Option<Vec<u8>>,
    client_bytes: Vec<u8>,
    server_bytes: Vec<u8>,
}

/// Both roles, for one crate.
macro_rules! roles {
    ($module:ident, $krate:ident, $io:ident) => {
        mod $module {
            use std::convert::Infallible;

            use http_body_util::{BodyExt, Full, StreamBody};
            use tokio::net::UnixStream;

            use super::{BodySpec, Exchange, Outcome};
            use $krate::body::{Bytes, Frame, Incoming};
            use $krate::{Request, Response, StatusCode, Version};

            use super::$io as Io;

            use std::future::poll_fn;
            use std::pin::Pin;
            use $krate::rt::{Read as _, Write as _};

            async fn read_some(
                io: &mut $krate::upgrade::Upgraded,
                buf: &mut [u8],
            ) -> std::io::Result<usize> {
                poll_fn(|cx| {
                    let mut rb = $krate::rt::ReadBuf::new(&mut *buf);
                    match Pin::new(&mut *io).poll_read(cx, rb.unfilled()) {
                        std::task::Poll::Ready(Ok(())) => {
                            std::task::Poll::Ready(Ok(rb.filled().len()))
                        }
                        std::task::Poll::Ready(Err(e)) => std::task::Poll::Ready(Err(e)),
                        std::task::Poll::Pending => std::task::Poll::Pending,
                    }
                })
                .await
            }

            async fn write_all(
                io: &mut $krate::upgrade::Upgraded,
                mut data: &[u8],
            ) -> std::io::Result<()> {
                while !data.is_empty() {
                    let n = poll_fn(|cx| Pin::new(&mut *io).poll_write(cx, data)).await?;
                    data = &data[n..];
                }
                poll_fn(|cx| Pin::new(&mut *io).poll_flush(cx)).await
            }

            async fn shutdown(io: &mut $krate::upgrade::Upgraded) -> std::io::Result<()> {
                poll_fn(|cx| Pin::new(&mut *io).poll_shutdown(cx)).await
            }

            /// Server side of an upgraded connection: answers `ping` with `pong:` and what it read.
            async fn echo_upgraded(io: &mut $krate::upgrade::Upgraded) {
                let mut got = Vec::new();
                let mut buf = [0u8; 64];
                while !got.ends_with(b"ping") {
                    match read_some(io, &mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                let mut answer = b"pong:".to_vec();
                answer.extend_from_slice(&got);
                if write_all(io, &answer).await.is_ok() && shutdown(io).await.is_ok() {
                    while let Ok(n) = read_some(io, &mut buf).await {
                        if n == 0 {
                            break;
                        }
                    }
                }
            }

            /// Client side of an upgraded connection: says `ping`, returns the answer.
            async fn ping_upgraded(io: &mut $krate::upgrade::Upgraded) -> Vec<u8> {
                let mut answer = Vec::new();
                if write_all(io, b"ping").await.is_ok() && shutdown(io).await.is_ok() {
                    let mut buf = [0u8; 64];
                    loop {
                        match read_some(io, &mut buf).await {
                            Ok(0) => break,
                            Ok(n) => answer.extend_from_slice(&buf[..n]),
                            Err(e) => {
                                answer.extend_from_slice(format!("<read error {e}>").as_bytes());
                                break;
                            }
                        }
                    }
                }
                answer
            }

            type Boxed = http_body_util::combinators::BoxBody<
                Bytes,
                Box<dyn std::error::Error + Send + Sync>,
            >;

            fn full(data: impl Into<Bytes>) -> Boxed {
                Full::new(data.into())
                    .map_err(|never: Infallible| match never {})
                    .boxed()
            }

            fn frames(
                items: Vec<Result<Frame<Bytes>, Box<dyn std::error::Error + Send + Sync>>>,
            ) -> Boxed {
                StreamBody::new(futures_util::stream::iter(items)).boxed()
            }

            async fn respond(
                mut req: Request<Incoming>,
            ) -> Result<Response<Boxed>, std::io::Error> {
                let path = req.uri().path().to_string();
                if req.method() == $krate::Method::CONNECT || path == "/upgrade" {
                    let on = $krate::upgrade::on(&mut req);
                    tokio::spawn(async move {
                        if let Ok(mut upgraded) = on.await {
                            echo_upgraded(&mut upgraded).await;
                        }
                    });
                    let mut res = Response::new(full(Bytes::new()));
                    if path == "/upgrade" {
                        *res.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
                        res.headers_mut()
                            .insert("upgrade", "test-proto".parse().unwrap());
                        res.headers_mut()
                            .insert("connection", "upgrade".parse().unwrap());
                    }
                    return Ok(res);
                }
                let mut res = match path.as_str() {
                    "/echo" => {
                        let collected = req
                            .into_body()
                            .collect()
                            .await
                            .map_err(std::io::Error::other)?;
                        let trailers = collected.trailers().map_or(0, |t| t.len());
                        let mut res = Response::new(full(collected.to_bytes()));
                        res.headers_mut()
                            .insert("x-request-trailers", trailers.into());
                        res
                    }
                    "/chunked" => Response::new(frames(
                        (0..4)
                            .map(|i| Ok(Frame::data(Bytes::from(format!("part {i};")))))
                            .collect(),
                    )),
                    "/trailers" => {
                        let mut t = $krate::HeaderMap::new();
                        t.insert("x-sum", "42".parse().unwrap());
                        let mut res = Response::new(frames(vec![
                            Ok(Frame::data(Bytes::from_static(b"with trailers"))),
                            Ok(Frame::trailers(t)),
                        ]));
                        res.headers_mut()
                            .insert("trailer", "x-sum".parse().unwrap());
                        res
                    }
                    "/204" => {
                        let mut res = Response::new(full(Bytes::new()));
                        *res.status_mut() = StatusCode::NO_CONTENT;
                        res
                    }
                    "/304" => {
                        let mut res = Response::new(full(Bytes::new()));
                        *res.status_mut() = StatusCode::NOT_MODIFIED;
                        res
                    }
                    "/reason" => {
                        let mut res = Response::new(full(Bytes::from_static(b"fine")));
                        res.extensions_mut()
                            .insert($krate::ext::ReasonPhrase::from_static(b"Very Fine Indeed"));
                        res
                    }
                    "/close" => {
                        let mut res = Response::new(full(Bytes::from_static(b"bye")));
                        res.headers_mut()
                            .insert("connection", "close".parse().unwrap());
                        res
                    }
                    "/http10" => {
                        let mut res = Response::new(full(Bytes::from_static(b"old style")));
                        *res.version_mut() = Version::HTTP_10;
                        res
                    }
                    "/unframed" => {
                        let mut res = Response::new(frames(vec![
                            Ok(Frame::data(Bytes::from_static(b"until "))),
                            Ok(Frame::data(Bytes::from_static(b"close"))),
                        ]));
                        *res.version_mut() = Version::HTTP_10;
                        res
                    }
                    "/fail-body" => Response::new(frames(vec![
                        Ok(Frame::data(Bytes::from_static(b"first part"))),
                        Err("the body failed".into()),
                    ])),
                    "/error" => return Err(std::io::Error::other("service failed")),
                    "/mixed-case" => {
                        let mut res = Response::new(full(Bytes::from_static(b"cased")));
                        res.headers_mut()
                            .insert("x-mixed-case", "1".parse().unwrap());
                        res
                    }
                    other => {
                        let len = other.trim_start_matches("/len/").parse().unwrap_or(3);
                        Response::new(full(super::pattern(len, 0)))
                    }
                };
                res.headers_mut().insert("x-route", path.parse().unwrap());
                Ok(res)
            }

            pub async fn serve(io: UnixStream) {
                let conn = $krate::server::conn::http1::Builder::new()
                    .serve_connection(Io::new(io), $krate::service::service_fn(respond))
                    .with_upgrades();
                // The connection's own result is not part of the comparison; the bytes are.
                if let Err(e) = conn.await {
                    let _description: String = e.to_string();
                }
            }

            fn request_body(spec: &BodySpec) -> Boxed {
                match spec {
                    BodySpec::Empty => full(Bytes::new()),
                    BodySpec::Full(data) => full(data.clone()),
                    BodySpec::Frames(parts) => frames(
                        parts
                            .iter()
                            .map(|p| Ok(Frame::data(Bytes::from(p.clone()))))
                            .collect(),
                    ),
                    BodySpec::WithTrailers(data) => {
                        let mut t = $krate::HeaderMap::new();
                        t.insert("x-check", "done".parse().unwrap());
                        frames(vec![
                            Ok(Frame::data(Bytes::from(data.clone()))),
                            Ok(Frame::trailers(t)),
                        ])
                    }
                }
            }

            fn classify(e: &$krate::Error) -> String {
                let kinds = [
                    ("canceled", e.is_canceled()),
                    ("closed", e.is_closed()),
                    ("incomplete", e.is_incomplete_message()),
                    ("parse", e.is_parse()),
                    ("user", e.is_user()),
                    ("timeout", e.is_timeout()),
                ];
                let names: Vec<&str> = kinds
                    .iter()
                    .filter(|(_, on)| *on)
                    .map(|(n, _)| *n)
                    .collect();
                format!("{} ({e})", names.join("+"))
            }

            pub async fn client(io: UnixStream, ex: &Exchange) -> (Vec<Outcome>, Option<Vec<u8>>) {
                let mut builder = $krate::client::conn::http1::Builder::new();
                builder
                    .title_case_headers(ex.title_case)
                    .preserve_header_case(ex.preserve_case);
                let (mut send, conn) = match builder.handshake::<_, Boxed>(Io::new(io)).await {
                    Ok(pair) => pair,
                    Err(e) => return (vec![Outcome::Error(classify(&e))], None),
                };
                let conn = tokio::spawn(conn.with_upgrades());
                let mut outcomes = Vec::new();
                let mut upgraded = None;
                for spec in &ex.requests {
                    if let Err(e) = send.ready().await {
                        outcomes.push(Outcome::Error(classify(&e)));
                        break;
                    }
                    let mut req = Request::builder().method(spec.method).uri(spec.path);
                    for (name, value) in &spec.headers {
                        req = req.header(*name, *value);
                    }
                    if spec.http10 {
                        req = req.version(Version::HTTP_10);
                    }
                    let req = req.body(request_body(&spec.body)).unwrap();
                    let mut res = match send.send_request(req).await {
                        Ok(res) => res,
                        Err(e) => {
                            outcomes.push(Outcome::Error(classify(&e)));
                            break;
                        }
                    };
                    let status = res.status().as_u16();
                    if status == 101 || (spec.method == "CONNECT" && status == 200) {
                        let on = $krate::upgrade::on(&mut res);
                        outcomes.push(Outcome::Response {
                            status,
                            version: format!("{:?}", res.version()),
                            headers: super::headers_of(
                                res.headers()
                                    .iter()
                                    .map(|(n, v)| (n.as_str(), v.as_bytes())),
                            ),
                            reason: None,
                            body: Vec::new(),
                            trailers: Vec::new(),
                            body_error: None,
                        });
                        if let Ok(mut io) = on.await {
                            upgraded = Some(ping_upgraded(&mut io).await);
                        }
                        break;
                    }
                    let version = format!("{:?}", res.version());
                    let headers = super::headers_of(
                        res.headers()
                            .iter()
                            .map(|(n, v)| (n.as_str(), v.as_bytes())),
                    );
                    let reason = res
                        .extensions()
                        .get::<$krate::ext::ReasonPhrase>()
                        .map(|r| r.as_bytes().to_vec());
                    let (body, trailers, body_error) = match res.into_body().collect().await {
                        Ok(collected) => {
                            let trailers = collected
                                .trailers()
                                .map(|t| {
                                    super::headers_of(
                                        t.iter().map(|(n, v)| (n.as_str(), v.as_bytes())),
                                    )
                                })
                                .unwrap_or_default();
                            (collected.to_bytes().to_vec(), trailers, None)
                        }
                        Err(e) => (Vec::new(), Vec::new(), Some(classify(&e))),
                    };
                    outcomes.push(Outcome::Response {
                        status,
                        version,
                        headers,
                        reason,
                        body,
                        trailers,
                        body_error,
                    });
                }
                drop(send);
                match conn.await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        outcomes.push(Outcome::Error(format!("connection: {}", classify(&e))))
                    }
                    Err(_) => outcomes.push(Outcome::Error("connection task panicked".into())),
                }
                (outcomes, upgraded)
            }
        }
    };
}

roles!(fork, hyper, TokioIo);
roles!(upstream, hyper_upstream, UpIo);

/// Header fields as comparable strings, without `date`.
fn headers_of<'a>(fields: impl Iterator<Item = (&'a str, &'a [u8])>) -> Vec<(String, String)> {
    fields
        .filter(|(n, _)| !n.eq_ignore_ascii_case("date"))
        .map(|(n, v)| (n.to_string(), String::from_utf8_lossy(v).into_owned()))
        .collect()
}

/// Copies both directions between the client's and the server's sockets, recording each.
async fn relay(client_side: UnixStream, server_side: UnixStream) -> (Vec<u8>, Vec<u8>) {
    async fn pump(
        mut from: tokio::net::unix::OwnedReadHalf,
        mut to: tokio::net::unix::OwnedWriteHalf,
    ) -> Vec<u8> {
        let mut seen = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match from.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    seen.extend_from_slice(&buf[..n]);
                    if to.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            }
        }
        if to.shutdown().await.is_err() {
            seen.extend_from_slice(b"");
        }
        seen
    }
    let (c_read, c_write) = client_side.into_split();
    let (s_read, s_write) = server_side.into_split();
    let upstream_dir = tokio::spawn(pump(c_read, s_write));
    let downstream_dir = tokio::spawn(pump(s_read, c_write));
    let to_server = upstream_dir.await.unwrap_or_default();
    let to_client = downstream_dir.await.unwrap_or_default();
    (to_server, to_client)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Fork,
    Upstream,
}

async fn run(ex: &Exchange, client: Side, server: Side) -> Result<Run, String> {
    let work = async {
        let (client_io, relay_client) = UnixStream::pair().unwrap();
        let (relay_server, server_io) = UnixStream::pair().unwrap();
        let server_task = match server {
            Side::Fork => tokio::spawn(fork::serve(server_io)),
            Side::Upstream => tokio::spawn(upstream::serve(server_io)),
        };
        let relay_task = tokio::spawn(relay(relay_client, relay_server));
        let (outcomes, upgraded) = match client {
            Side::Fork => fork::client(client_io, ex).await,
            Side::Upstream => upstream::client(client_io, ex).await,
        };
        let (client_bytes, server_bytes) = relay_task.await.unwrap_or_default();
        server_task.abort();
        Run {
            outcomes,
            upgraded,
            client_bytes,
            server_bytes: normalize_dates(&server_bytes),
        }
    };
    tokio::time::timeout(Duration::from_secs(10), work)
        .await
        .map_err(|_| format!("{} (client {client:?}, server {server:?}) hung", ex.name))
}

fn corpus() -> Vec<Exchange> {
    let mut all = vec![
        exchange("plain_get", vec![get("/len/13")]),
        exchange(
            "head_request",
            vec![Req {
                method: "HEAD",
                ..get("/len/100")
            }],
        ),
        exchange(
            "post_full_body",
            vec![post("/echo", BodySpec::Full(pattern(1000, 0).to_vec()))],
        ),
        exchange(
            "post_streamed_body_goes_chunked",
            vec![post(
                "/echo",
                BodySpec::Frames(vec![b"one ".to_vec(), b"two ".to_vec(), b"three".to_vec()]),
            )],
        ),
        exchange(
            "request_trailers",
            vec![post("/echo", BodySpec::WithTrailers(b"data".to_vec())).with("trailer", "x-check")],
        ),
        exchange(
            "keep_alive_reuse",
            vec![
                get("/len/5"),
                post("/echo", BodySpec::Full(b"again".to_vec())),
                get("/len/7"),
            ],
        ),
        exchange(
            "request_says_close",
            vec![get("/len/4").with("connection", "close")],
        ),
        exchange("response_says_close", vec![get("/close")]),
        exchange(
            "response_close_then_another_request",
            vec![get("/close"), get("/len/3")],
        ),
        exchange("no_content", vec![get("/204")]),
        exchange("not_modified", vec![get("/304")]),
        exchange(
            "http10_request",
            vec![Req {
                http10: true,
                ..get("/len/10")
            }],
        ),
        exchange("http10_response", vec![get("/http10")]),
        exchange("close_delimited_response", vec![get("/unframed")]),
        exchange("custom_reason_phrase", vec![get("/reason")]),
        exchange(
            "expect_continue",
            vec![post("/echo", BodySpec::Full(b"continue please".to_vec()))
                .with("expect", "100-continue")],
        ),
        exchange("chunked_response", vec![get("/chunked")]),
        exchange(
            "response_trailers",
            vec![get("/trailers").with("te", "trailers")],
        ),
        exchange("response_trailers_not_asked_for", vec![get("/trailers")]),
        exchange(
            "explicit_content_length",
            vec![post("/echo", BodySpec::Full(b"twelve bytes".to_vec()))
                .with("content-length", "12")],
        ),
        exchange("large_response", vec![get("/len/1048576")]),
        exchange(
            "get_with_streamed_body_sends_no_body",
            vec![Req {
                body: BodySpec::Frames(vec![b"ignored".to_vec()]),
                ..get("/len/3")
            }],
        ),
        exchange("service_error_closes", vec![get("/error")]),
        exchange(
            "upgrade",
            vec![get("/upgrade")
                .with("upgrade", "test-proto")
                .with("connection", "upgrade")],
        ),
        exchange(
            "connect_tunnel",
            vec![Req {
                method: "CONNECT",
                path: "example.test:443",
                ..get("/")
            }],
        ),
        Exchange {
            title_case: true,
            ..exchange(
                "title_case_request_headers",
                vec![get("/len/3").with("x-custom-header", "v")],
            )
        },
        Exchange {
            preserve_case: true,
            ..exchange(
                "preserve_header_case",
                vec![get("/mixed-case").with("X-Mixed-Case", "yes")],
            )
        },
    ];
    all.push(Exchange {
        fork_server_delivers_more: Some(
            "upstream's server drops the encoded first chunk when the body fails",
        ),
        ..exchange("response_body_fails_midway", vec![get("/fail-body")])
    });
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_exchange_gives_upstreams_results_and_bytes() {
    assert_ne!(
        TypeId::of::<hyper::Error>(),
        TypeId::of::<hyper_upstream::Error>(),
        "the two sides must be different crates"
    );
    let corpus = corpus();
    assert!(corpus.len() >= 20);
    let mut failures = Vec::new();
    for ex in &corpus {
        let baseline = match run(ex, Side::Upstream, Side::Upstream).await {
            Ok(run) => run,
            Err(e) => {
                failures.push(e);
                continue;
            }
        };
        if std::env::var_os("CLIENT_DIFF_DUMP").is_some() {
            println!(
                "{}: {:?} upgraded={:?}\n  request bytes: {:?}\n  response bytes: {:?}",
                ex.name,
                baseline.outcomes,
                baseline.upgraded,
                String::from_utf8_lossy(&baseline.client_bytes),
                String::from_utf8_lossy(
                    &baseline.server_bytes[..baseline.server_bytes.len().min(300)]
                )
            );
        }
        for (client, server) in [
            (Side::Fork, Side::Fork),
            (Side::Fork, Side::Upstream),
            (Side::Upstream, Side::Fork),
        ] {
            let run = match run(ex, client, server).await {
                Ok(run) => run,
                Err(e) => {
                    failures.push(e);
                    continue;
                }
            };
            let label = format!("{} (client {client:?}, server {server:?})", ex.name);
            if let (Some(reason), Side::Fork) = (ex.fork_server_delivers_more, server) {
                let extends = run.server_bytes.len() > baseline.server_bytes.len()
                    && run.server_bytes.starts_with(&baseline.server_bytes);
                if !extends {
                    failures.push(format!(
                        "{label}: expected to extend upstream's bytes ({reason})\n  upstream: {:?}\n  fork:     {:?}",
                        String::from_utf8_lossy(&baseline.server_bytes),
                        String::from_utf8_lossy(&run.server_bytes)
                    ));
                }
                if run.client_bytes != baseline.client_bytes {
                    failures.push(format!("{label}: request bytes differ"));
                }
                continue;
            }
            if run.client_bytes != baseline.client_bytes {
                failures.push(format!(
                    "{label}: request bytes differ\n  upstream: {:?}\n  this run: {:?}",
                    String::from_utf8_lossy(&baseline.client_bytes),
                    String::from_utf8_lossy(&run.client_bytes)
                ));
            }
            if run.server_bytes != baseline.server_bytes {
                failures.push(format!(
                    "{label}: response bytes differ\n  upstream: {:?}\n  this run: {:?}",
                    String::from_utf8_lossy(&baseline.server_bytes),
                    String::from_utf8_lossy(&run.server_bytes)
                ));
            }
            if run.outcomes != baseline.outcomes || run.upgraded != baseline.upgraded {
                failures.push(format!(
                    "{label}: results differ\n  upstream: {:?} {:?}\n  this run: {:?} {:?}",
                    baseline.outcomes, baseline.upgraded, run.outcomes, run.upgraded
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
