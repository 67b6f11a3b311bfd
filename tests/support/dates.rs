// `Date` header values, the one part of a response that depends on the clock, replaced before
// tests compare bytes. Included by tests with `#[path]`.
#![allow(dead_code)]

/// What [`normalize_dates`] writes in place of a date: as long as an IMF-fixdate.
pub const DATE_PLACEHOLDER: &[u8; 29] = b"<date normalized, 29 bytes..>";

/// [`replace_dates`] with [`DATE_PLACEHOLDER`].
pub fn normalize_dates(bytes: &[u8]) -> Vec<u8> {
    replace_dates(bytes, DATE_PLACEHOLDER)
}

/// Replaces the value of every `Date` header line (the name in any case, at the start of a
/// line) that is an IMF-fixdate with `with`. A value cut short by the end of `bytes` (a stream
/// that lost its tail) becomes as much of `with` as there were bytes of it, so a stream that
/// is a prefix of another is still one after both were replaced. Other values stay as they are.
pub fn replace_dates(bytes: &[u8], with: &[u8]) -> Vec<u8> {
    const FIELD: &[u8] = b"\r\ndate: ";
    const VALUE_LEN: usize = 29;
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        let rest = &bytes[at..];
        if rest.len() >= FIELD.len() && rest[..FIELD.len()].eq_ignore_ascii_case(FIELD) {
            let value = &rest[FIELD.len()..];
            let value = &value[..value.len().min(VALUE_LEN)];
            let whole =
                value.len() == VALUE_LEN && rest[FIELD.len() + VALUE_LEN..].starts_with(b"\r\n");
            let cut_at_end = value.len() < VALUE_LEN && FIELD.len() + value.len() == rest.len();
            if is_imf_fixdate_prefix(value) && (whole || cut_at_end) {
                out.extend_from_slice(&rest[..FIELD.len()]);
                let kept = if whole {
                    with.len()
                } else {
                    value.len().min(with.len())
                };
                out.extend_from_slice(&with[..kept]);
                at += FIELD.len() + value.len();
                continue;
            }
        }
        out.push(bytes[at]);
        at += 1;
    }
    out
}

/// Whether `value` is (the start of) a date such as `Sun, 06 Nov 1994 08:49:37 GMT`.
fn is_imf_fixdate_prefix(value: &[u8]) -> bool {
    // `U` an upper-case letter, `l` a lower-case one, `9` a digit; the rest stands for itself.
    const SHAPE: &[u8; 29] = b"Ull, 99 Ull 9999 99:99:99 GMT";
    value.len() <= SHAPE.len()
        && value.iter().zip(SHAPE).all(|(&c, &s)| match s {
            b'U' => c.is_ascii_uppercase(),
            b'l' => c.is_ascii_lowercase(),
            b'9' => c.is_ascii_digit(),
            _ => c == s,
        })
}
