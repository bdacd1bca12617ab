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
//! The buffer is a [`BlockBuf`], the bytes of the block being built.
//!
//! (Over 500 lines with its unit tests and proptest; the buffer and the
//! writer are under 400.)

use crate::hash::hex_digit;
use crate::scan::find_json_escape;
use core::fmt;
use core::ops::{Deref, DerefMut};

/// The bytes of a block being built: `N` bytes, the first `len()` in use.
///
/// Not `heapless::Vec<u8, N>`: its `extend_from_slice` copies a byte at a
/// time, a check and a store each, and every record copies some 300 bytes
/// into its buffer (~170 instructions a record in `close_block` alone on
/// x86_64). Here a piece is one `copy_from_slice`. The price: a new buffer
/// is zeroed (a `Draft` made per record zeroes its `N` bytes once).
#[derive(Clone)]
pub(crate) struct BlockBuf<const N: usize> {
    bytes: [u8; N],
    len: usize,
}

/// A [`BlockBuf`] had no room for what was added: nothing was.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Full;

impl<const N: usize> BlockBuf<N> {
    /// An empty buffer.
    pub(crate) const fn new() -> Self {
        BlockBuf {
            bytes: [0; N],
            len: 0,
        }
    }

    /// The bytes in use (not through the slice: a bounds check fewer).
    #[inline(always)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Empties it.
    pub(crate) fn clear(&mut self) {
        self.len = 0;
    }

    /// Keeps the first `len` bytes (all, if it holds fewer).
    pub(crate) fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// Appends `more` whole, or nothing if it does not fit. For pieces of a
    /// length known where it is called (a fixed-size move) or long ones (a
    /// call to `memcpy`); [`extend_short`](Self::extend_short) for short
    /// pieces of any length.
    #[inline]
    pub(crate) fn extend_from_slice(&mut self, more: &[u8]) -> Result<(), Full> {
        self.extend_in_place(more.len(), |slot| slot.copy_from_slice(more))
    }

    /// [`extend_from_slice`](Self::extend_from_slice) for pieces that are
    /// mostly short, of lengths not known where it is called (what
    /// `core::fmt` hands over, the digits of a number): on 64-bit targets,
    /// up to 16 bytes without a call to `memcpy` (a call costs more than
    /// the copy there); on others (microcontrollers, built for size) a call.
    #[inline]
    pub(crate) fn extend_short(&mut self, more: &[u8]) -> Result<(), Full> {
        #[cfg(target_pointer_width = "64")]
        return self.extend_in_place(more.len(), |slot| copy_bytes(slot, more));
        #[cfg(not(target_pointer_width = "64"))]
        return self.extend_from_slice(more);
    }

    /// Appends `len` bytes that `fill` writes in place (it is handed exactly
    /// `len` bytes), or nothing if they do not fit.
    #[inline(always)]
    pub(crate) fn extend_in_place(
        &mut self,
        len: usize,
        fill: impl FnOnce(&mut [u8]),
    ) -> Result<(), Full> {
        let end = self.len.checked_add(len).ok_or(Full)?;
        fill(self.bytes.get_mut(self.len..end).ok_or(Full)?);
        self.len = end;
        Ok(())
    }

    /// Appends one byte, or nothing if it does not fit.
    #[inline(always)]
    pub(crate) fn push(&mut self, b: u8) -> Result<(), Full> {
        *self.bytes.get_mut(self.len).ok_or(Full)? = b;
        self.len += 1;
        Ok(())
    }
}

