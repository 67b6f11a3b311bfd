//! Serves a few routes with axum on the fork and checks the answers over real TCP.
//! Exits non-zero (panics) on any mismatch.
use axum::{body::Bytes, routing::get, routing::post, Router};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const BIG: usize = 4 * 1024 * 1024;

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + i / 7) as u8).collect()
}

#[tokio::main]
async fn main() {
    let app = Router::new()
        .route("/", get(|| async { "hello from axum" }))
        .route("/echo", post(|body: Bytes| async move { body }))
        .route("/big", post(|| async { pattern(BIG) }));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    // Two requests on one keep-alive connection, the second closes it.
    let mut conn = TcpStream::connect(addr).await.unwrap();
    conn.write_all(
        b"GET / HTTP/1.1\r\nHost: t\r\n\r\n\
          POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
    )
    .await
    .unwrap();
    let mut got = Vec::new();
    conn.read_to_end(&mut got).await.unwrap();
    let text = String::from_utf8_lossy(&got);
    assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 2, "{text}");
    assert!(text.contains("hello from axum"), "{text}");
    assert!(text.ends_with("\r\n\r\nhello"), "{text}");

    // A 4 MiB answer to a request whose body the handler never reads, read slowly.
    let mut conn = TcpStream::connect(addr).await.unwrap();
    let unread = vec![b'x'; 64 * 1024];
    let head = format!(
        "POST /big HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        unread.len()
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    let (mut rd, mut wr) = conn.into_split();
    tokio::spawn(async move {
        let _ = wr.write_all(&unread).await;
    });
    let mut got = Vec::new();
    let mut chunk = vec![0; 16 * 1024];
    loop {
        let n = rd.read(&mut chunk).await.unwrap_or(0);
        if n == 0 {
            break;
        }
        got.extend_from_slice(&chunk[..n]);
        tokio::time::sleep(std::time::Duration::from_micros(300)).await;
    }
    let split = got.windows(4).position(|w| w == b"\r\n\r\n").expect("head") + 4;
    assert_eq!(got[split..].len(), BIG, "body bytes received");
    assert!(got[split..] == pattern(BIG)[..], "body content");
    println!("axum-app: ok");
}
