//! Prints the auto traits (`Send`, `Sync`, `Unpin`, `UnwindSafe`, `RefUnwindSafe`) of every
//! public type of the fork and of upstream hyper 1.13.0 that exists in the feature set this
//! crate was built with, and exits with 1 if any differ. Generic types are checked with each
//! type parameter in turn replaced by a marker that lacks one auto trait, so a type that drops
//! (or gains) a bound on one parameter shows. Modules that must exist are named in `use`
//! items, so a missing one fails the build.
use std::cell::Cell;
use std::convert::Infallible;
use std::future::Future;
use std::marker::{PhantomData, PhantomPinned};
use std::panic::{RefUnwindSafe, UnwindSafe};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

/// Whether `$ty` implements `$tr`: the inherent `check` exists only when the bound holds, and
/// takes precedence over the trait's default.
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

type Traits = [bool; 5];

macro_rules! traits {
    ($ty:ty) => {
        [
            implements!($ty: Send),
            implements!($ty: Sync),
            implements!($ty: Unpin),
            implements!($ty: UnwindSafe),
            implements!($ty: RefUnwindSafe),
        ]
    };
}

// Markers, each lacking one auto trait.
#[allow(dead_code)]
type Plain = ();
#[allow(dead_code)]
type NotSync = Cell<u8>;
#[allow(dead_code)]
type NotSend = Rc<u8>;
#[allow(dead_code)]
type NotUnpin = PhantomPinned;
#[allow(dead_code)]
type NotUnwind = &'static mut u8;

/// Records `$ty`'s traits under its name; with `for $m in ...`, once per marker (`markers`:
/// all of them).
macro_rules! record {
    ($out:ident, $name:literal, for $m:ident in markers => $ty:ty) => {
        record!($out, $name, for $m in [Plain, NotSync, NotSend, NotUnpin, NotUnwind] => $ty)
    };
    ($out:ident, $name:literal, for $m:ident in [$($marker:ident),*] => $ty:ty) => {{
        $(record!(@one $out, $name, $marker, $m, $ty);)*
    }};
    (@one $out:ident, $name:literal, $marker:ident, $m:ident, $ty:ty) => {{
        #[allow(dead_code)]
        type $m = $marker;
        $out.push((format!("{} [{} = {}]", $name, stringify!($m), stringify!($marker)), traits!($ty)));
    }};
    ($out:ident, $name:literal, $ty:ty) => {
        $out.push(($name.to_string(), traits!($ty)));
    };
}

