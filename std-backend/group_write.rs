//! Group write: appenders that need their records handed to the OS (the
//! durabilities `Flush` and `Sync`) share one `write(2)` instead of paying
//! one each, as group commit shares one `fdatasync`.
//!
//! Each record staged gets a ticket (1, 2, 3, ... in chain order). Its
//! appender returns once a write has carried its ticket; otherwise it takes
//! the pen, and once it has it, either a write made meanwhile carried its
//! record (done), or it takes every record staged so far (its own and those
//! of the appenders queued for the pen behind it) out of staging and writes
//! them, holding the pen but not the chain's lock, so that others go on
//! staging meanwhile. The appenders queued for the pen find their records
//! written when their turn comes, and return.
//!
//! (Two other ways to wait measured no faster at 8 and 500 threads on 2
//! cores, in CPU time and elapsed: condition variables, as `group_commit`
//! has, woke everyone a write carried at once, and each went back to sleep
//! on the mutex the condition variable needs; parking each appender and
//! waking exactly those a write carried cost as much. Futex words
//! (`atomic-wait`, 2026-11-27) were slower still, 1.4-2.7x the time at 8
//! and 500 threads: one word that every release woke, after spinning; two
//! words by the parity of the batch a waiter's record is in, waking all of
//! a written batch and one leader for the next (10-70x the voluntary
//! context switches); and that, with the writer going on to write up to 8
//! more batches. Appenders woken together all queue on the
//! chain's lock to stage their next record; woken one by one through the
//! pen they reach it in turn. On a quiet machine the pen's waiters seldom
//! sleep at all: about 2k to 15k voluntary context switches for 200k
//! records at 500 threads. Watching 100 looks for the write, or a free pen,
//! before queueing for the pen: medians of 10 alternated runs 5% faster at
//! 500 threads, 6% slower at 8, with 1000 looks slower at 8 still.)
//!
//! A write that fails takes its records back, and every record staged after
//! them (they are chained to them): their tickets are noted as lost, with the
//! error, and each of their appenders hears it once.
//!
//! The pen is held by whatever writes when group writes are in use (`Flush`
//! and `Sync`): a group write, a flush, a rotation (these two under the
//! chain's lock), and by a tree head, which must not see a group write half
//! done. `Buffered` appenders never make group writes: they hand a full
//! staging buffer to the log's writer thread (`handoff`), holding the pen
//! while they do; whatever takes the pen through `Shared::pen` waits for the
//! writer thread's batches to be written first. Lock order: the pen, then
//! the chain's lock.

use std::io;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError};

/// Shared between the appenders of one log.
#[derive(Debug, Default)]
pub(crate) struct GroupWrite {
    /// The ticket of the newest record handed to the OS.
    written: AtomicU64,
    /// Held while writing.
    pen: Mutex<()>,
    /// Lost tickets whose appenders have not all heard yet.
    lost: Mutex<Vec<Lost>>,
    /// `lost.len()`, readable without the lock: with nothing lost, an
    /// appender whose ticket is written returns without a lock.
    lost_count: AtomicUsize,
}

/// Tickets a failed write took back, and the error.
#[derive(Debug)]
struct Lost {
    /// The tickets after this one...
    after: u64,
    /// ... up to this one.
    last: u64,
    /// Their appenders that have not heard yet.
    unheard: u64,
    kind: io::ErrorKind,
    message: String,
}

/// How a wait for a ticket ended badly.
#[derive(Debug)]
pub(crate) enum Unwritten<E> {
    /// A failed write took the record back: the error it met.
    Lost(io::Error),
    /// Taking or writing a batch failed (this appender led the write).
    Failed(E),
}

impl GroupWrite {
    /// Takes the pen, to write under the chain's lock (a flush, a
    /// rotation). Never taken while holding the chain's lock.
    pub(crate) fn pen(&self) -> MutexGuard<'_, ()> {
        // Nothing panics while holding it.
        self.pen.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The pen if it is free now (`None` if another holds it): may be tried
    /// while holding the chain's lock, as it never waits.
    pub(crate) fn try_pen(&self) -> Option<MutexGuard<'_, ()>> {
        match self.pen.try_lock() {
            Ok(pen) => Some(pen),
            Err(TryLockError::Poisoned(e)) => Some(e.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        }
    }

    /// Notes that every record up to `ticket` has been handed to the OS (by
    /// the holder of the pen).
    pub(crate) fn written(&self, ticket: u64) {
        self.written.fetch_max(ticket, Ordering::Release);
    }

    /// The ticket of the newest record handed to the OS.
    pub(crate) fn newest(&self) -> u64 {
        self.written.load(Ordering::Acquire)
    }

    /// Notes that a failed write took back the records with the tickets
    /// after `after` up to `last`, whose `waiters` appenders wait. Called
    /// holding the pen, before anything after them is written.
    pub(crate) fn lose(&self, after: u64, last: u64, waiters: u64, error: &io::Error) {
        if waiters == 0 {
            return;
        }
        let mut lost = self.lost.lock().unwrap_or_else(PoisonError::into_inner);
        lost.push(Lost {
            after,
            last,
            unheard: waiters,
            kind: error.kind(),
            message: error.to_string(),
        });
        self.lost_count.store(lost.len(), Ordering::Release);
    }

    /// The error of the failed write that took `ticket` back, if one did;
    /// each appender hears it once.
    fn hear(&self, ticket: u64) -> Option<io::Error> {
        if self.lost_count.load(Ordering::Acquire) == 0 {
            return None;
        }
        let mut lost = self.lost.lock().unwrap_or_else(PoisonError::into_inner);
        let at = lost
            .iter()
            .position(|l| l.after < ticket && ticket <= l.last)?;
        let entry = lost.get_mut(at)?;
        entry.unheard = entry.unheard.saturating_sub(1);
        let error = io::Error::new(entry.kind, entry.message.clone());
        if entry.unheard == 0 {
            lost.swap_remove(at);
            self.lost_count.store(lost.len(), Ordering::Release);
        }
        Some(error)
    }

    /// Returns once the record with `ticket` (staged by the caller, who
    /// waits for it) is in the OS's hands. Unless a write carried it
    /// already, takes the pen; then, unless a write carried it meanwhile,
    /// `take` takes every staged record out of staging (an error when it
    /// cannot: a broken appender), and `write` writes them outside the
    /// chain's lock. A `write` that fails must have called
    /// [`lose`](Self::lose) for the tickets it took back before it returns.
    pub(crate) fn wait_written<B, E>(
        &self,
        ticket: u64,
        take: impl FnOnce() -> Result<B, E>,
        write: impl FnOnce(B) -> Result<(), E>,
    ) -> Result<(), Unwritten<E>> {
        // Written already, and nothing lost that could be this record.
        if self.newest() >= ticket && self.lost_count.load(Ordering::Acquire) == 0 {
            return Ok(());
        }
        let _pen = self.pen();
        if let Some(e) = self.hear(ticket) {
            return Err(Unwritten::Lost(e));
        }
        if self.newest() >= ticket {
            return Ok(());
        }
        let batch = take().map_err(Unwritten::Failed)?;
        write(batch).map_err(|e| {
            // This appender's own record was in the batch: it hears of it
            // here, with the error itself.
            let _ = self.hear(ticket);
            Unwritten::Failed(e)
        })
    }
}
