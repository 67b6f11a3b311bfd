#![no_main]
// The differential fuzzer, server role: the same request bytes, cut into the same pieces, to
// the fork's and upstream's server connections (tests/support/differential_fuzz.rs, shared with
// the proptest in the default suite). Any outcome that differs, other than the differences
// UPSTREAM.md documents, is a crash whose message holds the case bytes.
#[path = "../../tests/support/differential_fuzz.rs"]
mod differential_fuzz;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(divergence) = differential_fuzz::check_server(data) {
        panic!("{divergence}");
    }
});
