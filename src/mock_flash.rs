//! A NOR flash in RAM that can lose power: the one test double of the flash
//! ring, shared by its tests, its doc examples and its fuzz target (in the
//! style of `sequential-storage`'s `mock_flash.rs`), and a RAM-backed
//! `NorFlash` for a firmware run in QEMU.
//!
//! [`MockFlash<SIZE, WORD, ERASE>`](MockFlash) holds `SIZE` bytes in an array
//! (no heap; `new` is `const`, so it can be a `static`). It keeps NOR's rules
//! and refuses, with an error, what real parts do not allow:
//!
//! - erased bytes read `0xFF`; an erase sets whole `ERASE`-byte units to `0xFF`;
//! - reads and programs are `WORD`-aligned in offset and length
//!   (`READ_SIZE` = `WRITE_SIZE` = `WORD`), erases `ERASE`-aligned;
//! - a word is programmed once between erases: programming a word that is not
//!   all `0xFF` is [`MockFlashError::NotErased`] (plain `NorFlash`, not
//!   `MultiwriteNorFlash`).
//!
//! Power cuts: [`cut_after(n, mask)`](MockFlash::cut_after) lets `n` more
//! operations complete (each word programmed and each erase unit erased is
//! one operation) and cuts the next one short; from then on every call fails
//! with [`MockFlashError::PowerOff`] until [`power_on`](MockFlash::power_on).
//! A cut program leaves each byte of its word as `target | mask` (bits still
//! at 1: `0xFF` leaves the word as if never programmed); a cut erase leaves
//! the first half of its unit erased and the second half garbled.
//!
//! ```
//! use embedded_storage::nor_flash::{NorFlash, ReadNorFlash};
//! use immutable_log::mock_flash::{MockFlash, MockFlashError};
//!
//! let mut flash = MockFlash::<4096, 4, 1024>::new();
//! flash.write(0, b"abcd").unwrap();
//! assert_eq!(flash.write(0, b"abcd"), Err(MockFlashError::NotErased { offset: 0 }));
//! flash.cut_after(1, 0xFF);
//! flash.write(4, b"efghijkl").unwrap_err(); // "efgh" programmed, then the cut
//! assert_eq!(&flash.as_bytes()[..12], b"abcdefgh\xff\xff\xff\xff");
//! let mut word = [0; 4];
//! assert_eq!(flash.read(0, &mut word), Err(MockFlashError::PowerOff));
//! flash.power_on();
//! flash.erase(0, 1024).unwrap();
//! assert!(flash.as_bytes()[..1024].iter().all(|&b| b == 0xFF));
//! ```

use core::fmt;

use embedded_storage::nor_flash::{
    ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};

/// What a [`MockFlash`] refused, or the power cut it simulated.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum MockFlashError {
    /// The range runs past the end of the flash.
    OutOfBounds,
    /// The offset or length is not a multiple of the word (or erase) size.
    NotAligned,
    /// A program of a word that is not erased (programmed twice).
    NotErased {
        /// The word's first byte.
        offset: u32,
    },
    /// The power failed during this operation: it was cut short.
    PowerCut {
        /// The byte offset of the word, or the start of the erase unit, cut.
        offset: u32,
    },
    /// The power is off (after a cut, until [`MockFlash::power_on`]).
    PowerOff,
}

impl fmt::Display for MockFlashError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MockFlashError::OutOfBounds => f.write_str("flash range out of bounds"),
            MockFlashError::NotAligned => f.write_str("flash range not aligned"),
            MockFlashError::NotErased { offset } => {
                write!(f, "program of the word at {offset}, which is not erased")
            }
            MockFlashError::PowerCut { offset } => {
                write!(f, "power cut during the operation at {offset}")
            }
            MockFlashError::PowerOff => f.write_str("the flash has no power"),
        }
    }
}

impl core::error::Error for MockFlashError {}

impl NorFlashError for MockFlashError {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            MockFlashError::OutOfBounds => NorFlashErrorKind::OutOfBounds,
            MockFlashError::NotAligned => NorFlashErrorKind::NotAligned,
            _ => NorFlashErrorKind::Other,
        }
    }
}

