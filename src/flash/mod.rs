//! A log in a NOR flash partition (feature `flash`): a ring of sectors over
//! any [`NorFlash`], that continues its chain after a reset, survives a power
//! cut at any word program or erase (its own repairs included), and wraps
//! around when full, stating in the chain what it erased.
//!
//! [`FlashLog`] writes; [`verify_ring`] reads a ring (on the device, or a
//! dump on a host with [`SliceFlash`]: `immutable-log verify --ring FILE`).
//! The layout is FORMAT.md's "A log in NOR flash"; in short:
//!
//! - The region is `sectors` sectors of `sector_size` bytes (whole erase
//!   units), used in turn: sector number `n` lives in slot `n % sectors`.
//!   Each starts with a header (its number, and what its opening did),
//!   written whole and checked by a digest, then records. A record never
//!   spans two sectors, and is padded with `0xFF` to a whole word: every word
//!   is programmed once, as `NorFlash` requires (`MultiwriteNorFlash` is not
//!   needed). No byte of a record is `0xFF`, so erased words end the data.
//! - **Wrap.** When opening a sector leaves no erased sector, the header
//!   states the oldest sector's records (their `seq` range and the head
//!   before them) and where the ring will start; the sector's first record
//!   says the same in the chain (a *wrap note*); then the oldest sector is
//!   marked dead and erased. A verifier accepts a ring that starts after
//!   genesis only where a wrap note states that start.
//! - **Torn records.** A power loss mid-record leaves torn bytes. The next
//!   start does not touch them: it opens the next sector, whose header names
//!   them, and writes their recovery records (`Writer::append_recovered`'s
//!   messages) first. A cut while it does leaves that sector incomplete: the
//!   next start erases it and does it again, so the torn bytes end in exactly
//!   one recovery, and no complete record is ever erased but by a wrap.
//! - **Continuing** reads every sector's header, then the newest sector (and
//!   the sector before it when the newest holds no record): a bounded read,
//!   not the whole region.
//!
//! Costs: RAM is the [`FlashLog`] itself (about 100 bytes besides the flash
//! and clock), a scratch buffer lent to it ([`FlashLog::SCRATCH`] bytes:
//! the longest record it reads back), and stack for one record's draft of `N`
//! bytes while appending (`R` bytes while writing recovery records). Flash:
//! a sector must hold a wrap note and the recovery of one torn record
//! ([`FlashLog::MIN_SECTOR`]: about 6 KiB for `N` = 512, so 8 KiB sectors
//! of one 8 KiB, two 4 KiB or eight 1 KiB erase units); per record, its last
//! word's padding; per torn record, the rest of its sector.
//!
//! Records are in the text format today ([`Encoding::Text`], stated in each
//! header); the compact binary encoding is to be a second [`Encoding`].
//! Keyed chains are not supported yet.
//!
//! ```
//! use immutable_log::flash::{verify_ring, FlashLog, Region, RingVerdict};
//! use immutable_log::mock_flash::MockFlash;
//! use immutable_log::{Level, NoClock};
//!
//! // 32 KiB of RAM-backed flash: 4-byte words, 4 KiB erase units.
//! let mut flash = MockFlash::<32768, 4, 4096>::new();
//! let region = Region { start: 0, sector_size: 8192, sectors: 4 };
//! let mut scratch = [0u8; FlashLog::<MockFlash<32768, 4, 4096>, NoClock, 512>::SCRATCH];
//! {
//!     let mut log: FlashLog<_, _, 512> =
//!         FlashLog::open(&mut flash, region, NoClock, &mut scratch).unwrap();
//!     log.append(Level::Info, format_args!("boot {}", 1)).unwrap();
//! }
//! // After a reset: the chain goes on.
//! let mut log: FlashLog<_, _, 512> =
//!     FlashLog::open(&mut flash, region, NoClock, &mut scratch).unwrap();
//! let head = log.append(Level::Info, format_args!("boot {}", 2)).unwrap();
//! assert_eq!(head.seq, Some(1));
//! drop(log);
//! let mut buf = [0u8; 16384];
//! match verify_ring(&mut flash, &region, &mut buf).unwrap() {
//!     RingVerdict::Intact(report) => assert_eq!(report.records, 2),
//!     other => panic!("{other:?}"),
//! }
//! ```

