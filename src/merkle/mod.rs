//! The Merkle tree over a log's records: RFC 6962 / RFC 9162 hashing, the
//! tree's right edge ([`CompactRange`]), inclusion and consistency proofs.
//!
//! # The recipe, byte by byte
//!
//! Leaf *i* of a log's tree is record *i* (records counted from 0 in the
//! order they stand in the log, seed-written logs too). Its **digest** `d(i)`
//! is the plain SHA-256 of the record's `block_json`, the hash a plain log
//! states ([`BlockHasher::hash`](crate::BlockHasher::hash)); a keyed log uses
//! the same digest, not its tag, so anyone can check a proof without the key.
//!
//! ```text
//! leaf hash  LH(i)      = SHA-256( 0x00 ‖ d(i) )              33 bytes hashed
//! node hash  NH(l, r)   = SHA-256( 0x01 ‖ l ‖ r )             65 bytes hashed
//! MTH({})               = SHA-256( "" )                       = e3b0c442…7852b855
//! MTH(D[0:1])           = LH(0)
//! MTH(D[0:n]), n > 1    = NH( MTH(D[0:k]), MTH(D[k:n]) )      k: the largest power of 2 below n
//! ```
//!
//! This is RFC 6962 §2.1 with SHA-256, leaf data being the 32-byte digest. A
//! log's tree root is `MTH` of all its leaves; the root of size `n` covers
//! records `0..n`.
//!
//! # What goes in: leaf hashes
//!
//! Every function here takes **leaf hashes** `LH(i)`, not digests, so that the
//! tree is the plain RFC 6962 tree and the published test vectors (which hash
//! raw leaf data of any length) apply unchanged. Turn a record's digest into
//! its leaf hash with [`leaf_hash`] (or use [`CompactRange::push_record`]).
//!
//! # The parts
//!
//! - [`CompactRange`]: the tree's right edge, at most 64 hashes and the size
//!   (2 KiB, no heap): `push` a leaf in O(log n), `root` at any time, and
//!   `encode`/`decode` it so a writer can persist it.
//! - [`verify_inclusion`] and [`verify_consistency`]: RFC 9162 §2.1.3.2 and
//!   §2.1.4.2, in fixed memory.
//! - [`inclusion_proof`], [`consistency_proof`] and [`subtree_root`]:
//!   RFC 6962 §2.1.1 and §2.1.2 proofs, computed without recursion from a
//!   [`LeafSource`] that the caller provides (leaf hashes, and the stored
//!   hashes of whole subtrees if it keeps them).
//!
//! A root does not state its tree's size: a proof is checked against a size
//! and a root that come together (from one signed checkpoint). Given the root
//! of 3 leaves but told the size is 4, the proof of leaf 0 in the tree of 3
//! passes; with the real root of 4 it fails.
//!
//! An inclusion proof has at most [`MAX_INCLUSION_PROOF_LEN`] (64) hashes and
//! a consistency proof at most [`MAX_CONSISTENCY_PROOF_LEN`] (65) for any
//! `u64` tree size, so a caller's proof buffer is a fixed-size array.
//!
//! # Example
//!
//! Five records, the root of the tree, record 2 proven in it, and the tree of
//! 3 proven to be a prefix of the tree of 5:
//!
//! ```
//! use immutable_log::merkle::{
//!     consistency_proof, inclusion_proof, leaf_hash, verify_consistency, verify_inclusion,
//!     CompactRange, MAX_CONSISTENCY_PROOF_LEN, MAX_INCLUSION_PROOF_LEN,
//! };
//! use immutable_log::{BlockHasher, Hash};
//!
//! // The digests of five records' block_json, and their leaf hashes.
//! let digests: Vec<Hash> = (0..5)
//!     .map(|i| BlockHasher::hash(format!("{{\"seq\":{i}}}").as_bytes()))
//!     .collect();
//! let leaves: Vec<Hash> = digests.iter().map(leaf_hash).collect();
//!
//! // The writer's side: the right edge, fed one record at a time.
//! let mut range = CompactRange::new();
//! for digest in &digests {
//!     range.push_record(digest)?;
//! }
//! let root5 = range.root();
//!
//! // The prover's side: any LeafSource will do; here, the leaf hashes.
//! let mut path = [Hash::GENESIS; MAX_INCLUSION_PROOF_LEN];
//! let n = inclusion_proof(2, 5, &leaves[..], &mut path)?;
//! assert_eq!(n, 3);
//!
//! // Anyone's side: record 2's digest, the proof and the root.
//! verify_inclusion(2, 5, &leaf_hash(&digests[2]), &path[..n], &root5)?;
//! assert!(verify_inclusion(3, 5, &leaf_hash(&digests[2]), &path[..n], &root5).is_err());
//!
//! // The tree of 3 records is a prefix of the tree of 5.
//! let mut first = CompactRange::new();
//! for leaf in &leaves[..3] {
//!     first.push(*leaf)?;
//! }
//! let mut proof = [Hash::GENESIS; MAX_CONSISTENCY_PROOF_LEN];
//! let n = consistency_proof(3, 5, &leaves[..], &mut proof)?;
//! verify_consistency(3, 5, &first.root(), &root5, &proof[..n])?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use sha2::block_api::compress256;

use crate::hash::{Hash, SHA256_IV};

mod prove;
mod range;
mod verify;

pub use prove::{
    consistency_proof, inclusion_proof, subtree_root, LeafSource, MissingLeaf, ProveError,
};
pub use range::{CompactRange, RangeError};
pub use verify::{
    consistency_proof_len, inclusion_proof_len, verify_consistency, verify_inclusion, ProofError,
};

