// Tokio streams seen through one crate's IO traits. Included by tests with `#[path]`.
//
// A test of the fork alone needs none of this: hyper-util's `TokioIo` implements the fork's
// `hyper::rt` traits (the workspace patches hyper-util onto the fork). `upstream_io.rs`
// instantiates it for `hyper_upstream`, whose traits are distinct. It is instantiated for both
// crates where both must run the very same adapter code (the benches and the load examples
// compare their costs) and in `differential.rs`, which also builds outside the workspace against
// a stand-in crate under either name (patches/README.md), where hyper-util's traits may belong
// to neither.

/// Declares `pub struct $name<T>(pub T)` implementing `$krate::rt::{Read, Write}` for any
/// tokio `AsyncRead + AsyncWrite` inside, vectored writes included. Like `TokioIo`, it is
/// also made with `$name::new(io)`.
#[allow(unused_macros)]
macro_rules! tokio_io_for {
    ($krate:ident, $name:ident) => {
        pub struct $name<T>(pub T);

        #[allow(dead_code)]
        impl<T> $name<T> {
            pub fn new(io: T) -> Self {
                $name(io)
            }

            pub fn into_inner(self) -> T {
                self.0
            }
        }

        impl<T: tokio::io::AsyncRead + Unpin> $krate::rt::Read for $name<T> {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                mut buf: $krate::rt::ReadBufCursor<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                // SAFETY: tokio's ReadBuf only initializes memory and reports exactly how many
                // bytes it filled; the cursor advances by that count below.
                let filled = unsafe {
                    let mut tbuf = tokio::io::ReadBuf::uninit(buf.as_mut());
                    match tokio::io::AsyncRead::poll_read(
                        std::pin::Pin::new(&mut self.get_mut().0),
                        cx,
                        &mut tbuf,
                    ) {
                        std::task::Poll::Ready(Ok(())) => tbuf.filled().len(),
                        std::task::Poll::Ready(Err(e)) => return std::task::Poll::Ready(Err(e)),
                        std::task::Poll::Pending => return std::task::Poll::Pending,
                    }
                };
                // SAFETY: those `filled` bytes were just written into the cursor.
                unsafe { buf.advance(filled) };
                std::task::Poll::Ready(Ok(()))
            }
        }

        impl<T: tokio::io::AsyncWrite + Unpin> $krate::rt::Write for $name<T> {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                tokio::io::AsyncWrite::poll_write(
                    std::pin::Pin::new(&mut self.get_mut().0),
                    cx,
                    buf,
                )
            }
            fn poll_write_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                tokio::io::AsyncWrite::poll_write_vectored(
                    std::pin::Pin::new(&mut self.get_mut().0),
                    cx,
                    bufs,
                )
            }
            fn is_write_vectored(&self) -> bool {
                tokio::io::AsyncWrite::is_write_vectored(&self.0)
            }
            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                tokio::io::AsyncWrite::poll_flush(std::pin::Pin::new(&mut self.get_mut().0), cx)
            }
            fn poll_shutdown(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                tokio::io::AsyncWrite::poll_shutdown(std::pin::Pin::new(&mut self.get_mut().0), cx)
            }
        }
    };
}
