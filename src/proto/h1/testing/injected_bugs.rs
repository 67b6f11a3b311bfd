//! Switches that put back, in test builds only, the bugs upstream hyper had in its write path,
//! so the interleaving explorer can show it would catch each of them.
//!
//! Outside tests [`active`] is a constant `false` and the checks compile away; this is the
//! one part of `testing` compiled into every build, so the checks can stay in place.

/// A bug of the "bytes encoded but never written" class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(dead_code)] // only constructed by tests
pub(crate) enum Bug {
    /// The ending path shuts the transport down (or hands it over) without writing what is
    /// still owed (hyper before 1.11).
    ShutdownBeforeFlush,
    /// A write-out is skipped while more input sits in the read buffer, and the ending path
    /// trusts it (hyper 1.12 with `pipeline_flush`).
    FlushSkippedWhileInputBuffered,
    /// The connection goes to sleep without writing what it just encoded, so the bytes wait
    /// for an unrelated wake-up (fixed call site by call site in the hyper 1.12 line).
    YieldWithoutWriting,
}

#[cfg(test)]
thread_local! {
    static ACTIVE: std::cell::Cell<Option<Bug>> = const { std::cell::Cell::new(None) };
}

/// Whether `bug` is switched on for the current thread.
#[cfg(test)]
pub(crate) fn active(bug: Bug) -> bool {
    ACTIVE.with(|a| a.get() == Some(bug))
}

#[cfg(not(test))]
#[inline(always)]
pub(crate) fn active(_bug: Bug) -> bool {
    false
}

/// Whether any bug is switched on for the current thread.
#[cfg(test)]
pub(crate) fn any_active() -> bool {
    ACTIVE.with(|a| a.get().is_some())
}

#[cfg(not(test))]
#[inline(always)]
pub(crate) fn any_active() -> bool {
    false
}

/// Runs `f` with `bug` switched on for the current thread.
#[cfg(test)]
pub(crate) fn with_bug<R>(bug: Bug, f: impl FnOnce() -> R) -> R {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            ACTIVE.with(|a| a.set(None));
        }
    }
    ACTIVE.with(|a| a.set(Some(bug)));
    let _reset = Reset;
    f()
}
