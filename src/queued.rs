//! The text chain over a [`Queue`]: records are closed and sealed in one short
//! critical section, which also reserves their place; their bytes are copied
//! into the queue outside it; no append ever touches the sink.

use core::cell::RefCell;
use core::fmt;

use critical_section::Mutex;

use crate::clock::{Clock, Timestamp};
use crate::draft::{Draft, Tail, MIN_CAPACITY};
use crate::hash::Hash;
use crate::head::{link_after, Head};
use crate::level::Level;
use crate::queue::{Queue, Reservation};
use crate::seal::{Plain, Seal, SealError, SealedRecord, Token, CHAIN_START_MESSAGE};
use crate::sink::Counter;

/// A record was not queued; nothing of it is in the chain.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum EnqueueError {
    /// The queue had no room for the whole record. It was counted, and the
    /// next record queued says how many were lost (`"unlogged":N`, or the
    /// compact encoding's count), under its hash.
    Full,
    /// A keyed chain's key is not the one for this record.
    Seal(SealError),
    /// The record is longer than the queue itself: it can never fit (counted
    /// as lost, as [`Full`](Self::Full)).
    TooLong,
}

impl fmt::Display for EnqueueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnqueueError::Full => {
                f.write_str("record not queued: the queue was full (counted as unlogged)")
            }
            EnqueueError::Seal(e) => write!(f, "record not queued: {e}"),
            EnqueueError::TooLong => {
                f.write_str("record not queued: longer than the whole queue (counted as unlogged)")
            }
        }
    }
}

impl core::error::Error for EnqueueError {}

/// The chain's state, in the critical section.
struct State<S> {
    /// The last record, meaningful once `started` (zeros otherwise, so an
    /// empty `static` chain sits in `.bss`).
    last: Head,
    started: bool,
    seal: S,
    /// Records lost that no queued record has reported yet.
    unlogged: u32,
}

impl<S> State<S> {
    fn head(&self) -> Option<Head> {
        self.started.then_some(self.last)
    }
}

/// A text-format chain whose records go into a [`Queue`] of `Q` bytes, for a
/// `static`: `append` (from any context, any interrupt level) never waits and
/// never does sink I/O; the application drains the queue to its sink.
///
/// The message is formatted and its part of the block hashed outside the
/// critical section (a [`Draft`] of `N` bytes on the caller's stack). Inside
/// it: the clock is read, the draft is closed under the head (the tail hashed:
/// at most 3 SHA-256 blocks for a plain chain), its length counted and its
/// place reserved, and the head advanced. A record that does not fit is
/// counted, never cut: the next record says how many were lost.
///
/// `S` is how records are sealed: [`Plain`] or a [`SealKey`](crate::SealKey)
/// (a keyed chain's first record is its chain-start record).
pub struct QueuedChain<'q, C, const N: usize, const Q: usize, S = Plain> {
    queue: &'q Queue<Q>,
    state: Mutex<RefCell<State<S>>>,
    clock: C,
}

impl<'q, C, const N: usize, const Q: usize> QueuedChain<'q, C, N, Q> {
    /// A new plain chain at genesis, queueing into `queue`.
    pub const fn new(queue: &'q Queue<Q>, clock: C) -> Self {
        Self::sealed(queue, clock, None, Plain)
    }

    /// A plain chain that continues after `head` (`None`: at genesis).
    pub const fn resume(queue: &'q Queue<Q>, clock: C, head: Option<Head>) -> Self {
        Self::sealed(queue, clock, head, Plain)
    }
}

impl<'q, C, const N: usize, const Q: usize, S> QueuedChain<'q, C, N, Q, S> {
    /// A chain that continues after `head` and seals with `seal` (for a keyed
    /// chain, the [`SealKey`](crate::SealKey) for the record after `head`).
    pub const fn sealed(queue: &'q Queue<Q>, clock: C, head: Option<Head>, seal: S) -> Self {
        let (last, started) = match head {
            Some(head) => (head, true),
            None => (
                Head {
                    seq: None,
                    hash: Hash::GENESIS,
                },
                false,
            ),
        };
        QueuedChain {
            queue,
            state: Mutex::new(RefCell::new(State {
                last,
                started,
                seal,
                unlogged: 0,
            })),
            clock,
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut State<S>) -> R) -> Option<R> {
        critical_section::with(|cs| Some(f(&mut *self.state.borrow(cs).try_borrow_mut().ok()?)))
    }

    /// The last record queued (`None` while the chain is empty). Never waits.
    pub fn head(&self) -> Option<Head> {
        self.with(|s| s.head()).flatten()
    }

    /// Records lost that no queued record has reported yet.
    pub fn unlogged(&self) -> u32 {
        self.with(|s| s.unlogged).unwrap_or(0)
    }

    /// Counts one record as lost, to be reported by the next record queued.
    pub fn note_unlogged(&self) {
        self.with(|s| s.unlogged = s.unlogged.saturating_add(1));
    }

    /// The queue this chain fills.
    pub fn queue(&self) -> &'q Queue<Q> {
        self.queue
    }

    /// How the chain seals, for a keyed chain the key state to persist
    /// (read in a critical section, cloned).
    pub fn seal(&self) -> Option<S>
    where
        S: Clone,
    {
        self.with(|s| s.seal.clone())
    }
}

/// What the critical section decided, for the writes after it.
struct Queued {
    reservation: Reservation,
    /// The chain-start record's `prev_hash` and hash, if it goes first.
    start: Option<(Hash, Hash)>,
    prev: Hash,
    head: Head,
}

