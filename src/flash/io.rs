//! Reading and programming a `NorFlash` by its rules: reads in `READ_SIZE`
//! units, programs in whole `WRITE_SIZE` words (each once between erases), a
//! record's last word padded with `0xFF`.

use core::fmt;

use embedded_storage::nor_flash::{ErrorType, NorFlash, NorFlashErrorKind, ReadNorFlash};

/// The largest `READ_SIZE` and `WRITE_SIZE` the ring works with: reads and
/// programs go through a buffer of this many bytes on the stack.
pub const MAX_WORD: usize = 64;

/// Reads `out.len()` bytes from `offset`, in `READ_SIZE`-aligned pieces.
pub(crate) fn read<F: ReadNorFlash>(
    flash: &mut F,
    offset: u32,
    out: &mut [u8],
) -> Result<(), F::Error> {
    let unit = F::READ_SIZE.max(1);
    let mut chunk = [0u8; MAX_WORD];
    // Whole units that fit the chunk (READ_SIZE <= MAX_WORD is checked at open).
    let room = (MAX_WORD / unit).max(1) * unit;
    let mut done = 0usize;
    while done < out.len() {
        let at = offset as usize + done;
        let skip = at % unit;
        let want = (skip + out.len() - done).div_ceil(unit) * unit;
        let take = want.min(room);
        let Some(buf) = chunk.get_mut(..take) else {
            break;
        };
        flash.read((at - skip) as u32, buf)?;
        let got = buf.get(skip..).unwrap_or_default();
        let n = got.len().min(out.len() - done);
        if let (Some(dst), Some(src)) = (out.get_mut(done..done + n), got.get(..n)) {
            dst.copy_from_slice(src);
        }
        done += n.max(1);
    }
    Ok(())
}

/// True when every byte of `offset..offset + len` reads `0xFF`.
pub(crate) fn is_erased<F: ReadNorFlash>(
    flash: &mut F,
    offset: u32,
    len: u32,
) -> Result<bool, F::Error> {
    let mut chunk = [0u8; MAX_WORD];
    let mut at = 0;
    while at < len {
        let n = (len - at).min(MAX_WORD as u32);
        let buf = chunk.get_mut(..n as usize).unwrap_or_default();
        read(flash, offset + at, buf)?;
        if buf.iter().any(|&b| b != 0xFF) {
            return Ok(false);
        }
        at += n;
    }
    Ok(true)
}

/// Why a [`WordSink`] stopped.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum SinkFault<E> {
    /// The flash failed.
    Flash(E),
    /// The sector has no room left (the record was measured first, so this
    /// means a bug, reported rather than written past the sector).
    Full,
    /// A program failed before: nothing more is written.
    Stopped,
}

impl<E: fmt::Debug> embedded_io::Error for SinkFault<E> {
    fn kind(&self) -> embedded_io::ErrorKind {
        embedded_io::ErrorKind::Other
    }
}

impl<E: fmt::Debug> fmt::Display for SinkFault<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SinkFault::Flash(e) => write!(f, "flash error: {e:?}"),
            SinkFault::Full => f.write_str("the sector is full"),
            SinkFault::Stopped => f.write_str("a program failed before"),
        }
    }
}

impl<E: fmt::Debug> core::error::Error for SinkFault<E> {}

/// A record's sink: programs whole words from `pos`, never past `end`; the
/// last partial word is padded with `0xFF` by [`finish`](Self::finish).
pub(crate) struct WordSink<'f, F: ErrorType> {
    flash: &'f mut F,
    pos: u32,
    end: u32,
    /// Bytes not programmed yet: fewer than a chunk.
    pending: [u8; MAX_WORD],
    len: usize,
    failed: bool,
}

impl<'f, F: NorFlash> WordSink<'f, F> {
    pub(crate) fn new(flash: &'f mut F, pos: u32, end: u32) -> Self {
        WordSink {
            flash,
            pos,
            end,
            pending: [0xFF; MAX_WORD],
            len: 0,
            failed: false,
        }
    }

    /// The bytes of `pending` that make whole words: programmed and dropped.
    fn program(&mut self, pad: bool) -> Result<(), SinkFault<F::Error>> {
        let word = F::WRITE_SIZE.max(1);
        let len = if pad {
            self.len.div_ceil(word) * word
        } else {
            self.len / word * word
        };
        if len == 0 {
            return Ok(());
        }
        if self.pos as usize + len > self.end as usize {
            return Err(SinkFault::Full);
        }
        if let Some(tail) = self.pending.get_mut(self.len..len) {
            tail.fill(0xFF);
        }
        let bytes = self.pending.get(..len).unwrap_or_default();
        self.flash
            .write(self.pos, bytes)
            .map_err(SinkFault::Flash)?;
        self.pos += len as u32;
        self.pending.copy_within(len.min(self.len).., 0);
        self.len = self.len.saturating_sub(len);
        self.pending
            .get_mut(self.len..)
            .unwrap_or_default()
            .fill(0xFF);
        Ok(())
    }

    /// Programs what is left, its last word padded with `0xFF`; returns
    /// where the next record starts.
    pub(crate) fn finish(mut self) -> Result<u32, SinkFault<F::Error>> {
        if self.failed {
            return Err(SinkFault::Stopped);
        }
        self.program(true)?;
        Ok(self.pos)
    }
}

impl<F: NorFlash> embedded_io::ErrorType for WordSink<'_, F> {
    type Error = SinkFault<F::Error>;
}

impl<F: NorFlash> embedded_io::Write for WordSink<'_, F> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        if self.failed {
            return Err(SinkFault::Stopped);
        }
        let n = buf.len().min(MAX_WORD - self.len);
        if let (Some(dst), Some(src)) = (self.pending.get_mut(self.len..self.len + n), buf.get(..n))
        {
            dst.copy_from_slice(src);
        }
        self.len += n;
        if self.len == MAX_WORD {
            if let Err(fault) = self.program(false) {
                self.failed = true;
                return Err(fault);
            }
        }
        Ok(n)
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// A flash dump in memory, read as a flash (`READ_SIZE` 1): what
/// [`verify_ring`](super::verify_ring) reads on a host.
#[derive(Clone, Copy, Debug)]
pub struct SliceFlash<'a>(pub &'a [u8]);

impl ErrorType for SliceFlash<'_> {
    type Error = NorFlashErrorKind;
}

impl ReadNorFlash for SliceFlash<'_> {
    const READ_SIZE: usize = 1;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), Self::Error> {
        let start = offset as usize;
        let src = self
            .0
            .get(start..start.saturating_add(bytes.len()))
            .ok_or(NorFlashErrorKind::OutOfBounds)?;
        bytes.copy_from_slice(src);
        Ok(())
    }

    fn capacity(&self) -> usize {
        self.0.len()
    }
}