/// A planned power cut.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Cut {
    /// Operations still allowed to complete.
    left: u64,
    /// Bits a cut program leaves at 1.
    mask: u8,
}

/// `SIZE` bytes of NOR flash in RAM, programmed in `WORD`-byte words and
/// erased in `ERASE`-byte units, that can lose power after any operation.
/// See the [module docs](self).
#[derive(Clone, Debug)]
pub struct MockFlash<const SIZE: usize, const WORD: usize, const ERASE: usize> {
    mem: [u8; SIZE],
    cut: Option<Cut>,
    off: bool,
    ops: u64,
    erases: u64,
    bytes_read: u64,
}

impl<const SIZE: usize, const WORD: usize, const ERASE: usize> Default
    for MockFlash<SIZE, WORD, ERASE>
{
    fn default() -> Self {
        Self::new()
    }
}

impl<const SIZE: usize, const WORD: usize, const ERASE: usize> MockFlash<SIZE, WORD, ERASE> {
    const SIZES_OK: () = assert!(
        WORD > 0
            && ERASE.is_multiple_of(WORD)
            && SIZE.is_multiple_of(ERASE)
            && SIZE <= u32::MAX as usize,
        "MockFlash: ERASE must be a multiple of WORD, SIZE of ERASE"
    );

    /// An erased flash with power on.
    pub const fn new() -> Self {
        let () = Self::SIZES_OK;
        MockFlash {
            mem: [0xFF; SIZE],
            cut: None,
            off: false,
            ops: 0,
            erases: 0,
            bytes_read: 0,
        }
    }

    /// A flash whose bytes are all 0, as RAM in `.bss` starts (`new`'s
    /// `0xFF` bytes would put the whole array in `.data`, and in the firmware
    /// image). Not erased: a [`FlashLog`](crate::flash::FlashLog) erases it
    /// at its first start.
    ///
    /// ```
    /// use immutable_log::flash::{FlashLog, Region};
    /// use immutable_log::mock_flash::MockFlash;
    /// use immutable_log::{Level, NoClock};
    ///
    /// static mut FLASH: MockFlash<32768, 4, 4096> = MockFlash::zeroed();
    /// # #[allow(static_mut_refs)]
    /// let flash = unsafe { &mut FLASH }; // once, at boot
    /// let region = Region { start: 0, sector_size: 8192, sectors: 4 };
    /// let mut scratch = [0u8; 8192];
    /// let mut log: FlashLog<_, _, 512> = FlashLog::open(flash, region, NoClock, &mut scratch).unwrap();
    /// assert_eq!(log.append(Level::Info, format_args!("first")).unwrap().seq, Some(0));
    /// ```
    pub const fn zeroed() -> Self {
        let () = Self::SIZES_OK;
        MockFlash {
            mem: [0; SIZE],
            cut: None,
            off: false,
            ops: 0,
            erases: 0,
            bytes_read: 0,
        }
    }

    /// Lets `ops` more operations complete, then cuts the next one short;
    /// a cut program leaves each byte of its word as `target | mask`.
    pub fn cut_after(&mut self, ops: u64, mask: u8) {
        self.cut = Some(Cut { left: ops, mask });
    }

    /// Power back on, with no cut planned.
    pub fn power_on(&mut self) {
        self.cut = None;
        self.off = false;
    }

    /// True after a cut, until [`power_on`](Self::power_on).
    pub fn is_off(&self) -> bool {
        self.off
    }

    /// Operations (word programs and unit erases) attempted so far.
    pub fn ops(&self) -> u64 {
        self.ops
    }

    /// Erase units erased (or cut while erasing) so far.
    pub fn erases(&self) -> u64 {
        self.erases
    }