/// `dst.copy_from_slice(src)` for slices of equal length, pieces of up to
/// 16 bytes without a call to `memcpy`: two fixed-size copies that overlap
/// (the pieces `core::fmt` hands over are mostly that short, and a call
/// costs more than the copy).
#[cfg(any(test, target_pointer_width = "64"))]
#[inline]
fn copy_bytes(dst: &mut [u8], src: &[u8]) {
    /// The first and the last `K` bytes of `src` into `dst`.
    #[inline(always)]
    fn ends<const K: usize>(dst: &mut [u8], src: &[u8]) {
        if let (Some(d), Some(s)) = (dst.first_chunk_mut::<K>(), src.first_chunk::<K>()) {
            *d = *s;
        }
        if let (Some(d), Some(s)) = (dst.last_chunk_mut::<K>(), src.last_chunk::<K>()) {
            *d = *s;
        }
    }
    match src.len() {
        0 => {}
        1..=3 => {
            // The first, the middle and the last byte cover 1 to 3.
            for at in [0, src.len() / 2, src.len() - 1] {
                if let (Some(d), Some(&s)) = (dst.get_mut(at), src.get(at)) {
                    *d = s;
                }
            }
        }
        4..=7 => ends::<4>(dst, src),
        8..=16 => ends::<8>(dst, src),
        _ => dst.copy_from_slice(src),
    }
}

impl<const N: usize> Deref for BlockBuf<N> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        // `len` never passes N (every method keeps it so); the `min` says
        // so to the compiler, which then checks nothing.
        #[allow(clippy::indexing_slicing)]
        &self.bytes[..self.len.min(N)]
    }
}

impl<const N: usize> DerefMut for BlockBuf<N> {
    fn deref_mut(&mut self) -> &mut [u8] {
        // As in `deref`: cannot panic.
        #[allow(clippy::indexing_slicing)]
        &mut self.bytes[..self.len.min(N)]
    }
}

impl<const N: usize> fmt::Debug for BlockBuf<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        <[u8] as fmt::Debug>::fmt(self, f)
    }
}

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
    buf: &'a mut BlockBuf<N>,
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
    pub(crate) fn new(buf: &'a mut BlockBuf<N>, limit: usize) -> Self {
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
        // The bytes added are left as they were: the loop below writes every
        // byte from `first` to the new end.
        if self.buf.extend_in_place(grown, |_| ()).is_err() {
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
            // Within raw_max, so within N: cannot fail.
            let _ = self.buf.extend_short(bytes);
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

    fn escape<const N: usize>(s: &str, limit: usize) -> (BlockBuf<N>, bool) {
        let mut buf = BlockBuf::new();
        let mut w = JsonStringWriter::new(&mut buf, limit);
        let _ = w.write_str(s);
        let t = w.finish().truncated;
        (buf, t)
    }

    #[test]
    fn block_buf_copies_every_length_whole_or_not_at_all() {
        let source: StdVec<u8> = (0..=255u8).collect();
        for len in 0..48 {
            for at in [0, 1, 7] {
                let mut buf = BlockBuf::<64>::new();
                buf.extend_from_slice(&source[..at]).unwrap();
                let more = &source[100..100 + len];
                let fits = at + len <= 64;
                let mut long = buf.clone();
                assert_eq!(buf.extend_short(more).is_ok(), fits, "{at} {len}");
                assert_eq!(long.extend_from_slice(more).is_ok(), fits);
                assert_eq!(&long[..], &buf[..]);
                let want: StdVec<u8> = if fits {
                    source[..at].iter().chain(more).copied().collect()
                } else {
                    source[..at].to_vec()
                };
                assert_eq!(&buf[..], &want[..], "{at} {len}");
                assert_eq!(buf.len(), want.len());
            }
        }
        let mut buf = BlockBuf::<4>::new();
        assert_eq!(buf.extend_in_place(3, |s| s.fill(b'x')), Ok(()));
        assert_eq!(buf.push(b'y'), Ok(()));
        assert_eq!(buf.push(b'z'), Err(Full));
        assert_eq!(buf.extend_in_place(1, |s| s.fill(b'x')), Err(Full));
        assert_eq!(&buf[..], b"xxxy");
        buf.truncate(9);
        assert_eq!(buf.len(), 4);
        buf.truncate(1);
        assert_eq!(&buf[..], b"x");
        assert_eq!(buf.extend_in_place(1, |s| s.fill(b'w')), Ok(()));
        assert_eq!(&buf[..], b"xw");
        buf.clear();
        assert!(buf.is_empty());
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
            let mut buf = BlockBuf::<256>::new();
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
