//! The image service behind `examples/image_server.rs`, kept apart from `main` so that
//! `tests/image_server.rs` can run it in-process.
//!
//! Routes:
//! - `POST /transform?width=&height=&rotate=&format=`: the request body is an image (PNG,
//!   JPEG, WebP or GIF); the answer is the transformed image.
//! - `GET /images/{name}?...`: the same for an image from `--dir`, or for the built-in
//!   generated image `generated.png` (always available, so the example runs with no files).
//!
//! Every answer has an exact `Content-Length`. Errors are short `text/plain` reasons: 400 for
//! bad parameters or a corrupt image, 404, 405, 413 when the body exceeds the limit (sent at
//! once, without reading the rest), 415 for a format the service does not decode.
use std::convert::Infallible;
use std::io::Cursor;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use image::{DynamicImage, ImageFormat, ImageReader, Limits};

/// Largest width or height the service produces or accepts.
pub const MAX_SIDE: u32 = 16_384;
/// The name under which the generated image is served.
pub const GENERATED: &str = "generated.png";

#[derive(Clone, Debug)]
pub struct Config {
    /// Largest request body accepted, in bytes.
    pub max_body: u64,
    /// Where `GET /images/{name}` looks; `None` serves only the generated image.
    pub dir: Option<PathBuf>,
    /// Side of the generated square image, in pixels.
    pub generated_side: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_body: 32 * 1024 * 1024,
            dir: None,
            generated_side: 1200,
        }
    }
}

/// What the query asks for.
#[derive(Debug, Default, PartialEq)]
pub struct Ops {
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub rotate: u32,
    pub format: Option<ImageFormat>,
}

type Reply = Response<Full<Bytes>>;

fn text(status: StatusCode, reason: &str) -> Reply {
    let body = format!("{reason}\n");
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "text/plain; charset=utf-8")
        .header(CONTENT_LENGTH, body.len())
        .body(Full::new(Bytes::from(body)))
        .expect("a valid response")
}

fn side(name: &str, value: &str) -> Result<u32, String> {
    match value.parse::<u32>() {
        Ok(n) if (1..=MAX_SIDE).contains(&n) => Ok(n),
        _ => Err(format!(
            "{name} must be a whole number from 1 to {MAX_SIDE}"
        )),
    }
}

/// Parses the query string; any unknown parameter or bad value is an error.
pub fn parse_ops(query: Option<&str>) -> Result<Ops, String> {
    let mut ops = Ops::default();
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "width" => ops.width = Some(side("width", value)?),
            "height" => ops.height = Some(side("height", value)?),
            "rotate" => {
                ops.rotate = match value {
                    "0" | "90" | "180" | "270" => value.parse().expect("checked"),
                    _ => return Err("rotate must be 0, 90, 180 or 270".into()),
                }
            }
            "format" => {
                ops.format = Some(match value {
                    "png" => ImageFormat::Png,
                    "jpeg" | "jpg" => ImageFormat::Jpeg,
                    "webp" => ImageFormat::WebP,
                    "gif" => ImageFormat::Gif,
                    _ => return Err("format must be png, jpeg, webp or gif".into()),
                })
            }
            _ => return Err(format!("unknown parameter `{key}`")),
        }
    }
    Ok(ops)
}

fn content_type(format: ImageFormat) -> &'static str {
    match format {
        ImageFormat::Jpeg => "image/jpeg",
        ImageFormat::WebP => "image/webp",
        ImageFormat::Gif => "image/gif",
        _ => "image/png",
    }
}

/// A colourful image whose PNG does not compress much (so it is large): smooth gradients
/// with per-pixel noise from a fixed-seed generator.
pub fn generated_image(side: u32) -> DynamicImage {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let img = image::RgbImage::from_fn(side, side, |x, y| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let noise = (state & 0x3f) as u8;
        image::Rgb([
            ((x * 255 / side) as u8).wrapping_add(noise),
            ((y * 255 / side) as u8).wrapping_add(noise >> 1),
            (((x + y) * 127 / side) as u8) ^ noise,
        ])
    });
    DynamicImage::ImageRgb8(img)
}

