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
//! ([`FlashLog::MIN_SECTOR`]: 7,932 bytes for `N` = 512 and 8-byte words, so 8 KiB sectors
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

mod boot;
mod error;
mod fault;
mod io;
mod layout;
mod note;
mod open;
mod scan;
mod slots;
mod verify;

use core::fmt;

use embedded_storage::nor_flash::NorFlash;

use crate::clock::{Clock, Timestamp};
use crate::draft::{message_capacity, Draft, TAIL_MAX};
use crate::head::Head;
use crate::level::Level;
use crate::sink::Counter;
use crate::sink::SinkError;
use crate::writer::{WriteError, Writer};
use error::check_geometry;
use io::{SinkFault, WordSink};
use layout::{align_up, HEADER_LEN};

pub use error::{FlashError, GeometryError};
pub use fault::RingFault;
pub use io::{SliceFlash, MAX_WORD};
pub use layout::{Encoding, Region, Tear, Wrap};
pub use verify::{find_region, read_ring, verify_ring, RingReport, RingTorn, RingVerdict};

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
        let part = 160 + TAIL_MAX + 2 * (RECOVERY_HEADER + message_capacity(R)) + Self::WORD;
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
        let len = align_up(
            measure(draft, self.head, timestamp) as u32,
            Self::WORD as u32,
        );
        let slot = self.region.slot(self.newest);
        let mut timestamp = timestamp;
        if self.pos.saturating_add(len) > self.region.end(slot) {
            self.guard(|log| log.open_sector(log.newest + 1, None))?;
            // After the opening's records.
            timestamp = self.clock.now();
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
fn measure<const M: usize>(
    draft: &mut Draft<M>,
    head: Option<Head>,
    timestamp: Timestamp,
) -> usize {
    let mut writer = Writer::resume(Counter::default(), head);
    // A counter takes every byte and a plain writer seals without fail.
    let _ = writer.append_draft(draft, timestamp, 0);
    writer.into_sink().0
}
