//! Verifying a whole ring, in ring order (oldest sector first), from any
//! `ReadNorFlash`: a device's own flash, or a dump read on a host
//! ([`SliceFlash`](super::SliceFlash)).

use core::fmt::{self, Write as _};

use embedded_storage::nor_flash::ReadNorFlash;

use super::fault::RingFault;
use super::io::is_erased;
use super::layout::{Encoding, Header, Region, HEADER_LEN};
use super::note::{ring_start, Note};
use super::scan::{scan, Until};
use super::slots::{read_slot, read_torn, recovery, ring_pos, torn_at, Slot};
use crate::hash::Hash;
use crate::head::Head;
use crate::json::Unescaped;
use crate::record::Record;
use crate::verdict::SegmentStart;

/// What was read of a ring, up to its end or its first fault.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct RingReport {
    /// Sectors read.
    pub sectors: u32,
    /// The oldest sector's number (0 until the ring first wraps).
    pub oldest: u64,
    /// Complete records that passed every check.
    pub records: u64,
    /// The first record's `seq` and `prev_hash`.
    pub start: Option<SegmentStart>,
    /// The last record that passed.
    pub head: Option<Head>,
    /// The ring wrapped: records before `start` were erased, as a wrap note
    /// in the chain states.
    pub wrapped: bool,
    /// Torn records kept, each in exactly one recovery.
    pub tears: u32,
}

/// Torn bytes at the ring's end (a power loss the device has not repaired
/// yet: it does at its next start).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct RingTorn {
    /// Their first byte.
    pub at: u32,
    /// Their length in flash.
    pub len: u32,
}

/// A ring verifier's conclusion.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RingVerdict {
    /// Every record is intact, linked, and the ring ends cleanly.
    Intact(RingReport),
    /// Every complete record is intact, but the ring ends in torn bytes.
    Torn(RingReport, RingTorn),
    /// The first fault, and what was read before it.
    Failed(RingReport, RingFault),
}

impl RingVerdict {
    /// What was read.
    pub fn report(&self) -> &RingReport {
        match self {
            RingVerdict::Intact(r) | RingVerdict::Torn(r, _) | RingVerdict::Failed(r, _) => r,
        }
    }
}

/// Finds a ring in a flash (a dump) from its sector headers: the first whole
/// header at a multiple of 256 bytes gives the sector size and count, and
/// where sector 0 starts. `None` when there is none.
pub fn find_region<F: ReadNorFlash>(flash: &mut F) -> Result<Option<Region>, F::Error> {
    let capacity = flash.capacity();
    let mut at = 0usize;
    while at + HEADER_LEN <= capacity {
        let mut bytes = [0u8; HEADER_LEN];
        super::io::read(flash, at as u32, &mut bytes)?;
        if let Some(h) = Header::decode(&bytes) {
            let size = h.sector_size as usize;
            let slot = (h.number % u64::from(h.sectors.max(1))) as usize;
            let start = at.checked_sub(slot.saturating_mul(size));
            let end = start.and_then(|s| s.checked_add(size.checked_mul(h.sectors as usize)?));
            if let (Some(start), Some(end)) = (start, end) {
                if size > 0 && end <= capacity {
                    return Ok(Some(Region {
                        start: start as u32,
                        sector_size: h.sector_size,
                        sectors: h.sectors,
                    }));
                }
            }
        }
        at += 256;
    }
    Ok(None)
}

/// Compares a record's message with a text, character by character.
struct SameText<'a> {
    chars: Unescaped<'a>,
    same: bool,
}

impl fmt::Write for SameText<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.chars() {
            if !matches!(self.chars.next(), Some(Ok(x)) if x == c) {
                self.same = false;
            }
        }
        Ok(())
    }
}

/// True when `record`'s message is `text`'s `Display`, exactly.
pub(crate) fn message_is(record: &Record<'_>, text: &dyn fmt::Display) -> bool {
    let mut cmp = SameText {
        chars: record.message(),
        same: true,
    };
    write!(cmp, "{text}").is_ok() && cmp.same && cmp.chars.next().is_none()
}

