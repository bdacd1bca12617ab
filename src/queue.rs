//! A `static` queue of whole framed records, between the chains that append
//! and the one task that drains it to a sink.
//!
//! A record's place is reserved inside the chain's critical section, whole or
//! not at all, in `seq` order; its bytes are copied in outside it; a second
//! short critical section marks it written. The drain takes only the prefix of
//! reservations that are all written, so bytes leave in `seq` order even when
//! an interrupt's record is written before the record it interrupted. No sink
//! I/O ever happens under a lock: the application drains, blocking
//! ([`Queue::drain`], `embedded_io::Write`) or async ([`Queue::drain_async`],
//! `embedded_io_async::Write`).
//!
//! The bytes are `AtomicU8`s (plain loads and stores, on every target): the
//! writers of disjoint reservations and the drain share them without `unsafe`,
//! and the critical sections order them.
//!
//! (Over 450 lines with its unit tests; the queue itself is under 470.)

use core::cell::{Cell, RefCell};
use core::fmt;
use core::future::poll_fn;
use core::sync::atomic::{AtomicU8, Ordering};
use core::task::{Poll, Waker};

use critical_section::{CriticalSection, Mutex};

/// Reservations written concurrently at most: a thread and this many nested
/// interrupt levels, each in the middle of an append. One more is refused
/// (counted as a lost record), never waited for.
pub const MAX_IN_FLIGHT: usize = 8;

/// Bytes the drain copies out of the queue per sink write.
const CHUNK: usize = 64;

/// Where readers and writers stand. Positions count bytes since the queue
/// was made, wrapping at `u32::MAX`; index = position % Q.
#[derive(Clone, Copy, Debug)]
struct Cursor {
    /// Bytes the drain has handed to the sink.
    read: u32,
    /// Bytes reserved by appends.
    reserved: u32,
    /// End of the prefix of reservations whose bytes are all written.
    committed: u32,
    /// Reservations not yet written, oldest first from `first`: their ends,
    /// and whether each is written.
    ends: [u32; MAX_IN_FLIGHT],
    done: [bool; MAX_IN_FLIGHT],
    first: u8,
    len: u8,
    /// A drain is running.
    draining: bool,
}

impl Cursor {
    const NEW: Cursor = Cursor {
        read: 0,
        reserved: 0,
        committed: 0,
        ends: [0; MAX_IN_FLIGHT],
        done: [false; MAX_IN_FLIGHT],
        first: 0,
        len: 0,
        draining: false,
    };
}

/// A record's reserved place in a [`Queue`]: write its bytes with
/// [`Queue::slot`], then [`Queue::commit`] it.
#[derive(Debug)]
#[must_use = "a reservation not committed stops the drain at it"]
pub(crate) struct Reservation {
    start: u32,
    len: u32,
    slot: u8,
}

impl Reservation {
    /// Its length in bytes.
    pub(crate) fn len(&self) -> usize {
        self.len as usize
    }
}

/// A queue of `Q` bytes of whole framed records, for a `static`: appends
/// reserve and fill places in it; the application drains it to its sink.
///
/// ```
/// use immutable_log::{Level, NoClock, Queue, QueuedChain};
///
/// static QUEUE: Queue<2048> = Queue::new();
/// static LOG: QueuedChain<NoClock, 512, 2048> = QueuedChain::new(&QUEUE, NoClock);
///
/// LOG.append(Level::Info, format_args!("pump {} on", 2)).unwrap();
/// // Later, in the application's own time (a thread, an idle loop, a task):
/// let mut storage = [0u8; 1024];
/// let mut uart: &mut [u8] = &mut storage; // any embedded_io::Write
/// let n = QUEUE.drain(&mut uart).unwrap();
/// assert!(storage[..n].ends_with(b"}\n"));
/// ```
pub struct Queue<const Q: usize> {
    bytes: [AtomicU8; Q],
    cursor: Mutex<Cell<Cursor>>,
    /// The async drain waiting for records.
    waker: Mutex<RefCell<Option<Waker>>>,
}

impl<const Q: usize> Default for Queue<Q> {
    fn default() -> Self {
        Self::new()
    }
}

