//! What can go wrong with a flash log: a region that cannot hold a ring,
//! and the errors of its operations.

use core::fmt;

use embedded_storage::nor_flash::NorFlash;

use super::fault::RingFault;
use super::io::MAX_WORD;
use super::layout::Region;

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
    /// The scratch buffer is shorter than [`FlashLog::SCRATCH`](super::FlashLog::SCRATCH).
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
            FlashError::RepairLoop => f.write_str(
                "the flash log's repair does not hold (the flash loses what it is given)",
            ),
        }
    }
}

impl<E: fmt::Debug> core::error::Error for FlashError<E> {}

/// Checks that `region` of `flash` can hold a ring with sectors of at least
/// `min_sector` bytes.
pub(super) fn check_geometry<F: NorFlash>(
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
    if !(region.start as usize).is_multiple_of(erase)
        || !(region.sector_size as usize).is_multiple_of(erase)
        || !(region.sector_size as usize).is_multiple_of(MAX_WORD)
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
