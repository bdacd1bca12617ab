//! The tree's right edge: what a writer keeps to know the root after every
//! record, in fixed memory.
//!
//! A tree of `n` leaves splits into one perfect subtree per set bit of `n`,
//! left to right from the largest: `n = 6` (`0b110`) is leaves `0..4` and
//! `4..6`. The range keeps the root of each, so it holds at most 64 hashes,
//! and folds them right to left into the tree's root (RFC 6962's `MTH`).
//!
//! Encoded (to persist it):
//!
//! ```text
//!  0       8                  8+32              8+32·k
//! +--------+------------------+------ … ------+
//! | size   | root of the      |  …  root of the |   k = popcount(size)
//! | u64 BE | largest subtree  |  smallest one   |   8 + 32·k bytes, at most 2056
//! +--------+------------------+------ … ------+
//! ```
//!
//! The bytes carry no checksum: whoever stores them frames them, and checks a
//! restored range against the log (its size, and for an odd size its last
//! hash is the last record's leaf hash).

use core::fmt;

use super::prove::{perfect, LeafSource, ProveError};
use super::{leaf_hash, node_hash, EMPTY_ROOT};
use crate::hash::Hash;

/// The right edge of a Merkle tree: its size and the roots of its perfect
/// subtrees, at most 64 hashes (2 KiB), no heap.
///
/// ```
/// # use immutable_log::merkle::{CompactRange, EMPTY_ROOT};
/// static EDGE: spin::Mutex<CompactRange> = spin::Mutex::new(CompactRange::new());
/// assert_eq!(EDGE.lock().root(), EMPTY_ROOT);
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct CompactRange {
    size: u64,
    /// `by_level[l]`: the root of the subtree of `2^l` leaves, when bit `l`
    /// of `size` is set; all zero otherwise (so equal ranges compare equal).
    by_level: [Hash; 64],
}

/// A range cannot take another leaf, or its bytes are not a range.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum RangeError {
    /// The range holds `u64::MAX` leaves: one more has no size.
    Full,
    /// The buffer given to [`CompactRange::encode`] is too small.
    BufferTooSmall {
        /// Bytes the encoding takes.
        needed: usize,
        /// Bytes the buffer has.
        available: usize,
    },
    /// The bytes given to [`CompactRange::decode`] are not `8 + 32·k` long,
    /// `k` being the number of set bits of the size they start with.
    WrongLength {
        /// The length the size calls for (8 when there is not even a size).
        expected: usize,
        /// The length given.
        found: usize,
    },
}

impl fmt::Display for RangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RangeError::Full => f.write_str("merkle range: full (u64::MAX leaves)"),
            RangeError::BufferTooSmall { needed, available } => write!(
                f,
                "merkle range: encoding takes {needed} bytes, the buffer has {available}"
            ),
            RangeError::WrongLength { expected, found } => write!(
                f,
                "merkle range: {found} bytes, the size they start with calls for {expected}"
            ),
        }
    }
}

impl core::error::Error for RangeError {}

impl CompactRange {
    /// The longest encoding: the size and 64 hashes.
    pub const MAX_ENCODED_LEN: usize = 8 + 64 * 32;

    /// The empty tree.
    pub const fn new() -> Self {
        CompactRange {
            size: 0,
            by_level: [Hash::GENESIS; 64],
        }
    }

    /// How many leaves the tree has.
    pub const fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf, given its **leaf hash** (see [`leaf_hash`]): at most
    /// 64 node hashes, one on average.
    pub fn push(&mut self, leaf_hash: Hash) -> Result<(), RangeError> {
        let size = self.size.checked_add(1).ok_or(RangeError::Full)?;
        carry(&mut self.by_level, self.size, leaf_hash);
        self.size = size;
        Ok(())
    }

    /// Appends a record, given its digest (SHA-256 of its `block_json`):
    /// `push(leaf_hash(digest))`.
    pub fn push_record(&mut self, digest: &Hash) -> Result<(), RangeError> {
        self.push(leaf_hash(digest))
    }

