//! One hyper-util `auto` server answering HTTP/1.1 and HTTP/2 (h2c with prior knowledge) on a
//! single listener, and one hyper-util legacy client per protocol: GETs, a 1 MiB POST echoed
//! back, a 4 MiB answer read slowly, and (HTTP/2) concurrent streams on one connection. Every
//! byte and the protocol version of every answer are checked; exits non-zero (panics) on any
//! mismatch.
include!("../../shared/auto_server.rs");

use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::Version;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

type AppClient = Client<HttpConnector, Full<Bytes>>;

/// GET `path`; checks the status and the protocol version; returns the body.
async fn get(
    client: &AppClient,
    addr: std::net::SocketAddr,
    path: &str,
    version: Version,
) -> Bytes {
    let res = client
        .get(format!("http://{addr}{path}").parse().unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "GET {path}");
    assert_eq!(res.version(), version, "GET {path}");
    res.into_body().collect().await.unwrap().to_bytes()
}

/// The pool takes an HTTP/1 connection back on a task of its own once it is ready again; give
/// it that moment, or the next request may open a second connection.
async fn let_the_pool_settle() {
    tokio::time::sleep(Duration::from_millis(20)).await;
}

/// The requests both protocols get: three GETs, a 1 MiB POST echoed back, a 4 MiB answer read
/// slowly (a pause after every frame, so the server has to wait on a slow reader).
async fn sequential_exchanges(client: &AppClient, addr: std::net::SocketAddr, version: Version) {
    let label = format!("{version:?}");
    for i in 0..3 {
        let_the_pool_settle().await;
        let body = get(client, addr, "/hello", version).await;
        assert_eq!(body, format!("{label} GET /hello 0"), "{label} GET {i}");
    }

    let_the_pool_settle().await;
    let sent: Vec<u8> = (0..1024 * 1024).map(|i| (i % 239) as u8).collect();
    let req = hyper::Request::post(format!("http://{addr}/echo"))
        .body(Full::new(Bytes::from(sent.clone())))
        .unwrap();
    let res = client.request(req).await.unwrap();
    assert_eq!(res.version(), version, "{label} POST /echo");
    let echoed = res.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(echoed.len(), sent.len(), "{label} echo length");
    assert!(echoed == sent, "{label} echo differs from what was sent");

    let_the_pool_settle().await;
    let res = client
        .get(format!("http://{addr}/big").parse().unwrap())
        .await
        .unwrap();
    assert_eq!(res.version(), version, "{label} GET /big");
    let mut body = res.into_body();
    let mut received = 0usize;
    let mut frames = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.unwrap();
        if let Some(data) = frame.data_ref() {
            for (k, &b) in data.iter().enumerate() {
                if b != big_byte(received + k) {
                    panic!("{label} /big: wrong byte at offset {}", received + k);
                }
            }
            received += data.len();
            frames += 1;
            if frames % 4 == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }
    assert_eq!(received, BIG_LEN, "{label} /big length");
}

#[tokio::main]
async fn main() {
    let (addr, connections) = start_auto_server().await;

    let http1: AppClient = Client::builder(TokioExecutor::new()).build_http();
    sequential_exchanges(&http1, addr, Version::HTTP_11).await;
    assert_eq!(connections(), 1, "HTTP/1.1 used one keep-alive connection");

    let http2: AppClient = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http();
    sequential_exchanges(&http2, addr, Version::HTTP_2).await;
    assert_eq!(connections(), 2, "HTTP/2 used one connection of its own");

    // Sixteen requests at once, with the 4 MiB answer among them: HTTP/2 multiplexes them all
    // on the connection it already has.
    let mut tasks = Vec::new();
    for i in 0..16 {
        let client = http2.clone();
        tasks.push(tokio::spawn(async move {
            if i == 7 {
                let body = get(&client, addr, "/big", Version::HTTP_2).await;
                assert_eq!(body.len(), BIG_LEN, "concurrent /big length");
                assert!(body.iter().enumerate().all(|(k, &b)| b == big_byte(k)));
            } else {
                let body = get(&client, addr, &format!("/stream/{i}"), Version::HTTP_2).await;
                assert_eq!(body, format!("HTTP/2.0 GET /stream/{i} 0"));
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(
        connections(),
        2,
        "HTTP/2 multiplexed concurrent requests on one connection"
    );

    println!("auto-app: ok");
}