pub enum Failure {
    Unsupported(String),
    Corrupt(String),
    Internal(String),
}

/// Decodes `input` (its format is guessed from its bytes), applies `ops` and encodes the
/// result. CPU-bound: the server runs it on the blocking pool.
pub fn transform(input: &[u8], ops: &Ops) -> Result<(Vec<u8>, ImageFormat), Failure> {
    let mut reader = ImageReader::new(Cursor::new(input))
        .with_guessed_format()
        .map_err(|e| Failure::Internal(e.to_string()))?;
    let Some(source_format) = reader.format() else {
        return Err(Failure::Unsupported(
            "not an image format this service decodes".into(),
        ));
    };
    if !matches!(
        source_format,
        ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::WebP | ImageFormat::Gif
    ) {
        return Err(Failure::Unsupported(format!(
            "{source_format:?} is not supported"
        )));
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(1 << 30);
    reader.limits(limits);
    let mut img = reader.decode().map_err(|e| {
        let mut reason = format!("cannot decode the {source_format:?} image: {e}");
        reason.truncate(100);
        Failure::Corrupt(reason)
    })?;
    img = apply(img, ops);
    let format = ops.format.unwrap_or(source_format);
    // JPEG has no alpha channel and WebP is encoded lossless: give each what it takes.
    if format == ImageFormat::Jpeg {
        img = DynamicImage::ImageRgb8(img.to_rgb8());
    } else if format == ImageFormat::WebP {
        img = DynamicImage::ImageRgba8(img.to_rgba8());
    }
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format)
        .map_err(|e| Failure::Internal(format!("cannot encode {format:?}: {e}")))?;
    Ok((out.into_inner(), format))
}

fn apply(mut img: DynamicImage, ops: &Ops) -> DynamicImage {
    let (w, h) = (img.width().max(1), img.height().max(1));
    let size = match (ops.width, ops.height) {
        (Some(nw), Some(nh)) => Some((nw, nh)),
        (Some(nw), None) => Some((
            nw,
            ((h as u64 * nw as u64) / w as u64).clamp(1, MAX_SIDE as u64) as u32,
        )),
        (None, Some(nh)) => Some((
            ((w as u64 * nh as u64) / h as u64).clamp(1, MAX_SIDE as u64) as u32,
            nh,
        )),
        (None, None) => None,
    };
    if let Some((nw, nh)) = size {
        img = img.resize_exact(nw, nh, image::imageops::FilterType::Triangle);
    }
    match ops.rotate {
        90 => img.rotate90(),
        180 => img.rotate180(),
        270 => img.rotate270(),
        _ => img,
    }
}

/// Reads the request body up to the limit; `Err` is the response to send instead.
async fn read_body(req: Request<Incoming>, max: u64) -> Result<Bytes, Reply> {
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max) {
        // Answer at once; the connection discards the unread body before it closes.
        return Err(text(
            StatusCode::PAYLOAD_TOO_LARGE,
            "the image is larger than the limit",
        ));
    }
    match Limited::new(req.into_body(), max as usize).collect().await {
        Ok(body) => Ok(body.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(text(
            StatusCode::PAYLOAD_TOO_LARGE,
            "the image is larger than the limit",
        )),
        Err(e) => Err(text(
            StatusCode::BAD_REQUEST,
            &format!("cannot read the body: {e}"),
        )),
    }
}

/// The source image for `GET /images/{name}`.
async fn stored_image(cfg: &Config, name: &str) -> Result<Bytes, Reply> {
    if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
        return Err(text(StatusCode::BAD_REQUEST, "bad image name"));
    }
    if let Some(dir) = &cfg.dir {
        if let Ok(bytes) = tokio::fs::read(dir.join(name)).await {
            return Ok(Bytes::from(bytes));
        }
    }
    if name == GENERATED {
        let side = cfg.generated_side;
        let png = tokio::task::spawn_blocking(move || {
            let mut out = Cursor::new(Vec::new());
            generated_image(side)
                .write_to(&mut out, ImageFormat::Png)
                .map(|()| out.into_inner())
        })
        .await;
        return match png {
            Ok(Ok(png)) => Ok(Bytes::from(png)),
            _ => Err(text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "cannot generate the image",
            )),
        };
    }
    Err(text(StatusCode::NOT_FOUND, "no such image"))
}