/// A drain stopped.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum DrainError<E> {
    /// The sink failed; the bytes it did not take are still queued, first.
    Sink(E),
    /// The sink took 0 bytes of a non-empty write (full or closed); the bytes
    /// are still queued, first.
    WriteZero,
    /// Another drain is running (the queue has one drainer at a time).
    Busy,
}

impl<E: fmt::Debug> fmt::Display for DrainError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DrainError::Sink(e) => write!(f, "drain stopped: the sink failed: {e:?}"),
            DrainError::WriteZero => {
                f.write_str("drain stopped: the sink accepted no bytes (full or closed)")
            }
            DrainError::Busy => f.write_str("not drained: another drain is running"),
        }
    }
}

impl<E: fmt::Debug> core::error::Error for DrainError<E> {}

impl<const Q: usize> Queue<Q> {
    /// An empty queue (all zero bytes: a `static` one sits in `.bss`).
    pub const fn new() -> Self {
        const {
            assert!(
                Q > 0 && Q <= (u32::MAX / 2) as usize,
                "queue size out of range"
            )
        };
        Queue {
            bytes: [const { AtomicU8::new(0) }; Q],
            cursor: Mutex::new(Cell::new(Cursor::NEW)),
            waker: Mutex::new(RefCell::new(None)),
        }
    }

    /// Bytes of whole records written and waiting for the drain.
    pub fn pending(&self) -> usize {
        critical_section::with(|cs| {
            let c = self.cursor.borrow(cs).get();
            c.committed.wrapping_sub(c.read) as usize
        })
    }

    /// Bytes free for new records.
    pub fn free(&self) -> usize {
        critical_section::with(|cs| {
            let c = self.cursor.borrow(cs).get();
            Q - c.reserved.wrapping_sub(c.read) as usize
        })
    }

    /// Reserves `len` bytes for one whole record, inside the caller's
    /// critical section; `None` if they do not fit (or too many records are
    /// being written at once): nothing is reserved then.
    pub(crate) fn reserve(&self, cs: CriticalSection<'_>, len: usize) -> Option<Reservation> {
        let cell = self.cursor.borrow(cs);
        let mut c = cell.get();
        let used = c.reserved.wrapping_sub(c.read) as usize;
        if len == 0 || len > Q - used || usize::from(c.len) >= MAX_IN_FLIGHT {
            return None;
        }
        let len32 = u32::try_from(len).ok()?;
        let slot = (usize::from(c.first) + usize::from(c.len)) % MAX_IN_FLIGHT;
        let start = c.reserved;
        c.reserved = start.wrapping_add(len32);
        *c.ends.get_mut(slot)? = c.reserved;
        *c.done.get_mut(slot)? = false;
        c.len += 1;
        cell.set(c);
        Some(Reservation {
            start,
            len: len32,
            slot: slot as u8,
        })
    }

