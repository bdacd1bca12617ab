//! Reading one sector of a ring front to back: its records, each checked on
//! its own and linked to the one before, and what follows the last one
//! (erased words, or the torn bytes of a record cut off by a power loss).

use embedded_storage::nor_flash::ReadNorFlash;

use super::fault::RingFault;
use super::io::{read, MAX_WORD};
use super::layout::Region;
use crate::hash::Hash;
use crate::head::Head;
use crate::record::{split_display_line, Record};

/// What a sector holds.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct SectorScan {
    /// Complete records read.
    pub(crate) records: u32,
    /// The first one's `seq` and `prev_hash`.
    pub(crate) first: Option<(u64, Hash)>,
    /// The last one.
    pub(crate) last: Option<Head>,
    /// Where the next record starts: after the last complete one (its last
    /// word included).
    pub(crate) end: u32,
    /// The first erased word (or the sector's end): `end..data_end` are the
    /// torn bytes, when there are any.
    pub(crate) data_end: u32,
}

impl SectorScan {
    /// True when bytes of a record cut off stand after the last complete one.
    pub(crate) fn torn(&self) -> bool {
        self.data_end > self.end
    }
}

/// How far to read.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Until {
    /// The whole sector.
    End,
    /// Stop after the first complete record.
    FirstRecord,
}

/// Reads the sector numbered `number` with `buf` for the record being read
/// (its length is the longest record accepted). `link` is the record before
/// this sector's first (`None`: any, at the start of what is read), and is
/// left at the last record read. `visit` sees each record and where it starts.
///
/// The outer error is the flash's; the inner one, what is wrong with the
/// sector's content.
#[allow(clippy::too_many_arguments)]
pub(crate) fn scan<F: ReadNorFlash>(
    flash: &mut F,
    region: &Region,
    word: u32,
    number: u64,
    buf: &mut [u8],
    link: &mut Option<Head>,
    until: Until,
    mut visit: impl FnMut(&Record<'_>, u32) -> Result<(), RingFault>,
) -> Result<Result<SectorScan, RingFault>, F::Error> {
    let slot = region.slot(number);
    let sector_end = region.end(slot);
    let w = word.max(1) as usize;
    let mut out = SectorScan {
        records: 0,
        first: None,
        last: None,
        end: region.data_start(slot, word),
        data_end: sector_end,
    };
    // The record being read: `len` bytes of it in `buf`, `lfs` line ends.
    let mut len = 0usize;
    let mut lfs = 0u8;
    let mut line1_end = 0usize;
    let mut cursor = out.end;
    let mut chunk = [0u8; MAX_WORD];
    // Whole words per read.
    let per_read = (MAX_WORD / w).max(1) * w;
    'words: while cursor < sector_end {
        let n = per_read.min((sector_end - cursor) as usize);
        let bytes = chunk.get_mut(..n).unwrap_or_default();
        read(flash, cursor, bytes)?;
        for (i, word_bytes) in bytes.chunks(w).enumerate() {
            let at = cursor + (i * w) as u32;
            if word_bytes.iter().all(|&b| b == 0xFF) {
                out.data_end = at;
                break 'words;
            }
            let mut fill = false;
            for (j, &b) in word_bytes.iter().enumerate() {
                let byte_at = at + j as u32;
                if fill {
                    if b != 0xFF {
                        return Ok(Err(RingFault::Garbled { at: byte_at }));
                    }
                    continue;
                }
                let Some(slot) = buf.get_mut(len) else {
                    return Ok(Err(RingFault::RecordTooLong {
                        at: out.end,
                        limit: buf.len(),
                    }));
                };
                *slot = b;
                len += 1;
                if b != b'\n' {
                    continue;
                }
                lfs += 1;
                if lfs == 1 {
                    line1_end = len - 1;
                    continue;
                }
                let record = buf.get(..len).unwrap_or_default();
                if let Err(fault) = take(record, line1_end, out.end, link, &mut out, &mut visit) {
                    return Ok(Err(fault));
                }
                fill = true;
            }
            if fill {
                len = 0;
                lfs = 0;
                out.end = at + w as u32;
                if until == Until::FirstRecord {
                    out.data_end = out.end;
                    return Ok(Ok(out));
                }
            }
        }
        cursor += n as u32;
    }
    // A partial record: a power loss cut it off, unless its first line is
    // complete and no display line (then it is no record's start at all).
    if len > 0 && lfs == 1 {
        let line1 = buf.get(..line1_end).unwrap_or_default();
        if split_display_line(line1).is_none() {
            return Ok(Err(RingFault::Garbled { at: out.end }));
        }
    }
    Ok(Ok(out))
}

/// Checks a complete record (`bytes`, starting at flash offset `at`) and
/// links it after `link`.
fn take(
    bytes: &[u8],
    line1_end: usize,
    at: u32,
    link: &mut Option<Head>,
    out: &mut SectorScan,
    visit: &mut impl FnMut(&Record<'_>, u32) -> Result<(), RingFault>,
) -> Result<(), RingFault> {
    let line1 = bytes.get(..line1_end).unwrap_or_default();
    let line2 = bytes
        .get(line1_end + 1..bytes.len().saturating_sub(1))
        .unwrap_or_default();
    let record = Record::parse(line1, line2).map_err(|fault| RingFault::Record { at, fault })?;
    record
        .check()
        .map_err(|fault| RingFault::Record { at, fault })?;
    let Some(seq) = record.seq() else {
        return Err(RingFault::SeqMissing { at });
    };
    if let Some(prev) = link {
        if record.prev_hash() != prev.hash {
            return Err(RingFault::PrevHashMismatch {
                at,
                expected: prev.hash,
                found: record.prev_hash(),
            });
        }
        let expected = prev.seq.and_then(|s| s.checked_add(1));
        if expected != Some(seq) {
            return Err(RingFault::SeqOutOfOrder {
                at,
                expected: expected.unwrap_or(0),
                found: seq,
            });
        }
    }
    visit(&record, at)?;
    *link = Some(Head {
        seq: Some(seq),
        hash: record.hash(),
    });
    out.records += 1;
    out.first.get_or_insert((seq, record.prev_hash()));
    out.last = *link;
    Ok(())
}
