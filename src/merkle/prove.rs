//! Making proofs: RFC 6962 §2.1.1 audit paths and §2.1.2 consistency proofs,
//! without recursion, from hashes the caller provides.
//!
//! RFC 6962 defines both proofs recursively, splitting the tree at the
//! largest power of 2 below its size. Here the same walk runs top-down as a
//! loop ([`InclusionPath`], [`ConsistencyPath`]): each step names the leaf
//! range of one proof hash, and the root of that range is computed from the
//! source ([`subtree_root`]). The walk meets the root's children first, and
//! RFC 6962 lists them last, so the proof is written back to front.
//!
//! (Over 400 lines for its unit tests: the code is under 400.)

use core::fmt;

use super::range::carry;
use super::{node_hash, split_point, EMPTY_ROOT};
use crate::hash::Hash;

/// Where proofs get their hashes: leaf hashes, and optionally the stored
/// roots of whole subtrees.
///
/// A source that only knows leaf hashes implements [`leaf`](Self::leaf); a
/// subtree of `2^l` leaves then costs `2^l` leaf reads. A source that keeps
/// the tree's hashes (a file of them, say in C2SP `tlog-tiles` layout) also
/// implements [`node`](Self::node), and a proof costs O(log² n) reads.
///
/// Implemented for `&[Hash]` (leaf hashes by index) and for `&mut S`.
pub trait LeafSource {
    /// What reading a hash can fail with.
    type Error;

    /// The leaf hash of leaf `index`: [`leaf_hash`](super::leaf_hash) of
    /// record `index`'s digest.
    fn leaf(&mut self, index: u64) -> Result<Hash, Self::Error>;

    /// The root of the perfect subtree of `2^level` leaves that starts at
    /// leaf `index << level` (`level >= 1`), if the source keeps it;
    /// `Ok(None)` has it computed from the leaves (the default).
    fn node(&mut self, level: u8, index: u64) -> Result<Option<Hash>, Self::Error> {
        let _ = (level, index);
        Ok(None)
    }
}

impl<S: LeafSource + ?Sized> LeafSource for &mut S {
    type Error = S::Error;

    fn leaf(&mut self, index: u64) -> Result<Hash, Self::Error> {
        (**self).leaf(index)
    }

    fn node(&mut self, level: u8, index: u64) -> Result<Option<Hash>, Self::Error> {
        (**self).node(level, index)
    }
}

/// A slice of leaf hashes asked for a leaf past its end.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct MissingLeaf {
    /// The leaf asked for.
    pub index: u64,
}

impl fmt::Display for MissingLeaf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no leaf {} in the slice of leaf hashes", self.index)
    }
}

impl core::error::Error for MissingLeaf {}

impl LeafSource for &[Hash] {
    type Error = MissingLeaf;

    fn leaf(&mut self, index: u64) -> Result<Hash, MissingLeaf> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.get(i))
            .copied()
            .ok_or(MissingLeaf { index })
    }
}

/// A proof cannot be made: the sizes or indexes are wrong, the output is too
/// small, or the source failed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum ProveError<E> {
    /// An inclusion proof in a tree of size 0.
    EmptyTree,
    /// The leaf index is not below the tree size.
    IndexOutOfRange {
        /// The leaf index given.
        index: u64,
        /// The tree size given.
        size: u64,
    },
    /// A consistency proof from a tree of size 0 (RFC 9162 requires `0 < first`).
    FirstTreeEmpty,
    /// A consistency proof from a larger tree to a smaller one.
    SizesReversed {
        /// The first (older) tree size given.
        first: u64,
        /// The second (newer) tree size given.
        second: u64,
    },
    /// `start..end` is not a subtree RFC 6962 hashes: `start > end`, or
    /// `start` is not a multiple of the largest power of 2 up to `end - start`.
    NotASubtree {
        /// The first leaf of the range.
        start: u64,
        /// One past its last leaf.
        end: u64,
    },
    /// The output slice is shorter than the proof.
    OutputTooSmall {
        /// Hashes in the proof.
        needed: usize,
        /// Hashes the output slice holds.
        available: usize,
    },
    /// The source failed to give a hash.
    Source {
        /// The level of the hash asked for (0: a leaf).
        level: u8,
        /// Its index on that level.
        index: u64,
        /// What the source said.
        error: E,
    },
}