    /// A writer over a reservation's bytes (outside any critical section).
    pub(crate) fn slot(&self, reservation: &Reservation) -> Slot<'_, Q> {
        Slot {
            queue: self,
            start: reservation.start as usize % Q,
            written: 0,
            len: reservation.len(),
        }
    }

    /// Marks a reservation written; the drain may take it once every
    /// reservation before it is written too.
    pub(crate) fn commit(&self, reservation: Reservation) {
        let waker = critical_section::with(|cs| {
            let cell = self.cursor.borrow(cs);
            let mut c = cell.get();
            if let Some(done) = c.done.get_mut(usize::from(reservation.slot)) {
                *done = true;
            }
            while c.len > 0 {
                let first = usize::from(c.first);
                match (c.done.get(first), c.ends.get(first)) {
                    (Some(true), Some(&end)) => {
                        c.committed = end;
                        c.first = ((first + 1) % MAX_IN_FLIGHT) as u8;
                        c.len -= 1;
                    }
                    _ => break,
                }
            }
            cell.set(c);
            self.waker.borrow(cs).borrow_mut().take()
        });
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Up to [`CHUNK`] committed bytes, without taking them: the bytes and
    /// how many. (Built whole, not zeroed first: no `memset` linked for it.)
    fn peek(&self) -> ([u8; CHUNK], usize) {
        let (read, available) = critical_section::with(|cs| {
            let c = self.cursor.borrow(cs).get();
            (c.read, c.committed.wrapping_sub(c.read) as usize)
        });
        let n = available.min(CHUNK);
        let mut pos = read as usize % Q;
        let buf = core::array::from_fn(|i| {
            if i >= n {
                return 0;
            }
            let byte = self.bytes.get(pos).map_or(0, |b| b.load(Ordering::Relaxed));
            pos += 1;
            if pos == Q {
                pos = 0;
            }
            byte
        });
        (buf, n)
    }

    /// The sink took `n` bytes: they leave the queue.
    fn consume(&self, n: usize) {
        critical_section::with(|cs| {
            let cell = self.cursor.borrow(cs);
            let mut c = cell.get();
            c.read = c.read.wrapping_add(n as u32);
            cell.set(c);
        });
    }

    /// Sets or clears the one-drainer flag; false if a drain already runs.
    fn set_draining(&self, on: bool) -> bool {
        critical_section::with(|cs| {
            let cell = self.cursor.borrow(cs);
            let mut c = cell.get();
            if on && c.draining {
                return false;
            }
            c.draining = on;
            cell.set(c);
            true
        })
    }

    /// Writes every whole record queued to `sink`, in `seq` order, and
    /// returns how many bytes it took. Blocks as the sink blocks; no lock is
    /// held while it writes, so appends (from any context) go on meanwhile,
    /// and what they queue during the drain is drained too. Bytes the sink
    /// did not take stay queued, first in line: a record is never lost
    /// half-written.
    pub fn drain<W: embedded_io::Write>(
        &self,
        sink: &mut W,
    ) -> Result<usize, DrainError<W::Error>> {
        let _guard = DrainGuard::new(self)?;
        let mut total = 0;
        loop {
            let (buf, n) = self.peek();
            let Some(chunk) = buf.get(..n).filter(|c| !c.is_empty()) else {
                return Ok(total);
            };
            match sink.write(chunk) {
                Ok(0) => return Err(DrainError::WriteZero),
                Ok(taken) => {
                    let taken = taken.min(n);
                    self.consume(taken);
                    total += taken;
                }
                Err(e) => return Err(DrainError::Sink(e)),
            }
        }
    }

    /// [`drain`](Self::drain) to an async sink (`embedded_io_async::Write`):
    /// for an Embassy task, with [`readable`](Self::readable) to wait for
    /// records.
    pub async fn drain_async<W: embedded_io_async::Write>(
        &self,
        sink: &mut W,
    ) -> Result<usize, DrainError<W::Error>> {
        let _guard = DrainGuard::new(self)?;
        let mut total = 0;
        loop {
            let (buf, n) = self.peek();
            let Some(chunk) = buf.get(..n).filter(|c| !c.is_empty()) else {
                return Ok(total);
            };
            match sink.write(chunk).await {
                Ok(0) => return Err(DrainError::WriteZero),
                Ok(taken) => {
                    let taken = taken.min(n);
                    self.consume(taken);
                    total += taken;
                }
                Err(e) => return Err(DrainError::Sink(e)),
            }
        }
    }

    /// Waits until whole records are queued: an async drain loop awaits this,
    /// then [`drain_async`](Self::drain_async). An append that commits a
    /// record wakes it.
    pub async fn readable(&self) {
        poll_fn(|cx| {
            critical_section::with(|cs| {
                let c = self.cursor.borrow(cs).get();
                if c.committed != c.read {
                    return Poll::Ready(());
                }
                let mut waker = self.waker.borrow(cs).borrow_mut();
                match waker.as_ref() {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => *waker = Some(cx.waker().clone()),
                }
                Poll::Pending
            })
        })
        .await
    }
}

impl<const Q: usize> fmt::Debug for Queue<Q> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Queue")
            .field("capacity", &Q)
            .field("pending", &self.pending())
            .finish_non_exhaustive()
    }
}

/// Holds the one-drainer flag for a drain; clears it when dropped.
struct DrainGuard<'q, const Q: usize>(&'q Queue<Q>);

impl<'q, const Q: usize> DrainGuard<'q, Q> {
    fn new<E>(queue: &'q Queue<Q>) -> Result<Self, DrainError<E>> {
        if queue.set_draining(true) {
            Ok(DrainGuard(queue))
        } else {
            Err(DrainError::Busy)
        }
    }
}

