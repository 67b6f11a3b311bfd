//! Trait aliases for the executors that HTTP/2 connections need.
//!
//! HTTP/2 spawns one background task per stream, and those tasks have types that are
//! internal to hyper. Rather than making users spell out `Executor<SomeInternalFuture>`
//! bounds, this module names the requirement once (`Http2ClientConnExec` and
//! `Http2ServerConnExec`, available with the `http2` feature); both are implemented
//! automatically for any suitable [`Executor`](crate::rt::Executor).
