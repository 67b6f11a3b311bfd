#![cfg(feature = "full")]
//! The image server example (`examples/image_server/app.rs`) run in-process, with the example's
//! slow client (`examples/image_server/client.rs`): multi-megabyte results reach a client that
//! reads 16 KiB every 0.3 ms whole, over the Unix socket and TCP, with `Connection: close`,
//! and when the handler ignores the request body; errors get their status and a short reason.
use std::sync::Arc;

#[path = "../examples/image_server/app.rs"]
#[allow(dead_code)]
mod app;
#[path = "../examples/image_server/client.rs"]
#[allow(dead_code)]
mod client;

use client::{Outcome, Request, Target};

const FOUR_MIB: usize = 4 * 1024 * 1024;

/// A server on a fresh Unix socket and a TCP port, on its own runtime thread, stopped when the
/// returned guard is dropped.
struct Server {
    unix: Target,
    tcp: Target,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    _dir: TempDir,
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            stop.send(()).ok();
        }
        if let Some(thread) = self.thread.take() {
            thread.join().ok();
        }
    }
}

fn start(cfg: app::Config) -> Server {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("image-server-test-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let socket = dir.join("s.sock");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (unix, tcp) = rt.block_on(async {
        (
            tokio::net::UnixListener::bind(&socket).unwrap(),
            tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        )
    });
    let tcp_addr = tcp.local_addr().unwrap().to_string();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let cfg = Arc::new(cfg);
    let thread = std::thread::spawn(move || {
        rt.block_on(async move {
            let (tx, _) = tokio::sync::broadcast::channel::<()>(1);
            let stopped = |mut rx: tokio::sync::broadcast::Receiver<()>| async move {
                rx.recv().await.ok();
            };
            let a = tokio::spawn(app::serve(
                app::Listener::Unix(unix),
                cfg.clone(),
                stopped(tx.subscribe()),
            ));
            let b = tokio::spawn(app::serve(
                app::Listener::Tcp(tcp),
                cfg,
                stopped(tx.subscribe()),
            ));
            stop_rx.await.ok();
            tx.send(()).ok();
            a.await.ok();
            b.await.ok();
        })
    });
    Server {
        unix: Target::Unix(socket),
        tcp: Target::Tcp(tcp_addr),
        stop: Some(stop_tx),
        thread: Some(thread),
        _dir: TempDir(dir),
    }
}

fn generated_png() -> Vec<u8> {
    let mut png = std::io::Cursor::new(Vec::new());
    app::generated_image(app::Config::default().generated_side)
        .write_to(&mut png, image::ImageFormat::Png)
        .unwrap();
    png.into_inner()
}

fn request(method: &'static str, path: &str, body: Vec<u8>, close: bool) -> Request {
    Request {
        method,
        path: path.to_string(),
        body,
        close,
        slow: true,
    }
}

/// A 200 whose body is complete, decodes, and is at least 4 MiB.
fn assert_large_image(outcome: &Outcome, width: u32, height: u32) {
    assert_eq!(outcome.status, 200, "{}", outcome.head);
    assert!(
        outcome.complete(),
        "received {} of Content-Length {:?}",
        outcome.body.len(),
        outcome.content_length
    );
    assert!(
        outcome.body.len() >= FOUR_MIB,
        "only {} bytes",
        outcome.body.len()
    );
    assert_eq!(outcome.header("content-type"), Some("image/png"));
    let img = image::load_from_memory(&outcome.body).expect("the result decodes");
    assert_eq!((img.width(), img.height()), (width, height));
}

#[test]
fn a_transformed_image_of_4_mib_reaches_a_slow_reader_whole_over_the_unix_socket() {
    let server = start(app::Config::default());
    let png = generated_png();
    let outcome = client::fetch(
        &server.unix,
        &request("POST", "/transform?rotate=90", png, false),
    )
    .unwrap();
    assert_large_image(&outcome, 1200, 1200);
}

#[test]
fn with_connection_close_the_slow_reader_still_gets_every_byte() {
    let server = start(app::Config::default());
    for target in [&server.unix, &server.tcp] {
        let outcome = client::fetch(
            target,
            &request("GET", "/images/generated.png?rotate=180", Vec::new(), true),
        )
        .unwrap();
        assert_large_image(&outcome, 1200, 1200);
        assert_eq!(outcome.header("connection"), Some("close"));
    }
}