impl<E: fmt::Display> fmt::Display for ProveError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProveError::EmptyTree => f.write_str("merkle proof: the tree of size 0 has no leaves"),
            ProveError::IndexOutOfRange { index, size } => write!(
                f,
                "merkle proof: leaf index {index} is not below the tree size {size}"
            ),
            ProveError::FirstTreeEmpty => {
                f.write_str("merkle proof: consistency from a tree of size 0 (nothing to prove)")
            }
            ProveError::SizesReversed { first, second } => write!(
                f,
                "merkle proof: consistency from size {first} to the smaller size {second}"
            ),
            ProveError::NotASubtree { start, end } => {
                write!(f, "merkle proof: leaves {start}..{end} are not a subtree")
            }
            ProveError::OutputTooSmall { needed, available } => write!(
                f,
                "merkle proof: {needed} hashes, the output holds {available}"
            ),
            ProveError::Source {
                level: 0,
                index,
                error,
            } => write!(f, "merkle proof: reading leaf {index}: {error}"),
            ProveError::Source {
                level,
                index,
                error,
            } => write!(
                f,
                "merkle proof: reading node {index} of level {level}: {error}"
            ),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> core::error::Error for ProveError<E> {}

/// The root of the perfect subtree of `width` leaves (a power of 2, at most
/// `2^63`) starting at leaf `start` (a multiple of `width`): from the source
/// if it keeps it, else folded from the leaves with one hash per level.
pub(super) fn perfect<S: LeafSource>(
    source: &mut S,
    start: u64,
    width: u64,
) -> Result<Hash, ProveError<S::Error>> {
    let level = width.trailing_zeros();
    if level > 0 {
        // `level` is at most 63: `width` is a power of 2 below 2^64.
        let (level, index) = (level as u8, start >> level);
        let stored = source
            .node(level, index)
            .map_err(|error| ProveError::Source {
                level,
                index,
                error,
            })?;
        if let Some(hash) = stored {
            return Ok(hash);
        }
    }
    let mut by_level = [Hash::GENESIS; 64];
    let mut root = EMPTY_ROOT;
    for offset in 0..width {
        // `start` is a multiple of `width`: `start | offset` is `start + offset`.
        let index = start | offset;
        let leaf = source.leaf(index).map_err(|error| ProveError::Source {
            level: 0,
            index,
            error,
        })?;
        // The last leaf completes the subtree: its carry is the root.
        root = carry(&mut by_level, offset, leaf);
    }
    Ok(root)
}

/// The Merkle tree hash (RFC 6962 `MTH`) of leaves `start..end`, when they
/// make a subtree of a log's tree: `start` is a multiple of the largest power
/// of 2 up to `end - start` (every hash of every proof is one). `start ==
/// end` gives [`EMPTY_ROOT`].
///
/// Computed right to left, one perfect subtree per set bit of `end - start`,
/// with no stack: O(log n) subtree roots from the source, each stored or
/// folded from its leaves with an O(log n) stack of hashes.
pub fn subtree_root<S: LeafSource>(
    start: u64,
    end: u64,
    mut source: S,
) -> Result<Hash, ProveError<S::Error>> {
    range_root(&mut source, start, end)
}

fn range_root<S: LeafSource>(
    source: &mut S,
    start: u64,
    end: u64,
) -> Result<Hash, ProveError<S::Error>> {
    let not_a_subtree = || ProveError::NotASubtree { start, end };
    let len = end.checked_sub(start).ok_or_else(not_a_subtree)?;
    if len == 0 {
        return Ok(EMPTY_ROOT);
    }
    let top = 1u64 << (63 - len.leading_zeros());
    if start & (top - 1) != 0 {
        return Err(not_a_subtree());
    }
    // The smallest subtree is the rightmost one.
    let (mut root, mut pos, mut bits) = (None, end, len);
    while bits != 0 {
        let width = bits & bits.wrapping_neg();
        bits ^= width;
        pos -= width;
        let left = perfect(source, pos, width)?;
        root = Some(match root {
            None => left,
            Some(right) => node_hash(&left, &right),
        });
    }
    Ok(root.unwrap_or(EMPTY_ROOT))
}

/// RFC 6962 `PATH(m, D[n])` as a top-down walk: the leaf range of each proof
/// hash, the root's other child first.
#[derive(Clone)]
struct InclusionPath {
    index: u64,
    lo: u64,
    hi: u64,
}

impl Iterator for InclusionPath {
    type Item = (u64, u64);

    fn next(&mut self) -> Option<(u64, u64)> {
        // lo <= index < hi throughout.
        let k = split_point(self.hi - self.lo);
        if k == 0 {
            return None;
        }
        let mid = self.lo + k;
        if self.index < mid {
            let sibling = (mid, self.hi);
            self.hi = mid;
            Some(sibling)
        } else {
            let sibling = (self.lo, mid);
            self.lo = mid;
            Some(sibling)
        }
    }
}

