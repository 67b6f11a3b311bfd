// Deterministic body content for tests that check every byte arrived in place. Included by
// tests with `#[path]`.
#![allow(dead_code)]

use bytes::Bytes;

/// Byte `i` of the pattern started at `salt`: printable ASCII other than space, so a body
/// reads in a failure message and never holds a line break or a `name: value` field. Each
/// byte is a hash of its position, so the content has no period a dropped, repeated or
/// misplaced piece could hide in, and different salts give different bodies.
pub fn pattern_byte(i: usize, salt: usize) -> u8 {
    let mut z = (i.wrapping_add(salt) as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z ^= z >> 29;
    z = z.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z ^= z >> 32;
    b'!' + (z % 94) as u8
}

/// The first `len` bytes of the pattern started at `salt`.
pub fn pattern(len: usize, salt: usize) -> Bytes {
    (0..len)
        .map(|i| pattern_byte(i, salt))
        .collect::<Vec<u8>>()
        .into()
}
