//! Checking proofs: RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2 (consistency),
//! step by step, in fixed memory.
//!
//! Both first work out how many hashes the proof must have for the sizes
//! given, so a proof with one hash too many or too few is reported as such,
//! not as a root that does not match.

use core::fmt;

use super::node_hash;
use crate::hash::Hash;

/// A proof, or the sizes and indexes it is checked against, is wrong.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum ProofError {
    /// An inclusion proof in a tree of size 0: the empty tree has no leaves.
    EmptyTree,
    /// The leaf index is not below the tree size.
    IndexOutOfRange {
        /// The leaf index given.
        index: u64,
        /// The tree size given.
        size: u64,
    },
    /// A consistency proof from a tree of size 0: there is nothing to prove
    /// (RFC 9162 requires `0 < first`).
    FirstTreeEmpty,
    /// A consistency proof from a larger tree to a smaller one.
    SizesReversed {
        /// The first (older) tree size given.
        first: u64,
        /// The second (newer) tree size given.
        second: u64,
    },
    /// The proof has the wrong number of hashes for the sizes given.
    WrongProofLength {
        /// The number of hashes the sizes call for.
        expected: usize,
        /// The number of hashes the proof has.
        found: usize,
    },
    /// An inclusion proof leads to another root than the one given: the leaf
    /// is not in that tree at that index, or a hash of the proof is wrong.
    RootMismatch,
    /// A consistency proof leads to another first-tree root than the one given.
    /// (When the first size is a power of 2 the proof starts from the first
    /// root itself, and a wrong one shows as [`SecondRootMismatch`](Self::SecondRootMismatch).)
    FirstRootMismatch,
    /// A consistency proof leads to another second-tree root than the one given.
    SecondRootMismatch,
    /// Two trees of the same size with different roots: not consistent (a fork).
    RootsDiffer {
        /// The size of both trees.
        size: u64,
    },
}

impl fmt::Display for ProofError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProofError::EmptyTree => f.write_str("merkle proof: the tree of size 0 has no leaves"),
            ProofError::IndexOutOfRange { index, size } => write!(
                f,
                "merkle proof: leaf index {index} is not below the tree size {size}"
            ),
            ProofError::FirstTreeEmpty => {
                f.write_str("merkle proof: consistency from a tree of size 0 (nothing to prove)")
            }
            ProofError::SizesReversed { first, second } => write!(
                f,
                "merkle proof: consistency from size {first} to the smaller size {second}"
            ),
            ProofError::WrongProofLength { expected, found } => write!(
                f,
                "merkle proof: {found} hashes, the sizes call for {expected}"
            ),
            ProofError::RootMismatch => {
                f.write_str("merkle proof: the inclusion proof leads to another root")
            }
            ProofError::FirstRootMismatch => {
                f.write_str("merkle proof: the consistency proof leads to another first root")
            }
            ProofError::SecondRootMismatch => {
                f.write_str("merkle proof: the consistency proof leads to another second root")
            }
            ProofError::RootsDiffer { size } => write!(
                f,
                "merkle proof: two trees of size {size} with different roots"
            ),
        }
    }
}

impl core::error::Error for ProofError {}

/// Right-shifts both numbers once.
fn shift(fn_: &mut u64, sn: &mut u64) {
    *fn_ >>= 1;
    *sn >>= 1;
}

/// RFC 9162's inner step (iii): right-shift both until `fn` is odd or 0.
fn shift_to_odd_or_zero(fn_: &mut u64, sn: &mut u64) {
    while *fn_ & 1 == 0 && *fn_ != 0 {
        shift(fn_, sn);
    }
}

/// How many proof hashes RFC 9162's loop takes from `(fn, sn)` until `sn`
/// is 0: the loop below without the hashing. At most 64 (`sn` loses a bit
/// at each step).
fn steps(mut fn_: u64, mut sn: u64) -> usize {
    let mut steps = 0;
    while sn != 0 {
        if fn_ & 1 == 0 && fn_ == sn {
            shift_to_odd_or_zero(&mut fn_, &mut sn);
        }
        shift(&mut fn_, &mut sn);
        steps += 1;
    }
    steps
}

