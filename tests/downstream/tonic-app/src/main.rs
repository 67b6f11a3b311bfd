//! A gRPC service written by hand on tonic's low-level API (`tonic::server::Grpc`,
//! `tonic::client::Grpc`, tonic-prost's codec, `#[derive(prost::Message)]`), served by tonic's
//! transport and called through a tonic `Channel`, both on the fork's HTTP/2:
//!
//! - `Echo` (unary): small and 1 MiB payloads come back whole; many calls at once share the
//!   channel; a call that asks to fail gets its status code and message back.
//! - `Fill` (server streaming): 64 messages of 64 KiB, read slowly, every byte checked, then
//!   the stream ends with status OK.
//! - Graceful shutdown of the server finishes once the client is gone.
//!
//! Exits non-zero (panics) on any mismatch.
use std::convert::Infallible;
use std::time::Duration;

use tonic::codegen::http;
use tonic::codegen::tokio_stream;
use tonic::codegen::{BoxFuture, Context, Poll, Service};
use tonic::{Code, Status};
use tonic_prost::ProstCodec;

#[derive(Clone, PartialEq, prost::Message)]
struct Ask {
    /// For `Fill`: how many messages to stream back.
    #[prost(uint32, tag = "1")]
    count: u32,
    /// For `Fill`: the size of each streamed message's data.
    #[prost(uint32, tag = "2")]
    size: u32,
    /// For `Echo`: sent back unchanged.
    #[prost(bytes = "vec", tag = "3")]
    payload: Vec<u8>,
    /// For `Echo`: answer with a `FAILED_PRECONDITION` status instead.
    #[prost(bool, tag = "4")]
    fail: bool,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Piece {
    #[prost(uint32, tag = "1")]
    index: u32,
    #[prost(bytes = "vec", tag = "2")]
    data: Vec<u8>,
}

const SERVICE: &str = "downstream.Bulk";
const ECHO: &str = "/downstream.Bulk/Echo";
const FILL: &str = "/downstream.Bulk/Fill";

/// Byte `k` of streamed message `index`.
fn fill_byte(index: u32, k: usize) -> u8 {
    (index as usize * 7 + k % 253) as u8
}

// ---- server side ----

struct EchoHandler;

impl tonic::server::UnaryService<Ask> for EchoHandler {
    type Response = Piece;
    type Future = BoxFuture<tonic::Response<Piece>, Status>;

    fn call(&mut self, request: tonic::Request<Ask>) -> Self::Future {
        Box::pin(async move {
            let ask = request.into_inner();
            if ask.fail {
                return Err(Status::failed_precondition("asked to fail"));
            }
            Ok(tonic::Response::new(Piece {
                index: ask.payload.len() as u32,
                data: ask.payload,
            }))
        })
    }
}

struct FillHandler;

type PieceStream = tokio_stream::Iter<std::vec::IntoIter<Result<Piece, Status>>>;

impl tonic::server::ServerStreamingService<Ask> for FillHandler {
    type Response = Piece;
    type ResponseStream = PieceStream;
    type Future = BoxFuture<tonic::Response<PieceStream>, Status>;

    fn call(&mut self, request: tonic::Request<Ask>) -> Self::Future {
        Box::pin(async move {
            let ask = request.into_inner();
            let pieces: Vec<Result<Piece, Status>> = (0..ask.count)
                .map(|index| {
                    let data = (0..ask.size as usize)
                        .map(|k| fill_byte(index, k))
                        .collect();
                    Ok(Piece { index, data })
                })
                .collect();
            Ok(tonic::Response::new(tokio_stream::iter(pieces)))
        })
    }
}

/// The routing a generated server would do: by path, to the method's handler.
#[derive(Clone)]
struct BulkServer;

impl tonic::server::NamedService for BulkServer {
    const NAME: &'static str = SERVICE;
}

impl Service<http::Request<tonic::body::Body>> for BulkServer {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Infallible>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<tonic::body::Body>) -> Self::Future {
        Box::pin(async move {
            let codec = ProstCodec::<Piece, Ask>::default();
            let res = match req.uri().path() {
                ECHO => {
                    tonic::server::Grpc::new(codec)
                        .unary(EchoHandler, req)
                        .await
                }
                FILL => {
                    tonic::server::Grpc::new(codec)
                        .server_streaming(FillHandler, req)
                        .await
                }
                other => Status::unimplemented(format!("no method {other}")).into_http(),
            };
            Ok(res)
        })
    }
}

