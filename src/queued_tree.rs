//! The Merkle tree a [`QueuedChain`](crate::QueuedChain) keeps as it
//! appends (feature `tree`): one leaf per record queued, pushed in the
//! critical section that gives the record its `seq`, so the tree's leaves
//! are the records in log order whatever the interrupts do.
//!
//! The tree lives in a [`ChainTree`] of its own, a `static` of zeros (in
//! `.bss`, no flash for its initial value), that the chain borrows
//! ([`QueuedChain::with_tree`](crate::QueuedChain::with_tree)).
//!
//! Costs: RAM, a [`ChainTree`] (a [`CompactRange`], 2,056 bytes, and record
//! 0's hash); time inside the append's critical section, one leaf hash and on
//! average one node hash per record (at most 64 node hashes, when a record
//! completes a subtree of 2^64 leaves), and `popcount(size) - 1` node hashes
//! to read the root ([`QueuedChain::tree_head`](crate::QueuedChain::tree_head)).

use core::cell::RefCell;
use core::fmt;

use critical_section::{CriticalSection, Mutex};

use crate::checkpoint::{TreeHead, TreeOrigin};
use crate::hash::Hash;
use crate::merkle::CompactRange;

/// The Merkle tree of a queued chain's records, for a `static` the chain
/// borrows (feature `tree`). See [`QueuedChain::with_tree`](crate::QueuedChain::with_tree).
pub struct ChainTree {
    edge: Mutex<RefCell<TreeEdge>>,
}

impl ChainTree {
    /// An empty tree (all zeros: a `static` of it sits in `.bss`).
    pub const fn new() -> Self {
        ChainTree {
            edge: Mutex::new(RefCell::new(TreeEdge {
                range: CompactRange::new(),
                record0: Hash::GENESIS,
                unknown: false,
            })),
        }
    }

    /// Adds record `seq` (see [`TreeEdge::push`]); false if the tree could
    /// not be borrowed (a reentrant call), which leaves it unknown.
    pub(crate) fn push(
        &self,
        cs: CriticalSection<'_>,
        seq: Option<u64>,
        hash: &Hash,
        digest: &Hash,
    ) -> bool {
        match self.edge.borrow(cs).try_borrow_mut() {
            Ok(mut edge) => {
                edge.push(seq, hash, digest);
                true
            }
            Err(_) => false,
        }
    }

    /// The tree's head (see [`TreeEdge::head`]).
    pub(crate) fn head(&self, cs: CriticalSection<'_>) -> Option<TreeHead> {
        self.edge.borrow(cs).try_borrow().ok()?.head()
    }
}

impl Default for ChainTree {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for ChainTree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChainTree").finish_non_exhaustive()
    }
}

/// The right edge, record 0's hash (the origin), and whether it is known.
struct TreeEdge {
    range: CompactRange,
    record0: Hash,
    /// A record came whose `seq` is not the next leaf's index (the chain was
    /// resumed after records this tree never saw, or the tree missed one),
    /// or the range is full: no tree head to give.
    unknown: bool,
}

impl TreeEdge {
    /// Adds record `seq`: `hash` is what it states (record 0's names the
    /// log), `digest` the plain SHA-256 of its `block_json` (its leaf).
    fn push(&mut self, seq: Option<u64>, hash: &Hash, digest: &Hash) {
        if seq != Some(self.range.size()) {
            self.unknown = true;
            return;
        }
        if self.range.size() == 0 {
            self.record0 = *hash;
        }
        if self.range.push_record(digest).is_err() {
            self.unknown = true;
        }
    }

    /// The tree of every record pushed (`None` before the first, or when
    /// unknown).
    fn head(&self) -> Option<TreeHead> {
        if self.unknown || self.range.size() == 0 {
            return None;
        }
        Some(TreeHead {
            size: self.range.size(),
            root: self.range.root(),
            origin: TreeOrigin::of(&self.record0),
        })
    }
}