impl<const Q: usize> Drop for DrainGuard<'_, Q> {
    fn drop(&mut self) {
        self.0.set_draining(false);
    }
}

/// Writes a reservation's bytes, front to back, wrapping at the queue's end.
pub(crate) struct Slot<'q, const Q: usize> {
    queue: &'q Queue<Q>,
    /// Index of the reservation's first byte.
    start: usize,
    written: usize,
    len: usize,
}

impl<const Q: usize> Slot<'_, Q> {
    /// Stores `byte` at offset `at` of the reservation (`at < len`).
    fn store(&self, at: usize, byte: u8) {
        let mut i = self.start + at;
        if i >= Q {
            i -= Q;
        }
        if let Some(b) = self.queue.bytes.get(i) {
            b.store(byte, Ordering::Relaxed);
        }
    }

    /// Writes one byte; false (and nothing written) past the reservation.
    /// How many bytes were written into the reservation so far.
    pub(crate) fn written(&self) -> usize {
        self.written
    }

    /// Rewrites byte `at`, one already written (a COBS code byte).
    pub(crate) fn patch(&mut self, at: usize, byte: u8) {
        if at < self.written {
            self.store(at, byte);
        }
    }

    pub(crate) fn push(&mut self, byte: u8) -> bool {
        if self.written >= self.len {
            return false;
        }
        self.store(self.written, byte);
        self.written += 1;
        true
    }
}

impl<const Q: usize> embedded_io::ErrorType for Slot<'_, Q> {
    type Error = core::convert::Infallible;
}

/// A slot is a sink the text writer writes a record to; past the
/// reservation it takes 0 bytes (a length miscount, never a overrun).
impl<const Q: usize> embedded_io::Write for Slot<'_, Q> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        let mut n = 0;
        for &b in buf {
            if !self.push(b) {
                break;
            }
            n += 1;
        }
        Ok(n)
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::vec::Vec;

    /// A growable sink (embedded-io implements none for `Vec` without `std`).
    #[derive(Default)]
    struct Out(Vec<u8>);

    impl embedded_io::ErrorType for Out {
        type Error = core::convert::Infallible;
    }

    impl embedded_io::Write for Out {
        fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
            self.0.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> Result<(), Self::Error> {
            Ok(())
        }
    }

    fn put<const Q: usize>(q: &Queue<Q>, bytes: &[u8]) -> Option<Reservation> {
        let r = critical_section::with(|cs| q.reserve(cs, bytes.len()))?;
        let mut slot = q.slot(&r);
        for &b in bytes {
            assert!(slot.push(b));
        }
        assert!(!slot.push(0), "a slot ends where its reservation does");
        Some(r)
    }

    #[test]
    fn bytes_leave_in_reservation_order_whatever_the_commit_order() {
        let q = Queue::<16>::new();
        let a = put(&q, b"aaaa").unwrap();
        let b = put(&q, b"bbb").unwrap();
        q.commit(b);
        let mut out = Out::default();
        q.drain(&mut out).unwrap();
        assert!(out.0.is_empty(), "b waits for a");
        q.commit(a);
        q.drain(&mut out).unwrap();
        assert_eq!(out.0, b"aaaabbb");
    }

    #[test]
    fn a_record_is_reserved_whole_or_not_at_all_and_wraps() {
        let q = Queue::<10>::new();
        let a = put(&q, b"0123456").unwrap();
        assert!(put(&q, b"xxxx").is_none(), "4 bytes do not fit in 3");
        q.commit(a);
        let mut out = Out::default();
        q.drain(&mut out).unwrap();
        let b = put(&q, b"wrapping!").unwrap();
        q.commit(b);
        q.drain(&mut out).unwrap();
        assert_eq!(out.0, b"0123456wrapping!");
        assert_eq!(q.free(), 10);
    }

    #[test]
    fn too_many_in_flight_is_refused() {
        let q = Queue::<64>::new();
        let held: Vec<_> = (0..MAX_IN_FLIGHT).map(|_| put(&q, b"x").unwrap()).collect();
        assert!(put(&q, b"y").is_none());
        for r in held {
            q.commit(r);
        }
        assert_eq!(q.pending(), MAX_IN_FLIGHT);
    }
}
