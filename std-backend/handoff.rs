//! The log's writer thread (`Buffered`, plain logs): appenders hand it full
//! staging buffers, and go on staging while it makes the `write(2)`, on the
//! other core. (A keyed log writes on the appending thread, under the lock:
//! its key file follows each batch, and a batch stays within `batch_limit`;
//! so does a log with a buffer under `shared::HANDOFF_MIN`.)
//!
//! At most [`IN_FLIGHT`] batches are handed over and not yet written: the
//! appender that fills staging meanwhile waits for one to be written,
//! holding the pen, and the others go on staging up to
//! `shared::STAGING_LIMIT` buffers, then wait too (back-pressure; nothing is
//! dropped). The buffers go round (staging, in flight, back to the
//! appender's spares), so none is allocated once the first few have grown.
//!
//! A batch is handed over holding the pen (taken before the chain's lock),
//! and [`Handoff::drain`] waits, holding the pen, until none is in flight:
//! whatever takes the pen through `Shared::pen` (a flush, a rotation, a tree
//! head) sees every record either in the file or staged. The writer thread
//! itself takes the chain's lock only to note a batch written (or, if its
//! write failed, to stage its records again), never the pen.

use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};

use super::appender::Batch;
use super::shared::Shared;

/// The most batches handed to the writer thread and not yet written: the
/// one it writes. Meanwhile staging fills (up to `shared::STAGING_LIMIT`
/// buffers); a `write(2)` of 64 KiB takes less time than staging as much,
/// so more in flight would only add to what a crash loses.
pub(crate) const IN_FLIGHT: usize = 1;

/// The batches handed over, shared by the appenders and the writer thread.
#[derive(Debug)]
pub(crate) struct Handoff {
    queue: Mutex<Queue>,
    /// The writer thread waits here for a batch.
    work: Condvar,
    /// Appenders wait here for room, and drains for the last write.
    done: Condvar,
}

#[derive(Debug)]
struct Queue {
    /// Handed over, not yet taken by the writer thread (oldest first).
    waiting: VecDeque<Batch>,
    /// Whether the writer thread is writing one (taken from `waiting`).
    writing: bool,
    /// No more batches are taken (the writer thread stops once `waiting`
    /// is empty).
    closed: bool,
}

impl Default for Handoff {
    fn default() -> Self {
        Handoff {
            queue: Mutex::new(Queue {
                waiting: VecDeque::with_capacity(IN_FLIGHT),
                writing: false,
                closed: false,
            }),
            work: Condvar::new(),
            done: Condvar::new(),
        }
    }
}

impl Queue {
    fn in_flight(&self) -> usize {
        self.waiting.len() + usize::from(self.writing)
    }
}

impl Handoff {
    fn queue(&self) -> MutexGuard<'_, Queue> {
        // Nothing panics while holding it.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until a batch can be handed over (fewer than [`IN_FLIGHT`] in
    /// flight) or none will be taken. Called holding the pen, not the
    /// chain's lock (the writer thread needs it to finish a write).
    pub(crate) fn wait_room(&self) {
        let mut queue = self.queue();
        while !queue.closed && queue.in_flight() >= IN_FLIGHT {
            queue = self
                .done
                .wait(queue)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Whether a batch can be handed over now without waiting.
    pub(crate) fn has_room(&self) -> bool {
        let queue = self.queue();
        !queue.closed && queue.in_flight() < IN_FLIGHT
    }

    /// Hands a batch to the writer thread (called holding the pen and the
    /// chain's lock, after [`wait_room`](Self::wait_room)); gives it back if
    /// the thread has stopped.
    pub(crate) fn hand(&self, batch: Batch) -> Option<Batch> {
        let mut queue = self.queue();
        if queue.closed {
            return Some(batch);
        }
        queue.waiting.push_back(batch);
        drop(queue);
        self.work.notify_one();
        None
    }

    /// Waits until every batch handed over is written (or staged again after
    /// a failed write). Called holding the pen, not the chain's lock: no
    /// batch is handed over meanwhile.
    pub(crate) fn drain(&self) {
        let mut queue = self.queue();
        while queue.in_flight() > 0 {
            queue = self
                .done
                .wait(queue)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// The writer thread's next batch, once no other write is under way;
    /// `None` once closed and empty.
    fn next(&self) -> Option<Batch> {
        let mut queue = self.queue();
        loop {
            if !queue.writing {
                if let Some(batch) = queue.waiting.pop_front() {
                    queue.writing = true;
                    return Some(batch);
                }
                if queue.closed {
                    return None;
                }
            }
            queue = self
                .work
                .wait(queue)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// The oldest batch handed over, if no write is under way: an appender
    /// that finds no room writes it itself instead of waiting for the
    /// writer thread to be scheduled (on a busy machine, or among hundreds
    /// of appending threads, that can take longer than staging a buffer).
    /// Then [`finished`](Self::finished).
    pub(crate) fn steal(&self) -> Option<Batch> {
        let mut queue = self.queue();
        if queue.writing {
            return None;
        }
        let batch = queue.waiting.pop_front()?;
        queue.writing = true;
        Some(batch)
    }

    /// The batch taken by [`next`](Self::next) or [`steal`](Self::steal) is
    /// written (or staged again).
    pub(crate) fn finished(&self) {
        self.queue().writing = false;
        self.done.notify_all();
        self.work.notify_one();
    }

    /// The batches handed over after the one whose write just failed: they
    /// are chained to it, and are staged again with it, unwritten.
    pub(crate) fn take_waiting(&self) -> VecDeque<Batch> {
        std::mem::take(&mut self.queue().waiting)
    }

    /// Takes no more batches; the writer thread writes those it has, then
    /// ends.
    fn close(&self) {
        self.queue().closed = true;
        self.work.notify_all();
        self.done.notify_all();
    }
}

/// The writer thread of a `Buffered` log, stopped (after writing every batch
/// it was handed) by [`stop`](Self::stop) or on drop.
pub(crate) struct Writer {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    /// Starts the writer thread of `shared`.
    pub(crate) fn spawn(shared: &Arc<Shared>) -> io::Result<Writer> {
        let theirs = Arc::clone(shared);
        let thread = thread::Builder::new()
            .name("immutable-log writer".into())
            .spawn(move || {
                while let Some(batch) = theirs.handoff.next() {
                    theirs.write_handed(batch);
                    theirs.handoff.finished();
                }
            })?;
        Ok(Writer {
            shared: Arc::clone(shared),
            thread: Some(thread),
        })
    }

    /// Lets the thread write what it was handed, then stops it.
    pub(crate) fn stop(&mut self) {
        self.shared.handoff.close();
        if let Some(thread) = self.thread.take() {
            // A panic in the thread has nothing left to tell us.
            let _ = thread.join();
        }
    }
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("path", &self.shared.path)
            .finish_non_exhaustive()
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.stop();
    }
}
