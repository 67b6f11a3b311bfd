// An executor for upstream hyper's HTTP/2 connections in tests: hyper-util's `TokioExecutor`
// implements the fork's `Executor` (hyper-util is patched to the fork), so upstream needs its
// own. Included by tests with `#[path]`.

/// Spawns upstream hyper's connection tasks on the current tokio runtime.
#[derive(Clone)]
pub struct UpExec;

impl<F> hyper_upstream::rt::Executor<F> for UpExec
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, fut: F) {
        tokio::spawn(fut);
    }
}
