//! The `display` line: the one-line copy of a record's message (FORMAT.md,
//! "display"). Writers derive it from the JSON-escaped message as runs of
//! borrowed bytes ([`DisplayRuns`]); verifiers decode whatever escapes a JSON
//! writer used (Python writes `\u00e9` and surrogate pairs) and compare
//! ([`display_matches`]).

use crate::escape::control_escape;
use crate::json::unescape::decode_escape;
use crate::json::JsonFaultKind;
use crate::scan::{find_json_escape, has_display_escape};

/// The `display` form of a message that [`JsonStringWriter`] escaped, as a
/// sequence of byte runs borrowed from the escaped message: `\"`, `\\` and `\t`
/// turn back into the character, every other escape stays as it is.
pub(crate) struct DisplayRuns<'a> {
    rest: &'a [u8],
}

impl<'a> DisplayRuns<'a> {
    pub(crate) fn new(json_escaped: &'a [u8]) -> Self {
        DisplayRuns { rest: json_escaped }
    }
}

impl<'a> Iterator for DisplayRuns<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.rest.is_empty() {
            return None;
        }
        let rest = self.rest;
        match rest.iter().position(|&b| b == b'\\') {
            Some(0) => {
                let (run, tail): (&'static [u8], usize) = match rest.get(1) {
                    Some(b'"') => (b"\"", 2),
                    Some(b'\\') => (b"\\", 2),
                    Some(b't') => (b"\t", 2),
                    // Other escapes stand as they are: `\uXXXX`, or `\n` and
                    // its kind.
                    other => {
                        let end = rest.len().min(if other == Some(&b'u') { 6 } else { 2 });
                        let (run, after) = rest.split_at_checked(end)?;
                        self.rest = after;
                        return Some(run);
                    }
                };
                self.rest = rest.get(tail..)?;
                Some(run)
            }
            Some(p) => {
                let (run, after) = rest.split_at_checked(p)?;
                self.rest = after;
                Some(run)
            }
            None => {
                self.rest = &[];
                Some(rest)
            }
        }
    }
}

