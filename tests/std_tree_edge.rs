//! The writer keeps the tree's right edge as it appends (`keep_tree`): its
//! tree head is the RFC 6962 root of the file's records (checked against
//! ct-merkle over the digests read back from the file), restored at open
//! from `<log>.edge`, caught up after a crash left an older edge, and never
//! wrong: a log cut back, replaced, or an edge damaged leaves it unknown.
#![cfg(feature = "std")]

use std::fs;
use std::path::{Path, PathBuf};

use ct_merkle::mem_backed_tree::MemoryBackedTree;
use immutable_log::std_backend::{
    create_key_pair, Durability, LogFile, OpenOptions, TreeUnknown, PERSIST_EVERY,
};
use immutable_log::{records, Level, TreeOrigin};
use sha2::Sha256;

fn options(durability: Durability) -> OpenOptions {
    let mut o = OpenOptions::new();
    o.keep_tree(true).durability(durability);
    o
}

fn edge_of(log: &Path) -> PathBuf {
    let mut p = log.as_os_str().to_owned();
    p.push(".edge");
    PathBuf::from(p)
}

/// The root and size of the tree of the file's records, by ct-merkle, and
/// record 0's stated hash.
fn their_tree(log: &Path) -> (Vec<u8>, u64, Option<immutable_log::Hash>) {
    let bytes = fs::read(log).unwrap();
    let mut t = MemoryBackedTree::<Sha256, [u8; 32]>::new();
    let mut first = None;
    for r in records(&bytes) {
        let r = r.unwrap();
        first.get_or_insert(r.hash());
        t.push(*r.digest().as_bytes());
    }
    (t.root().as_bytes().to_vec(), t.len(), first)
}

fn assert_tree(log: &LogFile) {
    log.flush().unwrap();
    let head = log.tree_head().unwrap().unwrap();
    let (root, size, first) = their_tree(log.path());
    assert_eq!((head.root.as_bytes().to_vec(), head.size), (root, size));
    assert_eq!(head.origin, TreeOrigin::of(&first.unwrap()));
}

/// Opening the log at `path` finds its edge stale: the tree is unknown.
fn assert_stale(path: &Path) {
    let log = options(Durability::Flush).open(path).unwrap();
    let head = log.tree_head();
    assert!(matches!(head, Err(TreeUnknown::Stale { .. })), "{head:?}");
}

fn append(log: &LogFile, from: u32, n: u32) {
    for i in from..from + n {
        log.append(Level::Info, format_args!("record {i}")).unwrap();
    }
}

#[test]
fn the_tree_head_is_the_root_of_the_records_appended() {
    let dir = tempfile::tempdir().unwrap();
    for durability in [Durability::Buffered, Durability::Flush] {
        let path = dir.path().join(format!("{durability:?}.log"));
        let log = options(durability).open(&path).unwrap();
        assert_eq!(log.tree_head().unwrap(), None);
        for i in 0..40 {
            append(&log, i, 1);
            // Staged records count too (Buffered holds them in memory).
            let head = log.tree_head().unwrap().unwrap();
            assert_eq!(head.size, u64::from(i) + 1);
        }
        assert_tree(&log);
        log.close().unwrap();
    }
}

#[test]
fn without_keep_tree_there_is_no_tree_and_no_edge_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.log");
    let log = LogFile::open(&path).unwrap();
    append(&log, 0, 3);
    assert_eq!(log.tree_head(), Err(TreeUnknown::NotKept));
    log.close().unwrap();
    assert!(!edge_of(&path).exists());
}

#[test]
fn reopening_restores_the_edge_and_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.log");
    let log = options(Durability::Buffered).open(&path).unwrap();
    append(&log, 0, 25);
    let before = log.tree_head().unwrap().unwrap();
    log.close().unwrap();
    assert!(edge_of(&path).exists());

    let log = options(Durability::Buffered).open(&path).unwrap();
    assert_eq!(log.tree_head().unwrap(), Some(before));
    append(&log, 25, 30);
    assert_tree(&log);
    log.close().unwrap();
}

#[test]
fn an_edge_left_behind_by_a_crash_is_caught_up_from_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.log");
    let log = options(Durability::Flush).open(&path).unwrap();
    append(&log, 0, 10);
    log.close().unwrap();
    let old_edge = fs::read(edge_of(&path)).unwrap();
    let log = options(Durability::Flush).open(&path).unwrap();
    append(&log, 10, 20);
    log.close().unwrap();
    // As if the process died before writing the edge again.
    fs::write(edge_of(&path), &old_edge).unwrap();
    let log = options(Durability::Flush).open(&path).unwrap();
    assert_tree(&log);
    assert_eq!(log.tree_head().unwrap().unwrap().size, 30);
}

#[test]
fn a_torn_slot_falls_back_to_the_other() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.log");
    for (from, n) in [(0, 5), (5, 5), (10, 5)] {
        let log = options(Durability::Flush).open(&path).unwrap();
        append(&log, from, n);
        log.close().unwrap();
    }
    // Damage the newest slot (generation 3: slot B at 2,304).
    let mut edge = fs::read(edge_of(&path)).unwrap();
    edge[2304 + 100] ^= 1;
    fs::write(edge_of(&path), &edge).unwrap();
    let log = options(Durability::Flush).open(&path).unwrap();
    assert_tree(&log);
    // Both damaged (or none yet): a small log is read from its start.
    drop(log);
    let mut edge = fs::read(edge_of(&path)).unwrap();
    edge[100] ^= 1;
    edge[2304 + 100] ^= 1;
    fs::write(edge_of(&path), &edge).unwrap();
    let log = options(Durability::Flush).open(&path).unwrap();
    assert_tree(&log);
    drop(log);
    fs::remove_file(edge_of(&path)).unwrap();
    let log = options(Durability::Flush).open(&path).unwrap();
    assert_tree(&log);
}

