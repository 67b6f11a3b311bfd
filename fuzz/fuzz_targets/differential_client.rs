#![no_main]
// The differential fuzzer, client role: the same response bytes, cut into the same pieces, to
// the fork's and upstream's client connections (tests/support/differential_fuzz.rs, shared with
// the proptest in the default suite). Any outcome that differs, other than the differences
// UPSTREAM.md documents, is a crash whose message holds the case bytes.
#[path = "../../tests/support/differential_fuzz.rs"]
mod differential_fuzz;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(divergence) = differential_fuzz::check_client(data) {
        panic!("{divergence}");
    }
});
