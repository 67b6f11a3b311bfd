#![no_main]
// Request heads arriving in two pieces, then their bodies.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Some((&split, rest)) = data.split_first() {
        hyper::__fuzz::request_head(rest, usize::from(split) * 4);
    }
});
