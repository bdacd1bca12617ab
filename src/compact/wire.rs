//! One compact frame's payload: the byte layout, a parsed view ([`Payload`])
//! and the writer's header ([`Header`]). FORMAT.md ("The compact encoding")
//! states the same.
//!
//! ```text
//! record payload (before COBS):
//! +------+-----------+-----------+--------------+------------------+---------+
//! | head | seq       | time_us   | unlogged     | message          | tag     |
//! | 1 B  | LEB128    | LEB128    | LEB128, only | UTF-8 (a defmt   | 8 B, or |
//! |      |           |           | if head.4    | frame: bytes)    | 16 keyed|
//! +------+-----------+-----------+--------------+------------------+---------+
//! sync payload:
//! +------+-----------+--------------------------+------------------+
//! | head | next seq  | chain state              | tag (keyed only) |
//! | 1 B  | LEB128    | 32 B                     | 16 B             |
//! +------+-----------+--------------------------+------------------+
//! head: bits 0-2 level (0 trace .. 5 critical; 0 in a defmt record), 3
//! truncated, 4 unlogged present, 5 keyed, 6-7 kind (0 record, 1 sync, 2 defmt
//! record: the message is a defmt frame); anything else is refused.
//! ```

use crate::level::Level;

/// Bits of the head byte.
pub(crate) const LEVEL_MASK: u8 = 0b0000_0111;
pub(crate) const TRUNCATED: u8 = 1 << 3;
pub(crate) const UNLOGGED: u8 = 1 << 4;
pub(crate) const KEYED: u8 = 1 << 5;
pub(crate) const KIND_MASK: u8 = 0b1100_0000;
pub(crate) const KIND_RECORD: u8 = 0;
pub(crate) const KIND_SYNC: u8 = 1 << 6;
/// A record whose message is one defmt frame (raw encoding), not text: its
/// level is inside the frame, so the level bits are 0.
pub(crate) const KIND_DEFMT: u8 = 2 << 6;

/// Tag bytes in a plain chain's record: the chain state's first 8.
pub const PLAIN_TAG: usize = 8;
/// Tag bytes in a keyed chain's record or sync: HMAC-SHA256's first 16.
pub const KEYED_TAG: usize = 16;

/// The level's 3-bit code.
pub(crate) const fn level_code(level: Level) -> u8 {
    match level {
        Level::Trace => 0,
        Level::Debug => 1,
        Level::Info => 2,
        Level::Warning => 3,
        Level::Error => 4,
        Level::Critical => 5,
    }
}

fn level_of(code: u8) -> Option<Level> {
    Some(match code {
        0 => Level::Trace,
        1 => Level::Debug,
        2 => Level::Info,
        3 => Level::Warning,
        4 => Level::Error,
        5 => Level::Critical,
        _ => return None,
    })
}

/// LEB128 bytes of `n`: the encoded length.
pub(crate) fn leb128(mut n: u64, out: &mut [u8; 10]) -> usize {
    let mut i = 0;
    for slot in out.iter_mut() {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        i += 1;
        if n == 0 {
            *slot = byte;
            break;
        }
        *slot = byte | 0x80;
    }
    i
}

/// Reads a minimal LEB128 `u64` from the front of `bytes`: the value and the
/// rest. A non-minimal form (a trailing 0x80 0x00), or one past 64 bits, is
/// refused: each value has one spelling.
fn read_leb128(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let mut value: u64 = 0;
    for (i, &b) in bytes.iter().enumerate().take(10) {
        let part = u64::from(b & 0x7f);
        if i == 9 && b > 1 {
            return None;
        }
        value |= part << (7 * i);
        if b & 0x80 == 0 {
            if b == 0 && i > 0 {
                return None;
            }
            return Some((value, bytes.get(i + 1..)?));
        }
    }
    None
}

/// Why a payload is not a compact record or sync.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PayloadFault {
    /// Not valid COBS (a code byte past the end, a zero inside).
    Framing,
    /// The head byte has a reserved kind, level or bit.
    Head,
    /// A number is cut short or not in its one minimal form.
    Number,
    /// Shorter than its fixed parts.
    Short,
    /// A sync with bytes after its state (and tag).
    Trailing,
    /// The message is not UTF-8.
    Utf8,
    /// The unlogged bit is set with a count of 0.
    Unlogged,
}

/// A parsed payload.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Payload<'a> {
    /// A record.
    Record(RecordView<'a>),
    /// A sync record: the chain state after record `next - 1`.
    Sync(SyncView<'a>),
}

/// A compact record, as read.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct RecordView<'a> {
    /// The head byte.
    pub head: u8,
    /// Its `seq`.
    pub seq: u64,
    /// Its time in microseconds (since the epoch, or since boot).
    pub time_us: u64,
    /// Records lost just before it.
    pub unlogged: u64,
    /// The message (UTF-8); empty in a defmt record.
    pub message: &'a str,
    /// The message's bytes as they stand in the frame: the UTF-8 message, or
    /// a defmt record's frame. The chain state covers these.
    pub bytes: &'a [u8],
    /// The stated tag (8 bytes, or 16 keyed).
    pub tag: &'a [u8],
}

impl RecordView<'_> {
    /// The record's level.
    pub fn level(&self) -> Level {
        level_of(self.head & LEVEL_MASK).unwrap_or(Level::Info)
    }
    /// The message is one defmt frame (raw encoding: the interned string's
    /// index, defmt's timestamp, the arguments), in [`bytes`](Self::bytes);
    /// [`message`](Self::message) is empty. Decoding it needs the firmware's
    /// ELF; verifying it does not.
    pub fn is_defmt(&self) -> bool {
        self.head & KIND_MASK == KIND_DEFMT
    }
    /// The message was cut to fit the writer's buffer.
    pub fn truncated(&self) -> bool {
        self.head & TRUNCATED != 0
    }
    /// The record is sealed with a key (its tag is an HMAC).
    pub fn keyed(&self) -> bool {
        self.head & KEYED != 0
    }
}

