// Tokio streams for upstream hyper's connections in tests: hyper-util's `TokioIo` implements
// the fork's `rt` traits (hyper-util is patched to the fork), so upstream needs its own, `UpIo`
// (made with `UpIo::new(io)`, as `TokioIo` is). Included by tests with `#[path]`.

#[macro_use]
#[path = "tokio_io.rs"]
mod tokio_io;

tokio_io_for!(hyper_upstream, UpIo);