/// The most hashes an inclusion proof has, for any `u64` tree size: the
/// height of a tree of `2^64 - 1` leaves.
pub const MAX_INCLUSION_PROOF_LEN: usize = 64;

/// The most hashes a consistency proof has, for any `u64` tree sizes: one more
/// than an inclusion proof (e.g. from 3 to `u64::MAX`: the node that both trees
/// share, then its 64-hash path).
pub const MAX_CONSISTENCY_PROOF_LEN: usize = 65;

/// The root of the empty tree: SHA-256 of the empty string (RFC 6962 §2.1).
pub const EMPTY_ROOT: Hash = Hash::from_bytes([
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
]);

/// A record's leaf hash: `SHA-256(0x00 ‖ digest)`, where `digest` is the
/// SHA-256 of the record's `block_json`.
///
/// The 33 bytes and SHA-256's padding are one 64-byte block, hashed with
/// sha2's compression function straight from its initial state (no
/// streaming buffer): the same hash as `Sha256` (the tests compare them),
/// in about half the time.
pub fn leaf_hash(digest: &Hash) -> Hash {
    let mut block = [0u8; 64];
    // 0x00, the digest, the padding's 0x80, zeros, the length: 264 bits.
    if let Some(d) = block.get_mut(1..33) {
        d.copy_from_slice(digest.as_bytes());
    }
    if let Some(pad) = block.get_mut(33) {
        *pad = 0x80;
    }
    if let Some(len) = block.last_chunk_mut::<2>() {
        *len = (33u16 * 8).to_be_bytes();
    }
    let mut words = SHA256_IV;
    compress256(&mut words, &[block]);
    Hash::from_state(&words)
}

/// An inner node's hash: `SHA-256(0x01 ‖ left ‖ right)`: 65 bytes and the
/// padding, two blocks through sha2's compression function (as
/// [`leaf_hash`]).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut blocks = [[0u8; 64]; 2];
    let [first, second] = &mut blocks;
    // 0x01, left, the first 31 bytes of right | its last byte, 0x80,
    // zeros, the length: 520 bits.
    first[0] = 0x01;
    let (r, last) = right.as_bytes().split_at(31);
    if let Some(l) = first.get_mut(1..33) {
        l.copy_from_slice(left.as_bytes());
    }
    if let Some(rest) = first.get_mut(33..) {
        rest.copy_from_slice(r);
    }
    second[0] = last.first().copied().unwrap_or(0);
    second[1] = 0x80;
    if let Some(len) = second.last_chunk_mut::<2>() {
        *len = (65u16 * 8).to_be_bytes();
    }
    let mut words = SHA256_IV;
    compress256(&mut words, &blocks);
    Hash::from_state(&words)
}

/// The largest power of 2 strictly below `n` (RFC 6962's `k`); `n >= 2`.
/// Returns 0 for `n < 2`, which callers never pass.
fn split_point(n: u64) -> u64 {
    match n.checked_sub(1) {
        Some(m) if m > 0 => 1 << (63 - m.leading_zeros()),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::BlockHasher;

    #[test]
    fn empty_root_is_the_hash_of_nothing() {
        assert_eq!(EMPTY_ROOT, BlockHasher::hash(b""));
    }

    #[test]
    fn hashes_are_domain_separated() {
        let d = BlockHasher::hash(b"x");
        let mut leaf_input = [0u8; 33];
        leaf_input[1..].copy_from_slice(d.as_bytes());
        assert_eq!(leaf_hash(&d), BlockHasher::hash(&leaf_input));
        let mut node_input = [1u8; 65];
        node_input[1..33].copy_from_slice(d.as_bytes());
        node_input[33..].copy_from_slice(leaf_hash(&d).as_bytes());
        assert_eq!(
            node_hash(&d, &leaf_hash(&d)),
            BlockHasher::hash(&node_input)
        );
        assert_ne!(node_hash(&d, &d), leaf_hash(&d));
    }

    #[test]
    fn leaf_and_node_hashes_are_sha256_of_their_bytes() {
        // Every byte of each input position counts, the last of `right` too
        // (it is in the node's second block).
        for seed in 0..=255u8 {
            let a = Hash::from_bytes(core::array::from_fn(|i| seed ^ (i as u8).wrapping_mul(37)));
            let b = Hash::from_bytes(core::array::from_fn(|i| seed.wrapping_add(i as u8)));
            let mut leaf_input = [0u8; 33];
            leaf_input[1..].copy_from_slice(a.as_bytes());
            assert_eq!(leaf_hash(&a), BlockHasher::hash(&leaf_input), "seed {seed}");
            let mut node_input = [1u8; 65];
            node_input[1..33].copy_from_slice(a.as_bytes());
            node_input[33..].copy_from_slice(b.as_bytes());
            assert_eq!(
                node_hash(&a, &b),
                BlockHasher::hash(&node_input),
                "seed {seed}"
            );
        }
        let mut last = [0u8; 32];
        last[31] = 1;
        assert_ne!(
            node_hash(&Hash::GENESIS, &Hash::GENESIS),
            node_hash(&Hash::GENESIS, &Hash::from_bytes(last))
        );
    }

    #[test]
    fn split_point_is_the_largest_power_of_two_below() {
        assert_eq!(split_point(0), 0);
        assert_eq!(split_point(1), 0);
        assert_eq!(split_point(2), 1);
        assert_eq!(split_point(3), 2);
        assert_eq!(split_point(4), 2);
        assert_eq!(split_point(5), 4);
        assert_eq!(split_point(8), 4);
        assert_eq!(split_point(9), 8);
        assert_eq!(split_point(u64::MAX), 1 << 63);
        assert_eq!(split_point(1 << 63), 1 << 62);
        assert_eq!(split_point((1 << 63) + 1), 1 << 63);
    }
}
