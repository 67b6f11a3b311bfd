//! The fork's public types have the same auto traits (`Send`, `Sync`, `Unpin`, unwind
//! safety) as upstream hyper 1.13.0's, for every combination of transport and service whose
//! own auto traits differ. A downstream crate that spawns a connection on a multi-threaded
//! runtime, or stores one in a `Sync` struct, compiles against both or against neither.
//!
//! The checks below run in this test build's feature set (`full`); the last test builds
//! `tests/api_parity` once per feature set, which compares every public type there.
use std::cell::Cell;
use std::convert::Infallible;
use std::future::Future;
use std::marker::{PhantomData, PhantomPinned};
use std::panic::{RefUnwindSafe, UnwindSafe};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

/// Whether `$ty` implements `$tr`, decided at compile time for a concrete type: the inherent
/// `check` exists only when the bound holds, and takes precedence over the trait's default.
macro_rules! implements {
    ($ty:ty: $tr:path) => {{
        struct Probe<T: ?Sized>(PhantomData<T>);
        #[allow(dead_code)]
        trait Fallback {
            fn check(&self) -> bool {
                false
            }
        }
        impl<T: ?Sized> Fallback for Probe<T> {}
        #[allow(dead_code)]
        impl<T: ?Sized + $tr> Probe<T> {
            fn check(&self) -> bool {
                true
            }
        }
        Probe::<$ty>(PhantomData).check()
    }};
}

/// The five auto traits of `$ty`, as a comparable tuple.
macro_rules! auto_traits {
    ($ty:ty) => {
        (
            implements!($ty: Send),
            implements!($ty: Sync),
            implements!($ty: Unpin),
            implements!($ty: UnwindSafe),
            implements!($ty: RefUnwindSafe),
        )
    };
}

/// A transport stand-in whose auto traits are those of `M`. Naming `Connection<Io<M>, _>`
/// needs no IO trait impls.
pub struct Io<M>(PhantomData<M>);

/// For one crate: a service and future whose auto traits are those of their markers.
macro_rules! services_for {
    ($krate:ident, $module:ident) => {
        mod $module {
            use super::*;

            pub struct Fut<M>(PhantomData<M>);

            impl<M> Future for Fut<M> {
                type Output =
                    Result<$krate::Response<http_body_util::Empty<$krate::body::Bytes>>, Infallible>;
                fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Self::Output> {
                    Poll::Pending
                }
            }

            /// `S` marks the service itself, `F` its future.
            pub struct Svc<S, F>(PhantomData<(S, F)>);

            impl<S, F> $krate::service::Service<$krate::Request<$krate::body::Incoming>> for Svc<S, F> {
                type Response = $krate::Response<http_body_util::Empty<$krate::body::Bytes>>;
                type Error = Infallible;
                type Future = Fut<F>;
                fn call(&self, _: $krate::Request<$krate::body::Incoming>) -> Fut<F> {
                    Fut(PhantomData)
                }
            }
        }
    };
}

services_for!(hyper, fork_svc);
services_for!(hyper_upstream, upstream_svc);

/// Compares `Connection`, `UpgradeableConnection` and `Parts` for one combination of
/// transport marker `$io`, service marker `$s` and future marker `$f`.
macro_rules! compare_connection {
    ($io:ty, $s:ty, $f:ty) => {{
        type ForkSvc = fork_svc::Svc<$s, $f>;
        type UpSvc = upstream_svc::Svc<$s, $f>;
        let cases = [
            (
                "Connection",
                auto_traits!(hyper::server::conn::http1::Connection<Io<$io>, ForkSvc>),
                auto_traits!(hyper_upstream::server::conn::http1::Connection<Io<$io>, UpSvc>),
            ),
            (
                "UpgradeableConnection",
                auto_traits!(hyper::server::conn::http1::UpgradeableConnection<Io<$io>, ForkSvc>),
                auto_traits!(
                    hyper_upstream::server::conn::http1::UpgradeableConnection<Io<$io>, UpSvc>
                ),
            ),
            (
                "Parts",
                auto_traits!(hyper::server::conn::http1::Parts<Io<$io>, ForkSvc>),
                auto_traits!(hyper_upstream::server::conn::http1::Parts<Io<$io>, UpSvc>),
            ),
        ];
        for (name, fork, upstream) in cases {
            assert_eq!(
                fork,
                upstream,
                "{name}<io: {}, service: {}, future: {}> (Send, Sync, Unpin, UnwindSafe, RefUnwindSafe)",
                stringify!($io),
                stringify!($s),
                stringify!($f),
            );
        }
    }};
}