    /// Bytes read so far.
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read
    }

    /// The whole flash, as a dump would read it.
    pub fn as_bytes(&self) -> &[u8] {
        &self.mem
    }

    /// The whole flash, to tamper with it behind the traits' back.
    pub fn as_bytes_mut(&mut self) -> &mut [u8] {
        &mut self.mem
    }

    /// Counts one operation: `Ok(true)` to do it, `Ok(false)` to cut it.
    fn step(&mut self) -> Result<bool, MockFlashError> {
        if self.off {
            return Err(MockFlashError::PowerOff);
        }
        self.ops += 1;
        match &mut self.cut {
            Some(Cut { left: 0, .. }) => {
                self.off = true;
                Ok(false)
            }
            Some(Cut { left, .. }) => {
                *left -= 1;
                Ok(true)
            }
            None => Ok(true),
        }
    }

    /// The byte range `offset..offset + len`, checked against `align`.
    fn range(
        offset: u32,
        len: usize,
        align: usize,
    ) -> Result<core::ops::Range<usize>, MockFlashError> {
        let start = offset as usize;
        let end = start.checked_add(len).ok_or(MockFlashError::OutOfBounds)?;
        if end > SIZE {
            return Err(MockFlashError::OutOfBounds);
        }
        if !start.is_multiple_of(align) || !len.is_multiple_of(align) {
            return Err(MockFlashError::NotAligned);
        }
        Ok(start..end)
    }
}

impl<const SIZE: usize, const WORD: usize, const ERASE: usize> ErrorType
    for MockFlash<SIZE, WORD, ERASE>
{
    type Error = MockFlashError;
}

impl<const SIZE: usize, const WORD: usize, const ERASE: usize> ReadNorFlash
    for MockFlash<SIZE, WORD, ERASE>
{
    const READ_SIZE: usize = WORD;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), Self::Error> {
        if self.off {
            return Err(MockFlashError::PowerOff);
        }
        let range = Self::range(offset, bytes.len(), WORD)?;
        let src = self.mem.get(range).ok_or(MockFlashError::OutOfBounds)?;
        bytes.copy_from_slice(src);
        self.bytes_read += bytes.len() as u64;
        Ok(())
    }

    fn capacity(&self) -> usize {
        SIZE
    }
}

impl<const SIZE: usize, const WORD: usize, const ERASE: usize> NorFlash
    for MockFlash<SIZE, WORD, ERASE>
{
    const WRITE_SIZE: usize = WORD;
    const ERASE_SIZE: usize = ERASE;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), Self::Error> {
        if self.off {
            return Err(MockFlashError::PowerOff);
        }
        let len = to.checked_sub(from).ok_or(MockFlashError::OutOfBounds)? as usize;
        let range = Self::range(from, len, ERASE)?;
        for unit in range.step_by(ERASE) {
            self.erases += 1;
            let complete = self.step()?;
            let bytes = self
                .mem
                .get_mut(unit..unit + ERASE)
                .ok_or(MockFlashError::OutOfBounds)?;
            if complete {
                bytes.fill(0xFF);
            } else {
                let (erased, garbled) = bytes.split_at_mut(ERASE / 2);
                erased.fill(0xFF);
                garbled.iter_mut().for_each(|b| *b |= 0x5A);
                return Err(MockFlashError::PowerCut {
                    offset: unit as u32,
                });
            }
        }
        Ok(())
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), Self::Error> {
        if self.off {
            return Err(MockFlashError::PowerOff);
        }
        let range = Self::range(offset, bytes.len(), WORD)?;
        for (at, word) in range.step_by(WORD).zip(bytes.chunks_exact(WORD)) {
            let cell = self
                .mem
                .get_mut(at..at + WORD)
                .ok_or(MockFlashError::OutOfBounds)?;
            if cell.iter().any(|&b| b != 0xFF) {
                return Err(MockFlashError::NotErased { offset: at as u32 });
            }
            let mask = self.cut.map_or(0, |c| c.mask);
            let complete = self.step()?;
            let cell = self
                .mem
                .get_mut(at..at + WORD)
                .ok_or(MockFlashError::OutOfBounds)?;
            for (dst, &src) in cell.iter_mut().zip(word) {
                *dst &= if complete { src } else { src | mask };
            }
            if !complete {
                return Err(MockFlashError::PowerCut { offset: at as u32 });
            }
        }
        Ok(())
    }
}