mod io;
mod layout;
mod note;
mod scan;
mod slots;
mod verify;

use core::fmt;

use embedded_storage::nor_flash::NorFlash;

use crate::clock::{Clock, Timestamp};
use crate::draft::{message_capacity, Draft, TAIL_MAX};
use crate::hash::Hash;
use crate::head::Head;
use crate::level::Level;
use crate::sink::SinkError;
use crate::writer::{WriteError, Writer};
use io::{is_erased, Counter, SinkFault, WordSink};
use layout::{align_up, Header, HEADER_LEN};
use note::Note;
use scan::{scan, SectorScan, Until};
use slots::{read_slot, read_torn, recovery, ring_pos, Slot};

pub use io::{SliceFlash, MAX_WORD};
pub use layout::{Encoding, Region, Tear, Wrap};
pub use verify::{find_region, verify_ring, RingFault, RingReport, RingTorn, RingVerdict};

/// Why a region cannot hold a ring.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum GeometryError {
    /// Fewer than 3 sectors (a wrap note must outlive the sector after the
    /// one it erased).
    TooFewSectors {
        /// The sectors given.
        sectors: u32,
    },
    /// The region's start or its sector size is not a multiple of the
    /// flash's `ERASE_SIZE`.
    NotEraseAligned {
        /// The flash's erase size.
        erase_size: usize,
    },
    /// The region runs past the flash's end.
    OutOfFlash {
        /// The region's end.
        end: u64,
        /// The flash's capacity.
        capacity: usize,
    },
    /// `WRITE_SIZE` or `READ_SIZE` is not a power of two up to [`MAX_WORD`].
    Word {
        /// The flash's `WRITE_SIZE`.
        write_size: usize,
        /// The flash's `READ_SIZE`.
        read_size: usize,
    },
    /// A sector cannot hold a wrap note and the recovery of a torn record
    /// after its header.
    SectorTooSmall {
        /// The sector size needed at least.
        need: u32,
        /// The sector size given.
        have: u32,
    },
}

impl fmt::Display for GeometryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GeometryError::TooFewSectors { sectors } => {
                write!(f, "a ring needs at least 3 sectors, not {sectors}")
            }
            GeometryError::NotEraseAligned { erase_size } => write!(
                f,
                "the region's start and sector size must be multiples of the erase size {erase_size}"
            ),
            GeometryError::OutOfFlash { end, capacity } => write!(
                f,
                "the region ends at byte {end}, past the flash's {capacity} bytes"
            ),
            GeometryError::Word {
                write_size,
                read_size,
            } => write!(
                f,
                "write size {write_size} and read size {read_size} must be powers of two up to {MAX_WORD}"
            ),
            GeometryError::SectorTooSmall { need, have } => write!(
                f,
                "sectors of {have} bytes are too small: a sector must hold a wrap note and the \
                 recovery of a torn record, {need} bytes with its header"
            ),
        }
    }
}

impl core::error::Error for GeometryError {}

/// A flash log failed; unless said otherwise, nothing was appended.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum FlashError<E> {
    /// The flash failed (a power cut, in the test double). The log repairs
    /// what it left when it is next used, or opened after a reset.
    Flash(E),
    /// The region does not suit a ring.
    Geometry(GeometryError),
    /// The scratch buffer is shorter than [`FlashLog::SCRATCH`].
    ScratchTooSmall {
        /// Bytes needed.
        need: usize,
        /// Bytes lent.
        have: usize,
    },
    /// The ring's content fails its check where the log must read it to go
    /// on: it is not continued (nor erased).
    Corrupt(RingFault),
    /// A record longer than a sector's room (cannot happen with a region
    /// that passed the geometry check).
    RecordTooLong {
        /// The record's length in flash.
        len: usize,
    },
    /// The flash keeps undoing the repair without reporting an error.
    RepairLoop,
}

impl<E: fmt::Debug> fmt::Display for FlashError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlashError::Flash(e) => write!(f, "the flash failed: {e:?}"),
            FlashError::Geometry(e) => e.fmt(f),
            FlashError::ScratchTooSmall { need, have } => write!(
                f,
                "the scratch buffer has {have} bytes, the ring needs {need}"
            ),
            FlashError::Corrupt(fault) => write!(f, "the flash log is not continued: {fault}"),
            FlashError::RecordTooLong { len } => {
                write!(f, "a record of {len} bytes does not fit a sector")
            }
            FlashError::RepairLoop => {
                f.write_str("the flash log's repair does not hold (the flash loses what it is given)")
            }
        }
    }
}

