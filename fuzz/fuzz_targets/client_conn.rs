#![no_main]
// A client connection sends a request and reads whatever the "server" (the fuzz input) says.
use http_body_util::{BodyExt, Full};

mod io;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&opts, rest)) = data.split_first() else {
        return;
    };
    let script = io::Script {
        input: rest.to_vec(),
        pos: 0,
        step: usize::from(opts % 32) + 1,
        written: 0,
        answers_only_once_asked: true,
    };
    let method = if opts & 0x40 != 0 { "HEAD" } else { "POST" };
    io::drive(
        async move {
            let Ok((mut send, conn)) = hyper::client::conn::http1::Builder::new()
                .http09_responses(opts & 0x80 != 0)
                .handshake::<_, Full<bytes::Bytes>>(script)
                .await
            else {
                return;
            };
            let request = hyper::Request::builder()
                .method(method)
                .uri("/")
                .body(Full::new(bytes::Bytes::from_static(b"hello")))
                .expect("valid request");
            let exchange = async move {
                if let Ok(res) = send.send_request(request).await {
                    let _collected: Result<_, hyper::Error> = res.into_body().collect().await;
                }
            };
            let conn = async move {
                let _result: hyper::Result<()> = conn.await;
            };
            futures_join(exchange, conn).await;
        },
        100_000,
    );
});

/// Polls both futures to completion.
async fn futures_join(
    a: impl std::future::Future<Output = ()>,
    b: impl std::future::Future<Output = ()>,
) {
    let mut a = std::pin::pin!(a);
    let mut b = std::pin::pin!(b);
    let (mut a_done, mut b_done) = (false, false);
    std::future::poll_fn(move |cx| {
        if !a_done {
            a_done = a.as_mut().poll(cx).is_ready();
        }
        if !b_done {
            b_done = b.as_mut().poll(cx).is_ready();
        }
        if a_done && b_done {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await
}