#[test]
fn server_connection_types_have_upstreams_auto_traits_for_every_marker_combination() {
    // Each marker removes a different set of auto traits.
    type Plain = ();
    type NotSync = Cell<u8>;
    type NotSend = Rc<u8>;
    type NotUnpin = PhantomPinned;
    type NotUnwind = &'static mut u8;

    compare_connection!(Plain, Plain, Plain);
    compare_connection!(NotSync, Plain, Plain);
    compare_connection!(NotSend, Plain, Plain);
    compare_connection!(NotUnpin, Plain, Plain);
    compare_connection!(NotUnwind, Plain, Plain);
    compare_connection!(Plain, NotSync, Plain);
    compare_connection!(Plain, NotSend, Plain);
    compare_connection!(Plain, NotUnpin, Plain);
    compare_connection!(Plain, NotUnwind, Plain);
    compare_connection!(Plain, Plain, NotSync);
    compare_connection!(Plain, Plain, NotSend);
    compare_connection!(Plain, Plain, NotUnpin);
    compare_connection!(Plain, Plain, NotUnwind);
}

#[test]
fn standalone_public_types_have_upstreams_auto_traits() {
    let pairs = [
        (
            "Error",
            auto_traits!(hyper::Error),
            auto_traits!(hyper_upstream::Error),
        ),
        (
            "body::Incoming",
            auto_traits!(hyper::body::Incoming),
            auto_traits!(hyper_upstream::body::Incoming),
        ),
        (
            "http1::Builder",
            auto_traits!(hyper::server::conn::http1::Builder),
            auto_traits!(hyper_upstream::server::conn::http1::Builder),
        ),
        (
            "upgrade::Upgraded",
            auto_traits!(hyper::upgrade::Upgraded),
            auto_traits!(hyper_upstream::upgrade::Upgraded),
        ),
        (
            "upgrade::OnUpgrade",
            auto_traits!(hyper::upgrade::OnUpgrade),
            auto_traits!(hyper_upstream::upgrade::OnUpgrade),
        ),
        (
            "ext::ReasonPhrase",
            auto_traits!(hyper::ext::ReasonPhrase),
            auto_traits!(hyper_upstream::ext::ReasonPhrase),
        ),
        (
            "ext::Protocol",
            auto_traits!(hyper::ext::Protocol),
            auto_traits!(hyper_upstream::ext::Protocol),
        ),
        (
            "server http2::Builder<Exec>",
            auto_traits!(hyper::server::conn::http2::Builder<Exec>),
            auto_traits!(hyper_upstream::server::conn::http2::Builder<Exec>),
        ),
        (
            "client http2::Builder<Exec>",
            auto_traits!(hyper::client::conn::http2::Builder<Exec>),
            auto_traits!(hyper_upstream::client::conn::http2::Builder<Exec>),
        ),
        (
            "client http2::SendRequest<Full<Bytes>>",
            auto_traits!(
                hyper::client::conn::http2::SendRequest<http_body_util::Full<hyper::body::Bytes>>
            ),
            auto_traits!(
                hyper_upstream::client::conn::http2::SendRequest<
                    http_body_util::Full<hyper::body::Bytes>,
                >
            ),
        ),
    ];
    for (name, fork, upstream) in pairs {
        assert_eq!(
            fork, upstream,
            "{name} (Send, Sync, Unpin, UnwindSafe, RefUnwindSafe)"
        );
    }
}

/// The feature sets whose public types `tests/api_parity` compares with upstream's (the
/// fork's own test build has only `full`). Auto traits change with them: `body::Incoming` is
/// unwind safe upstream exactly where it cannot carry an HTTP/1 body.
const FEATURE_SETS: &[&str] = &[
    "client,server,http1,http2",
    "client,http1",
    "server,http1",
    "client,http2",
    "server,http2",
    "client",
    "server",
    "http1",
    "http2",
    "",
];

#[test]
fn every_feature_set_has_upstreams_modules_and_auto_traits() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut failed = Vec::new();
    for set in FEATURE_SETS {
        let out = std::process::Command::new(env!("CARGO"))
            .args(["run", "--quiet", "--no-default-features", "--features", set])
            .arg("--manifest-path")
            .arg(root.join("tests/api_parity/Cargo.toml"))
            .env("CARGO_TARGET_DIR", root.join("target/api_parity"))
            .output()
            .expect("cargo runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() || !stdout.contains(", 0 differ") {
            failed.push(format!(
                "[{set}]\n{stdout}{}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

/// A plain executor type for the HTTP/2 builders (it need not execute anything here).
#[derive(Clone)]
struct Exec;

#[test]
fn the_probe_can_tell_a_missing_trait() {
    assert_eq!(auto_traits!(()), (true, true, true, true, true));
    assert!(!implements!(Rc<u8>: Send));
    assert!(!implements!(Cell<u8>: Sync));
    assert!(!implements!(PhantomPinned: Unpin));
}