impl<E: fmt::Debug> core::error::Error for FlashError<E> {}

/// The longest record a draft of `n` bytes makes: the display line (64 +
/// the display, at most the escaped message, + 66), the block line (11 +
/// the block + 1).
const fn record_max(n: usize) -> usize {
    2 * n + 160
}

/// Room for a recovery part's header in its message (`recovery.rs`).
const RECOVERY_HEADER: usize = 200;

/// A tamper-evident log in a ring of flash sectors. See the [module
/// docs](self) for the scheme and its costs.
///
/// `F` is the flash (the whole chip; the ring uses `region` of it), `C` the
/// clock, `N` the record buffer (as [`Chain`](crate::Chain)'s), `R` the
/// record buffer of recovery records (larger: fewer, shorter recoveries).
/// It takes `&mut self`: to share it, put it behind your mutex.
pub struct FlashLog<'s, F, C, const N: usize, const R: usize = 2048> {
    flash: F,
    clock: C,
    scratch: &'s mut [u8],
    region: Region,
    /// The oldest and newest sector's numbers.
    oldest: u64,
    newest: u64,
    /// Where the next record goes.
    pos: u32,
    head: Option<Head>,
    /// The flash failed: repair before the next append.
    broken: bool,
}

impl<F: fmt::Debug, C, const N: usize, const R: usize> fmt::Debug for FlashLog<'_, F, C, N, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FlashLog")
            .field("flash", &self.flash)
            .field("region", &self.region)
            .field("oldest", &self.oldest)
            .field("newest", &self.newest)
            .field("pos", &self.pos)
            .field("head", &self.head)
            .finish_non_exhaustive()
    }
}

impl<'s, F: NorFlash, C: Clock, const N: usize, const R: usize> FlashLog<'s, F, C, N, R> {
    const WORD: usize = F::WRITE_SIZE;

    /// The longest torn record: a record, and a word's garbage.
    const TORN_MAX: usize = record_max(N) + Self::WORD;

    /// Bytes of recovery records for the longest torn record, at most.
    const RECOVERY_MAX: usize = {
        let room = message_capacity(R).saturating_sub(RECOVERY_HEADER);
        // As text, each byte escapes to 2 at most (6 for the few garbled
        // control characters a cut word can hold); as hex, to 2.
        let payload = 2 * Self::TORN_MAX + 6 * Self::WORD;
        let hex_parts = Self::TORN_MAX.div_ceil(if room / 2 > 0 { room / 2 } else { 1 });
        let text_parts = payload.div_ceil(if room > 8 { room - 8 } else { 1 });
        let parts = if hex_parts > text_parts {
            hex_parts
        } else {
            text_parts
        };
        // Each part: both lines' fixed parts, its header twice (display and
        // block), the block's tail; the payload twice (display and block).
        parts * (160 + TAIL_MAX + 2 * RECOVERY_HEADER + Self::WORD) + 2 * payload
    };

    /// The scratch buffer a log needs: the longest record it reads back (a
    /// recovery record), and the torn bytes it keeps.
    pub const SCRATCH: usize = {
        let part = 160
            + TAIL_MAX
            + 2 * (RECOVERY_HEADER + message_capacity(R))
            + Self::WORD;
        let user = record_max(N) + Self::WORD;
        if part > user {
            part
        } else {
            user
        }
    };

    /// The smallest sector a log accepts: its header and dead mark, a wrap
    /// note, and the recovery of the longest torn record.
    pub const MIN_SECTOR: usize =
        HEADER_LEN + 2 * MAX_WORD + record_max(N) + Self::WORD + Self::RECOVERY_MAX;

    /// A log over `region` of `flash`, with `scratch` lent for reading back
    /// (at least [`SCRATCH`](Self::SCRATCH) bytes). Checks the geometry only;
    /// the first append (or [`recover`](Self::recover)) reads the flash.
    pub fn new(
        flash: F,
        region: Region,
        clock: C,
        scratch: &'s mut [u8],
    ) -> Result<Self, FlashError<F::Error>> {
        check_geometry::<F>(&flash, &region, Self::MIN_SECTOR).map_err(FlashError::Geometry)?;
        if scratch.len() < Self::SCRATCH {
            return Err(FlashError::ScratchTooSmall {
                need: Self::SCRATCH,
                have: scratch.len(),
            });
        }
        Ok(FlashLog {
            flash,
            clock,
            scratch,
            region,
            oldest: 0,
            newest: 0,
            pos: 0,
            head: None,
            broken: true,
        })
    }

