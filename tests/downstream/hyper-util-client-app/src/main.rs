//! GET and POST through hyper-util's pooled client, both on the fork; checks the answers and
//! that the pool reused one keep-alive connection. Exits non-zero (panics) on any mismatch.
include!("../../shared/local_server.rs");

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

#[tokio::main]
async fn main() {
    let (addr, connections) = start_local_server().await;
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();

    for i in 0..3 {
        // The pool takes a connection back on a task of its own once the connection is
        // ready again; give it that moment, or a request may open a second connection.
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let res = client
            .get(format!("http://{addr}/hello").parse().unwrap())
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let body = res.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, "GET /hello 0", "request {i}");

        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let req = hyper::Request::post(format!("http://{addr}/echo"))
            .body(Full::new(Bytes::from(vec![b'p'; 100_000])))
            .unwrap();
        let res = client.request(req).await.unwrap();
        let body = res.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, "POST /echo 100000", "request {i}");
    }
    assert_eq!(connections(), 1, "the pool reused one keep-alive connection");
    println!("hyper-util-client-app: ok");
}