macro_rules! crate_side {
    ($module:ident, $krate:ident) => {
        #[allow(dead_code, unused_imports)]
        mod $module {
            use super::*;

            // Modules that exist in this feature set (a missing one is a build error).
            use $krate::{body, ext, rt, service, upgrade};
            #[cfg(feature = "client")]
            use $krate::client;
            #[cfg(all(feature = "client", any(feature = "http1", feature = "http2")))]
            use $krate::client::conn;
            #[cfg(feature = "server")]
            use $krate::server::conn as server_conn;

            /// A transport whose auto traits are those of `M`.
            pub struct Io<M>(PhantomData<M>);

            impl<M> $krate::rt::Read for Io<M> {
                fn poll_read(
                    self: Pin<&mut Self>,
                    _: &mut Context<'_>,
                    _: $krate::rt::ReadBufCursor<'_>,
                ) -> Poll<std::io::Result<()>> {
                    Poll::Pending
                }
            }

            impl<M> $krate::rt::Write for Io<M> {
                fn poll_write(
                    self: Pin<&mut Self>,
                    _: &mut Context<'_>,
                    _: &[u8],
                ) -> Poll<std::io::Result<usize>> {
                    Poll::Pending
                }
                fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
                    Poll::Pending
                }
                fn poll_shutdown(
                    self: Pin<&mut Self>,
                    _: &mut Context<'_>,
                ) -> Poll<std::io::Result<()>> {
                    Poll::Pending
                }
            }

            /// A body whose auto traits are those of `M`.
            pub struct MBody<M>(PhantomData<M>);

            impl<M> $krate::body::Body for MBody<M> {
                type Data = $krate::body::Bytes;
                type Error = Infallible;
                fn poll_frame(
                    self: Pin<&mut Self>,
                    _: &mut Context<'_>,
                ) -> Poll<Option<Result<$krate::body::Frame<Self::Data>, Infallible>>> {
                    Poll::Ready(None)
                }
            }

            pub struct Fut<M>(PhantomData<M>);

            impl<M> Future for Fut<M> {
                type Output = Result<$krate::Response<MBody<()>>, Infallible>;
                fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Self::Output> {
                    Poll::Pending
                }
            }

            /// A service whose own auto traits are those of `S`, its future's those of `F`.
            pub struct Svc<S, F>(PhantomData<(S, F)>);

            impl<S, F> $krate::service::Service<$krate::Request<$krate::body::Incoming>>
                for Svc<S, F>
            {
                type Response = $krate::Response<MBody<()>>;
                type Error = Infallible;
                type Future = Fut<F>;
                fn call(&self, _: $krate::Request<$krate::body::Incoming>) -> Fut<F> {
                    Fut(PhantomData)
                }
            }

            /// An executor whose auto traits are those of `M` (it never runs anything here).
            #[derive(Clone)]
            pub struct Exec<M>(PhantomData<M>);

            impl<M, Fu> $krate::rt::Executor<Fu> for Exec<M>
            where
                Fu: Future + Send + 'static,
                Fu::Output: Send + 'static,
            {
                fn execute(&self, _: Fu) {}
            }

            pub fn report() -> Vec<(String, Traits)> {
                let mut out = Vec::new();
                record!(out, "Error", $krate::Error);
                record!(out, "body::Incoming", $krate::body::Incoming);
                record!(out, "rt::ReadBuf", $krate::rt::ReadBuf<'static>);
                record!(out, "rt::ReadBufCursor", $krate::rt::ReadBufCursor<'static>);
                #[cfg(feature = "http1")]
                record!(out, "ext::ReasonPhrase", $krate::ext::ReasonPhrase);
                #[cfg(feature = "http2")]
                record!(out, "ext::Protocol", $krate::ext::Protocol);
                record!(out, "upgrade::Upgraded", $krate::upgrade::Upgraded);
                record!(out, "upgrade::OnUpgrade", $krate::upgrade::OnUpgrade);
                record!(out, "upgrade::Parts<T>", for T in markers => $krate::upgrade::Parts<T>);

                #[cfg(all(feature = "client", any(feature = "http1", feature = "http2")))]
                {
                    record!(out, "client::conn::TrySendError<T>", for T in markers => conn::TrySendError<T>);
                }
                #[cfg(all(feature = "client", feature = "http1"))]
                {
                    use conn::http1;
                    record!(out, "client http1::Builder", http1::Builder);
                    record!(out, "client http1::SendRequest<B>", for B in markers => http1::SendRequest<MBody<B>>);
                    record!(out, "client http1::Parts<T>", for T in markers => http1::Parts<T>);
                    record!(out, "client http1::Connection<T, B> (T)", for T in markers => http1::Connection<Io<T>, MBody<()>>);
                    record!(out, "client http1::Connection<T, B> (B)", for B in markers => http1::Connection<Io<()>, MBody<B>>);
                }
                #[cfg(all(feature = "client", feature = "http2"))]
                {
                    use conn::http2;
                    record!(out, "client http2::Builder<E>", for E in markers => http2::Builder<E>);
                    record!(out, "client http2::SendRequest<B>", for B in markers => http2::SendRequest<MBody<B>>);
                    // The connection requires a `Send + Unpin` transport.
                    record!(out, "client http2::Connection<T, B, E> (T)", for T in [Plain, NotSync, NotUnwind] => http2::Connection<Io<T>, MBody<()>, Exec<()>>);
                }
                #[cfg(all(feature = "server", feature = "http1"))]
                {
                    use server_conn::http1;
                    record!(out, "server http1::Builder", http1::Builder);
                    record!(out, "server http1::Connection<T, S> (T)", for T in markers => http1::Connection<Io<T>, Svc<(), ()>>);
                    record!(out, "server http1::Connection<T, S> (S)", for S in markers => http1::Connection<Io<()>, Svc<S, ()>>);
                    record!(out, "server http1::Connection<T, S> (S::Future)", for F in markers => http1::Connection<Io<()>, Svc<(), F>>);
                    record!(out, "server http1::UpgradeableConnection<T, S> (T)", for T in markers => http1::UpgradeableConnection<Io<T>, Svc<(), ()>>);
                    record!(out, "server http1::UpgradeableConnection<T, S> (S)", for S in markers => http1::UpgradeableConnection<Io<()>, Svc<S, ()>>);
                    record!(out, "server http1::Parts<T, S> (T)", for T in markers => http1::Parts<Io<T>, Svc<(), ()>>);
                    record!(out, "server http1::Parts<T, S> (S)", for S in markers => http1::Parts<Io<()>, Svc<S, ()>>);
                }
                #[cfg(all(feature = "server", feature = "http2"))]
                {
                    use server_conn::http2;
                    record!(out, "server http2::Builder<E>", for E in markers => http2::Builder<E>);
                    record!(out, "server http2::Connection<T, S, E> (T)", for T in markers => http2::Connection<Io<T>, Svc<(), ()>, Exec<()>>);
                    record!(out, "server http2::Connection<T, S, E> (S)", for S in markers => http2::Connection<Io<()>, Svc<S, ()>, Exec<()>>);
                    record!(out, "server http2::Connection<T, S, E> (E)", for E in markers => http2::Connection<Io<()>, Svc<(), ()>, Exec<E>>);
                }
                out
            }
        }
    };
}

crate_side!(fork, hyper);
crate_side!(upstream, hyper_upstream);

fn show(t: &Traits) -> String {
    let names = ["Send", "Sync", "Unpin", "UnwindSafe", "RefUnwindSafe"];
    let have: Vec<&str> = names
        .iter()
        .zip(t)
        .filter_map(|(n, has)| has.then_some(*n))
        .collect();
    if have.is_empty() {
        "(none)".to_string()
    } else {
        have.join(" + ")
    }
}

fn main() {
    let fork = fork::report();
    let upstream = upstream::report();
    assert_eq!(fork.len(), upstream.len());
    let mut differ = 0;
    for ((name, f), (_, u)) in fork.iter().zip(&upstream) {
        if f != u {
            differ += 1;
            println!("DIFFERS {name}: fork {} / upstream {}", show(f), show(u));
        }
    }
    println!("api-parity: {} types compared, {differ} differ", fork.len());
    if differ > 0 {
        std::process::exit(1);
    }
}
