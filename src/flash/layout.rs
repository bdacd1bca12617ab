//! Where things stand in a flash ring: the region and its sectors, and the
//! sector header (its byte diagram below; FORMAT.md, "A log in NOR flash").
//!
//! ```text
//! sector (sector_size bytes, a multiple of ERASE_SIZE)
//! +--------------------+--------+----------------------------------------+
//! | header (152 bytes) | dead   | records, each padded with 0xFF to a     |
//! | + 0xFF to a word   | (word) | whole word; then erased (0xFF) words    |
//! +--------------------+--------+----------------------------------------+
//!
//! header, little-endian
//!   0  magic "ILR1"          4  version 1         5  encoding (1 = text)
//!   6  word size (u16)       8  sector size (u32) 12 sectors in the ring (u32)
//!  16  number (u64): the sector's place in the ring's history; slot = number % sectors
//!  24  flags: 1 wrap, 2 wrap erased records, 4 tear     25..28 zero
//!  28  recovery record buffer (u32): how torn bytes are split into records
//!  32  wrap: the number of the sector this one's opening erases (u64)
//!  40  wrap: seq of its first complete record (u64)   48 its prev_hash (32 bytes)
//!  80  wrap: seq of the first record after it (u64)   88 that record's prev_hash (32)
//! 120  tear: number of the sector holding torn bytes (u64)
//! 128  tear: their offset from that sector's data start (u32)  132 their length (u32)
//! 136  SHA-256 of bytes 0..136, first 16 bytes: the header is whole only if it matches
//! ```

use crate::hash::{BlockHasher, Hash};

/// Bytes of a sector header.
pub(crate) const HEADER_LEN: usize = 152;
/// The bytes the header's digest covers.
const DIGESTED: usize = 136;
const MAGIC: &[u8; 4] = b"ILR1";
const VERSION: u8 = 1;

const FLAG_WRAP: u8 = 1;
const FLAG_ERASED_RECORDS: u8 = 2;
const FLAG_TEAR: u8 = 4;

/// How the records of a ring are encoded. Only text exists today; the compact
/// binary encoding will be a second variant, stated in every sector header, so
/// a reader refuses what it cannot read instead of misreading it.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[non_exhaustive]
pub enum Encoding {
    /// The two-line text records of FORMAT.md.
    #[default]
    Text,
}

impl Encoding {
    /// The byte a sector header states.
    const fn code(self) -> u8 {
        match self {
            Encoding::Text => 1,
        }
    }

    /// The encoding a header's byte names, if this crate reads it.
    const fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Encoding::Text),
            _ => None,
        }
    }
}

/// Where a ring lives in a flash: `sectors` sectors of `sector_size` bytes
/// from byte `start`. `start` and `sector_size` are multiples of the flash's
/// `ERASE_SIZE`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Region {
    /// The ring's first byte in the flash.
    pub start: u32,
    /// Bytes per sector: one or more erase units.
    pub sector_size: u32,
    /// Sectors in the ring (at least 3).
    pub sectors: u32,
}

impl Region {
    /// The region's length in bytes (`None` when it overflows a `u32`).
    pub const fn len(&self) -> Option<u32> {
        self.sector_size.checked_mul(self.sectors)
    }

    /// True when the region has no sectors.
    pub const fn is_empty(&self) -> bool {
        self.sectors == 0 || self.sector_size == 0
    }

    /// The slot of the sector numbered `number`.
    pub(crate) fn slot(&self, number: u64) -> u32 {
        // `sectors` is at least 3 once the geometry is checked.
        (number % u64::from(self.sectors.max(1))) as u32
    }

    /// The first byte of `slot`.
    pub(crate) fn base(&self, slot: u32) -> u32 {
        self.start + slot * self.sector_size
    }

    /// One past the last byte of `slot`.
    pub(crate) fn end(&self, slot: u32) -> u32 {
        self.base(slot) + self.sector_size
    }

    /// Where the dead mark of `slot` stands (word `word` bytes long).
    pub(crate) fn dead_at(&self, slot: u32, word: u32) -> u32 {
        self.base(slot) + align_up(HEADER_LEN as u32, word)
    }