    /// Rebuilds the right edge of the tree of `size` leaves from a source:
    /// one subtree root per set bit of `size`, so O(log n) reads from a
    /// source that keeps subtree roots ([`LeafSource::node`]), `size` leaf
    /// reads from one that does not.
    pub fn from_source<S: LeafSource>(
        size: u64,
        mut source: S,
    ) -> Result<Self, ProveError<S::Error>> {
        let mut range = CompactRange::new();
        range.size = size;
        let mut start = 0u64;
        for (level, slot) in range.by_level.iter_mut().enumerate().rev() {
            if size >> level & 1 == 1 {
                let width = 1u64 << level;
                *slot = perfect(&mut source, start, width)?;
                start += width;
            }
        }
        Ok(range)
    }

    /// The tree's root (RFC 6962 `MTH`): [`EMPTY_ROOT`] for no leaves.
    pub fn root(&self) -> Hash {
        // Fold right to left: the smallest subtree is the rightmost.
        let mut root: Option<Hash> = None;
        for (level, hash) in self.by_level.iter().enumerate() {
            if self.size >> level & 1 == 1 {
                root = Some(match root {
                    None => *hash,
                    Some(right) => node_hash(hash, &right),
                });
            }
        }
        root.unwrap_or(EMPTY_ROOT)
    }

    /// The roots of the perfect subtrees, left to right (largest first): one
    /// per set bit of the size.
    pub fn hashes(&self) -> impl Iterator<Item = &Hash> + '_ {
        let size = self.size;
        self.by_level
            .iter()
            .enumerate()
            .rev()
            .filter(move |(level, _)| size >> level & 1 == 1)
            .map(|(_, hash)| hash)
    }

    /// Bytes [`encode`](Self::encode) writes: `8 + 32 · popcount(size)`.
    pub const fn encoded_len(&self) -> usize {
        8 + 32 * self.size.count_ones() as usize
    }

    /// Writes the range into `out` (layout in the module docs); returns the
    /// number of bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, RangeError> {
        let needed = self.encoded_len();
        let available = out.len();
        let out = out
            .get_mut(..needed)
            .ok_or(RangeError::BufferTooSmall { needed, available })?;
        let (size, hashes) = out.split_at_mut(8);
        size.copy_from_slice(&self.size.to_be_bytes());
        for (chunk, hash) in hashes.chunks_exact_mut(32).zip(self.hashes()) {
            chunk.copy_from_slice(hash.as_bytes());
        }
        Ok(needed)
    }

    /// Reads a range that [`encode`](Self::encode) wrote: exactly its bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, RangeError> {
        let found = bytes.len();
        let (size, hashes) = bytes
            .split_first_chunk::<8>()
            .ok_or(RangeError::WrongLength { expected: 8, found })?;
        let size = u64::from_be_bytes(*size);
        let expected = 8 + 32 * size.count_ones() as usize;
        if found != expected {
            return Err(RangeError::WrongLength { expected, found });
        }
        let mut range = CompactRange::new();
        range.size = size;
        let levels = range
            .by_level
            .iter_mut()
            .enumerate()
            .rev()
            .filter(|(level, _)| size >> level & 1 == 1);
        for ((_, slot), chunk) in levels.zip(hashes.chunks_exact(32)) {
            let mut hash = [0u8; 32];
            hash.copy_from_slice(chunk);
            *slot = Hash::from_bytes(hash);
        }
        Ok(range)
    }
}

/// Adds leaf `count` (0-based) to the subtree roots of the `count` leaves
/// before it (`by_level`, as in [`CompactRange`]); returns the root of the
/// subtree it ends up in. Each trailing 1 bit of `count` is a subtree as tall
/// as the one being carried: they merge, and their slots empty.
pub(super) fn carry(by_level: &mut [Hash; 64], count: u64, leaf_hash: Hash) -> Hash {
    let carries = count.trailing_ones() as usize;
    let mut carried = leaf_hash;
    let (merged, rest) = by_level.split_at_mut(carries.min(64));
    for left in merged.iter_mut() {
        carried = node_hash(left, &carried);
        *left = Hash::GENESIS;
    }
    if let Some(slot) = rest.first_mut() {
        *slot = carried;
    }
    carried
}

