//! Opening a sector: its header, then what it writes first (the wrap note,
//! the recovery of torn bytes), then the erase of the oldest sector when
//! the ring is full.

use embedded_storage::nor_flash::NorFlash;

use super::io::{is_erased, MAX_WORD};
use super::layout::{align_up, Encoding, Header, Tear, Wrap, HEADER_LEN};
use super::note::Note;
use super::scan::Until;
use super::slots::{read_torn, recovery, ring_pos};
use super::{FlashError, FlashLog, RingFault};
use crate::clock::{Clock, Timestamp};
use crate::draft::Draft;
use crate::hash::Hash;
use crate::head::Head;
use crate::level::Level;

impl<F: NorFlash, C: Clock, const N: usize, const R: usize> FlashLog<'_, F, C, N, R> {
    /// Opens sector `number` in its slot (erased first if need be): its
    /// header, then its prefix (a wrap note when this leaves no erased
    /// sector, the recovery of `tear`), then the wrap's erase.
    pub(super) fn open_sector(
        &mut self,
        number: u64,
        tear: Option<Tear>,
    ) -> Result<(), FlashError<F::Error>> {
        let region = self.region;
        let sectors = u64::from(region.sectors);
        if number < self.oldest || number - self.oldest >= sectors {
            return Err(FlashError::RepairLoop);
        }
        let slot = region.slot(number);
        if !is_erased(&mut self.flash, region.base(slot), region.sector_size)
            .map_err(FlashError::Flash)?
        {
            self.erase_slot(slot)?;
        }
        let wrap = if number - self.oldest + 1 == sectors {
            Some(self.wrap_info()?)
        } else {
            None
        };
        let header = Header {
            encoding: Encoding::Text,
            word: Self::WORD as u16,
            sector_size: region.sector_size,
            sectors: region.sectors,
            number,
            recovery: R as u32,
            wrap,
            tear,
        };
        let mut bytes = [0xFF; HEADER_LEN + MAX_WORD];
        if let Some(dst) = bytes.get_mut(..HEADER_LEN) {
            dst.copy_from_slice(&header.encode());
        }
        let len = align_up(HEADER_LEN as u32, Self::WORD as u32) as usize;
        self.flash
            .write(region.base(slot), bytes.get(..len).unwrap_or_default())
            .map_err(FlashError::Flash)?;
        self.newest = number;
        self.pos = region.data_start(slot, Self::WORD as u32);
        let timestamp = self.clock.now();
        if let Some(wrap) = wrap {
            let mut draft = Draft::<N>::new(Level::Info, format_args!("{}", Note(wrap)));
            self.write_record(&mut draft, timestamp)?;
        }
        if let Some(tear) = tear {
            let at = self.torn_at(&tear);
            let pos = ring_pos(&region, tear.sector, at);
            // The torn bytes stay in the scratch buffer while their records
            // are written (which reads nothing back).
            let scratch = core::mem::take(&mut self.scratch);
            let result = self.write_recovery(scratch, &tear, pos, timestamp);
            self.scratch = scratch;
            result?;
        }
        if wrap.is_some() {
            self.retire_oldest()?;
        }
        Ok(())
    }

    /// Writes the recovery records of the torn bytes `tear` names, read
    /// into `scratch`.
    pub(super) fn write_recovery(
        &mut self,
        scratch: &mut [u8],
        tear: &Tear,
        pos: u64,
        timestamp: Timestamp,
    ) -> Result<(), FlashError<F::Error>> {
        let at = self.torn_at(tear);
        let n = read_torn(
            &mut self.flash,
            &self.region,
            Self::WORD as u32,
            tear,
            scratch,
        )
        .map_err(FlashError::Flash)?
        .ok_or(FlashError::Corrupt(RingFault::RecordTooLong {
            at,
            limit: scratch.len(),
        }))?;
        let torn = scratch.get(..n).unwrap_or_default();
        for part in recovery(torn, pos, R as u32).parts() {
            let mut draft = Draft::<R>::new(Level::Warning, format_args!("{part}"));
            self.write_record(&mut draft, timestamp)?;
        }
        Ok(())
    }

    /// What erasing the oldest sector removes, and where the ring then starts.
    pub(super) fn wrap_info(&mut self) -> Result<Wrap, FlashError<F::Error>> {
        let oldest = self.scan_sector(self.oldest, Until::End)?;
        let mut next = None;
        for n in self.oldest + 1..=self.newest {
            if let Some(first) = self.scan_sector(n, Until::FirstRecord)?.first {
                next = Some(first);
                break;
            }
        }
        let next = next.unwrap_or(match self.head {
            Some(Head { seq, hash }) => (seq.map_or(0, |s| s.saturating_add(1)), hash),
            None => (0, Hash::GENESIS),
        });
        Ok(Wrap {
            sector: self.oldest,
            erased_from: oldest.first,
            next,
        })
    }

    /// Marks the oldest sector dead, erases it: the ring's wrap.
    pub(super) fn retire_oldest(&mut self) -> Result<(), FlashError<F::Error>> {
        let slot = self.region.slot(self.oldest);
        self.erase_slot(slot)?;
        self.oldest += 1;
        Ok(())
    }

    /// Marks a slot dead (so a cut erase cannot leave a header that reads
    /// whole), then erases it.
    pub(super) fn erase_slot(&mut self, slot: u32) -> Result<(), FlashError<F::Error>> {
        let region = self.region;
        let word = Self::WORD as u32;
        let dead = region.dead_at(slot, word);
        if is_erased(&mut self.flash, dead, word).map_err(FlashError::Flash)? {
            let zeros = [0u8; MAX_WORD];
            self.flash
                .write(dead, zeros.get(..Self::WORD).unwrap_or_default())
                .map_err(FlashError::Flash)?;
        }
        self.flash
            .erase(region.base(slot), region.end(slot))
            .map_err(FlashError::Flash)
    }
}
