//! reqwest 0.13 with default features against a local hyper-util `auto` server, both on the
//! fork: one client speaking HTTP/2 with prior knowledge (h2c), one speaking plain HTTP/1.1.
//! GETs and 1 MiB POSTs on a reused keep-alive connection, a 4 MiB answer read slowly chunk by
//! chunk, and (HTTP/2) concurrent requests on that same connection. Every byte and the
//! protocol version of every answer are checked; exits non-zero (panics) on any mismatch.
include!("../../shared/auto_server.rs");

use std::time::Duration;

use reqwest::Version;

/// The pool takes an HTTP/1 connection back on a task of its own once it is ready again; give
/// it that moment, or the next request may open a second connection.
async fn let_the_pool_settle() {
    tokio::time::sleep(Duration::from_millis(20)).await;
}

async fn exchanges(client: &reqwest::Client, addr: std::net::SocketAddr, version: Version) {
    let label = format!("{version:?}");
    for i in 0..3 {
        let_the_pool_settle().await;
        let res = client
            .get(format!("http://{addr}/hello"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{label} GET {i}");
        assert_eq!(res.version(), version, "{label} GET {i}");
        assert_eq!(res.text().await.unwrap(), format!("{label} GET /hello 0"));

        let_the_pool_settle().await;
        let sent: Vec<u8> = (0..1024 * 1024).map(|k| ((k + i) % 241) as u8).collect();
        let res = client
            .post(format!("http://{addr}/echo"))
            .body(sent.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(res.version(), version, "{label} POST {i}");
        let echoed = res.bytes().await.unwrap();
        assert_eq!(echoed.len(), sent.len(), "{label} echo length {i}");
        assert!(
            echoed == sent,
            "{label} echo {i} differs from what was sent"
        );
    }

    // The 4 MiB answer, read chunk by chunk with pauses: the server waits on a slow reader.
    let_the_pool_settle().await;
    let mut res = client
        .get(format!("http://{addr}/big"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.version(), version, "{label} GET /big");
    assert_eq!(
        res.content_length(),
        Some(BIG_LEN as u64),
        "{label} /big length header"
    );
    let mut received = 0usize;
    let mut chunks = 0usize;
    while let Some(chunk) = res.chunk().await.unwrap() {
        for (k, &b) in chunk.iter().enumerate() {
            if b != big_byte(received + k) {
                panic!("{label} /big: wrong byte at offset {}", received + k);
            }
        }
        received += chunk.len();
        chunks += 1;
        if chunks % 4 == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    assert_eq!(received, BIG_LEN, "{label} /big length");
}

#[tokio::main]
async fn main() {
    let (addr, connections) = start_auto_server().await;

    // `no_proxy`: the default `system-proxy` feature would otherwise honour proxy variables
    // from the environment, and these requests must reach the local server directly.
    let http2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .no_proxy()
        .build()
        .unwrap();
    exchanges(&http2, addr, Version::HTTP_2).await;
    assert_eq!(connections(), 1, "HTTP/2 reused one connection");

    let mut tasks = Vec::new();
    for i in 0..16 {
        let client = http2.clone();
        tasks.push(tokio::spawn(async move {
            let res = client
                .get(format!("http://{addr}/at-once/{i}"))
                .send()
                .await
                .unwrap();
            assert_eq!(res.version(), Version::HTTP_2);
            assert_eq!(
                res.text().await.unwrap(),
                format!("HTTP/2.0 GET /at-once/{i} 0")
            );
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(
        connections(),
        1,
        "HTTP/2 multiplexed concurrent requests on one connection"
    );

    let http1 = reqwest::Client::builder().no_proxy().build().unwrap();
    exchanges(&http1, addr, Version::HTTP_11).await;
    assert_eq!(
        connections(),
        2,
        "HTTP/1.1 reused one keep-alive connection of its own"
    );

    println!("reqwest-h2-app: ok");
}
