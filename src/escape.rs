//! Escaping: a message into a JSON string, and the one-line `display` copy of it.
//!
//! Two escapings exist (FORMAT.md, "block_json" and "display"):
//!
//! - in `block_json`, the message is a JSON string: `"` and `\` are escaped, and
//!   so is every control character (U+0000–U+001F) and U+007F;
//! - in `display`, only the control characters except TAB, and U+007F, are
//!   escaped, with the same escape (`\n`, `\u001b`), so the line stays one line.
//!
//! Writers derive `display` from the JSON-escaped message ([`DisplayRuns`]);
//! verifiers decode whatever escapes a JSON writer used (Python writes `\u00e9`
//! and surrogate pairs) and compare ([`display_matches`]).

use core::fmt;
use heapless::Vec;

/// The escape both spellings use for a control character (other than TAB in
/// `display`), or `None` when the byte stands as it is in `display`.
fn control_escape(c: u8) -> Option<([u8; 6], usize)> {
    let short = match c {
        b'\n' => b'n',
        b'\r' => b'r',
        0x08 => b'b',
        0x0c => b'f',
        0x00..=0x1f | 0x7f if c != b'\t' => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            let e = [
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(c >> 4)],
                HEX[usize::from(c & 0xf)],
            ];
            return Some((e, 6));
        }
        _ => return None,
    };
    Some(([b'\\', short, 0, 0, 0, 0], 2))
}

/// True for the bytes that the JSON string escaping changes.
fn needs_json_escape(b: u8) -> bool {
    b < 0x20 || b == 0x7f || b == b'"' || b == b'\\'
}

/// A `fmt::Write` that JSON-escapes what it is given straight into a fixed
/// buffer, stopping at `limit` bytes.
///
/// When the next character (with its escape) does not fit, it sets
/// [`truncated`](Self::truncated) and returns `fmt::Error`, which stops the
/// formatting: the message is cut at a character boundary, never mid-escape.
pub(crate) struct JsonStringWriter<'a, const N: usize> {
    buf: &'a mut Vec<u8, N>,
    limit: usize,
    truncated: bool,
    escaped: bool,
}

impl<'a, const N: usize> JsonStringWriter<'a, N> {
    pub(crate) fn new(buf: &'a mut Vec<u8, N>, limit: usize) -> Self {
        JsonStringWriter {
            buf,
            limit: limit.min(N),
            truncated: false,
            escaped: false,
        }
    }

    pub(crate) fn truncated(&self) -> bool {
        self.truncated
    }

    /// Whether any escape was written: if not, the display is the escaped
    /// message byte for byte.
    pub(crate) fn escaped(&self) -> bool {
        self.escaped
    }

    fn room(&self) -> usize {
        self.limit.saturating_sub(self.buf.len())
    }

    fn push(&mut self, bytes: &[u8]) -> fmt::Result {
        if bytes.len() > self.room() {
            self.truncated = true;
            return Err(fmt::Error);
        }
        self.buf.extend_from_slice(bytes).map_err(|_| fmt::Error)
    }
}

impl<const N: usize> fmt::Write for JsonStringWriter<'_, N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let bytes = s.as_bytes();
        let mut start = 0;
        while start < bytes.len() {
            let run_end = bytes[start..]
                .iter()
                .position(|&b| needs_json_escape(b))
                .map_or(bytes.len(), |p| start + p);
            if run_end > start {
                let room = self.room();
                if run_end - start > room {
                    // Copy what fits, backed off to a character boundary.
                    let mut cut = start + room;
                    while !s.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    self.push(&bytes[start..cut])?;
                    self.truncated = true;
                    return Err(fmt::Error);
                }
                self.push(&bytes[start..run_end])?;
            }
            let Some(&b) = bytes.get(run_end) else { break };
            self.escaped = true;
            match b {
                b'"' => self.push(b"\\\"")?,
                b'\\' => self.push(b"\\\\")?,
                b'\t' => self.push(b"\\t")?,
                _ => match control_escape(b) {
                    Some((e, len)) => self.push(&e[..len])?,
                    None => self.push(&[b])?,
                },
            }
            start = run_end + 1;
        }
        Ok(())
    }
}

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
                    Some(b'u') => {
                        let end = rest.len().min(6);
                        self.rest = &rest[end..];
                        return Some(&rest[..end]);
                    }
                    _ => {
                        let end = rest.len().min(2);
                        self.rest = &rest[end..];
                        return Some(&rest[..end]);
                    }
                };
                self.rest = &rest[tail..];
                Some(run)
            }
            Some(p) => {
                self.rest = &rest[p..];
                Some(&rest[..p])
            }
            None => {
                self.rest = &[];
                Some(rest)
            }
        }
    }
}

/// A JSON string escape that does not decode: a bad `\` sequence, or a lone
/// or unpaired UTF-16 surrogate.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct BadEscape;