/// The number of hashes in the inclusion proof of leaf `index` in a tree of
/// `size` leaves (at most [`MAX_INCLUSION_PROOF_LEN`](super::MAX_INCLUSION_PROOF_LEN)).
pub fn inclusion_proof_len(index: u64, size: u64) -> Result<usize, ProofError> {
    let last = size.checked_sub(1).ok_or(ProofError::EmptyTree)?;
    if index > last {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    Ok(steps(index, last))
}

/// The number of hashes in the consistency proof from a tree of `first`
/// leaves to one of `second` leaves (at most
/// [`MAX_CONSISTENCY_PROOF_LEN`](super::MAX_CONSISTENCY_PROOF_LEN); 0 when
/// the sizes are equal).
pub fn consistency_proof_len(first: u64, second: u64) -> Result<usize, ProofError> {
    let Some(mut fn_) = first.checked_sub(1) else {
        return Err(ProofError::FirstTreeEmpty);
    };
    if first > second {
        return Err(ProofError::SizesReversed { first, second });
    }
    if first == second {
        return Ok(0);
    }
    let mut sn = second - 1;
    while fn_ & 1 == 1 {
        shift(&mut fn_, &mut sn);
    }
    // Unless `first` is a power of 2, the proof starts with the node both
    // trees share (RFC 9162 step 2 prepends `first_hash` otherwise).
    Ok(usize::from(!first.is_power_of_two()) + steps(fn_, sn))
}

/// Checks that `leaf_hash` is leaf `index` of the tree of `size` leaves whose
/// root is `root`, given its inclusion proof (`audit_path`, RFC 9162
/// §2.1.3.2; RFC 6962 order: the leaf's sibling first).
///
/// `leaf_hash` is the **leaf hash**: [`leaf_hash`](super::leaf_hash) of the
/// record's digest.
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf_hash: &Hash,
    audit_path: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    let expected = inclusion_proof_len(index, size)?;
    let wrong_length = ProofError::WrongProofLength {
        expected,
        found: audit_path.len(),
    };
    if audit_path.len() != expected {
        return Err(wrong_length);
    }
    // 1. fn = leaf_index, sn = tree_size - 1 (size > index >= 0 here).
    let (mut fn_, mut sn) = (index, size - 1);
    // 2. r = hash.
    let mut r = *leaf_hash;
    // 3. For each p in the path:
    for p in audit_path {
        // a. sn = 0: too many hashes.
        if sn == 0 {
            return Err(wrong_length);
        }
        // b. fn odd, or fn = sn: p is on the left.
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            if fn_ & 1 == 0 {
                shift_to_odd_or_zero(&mut fn_, &mut sn);
            }
        } else {
            r = node_hash(&r, p);
        }
        // c. Right-shift both once.
        shift(&mut fn_, &mut sn);
    }
    // 4. sn = 0 (too few hashes otherwise), and r = root.
    if sn != 0 {
        return Err(wrong_length);
    }
    if r != *root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Checks that the tree of `first` leaves with root `first_root` is a prefix
