//! The Merkle tree against the RFC 6962 test vectors, against an independent
//! implementation (ct-merkle), and against tampered proofs and bad input.

use ct_merkle::mem_backed_tree::MemoryBackedTree;
use ct_merkle::{ConsistencyProof, InclusionProof, RootHash};
use immutable_log::merkle::*;
use immutable_log::*;
use proptest::prelude::*;
use sha2::{Digest, Sha256};

fn hd(hex: &str) -> Hash {
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    Hash::from_bytes(bytes.try_into().unwrap())
}

fn hds(hexes: &[&str]) -> Vec<Hash> {
    hexes.iter().map(|h| hd(h)).collect()
}

/// RFC 6962 leaf hash of raw leaf data: what the test vectors hash.
fn raw_leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    Hash::from_bytes(h.finalize().into())
}

// ---------------------------------------------------------------------------
// The test tree of Certificate Transparency and Trillian: 8 leaves of raw
// data, its node hashes, roots and proofs.

const LEAF_DATA: [&[u8]; 8] = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
];

/// The roots of the trees of 1..=8 of those leaves.
const ROOTS: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

/// The perfect subtrees' roots, by level then index (level 0: leaf hashes).
const NODES: [&[&str]; 4] = [
    &[
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
        "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    ],
    &[
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    ],
    &[
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    &["5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"],
];

/// (leaf index, tree size, audit path), 0-based indexes.
const INCLUSION: [(u64, u64, &[&str]); 5] = [
    (0, 1, &[]),
    (
        0,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        &[
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        3,
        &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
    ),
    (
        1,
        5,
        &[
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
];

/// (first size, second size, consistency proof).
const CONSISTENCY: [(u64, u64, &[&str]); 5] = [
    (1, 1, &[]),
    (
        1,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        &[
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
];

fn vector_leaves() -> Vec<Hash> {
    LEAF_DATA.iter().map(|d| raw_leaf_hash(d)).collect()
}

fn node(level: usize, index: usize) -> Hash {
    hd(NODES[level][index])
}

#[test]
fn vector_roots_for_every_size() {
    let leaves = vector_leaves();
    let mut range = CompactRange::new();
    assert_eq!(range.root(), EMPTY_ROOT);
    assert_eq!(
        EMPTY_ROOT,
        hd("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    );
    for (i, leaf) in leaves.iter().enumerate() {
        assert_eq!(*leaf, node(0, i), "leaf hash {i}");
        range.push(*leaf).unwrap();
        assert_eq!(range.root(), hd(ROOTS[i]), "root of size {}", i + 1);
        let size = i as u64 + 1;
        assert_eq!(subtree_root(0, size, &leaves[..]), Ok(hd(ROOTS[i])));
    }
    assert_eq!(subtree_root(0, 0, &leaves[..]), Ok(EMPTY_ROOT));
}

#[test]
fn vector_compact_ranges() {
    // The right edge after each leaf: the perfect subtrees, left to right.
    let expected: [&[(usize, usize)]; 8] = [
        &[(0, 0)],
        &[(1, 0)],
        &[(1, 0), (0, 2)],
        &[(2, 0)],
        &[(2, 0), (0, 4)],
        &[(2, 0), (1, 2)],
        &[(2, 0), (1, 2), (0, 6)],
        &[(3, 0)],
    ];
    let leaves = vector_leaves();
    let mut range = CompactRange::new();
    for (i, leaf) in leaves.iter().enumerate() {
        range.push(*leaf).unwrap();
        let want: Vec<Hash> = expected[i].iter().map(|&(l, n)| node(l, n)).collect();
        let got: Vec<Hash> = range.hashes().copied().collect();
        assert_eq!(got, want, "size {}", i + 1);
        assert_eq!(
            CompactRange::from_source(range.size(), &leaves[..]),
            Ok(range)
        );
    }
}

#[test]
fn vector_inclusion_proofs() {
    let leaves = vector_leaves();
    for (index, size, path) in INCLUSION {
        let path = hds(path);
        let root = hd(ROOTS[size as usize - 1]);
        let mut out = [Hash::GENESIS; MAX_INCLUSION_PROOF_LEN];
        let n = inclusion_proof(index, size, &leaves[..], &mut out).unwrap();
        assert_eq!(out[..n], path[..], "PATH({index}, D[{size}])");
        assert_eq!(
            verify_inclusion(index, size, &leaves[index as usize], &path, &root),
            Ok(()),
            "PATH({index}, D[{size}])"
        );
    }
}

#[test]
fn vector_consistency_proofs() {
    let leaves = vector_leaves();
    for (first, second, proof) in CONSISTENCY {
        let proof = hds(proof);
        let (root1, root2) = (
            hd(ROOTS[first as usize - 1]),
            hd(ROOTS[second as usize - 1]),
        );
        let mut out = [Hash::GENESIS; MAX_CONSISTENCY_PROOF_LEN];
        let n = consistency_proof(first, second, &leaves[..], &mut out).unwrap();
        assert_eq!(out[..n], proof[..], "PROOF({first}, D[{second}])");
        assert_eq!(
            verify_consistency(first, second, &root1, &root2, &proof),
            Ok(()),
            "PROOF({first}, D[{second}])"
        );
    }
}

/// RFC 6962 §2.1.3's worked examples on its 7-leaf tree, with this tree's
/// hashes: leaves a..f and d6, g = (a b), h = (c d), i = (e f), j = d6,
/// k = (g h), l = (i j).
#[test]
fn rfc_6962_examples_on_seven_leaves() {
    let leaves = vector_leaves();
    let (a, b, c, d) = (node(0, 0), node(0, 1), node(0, 2), node(0, 3));
    let (f, j) = (node(0, 5), node(0, 6));
    let (g, h, i) = (node(1, 0), node(1, 1), node(1, 2));
    let k = node(2, 0);
    let l = node_hash(&i, &j);
    assert_eq!(node_hash(&k, &l), hd(ROOTS[6]));
    let _ = (a, d);
    let paths: [(u64, Vec<Hash>); 4] = [
        (0, vec![b, h, l]),
        (3, vec![c, g, l]),
        (4, vec![f, j, k]),
        (6, vec![i, k]),
    ];
    for (index, path) in paths {
        let mut out = [Hash::GENESIS; 64];
        let n = inclusion_proof(index, 7, &leaves[..], &mut out).unwrap();
        assert_eq!(out[..n], path[..], "PATH({index}, D[7])");
    }
    let proofs: [(u64, Vec<Hash>); 3] = [(3, vec![c, d, g, l]), (4, vec![l]), (6, vec![i, j, k])];
    for (first, proof) in proofs {
        let mut out = [Hash::GENESIS; 65];
        let n = consistency_proof(first, 7, &leaves[..], &mut out).unwrap();
        assert_eq!(out[..n], proof[..], "PROOF({first}, D[7])");
        let root1 = subtree_root(0, first, &leaves[..]).unwrap();
        assert_eq!(
            verify_consistency(first, 7, &root1, &hd(ROOTS[6]), &proof),
            Ok(())
        );
    }
}

// ---------------------------------------------------------------------------
// Bad input: clear errors, no panic.

#[test]
fn bad_inclusion_input() {
    let leaves = vector_leaves();
    let root = hd(ROOTS[7]);
    let path = hds(INCLUSION[1].2);
    let leaf = leaves[0];
    let mut out = [Hash::GENESIS; 64];
    assert_eq!(
        verify_inclusion(8, 8, &leaf, &path, &root),
        Err(ProofError::IndexOutOfRange { index: 8, size: 8 })
    );
    assert_eq!(
        verify_inclusion(u64::MAX, 8, &leaf, &path, &root),
        Err(ProofError::IndexOutOfRange {
            index: u64::MAX,
            size: 8
        })
    );
    assert_eq!(
        verify_inclusion(0, 0, &leaf, &[], &EMPTY_ROOT),
        Err(ProofError::EmptyTree)
    );
    assert_eq!(
        verify_inclusion(0, 8, &leaf, &path[..2], &root),
        Err(ProofError::WrongProofLength {
            expected: 3,
            found: 2
        })
    );
    let long = [root; 1000];
    assert_eq!(
        verify_inclusion(0, 8, &leaf, &long, &root),
        Err(ProofError::WrongProofLength {
            expected: 3,
            found: 1000
        })
    );
    assert_eq!(
        verify_inclusion(0, 8, &leaves[1], &path, &root),
        Err(ProofError::RootMismatch)
    );
    assert_eq!(
        inclusion_proof(8, 8, &leaves[..], &mut out),
        Err(ProveError::IndexOutOfRange { index: 8, size: 8 })
    );
    assert_eq!(
        inclusion_proof(0, 0, &leaves[..], &mut out),
        Err(ProveError::EmptyTree)
    );
    assert_eq!(
        inclusion_proof(0, 8, &leaves[..], &mut out[..2]),
        Err(ProveError::OutputTooSmall {
            needed: 3,
            available: 2
        })
    );
    // The messages say what is wrong.
    assert_eq!(
        ProofError::IndexOutOfRange { index: 8, size: 8 }.to_string(),
        "merkle proof: leaf index 8 is not below the tree size 8"
    );
    assert_eq!(
        ProofError::WrongProofLength {
            expected: 3,
            found: 2
        }
        .to_string(),
        "merkle proof: 2 hashes, the sizes call for 3"
    );
}

#[test]
fn bad_consistency_input() {
    let leaves = vector_leaves();
    let (r2, r5) = (hd(ROOTS[1]), hd(ROOTS[4]));
    let proof = hds(CONSISTENCY[3].2);
    let mut out = [Hash::GENESIS; 65];
    assert_eq!(
        verify_consistency(0, 5, &EMPTY_ROOT, &r5, &[]),
        Err(ProofError::FirstTreeEmpty)
    );
    assert_eq!(
        verify_consistency(0, 0, &EMPTY_ROOT, &EMPTY_ROOT, &[]),
        Err(ProofError::FirstTreeEmpty)
    );
    assert_eq!(
        verify_consistency(5, 2, &r5, &r2, &proof),
        Err(ProofError::SizesReversed {
            first: 5,
            second: 2
        })
    );
    assert_eq!(verify_consistency(5, 5, &r5, &r5, &[]), Ok(()));
    assert_eq!(
        verify_consistency(5, 5, &r5, &r2, &[]),
        Err(ProofError::RootsDiffer { size: 5 })
    );
    assert_eq!(
        verify_consistency(5, 5, &r5, &r5, &[r5]),
        Err(ProofError::WrongProofLength {
            expected: 0,
            found: 1
        })
    );
    assert_eq!(
        verify_consistency(2, 5, &r2, &r5, &[]),
        Err(ProofError::WrongProofLength {
            expected: 2,
            found: 0
        })
    );
    assert_eq!(
        verify_consistency(2, 5, &r2, &r5, &[proof[0], proof[1], r2]),
        Err(ProofError::WrongProofLength {
            expected: 2,
            found: 3
        })
    );
    // A first size that is a power of 2 starts from the first root itself:
    // a wrong one shows in the second root.
    assert_eq!(
        verify_consistency(2, 5, &r5, &r5, &proof),
        Err(ProofError::SecondRootMismatch)
    );
    let (r6, r8) = (hd(ROOTS[5]), hd(ROOTS[7]));
    let proof6 = hds(CONSISTENCY[2].2);
    assert_eq!(verify_consistency(6, 8, &r6, &r8, &proof6), Ok(()));
    assert_eq!(
        verify_consistency(6, 8, &r8, &r8, &proof6),
        Err(ProofError::FirstRootMismatch)
    );
    assert_eq!(
        verify_consistency(2, 5, &r2, &r2, &proof),
        Err(ProofError::SecondRootMismatch)
    );
    assert_eq!(
        consistency_proof(0, 5, &leaves[..], &mut out),
        Err(ProveError::FirstTreeEmpty)
    );
    assert_eq!(
        consistency_proof(6, 5, &leaves[..], &mut out),
        Err(ProveError::SizesReversed {
            first: 6,
            second: 5
        })
    );
    assert_eq!(consistency_proof(5, 5, &leaves[..], &mut out), Ok(0));
    assert_eq!(consistency_proof(5, 5, &leaves[..], &mut []), Ok(0));
}

/// A root says nothing about its size: a proof for the tree of 3 also
/// "verifies" leaf 0 in a tree of 4 with the root of 3. Sizes and roots must
/// come together (from one signed checkpoint), which is how they are used.
#[test]
fn a_root_does_not_bind_a_size_on_its_own() {
    let leaves = vector_leaves();
    let mut path = [Hash::GENESIS; 64];
    let n = inclusion_proof(0, 3, &leaves[..], &mut path).unwrap();
    let root3 = hd(ROOTS[2]);
    assert_eq!(
        verify_inclusion(0, 4, &leaves[0], &path[..n], &root3),
        Ok(())
    );
    // With the real root of the tree of 4 it fails.
    assert_eq!(
        verify_inclusion(0, 4, &leaves[0], &path[..n], &hd(ROOTS[3])),
        Err(ProofError::RootMismatch)
    );
}

proptest! {
    /// No panic on any sizes, indexes and proof lengths: an error or Ok.
    #[test]
    fn verifiers_never_panic(
        a in any::<u64>(),
        b in any::<u64>(),
        edge in 0u64..4,
        len in 0usize..80,
        byte in any::<u8>(),
    ) {
        // Half the time near u64::MAX or 0, where the arithmetic is tight.
        let (a, b) = match edge {
            0 => (a, b),
            1 => (u64::MAX - (a % 4), u64::MAX - (b % 4)),
            2 => (a % 4, b % 4),
            _ => (a % 4, u64::MAX - (b % 4)),
        };
        let proof = vec![Hash::from_bytes([byte; 32]); len];
        let h = Hash::from_bytes([byte ^ 1; 32]);
        let _ = verify_inclusion(a, b, &h, &proof, &h);
        let _ = verify_consistency(a, b, &h, &h, &proof);
        let _ = inclusion_proof_len(a, b);
        let _ = consistency_proof_len(a, b);
    }
}

// ---------------------------------------------------------------------------
// Random trees: every proof verifies, every change to one fails.

/// The digest of record `i` of a test log `seed`.
fn digest(seed: u64, i: u64) -> Hash {
    let mut h = Sha256::new();
    h.update(seed.to_le_bytes());
    h.update(i.to_le_bytes());
    Hash::from_bytes(h.finalize().into())
}

fn tree(seed: u64, size: u64) -> Vec<Hash> {
    (0..size).map(|i| leaf_hash(&digest(seed, i))).collect()
}

fn root(leaves: &[Hash], size: u64) -> Hash {
    subtree_root(0, size, leaves).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn inclusion_proofs_verify_and_tampering_fails(
        seed in any::<u64>(),
        size in 1u64..300,
        index in any::<u64>(),
        other in any::<u64>(),
        mask in 1u8..=255,
    ) {
        let index = index % size;
        let leaves = tree(seed, size);
        let root = root(&leaves, size);
        let leaf = leaves[index as usize];
        let mut out = [Hash::GENESIS; MAX_INCLUSION_PROOF_LEN];
        let n = inclusion_proof(index, size, &leaves[..], &mut out).unwrap();
        let path = &out[..n];
        prop_assert_eq!(Ok(n), inclusion_proof_len(index, size));
        prop_assert_eq!(verify_inclusion(index, size, &leaf, path, &root), Ok(()));

        // Any byte of any hash.
        for h in 0..n {
            for byte in 0..32 {
                let mut bad = path.to_vec();
                let mut bytes = *bad[h].as_bytes();
                bytes[byte] ^= mask;
                bad[h] = Hash::from_bytes(bytes);
                prop_assert_eq!(
                    verify_inclusion(index, size, &leaf, &bad, &root),
                    Err(ProofError::RootMismatch)
                );
            }
        }
        // One hash more, anywhere; one hash less, any.
        for at in 0..=n {
            let mut longer = path.to_vec();
            longer.insert(at, root);
            prop_assert!(verify_inclusion(index, size, &leaf, &longer, &root).is_err());
        }
        for at in 0..n {
            let mut shorter = path.to_vec();
            shorter.remove(at);
            prop_assert!(verify_inclusion(index, size, &leaf, &shorter, &root).is_err());
        }
        // Another index in the same tree; another leaf; another root.
        let other_index = other % size;
        if other_index != index {
            prop_assert!(verify_inclusion(other_index, size, &leaf, path, &root).is_err());
            prop_assert!(
                verify_inclusion(index, size, &leaves[other_index as usize], path, &root).is_err()
            );
        }
        // The leaf itself as the root: only a one-leaf tree has that root.
        if size > 1 {
            prop_assert!(verify_inclusion(index, size, &leaf, path, &leaf).is_err());
        }
        // Another size, with that tree's own root (the pair a checkpoint signs).
        let other_size = 1 + other % 400;
        if other_size != size && index < other_size {
            let leaves = tree(seed, other_size);
            let other_root = subtree_root(0, other_size, &leaves[..]).unwrap();
            prop_assert!(verify_inclusion(index, other_size, &leaf, path, &other_root).is_err());
        }
    }

    #[test]
    fn consistency_proofs_verify_and_tampering_fails(
        seed in any::<u64>(),
        second in 1u64..300,
        first in any::<u64>(),
        other in any::<u64>(),
        mask in 1u8..=255,
    ) {
        let first = 1 + first % second;
        let leaves = tree(seed, second);
        let (root1, root2) = (root(&leaves, first), root(&leaves, second));
        let mut out = [Hash::GENESIS; MAX_CONSISTENCY_PROOF_LEN];
        let n = consistency_proof(first, second, &leaves[..], &mut out).unwrap();
        let proof = &out[..n];
        prop_assert_eq!(Ok(n), consistency_proof_len(first, second));
        prop_assert_eq!(verify_consistency(first, second, &root1, &root2, proof), Ok(()));

        for h in 0..n {
            for byte in 0..32 {
                let mut bad = proof.to_vec();
                let mut bytes = *bad[h].as_bytes();
                bytes[byte] ^= mask;
                bad[h] = Hash::from_bytes(bytes);
                prop_assert!(verify_consistency(first, second, &root1, &root2, &bad).is_err());
            }
        }
        for at in 0..=n {
            let mut longer = proof.to_vec();
            longer.insert(at, root1);
            prop_assert!(verify_consistency(first, second, &root1, &root2, &longer).is_err());
        }
        for at in 0..n {
            let mut shorter = proof.to_vec();
            shorter.remove(at);
            prop_assert!(verify_consistency(first, second, &root1, &root2, &shorter).is_err());
        }
        if first != second {
            prop_assert!(verify_consistency(first, second, &root2, &root1, proof).is_err());
            prop_assert!(verify_consistency(first, second, &root1, &root1, proof).is_err());
            prop_assert!(verify_consistency(first, second, &root2, &root2, proof).is_err());
        }
        // Other sizes, with those trees' own roots.
        let bigger = tree(seed, 600);
        let other_first = 1 + other % second;
        if other_first != first {
            let r = root(&bigger, other_first);
            prop_assert!(verify_consistency(other_first, second, &r, &root2, proof).is_err());
        }
        let other_second = first + other % 300;
        if other_second != second {
            let r = root(&bigger, other_second);
            prop_assert!(verify_consistency(first, other_second, &root1, &r, proof).is_err());
        }
        // A second tree that differs from this one in any one leaf.
        let mut forked = leaves.clone();
        let at = (other % second) as usize;
        forked[at] = leaf_hash(&digest(seed ^ 1, at as u64));
        let forked_root = root(&forked, second);
        prop_assert!(verify_consistency(first, second, &root1, &forked_root, proof).is_err());
    }

    /// Proofs from stored subtree hashes equal proofs from leaves, and the
    /// right edge rebuilt from a source equals the one pushed leaf by leaf.
    #[test]
    fn the_right_edge_from_a_source(seed in any::<u64>(), size in 0u64..600) {
        let leaves = tree(seed, size);
        let mut range = CompactRange::new();
        for leaf in &leaves {
            range.push(*leaf).unwrap();
        }
        prop_assert_eq!(CompactRange::from_source(size, &leaves[..]), Ok(range));
        prop_assert_eq!(range.root(), root(&leaves, size));
        let mut bytes = [0u8; CompactRange::MAX_ENCODED_LEN];
        let n = range.encode(&mut bytes).unwrap();
        prop_assert_eq!(CompactRange::decode(&bytes[..n]), Ok(range));
    }
}

// ---------------------------------------------------------------------------
// Against ct-merkle, an independent RFC 6962 implementation.

type TheirTree = MemoryBackedTree<Sha256, [u8; 32]>;

fn theirs(seed: u64, size: u64) -> TheirTree {
    let mut t = TheirTree::new();
    for i in 0..size {
        // Their leaf is the record's digest; they hash it as SHA-256(0x00 ‖ digest).
        t.push(*digest(seed, i).as_bytes());
    }
    t
}

fn concat(hashes: &[Hash]) -> Vec<u8> {
    hashes.iter().flat_map(|h| *h.as_bytes()).collect()
}

fn split(bytes: &[u8]) -> Vec<Hash> {
    bytes
        .chunks(32)
        .map(|c| Hash::from_bytes(c.try_into().unwrap()))
        .collect()
}

fn their_root(root: &Hash, size: u64) -> RootHash<Sha256> {
    RootHash::new((*root.as_bytes()).into(), size)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]

    #[test]
    fn byte_identical_to_ct_merkle(
        seed in any::<u64>(),
        size in 1u64..2000,
        index in any::<u64>(),
        first in any::<u64>(),
    ) {
        let index = index % size;
        let first = 1 + first % size;
        let them = theirs(seed, size);
        let leaves = tree(seed, size);

        // The root, ours pushed record by record.
        let mut range = CompactRange::new();
        for i in 0..size {
            range.push_record(&digest(seed, i)).unwrap();
        }
        let root = range.root();
        prop_assert_eq!(root.as_bytes().to_vec(), them.root().as_bytes().to_vec());

        // Inclusion: byte-identical, and each verifier takes the other's.
        let mut out = [Hash::GENESIS; MAX_INCLUSION_PROOF_LEN];
        let n = inclusion_proof(index, size, &leaves[..], &mut out).unwrap();
        let their_proof = them.prove_inclusion(index as usize);
        prop_assert_eq!(concat(&out[..n]), their_proof.as_bytes().to_vec());
        let ours_for_them = InclusionProof::<Sha256>::from_bytes(concat(&out[..n]));
        let record = *digest(seed, index).as_bytes();
        prop_assert!(them.root().verify_inclusion(&record, index, &ours_for_them).is_ok());
        prop_assert_eq!(
            verify_inclusion(
                index,
                size,
                &leaf_hash(&digest(seed, index)),
                &split(their_proof.as_bytes()),
                &root,
            ),
            Ok(())
        );

        // Consistency from `first`: the same.
        let root1 = subtree_root(0, first, &leaves[..]).unwrap();
        let mut out = [Hash::GENESIS; MAX_CONSISTENCY_PROOF_LEN];
        let n = consistency_proof(first, size, &leaves[..], &mut out).unwrap();
        let their_proof = them.prove_consistency((size - first) as usize);
        prop_assert_eq!(concat(&out[..n]), their_proof.as_bytes().to_vec());
        let ours_for_them = ConsistencyProof::<Sha256>::try_from_bytes(concat(&out[..n])).unwrap();
        prop_assert!(them
            .root()
            .verify_consistency(&their_root(&root1, first), &ours_for_them)
            .is_ok());
        prop_assert_eq!(
            verify_consistency(first, size, &root1, &root, &split(their_proof.as_bytes())),
            Ok(())
        );
        // Their root of the first tree is ours.
        prop_assert_eq!(
            theirs(seed, first).root().as_bytes().to_vec(),
            root1.as_bytes().to_vec()
        );
    }
}
