//! Starting after a reset: reading the ring's headers and its newest
//! sector, finishing or redoing what a power cut interrupted, and finding
//! where the chain goes on.

use embedded_storage::nor_flash::NorFlash;

use super::layout::{Encoding, Header, Tear};
use super::scan::{scan, SectorScan, Until};
use super::slots::{read_slot, read_torn, recovery, ring_pos, torn_at, Slot};
use super::{FlashError, FlashLog, RingFault};
use crate::clock::Clock;
use crate::head::Head;

impl<F: NorFlash, C: Clock, const N: usize, const R: usize> FlashLog<'_, F, C, N, R> {
    /// Reads the ring and makes it whole: finishes or redoes an interrupted
    /// sector opening, erases what a cut erase left, keeps torn bytes in
    /// recovery records. Then the log appends after its last record.
    /// [`open`](Self::open) and the first append after a flash error call it.
    pub fn recover(&mut self) -> Result<(), FlashError<F::Error>> {
        self.broken = true;
        let result = self.boot();
        self.broken = result.is_err();
        result
    }

    fn boot(&mut self) -> Result<(), FlashError<F::Error>> {
        let region = self.region;
        let word = Self::WORD as u32;
        for _ in 0..4 {
            // The live sectors; what else a slot holds is erased.
            let mut bounds: Option<(u64, u64)> = None;
            for slot in 0..region.sectors {
                match read_slot(&mut self.flash, &region, slot).map_err(FlashError::Flash)? {
                    Slot::Live(h) => {
                        if !h.fits(&region, word) || region.slot(h.number) != slot {
                            return Err(FlashError::Corrupt(RingFault::Layout {
                                at: region.base(slot),
                            }));
                        }
                        bounds = Some(match bounds {
                            None => (h.number, h.number),
                            Some((lo, hi)) => (lo.min(h.number), hi.max(h.number)),
                        });
                    }
                    Slot::Dead | Slot::Garbage => self.erase_slot(slot)?,
                    Slot::Blank => {}
                }
            }
            let Some((oldest, newest)) = bounds else {
                self.oldest = 0;
                self.newest = 0;
                self.head = None;
                return self.open_sector(0, None);
            };
            if newest - oldest >= u64::from(region.sectors) {
                return Err(FlashError::Corrupt(RingFault::Layout {
                    at: region.base(region.slot(newest)),
                }));
            }
            let mut header = None;
            for number in oldest..=newest {
                match read_slot(&mut self.flash, &region, region.slot(number))
                    .map_err(FlashError::Flash)?
                {
                    Slot::Live(h) if h.number == number => header = Some(h),
                    _ => return Err(FlashError::Corrupt(RingFault::SectorMissing { number })),
                }
            }
            let Some(header) = header else {
                return Err(FlashError::RepairLoop);
            };
            // This log writes text; a ring of another encoding is not its own.
            match header.encoding {
                Encoding::Text => {}
            }
            self.oldest = oldest;
            self.newest = newest;
            let newest_scan = self.scan_sector(newest, Until::End)?;
            if newest_scan.records < self.prefix_len(&header)? {
                // An opening cut short: undo it, and do it again.
                self.erase_slot(region.slot(newest))?;
                continue;
            }
            if let Some(wrap) = header.wrap {
                if wrap.sector == self.oldest && self.oldest < newest {
                    self.retire_oldest()?;
                }
            }
            self.head = match newest_scan.last {
                Some(last) => Some(last),
                None => self.head_before(newest)?,
            };
            self.pos = newest_scan.end;
            if newest_scan.torn() {
                let data_start = region.data_start(region.slot(newest), word);
                let tear = Tear {
                    sector: newest,
                    offset: newest_scan.end - data_start,
                    len: newest_scan.data_end - newest_scan.end,
                };
                return self.open_sector(newest + 1, Some(tear));
            }
            return Ok(());
        }
        Err(FlashError::RepairLoop)
    }

    /// Reads sector `number` (its records checked among themselves).
    pub(super) fn scan_sector(
        &mut self,
        number: u64,
        until: Until,
    ) -> Result<SectorScan, FlashError<F::Error>> {
        let mut link = None;
        scan(
            &mut self.flash,
            &self.region,
            Self::WORD as u32,
            number,
            self.scratch,
            &mut link,
            until,
            |_, _| Ok(()),
        )
        .map_err(FlashError::Flash)?
        .map_err(FlashError::Corrupt)
    }

    /// The last record before sector `number`.
    pub(super) fn head_before(
        &mut self,
        number: u64,
    ) -> Result<Option<Head>, FlashError<F::Error>> {
        for n in (self.oldest..number).rev() {
            if let Some(last) = self.scan_sector(n, Until::End)?.last {
                return Ok(Some(last));
            }
        }
        Ok(None)
    }

    /// How many records a sector with `header` starts with: its wrap note,
    /// and the recovery records of the torn bytes it names.
    pub(super) fn prefix_len(&mut self, header: &Header) -> Result<u32, FlashError<F::Error>> {
        let mut len = u32::from(header.wrap.is_some());
        if let Some(tear) = header.tear.filter(|t| t.sector >= self.oldest) {
            let pos = ring_pos(&self.region, tear.sector, self.torn_at(&tear));
            let torn = self.read_torn(&tear)?;
            len += recovery(torn, pos, header.recovery).parts().count() as u32;
        }
        Ok(len)
    }

    /// The flash offset of the torn bytes `tear` names.
    pub(super) fn torn_at(&self, tear: &Tear) -> u32 {
        torn_at(&self.region, Self::WORD as u32, tear)
    }

    /// Reads the torn bytes `tear` names into the scratch buffer.
    pub(super) fn read_torn(&mut self, tear: &Tear) -> Result<&[u8], FlashError<F::Error>> {
        let at = self.torn_at(tear);
        match read_torn(
            &mut self.flash,
            &self.region,
            Self::WORD as u32,
            tear,
            self.scratch,
        )
        .map_err(FlashError::Flash)?
        {
            Some(n) => Ok(self.scratch.get(..n).unwrap_or_default()),
            None => Err(FlashError::Corrupt(RingFault::RecordTooLong {
                at,
                limit: self.scratch.len(),
            })),
        }
    }
}
