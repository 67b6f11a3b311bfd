//! Logging macros that compile to nothing unless the `tracing` feature is enabled.
//!
//! They keep call sites free of `cfg` attributes. Without the feature the arguments are still
//! type-checked (inside a closure that is never called), so a log line cannot rot unnoticed.

#[allow(unused_macros)]
macro_rules! log_event {
    ($level:ident, $($arg:tt)+) => {{
        #[cfg(feature = "tracing")]
        {
            ::tracing::$level!($($arg)+);
        }
        #[cfg(not(feature = "tracing"))]
        {
            let _ = || {
                let _ = format_args!($($arg)+);
            };
        }
    }};
}

#[allow(unused_macros)]
macro_rules! trace {
    ($($arg:tt)+) => { log_event!(trace, $($arg)+) };
}

#[allow(unused_macros)]
macro_rules! debug {
    ($($arg:tt)+) => { log_event!(debug, $($arg)+) };
}

#[allow(unused_macros)]
macro_rules! warn {
    ($($arg:tt)+) => { log_event!(warn, $($arg)+) };
}
