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

use crate::hash::HEX;
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

// ---------------------------------------------------------------------------
// Byte searches a word (8 bytes) at a time, in safe code and without
// dependencies. Each mask below has the high bit set in the bytes that match;
// borrows can also mark bytes *above* a true match, never below one, so the
// lowest mark is always exact.
// ---------------------------------------------------------------------------

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Marks the zero bytes of `w`.
#[inline(always)]
fn zero_bytes(w: u64) -> u64 {
    w.wrapping_sub(ONES) & !w & HIGHS
}

/// Marks the bytes of `w` equal to `b`.
#[inline(always)]
fn bytes_equal(w: u64, b: u8) -> u64 {
    zero_bytes(w ^ (ONES * u64::from(b)))
}

/// Marks the bytes of `w` below 0x20 (the control characters).
#[inline(always)]
fn control_bytes(w: u64) -> u64 {
    w.wrapping_sub(ONES * 0x20) & !w & HIGHS
}

/// The first index in `bytes` whose 8-byte word (little-endian) `mark` marks,
/// or whose byte in the tail satisfies `matches`.
#[inline(always)]
fn find_by_words(
    bytes: &[u8],
    mark: impl Fn(u64) -> u64,
    matches: impl Fn(u8) -> bool,
) -> Option<usize> {
    let mut words = bytes.chunks_exact(8);
    let mut offset = 0;
    for word in &mut words {
        let m = mark(word.try_into().map_or(0, u64::from_le_bytes));
        if m != 0 {
            return Some(offset + (m.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    let tail = words.remainder();
    tail.iter().position(|&b| matches(b)).map(|p| offset + p)
}

/// The index of the first LF in `bytes`.
pub(crate) fn find_lf(bytes: &[u8]) -> Option<usize> {
    find_by_words(bytes, |w| bytes_equal(w, b'\n'), |b| b == b'\n')
}

/// The index of the first `"` or `\\` in `bytes`: where a JSON string
/// body may end.
pub(crate) fn find_quote_or_backslash(bytes: &[u8]) -> Option<usize> {
    find_by_words(
        bytes,
        |w| bytes_equal(w, b'"') | bytes_equal(w, b'\\'),
        |b| b == b'"' || b == b'\\',
    )
}

/// The index of the first byte the JSON string escaping changes.
fn find_json_escape(bytes: &[u8]) -> Option<usize> {
    find_by_words(
        bytes,
        |w| control_bytes(w) | bytes_equal(w, 0x7f) | bytes_equal(w, b'"') | bytes_equal(w, b'\\'),
        needs_json_escape,
    )
}

/// True if a JSON string body holds an escape or a byte that `display`
/// escapes: if not, its display is itself.
fn has_display_escape(raw: &[u8]) -> bool {
    find_by_words(
        raw,
        |w| control_bytes(w) | bytes_equal(w, 0x7f) | bytes_equal(w, b'\\'),
        |b| b == b'\\' || b < 0x20 || b == 0x7f,
    )
    .is_some()
}

/// The JSON escape of `b` inside a string, or `None` when it stands as it is.
fn json_escape(b: u8) -> Option<([u8; 6], usize)> {
    match b {
        b'"' => Some(([b'\\', b'"', 0, 0, 0, 0], 2)),
        b'\\' => Some(([b'\\', b'\\', 0, 0, 0, 0], 2)),
        b'\t' => Some(([b'\\', b't', 0, 0, 0, 0], 2)),
        _ => control_escape(b),
    }
}

/// The longest escape ([`json_escape`]) of one byte: `\u001b`.
const MAX_ESCAPE: usize = 6;

/// A `fmt::Write` that JSON-escapes what it is given straight into a fixed
/// buffer, stopping at `limit` bytes.
///
/// When the next character (with its escape) does not fit, it sets the
/// truncated flag and returns `fmt::Error`, which stops the formatting: the
/// message is cut at a character boundary, never mid-escape.
///
/// Formatting hands over many small pieces (each literal, each number, each
/// padding character). While the message is short enough that even escaping
/// every byte could not reach the limit, pieces are only copied, and the
/// escapes are made in place once, at [`finish`](Self::finish) (or as soon as
/// the message grows past that length): the result is the same, byte for
/// byte and flag for flag, as escaping each piece as it comes.
pub(crate) struct JsonStringWriter<'a, const N: usize> {
    buf: &'a mut Vec<u8, N>,
    limit: usize,
    truncated: bool,
    escaped: bool,
    /// Where the message starts in `buf`.
    start: usize,
    /// The bytes from `start` are still raw (unescaped), and may grow up to
    /// `raw_max` bytes: six times that (every byte escaped) stays within
    /// `limit`, so no piece could have been cut.
    raw: bool,
    raw_max: usize,
}

/// What [`JsonStringWriter::finish`] reports.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Escaped {
    /// The message was cut to fit.
    pub(crate) truncated: bool,
    /// Some escape was written: the display is not the escaped message byte
    /// for byte.
    pub(crate) escaped: bool,
}

impl<'a, const N: usize> JsonStringWriter<'a, N> {
    pub(crate) fn new(buf: &'a mut Vec<u8, N>, limit: usize) -> Self {
        let limit = limit.min(N);
        let start = buf.len();
        JsonStringWriter {
            buf,
            limit,
            truncated: false,
            escaped: false,
            start,
            raw: true,
            raw_max: limit.saturating_sub(start) / MAX_ESCAPE,
        }
    }

    /// Escapes what is still raw, and reports.
    pub(crate) fn finish(mut self) -> Escaped {
        self.escape_raw();
        Escaped {
            truncated: self.truncated,
            escaped: self.escaped,
        }
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

    /// Escapes the raw bytes in place, from the back (an escape only ever
    /// grows, so nothing is overwritten before it is read), and leaves raw
    /// mode. The room is there: at most `raw_max` raw bytes, six each.
    fn escape_raw(&mut self) {
        if !self.raw {
            return;
        }
        self.raw = false;
        let raw = self.buf.get(self.start..).unwrap_or_default();
        let Some(first) = find_json_escape(raw) else {
            return;
        };
        self.escaped = true;
        let first = self.start + first;
        let grown: usize = self
            .buf
            .get(first..)
            .unwrap_or_default()
            .iter()
            .map(|&b| json_escape(b).map_or(0, |(_, len)| len - 1))
            .sum();
        let (mut read, mut write) = (self.buf.len(), self.buf.len() + grown);
        if self.buf.resize(write, 0).is_err() {
            return; // cannot happen: see raw_max
        }
        while read > first {
            read -= 1;
            let b = self.buf.get(read).copied().unwrap_or_default();
            let (escape, len) = json_escape(b).unwrap_or(([b, 0, 0, 0, 0, 0], 1));
            write -= len;
            if let (Some(dest), Some(src)) =
                (self.buf.get_mut(write..write + len), escape.get(..len))
            {
                dest.copy_from_slice(src);
            }
        }
    }

    /// The general case of [`write_str`](fmt::Write::write_str), one piece
    /// escaped as it comes: for a message past `raw_max`.
    #[cold]
    fn write_escaping(&mut self, s: &str) -> fmt::Result {
        let bytes = s.as_bytes();
        let mut start = 0;
        while start < bytes.len() {
            let run_end = bytes
                .get(start..)
                .and_then(find_json_escape)
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
            match json_escape(b) {
                Some((e, len)) => self.push(&e[..len])?,
                None => self.push(&[b])?,
            }
            start = run_end + 1;
        }
        Ok(())
    }
}

impl<const N: usize> JsonStringWriter<'_, N> {
    /// A piece past raw mode: escaped as it comes.
    #[inline(never)]
    fn write_past_raw(&mut self, s: &str) -> fmt::Result {
        self.escape_raw();
        let bytes = s.as_bytes();
        if bytes.len() <= self.room() && find_json_escape(bytes).is_none() {
            return self.buf.extend_from_slice(bytes).map_err(|_| fmt::Error);
        }
        self.write_escaping(s)
    }
}

impl<const N: usize> fmt::Write for JsonStringWriter<'_, N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.truncated {
            // After a cut, nothing more: a later piece that happens to fit
            // would make the message something it never was.
            return Err(fmt::Error);
        }
        let bytes = s.as_bytes();
        if self.raw && self.buf.len() - self.start + bytes.len() <= self.raw_max {
            // Within raw_max, so within N: neither can fail. Short pieces
            // byte by byte: cheaper than a call to memcpy.
            if bytes.len() <= 8 {
                for &b in bytes {
                    let _ = self.buf.push(b);
                }
            } else {
                let _ = self.buf.extend_from_slice(bytes);
            }
            return Ok(());
        }
        self.write_past_raw(s)
    }

    fn write_char(&mut self, c: char) -> fmt::Result {
        // Padding (`{:02}`) comes a character at a time.
        if self.raw && !self.truncated && c.is_ascii() && self.buf.len() - self.start < self.raw_max
        {
            let _ = self.buf.push(c as u8);
            return Ok(());
        }
        self.write_str(c.encode_utf8(&mut [0; 4]))
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
        let t = w.finish().truncated;
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

    /// The writer as it was before raw mode: every piece escaped as it comes.
    fn escape_eagerly(prefix: &[u8], pieces: &[&str], limit: usize) -> (StdVec<u8>, bool, bool) {
        let mut buf: StdVec<u8> = prefix.to_vec();
        let (mut truncated, mut escaped) = (false, false);
        'pieces: for piece in pieces {
            for c in piece.chars() {
                let mut utf8 = [0u8; 4];
                let bytes = c.encode_utf8(&mut utf8).as_bytes();
                let e = match bytes {
                    [b] if needs_json_escape(*b) => {
                        escaped = true;
                        let (e, len) = json_escape(*b).unwrap();
                        e[..len].to_vec()
                    }
                    _ => bytes.to_vec(),
                };
                if buf.len() + e.len() > limit {
                    truncated = true;
                    break 'pieces; // fmt::write stops at the first error
                }
                buf.extend_from_slice(&e);
            }
        }
        (buf, truncated, escaped)
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4096))]
        #[test]
        fn raw_mode_escapes_as_piece_by_piece_would(
            pieces in proptest::collection::vec("([a-z]|[\\x00-\\x1f\\x7f\"\\\\]|.){0,12}", 0..24),
            prefix_len in 0usize..40,
            limit in 0usize..160,
        ) {
            let pieces: StdVec<&str> = pieces.iter().map(|p| p.as_str()).collect();
            let prefix = std::vec![b'p'; prefix_len];
            let mut buf = Vec::<u8, 256>::new();
            buf.extend_from_slice(&prefix).unwrap();
            let mut w = JsonStringWriter::new(&mut buf, limit);
            for piece in &pieces {
                // One-character pieces as padding sends them: write_char.
                let mut chars = piece.chars();
                let result = match (chars.next(), chars.next()) {
                    (Some(c), None) => w.write_char(c),
                    _ => w.write_str(piece),
                };
                if result.is_err() {
                    break;
                }
            }
            let got = w.finish();
            let (want, truncated, escaped) = escape_eagerly(&prefix, &pieces, limit.min(256));
            proptest::prop_assert_eq!(&buf[..], &want[..]);
            proptest::prop_assert_eq!(got, Escaped { truncated, escaped });
        }
    }
}
