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
        match want.strip_prefix(bytes) {
            Some(rest) => {
                want = rest;
                true
            }
            None => false,
        }
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
    use crate::escape::JsonStringWriter;
    use core::fmt::Write;
    use heapless::Vec;
    extern crate std;
    use std::vec::Vec as StdVec;

    fn display_of(json: &[u8]) -> StdVec<u8> {
        DisplayRuns::new(json).flatten().copied().collect()
    }

    #[test]
    fn escapes_json_and_display() {
        let mut json = Vec::<u8, 64>::new();
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
}
