//! An image service on the fork: the kind of service whose multi-megabyte responses upstream
//! hyper truncated for slow local clients.
//!
//! ```sh
//! cargo run --release --example image_server --features full
//! # then, in another terminal:
//! cargo run --release --example image_client --features full -- --slow
//! ```
//!
//! It serves HTTP/1 on `127.0.0.1:3000` and on the Unix socket `$TMPDIR/image-server.sock`
//! (flags below), with hyper-util's `TokioIo` and graceful shutdown on Ctrl-C. Routes and
//! answers are documented in `examples/image_server/app.rs`; try
//! `curl -o out.png 'http://127.0.0.1:3000/images/generated.png?width=800&rotate=90'`.
//!
//! Flags: `--tcp ADDR`, `--unix PATH`, `--no-tcp`, `--no-unix`, `--dir DIR` (images for
//! `GET /images/{name}`), `--max-body BYTES` (default 32 MiB).
use std::path::PathBuf;
use std::sync::Arc;

#[path = "image_server/app.rs"]
mod app;

struct Args {
    tcp: Option<String>,
    unix: Option<PathBuf>,
    cfg: app::Config,
}

fn default_socket() -> PathBuf {
    std::env::temp_dir().join("image-server.sock")
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        tcp: Some("127.0.0.1:3000".into()),
        unix: Some(default_socket()),
        cfg: app::Config::default(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--tcp" => args.tcp = Some(value()?),
            "--unix" => args.unix = Some(PathBuf::from(value()?)),
            "--no-tcp" => args.tcp = None,
            "--no-unix" => args.unix = None,
            "--dir" => args.cfg.dir = Some(PathBuf::from(value()?)),
            "--max-body" => {
                args.cfg.max_body = value()?
                    .parse()
                    .map_err(|_| "--max-body takes a number of bytes".to_string())?
            }
            "-h" | "--help" => {
                return Err(
                    "flags: --tcp ADDR --unix PATH --no-tcp --no-unix --dir DIR --max-body BYTES"
                        .into(),
                )
            }
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if args.tcp.is_none() && args.unix.is_none() {
        return Err("nothing to listen on".into());
    }
    Ok(args)
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .init();
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("image_server: {e}");
            std::process::exit(2);
        }
    };
    let cfg = Arc::new(args.cfg);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut servers = Vec::new();
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        rx.wait_for(|stop| *stop).await.ok();
    };
    if let Some(addr) = &args.tcp {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .unwrap_or_else(|e| panic!("cannot listen on {addr}: {e}"));
        tracing::info!(
            "listening on http://{}",
            listener.local_addr().expect("address")
        );
        servers.push(tokio::spawn(app::serve(
            app::Listener::Tcp(listener),
            cfg.clone(),
            stopped(stop_rx.clone()),
        )));
    }
    if let Some(path) = &args.unix {
        // A socket file left by an earlier run would make bind fail.
        std::fs::remove_file(path).ok();
        let listener = tokio::net::UnixListener::bind(path)
            .unwrap_or_else(|e| panic!("cannot listen on {}: {e}", path.display()));
        tracing::info!("listening on unix:{}", path.display());
        servers.push(tokio::spawn(app::serve(
            app::Listener::Unix(listener),
            cfg.clone(),
            stopped(stop_rx.clone()),
        )));
    }
    tokio::signal::ctrl_c().await.ok();
    tracing::info!("shutting down: finishing open responses");
    stop_tx.send(true).ok();
    for server in servers {
        server.await.ok();
    }
    if let Some(path) = &args.unix {
        std::fs::remove_file(path).ok();
    }
}
