// A local server for the HTTP/2 apps, included by each of them. It uses hyper-util's `auto`
// connection builder, so one TCP listener answers both HTTP/1.1 and HTTP/2 with prior
// knowledge (h2c), on whichever hyper the app links (the fork, through the patch).
//
//   GET  /big    -> BIG_LEN bytes, byte i being `big_byte(i)`, produced in 64 KiB frames
//   POST /echo   -> the request body, unchanged
//   anything     -> "<version> <METHOD> <path> <request body length>"
//
// It counts accepted TCP connections, so an app can check that its client reused them.

/// Length of the `/big` answer: 4 MiB.
const BIG_LEN: usize = 4 * 1024 * 1024;

/// The byte at offset `i` of the `/big` answer (251 is prime, so no frame repeats exactly).
fn big_byte(i: usize) -> u8 {
    (i % 251) as u8
}

type AutoBody = http_body_util::combinators::BoxBody<hyper::body::Bytes, hyper::Error>;

async fn auto_server_answer(
    req: hyper::Request<hyper::body::Incoming>,
) -> Result<hyper::Response<AutoBody>, hyper::Error> {
    use http_body_util::{BodyExt, Full};
    use hyper::body::Bytes;

    let version = format!("{:?}", req.version());
    let line = format!("{version} {} {}", req.method(), req.uri().path());
    let body: AutoBody = match (req.method().as_str(), req.uri().path()) {
        ("GET", "/big") => BigBody { next: 0 }.boxed(),
        ("POST", "/echo") => {
            let body = req.into_body().collect().await?.to_bytes();
            Full::new(body).map_err(|never| match never {}).boxed()
        }
        _ => {
            let len = req.into_body().collect().await?.to_bytes().len();
            Full::new(Bytes::from(format!("{line} {len}")))
                .map_err(|never| match never {})
                .boxed()
        }
    };
    Ok(hyper::Response::new(body))
}

/// The `/big` answer, produced one 64 KiB frame at a time as hyper asks for it.
struct BigBody {
    next: usize,
}

impl hyper::body::Body for BigBody {
    type Data = hyper::body::Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        const FRAME: usize = 64 * 1024;
        let start = self.next;
        if start >= BIG_LEN {
            return std::task::Poll::Ready(None);
        }
        let end = (start + FRAME).min(BIG_LEN);
        self.next = end;
        let data: Vec<u8> = (start..end).map(big_byte).collect();
        std::task::Poll::Ready(Some(Ok(hyper::body::Frame::data(data.into()))))
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        hyper::body::SizeHint::with_exact((BIG_LEN - self.next) as u64)
    }
}

/// Starts the server on 127.0.0.1; returns its address and a counter of accepted connections.
async fn start_auto_server() -> (std::net::SocketAddr, impl Fn() -> usize) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let builder = hyper_util::server::conn::auto::Builder::new(
                    hyper_util::rt::TokioExecutor::new(),
                );
                let conn = builder.serve_connection(
                    hyper_util::rt::TokioIo::new(stream),
                    hyper::service::service_fn(auto_server_answer),
                );
                if let Err(e) = conn.await {
                    eprintln!("server connection error: {e}");
                }
            });
        }
    });
    (addr, move || accepted.load(Ordering::SeqCst))
}