    /// [`new`](Self::new), then [`recover`](Self::recover): the log, ready to
    /// append after its last record.
    pub fn open(
        flash: F,
        region: Region,
        clock: C,
        scratch: &'s mut [u8],
    ) -> Result<Self, FlashError<F::Error>> {
        let mut log = Self::new(flash, region, clock, scratch)?;
        log.recover()?;
        Ok(log)
    }

    /// The last record in the ring (`None` while it holds none, or before
    /// the flash was read).
    pub fn head(&self) -> Option<Head> {
        self.head
    }

    /// The region the ring lives in.
    pub fn region(&self) -> &Region {
        &self.region
    }

    /// The flash.
    pub fn flash(&self) -> &F {
        &self.flash
    }

    /// Gives the flash back.
    pub fn into_flash(self) -> F {
        self.flash
    }

    /// Appends a record: formats it into a draft of `N` bytes on the stack,
    /// and writes it (see [`append_draft`](Self::append_draft)).
    pub fn append(
        &mut self,
        level: Level,
        message: fmt::Arguments<'_>,
    ) -> Result<Head, FlashError<F::Error>> {
        let mut draft = Draft::<N>::new(level, message);
        self.append_draft(&mut draft)
    }

    /// Appends a formatted record. When the flash failed before, it first
    /// repairs (as after a reset). When `Ok`, every word of the record is
    /// programmed. On a flash error the head does not advance; torn bytes
    /// left behind are kept in recovery records by the next repair.
    pub fn append_draft(&mut self, draft: &mut Draft<N>) -> Result<Head, FlashError<F::Error>> {
        if self.broken {
            self.recover()?;
        }
        let timestamp = self.clock.now();
        let len = align_up(measure(draft, self.head, timestamp) as u32, Self::WORD as u32);
        let slot = self.region.slot(self.newest);
        if self.pos.saturating_add(len) > self.region.end(slot) {
            self.guard(|log| log.open_sector(log.newest + 1, None))?;
        }
        self.guard(|log| log.write_record(draft, timestamp))
    }

