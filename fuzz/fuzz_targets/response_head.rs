#![no_main]
// Response heads (interim ones too) and their bodies, for the methods that change framing.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Some((&flags, rest)) = data.split_first() {
        hyper::__fuzz::response_head(rest, flags, flags & 0x80 != 0);
    }
});
