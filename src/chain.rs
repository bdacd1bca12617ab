//! A chain that can be a `static`: its writer and record buffer behind a spin
//! lock, shared by tasks and interrupt handlers.

use core::fmt;

#[cfg(not(feature = "portable-atomic"))]
use core::sync::atomic::{AtomicU32, Ordering};
#[cfg(feature = "portable-atomic")]
use portable_atomic::{AtomicU32, Ordering};

use crate::clock::Clock;
use crate::draft::Draft;
use crate::head::Head;
use crate::level::Level;
use crate::seal::{Plain, Seal, SealError};
use crate::sink::SinkError;
use crate::writer::{WriteError, Writer};

/// An append failed; nothing of the record is in the chain.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum AppendError<E> {
    /// The sink failed; the head did not advance.
    Sink(SinkError<E>),
    /// A keyed chain's key is not the one for this record; nothing was written.
    Seal(SealError),
    /// [`Chain::try_append`] found the chain busy. The record was counted, and
    /// the next record written says how many were lost (`"unlogged":N`).
    Busy,
}

impl<E> From<WriteError<E>> for AppendError<E> {
    fn from(e: WriteError<E>) -> Self {
        match e {
            WriteError::Sink(e) => AppendError::Sink(e),
            WriteError::Seal(e) => AppendError::Seal(e),
        }
    }
}

impl<E: fmt::Debug> fmt::Display for AppendError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppendError::Sink(e) => write!(f, "record not appended: {e}"),
            AppendError::Seal(e) => write!(f, "record not appended: {e}"),
            AppendError::Busy => {
                f.write_str("record not appended: the chain was busy (counted as unlogged)")
            }
        }
    }
}

impl<E: fmt::Debug> core::error::Error for AppendError<E> {}

/// A hash chain over a sink `W`, with clock `C` and a record buffer of `N`
/// bytes, that can live in a `static`.
///
/// Each record is formatted into a [`Draft`] of `N` bytes on the caller's
/// stack, outside the lock. The writer (head and sink) sits behind a spin lock:
/// [`append`](Self::append) waits for it, [`try_append`](Self::try_append)
/// never does, so an interrupt handler cannot deadlock against the code it
/// interrupted. A record that `try_append` could not write is counted, and the
/// next record written carries the count (`"unlogged":N`), covered by its
/// hash: the verifier sees every loss.
///
/// `N` bounds a whole `block_json`; see [`message_capacity`](crate::message_capacity)
/// for the message room it leaves. It must be at least
/// [`MIN_CAPACITY`](crate::MIN_CAPACITY) (checked at compile time).
///
/// `S` is how records are sealed: [`Plain`] (the default) or a
/// [`SealKey`](crate::SealKey) for a keyed, forward-secure chain.
pub struct Chain<W, C, const N: usize, S = Plain> {
    writer: spin::Mutex<Writer<W, S>>,
    clock: C,
    unlogged: AtomicU32,
}

impl<W, C, const N: usize> Chain<W, C, N> {
    /// A new plain chain at genesis.
    pub const fn new(sink: W, clock: C) -> Self {
        Self::resume(sink, clock, None)
    }

    /// A plain chain that continues after `head` (`None`: at genesis), as
    /// found by [`resume`](crate::resume()).
    pub const fn resume(sink: W, clock: C, head: Option<Head>) -> Self {
        Self::from_writer(Writer::resume(sink, head), clock)
    }
}

impl<W, C, const N: usize, S> Chain<W, C, N, S> {
    /// A chain around a writer (plain or keyed, new or resumed).
    pub const fn from_writer(writer: Writer<W, S>, clock: C) -> Self {
        Chain {
            writer: spin::Mutex::new(writer),
            clock,
            unlogged: AtomicU32::new(0),
        }
    }

    /// The last record written (`None` while the chain is empty). Waits for the lock.
    pub fn head(&self) -> Option<Head> {
        self.writer.lock().head()
    }

    /// Records lost so far that no written record has reported yet.
    pub fn unlogged(&self) -> u32 {
        self.unlogged.load(Ordering::Relaxed)
    }

    /// Counts one record as lost, to be reported by the next record written.
    /// For callers that cannot return an error (the `log` facade).
    pub fn note_unlogged(&self) {
        self.add_unlogged(1);
    }

    /// Adds to the count, saturating: a count stuck at `u32::MAX` still says
    /// "at least this many", where a wrapped one would lie.
    fn add_unlogged(&self, n: u32) {
        let _ = self
            .unlogged
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                Some(v.saturating_add(n))
            });
    }

    /// Runs `f` on the writer under the lock: to flush, or to write the
    /// recovery records of a torn tail.
    pub fn with_writer<R>(&self, f: impl FnOnce(&mut Writer<W, S>) -> R) -> R {
        f(&mut self.writer.lock())
    }

    /// Takes the writer (head and sink) out of the chain.
    pub fn into_writer(self) -> Writer<W, S> {
        self.writer.into_inner()
    }
}

impl<W: embedded_io::Write, C: Clock, const N: usize, S: Seal> Chain<W, C, N, S> {
    /// Appends a record, waiting for the lock. The message is formatted
    /// first, into a [`Draft`] of `N` bytes on the caller's stack, outside the
    /// lock. Do not call it from an interrupt handler that may have
    /// interrupted an append: use [`try_append`](Self::try_append) there.
    pub fn append(
        &self,
        level: Level,
        message: fmt::Arguments<'_>,
    ) -> Result<Head, AppendError<W::Error>> {
        self.append_draft(&mut Draft::new(level, message))
    }

    /// Appends a record if the chain is free, and never waits: for interrupt
    /// context. If the chain is busy the record is counted as unlogged and
    /// [`AppendError::Busy`] is returned.
    pub fn try_append(
        &self,
        level: Level,
        message: fmt::Arguments<'_>,
    ) -> Result<Head, AppendError<W::Error>> {
        self.try_append_draft(&mut Draft::new(level, message))
    }

    /// Appends a record formatted ahead of time, waiting for the lock.
    pub fn append_draft(&self, draft: &mut Draft<N>) -> Result<Head, AppendError<W::Error>> {
        self.append_locked(&mut self.writer.lock(), draft)
    }

    /// [`try_append`](Self::try_append) for a record formatted ahead of time.
    pub fn try_append_draft(&self, draft: &mut Draft<N>) -> Result<Head, AppendError<W::Error>> {
        match self.writer.try_lock() {
            Some(mut writer) => self.append_locked(&mut writer, draft),
            None => {
                self.note_unlogged();
                Err(AppendError::Busy)
            }
        }
    }

    fn append_locked(
        &self,
        writer: &mut Writer<W, S>,
        draft: &mut Draft<N>,
    ) -> Result<Head, AppendError<W::Error>> {
        let unlogged = self.unlogged.swap(0, Ordering::Relaxed);
        let result = writer.append_draft(draft, self.clock.now(), unlogged.into());
        if result.is_err() && unlogged > 0 {
            // Not reported after all: the next record must still say so.
            self.add_unlogged(unlogged);
        }
        Ok(result?)
    }

    /// Flushes the sink, waiting for the lock.
    pub fn flush(&self) -> Result<(), W::Error> {
        self.writer.lock().flush()
    }
}

impl<W, C, const N: usize, S> fmt::Debug for Chain<W, C, N, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Chain")
            .field("capacity", &N)
            .field("unlogged", &self.unlogged())
            .finish_non_exhaustive()
    }
}