async fn route(req: Request<Incoming>, cfg: &Config) -> Reply {
    let path = req.uri().path().to_string();
    let name = path.strip_prefix("/images/").map(str::to_string);
    let allowed = match (path.as_str(), &name) {
        ("/transform", _) => Method::POST,
        (_, Some(_)) => Method::GET,
        _ => return text(StatusCode::NOT_FOUND, "no such route"),
    };
    if req.method() != allowed {
        let mut res = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
        res.headers_mut().insert(
            hyper::header::ALLOW,
            allowed.as_str().parse().expect("a method"),
        );
        return res;
    }
    // Parameters are checked before the body is read: a bad request is answered at once.
    let ops = match parse_ops(req.uri().query()) {
        Ok(ops) => ops,
        Err(reason) => return text(StatusCode::BAD_REQUEST, &reason),
    };
    let input = match name {
        Some(name) => stored_image(cfg, &name).await,
        None => read_body(req, cfg.max_body).await,
    };
    let input = match input {
        Ok(input) => input,
        Err(res) => return res,
    };
    match tokio::task::spawn_blocking(move || transform(&input, &ops)).await {
        Ok(Ok((bytes, format))) => Response::builder()
            .header(CONTENT_TYPE, content_type(format))
            .header(CONTENT_LENGTH, bytes.len())
            .body(Full::new(Bytes::from(bytes)))
            .expect("a valid response"),
        Ok(Err(Failure::Unsupported(reason))) => text(StatusCode::UNSUPPORTED_MEDIA_TYPE, &reason),
        Ok(Err(Failure::Corrupt(reason))) => text(StatusCode::BAD_REQUEST, &reason),
        Ok(Err(Failure::Internal(reason))) => text(StatusCode::INTERNAL_SERVER_ERROR, &reason),
        Err(_) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the transformation failed",
        ),
    }
}

/// The service: routes the request and logs one line for it.
pub async fn handle(req: Request<Incoming>, cfg: Arc<Config>) -> Result<Reply, Infallible> {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let res = route(req, &cfg).await;
    tracing::info!(
        "{method} {path} {} {} bytes {} ms",
        res.status().as_u16(),
        hyper::body::Body::size_hint(res.body())
            .exact()
            .unwrap_or(0),
        started.elapsed().as_millis()
    );
    Ok(res)
}

/// Where connections come from.
pub enum Listener {
    Tcp(tokio::net::TcpListener),
    Unix(tokio::net::UnixListener),
}

fn spawn_connection<S>(
    stream: S,
    cfg: &Arc<Config>,
    graceful: &hyper_util::server::graceful::GracefulShutdown,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let cfg = cfg.clone();
    let service = hyper::service::service_fn(move |req| handle(req, cfg.clone()));
    let conn = hyper::server::conn::http1::Builder::new()
        .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
    let conn = graceful.watch(conn);
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!("connection ended with an error: {e}");
        }
    });
}

/// Serves connections from `listener` until `stop` resolves, then lets the open connections
/// finish their responses (graceful shutdown) and returns.
pub async fn serve(
    listener: Listener,
    cfg: Arc<Config>,
    stop: impl std::future::Future<Output = ()>,
) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut stop = std::pin::pin!(stop);
    loop {
        let accepted = tokio::select! {
            accepted = async {
                match &listener {
                    Listener::Tcp(l) => l.accept().await.map(|(s, _)| {
                        spawn_connection(s, &cfg, &graceful);
                    }),
                    Listener::Unix(l) => l.accept().await.map(|(s, _)| {
                        spawn_connection(s, &cfg, &graceful);
                    }),
                }
            } => accepted,
            () = &mut stop => break,
        };
        if let Err(e) = accepted {
            tracing::warn!("accept failed: {e}");
        }
    }
    graceful.shutdown().await;
}
