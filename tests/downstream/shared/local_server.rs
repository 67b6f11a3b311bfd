// A local server on the fork for the client apps, included by each of them: answers every
// request with "<METHOD> <path> <request body length>" and counts accepted connections.

/// Starts the server; returns its address and a counter of accepted connections.
async fn start_local_server() -> (std::net::SocketAddr, impl Fn() -> usize) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use http_body_util::BodyExt;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            counter.fetch_add(1, Ordering::SeqCst);
            let service = hyper::service::service_fn(|req: hyper::Request<hyper::body::Incoming>| async move {
                let line = format!("{} {}", req.method(), req.uri().path());
                let len = req.into_body().collect().await?.to_bytes().len();
                let text = format!("{line} {len}");
                Ok::<_, hyper::Error>(hyper::Response::new(http_body_util::Full::new(
                    hyper::body::Bytes::from(text),
                )))
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service),
            );
        }
    });
    (addr, move || accepted.load(Ordering::SeqCst))
}
