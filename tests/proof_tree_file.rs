//! The tree side file checked against an independent port of Go's tlog
//! (`tlog_tiles`): its hashes stand where Go's StoredHashIndex puts them,
//! and Go's roots and proofs computed from them are ours.
#![cfg(feature = "std")]

use immutable_log::merkle::leaf_hash;
use immutable_log::std_backend::{
    stored_hash_count, stored_hash_index, tree_path, LogFile, TreeFile,
};
use immutable_log::{records, Hash, Level};
use tlog_tiles::{HashReader, RecordProof};

/// Go's HashReader over the side file's bytes (hashes from byte 512).
struct SideFile(Vec<u8>);

impl HashReader for SideFile {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<tlog_tiles::Hash>, tlog_tiles::Error> {
        indexes
            .iter()
            .map(|&i| {
                let at = 512 + 32 * i as usize;
                self.0
                    .get(at..at + 32)
                    .map(|b| tlog_tiles::Hash(b.try_into().unwrap()))
                    .ok_or(tlog_tiles::Error::IndexesNotInTree)
            })
            .collect()
    }
}

fn write_log(n: usize) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    let log = LogFile::open(&path).unwrap();
    for i in 0..n {
        log.append(Level::Info, format_args!("event {i}")).unwrap();
    }
    log.close().unwrap();
    (dir, path)
}

fn theirs(h: &Hash) -> tlog_tiles::Hash {
    tlog_tiles::Hash(*h.as_bytes())
}

#[test]
fn the_side_file_is_gos_stored_hash_layout() {
    let (_dir, path) = write_log(70);
    let tree = TreeFile::open(&path).unwrap();
    assert_eq!(tree.size(), 70);
    let side = SideFile(std::fs::read(tree_path(&path)).unwrap());
    assert_eq!(side.0.len() as u64, 512 + 32 * stored_hash_count(70));
    assert_eq!(stored_hash_count(70), tlog_tiles::stored_hash_count(70));
    let bytes = std::fs::read(&path).unwrap();
    let digests: Vec<Hash> = records(&bytes).map(|r| r.unwrap().digest()).collect();
    for (n, digest) in digests.iter().enumerate() {
        let n = n as u64;
        // Go's record hash of the 32-byte digest is our leaf hash.
        assert_eq!(
            tlog_tiles::record_hash(digest.as_bytes()),
            theirs(&leaf_hash(digest))
        );
        // The hashes Go would store for record n are the ones in the file.
        let stored = tlog_tiles::stored_hashes(n, digest.as_bytes(), &side).unwrap();
        let at = stored_hash_index(0, n);
        assert_eq!(at, tlog_tiles::stored_hash_index(0, n));
        let ours = side
            .read_hashes(&(at..at + stored.len() as u64).collect::<Vec<_>>())
            .unwrap();
        assert_eq!(ours, stored, "record {n}");
    }
    for level in 0..6u8 {
        for n in 0..20u64 {
            assert_eq!(
                stored_hash_index(level, n),
                tlog_tiles::stored_hash_index(level, n)
            );
        }
    }
}

#[test]
fn gos_roots_and_proofs_from_the_side_file_are_ours() {
    let (_dir, path) = write_log(45);
    let tree = TreeFile::open(&path).unwrap();
    let side = SideFile(std::fs::read(tree_path(&path)).unwrap());
    for size in 1..=45u64 {
        let root = tree.root(size).unwrap();
        assert_eq!(tlog_tiles::tree_hash(size, &side).unwrap(), theirs(&root));
        for index in 0..size {
            let proof: RecordProof = tlog_tiles::prove_record(size, index, &side).unwrap();
            let ours: Vec<_> = tree
                .inclusion_proof(index, size)
                .unwrap()
                .iter()
                .map(theirs)
                .collect();
            assert_eq!(ours, proof, "record {index} in {size}");
        }
        for first in 1..=size {
            let proof = tlog_tiles::prove_tree(size, first, &side).unwrap();
            let ours: Vec<_> = tree
                .consistency_proof(first, size)
                .unwrap()
                .iter()
                .map(theirs)
                .collect();
            assert_eq!(ours, proof, "{first} -> {size}");
            let first_root = theirs(&tree.root(first).unwrap());
            tlog_tiles::check_tree(
                &proof,
                size,
                theirs(&tree.root(size).unwrap()),
                first,
                first_root,
            )
            .unwrap();
        }
    }
}
