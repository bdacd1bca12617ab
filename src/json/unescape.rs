//! Decoding JSON string escapes (RFC 8259 §7): `\"`, `\\`, `\/`, `\b`, `\f`,
//! `\n`, `\r`, `\t`, and `\uXXXX`, with UTF-16 surrogate pairs for characters
//! above U+FFFF (Python's `json.dumps` writes every emoji that way).
//!
//! The readers keep strings as they stand in the file, escapes undecoded (the
//! hash covers those bytes); this decodes them where a character is needed.

use super::JsonFaultKind;

/// Decodes one escape at the start of `s` (which starts with `\`): the
/// character and how many bytes it took.
pub(crate) fn decode_escape(s: &[u8]) -> Result<(char, usize), JsonFaultKind> {
    let c = match s.get(1) {
        Some(b'"') => '"',
        Some(b'\\') => '\\',
        Some(b'/') => '/',
        Some(b'b') => '\u{8}',
        Some(b'f') => '\u{c}',
        Some(b'n') => '\n',
        Some(b'r') => '\r',
        Some(b't') => '\t',
        Some(b'u') => {
            let unit = hex4(s.get(2..6))?;
            if !(0xd800..0xe000).contains(&unit) {
                return char::from_u32(unit)
                    .map(|c| (c, 6))
                    .ok_or(JsonFaultKind::BadEscape);
            }
            if unit >= 0xdc00 || s.get(6..8) != Some(b"\\u") {
                // A low surrogate with no high one before it, or a high one
                // with no escape after it.
                return Err(JsonFaultKind::LoneSurrogate);
            }
            let low = hex4(s.get(8..12))?;
            if !(0xdc00..0xe000).contains(&low) {
                return Err(JsonFaultKind::LoneSurrogate);
            }
            let c = 0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00);
            return char::from_u32(c)
                .map(|c| (c, 12))
                .ok_or(JsonFaultKind::BadEscape);
        }
        _ => return Err(JsonFaultKind::BadEscape),
    };
    Ok((c, 2))
}

fn hex4(digits: Option<&[u8]>) -> Result<u32, JsonFaultKind> {
    let digits = digits.ok_or(JsonFaultKind::BadEscape)?;
    let mut value = 0u32;
    for &d in digits {
        let v = match d {
            b'0'..=b'9' => d - b'0',
            b'a'..=b'f' => d - b'a' + 10,
            b'A'..=b'F' => d - b'A' + 10,
            _ => return Err(JsonFaultKind::BadEscape),
        };
        value = (value << 4) | u32::from(v);
    }
    Ok(value)
}

/// The characters of a JSON string body (the bytes between its quotes, as
/// they stand in the file), escapes decoded.
///
/// Yields `Err` once, at the first escape that does not decode (a string a
/// [`Record`](crate::Record) holds has been validated, so it never does), or
/// at bytes that are not UTF-8.
#[derive(Clone, Debug)]
pub struct Unescaped<'a> {
    rest: &'a [u8],
}

impl<'a> Unescaped<'a> {
    /// The characters of `raw`, a JSON string body.
    pub fn new(raw: &'a [u8]) -> Self {
        Unescaped { rest: raw }
    }
}

impl Iterator for Unescaped<'_> {
    type Item = Result<char, JsonFaultKind>;

    fn next(&mut self) -> Option<Self::Item> {
        let first = *self.rest.first()?;
        let step = if first == b'\\' {
            decode_escape(self.rest)
        } else {
            // One UTF-8 character: its length from the lead byte.
            let len = match first {
                0x00..=0x7f => 1,
                0xc0..=0xdf => 2,
                0xe0..=0xef => 3,
                _ => 4,
            };
            self.rest
                .get(..len)
                .and_then(|b| core::str::from_utf8(b).ok())
                .and_then(|s| s.chars().next())
                .map(|c| (c, len))
                .ok_or(JsonFaultKind::InvalidUtf8)
        };
        match step {
            Ok((c, used)) => {
                self.rest = self.rest.get(used..).unwrap_or_default();
                Some(Ok(c))
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

/// True when two JSON string bodies decode to the same characters (`"a"` and
/// `"\u0061"`). A body that does not decode equals nothing.
pub(crate) fn decoded_eq(a: &[u8], b: &[u8]) -> bool {
    if !a.contains(&b'\\') && !b.contains(&b'\\') {
        return a == b;
    }
    let mut a = Unescaped::new(a);
    let mut b = Unescaped::new(b);
    loop {
        match (a.next(), b.next()) {
            (None, None) => return true,
            (Some(Ok(x)), Some(Ok(y))) if x == y => {}
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::string::String;

    fn decode(raw: &[u8]) -> Result<String, JsonFaultKind> {
        Unescaped::new(raw).collect()
    }

    #[test]
    fn decodes_every_escape() {
        let raw = br#"\u00e9\ud83d\ude00\n\"\/\\\b\f\r\t x"#;
        assert_eq!(
            decode(raw).unwrap(),
            "é😀\n\"/\\\u{8}\u{c}\r\t x".to_string()
        );
        assert_eq!(decode(br"\u00E9").unwrap(), "é");
        assert_eq!(decode("é😀".as_bytes()).unwrap(), "é😀");
    }

    #[test]
    fn refuses_what_json_refuses() {
        assert_eq!(decode(br"\ud83d"), Err(JsonFaultKind::LoneSurrogate));
        assert_eq!(decode(br"\ude00"), Err(JsonFaultKind::LoneSurrogate));
        assert_eq!(decode(br"\ud83d\u0041"), Err(JsonFaultKind::LoneSurrogate));
        assert_eq!(decode(br"\ud83dx"), Err(JsonFaultKind::LoneSurrogate));
        assert_eq!(decode(br"\x"), Err(JsonFaultKind::BadEscape));
        assert_eq!(decode(br"\u12"), Err(JsonFaultKind::BadEscape));
        assert_eq!(decode(br"\u12g4"), Err(JsonFaultKind::BadEscape));
        assert_eq!(decode(b"\\"), Err(JsonFaultKind::BadEscape));
        assert_eq!(decode(b"\xff"), Err(JsonFaultKind::InvalidUtf8));
    }

    #[test]
    fn compares_after_decoding() {
        assert!(decoded_eq(b"message", br"mess\u0061ge"));
        assert!(decoded_eq(br"\u006dessage", br"mess\u0061ge"));
        assert!(!decoded_eq(b"message", br"mess\u0061g"));
        assert!(!decoded_eq(b"message", b"messagE"));
        assert!(!decoded_eq(br"\ud83d", br"\ud83d"));
    }

    use std::string::ToString;
}