/// of the tree of `second` leaves with root `second_root`, given the
/// consistency proof (RFC 9162 §2.1.4.2).
///
/// Equal sizes take an empty proof and equal roots. A first size of 0 is
/// refused ([`ProofError::FirstTreeEmpty`]): every tree extends the empty
/// tree, so such a "proof" would prove nothing.
pub fn verify_consistency(
    first: u64,
    second: u64,
    first_root: &Hash,
    second_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    let expected = consistency_proof_len(first, second)?;
    let wrong_length = ProofError::WrongProofLength {
        expected,
        found: proof.len(),
    };
    if proof.len() != expected {
        return Err(wrong_length);
    }
    if first == second {
        return if first_root == second_root {
            Ok(())
        } else {
            Err(ProofError::RootsDiffer { size: first })
        };
    }
    // 1. An empty proof fails; 2. a power-of-2 first size starts from
    // first_hash (prepended), any other from the proof's first hash.
    let (start, rest) = if first.is_power_of_two() {
        (first_root, proof)
    } else {
        proof.split_first().ok_or(wrong_length)?
    };
    // 3. fn = first - 1, sn = second - 1 (0 < first < second here).
    let (mut fn_, mut sn) = (first - 1, second - 1);
    // 4. Right-shift both while fn is odd.
    while fn_ & 1 == 1 {
        shift(&mut fn_, &mut sn);
    }
    // 5. fr = sr = the first value.
    let (mut fr, mut sr) = (*start, *start);
    // 6. For each subsequent value c:
    for c in rest {
        // a. sn = 0: too many hashes.
        if sn == 0 {
            return Err(wrong_length);
        }
        // b. fn odd, or fn = sn: c is on the left, in both trees.
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fn_ & 1 == 0 {
                shift_to_odd_or_zero(&mut fn_, &mut sn);
            }
        } else {
            // Otherwise c is on the right, in the second tree only.
            sr = node_hash(&sr, c);
        }
        // c. Right-shift both once.
        shift(&mut fn_, &mut sn);
    }
    // 7. sn = 0, fr = first_hash, sr = second_hash.
    if sn != 0 {
        return Err(wrong_length);
    }
    if fr != *first_root {
        return Err(ProofError::FirstRootMismatch);
    }
    if sr != *second_root {
        return Err(ProofError::SecondRootMismatch);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proof_lengths_at_the_edges() {
        assert_eq!(inclusion_proof_len(0, 1), Ok(0));
        assert_eq!(inclusion_proof_len(0, 8), Ok(3));
        assert_eq!(inclusion_proof_len(4, 5), Ok(1));
        assert_eq!(inclusion_proof_len(1, 5), Ok(3));
        assert_eq!(inclusion_proof_len(0, u64::MAX), Ok(64));
        // The last leaf of that tree: one sibling per other subtree.
        assert_eq!(inclusion_proof_len(u64::MAX - 1, u64::MAX), Ok(63));
        assert_eq!(inclusion_proof_len(0, 0), Err(ProofError::EmptyTree));
        assert_eq!(
            inclusion_proof_len(5, 5),
            Err(ProofError::IndexOutOfRange { index: 5, size: 5 })
        );
        assert_eq!(consistency_proof_len(1, 1), Ok(0));
        assert_eq!(consistency_proof_len(1, 8), Ok(3));
        assert_eq!(consistency_proof_len(6, 8), Ok(3));
        assert_eq!(consistency_proof_len(2, 5), Ok(2));
        assert_eq!(consistency_proof_len(3, 7), Ok(4));
        assert_eq!(consistency_proof_len(3, u64::MAX), Ok(65));
        assert_eq!(consistency_proof_len(0, 5), Err(ProofError::FirstTreeEmpty));
        assert_eq!(consistency_proof_len(0, 0), Err(ProofError::FirstTreeEmpty));
        assert_eq!(
            consistency_proof_len(6, 5),
            Err(ProofError::SizesReversed {
                first: 6,
                second: 5
            })
        );
    }

    #[test]
    fn no_proof_is_longer_than_the_maximum() {
        use super::super::{MAX_CONSISTENCY_PROOF_LEN, MAX_INCLUSION_PROOF_LEN};
        // Every power of 2 and its neighbours, as sizes and indexes.
        let mut edges = [u64::MAX; 3 * 64 + 2];
        edges[0] = u64::MAX - 1;
        for (i, e) in edges.iter_mut().skip(2).enumerate() {
            *e = (1u64 << (i / 3))
                .wrapping_add((i % 3) as u64)
                .wrapping_sub(1);
        }
        let mut longest = (0, 0);
        for &a in &edges {
            for &b in &edges {
                if let Ok(n) = inclusion_proof_len(a, b) {
                    longest.0 = longest.0.max(n);
                }
                if let Ok(n) = consistency_proof_len(a, b) {
                    longest.1 = longest.1.max(n);
                }
            }
        }
        assert_eq!(
            longest,
            (MAX_INCLUSION_PROOF_LEN, MAX_CONSISTENCY_PROOF_LEN)
        );
    }
}
