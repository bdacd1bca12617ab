//! A chain that can be a `static`: its writer, shared by tasks and interrupt
//! handlers, claimed for one append at a time without ever waiting on bare
//! metal.
//!
//! The shared state (the writer while no append holds it, the head, the count
//! of lost records) sits behind a `critical-section` mutex. An append claims
//! the writer in one short critical section (it moves out), formats, hashes
//! and writes outside it, and gives it back in a second one. A second append
//! that finds the writer claimed never waits on bare metal: its holder is the
//! code it interrupted, which cannot run until it returns. It counts the
//! record as lost instead, and the next record written says so.

use core::cell::RefCell;
use core::fmt;

use critical_section::Mutex;

use crate::clock::Clock;
use crate::draft::Draft;
use crate::head::Head;
use crate::interrupt::may_wait;
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
    /// The chain was busy with another record (an append this one
    /// interrupted, or [`Chain::with_writer`]) and waiting could never end.
    /// The record was counted, and the next record written says how many were
    /// lost (`"unlogged":N`).
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

/// [`Chain::flush`] did not flush.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum FlushError<E> {
    /// The sink's flush failed.
    Sink(E),
    /// An append held the sink, and waiting could never end (bare metal: the
    /// flush interrupted it). Its record is still on its way.
    Busy,
}

impl<E: fmt::Debug> fmt::Display for FlushError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlushError::Sink(e) => write!(f, "flush failed: the sink failed: {e:?}"),
            FlushError::Busy => f.write_str("not flushed: an append held the sink"),
        }
    }
}

impl<E: fmt::Debug> core::error::Error for FlushError<E> {}

/// What the critical sections guard.
struct Shared<W, S> {
    /// The writer, or `None` while an append (or `with_writer`) holds it.
    writer: Option<Writer<W, S>>,
    /// The head while the writer is out: the last record written before it.
    head_while_out: Option<Head>,
    /// Records lost that no written record has reported yet.
    unlogged: u32,
}

/// A hash chain over a sink `W`, with clock `C` and a record buffer of `N`
/// bytes, that can live in a `static`. Records go straight to the sink.
///
/// Each record is formatted into a [`Draft`] of `N` bytes on the caller's
/// stack. An append holds the writer (head and sink) while it closes, hashes
/// and writes its record; the critical sections around that only move the
/// writer out and back. [`append`](Self::append) waits for a held writer only
/// on a host, where the holder is another thread; on bare metal, and always
/// with [`try_append`](Self::try_append), a held writer means the record is
/// counted as lost, and the next record written carries the count
/// (`"unlogged":N`), covered by its hash: the verifier sees every loss.
/// [`head`](Self::head) and [`unlogged`](Self::unlogged) never wait.
///
/// An interrupt that logs while `main` writes a record to a slow sink loses
/// its record here. To lose none, and to keep sink I/O out of every append,
/// use a queue of whole records drained by the application instead
/// ([`Queue`](crate::Queue) with [`QueuedChain`](crate::QueuedChain), or
/// the compact encoding's chain). `Chain` stays for sinks written directly
/// (a file, flash behind `embedded_io`, a test buffer).
///
/// `N` bounds a whole `block_json`; see [`message_capacity`](crate::message_capacity)
/// for the message room it leaves. It must be at least
/// [`MIN_CAPACITY`](crate::MIN_CAPACITY) (checked at compile time).
///
/// `S` is how records are sealed: [`Plain`] (the default) or a
/// [`SealKey`](crate::SealKey) for a keyed, forward-secure chain.
pub struct Chain<W, C, const N: usize, S = Plain> {
    shared: Mutex<RefCell<Shared<W, S>>>,
    clock: C,
}

/// The writer, out of the shared state for one append; back on drop.
struct Claim<'a, W, S> {
    shared: &'a Mutex<RefCell<Shared<W, S>>>,
    writer: Option<Writer<W, S>>,
    /// The lost records this claim's record reports.
    unlogged: u32,
}

impl<W, S> Claim<'_, W, S> {
    /// The claimed writer (always there until the claim is dropped).
    fn writer(&mut self) -> Option<&mut Writer<W, S>> {
        self.writer.as_mut()
    }
}

