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
//! (`Buffered`, 2026-11-27, not landed: a writer thread of the log's own,
//! taking full 64 KiB staging buffers from the appenders (at most one batch
//! in flight, staging up to twice the buffer meanwhile, back-pressure
//! beyond; an appender that found the batch not yet taken wrote it itself;
//! a failed write cut back and staged again). In four sessions of 7
//! alternated runs of `immutable-log-compare run log-buffered T N` against
//! the base build (medians, time new / base): 1 thread 0.98, 0.93, 0.99,
//! 1.03; 8 threads 0.86, 0.91, 1.00, 1.00; 500 threads 0.94, 0.99, 1.06,
//! 1.01 (load averages ~5, ~5, ~2, ~6): no gain that held. The appending
//! thread lost its `write(2)` (perf: no kernel write path left in it, the
//! writer thread 11% of the samples) but not its time: what is left per
//! record is building it (and, presumably, the buffers now cross cores).
//! With two batches in flight and every appender queued on the pen while
//! one waited for room, 500 threads took 1.47x the time (load ~10; woken
//! one by one). An appender writing its own batch outside the chain's lock,
//! holding the pen, was slower still: 1.07, 1.08, 1.10. But the machine
//! has `sched_autogroup` on and other sessions' builds running: the process
//! got about one core whatever its threads (`perf stat`: task-clock of the
//! timed part about its elapsed time at 8 threads, for `tracing` too), so a
//! second thread had no core to gain. Measured again with the machine
//! otherwise idle (load ~2, 7 alternated runs, medians, time new / base):
//! 1 thread 0.97, 8 threads 1.08, 500 threads 1.00. Without a writer
//! thread, 8 appending threads used one core (`/usr/bin/time`: 101% CPU)
//! and `tracing` into a `Mutex<BufWriter>` 117%, with two cores free (the
//! likely reason, not measured: the mutex's waiters sleep while the thread
//! that just released it takes it again).
//! Spinning up to 200, 2,000 or 20,000 `try_lock`s before blocking raised
//! that to 117-159% CPU and took 1.04-1.39x the time at 8 and 500
//! threads (`log-buffered`, 1M records). The writer-thread
//! code is in this repository's history, `3bbff69`..`3dcac6f`.)
//!
//! A write that fails takes its records back, and every record staged after
//! them (they are chained to them): their tickets are noted as lost, with the
//! error, and each of their appenders hears it once.
//!
//! The pen is held by whatever writes when group writes are in use (`Flush`
//! and `Sync`): a group write, a flush, a rotation (these two under the
//! chain's lock), and by a tree head, which must not see a group write half
//! done. `Buffered` appenders never make group writes, and write their
//! batches under the chain's lock alone. Lock order: the pen, then the
//! chain's lock.

use std::io;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

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