/// A sync record, as read.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SyncView<'a> {
    /// The head byte.
    pub head: u8,
    /// The `seq` of the record after it.
    pub next: u64,
    /// The chain state after record `next - 1` (genesis: zeros).
    pub state: [u8; 32],
    /// The keyed tag over it (empty in a plain chain).
    pub tag: &'a [u8],
}

impl SyncView<'_> {
    /// The sync is sealed with a key.
    pub fn keyed(&self) -> bool {
        self.head & KEYED != 0
    }
}

/// Parses a decoded payload.
pub fn parse(payload: &[u8]) -> Result<Payload<'_>, PayloadFault> {
    let (&head, rest) = payload.split_first().ok_or(PayloadFault::Short)?;
    let tag_len = if head & KEYED != 0 {
        KEYED_TAG
    } else {
        PLAIN_TAG
    };
    match head & KIND_MASK {
        kind @ (KIND_RECORD | KIND_DEFMT) => {
            let defmt = kind == KIND_DEFMT;
            if defmt && head & LEVEL_MASK != 0 {
                return Err(PayloadFault::Head);
            }
            level_of(head & LEVEL_MASK).ok_or(PayloadFault::Head)?;
            let (seq, rest) = read_leb128(rest).ok_or(PayloadFault::Number)?;
            let (time_us, rest) = read_leb128(rest).ok_or(PayloadFault::Number)?;
            let (unlogged, rest) = if head & UNLOGGED != 0 {
                let (n, rest) = read_leb128(rest).ok_or(PayloadFault::Number)?;
                if n == 0 {
                    return Err(PayloadFault::Unlogged);
                }
                (n, rest)
            } else {
                (0, rest)
            };
            let split = rest.len().checked_sub(tag_len).ok_or(PayloadFault::Short)?;
            let (bytes, tag) = rest.split_at(split);
            let message = if defmt {
                ""
            } else {
                core::str::from_utf8(bytes).map_err(|_| PayloadFault::Utf8)?
            };
            Ok(Payload::Record(RecordView {
                head,
                seq,
                time_us,
                unlogged,
                message,
                bytes,
                tag,
            }))
        }
        KIND_SYNC => {
            if head & !(KIND_MASK | KEYED) != 0 {
                return Err(PayloadFault::Head);
            }
            let (next, rest) = read_leb128(rest).ok_or(PayloadFault::Number)?;
            let state: [u8; 32] = rest
                .get(..32)
                .and_then(|s| s.try_into().ok())
                .ok_or(PayloadFault::Short)?;
            let tag = rest.get(32..).unwrap_or_default();
            let want = if head & KEYED != 0 { KEYED_TAG } else { 0 };
            if tag.len() != want {
                return Err(if tag.len() < want {
                    PayloadFault::Short
                } else {
                    PayloadFault::Trailing
                });
            }
            Ok(Payload::Sync(SyncView {
                head,
                next,
                state,
                tag,
            }))
        }
        _ => Err(PayloadFault::Head),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leb128_round_trips_and_is_minimal() {
        for n in [0, 1, 127, 128, 300, 1 << 35, u64::MAX] {
            let mut buf = [0u8; 10];
            let len = leb128(n, &mut buf);
            assert_eq!(read_leb128(&buf[..len]), Some((n, &[][..])));
        }
        assert_eq!(read_leb128(&[0x80, 0x00]), None, "non-minimal zero");
        assert_eq!(read_leb128(&[0x81, 0x00]), None, "non-minimal one");
        assert_eq!(read_leb128(&[0x80]), None, "cut short");
        assert_eq!(
            read_leb128(
                &[0xff; 9]
                    .iter()
                    .chain(&[0x02])
                    .copied()
                    .collect::<heapless::Vec<u8, 10>>()
            ),
            None
        );
    }

    #[test]
    fn a_defmt_record_holds_any_bytes() {
        // head, seq 1, time 0, frame 01 00 ff (a zero and a non-UTF-8 byte), tag.
        let payload = [KIND_DEFMT, 1, 0, 1, 0, 0xff, 9, 9, 9, 9, 9, 9, 9, 9];
        let Ok(Payload::Record(r)) = parse(&payload) else {
            panic!("not read: {:?}", parse(&payload));
        };
        assert!(r.is_defmt());
        assert_eq!((r.seq, r.bytes, r.message), (1, &[1, 0, 0xff][..], ""));
        // The same bytes as a text record are not UTF-8.
        let mut text = payload;
        text[0] = 0;
        assert_eq!(parse(&text), Err(PayloadFault::Utf8));
    }

    #[test]
    fn reserved_heads_are_refused() {
        assert_eq!(
            parse(&[0x06, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            Err(PayloadFault::Head)
        );
        assert_eq!(parse(&[0xc0, 0]), Err(PayloadFault::Head));
        // A defmt record's level is in its frame: level bits set are refused.
        assert_eq!(
            parse(&[KIND_DEFMT | 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            Err(PayloadFault::Head)
        );
        assert_eq!(parse(&[KIND_SYNC | 1, 0]), Err(PayloadFault::Head));
        assert_eq!(
            parse(&[UNLOGGED | 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            Err(PayloadFault::Unlogged)
        );
    }
}