    /// The first data byte of `slot`.
    pub(crate) fn data_start(&self, slot: u32, word: u32) -> u32 {
        self.dead_at(slot, word) + word
    }
}

/// `n` rounded up to a multiple of `word` (a power of two or not).
pub(crate) const fn align_up(n: u32, word: u32) -> u32 {
    if word <= 1 {
        n
    } else {
        n.div_ceil(word) * word
    }
}

/// Copies `bytes` into `out` at `at` (the header's fixed offsets fit).
fn put_at(out: &mut [u8], at: usize, bytes: &[u8]) {
    if let Some(dst) = out.get_mut(at..at + bytes.len()) {
        dst.copy_from_slice(bytes);
    }
}

/// What the opening of a sector erased to make room: the ring's oldest
/// sector, its records, and where the ring starts after it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Wrap {
    /// The number of the sector erased.
    pub sector: u64,
    /// Its first complete record's `seq` and `prev_hash` (the head before
    /// what was erased), or `None` when it held no complete record.
    pub erased_from: Option<(u64, Hash)>,
    /// The first record after it: its `seq` and `prev_hash`. The records
    /// erased are `erased_from.0 .. next.0`; the ring now starts at `next`.
    pub next: (u64, Hash),
}

/// Torn bytes a sector's opening keeps in recovery records: the end of the
/// sector before it, from `offset` (counted from that sector's data start).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Tear {
    /// The number of the sector holding the torn bytes.
    pub sector: u64,
    /// Their first byte, from the sector's data start (a record's start).
    pub offset: u32,
    /// Their length in flash, up to the sector's first erased word.
    pub len: u32,
}

/// A sector header, as written and read.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Header {
    pub(crate) encoding: Encoding,
    pub(crate) word: u16,
    pub(crate) sector_size: u32,
    pub(crate) sectors: u32,
    pub(crate) number: u64,
    /// The record buffer of recovery records: with the torn bytes and their
    /// place, it fixes their messages, so a verifier can rebuild them.
    pub(crate) recovery: u32,
    pub(crate) wrap: Option<Wrap>,
    pub(crate) tear: Option<Tear>,
}