impl Default for CompactRange {
    fn default() -> Self {
        CompactRange::new()
    }
}

impl fmt::Debug for CompactRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompactRange")
            .field("size", &self.size)
            .field("hashes", &DebugHashes(self))
            .finish()
    }
}

struct DebugHashes<'a>(&'a CompactRange);

impl fmt::Debug for DebugHashes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.hashes()).finish()
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::hash::BlockHasher;
    use std::vec::Vec;

    fn leaf(i: u64) -> Hash {
        leaf_hash(&BlockHasher::hash(&i.to_be_bytes()))
    }

    /// RFC 6962 `MTH`, recursively, straight from the definition.
    fn mth(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => EMPTY_ROOT,
            1 => leaves[0],
            n => {
                let k = super::super::split_point(n as u64) as usize;
                node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }

    #[test]
    fn root_after_every_push_is_the_definition() {
        let mut range = CompactRange::new();
        let mut leaves = Vec::new();
        assert_eq!(range.root(), EMPTY_ROOT);
        for i in 0..200 {
            range.push(leaf(i)).unwrap();
            leaves.push(leaf(i));
            assert_eq!(range.size(), i + 1);
            assert_eq!(range.root(), mth(&leaves), "size {}", i + 1);
            assert_eq!(range.hashes().count(), (i + 1).count_ones() as usize);
        }
    }

    #[test]
    fn push_record_is_push_of_the_leaf_hash() {
        let d = BlockHasher::hash(b"block");
        let mut a = CompactRange::new();
        let mut b = CompactRange::new();
        a.push_record(&d).unwrap();
        b.push(leaf_hash(&d)).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.root(), leaf_hash(&d));
    }

    #[test]
    fn encode_decode_round_trip_and_bad_lengths() {
        let mut range = CompactRange::new();
        let mut buf = [0u8; CompactRange::MAX_ENCODED_LEN];
        for i in 0..70 {
            let n = range.encode(&mut buf).unwrap();
            assert_eq!(n, range.encoded_len());
            assert_eq!(CompactRange::decode(&buf[..n]), Ok(range));
            assert!(matches!(
                CompactRange::decode(&buf[..n - 1]),
                Err(RangeError::WrongLength { found, .. }) if found == n - 1
            ));
            assert_eq!(
                range.encode(&mut buf[..n - 1]),
                Err(RangeError::BufferTooSmall {
                    needed: n,
                    available: n - 1
                })
            );
            range.push(leaf(i)).unwrap();
        }
        assert_eq!(
            CompactRange::decode(&[0; 7]),
            Err(RangeError::WrongLength {
                expected: 8,
                found: 7
            })
        );
        // Size 3 calls for two hashes.
        let mut three = [0u8; 8 + 64];
        three[7] = 3;
        assert!(CompactRange::decode(&three).is_ok());
        assert_eq!(
            CompactRange::decode(&three[..8 + 32]),
            Err(RangeError::WrongLength {
                expected: 72,
                found: 40
            })
        );
    }

    #[test]
    fn a_full_range_refuses_a_leaf_and_stays_as_it_was() {
        let mut bytes = [0xabu8; CompactRange::MAX_ENCODED_LEN];
        bytes[..8].copy_from_slice(&u64::MAX.to_be_bytes());
        let mut full = CompactRange::decode(&bytes).unwrap();
        assert_eq!(full.hashes().count(), 64);
        let before = full;
        assert_eq!(full.push(leaf(0)), Err(RangeError::Full));
        assert_eq!(full, before);
        // Its root folds all 64 subtrees.
        let _ = full.root();
        // One below full takes exactly one more.
        bytes[..8].copy_from_slice(&(u64::MAX - 1).to_be_bytes());
        let mut almost = CompactRange::decode(&bytes[..8 + 63 * 32]).unwrap();
        assert_eq!(almost.push(leaf(0)), Ok(()));
        assert_eq!(almost.size(), u64::MAX);
        assert_eq!(almost.push(leaf(0)), Err(RangeError::Full));
    }
}