impl<C: Clock, const N: usize, const Q: usize, S: Seal + Clone> QueuedChain<'_, C, N, Q, S> {
    /// Queues a record. Never waits, from any context; never touches the sink.
    pub fn append(&self, level: Level, message: fmt::Arguments<'_>) -> Result<Head, EnqueueError> {
        self.append_draft(&mut Draft::new(level, message))
    }

    /// Queues a record formatted ahead of time.
    pub fn append_draft(&self, draft: &mut Draft<N>) -> Result<Head, EnqueueError> {
        if self.with(|s| s.seal.is_keyed() && !s.started) == Some(true) {
            return self.append_after_start(draft);
        }
        self.queue_drafts(None, draft)
    }

    /// A keyed chain at genesis writes its chain-start record first: made
    /// here, outside the critical section (`started` never goes back), in a
    /// frame of its own so a plain chain's appends never carry its buffer.
    #[inline(never)]
    fn append_after_start(&self, draft: &mut Draft<N>) -> Result<Head, EnqueueError> {
        let mut start =
            Draft::<MIN_CAPACITY>::new(Level::Info, format_args!("{CHAIN_START_MESSAGE}"));
        self.queue_drafts(Some(&mut start), draft)
    }

    fn queue_drafts(
        &self,
        mut start: Option<&mut Draft<MIN_CAPACITY>>,
        draft: &mut Draft<N>,
    ) -> Result<Head, EnqueueError> {
        // The record's length less its block, counted here, outside the
        // critical section: inside it only the block's length is added.
        let lengths = Lengths {
            start: start.as_deref().map_or(0, Lengths::beside_block),
            draft: Lengths::beside_block(draft),
        };
        let queued = critical_section::with(|cs| {
            let mut state = self
                .state
                .borrow(cs)
                .try_borrow_mut()
                .map_err(|_| EnqueueError::Full)?;
            let result =
                self.close_and_reserve(cs, &mut state, start.as_deref_mut(), draft, &lengths);
            if matches!(result, Err(EnqueueError::Full | EnqueueError::TooLong)) {
                state.unlogged = state.unlogged.saturating_add(1);
            }
            result
        })?;
        let mut slot = self.queue.slot(&queued.reservation);
        if let (Some((prev, hash)), Some(start)) = (queued.start, start) {
            let _ = start.write_to(&mut slot, &prev, &hash);
        }
        let _ = draft.write_to(&mut slot, &queued.prev, &queued.head.hash);
        // The length was counted by the same writer: nothing is left. Were
        // anything left, LFs keep stale bytes out of the log.
        while slot.push(b'\n') {}
        self.queue.commit(queued.reservation);
        Ok(queued.head)
    }

    /// Inside the critical section: close the record(s) under the head, seal,
    /// reserve their place, advance.
    fn close_and_reserve(
        &self,
        cs: critical_section::CriticalSection<'_>,
        state: &mut State<S>,
        start: Option<&mut Draft<MIN_CAPACITY>>,
        draft: &mut Draft<N>,
        lengths: &Lengths,
    ) -> Result<Queued, EnqueueError> {
        let timestamp: Timestamp = self.clock.now();
        let mut seal = state.seal.clone();
        let mut link = link_after(state.head());
        let mut len = 0;
        let mut start_hashes = None;
        if seal.is_keyed() && !state.started {
            let start = start.ok_or(EnqueueError::Full)?;
            let tail = Tail {
                link,
                timestamp,
                unlogged: 0,
                chain_start: true,
            };
            let digest = start.close(&tail);
            let tag = seal.tag(link.seq, &digest).map_err(EnqueueError::Seal)?;
            seal.advance(SealedRecord { tag, digest }, Token(()));
            len += lengths.start + start.block_len();
            start_hashes = Some((link.prev, tag));
            link = link_after(Some(Head {
                seq: link.seq,
                hash: tag,
            }));
        }
        let tail = Tail {
            link,
            timestamp,
            unlogged: state.unlogged.into(),
            chain_start: false,
        };
        let digest = draft.close(&tail);
        let hash = seal.tag(link.seq, &digest).map_err(EnqueueError::Seal)?;
        seal.advance(SealedRecord { tag: hash, digest }, Token(()));
        len += lengths.draft + draft.block_len();
        if len > Q {
            return Err(EnqueueError::TooLong);
        }
        let reservation = self.queue.reserve(cs, len).ok_or(EnqueueError::Full)?;
        let head = Head {
            seq: link.seq,
            hash,
        };
        state.seal = seal;
        state.last = head;
        state.started = true;
        state.unlogged = 0;
        Ok(Queued {
            reservation,
            start: start_hashes,
            prev: link.prev,
            head,
        })
    }
}

/// The bytes of the records an append writes, less their blocks: what
/// closing a draft does not change (the hashes are 64 hex digits whatever
/// they are; the display is the message's).
struct Lengths {
    start: usize,
    draft: usize,
}

impl Lengths {
    /// Bytes `draft` takes as a record (both lines), less its block.
    fn beside_block<const N: usize>(draft: &Draft<N>) -> usize {
        let mut counter = Counter::default();
        let _ = draft.write_to(&mut counter, &Hash::GENESIS, &Hash::GENESIS);
        counter.0.saturating_sub(draft.block_len())
    }
}

impl<C, const N: usize, const Q: usize, S> fmt::Debug for QueuedChain<'_, C, N, Q, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueuedChain")
            .field("capacity", &N)
            .field("queue", &self.queue)
            .field("head", &self.head())
            .field("unlogged", &self.unlogged())
            .finish_non_exhaustive()
    }
}
