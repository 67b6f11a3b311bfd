//! Sends an image to `examples/image_server.rs` (or asks for one of its images), reads the
//! answer at a chosen pace, decodes it, and says whether every byte arrived.
//!
//! ```sh
//! cargo run --release --example image_client --features full -- --slow --close
//! ```
//!
//! Flags: `--unix PATH` (default `$TMPDIR/image-server.sock`) or `--tcp ADDR`; `--file PATH`
//! to upload (default: the built-in generated image); `--get NAME` to fetch
//! `/images/NAME` instead of uploading; `--query 'width=800&rotate=90'`; `--close` to send
//! `Connection: close`; `--slow` to read 16 KiB every 0.3 ms. Exits with 1 if the response
//! was cut short or does not decode.
use std::path::PathBuf;

#[path = "image_server/app.rs"]
#[allow(dead_code)]
mod app;
#[path = "image_server/client.rs"]
mod client;

fn main() {
    let mut target = client::Target::Unix(std::env::temp_dir().join("image-server.sock"));
    let mut file: Option<PathBuf> = None;
    let mut get: Option<String> = None;
    let mut query = String::new();
    let (mut close, mut slow) = (false, false);
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next().unwrap_or_else(|| {
                eprintln!("{flag} needs a value");
                std::process::exit(2)
            })
        };
        match flag.as_str() {
            "--unix" => target = client::Target::Unix(PathBuf::from(value())),
            "--tcp" => target = client::Target::Tcp(value()),
            "--file" => file = Some(PathBuf::from(value())),
            "--get" => get = Some(value()),
            "--query" => query = value(),
            "--close" => close = true,
            "--slow" => slow = true,
            other => {
                eprintln!("unknown flag {other}");
                std::process::exit(2)
            }
        }
    }
    let suffix = if query.is_empty() {
        String::new()
    } else {
        format!("?{query}")
    };
    let request = match get {
        Some(name) => client::Request {
            method: "GET",
            path: format!("/images/{name}{suffix}"),
            body: Vec::new(),
            close,
            slow,
        },
        None => {
            let body = match file {
                Some(path) => std::fs::read(&path).unwrap_or_else(|e| {
                    eprintln!("cannot read {}: {e}", path.display());
                    std::process::exit(2)
                }),
                None => {
                    let mut png = std::io::Cursor::new(Vec::new());
                    app::generated_image(1200)
                        .write_to(&mut png, image::ImageFormat::Png)
                        .expect("encode the generated image");
                    png.into_inner()
                }
            };
            client::Request {
                method: "POST",
                path: format!("/transform{suffix}"),
                body,
                close,
                slow,
            }
        }
    };
    let started = std::time::Instant::now();
    let outcome = client::fetch(&target, &request).unwrap_or_else(|e| {
        eprintln!("request failed: {e}");
        std::process::exit(1)
    });
    let elapsed = started.elapsed();
    println!(
        "status: {} ({})",
        outcome.status,
        outcome.header("content-type").unwrap_or("no content-type")
    );
    println!(
        "received {} body bytes of Content-Length {} in {:.0} ms{}",
        outcome.body.len(),
        outcome
            .content_length
            .map_or("(none)".to_string(), |n| n.to_string()),
        elapsed.as_secs_f64() * 1e3,
        if slow {
            " (reading 16 KiB every 0.3 ms)"
        } else {
            ""
        }
    );
    if outcome.status != 200 {
        println!("reason: {}", String::from_utf8_lossy(&outcome.body).trim());
    }
    let decoded = (outcome.status == 200)
        .then(|| image::load_from_memory(&outcome.body).ok())
        .flatten();
    if let Some(img) = &decoded {
        println!("decoded: {} x {} pixels", img.width(), img.height());
    }
    if outcome.complete() && (outcome.status != 200 || decoded.is_some()) {
        println!("verdict: COMPLETE");
    } else {
        println!("verdict: TRUNCATED or undecodable");
        std::process::exit(1);
    }
}