#[test]
fn a_request_body_the_handler_ignores_does_not_cut_the_large_answer_short() {
    // The reported bug's shape: the handler answers without reading the request body (here a
    // GET that carries 64 KiB), with a multi-megabyte image, to a slow reader.
    let server = start(app::Config::default());
    for target in [&server.unix, &server.tcp] {
        let outcome = client::fetch(
            target,
            &request("GET", "/images/generated.png", vec![b'x'; 64 * 1024], false),
        )
        .unwrap();
        assert_large_image(&outcome, 1200, 1200);
    }
}

#[test]
fn an_upload_over_the_limit_gets_413_at_once_and_whole() {
    let server = start(app::Config {
        max_body: 1024 * 1024,
        ..app::Config::default()
    });
    for target in [&server.unix, &server.tcp] {
        let started = std::time::Instant::now();
        let outcome = client::fetch(
            target,
            &request("POST", "/transform", vec![7; 40 << 20], false),
        )
        .unwrap();
        assert_eq!(outcome.status, 413, "{}", outcome.head);
        assert!(outcome.complete());
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "the 413 waited for the upload"
        );
    }
}

#[test]
fn an_early_error_with_an_unread_upload_arrives_whole() {
    // A bad parameter is answered before the body is read; the 3 MiB upload is left unread.
    let server = start(app::Config::default());
    let outcome = client::fetch(
        &server.tcp,
        &request("POST", "/transform?size=big", vec![1; 3 << 20], true),
    )
    .unwrap();
    assert_eq!(outcome.status, 400);
    assert!(outcome.complete());
    assert_eq!(
        String::from_utf8_lossy(&outcome.body),
        "unknown parameter `size`\n"
    );
}

#[test]
fn errors_get_their_status_and_a_short_reason() {
    let server = start(app::Config::default());
    let cases: Vec<(Request, u16, &str)> = vec![
        (
            request(
                "POST",
                "/transform",
                b"plain text, not an image".to_vec(),
                false,
            ),
            415,
            "not an image",
        ),
        (
            request(
                "POST",
                "/transform",
                b"\x89PNG\r\n\x1a\nbroken".to_vec(),
                false,
            ),
            400,
            "cannot decode",
        ),
        (
            request("POST", "/transform?rotate=45", Vec::new(), false),
            400,
            "rotate must be",
        ),
        (
            request("POST", "/transform?width=0", Vec::new(), false),
            400,
            "width must be",
        ),
        (
            request("POST", "/transform?format=bmp", Vec::new(), false),
            400,
            "format must be",
        ),
        (
            request("GET", "/images/missing.png", Vec::new(), false),
            404,
            "no such image",
        ),
        (
            request("GET", "/images/..%2Fsecret", Vec::new(), false),
            400,
            "bad image name",
        ),
        (
            request("GET", "/nowhere", Vec::new(), false),
            404,
            "no such route",
        ),
        (
            request("GET", "/transform", Vec::new(), false),
            405,
            "method not allowed",
        ),
        (
            request("POST", "/images/generated.png", Vec::new(), false),
            405,
            "method not allowed",
        ),
    ];
    for (req, status, reason) in cases {
        let outcome = client::fetch(&server.unix, &req).unwrap();
        let body = String::from_utf8_lossy(&outcome.body);
        assert_eq!(
            outcome.status, status,
            "{} {}: {body}",
            req.method, req.path
        );
        assert!(outcome.complete());
        assert!(body.contains(reason), "{} {}: {body}", req.method, req.path);
        assert!(body.len() <= 120, "reason too long: {body}");
    }
}

#[test]
fn query_parameters_resize_rotate_and_convert() {
    let ops = app::parse_ops(Some("width=300&rotate=270&format=jpeg")).unwrap();
    assert_eq!(ops.width, Some(300));
    assert_eq!(ops.rotate, 270);
    let source = {
        let mut png = std::io::Cursor::new(Vec::new());
        app::generated_image(200)
            .write_to(&mut png, image::ImageFormat::Png)
            .unwrap();
        png.into_inner()
    };
    let Ok((bytes, format)) = app::transform(&source, &ops) else {
        panic!("transform failed");
    };
    assert_eq!(format, image::ImageFormat::Jpeg);
    let img = image::load_from_memory(&bytes).unwrap();
    assert_eq!((img.width(), img.height()), (300, 300));
    assert!(app::parse_ops(Some("width=10&height=20&rotate=90&format=webp")).is_ok());
    assert!(app::parse_ops(Some("unknown=1")).is_err());
}
