//! The tree's right edge a [`QueuedChain`](crate::QueuedChain) keeps as it
//! appends (feature `tree`): one leaf per record queued, pushed in the
//! critical section that gives the record its `seq`, so the tree's leaves
//! are the records in log order whatever the interrupts do.
//!
//! Costs: RAM, a [`CompactRange`] (2,056 bytes) and record 0's hash per
//! chain; time inside the critical section, one leaf hash and on average one
//! node hash per record (at most 64 node hashes, when a record completes a
//! subtree of 2^64 leaves), and `popcount(size) - 1` node hashes to read the
//! root ([`QueuedChain::tree_head`](crate::QueuedChain::tree_head)).

use crate::checkpoint::{TreeHead, TreeOrigin};
use crate::hash::Hash;
use crate::merkle::CompactRange;

/// The right edge, record 0's hash (the origin), and whether it is known.
pub(crate) struct TreeEdge {
    range: CompactRange,
    record0: Hash,
    /// The chain was resumed after records this edge never saw, or the
    /// range is full: no tree head to give.
    unknown: bool,
}

impl TreeEdge {
    /// An empty tree at genesis; `unknown` for a chain resumed after records.
    pub(crate) const fn new(unknown: bool) -> Self {
        TreeEdge {
            range: CompactRange::new(),
            record0: Hash::GENESIS,
            unknown,
        }
    }

    /// Adds a record: `hash` is what it states (record 0's names the log),
    /// `digest` the plain SHA-256 of its `block_json` (its leaf).
    pub(crate) fn push(&mut self, hash: &Hash, digest: &Hash) {
        if self.range.size() == 0 {
            self.record0 = *hash;
        }
        if self.range.push_record(digest).is_err() {
            self.unknown = true;
        }
    }

    /// The tree of every record pushed (`None` before the first, or when
    /// unknown).
    pub(crate) fn head(&self) -> Option<TreeHead> {
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