/// Verifies the ring in `region`, oldest sector first, with `buf` for one
/// record at a time and the torn bytes a sector recovers (its length bounds
/// both: 16 KiB reads any ring this crate writes with buffers up to 2 KiB).
///
/// Each record is checked on its own and linked to the one before, across
/// sectors; the records a sector's opening wrote first must be exactly its
/// wrap note and the recovery of the torn bytes it names; torn bytes must be
/// recovered by the next sector (or be the ring's end: [`RingVerdict::Torn`]);
/// a ring that no longer holds its first sector must state, in a wrap note,
/// the start it has ([`RingFault::WrapUnaccounted`] otherwise).
///
/// Keyed chains are not supported by the ring yet: their tags fail here.
pub fn verify_ring<F: ReadNorFlash>(
    flash: &mut F,
    region: &Region,
    buf: &mut [u8],
) -> Result<RingVerdict, F::Error> {
    read_ring(flash, region, buf, |_| {})
}

/// [`verify_ring`], handing each record that passed to `visit`, in ring
/// order: to print a ring, or to look for a record in it.
pub fn read_ring<F: ReadNorFlash>(
    flash: &mut F,
    region: &Region,
    buf: &mut [u8],
    mut visit: impl FnMut(&Record<'_>),
) -> Result<RingVerdict, F::Error> {
    let mut report = RingReport::default();
    let failed = |report: RingReport, fault| Ok(RingVerdict::Failed(report, fault));
    // Pass 1: the oldest and newest sector, and how many there are.
    let mut bounds: Option<(u64, u64)> = None;
    let mut word = None;
    for slot in 0..region.sectors {
        if let Slot::Live(h) = read_slot(flash, region, slot)? {
            let w = u32::from(h.word);
            if !h.fits(region, *word.get_or_insert(w)) || region.slot(h.number) != slot {
                return failed(
                    report,
                    RingFault::Layout {
                        at: region.base(slot),
                    },
                );
            }
            bounds = Some(match bounds {
                None => (h.number, h.number),
                Some((lo, hi)) => (lo.min(h.number), hi.max(h.number)),
            });
        }
    }
    let (Some((oldest, newest)), Some(word)) = (bounds, word) else {
        return Ok(RingVerdict::Intact(report));
    };
    if newest - oldest >= u64::from(region.sectors) {
        return failed(
            report,
            RingFault::Layout {
                at: region.base(region.slot(newest)),
            },
        );
    }
    report.oldest = oldest;
    let mut link: Option<Head> = None;
    let mut accounted = false;
    // Torn bytes at the end of the sector before: (at, len).
    let mut torn: Option<(u32, u32)> = None;
    for number in oldest..=newest {
        let slot = region.slot(number);
        let header = match read_slot(flash, region, slot)? {
            Slot::Live(h) if h.number == number => h,
            _ => return failed(report, RingFault::SectorMissing { number }),
        };
        // Each encoding is read by its own scanner (only text exists yet).
        match header.encoding {
            Encoding::Text => {}
        }
        // The torn bytes it keeps: those at the end of the sector before.
        let expected_tear = torn.take();
        match (expected_tear, header.tear) {
            (None, None) => {}
            (Some((at, len)), Some(t))
                if t.sector.checked_add(1) == Some(number)
                    && torn_at(region, word, &t) == at
                    && t.len == len => {}
            // Its torn sector was erased since: nothing left to compare.
            (None, Some(t)) if t.sector < oldest => {}
            (Some((at, len)), _) => return failed(report, RingFault::TornNotRecovered { at, len }),
            (None, Some(_)) => return failed(report, RingFault::TearMismatch { sector: number }),
        }
        let (record_buf, torn_buf) = match header.tear.filter(|t| t.sector >= oldest) {
            Some(t) => {
                let split = buf.len().saturating_sub(t.len as usize);
                buf.split_at_mut(split)
            }
            None => buf.split_at_mut(buf.len()),
        };
        let torn_len = match header.tear.filter(|t| t.sector >= oldest) {
            Some(t) => match read_torn(flash, region, word, &t, torn_buf)? {
                Some(n) => Some(n),
                None => {
                    return failed(
                        report,
                        RingFault::RecordTooLong {
                            at: torn_at(region, word, &t),
                            limit: buf.len(),
                        },
                    )
                }
            },
            None => None,
        };
        let torn_bytes = torn_buf.get(..torn_len.unwrap_or(0)).unwrap_or_default();
        let recovered = header.tear.map(|t| {
            let at = torn_at(region, word, &t);
            recovery(torn_bytes, ring_pos(region, t.sector, at), header.recovery)
        });
        let note_count = u32::from(header.wrap.is_some());
        let parts = match (torn_len, recovered) {
            (Some(_), Some(r)) => r.parts().count() as u32,
            _ => 0,
        };
        // The recovery records expected, in order.
        let mut expected_parts = recovered.map(|r| r.parts());
        let mut index = 0u32;
        let mut passed = 0u64;
        let mut start = report.start;
        let scanned = scan(
            flash,
            region,
            word,
            number,
            record_buf,
            &mut link,
            Until::End,
            |record, at| {
                let i = index;
                index += 1;
                if start.is_none() {
                    let first = SegmentStart {
                        seq: record.seq(),
                        prev_hash: record.prev_hash(),
                    };
                    if oldest == 0 && (first.prev_hash != Hash::GENESIS || first.seq != Some(0)) {
                        return Err(RingFault::NotAtGenesis { at });
                    }
                    start = Some(first);
                }
                if let (0, Some(wrap)) = (i, header.wrap) {
                    if !message_is(record, &Note(wrap)) {
                        return Err(RingFault::PrefixMismatch { at });
                    }
                } else if i < note_count + parts {
                    match expected_parts.as_mut().and_then(|p| p.next()) {
                        Some(part) if message_is(record, &part) => {}
                        _ => return Err(RingFault::PrefixMismatch { at }),
                    }
                }
                if let (Some((seq, prev)), Some(s)) = (ring_start(record.message_json()), start) {
                    accounted |= s.seq == Some(seq) && s.prev_hash == prev;
                }
                passed += 1;
                visit(record);
                Ok(())
            },
        )?;
        report.start = start;
        let scanned = match scanned {
            Ok(s) => s,
            Err(fault) => {
                report.records += passed;
                report.head = link;
                return failed(report, fault);
            }
        };
        report.records += u64::from(scanned.records);
        report.head = link;
        report.sectors += 1;
        if header.tear.is_some() && parts > 0 {
            report.tears += 1;
        }
        let sector_end = region.end(slot);
        if scanned.records < note_count + parts {
            if number == newest {
                // A sector's opening cut short: the device redoes it.
                let at = region.data_start(slot, word);
                let len = scanned.data_end - at;
                return Ok(RingVerdict::Torn(report, RingTorn { at, len }));
            }
            return failed(report, RingFault::PrefixIncomplete { sector: number });
        }
        if !is_erased(flash, scanned.data_end, sector_end - scanned.data_end)? {
            return failed(
                report,
                RingFault::Garbled {
                    at: scanned.data_end,
                },
            );
        }
        if scanned.torn() {
            torn = Some((scanned.end, scanned.data_end - scanned.end));
        }
    }
    if let Some((at, len)) = torn {
        return Ok(RingVerdict::Torn(report, RingTorn { at, len }));
    }
    if let Some(start) = report.start {
        if !start.is_genesis() {
            if !accounted {
                return failed(
                    report,
                    RingFault::WrapUnaccounted {
                        seq: start.seq.unwrap_or(0),
                        prev_hash: start.prev_hash,
                    },
                );
            }
            report.wrapped = true;
        }
    }
    Ok(RingVerdict::Intact(report))
}
