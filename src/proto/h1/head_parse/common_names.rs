//! The field names nearly every message carries, recognized without the general lookup.
//!
//! `HeaderName::from_bytes` copies a name into a scratch buffer, lowercasing it through a
//! table, and then searches the standard names. A parsed field's name is one of a dozen
//! standard ones most of the time, and comparing its bytes against those spellings in place
//! costs a fraction of that. [`standard`] returns the very constant the general lookup
//! returns for such a name, and `None` for anything else, which then takes the general path:
//! the result never depends on which path was taken (the tests compare both over every
//! listed name in several casings and with every byte value at every position).
use http::header::{self, HeaderName};

/// Whether `raw` is `lower` in any letter case. `lower` holds lowercase letters and `-`;
/// only ASCII letters match their other case, every other byte must be equal.
#[inline(always)]
fn spelled<const N: usize>(raw: &[u8], lower: &[u8; N]) -> bool {
    let Ok(raw) = <&[u8; N]>::try_from(raw) else {
        return false;
    };
    let mut diff = 0u8;
    for i in 0..N {
        // Setting bit 0x20 turns an uppercase ASCII letter into its lowercase form and
        // leaves a lowercase one as it is; no other byte becomes a letter that way.
        let fold = if lower[i].is_ascii_lowercase() {
            0x20
        } else {
            0
        };
        diff |= (raw[i] | fold) ^ lower[i];
    }
    diff == 0
}

/// Tries each spelling in order (the most frequent first) and returns its name on a match.
macro_rules! first_of {
    ($raw:expr; $($lower:literal => $name:expr),+ $(,)?) => {{
        $(
            if spelled($raw, $lower) {
                return Some($name);
            }
        )+
        None
    }};
}

/// The standard name `raw` spells, if it is one of the common names listed here.
#[inline]
pub(crate) fn standard(raw: &[u8]) -> Option<HeaderName> {
    match raw.len() {
        2 => first_of!(raw; b"te" => header::TE),
        3 => first_of!(raw; b"via" => header::VIA, b"age" => header::AGE),
        4 => first_of!(raw;
            b"host" => header::HOST,
            b"date" => header::DATE,
            b"vary" => header::VARY,
            b"etag" => header::ETAG,
            b"link" => header::LINK,
        ),
        5 => first_of!(raw; b"range" => header::RANGE, b"allow" => header::ALLOW),
        6 => first_of!(raw;
            b"accept" => header::ACCEPT,
            b"cookie" => header::COOKIE,
            b"origin" => header::ORIGIN,
            b"server" => header::SERVER,
            b"expect" => header::EXPECT,
            b"pragma" => header::PRAGMA,
        ),
        7 => first_of!(raw;
            b"referer" => header::REFERER,
            b"upgrade" => header::UPGRADE,
            b"expires" => header::EXPIRES,
            b"trailer" => header::TRAILER,
        ),
        8 => first_of!(raw;
            b"location" => header::LOCATION,
            b"if-match" => header::IF_MATCH,
            b"if-range" => header::IF_RANGE,
        ),
        10 => first_of!(raw;
            b"user-agent" => header::USER_AGENT,
            b"connection" => header::CONNECTION,
            b"set-cookie" => header::SET_COOKIE,
        ),
        12 => first_of!(raw; b"content-type" => header::CONTENT_TYPE),
        13 => first_of!(raw;
            b"cache-control" => header::CACHE_CONTROL,
            b"authorization" => header::AUTHORIZATION,
            b"if-none-match" => header::IF_NONE_MATCH,
            b"last-modified" => header::LAST_MODIFIED,
            b"accept-ranges" => header::ACCEPT_RANGES,
        ),
        14 => first_of!(raw; b"content-length" => header::CONTENT_LENGTH),
        15 => first_of!(raw;
            b"accept-encoding" => header::ACCEPT_ENCODING,
            b"accept-language" => header::ACCEPT_LANGUAGE,
        ),
        16 => first_of!(raw; b"content-encoding" => header::CONTENT_ENCODING),
        17 => first_of!(raw;
            b"transfer-encoding" => header::TRANSFER_ENCODING,
            b"if-modified-since" => header::IF_MODIFIED_SINCE,
        ),
        25 => first_of!(raw; b"upgrade-insecure-requests" => header::UPGRADE_INSECURE_REQUESTS),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LISTED: &[&str] = &[
        "te",
        "via",
        "age",
        "host",
        "date",
        "vary",
        "etag",
        "link",
        "range",
        "allow",
        "accept",
        "cookie",
        "origin",
        "server",
        "expect",
        "pragma",
        "referer",
        "upgrade",
        "expires",
        "trailer",
        "location",
        "if-match",
        "if-range",
        "user-agent",
        "connection",
        "set-cookie",
        "content-type",
        "cache-control",
        "authorization",
        "if-none-match",
        "last-modified",
        "accept-ranges",
        "content-length",
        "accept-encoding",
        "accept-language",
        "content-encoding",
        "transfer-encoding",
        "if-modified-since",
        "upgrade-insecure-requests",
    ];

    /// The fast path either declines or agrees with `HeaderName::from_bytes`.
    fn agrees(raw: &[u8]) -> bool {
        match standard(raw) {
            None => true,
            Some(fast) => HeaderName::from_bytes(raw).is_ok_and(|general| general == fast),
        }
    }

    #[test]
    fn every_listed_name_is_found_in_any_case_as_the_general_lookup_finds_it() {
        for name in LISTED {
            let title: String = name
                .split('-')
                .map(|w| w[..1].to_ascii_uppercase() + &w[1..])
                .collect::<Vec<_>>()
                .join("-");
            let alternating: String = name
                .chars()
                .enumerate()
                .map(|(i, c)| {
                    if i % 2 == 0 {
                        c.to_ascii_uppercase()
                    } else {
                        c
                    }
                })
                .collect();
            for spelling in [
                name.to_string(),
                name.to_ascii_uppercase(),
                title,
                alternating,
            ] {
                let fast = standard(spelling.as_bytes())
                    .unwrap_or_else(|| panic!("{spelling} not recognized"));
                let general = HeaderName::from_bytes(spelling.as_bytes()).unwrap();
                assert_eq!(fast, general, "{spelling}");
            }
        }
    }

    #[test]
    fn any_other_byte_anywhere_in_a_listed_name_is_declined_or_agrees() {
        for name in LISTED {
            for at in 0..name.len() {
                for b in 0..=255u8 {
                    let mut raw = name.as_bytes().to_vec();
                    raw[at] = b;
                    assert!(agrees(&raw), "{:?}", String::from_utf8_lossy(&raw));
                    let same_letter = raw[at].eq_ignore_ascii_case(&name.as_bytes()[at]);
                    assert_eq!(standard(&raw).is_some(), same_letter, "{raw:?}");
                }
            }
        }
    }

    #[test]
    fn names_not_listed_and_prefixes_are_left_to_the_general_lookup() {
        for raw in [
            &b""[..],
            b"x",
            b"hos",
            b"hostt",
            b"x-host",
            b"content-lengt",
            b"content_length",
            b"content\rlength",
            b"keep-alive",
            b"x-forwarded-for",
        ] {
            assert!(standard(raw).is_none(), "{raw:?}");
        }
        for name in LISTED {
            let mut longer = name.as_bytes().to_vec();
            longer.push(b's');
            assert!(agrees(&longer));
            assert!(agrees(&name.as_bytes()[1..]));
        }
    }
}