impl Header {
    /// The header's bytes, digest last.
    pub(crate) fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        let mut put = |at: usize, bytes: &[u8]| put_at(&mut out, at, bytes);
        put(0, MAGIC);
        put(4, &[VERSION, self.encoding.code()]);
        put(6, &self.word.to_le_bytes());
        put(8, &self.sector_size.to_le_bytes());
        put(12, &self.sectors.to_le_bytes());
        put(16, &self.number.to_le_bytes());
        put(28, &self.recovery.to_le_bytes());
        let mut flags = 0;
        if let Some(wrap) = self.wrap {
            flags |= FLAG_WRAP;
            put(32, &wrap.sector.to_le_bytes());
            if let Some((seq, prev)) = wrap.erased_from {
                flags |= FLAG_ERASED_RECORDS;
                put(40, &seq.to_le_bytes());
                put(48, prev.as_bytes());
            }
            put(80, &wrap.next.0.to_le_bytes());
            put(88, wrap.next.1.as_bytes());
        }
        if let Some(tear) = self.tear {
            flags |= FLAG_TEAR;
            put(120, &tear.sector.to_le_bytes());
            put(128, &tear.offset.to_le_bytes());
            put(132, &tear.len.to_le_bytes());
        }
        put(24, &[flags]);
        let digest = BlockHasher::hash(out.get(..DIGESTED).unwrap_or_default());
        put_at(
            &mut out,
            DIGESTED,
            digest.as_bytes().get(..16).unwrap_or_default(),
        );
        out
    }

    /// Reads a header: `None` unless it is whole (magic, version, digest)
    /// and names an encoding this crate reads.
    pub(crate) fn decode(bytes: &[u8; HEADER_LEN]) -> Option<Header> {
        if bytes.get(..4) != Some(MAGIC) || bytes.get(4) != Some(&VERSION) {
            return None;
        }
        let digest = BlockHasher::hash(bytes.get(..DIGESTED)?);
        if bytes.get(DIGESTED..) != digest.as_bytes().get(..16) {
            return None;
        }
        let u16_at = |at: usize| Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?));
        let u32_at = |at: usize| Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?));
        let u64_at = |at: usize| Some(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?));
        let hash_at = |at: usize| Some(Hash::from_bytes(bytes.get(at..at + 32)?.try_into().ok()?));
        let flags = *bytes.get(24)?;
        if flags & !(FLAG_WRAP | FLAG_ERASED_RECORDS | FLAG_TEAR) != 0
            || bytes.get(25..28) != Some(&[0, 0, 0])
        {
            return None;
        }
        let wrap = if flags & FLAG_WRAP != 0 {
            let erased_from = if flags & FLAG_ERASED_RECORDS != 0 {
                Some((u64_at(40)?, hash_at(48)?))
            } else {
                None
            };
            Some(Wrap {
                sector: u64_at(32)?,
                erased_from,
                next: (u64_at(80)?, hash_at(88)?),
            })
        } else {
            None
        };
        let tear = if flags & FLAG_TEAR != 0 {
            Some(Tear {
                sector: u64_at(120)?,
                offset: u32_at(128)?,
                len: u32_at(132)?,
            })
        } else {
            None
        };
        Some(Header {
            encoding: Encoding::from_code(*bytes.get(5)?)?,
            word: u16_at(6)?,
            sector_size: u32_at(8)?,
            sectors: u32_at(12)?,
            number: u64_at(16)?,
            recovery: u32_at(28)?,
            wrap,
            tear,
        })
    }

    /// True when the header describes `region` with words of `word` bytes.
    pub(crate) fn fits(&self, region: &Region, word: u32) -> bool {
        u32::from(self.word) == word
            && self.sector_size == region.sector_size
            && self.sectors == region.sectors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header {
            encoding: Encoding::Text,
            word: 8,
            sector_size: 8192,
            sectors: 4,
            number: 0x0102_0304_0506_0708,
            recovery: 2048,
            wrap: Some(Wrap {
                sector: 3,
                erased_from: Some((17, Hash::from_bytes([0xAB; 32]))),
                next: (40, Hash::from_bytes([0xCD; 32])),
            }),
            tear: Some(Tear {
                sector: 9,
                offset: 0x1234,
                len: 77,
            }),
        }
    }

    #[test]
    fn a_header_reads_back_as_written_and_any_changed_byte_voids_it() {
        let h = header();
        let bytes = h.encode();
        assert_eq!(&bytes[..4], b"ILR1");
        assert_eq!(&bytes[16..24], &[8, 7, 6, 5, 4, 3, 2, 1]);
        assert_eq!(bytes[24], 7);
        assert_eq!(&bytes[128..132], &[0x34, 0x12, 0, 0]);
        assert_eq!(Header::decode(&bytes), Some(h));
        for i in 0..HEADER_LEN {
            let mut changed = bytes;
            changed[i] ^= 0x01;
            assert_eq!(Header::decode(&changed), None, "byte {i}");
        }
        let plain = Header {
            wrap: None,
            tear: None,
            ..h
        };
        assert_eq!(Header::decode(&plain.encode()), Some(plain));
        assert_eq!(Header::decode(&[0xFF; HEADER_LEN]), None);
    }

    #[test]
    fn offsets_in_a_sector() {
        let r = Region {
            start: 4096,
            sector_size: 1024,
            sectors: 3,
        };
        assert_eq!(r.slot(7), 1);
        assert_eq!(r.base(2), 4096 + 2048);
        assert_eq!(r.dead_at(0, 1), 4096 + 152);
        assert_eq!(r.data_start(0, 1), 4096 + 153);
        assert_eq!(r.dead_at(0, 8), 4096 + 152);
        assert_eq!(r.data_start(0, 8), 4096 + 160);
        assert_eq!(r.dead_at(0, 64), 4096 + 192);
        assert_eq!(align_up(5, 4), 8);
        assert_eq!(align_up(8, 4), 8);
        assert_eq!(align_up(5, 1), 5);
    }
}