// ---- client side ----

type Client = tonic::client::Grpc<tonic::transport::Channel>;

async fn echo(client: &mut Client, ask: Ask) -> Result<Piece, Status> {
    client
        .ready()
        .await
        .map_err(|e| Status::unknown(format!("channel not ready: {e}")))?;
    let codec = ProstCodec::<Ask, Piece>::default();
    let res = client
        .unary(tonic::Request::new(ask), ECHO.parse().unwrap(), codec)
        .await?;
    Ok(res.into_inner())
}

#[tokio::main]
async fn main() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(BulkServer)
            .serve_with_incoming_shutdown(
                tonic::transport::server::TcpIncoming::from(listener),
                async {
                    let _ = stop_rx.await;
                },
            ),
    );

    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client: Client = tonic::client::Grpc::new(channel);

    // Unary: a small payload, then 1 MiB.
    let small = echo(
        &mut client,
        Ask {
            payload: b"hello".to_vec(),
            ..Ask::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        small,
        Piece {
            index: 5,
            data: b"hello".to_vec()
        }
    );
    let megabyte: Vec<u8> = (0..1024 * 1024).map(|k| (k % 249) as u8).collect();
    let big = echo(
        &mut client,
        Ask {
            payload: megabyte.clone(),
            ..Ask::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(big.index as usize, megabyte.len(), "echo length");
    assert!(
        big.data == megabyte,
        "1 MiB echo differs from what was sent"
    );

    // Unary, failing: the status comes back as sent.
    let status = echo(
        &mut client,
        Ask {
            fail: true,
            ..Ask::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert_eq!(status.message(), "asked to fail");

    // Unary, 32 calls at once over the one channel.
    let mut tasks = Vec::new();
    for i in 0..32u32 {
        let mut client = client.clone();
        tasks.push(tokio::spawn(async move {
            let payload = format!("call {i}").into_bytes();
            let piece = echo(
                &mut client,
                Ask {
                    payload: payload.clone(),
                    ..Ask::default()
                },
            )
            .await
            .unwrap();
            assert_eq!(piece.data, payload, "concurrent call {i}");
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }

    // Server streaming: 64 messages of 64 KiB, read with pauses so flow control must hold
    // the server back; every message and byte checked, then status OK in the trailers.
    const COUNT: u32 = 64;
    const SIZE: u32 = 64 * 1024;
    client.ready().await.unwrap();
    let res = client
        .server_streaming(
            tonic::Request::new(Ask {
                count: COUNT,
                size: SIZE,
                ..Ask::default()
            }),
            FILL.parse().unwrap(),
            ProstCodec::<Ask, Piece>::default(),
        )
        .await
        .unwrap();
    let mut stream = res.into_inner();
    let mut received = 0u32;
    while let Some(piece) = stream.message().await.unwrap() {
        assert_eq!(piece.index, received, "messages arrive in order");
        assert_eq!(piece.data.len(), SIZE as usize, "message {received} size");
        for (k, &b) in piece.data.iter().enumerate() {
            if b != fill_byte(piece.index, k) {
                panic!("message {} byte {k} is wrong", piece.index);
            }
        }
        received += 1;
        if received % 8 == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    assert_eq!(received, COUNT, "every streamed message arrived");
    let trailers = stream
        .trailers()
        .await
        .unwrap()
        .expect("trailers after the stream");
    assert_eq!(
        trailers.get("grpc-status").map(|v| v.to_str().unwrap()),
        Some("0"),
        "the server's HTTP/2 trailers say OK"
    );

    // Graceful shutdown: with the client gone the server's connections end and it returns.
    drop(stream);
    drop(client);
    stop_tx.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("the server shut down gracefully within 10 s")
        .unwrap()
        .unwrap();

    println!("tonic-app: ok");
}
