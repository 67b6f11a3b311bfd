//! GET and POST with reqwest (no default features), on the fork, against a fork server; checks
//! the answers and keep-alive reuse. Exits non-zero (panics) on any mismatch.
include!("../../shared/local_server.rs");

#[tokio::main]
async fn main() {
    let (addr, connections) = start_local_server().await;
    let client = reqwest::Client::new();
    for i in 0..3 {
        // The pool takes a connection back on a task of its own once the connection is
        // ready again; give it that moment, or a request may open a second connection.
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let text = client
            .get(format!("http://{addr}/hello"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(text, "GET /hello 0", "request {i}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let text = client
            .post(format!("http://{addr}/echo"))
            .body(vec![b'p'; 100_000])
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(text, "POST /echo 100000", "request {i}");
    }
    assert_eq!(connections(), 1, "reqwest reused one keep-alive connection");
    println!("reqwest-app: ok");
}