/// Does `display` equal the display form of the JSON string body `raw` (the
/// bytes between the quotes, escapes undecoded)?
///
/// `raw` may use any JSON escape, including surrogate pairs
/// (`\ud83d\ude00`), as Python's `json.dumps` writes them.
pub(crate) fn display_matches(raw: &[u8], display: &[u8]) -> Result<bool, JsonFaultKind> {
    // Fast path: nothing escaped and nothing to escape: the bytes are the display.
    if !has_display_escape(raw) {
        return Ok(raw == display);
    }
    let mut want = display;
    let mut expect = |bytes: &[u8]| -> bool {
        let Some((head, rest)) = want.split_at_checked(bytes.len()) else {
            return false;
        };
        // A character or an escape is a few bytes: compared in line, not
        // through a call to memcmp.
        let same = if bytes.len() <= 8 {
            head.iter().zip(bytes).all(|(a, b)| a == b)
        } else {
            head == bytes
        };
        want = rest;
        same
    };
    let mut rest = raw;
    loop {
        // A run of bytes that stand as they are, compared at once.
        let run = find_json_escape(rest).unwrap_or(rest.len());
        let (plain, after) = rest.split_at(run);
        if !expect(plain) {
            return Ok(false);
        }
        let Some(&b) = after.first() else { break };
        if b != b'\\' {
            // A raw control byte (or DEL): escaped in display.
            let ok = match control_escape(b) {
                Some((e, len)) => expect(e.get(..len).unwrap_or_default()),
                None => expect(&[b]),
            };
            if !ok {
                return Ok(false);
            }
            rest = after.get(1..).unwrap_or_default();
            continue;
        }
        let (c, used) = decode_escape(after)?;
        rest = after.get(used..).unwrap_or_default();
        let ok = match u8::try_from(u32::from(c)) {
            Ok(byte) if byte < 0x80 => match control_escape(byte) {
                Some((e, len)) => expect(e.get(..len).unwrap_or_default()),
                None => expect(&[byte]),
            },
            _ => {
                let mut utf8 = [0u8; 4];
                expect(c.encode_utf8(&mut utf8).as_bytes())
            }
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(want.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::escape::{BlockBuf, JsonStringWriter};
    use core::fmt::Write;
    extern crate std;
    use std::vec::Vec as StdVec;

    fn display_of(json: &[u8]) -> StdVec<u8> {
        DisplayRuns::new(json).flatten().copied().collect()
    }

    #[test]
    fn escapes_json_and_display() {
        let mut json = BlockBuf::<64>::new();
        let mut w = JsonStringWriter::new(&mut json, 64);
        w.write_str("a\"b\\c\td\ne\u{1b}f\u{7f}|é").unwrap();
        assert!(!w.finish().truncated);
        assert_eq!(&json[..], "a\\\"b\\\\c\\td\\ne\\u001bf\\u007f|é".as_bytes());
        let display = display_of(&json);
        assert_eq!(display, "a\"b\\c\td\\ne\\u001bf\\u007f|é".as_bytes());
        assert_eq!(display_matches(&json, &display), Ok(true));
    }

    #[test]
    fn python_escapes_decode() {
        // json.dumps("é😀\n\"") with ensure_ascii
        let raw = br#"\u00e9\ud83d\ude00\n\"\/"#;
        assert_eq!(display_matches(raw, "é😀\\n\"/".as_bytes()), Ok(true));
        assert_eq!(display_matches(raw, "é😀\\n\"".as_bytes()), Ok(false));
        let lone = Err(JsonFaultKind::LoneSurrogate);
        assert_eq!(display_matches(br"\ud83d", b""), lone);
        assert_eq!(display_matches(br"\ude00", b""), lone);
        assert_eq!(display_matches(br"\ud83d\u0041", b""), lone);
        let bad = Err(JsonFaultKind::BadEscape);
        assert_eq!(display_matches(br"\x", b""), bad);
        assert_eq!(display_matches(br"\u12", b""), bad);
        assert_eq!(display_matches(br"\u00E9", "é".as_bytes()), Ok(true));
        assert_eq!(display_matches(b"tab\there", b"tab\there"), Ok(true));
    }

    /// `json.dumps(message)` with `ensure_ascii`, as the seed writes it.
    fn python_escaped(message: &str) -> StdVec<u8> {
        let mut out = std::string::String::new();
        for c in message.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                // ASCII stands, DEL included; other control characters are escaped.
                ' '..='\u{7f}' => out.push(c),
                _ => {
                    let mut units = [0u16; 2];
                    for unit in c.encode_utf16(&mut units) {
                        out.push_str(&std::format!("\\u{unit:04x}"));
                    }
                }
            }
        }
        out.into_bytes()
    }

    /// Messages escaped the seed's way match their display, and no other:
    /// every changed, missing or extra byte of the display is a mismatch.
    #[test]
    fn seed_escaped_messages_match_their_display_and_nothing_else() {
        for message in [
            "café naïve 中文 😀 message 7 with \"quotes\"",
            "\u{1b}[31m red \u{7f} tab\there\nnext \\ end",
            "plain ascii, a longer run of it than eight bytes",
            "😀😀",
            "",
        ] {
            let raw = python_escaped(message);
            let mut ours = BlockBuf::<256>::new();
            let mut w = JsonStringWriter::new(&mut ours, 256);
            w.write_str(message).unwrap();
            assert!(!w.finish().truncated);
            let display = display_of(&ours);
            assert_eq!(
                display_matches(&raw, &display),
                Ok(true),
                "{message:?} {:?} {:?}",
                std::string::String::from_utf8_lossy(&raw),
                std::string::String::from_utf8_lossy(&display)
            );
            for i in 0..display.len() {
                let mut changed = display.clone();
                changed[i] ^= 0x20;
                assert_eq!(
                    display_matches(&raw, &changed),
                    Ok(false),
                    "{message:?} {i}"
                );
                let mut shorter = display.clone();
                shorter.remove(i);
                assert_eq!(
                    display_matches(&raw, &shorter),
                    Ok(false),
                    "{message:?} {i}"
                );
            }
            let mut longer = display.clone();
            longer.push(b'x');
            assert_eq!(display_matches(&raw, &longer), Ok(false), "{message:?}");
        }
    }
}
