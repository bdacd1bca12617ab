//! Merkle proofs on any input (`src/merkle/`): `verify_inclusion` and
//! `verify_consistency` never panic on any sizes, indexes and hashes; the
//! proofs the crate makes for a tree of up to 300 leaves verify, have the
//! lengths `*_proof_len` say, and fail for another index, another first
//! size or root, or any one hash changed.
//!
//! Input: `[n_lo, n_hi, i_lo, i_hi, m_lo, m_hi, flip, sizes (8 × u64 LE)?,
//! hashes (32 bytes each)..]`: `n` leaves (mod 301), leaf `i` (mod n), an
//! older size `m` (mod n + 1), the byte to flip; then arbitrary sizes and
//! proof hashes for the unchecked calls.
#![no_main]

use immutable_log::merkle::{
    consistency_proof, consistency_proof_len, inclusion_proof, inclusion_proof_len, leaf_hash,
    subtree_root, verify_consistency, verify_inclusion, CompactRange, MAX_CONSISTENCY_PROOF_LEN,
    MAX_INCLUSION_PROOF_LEN,
};
use immutable_log::{BlockHasher, Hash};
use libfuzzer_sys::fuzz_target;

fn u16_at(data: &[u8], at: usize) -> u64 {
    u64::from(data.get(at).copied().unwrap_or(0))
        | u64::from(data.get(at + 1).copied().unwrap_or(0)) << 8
}

fuzz_target!(|data: &[u8]| {
    // Arbitrary calls: never a panic, whatever the sizes and hashes.
    let words: Vec<u64> = data
        .get(7..)
        .unwrap_or_default()
        .chunks_exact(8)
        .take(4)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()))
        .collect();
    let hashes: Vec<Hash> = data
        .get(7 + 32..)
        .unwrap_or_default()
        .chunks_exact(32)
        .take(70)
        .map(|c| Hash::from_bytes(c.try_into().unwrap_or_default()))
        .collect();
    if let [a, b, c, d] = words[..] {
        let root = hashes.first().copied().unwrap_or_default();
        let _ = verify_inclusion(a, b, &root, &hashes, &root);
        let _ = verify_consistency(c, d, &root, &root, &hashes);
        if let Ok(n) = inclusion_proof_len(a, b) {
            assert!(n <= MAX_INCLUSION_PROOF_LEN);
        }
        if let Ok(n) = consistency_proof_len(c, d) {
            assert!(n <= MAX_CONSISTENCY_PROOF_LEN);
        }
    }

    // Real proofs over a small tree.
    let n = u16_at(data, 0) % 301;
    let leaves: Vec<Hash> = (0..n)
        .map(|i| leaf_hash(&BlockHasher::hash(&i.to_le_bytes())))
        .collect();
    let mut range = CompactRange::new();
    for leaf in &leaves {
        range.push(*leaf).expect("not full");
    }
    let root = range.root();
    assert_eq!(subtree_root(0, n, &leaves[..]), Ok(root));
    let flip = usize::from(data.get(6).copied().unwrap_or(0));
    if n > 0 {
        let i = u16_at(data, 2) % n;
        let mut path = [Hash::GENESIS; MAX_INCLUSION_PROOF_LEN];
        let len = inclusion_proof(i, n, &leaves[..], &mut path).expect("a proof");
        assert_eq!(inclusion_proof_len(i, n), Ok(len));
        let path = &mut path[..len];
        let leaf = leaves[i as usize];
        assert_eq!(verify_inclusion(i, n, &leaf, path, &root), Ok(()));
        if n > 1 {
            assert!(verify_inclusion((i + 1) % n, n, &leaf, path, &root).is_err());
        }
        // (Another size with the same root may pass: a root does not state
        // its size, which is why a checkpoint signs the two together.)
        if let Some(h) = path.get_mut(flip % len.max(1)) {
            let mut bytes = *h.as_bytes();
            bytes[flip % 32] ^= 1 << (flip % 8);
            *h = Hash::from_bytes(bytes);
            assert!(verify_inclusion(i, n, &leaf, path, &root).is_err());
        }
        let m = 1 + u16_at(data, 4) % n;
        let mut proof = [Hash::GENESIS; MAX_CONSISTENCY_PROOF_LEN];
        let len = consistency_proof(m, n, &leaves[..], &mut proof).expect("a proof");
        assert_eq!(consistency_proof_len(m, n), Ok(len));
        let old = subtree_root(0, m, &leaves[..]).expect("a root");
        let proof = &mut proof[..len];
        assert_eq!(verify_consistency(m, n, &old, &root, proof), Ok(()));
        if m < n {
            assert!(verify_consistency(m + 1, n, &old, &root, proof).is_err());
            assert!(verify_consistency(m, n, &root, &root, proof).is_err());
        }
        if let Some(h) = proof.get_mut(flip % len.max(1)) {
            let mut bytes = *h.as_bytes();
            bytes[flip % 32] ^= 1 << (flip % 8);
            *h = Hash::from_bytes(bytes);
            assert!(verify_consistency(m, n, &old, &root, proof).is_err());
        }
    }
});
