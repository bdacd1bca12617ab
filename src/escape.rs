//! Escaping a message into a JSON string, straight into a record's buffer.
//!
//! Two escapings exist (FORMAT.md, "block_json" and "display"); this module
//! writes the first, and `display` derives the second from it:
//!
//! - in `block_json`, the message is a JSON string: `"` and `\` are escaped, and
//!   so is every control character (U+0000–U+001F) and U+007F;
//! - in `display`, only the control characters except TAB, and U+007F, are
//!   escaped, with the same escape (`\n`, `\u001b`), so the line stays one line.
//!
//!
//! Written by hand, not with serde-json-core: it escapes while `core::fmt`
//! formats, in place, cut at a character boundary when the buffer is full.

use crate::hash::hex_digit;
use crate::scan::find_json_escape;
use core::fmt;
use heapless::Vec;

/// The escape both spellings use for a control character (other than TAB in
/// `display`), or `None` when the byte stands as it is in `display`.
pub(crate) fn control_escape(c: u8) -> Option<([u8; 6], usize)> {
    let short = match c {
        b'\n' => b'n',
        b'\r' => b'r',
        0x08 => b'b',
        0x0c => b'f',
        0x00..=0x1f | 0x7f if c != b'\t' => {
            let e = [b'\\', b'u', b'0', b'0', hex_digit(c >> 4), hex_digit(c)];
            return Some((e, 6));
        }
        _ => return None,
    };
    Some(([b'\\', short, 0, 0, 0, 0], 2))
}

/// True for the bytes that the JSON string escaping changes.
#[cfg(test)]
fn needs_json_escape(b: u8) -> bool {
    b < 0x20 || b == 0x7f || b == b'"' || b == b'\\'
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
                    self.push(bytes.get(start..cut).unwrap_or_default())?;
                    self.truncated = true;
                    return Err(fmt::Error);
                }
                self.push(bytes.get(start..run_end).unwrap_or_default())?;
            }
            let Some(&b) = bytes.get(run_end) else { break };
            self.escaped = true;
            match json_escape(b) {
                Some((e, len)) => self.push(e.get(..len).unwrap_or_default())?,
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

    #[test]
    fn cuts_at_char_and_escape_boundaries() {
        let (json, cut) = escape::<64>("ab😀", 4);
        assert!(cut);
        assert_eq!(&json[..], b"ab");
        let (json, cut) = escape::<64>("a\nb", 2);
        assert!(cut);
        assert_eq!(&json[..], b"a");
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