#[test]
fn a_log_cut_back_or_replaced_leaves_the_tree_unknown_not_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.log");
    let log = options(Durability::Flush).open(&path).unwrap();
    append(&log, 0, 12);
    log.close().unwrap();
    let edge = fs::read(edge_of(&path)).unwrap();

    // Cut back to 6 records: shorter than the edge.
    let bytes = fs::read(&path).unwrap();
    let cut: usize = bytes
        .split_inclusive(|&b| b == b'\n')
        .take(12)
        .map(<[u8]>::len)
        .sum();
    fs::write(&path, &bytes[..cut]).unwrap();
    assert_stale(&path);

    // Replaced by another log, longer, with the old edge beside it.
    fs::remove_file(&path).unwrap();
    let other = LogFile::open(&path).unwrap();
    append(&other, 100, 30);
    other.close().unwrap();
    fs::write(edge_of(&path), &edge).unwrap();
    assert_stale(&path);

    // The same length as the edge states, other records.
    fs::remove_file(&path).unwrap();
    fs::remove_file(edge_of(&path)).unwrap();
    let log = options(Durability::Flush).open(&path).unwrap();
    append(&log, 0, 12);
    log.close().unwrap();
    let edge12 = fs::read(edge_of(&path)).unwrap();
    fs::remove_file(&path).unwrap();
    let other = LogFile::open(&path).unwrap();
    for i in 0..12 {
        // Other records of the same length.
        other
            .append(Level::Info, format_args!("RECORD {i}"))
            .unwrap();
    }
    other.close().unwrap();
    fs::write(edge_of(&path), &edge12).unwrap();
    let newest_log_end = |edge: &[u8]| {
        let at = |slot: usize| u64::from_be_bytes(edge[slot + 8..slot + 16].try_into().unwrap());
        let slot = if at(2304) > at(0) { 2304 } else { 0 };
        u64::from_be_bytes(edge[slot + 16..slot + 24].try_into().unwrap())
    };
    assert_eq!(fs::metadata(&path).unwrap().len(), newest_log_end(&edge12));
    assert_stale(&path);
}

#[test]
fn a_torn_tail_s_recovery_records_are_leaves() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.log");
    let log = options(Durability::Flush).open(&path).unwrap();
    append(&log, 0, 4);
    log.close().unwrap();
    let mut bytes = fs::read(&path).unwrap();
    bytes.extend_from_slice(b"0123|torn half of a rec");
    fs::write(&path, &bytes).unwrap();
    let log = options(Durability::Flush).open(&path).unwrap();
    assert!(log.recovered().is_some());
    assert_tree(&log);
    append(&log, 4, 3);
    assert_tree(&log);
}

#[test]
fn a_keyed_log_s_leaves_are_digests() {
    let dir = tempfile::tempdir().unwrap();
    let (verify, seal) = (dir.path().join("v.key"), dir.path().join("s.key"));
    create_key_pair(&verify, &seal).unwrap();
    let path = dir.path().join("k.log");
    let mut o = options(Durability::Flush);
    o.seal_key(&seal);
    let log = o.open(&path).unwrap();
    append(&log, 0, 6);
    assert_tree(&log);
    log.close().unwrap();
    let log = o.open(&path).unwrap();
    append(&log, 6, 2);
    assert_tree(&log);
}

#[test]
fn a_long_buffered_run_writes_the_edge_as_it_goes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.log");
    let log = options(Durability::Buffered).open(&path).unwrap();
    let mut i = 0;
    while fs::metadata(&path).unwrap().len() < PERSIST_EVERY + 200_000 {
        append(&log, i, 100);
        i += 100;
    }
    // Written during the run, before any close (by the tree's thread: a
    // tree head waits for it to be done with every batch handed over).
    log.tree_head().unwrap();
    let edge = fs::read(edge_of(&path)).unwrap();
    assert!(edge.starts_with(b"ILEDGE1\n") || edge[2304..].starts_with(b"ILEDGE1\n"));
    assert_tree(&log);
}

#[test]
fn a_crash_mid_run_leaves_an_edge_the_next_open_catches_up() {
    // The tree's thread hashes leaves in only every so many bytes of log
    // (or when asked): the edge file lags the log, never by more than an
    // open reads to catch up.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.log");
    let log = options(Durability::Buffered).open(&path).unwrap();
    let mut i = 0;
    while fs::metadata(&path).unwrap().len() < 6 * PERSIST_EVERY {
        append(&log, i, 100);
        i += 100;
    }
    log.flush().unwrap();
    // As if the process died now: the files as they stand, no tree head
    // asked for, no close.
    let copy = dir.path().join("b.log");
    fs::copy(&path, &copy).unwrap();
    fs::copy(edge_of(&path), edge_of(&copy)).unwrap();
    let edge = fs::read(edge_of(&copy)).unwrap();
    assert!(
        edge.starts_with(b"ILEDGE1\n") || edge[2304..].starts_with(b"ILEDGE1\n"),
        "written during the run"
    );
    let reopened = options(Durability::Flush).open(&copy).unwrap();
    assert_tree(&reopened);
    drop(log);
}