    /// Runs `op`, and marks the log for repair if the flash failed.
    fn guard<T>(
        &mut self,
        op: impl FnOnce(&mut Self) -> Result<T, FlashError<F::Error>>,
    ) -> Result<T, FlashError<F::Error>> {
        let result = op(self);
        if matches!(result, Err(FlashError::Flash(_))) {
            self.broken = true;
        }
        result
    }

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
    fn scan_sector(&mut self, number: u64, until: Until) -> Result<SectorScan, FlashError<F::Error>> {
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
    fn head_before(&mut self, number: u64) -> Result<Option<Head>, FlashError<F::Error>> {
        for n in (self.oldest..number).rev() {
            if let Some(last) = self.scan_sector(n, Until::End)?.last {
                return Ok(Some(last));
            }
        }
        Ok(None)
    }

    /// How many records a sector with `header` starts with: its wrap note,
    /// and the recovery records of the torn bytes it names.
    fn prefix_len(&mut self, header: &Header) -> Result<u32, FlashError<F::Error>> {
        let mut len = u32::from(header.wrap.is_some());
        if let Some(tear) = header.tear.filter(|t| t.sector >= self.oldest) {
            let pos = ring_pos(&self.region, tear.sector, self.torn_at(&tear));
            let torn = self.read_torn(&tear)?;
            len += recovery(torn, pos, header.recovery).parts().count() as u32;
        }
        Ok(len)
    }

    /// The flash offset of the torn bytes `tear` names.
    fn torn_at(&self, tear: &Tear) -> u32 {
        self.region
            .data_start(self.region.slot(tear.sector), Self::WORD as u32)
            .saturating_add(tear.offset)
    }

    /// Reads the torn bytes `tear` names into the scratch buffer.
    fn read_torn(&mut self, tear: &Tear) -> Result<&[u8], FlashError<F::Error>> {
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

    /// Opens sector `number` in its slot (erased first if need be): its
    /// header, then its prefix (a wrap note when this leaves no erased
    /// sector, the recovery of `tear`), then the wrap's erase.
    fn open_sector(&mut self, number: u64, tear: Option<Tear>) -> Result<(), FlashError<F::Error>> {
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
    fn write_recovery(
        &mut self,
        scratch: &mut [u8],
        tear: &Tear,
        pos: u64,
        timestamp: Timestamp,
    ) -> Result<(), FlashError<F::Error>> {
        let at = self.torn_at(tear);
        let n = read_torn(&mut self.flash, &self.region, Self::WORD as u32, tear, scratch)
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
    fn wrap_info(&mut self) -> Result<Wrap, FlashError<F::Error>> {
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
    fn retire_oldest(&mut self) -> Result<(), FlashError<F::Error>> {
        let slot = self.region.slot(self.oldest);
        self.erase_slot(slot)?;
        self.oldest += 1;
        Ok(())
    }

    /// Marks a slot dead (so a cut erase cannot leave a header that reads
    /// whole), then erases it.
    fn erase_slot(&mut self, slot: u32) -> Result<(), FlashError<F::Error>> {
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

    /// Writes one record at the write position, in the newest sector.
    fn write_record<const M: usize>(
        &mut self,
        draft: &mut Draft<M>,
        timestamp: Timestamp,
    ) -> Result<Head, FlashError<F::Error>> {
        let end = self.region.end(self.region.slot(self.newest));
        let sink = WordSink::new(&mut self.flash, self.pos, end);
        let mut writer = Writer::resume(sink, self.head);
        let written = writer.append_draft(draft, timestamp, 0);
        let sink = writer.into_sink();
        let head = match written {
            Ok(head) => head,
            Err(WriteError::Sink(SinkError::Io(SinkFault::Flash(e)))) => {
                return Err(FlashError::Flash(e))
            }
            Err(_) => {
                return Err(FlashError::RecordTooLong {
                    len: measure(draft, self.head, timestamp),
                })
            }
        };
        self.pos = match sink.finish() {
            Ok(pos) => pos,
            Err(SinkFault::Flash(e)) => return Err(FlashError::Flash(e)),
            Err(SinkFault::Full | SinkFault::Stopped) => {
                return Err(FlashError::RecordTooLong {
                    len: measure(draft, self.head, timestamp),
                })
            }
        };
        self.head = Some(head);
        Ok(head)
    }
}

/// The length of `draft`'s record after `head`, at `timestamp`.
fn measure<const M: usize>(draft: &mut Draft<M>, head: Option<Head>, timestamp: Timestamp) -> usize {
    let mut writer = Writer::resume(Counter::default(), head);
    // A counter takes every byte and a plain writer seals without fail.
    let _ = writer.append_draft(draft, timestamp, 0);
    writer.into_sink().0
}

/// Checks that `region` of `flash` can hold a ring with sectors of at least
/// `min_sector` bytes.
fn check_geometry<F: NorFlash>(
    flash: &F,
    region: &Region,
    min_sector: usize,
) -> Result<(), GeometryError> {
    let word_ok = |n: usize| n > 0 && n.is_power_of_two() && n <= MAX_WORD;
    if !word_ok(F::WRITE_SIZE) || !word_ok(F::READ_SIZE) {
        return Err(GeometryError::Word {
            write_size: F::WRITE_SIZE,
            read_size: F::READ_SIZE,
        });
    }
    if region.sectors < 3 {
        return Err(GeometryError::TooFewSectors {
            sectors: region.sectors,
        });
    }
    let erase = F::ERASE_SIZE.max(1);
    if region.start as usize % erase != 0
        || region.sector_size as usize % erase != 0
        || region.sector_size as usize % MAX_WORD != 0
    {
        return Err(GeometryError::NotEraseAligned { erase_size: erase });
    }
    let end = u64::from(region.start) + u64::from(region.sector_size) * u64::from(region.sectors);
    if end > flash.capacity() as u64 || end > u64::from(u32::MAX) {
        return Err(GeometryError::OutOfFlash {
            end,
            capacity: flash.capacity(),
        });
    }
    if (region.sector_size as usize) < min_sector {
        return Err(GeometryError::SectorTooSmall {
            need: min_sector as u32,
            have: region.sector_size,
        });
    }
    Ok(())
}
