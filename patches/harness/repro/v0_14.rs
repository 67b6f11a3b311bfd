//! Reproducer for hyper 0.14: the same cases as `v1.rs`, through 0.14's `server::conn::Http`,
//! which works on tokio's IO traits directly.
use std::convert::Infallible;

use hyper::server::conn::Http;
use hyper::{Body, Request, Response};
use tokio::io::AsyncWriteExt;

#[path = "common.rs"]
mod common;
use common::{Case, Ending, Shape, BODY_LEN, FRAMES, FRAME_LEN};

fn payload(shape: Shape) -> Body {
    match shape {
        Shape::Full => Body::from(common::pattern(0, BODY_LEN)),
        _ => {
            // No length: hyper frames it as chunked.
            let (mut tx, body) = Body::channel();
            tokio::spawn(async move {
                for i in 0..FRAMES {
                    tokio::task::yield_now().await;
                    let chunk = common::pattern(i * FRAME_LEN, FRAME_LEN);
                    if tx.send_data(chunk.into()).await.is_err() {
                        return;
                    }
                }
            });
            body
        }
    }
}

async fn serve(case: Case, io: tokio::net::UnixStream) {
    let service = hyper::service::service_fn(move |mut req: Request<Body>| async move {
        if case.shape == Shape::Upgrade {
            let on_upgrade = hyper::upgrade::on(&mut req);
            tokio::spawn(async move {
                if let Ok(mut upgraded) = on_upgrade.await {
                    let _ignored = upgraded.write_all(common::UPGRADED_GREETING).await;
                    let _ignored = upgraded.shutdown().await;
                }
            });
            let res = Response::builder()
                .status(101)
                .header("connection", "upgrade")
                .header("upgrade", "repro")
                .body(Body::empty())
                .expect("response");
            return Ok::<_, Infallible>(res);
        }
        // The request body is never read: that is what stops hyper's reading early.
        drop(req);
        Ok(Response::new(payload(case.shape)))
    });
    let mut http = Http::new();
    http.http1_only(true).pipeline_flush(case.pipeline_flush);
    let conn = http.serve_connection(io, service);
    match case.ending {
        Ending::Shutdown if case.shape == Shape::Upgrade => {
            let _ignored = conn.with_upgrades().await;
        }
        Ending::Shutdown => {
            let _ignored = conn.await;
        }
        Ending::WithoutShutdown => {
            if let Ok(parts) = conn.without_shutdown().await {
                // The application is done with the connection and closes it.
                let mut io = parts.io;
                let _ignored = io.shutdown().await;
            }
        }
    }
}

fn main() {
    common::run_all(serve);
}