/// RFC 6962 `SUBPROOF(m, D[n], b)` as a top-down walk: the leaf range of
/// each proof hash, the last one (the subtree both trees share, unless it is
/// the first tree itself) last.
#[derive(Clone)]
struct ConsistencyPath {
    first: u64,
    lo: u64,
    hi: u64,
    /// RFC 6962's `b`: the shared subtree is the first tree, whose root the
    /// verifier has.
    known: bool,
    done: bool,
}

impl Iterator for ConsistencyPath {
    type Item = (u64, u64);

    fn next(&mut self) -> Option<(u64, u64)> {
        // lo < first <= hi throughout.
        if self.done {
            return None;
        }
        if self.first == self.hi {
            self.done = true;
            return (!self.known).then_some((self.lo, self.hi));
        }
        let mid = self.lo + split_point(self.hi - self.lo);
        if self.first <= mid {
            let right = (mid, self.hi);
            self.hi = mid;
            Some(right)
        } else {
            let left = (self.lo, mid);
            self.lo = mid;
            self.known = false;
            Some(left)
        }
    }
}

/// Writes the roots of the walk's ranges into `out`, back to front.
fn fill<S: LeafSource>(
    source: &mut S,
    walk: impl Iterator<Item = (u64, u64)> + Clone,
    out: &mut [Hash],
) -> Result<usize, ProveError<S::Error>> {
    let needed = walk.clone().count();
    let available = out.len();
    let out = out
        .get_mut(..needed)
        .ok_or(ProveError::OutputTooSmall { needed, available })?;
    for (slot, (start, end)) in out.iter_mut().rev().zip(walk) {
        *slot = range_root(source, start, end)?;
    }
    Ok(needed)
}

/// Writes the inclusion proof (audit path) of leaf `index` in the tree of
/// `size` leaves into `out`; returns its length (at most
/// [`MAX_INCLUSION_PROOF_LEN`](super::MAX_INCLUSION_PROOF_LEN), the same as
/// [`inclusion_proof_len`](super::inclusion_proof_len)).
pub fn inclusion_proof<S: LeafSource>(
    index: u64,
    size: u64,
    mut source: S,
    out: &mut [Hash],
) -> Result<usize, ProveError<S::Error>> {
    if size == 0 {
        return Err(ProveError::EmptyTree);
    }
    if index >= size {
        return Err(ProveError::IndexOutOfRange { index, size });
    }
    let walk = InclusionPath {
        index,
        lo: 0,
        hi: size,
    };
    fill(&mut source, walk, out)
}

