// Tokio streams seen through either crate's IO traits (the fork's `hyper::rt` and upstream's
// `hyper_upstream::rt` are distinct traits). Included by tests with `#[path]`.

/// Declares `pub struct $name<T>(pub T)` implementing `$krate::rt::{Read, Write}` for any
/// tokio `AsyncRead + AsyncWrite` inside, vectored writes included.
#[allow(unused_macros)]
macro_rules! tokio_io_for {
    ($krate:ident, $name:ident) => {
        pub struct $name<T>(pub T);

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
