#![no_main]
// Chunked bodies delivered a few bytes at a time.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Some((&step, rest)) = data.split_first() {
        hyper::__fuzz::chunked(rest, step);
    }
});