impl<W, S> Drop for Claim<'_, W, S> {
    fn drop(&mut self) {
        let writer = self.writer.take();
        let unlogged = self.unlogged;
        critical_section::with(|cs| {
            if let Ok(mut shared) = self.shared.borrow(cs).try_borrow_mut() {
                // Not reported after all (the append failed): the next record must.
                shared.unlogged = shared.unlogged.saturating_add(unlogged);
                shared.writer = writer;
            }
        });
    }
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
            shared: Mutex::new(RefCell::new(Shared {
                writer: Some(writer),
                head_while_out: None,
                unlogged: 0,
            })),
            clock,
        }
    }

    /// Runs `f` on the shared state in a critical section.
    fn shared<R>(&self, f: impl FnOnce(&mut Shared<W, S>) -> R) -> Option<R> {
        critical_section::with(|cs| {
            let mut shared = self.shared.borrow(cs).try_borrow_mut().ok()?;
            Some(f(&mut shared))
        })
    }

    /// The last record written (`None` while the chain is empty). Never
    /// waits: a record being written is not there yet.
    pub fn head(&self) -> Option<Head> {
        self.shared(|s| match &s.writer {
            Some(writer) => writer.head(),
            None => s.head_while_out,
        })
        .flatten()
    }

    /// Records lost so far that no written record has reported yet.
    pub fn unlogged(&self) -> u32 {
        self.shared(|s| s.unlogged).unwrap_or(0)
    }

    /// Counts one record as lost, to be reported by the next record written.
    /// For callers that cannot return an error (the `log` facade).
    pub fn note_unlogged(&self) {
        self.shared(|s| s.unlogged = s.unlogged.saturating_add(1));
    }

    /// Takes the writer if no one holds it, with the lost-record count its
    /// record will report. Only a short critical section.
    fn try_claim(&self) -> Option<Claim<'_, W, S>> {
        let (writer, unlogged) = self.shared(|s| {
            let writer = s.writer.take()?;
            s.head_while_out = writer.head();
            Some((writer, core::mem::take(&mut s.unlogged)))
        })??;
        Some(Claim {
            shared: &self.shared,
            writer: Some(writer),
            unlogged,
        })
    }

    /// Takes the writer, waiting for it where waiting can end (a host).
    fn claim(&self, wait: bool) -> Option<Claim<'_, W, S>> {
        loop {
            if let Some(claim) = self.try_claim() {
                return Some(claim);
            }
            if !(wait && may_wait()) {
                return None;
            }
            core::hint::spin_loop();
        }
    }

    /// Runs `f` on the writer, holding it: to flush, or to write the recovery
    /// records of a torn tail. Appends meanwhile count their records as lost
    /// (on a host, [`append`](Self::append) waits). It waits for an append in
    /// progress: do not call it from an interrupt handler, use
    /// [`try_with_writer`](Self::try_with_writer) there.
    pub fn with_writer<R>(&self, f: impl FnOnce(&mut Writer<W, S>) -> R) -> R {
        let mut f = Some(f);
        loop {
            if let Some(Some(r)) = self.try_with_writer(|w| f.take().map(|f| f(w))) {
                return r;
            }
            core::hint::spin_loop();
        }
    }

    /// [`with_writer`](Self::with_writer) if no one holds the writer: never waits.
    pub fn try_with_writer<R>(&self, f: impl FnOnce(&mut Writer<W, S>) -> R) -> Option<R> {
        let mut claim = self.try_claim()?;
        // Nothing is reported by this claim: the count goes back on drop.
        claim.writer().map(f)
    }

    /// Takes the writer (head and sink) out of the chain.
    // The one impossible case (an owned chain whose writer is out) is not an
    // input: no caller can reach it.
    #[allow(clippy::unreachable)]
    pub fn into_writer(self) -> Writer<W, S> {
        match self.shared.into_inner().into_inner().writer {
            Some(writer) => writer,
            // A claim borrows the chain and puts the writer back when it
            // drops, so an owned chain always holds its writer.
            None => unreachable!("a chain's writer is back once no append borrows it"),
        }
    }
}

impl<W: embedded_io::Write, C: Clock, const N: usize, S: Seal> Chain<W, C, N, S> {
    /// Appends a record. The message is formatted first, into a [`Draft`] of
    /// `N` bytes on the caller's stack. If another append holds the chain,
    /// this one waits for it on a host (another thread holds it), and on bare
    /// metal returns [`AppendError::Busy`] with the record counted as lost
    /// (the holder is code this call interrupted): it never deadlocks, from
    /// any context.
    pub fn append(
        &self,
        level: Level,
        message: fmt::Arguments<'_>,
    ) -> Result<Head, AppendError<W::Error>> {
        self.append_draft(&mut Draft::new(level, message))
    }

    /// Appends a record if the chain is free, and never waits, even on a
    /// host. If the chain is busy the record is counted as unlogged and
    /// [`AppendError::Busy`] is returned.
    pub fn try_append(
        &self,
        level: Level,
        message: fmt::Arguments<'_>,
    ) -> Result<Head, AppendError<W::Error>> {
        self.try_append_draft(&mut Draft::new(level, message))
    }

    /// Appends a record formatted ahead of time (see [`append`](Self::append)).
    pub fn append_draft(&self, draft: &mut Draft<N>) -> Result<Head, AppendError<W::Error>> {
        self.append_claimed(self.claim(true), draft)
    }

    /// [`try_append`](Self::try_append) for a record formatted ahead of time.
    pub fn try_append_draft(&self, draft: &mut Draft<N>) -> Result<Head, AppendError<W::Error>> {
        self.append_claimed(self.claim(false), draft)
    }

    fn append_claimed(
        &self,
        claim: Option<Claim<'_, W, S>>,
        draft: &mut Draft<N>,
    ) -> Result<Head, AppendError<W::Error>> {
        let Some(mut claim) = claim else {
            self.note_unlogged();
            return Err(AppendError::Busy);
        };
        let unlogged = claim.unlogged;
        let Some(writer) = claim.writer() else {
            return Err(AppendError::Busy);
        };
        let head = writer.append_draft(draft, self.clock.now(), unlogged.into())?;
        // Reported under this record's hash: not to be added back.
        claim.unlogged = 0;
        Ok(head)
    }

    /// Flushes the sink. Waits for an append in progress only on a host;
    /// on bare metal it returns [`FlushError::Busy`] instead.
    pub fn flush(&self) -> Result<(), FlushError<W::Error>> {
        let mut claim = self.claim(true).ok_or(FlushError::Busy)?;
        match claim.writer() {
            Some(writer) => writer.flush().map_err(FlushError::Sink),
            None => Err(FlushError::Busy),
        }
    }
}

impl<W, C, const N: usize, S> fmt::Debug for Chain<W, C, N, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Chain")
            .field("capacity", &N)
            .field("unlogged", &self.unlogged())
            .field("head", &self.head())
            .finish_non_exhaustive()
    }
}