/// Does `display` equal the display form of the JSON string body `raw` (the
/// bytes between the quotes, escapes undecoded)?
///
/// `raw` may use any JSON escape, including surrogate pairs
/// (`\ud83d\ude00`), as Python's `json.dumps` writes them.
pub(crate) fn display_matches(raw: &[u8], display: &[u8]) -> Result<bool, BadEscape> {
    // Fast path: nothing escaped and nothing to escape: the bytes are the display.
    if !raw.iter().any(|&b| b == b'\\' || b < 0x20 || b == 0x7f) {
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
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if b != b'\\' {
            // A raw byte: control bytes are escaped in display, others stand.
            let ok = match control_escape(b) {
                Some((e, len)) => expect(&e[..len]),
                None => expect(&[b]),
            };
            if !ok {
                return Ok(false);
            }
            i += 1;
            continue;
        }
        let (c, used) = decode_escape(&raw[i..])?;
        i += used;
        let ok = match u8::try_from(u32::from(c)) {
            Ok(byte) if byte < 0x80 => match control_escape(byte) {
                Some((e, len)) => expect(&e[..len]),
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

/// Decodes one escape at the start of `s` (which starts with `\`): the
/// character and how many bytes it took.
fn decode_escape(s: &[u8]) -> Result<(char, usize), BadEscape> {
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
                return char::from_u32(unit).map(|c| (c, 6)).ok_or(BadEscape);
            }
            if unit >= 0xdc00 {
                return Err(BadEscape); // a low surrogate with no high one before it
            }
            if s.get(6..8) != Some(b"\\u") {
                return Err(BadEscape);
            }
            let low = hex4(s.get(8..12))?;
            if !(0xdc00..0xe000).contains(&low) {
                return Err(BadEscape);
            }
            let c = 0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00);
            return char::from_u32(c).map(|c| (c, 12)).ok_or(BadEscape);
        }
        _ => return Err(BadEscape),
    };
    Ok((c, 2))
}

fn hex4(digits: Option<&[u8]>) -> Result<u32, BadEscape> {
    let digits = digits.ok_or(BadEscape)?;
    let mut value = 0u32;
    for &d in digits {
        let v = match d {
            b'0'..=b'9' => d - b'0',
            b'a'..=b'f' => d - b'a' + 10,
            b'A'..=b'F' => d - b'A' + 10,
            _ => return Err(BadEscape),
        };
        value = (value << 4) | u32::from(v);
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::fmt::Write;
    extern crate std;
    use std::vec::Vec as StdVec;

    fn escape<const N: usize>(s: &str, limit: usize) -> (Vec<u8, N>, bool) {
        let mut buf = Vec::new();
        let mut w = JsonStringWriter::new(&mut buf, limit);
        let _ = w.write_str(s);
        let t = w.truncated();
        (buf, t)
    }

    fn display_of(json: &[u8]) -> StdVec<u8> {
        DisplayRuns::new(json).flatten().copied().collect()
    }

    #[test]
    fn escapes_json_and_display() {
        let (json, cut) = escape::<64>("a\"b\\c\td\ne\u{1b}f\u{7f}|é", 64);
        assert!(!cut);
        assert_eq!(&json[..], "a\\\"b\\\\c\\td\\ne\\u001bf\\u007f|é".as_bytes());
        let display = display_of(&json);
        assert_eq!(display, "a\"b\\c\td\\ne\\u001bf\\u007f|é".as_bytes());
        assert_eq!(display_matches(&json, &display), Ok(true));
    }

    #[test]
    fn cuts_at_char_and_escape_boundaries() {
        let (json, cut) = escape::<64>("ab😀", 4);
        assert!(cut);
        assert_eq!(&json[..], b"ab");
        let (json, cut) = escape::<64>("a\nb", 2);
        assert!(cut);
        assert_eq!(&json[..], b"a");
    }

    #[test]
    fn python_escapes_decode() {
        // json.dumps("é😀\n\"") with ensure_ascii
        let raw = br#"\u00e9\ud83d\ude00\n\"\/"#;
        assert_eq!(display_matches(raw, "é😀\\n\"/".as_bytes()), Ok(true));
        assert_eq!(display_matches(raw, "é😀\\n\"".as_bytes()), Ok(false));
        assert_eq!(display_matches(br"\ud83d", b""), Err(BadEscape));
        assert_eq!(display_matches(br"\ude00", b""), Err(BadEscape));
        assert_eq!(display_matches(br"\ud83d\u0041", b""), Err(BadEscape));
        assert_eq!(display_matches(br"\x", b""), Err(BadEscape));
        assert_eq!(display_matches(br"\u12", b""), Err(BadEscape));
        assert_eq!(display_matches(br"\u00E9", "é".as_bytes()), Ok(true));
        assert_eq!(display_matches(b"tab\there", b"tab\there"), Ok(true));
    }
}
