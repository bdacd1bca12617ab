//! The text chain over a [`Queue`]: records are closed and sealed in one short
//! critical section, which also reserves their place; their bytes are copied
//! into the queue outside it; no append ever touches the sink.
//!
//! (Long with its unit tests, the last 70 lines: the text and keyed append paths share one critical-section protocol.)

use core::cell::RefCell;
use core::fmt;

use critical_section::Mutex;

use crate::clock::{Clock, Timestamp};
use crate::draft::{Draft, LinkClosed, Tail, MIN_CAPACITY};
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
    /// The tree missed a record (it could not be borrowed): no tree head.
    #[cfg(feature = "tree")]
    tree_lost: bool,
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
/// critical section (a [`Draft`] of `N` bytes on the caller's stack), and so
/// are the record's link (`prev_hash`, `seq`, under the head as it is then)
/// and its length less the block. Inside it: the clock is read, the rest of
/// the tail (timestamp, counts) hashed (1 or 2 SHA-256 blocks for a plain
/// chain with a clock below 10^18 s; 3 only for a record both truncated and
/// reporting lost records), the place reserved and the head advanced. If another append came
/// in between, the link is closed again outside once; a second time, the
/// whole tail is closed inside (up to 3 blocks). A record that does not fit is
/// counted, never cut: the next record says how many were lost.
///
/// `S` is how records are sealed: [`Plain`] or a [`SealKey`](crate::SealKey)
/// (a keyed chain's first record is its chain-start record).
pub struct QueuedChain<'q, C, const N: usize, const Q: usize, S = Plain> {
    queue: &'q Queue<Q>,
    state: Mutex<RefCell<State<S>>>,
    clock: C,
    /// The Merkle tree of the records queued, if one was given.
    #[cfg(feature = "tree")]
    tree: Option<&'q crate::ChainTree>,
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
                #[cfg(feature = "tree")]
                tree_lost: false,
            })),
            clock,
            #[cfg(feature = "tree")]
            tree: None,
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

    /// The chain keeps the Merkle tree of its records in `tree` (feature
    /// `tree`), one leaf per record queued, so that [`tree_head`](Self::tree_head)
    /// gives a checkpoint at any time. Give it to a chain at genesis: a
    /// chain resumed after records its tree never saw has no tree head.
    ///
    /// ```
    /// use immutable_log::{ChainTree, Level, NoClock, Queue, QueuedChain};
    /// static QUEUE: Queue<4096> = Queue::new();
    /// static TREE: ChainTree = ChainTree::new();
    /// static LOG: QueuedChain<NoClock, 512, 4096> =
    ///     QueuedChain::new(&QUEUE, NoClock).with_tree(&TREE);
    /// LOG.append(Level::Info, format_args!("boot")).unwrap();
    /// let head = LOG.tree_head().unwrap();
    /// assert_eq!(head.size, 1);
    /// let note = head.checkpoint().to_string(); // a C2SP tlog-checkpoint body
    /// assert_eq!(note.lines().nth(1), Some("1"));
    /// ```
    #[cfg(feature = "tree")]
    pub const fn with_tree(mut self, tree: &'q crate::ChainTree) -> Self {
        self.tree = Some(tree);
        self
    }

    /// The Merkle tree of the records queued so far (feature `tree`): its
    /// size, root and origin, for a checkpoint
    /// ([`TreeHead::checkpoint`](crate::TreeHead::checkpoint)). `None`
    /// without a tree, before the first record, and when the tree missed
    /// records (a chain resumed after records). Reads the root in a critical
    /// section: `popcount(size) - 1` node hashes.
    #[cfg(feature = "tree")]
    pub fn tree_head(&self) -> Option<crate::TreeHead> {
        let tree = self.tree?;
        critical_section::with(|cs| {
            let lost = self
                .state
                .borrow(cs)
                .try_borrow()
                .map_or(true, |s| s.tree_lost);
            if lost {
                return None;
            }
            tree.head(cs)
        })
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
        // The record's link (`prev_hash`, `seq`: most of its tail) closed and
        // hashed here, outside the critical section, under the head as it is
        // now; inside, unless another append came in between, only the
        // timestamp and what follows it is hashed.
        let close_early = |draft: &mut Draft<N>| {
            let closed = self
                .with(|s| link_after(s.head()))
                .map(|link| draft.close_link(link));
            #[cfg(test)]
            tests::between();
            closed
        };
        let mut early = match start {
            None => close_early(draft),
            Some(_) => None,
        };
        // Once, if an append came in between, the link is closed again out
        // here; a second time, inside (the whole tail, as `Chain` does).
        let mut may_retry = early.is_some();
        let queued = loop {
            let outcome = critical_section::with(|cs| {
                let mut state = self
                    .state
                    .borrow(cs)
                    .try_borrow_mut()
                    .map_err(|_| EnqueueError::Full)?;
                let stale = early.as_ref().map(LinkClosed::link) != Some(link_after(state.head()));
                if may_retry && stale {
                    return Ok(None);
                }
                let result = self.close_and_reserve(
                    cs,
                    &mut state,
                    start.as_deref_mut(),
                    draft,
                    &lengths,
                    early.as_ref(),
                );
                if matches!(result, Err(EnqueueError::Full | EnqueueError::TooLong)) {
                    state.unlogged = state.unlogged.saturating_add(1);
                }
                result.map(Some)
            })?;
            match outcome {
                Some(queued) => break queued,
                None => {
                    may_retry = false;
                    early = close_early(draft);
                }
            }
        };
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
        early: Option<&LinkClosed>,
    ) -> Result<Queued, EnqueueError> {
        let timestamp: Timestamp = self.clock.now();
        let mut seal = state.seal.clone();
        let mut link = link_after(state.head());
        let mut len = 0;
        let mut start_hashes = None;
        #[cfg(feature = "tree")]
        let mut start_digest = None;
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
            #[cfg(feature = "tree")]
            {
                start_digest = Some((link.seq, digest));
            }
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
        // The link closed outside still holds if no append came in between.
        let digest = match early.filter(|c| c.link() == link) {
            Some(closed) => draft.close_time(closed, &tail),
            None => close_whole(draft, &tail),
        };
        let hash = seal.tag(link.seq, &digest).map_err(EnqueueError::Seal)?;
        seal.advance(SealedRecord { tag: hash, digest }, Token(()));
        len += lengths.draft + draft.block_len();
        if len > Q {
            return Err(EnqueueError::TooLong);
        }
        let reservation = self.queue.reserve(cs, len).ok_or(EnqueueError::Full)?;
        // Queued for sure from here: the tree takes its leaves (the digest,
        // not a keyed chain's tag).
        #[cfg(feature = "tree")]
        if let Some(tree) = self.tree {
            let mut pushed = true;
            if let (Some((_, start_tag)), Some((start_seq, start_digest))) =
                (start_hashes, start_digest)
            {
                pushed &= tree.push(cs, start_seq, &start_tag, &start_digest);
            }
            pushed &= tree.push(cs, link.seq, &hash, &digest);
            state.tree_lost |= !pushed;
        }
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

/// Closes the whole tail (an append came in between twice, or a keyed
/// chain's first record): in its own frame, so the common path's stack
/// does not hold a second hash state.
#[cold]
#[inline(never)]
fn close_whole<const N: usize>(draft: &mut Draft<N>, tail: &Tail) -> Hash {
    draft.close(tail)
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

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::{NoClock, Options, Verdict, Verifier};
    use std::boxed::Box;
    use std::cell::Cell;
    use std::vec::Vec;

    std::thread_local! {
        /// What runs between the link closed outside the critical section
        /// and the section itself (an interrupt's append, in a test).
        static BETWEEN: Cell<Option<&'static dyn Fn()>> = const { Cell::new(None) };
        static DEPTH: Cell<u32> = const { Cell::new(0) };
    }

    /// The test hook: runs the interleaved action for the outermost append only.
    pub(super) fn between() {
        if DEPTH.get() == 0 {
            if let Some(f) = BETWEEN.get() {
                DEPTH.set(1);
                f();
                DEPTH.set(0);
            }
        }
    }

    type Log = QueuedChain<'static, NoClock, 512, 8192>;

    /// `main`'s append with `n` appends coming in between its link and its
    /// critical section (1: the link is closed again outside; 2: the second
    /// time inside). The log verifies, in the order the records were queued.
    fn interleaved(n: u32) -> Vec<u8> {
        let queue: &'static Queue<8192> = Box::leak(Box::new(Queue::new()));
        let log: &'static Log = Box::leak(Box::new(Log::new(queue, NoClock)));
        log.append(Level::Info, format_args!("first")).unwrap();
        let left: &'static Cell<u32> = Box::leak(Box::new(Cell::new(n)));
        let hook: &'static dyn Fn() = Box::leak(Box::new(move || {
            if left.get() > 0 {
                left.set(left.get() - 1);
                log.append(Level::Warning, format_args!("interrupt {}", n - left.get()))
                    .unwrap();
            }
        }));
        BETWEEN.set(Some(hook));
        let head = log.append(Level::Info, format_args!("main"));
        BETWEEN.set(None);
        assert_eq!(head.unwrap().seq, Some(u64::from(n) + 1));
        assert_eq!(left.get(), 0, "every interleaved append ran");
        let mut out: Vec<u8> = Vec::new();
        queue.drain(&mut out).unwrap();
        out
    }

    #[test]
    fn an_append_between_link_and_section_is_linked_after() {
        for n in 0..=2 {
            let out = interleaved(n);
            let mut buf = [0u8; 2048];
            let mut verifier = Verifier::new(&mut buf, Options::default());
            verifier.feed(&out).unwrap();
            match verifier.finish() {
                Verdict::Intact(report) => assert_eq!(report.records, u64::from(n) + 2),
                other => panic!("{n} interleaved: {other:?}"),
            }
            let text = std::string::String::from_utf8(out).unwrap();
            let main = text.find("|main|").unwrap();
            for i in 1..=n {
                let at = text.find(&std::format!("|interrupt {i}|")).unwrap();
                assert!(at < main, "interrupt {i} is queued before main's record");
            }
        }
    }
}
