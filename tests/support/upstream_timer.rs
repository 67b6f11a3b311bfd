// A tokio timer for upstream hyper's connections in tests: hyper-util's `TokioTimer` implements
// the fork's `Timer` (hyper-util is patched to the fork), so upstream needs its own. Included by
// tests with `#[path]`.

/// Upstream's `rt::Timer` on tokio's clock.
#[derive(Clone, Debug)]
pub struct UpTimer;

/// One tokio sleep, boxed so the wrapper is `Unpin`.
pub struct UpSleep(std::pin::Pin<Box<tokio::time::Sleep>>);

impl std::future::Future for UpSleep {
    type Output = ();

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        self.0.as_mut().poll(cx)
    }
}

impl hyper_upstream::rt::Sleep for UpSleep {}

impl hyper_upstream::rt::Timer for UpTimer {
    fn sleep(
        &self,
        duration: std::time::Duration,
    ) -> std::pin::Pin<Box<dyn hyper_upstream::rt::Sleep>> {
        Box::pin(UpSleep(Box::pin(tokio::time::sleep(duration))))
    }

    fn sleep_until(
        &self,
        deadline: std::time::Instant,
    ) -> std::pin::Pin<Box<dyn hyper_upstream::rt::Sleep>> {
        Box::pin(UpSleep(Box::pin(tokio::time::sleep_until(deadline.into()))))
    }
}