/// Writes the consistency proof from the tree of `first` leaves to the tree
/// of `second` leaves into `out`; returns its length (at most
/// [`MAX_CONSISTENCY_PROOF_LEN`](super::MAX_CONSISTENCY_PROOF_LEN), the same
/// as [`consistency_proof_len`](super::consistency_proof_len); 0 for equal
/// sizes).
pub fn consistency_proof<S: LeafSource>(
    first: u64,
    second: u64,
    mut source: S,
    out: &mut [Hash],
) -> Result<usize, ProveError<S::Error>> {
    if first == 0 {
        return Err(ProveError::FirstTreeEmpty);
    }
    if first > second {
        return Err(ProveError::SizesReversed { first, second });
    }
    let walk = ConsistencyPath {
        first,
        lo: 0,
        hi: second,
        known: true,
        done: false,
    };
    fill(&mut source, walk, out)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::super::{consistency_proof_len, inclusion_proof_len, leaf_hash, CompactRange};
    use super::*;
    use crate::hash::BlockHasher;
    use std::vec::Vec;

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n)
            .map(|i| leaf_hash(&BlockHasher::hash(&i.to_le_bytes())))
            .collect()
    }

    /// Counts the reads, and keeps the perfect subtrees when asked to.
    struct Counting<'a> {
        leaves: &'a [Hash],
        stored: bool,
        leaf_reads: u64,
        node_reads: u64,
    }

    impl LeafSource for Counting<'_> {
        type Error = MissingLeaf;
        fn leaf(&mut self, index: u64) -> Result<Hash, MissingLeaf> {
            self.leaf_reads += 1;
            let mut slice = self.leaves;
            slice.leaf(index)
        }
        fn node(&mut self, level: u8, index: u64) -> Result<Option<Hash>, MissingLeaf> {
            self.node_reads += 1;
            if !self.stored {
                return Ok(None);
            }
            let start = (index << level) as usize;
            let end = start + (1 << level);
            let mut range = CompactRange::new();
            for leaf in self.leaves.get(start..end).ok_or(MissingLeaf { index })? {
                range.push(*leaf).unwrap();
            }
            Ok(Some(range.root()))
        }
    }

    #[test]
    fn walks_agree_with_rfc_9162_lengths() {
        for size in 1..=130u64 {
            for index in 0..size {
                let walk = InclusionPath {
                    index,
                    lo: 0,
                    hi: size,
                };
                assert_eq!(Ok(walk.count()), inclusion_proof_len(index, size));
            }
            for first in 1..=size {
                let walk = ConsistencyPath {
                    first,
                    lo: 0,
                    hi: size,
                    known: true,
                    done: false,
                };
                assert_eq!(Ok(walk.count()), consistency_proof_len(first, size));
            }
        }
        // The largest sizes, without hashing.
        for (index, size) in [(0, u64::MAX), (u64::MAX - 1, u64::MAX), (1 << 62, u64::MAX)] {
            let walk = InclusionPath {
                index,
                lo: 0,
                hi: size,
            };
            assert_eq!(Ok(walk.count()), inclusion_proof_len(index, size));
        }
        for (first, second) in [(3, u64::MAX), (u64::MAX - 1, u64::MAX), (1 << 63, u64::MAX)] {
            let walk = ConsistencyPath {
                first,
                lo: 0,
                hi: second,
                known: true,
                done: false,
            };
            assert_eq!(Ok(walk.count()), consistency_proof_len(first, second));
        }
    }

    #[test]
    fn subtree_roots_match_a_range_and_refuse_unaligned_ranges() {
        let all = leaves(37);
        for start in 0..37u64 {
            for end in start..=37 {
                let mut range = CompactRange::new();
                for leaf in &all[start as usize..end as usize] {
                    range.push(*leaf).unwrap();
                }
                let len = end - start;
                let aligned = len == 0 || start % (1 << (63 - len.leading_zeros())) == 0;
                let got = subtree_root(start, end, &all[..]);
                if aligned {
                    assert_eq!(got, Ok(range.root()), "{start}..{end}");
                } else {
                    assert_eq!(got, Err(ProveError::NotASubtree { start, end }));
                }
            }
        }
        assert_eq!(
            subtree_root(5, 4, &all[..]),
            Err(ProveError::NotASubtree { start: 5, end: 4 })
        );
    }

    #[test]
    fn stored_subtrees_save_leaf_reads_and_give_the_same_proofs() {
        let all = leaves(1000);
        let mut plain = Counting {
            leaves: &all,
            stored: false,
            leaf_reads: 0,
            node_reads: 0,
        };
        let mut stored = Counting {
            leaves: &all,
            stored: true,
            leaf_reads: 0,
            node_reads: 0,
        };
        let (mut a, mut b) = ([Hash::GENESIS; 64], [Hash::GENESIS; 64]);
        let n = inclusion_proof(517, 1000, &mut plain, &mut a).unwrap();
        assert_eq!(inclusion_proof(517, 1000, &mut stored, &mut b), Ok(n));
        assert_eq!(a[..n], b[..n]);
        // Without stored nodes every other leaf is read; with them, one
        // perfect subtree per set bit of each range.
        assert_eq!(plain.leaf_reads, 999);
        assert!(stored.leaf_reads <= 1, "{}", stored.leaf_reads);
        assert!(stored.node_reads <= 40, "{}", stored.node_reads);
        let n = consistency_proof(300, 1000, &mut plain, &mut a).unwrap();
        assert_eq!(consistency_proof(300, 1000, &mut stored, &mut b), Ok(n));
        assert_eq!(a[..n], b[..n]);
    }

    #[test]
    fn a_failing_source_is_named_with_the_hash_it_failed_on() {
        let all = leaves(5);
        let mut out = [Hash::GENESIS; 64];
        // The slice holds 5 leaves; the proof in a tree of 8 needs 5..8.
        assert_eq!(
            inclusion_proof(0, 8, &all[..], &mut out),
            Err(ProveError::Source {
                level: 0,
                index: 5,
                error: MissingLeaf { index: 5 }
            })
        );
        let e = inclusion_proof(0, 8, &all[..], &mut out).unwrap_err();
        assert_eq!(
            std::format!("{e}"),
            "merkle proof: reading leaf 5: no leaf 5 in the slice of leaf hashes"
        );
    }

    #[test]
    fn a_short_output_is_refused_before_any_read() {
        let mut source = Counting {
            leaves: &leaves(8),
            stored: false,
            leaf_reads: 0,
            node_reads: 0,
        };
        let mut out = [Hash::GENESIS; 2];
        assert_eq!(
            inclusion_proof(0, 8, &mut source, &mut out),
            Err(ProveError::OutputTooSmall {
                needed: 3,
                available: 2
            })
        );
        assert_eq!(source.leaf_reads + source.node_reads, 0);
    }
}
