//! The ring's slots as found: each one's header (whole or not, dead or
//! live), and what a sector's opening writes first (its prefix: the wrap
//! note, then the recovery records of the torn bytes it keeps).

use embedded_storage::nor_flash::ReadNorFlash;

use super::io::{is_erased, read};
use super::layout::{Header, Region, Tear, HEADER_LEN};
use crate::draft::message_capacity;
use crate::recovery::Recovery;

/// What a slot holds.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Slot {
    /// A whole header, not marked dead: a sector of the ring.
    Live(Header),
    /// A whole header marked dead: a sector being erased (its erasure is
    /// already stated in the chain).
    Dead,
    /// The header bytes read erased (the rest may not be).
    Blank,
    /// Anything else: a header cut off while it was written, or an erase
    /// cut short. Nothing of the ring.
    Garbage,
}

/// Reads the header of `slot`.
pub(crate) fn read_slot<F: ReadNorFlash>(
    flash: &mut F,
    region: &Region,
    slot: u32,
) -> Result<Slot, F::Error> {
    let mut bytes = [0u8; HEADER_LEN];
    read(flash, region.base(slot), &mut bytes)?;
    if bytes.iter().all(|&b| b == 0xFF) {
        return Ok(Slot::Blank);
    }
    let Some(header) = Header::decode(&bytes) else {
        return Ok(Slot::Garbage);
    };
    let word = u32::from(header.word).max(1);
    if header.sectors == 0 || header.sector_size <= region.data_start(0, word) - region.base(0) {
        return Ok(Slot::Garbage);
    }
    if !is_erased(flash, region.dead_at(slot, word), word)? {
        return Ok(Slot::Dead);
    }
    Ok(Slot::Live(header))
}

/// A byte's place in the ring's history: its sector's number times the
/// sector size, plus its offset in the sector. The "byte N" of recovery
/// records written by the ring.
pub(crate) fn ring_pos(region: &Region, number: u64, at: u32) -> u64 {
    let slot = region.slot(number);
    number
        .saturating_mul(u64::from(region.sector_size))
        .saturating_add(u64::from(at.saturating_sub(region.base(slot))))
}

/// The flash offset of the torn bytes `tear` names.
pub(crate) fn torn_at(region: &Region, word: u32, tear: &Tear) -> u32 {
    region
        .data_start(region.slot(tear.sector), word)
        .saturating_add(tear.offset)
}

/// Reads the torn bytes a header names into `out`, without the `0xFF`
/// bytes (padding, or bits a cut program left erased: never a record's).
/// `None` when they do not fit `out` or lie outside their sector.
pub(crate) fn read_torn<F: ReadNorFlash>(
    flash: &mut F,
    region: &Region,
    word: u32,
    tear: &Tear,
    out: &mut [u8],
) -> Result<Option<usize>, F::Error> {
    let slot = region.slot(tear.sector);
    let start = torn_at(region, word, tear);
    let end = start.saturating_add(tear.len);
    if end > region.end(slot) {
        return Ok(None);
    }
    let mut len = 0;
    let mut chunk = [0u8; 64];
    let mut at = start;
    while at < end {
        let n = (end - at).min(64);
        let bytes = chunk.get_mut(..n as usize).unwrap_or_default();
        read(flash, at, bytes)?;
        for &b in bytes.iter().filter(|&&b| b != 0xFF) {
            let Some(dst) = out.get_mut(len) else {
                return Ok(None);
            };
            *dst = b;
            len += 1;
        }
        at += n;
    }
    Ok(Some(len))
}

/// The recovery records of `torn`, found at ring position `pos`, written
/// with a record buffer of `recovery` bytes.
pub(crate) fn recovery(torn: &[u8], pos: u64, recovery: u32) -> Recovery<'_> {
    Recovery::new(torn, pos, message_capacity(recovery as usize))
}
