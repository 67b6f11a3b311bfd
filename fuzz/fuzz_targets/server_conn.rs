#![no_main]
// A whole server connection fed arbitrary bytes; the service echoes request bodies.
use http_body_util::BodyExt;

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
        answers_only_once_asked: false,
    };
    let service =
        hyper::service::service_fn(|req: hyper::Request<hyper::body::Incoming>| async move {
            let body = req.into_body().collect().await?.to_bytes();
            Ok::<_, hyper::Error>(hyper::Response::new(http_body_util::Full::new(body)))
        });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .half_close(opts & 0x20 != 0)
        .keep_alive(opts & 0x40 == 0)
        .title_case_headers(opts & 0x80 != 0);
    // Errors are fine; a panic or a hang is not.
    let _result: hyper::Result<()> = io::drive(builder.serve_connection(script, service), 100_000);
});
