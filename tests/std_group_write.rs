//! Group write (`Flush`): appenders queued behind a write have their records
//! handed to the OS together, in one `write(2)`; if that write fails, every
//! one of them hears the error, nothing already in the file is lost, and the
//! chain's head (and a keyed log's key) goes back to where it stood. The
//! writes go through a `RecoveryFs` that holds a chosen write until the test
//! lets it go, and fails another: no timing. (And `Buffered`'s write of a
//! full staging buffer: if it fails, only the append that filled it is
//! refused.)
#![cfg(feature = "std")]

mod common;

use std::fs::{File, Permissions};
use std::io;
use std::path::Path;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread;

use common::files::{intact, records_of};
use immutable_log::std_backend::recovery_fs::{RealFs, RecoveryFs};
use immutable_log::std_backend::{create_key_pair, Durability, Error, LogFile, PlainFormat, Step};
use immutable_log::Level;

/// What [`GateFs`] does with a write.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Plan {
    Run,
    /// Tells the test it is held, waits to be let go, then writes.
    Hold,
    /// As `Hold`, then writes half its bytes and fails (a full disk).
    HoldThenFail,
    /// Writes half its bytes and fails.
    Fail,
}

/// The real filesystem, with the log's writes (counted from `arm`) held or
/// failed as planned; every write's size is kept.
#[derive(Debug)]
struct GateFs {
    plan: Mutex<Option<Vec<Plan>>>,
    sizes: Mutex<Vec<usize>>,
    held: Mutex<Sender<()>>,
    release: Mutex<Receiver<()>>,
}

impl GateFs {
    /// The filesystem, and the ends the test uses: told when a write is
    /// held, and letting it go.
    fn new() -> (Arc<GateFs>, Receiver<()>, Sender<()>) {
        let (held, told) = channel();
        let (go, release) = channel();
        let fs = GateFs {
            plan: Mutex::new(None),
            sizes: Mutex::new(Vec::new()),
            held: Mutex::new(held),
            release: Mutex::new(release),
        };
        (Arc::new(fs), told, go)
    }

    /// From now on, the n-th write follows `plan[n]` (then `Run`).
    fn arm(&self, plan: &[Plan]) {
        *self.plan.lock().unwrap() = Some(plan.to_vec());
        self.sizes.lock().unwrap().clear();
    }

    /// The sizes of the writes since `arm`.
    fn sizes(&self) -> Vec<usize> {
        self.sizes.lock().unwrap().clone()
    }
}

impl RecoveryFs for GateFs {
    fn create_new(&self, path: &Path, permissions: &Permissions) -> io::Result<File> {
        RealFs.create_new(path, permissions)
    }

    fn write_all(&self, file: &File, bytes: &[u8]) -> io::Result<()> {
        let plan = match &*self.plan.lock().unwrap() {
            None => Plan::Run,
            Some(plan) => {
                let mut sizes = self.sizes.lock().unwrap();
                sizes.push(bytes.len());
                plan.get(sizes.len() - 1).copied().unwrap_or(Plan::Run)
            }
        };
        if matches!(plan, Plan::Hold | Plan::HoldThenFail) {
            self.held.lock().unwrap().send(()).unwrap();
            self.release.lock().unwrap().recv().unwrap();
        }
        if matches!(plan, Plan::Fail | Plan::HoldThenFail) {
            RealFs.write_all(file, &bytes[..bytes.len() / 2])?;
            return Err(io::Error::new(
                io::ErrorKind::StorageFull,
                "disk full (injected)",
            ));
        }
        RealFs.write_all(file, bytes)
    }

    fn sync_all(&self, file: &File) -> io::Result<()> {
        RealFs.sync_all(file)
    }

    fn sync_data(&self, file: &File) -> io::Result<()> {
        RealFs.sync_data(file)
    }

    fn set_len(&self, file: &File, len: u64) -> io::Result<()> {
        RealFs.set_len(file, len)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        RealFs.rename(from, to)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        RealFs.remove_file(path)
    }

    fn sync_dir_of(&self, path: &Path) -> io::Result<()> {
        RealFs.sync_dir_of(path)
    }
}

fn until(condition: impl Fn() -> bool) {
    while !condition() {
        thread::yield_now();
    }
}

fn open(path: &Path, fs: &Arc<GateFs>, seal: Option<&Path>) -> LogFile {
    open_keeping_tree(path, fs, seal, false)
}

fn open_keeping_tree(path: &Path, fs: &Arc<GateFs>, seal: Option<&Path>, tree: bool) -> LogFile {
    let mut options = LogFile::options();
    options
        .durability(Durability::Flush)
        .format(PlainFormat)
        .keep_tree(tree)
        .recovery_fs(fs.clone());
    if let Some(seal) = seal {
        options.seal_key(seal);
    }
    options.open(path).unwrap()
}

/// The seq of the log's head.
fn seq(log: &LogFile) -> Option<u64> {
    log.head().and_then(|h| h.seq)
}

fn is_write_error(result: &Result<immutable_log::Head, Error>) -> bool {
    matches!(
        result,
        Err(Error::Io {
            step: Step::Write,
            source,
            ..
        }) if source.kind() == io::ErrorKind::StorageFull
    )
}

/// `first` appends alone and its write is held; meanwhile `queued` more
/// appenders stage their records (the head moves to them) and queue; then
/// the write is let go. Returns the results: `first`'s, then the others'.
fn held_then_queued(
    log: &LogFile,
    told: &Receiver<()>,
    go: &Sender<()>,
    queued: &[&str],
) -> Vec<Result<immutable_log::Head, Error>> {
    let before = seq(log);
    thread::scope(|s| {
        let first = s.spawn(|| log.append(Level::Info, format_args!("first")));
        told.recv().unwrap();
        let others: Vec<_> = queued
            .iter()
            .map(|m| s.spawn(move || log.append(Level::Info, format_args!("{m}"))))
            .collect();
        let staged = before.map_or(0, |s| s + 1) + queued.len() as u64;
        until(|| seq(log) == Some(staged));
        go.send(()).unwrap();
        let mut results = vec![first.join().unwrap()];
        results.extend(others.into_iter().map(|t| t.join().unwrap()));
        results
    })
}

#[test]
fn records_queued_behind_a_write_share_the_next_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("group.log");
    let (fs, told, go) = GateFs::new();
    let log = open(&path, &fs, None);
    fs.arm(&[Plan::Hold]);
    let results = held_then_queued(&log, &told, &go, &["b", "c", "d"]);
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    // One write for the first record, one for the three queued behind it.
    let sizes = fs.sizes();
    assert_eq!(sizes.len(), 2, "{sizes:?}");
    assert!(sizes[1] > 2 * sizes[0], "{sizes:?}");
    log.close().unwrap();
    assert_eq!(intact(&path).records, 4);
}

#[test]
fn a_failed_group_write_fails_each_of_its_appenders_and_keeps_what_was_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("group.log");
    let (fs, told, go) = GateFs::new();
    let log = open(&path, &fs, None);
    log.append(Level::Info, format_args!("before")).unwrap();
    let kept = std::fs::read(&path).unwrap();
    // The first record is written; the batch of the three queued behind it
    // fails halfway.
    fs.arm(&[Plan::Hold, Plan::Fail]);
    let results = held_then_queued(&log, &told, &go, &["b", "c", "d"]);
    assert!(results[0].is_ok(), "{results:?}");
    assert!(results[1..].iter().all(is_write_error), "{results:?}");
    assert_eq!(
        fs.sizes().len(),
        2,
        "one write for the three: {:?}",
        fs.sizes()
    );
    // The head is the first record's; the file holds it after what was there.
    assert_eq!(seq(&log), Some(1));
    assert_eq!(log.head(), results[0].as_ref().ok().copied());
    let now = std::fs::read(&path).unwrap();
    assert!(now.starts_with(&kept));
    // The chain goes on from there.
    log.append(Level::Info, format_args!("after")).unwrap();
    log.close().unwrap();
    intact(&path);
    let messages: Vec<_> = records_of(&path).into_iter().map(|r| r.message).collect();
    assert_eq!(messages, ["before", "first", "after"]);
}

#[test]
fn a_failed_write_takes_back_the_records_chained_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("group.log");
    let (fs, told, go) = GateFs::new();
    let log = open(&path, &fs, None);
    let before = log.append(Level::Info, format_args!("before")).unwrap();
    let kept = std::fs::read(&path).unwrap();
    // The first record's own write fails, while two more are staged after
    // it (chained to it): all three are taken back.
    fs.arm(&[Plan::HoldThenFail]);
    let results = held_then_queued(&log, &told, &go, &["b", "c"]);
    assert!(results.iter().all(is_write_error), "{results:?}");
    assert_eq!(fs.sizes().len(), 1, "{:?}", fs.sizes());
    assert_eq!(log.head(), Some(before));
    assert_eq!(
        std::fs::read(&path).unwrap(),
        kept,
        "cut back to what was there"
    );
    log.append(Level::Info, format_args!("after")).unwrap();
    log.close().unwrap();
    let records = records_of(&path);
    let messages: Vec<_> = records.iter().map(|r| r.message.as_str()).collect();
    assert_eq!(messages, ["before", "after"]);
    assert_eq!(records[1].seq, Some(1));
    intact(&path);
}

#[test]
fn a_keyed_log_keeps_its_key_in_step_through_group_writes_and_a_failed_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyed.log");
    let (verify, seal) = (dir.path().join("verify.key"), dir.path().join("seal.key"));
    create_key_pair(&verify, &seal).unwrap();
    let (fs, told, go) = GateFs::new();
    let log = open(&path, &fs, Some(&seal));
    log.append(Level::Info, format_args!("before")).unwrap();
    fs.arm(&[Plan::Hold, Plan::Fail]);
    let results = held_then_queued(&log, &told, &go, &["b", "c"]);
    assert!(results[0].is_ok(), "{results:?}");
    assert!(results[1..].iter().all(is_write_error), "{results:?}");
    fs.arm(&[Plan::Hold]);
    let results = held_then_queued(&log, &told, &go, &["d", "e"]);
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    drop(log);
    // The key file is in step with the log: it reopens (a key state ahead
    // of or behind its log that cannot be caught up fails the open) and
    // goes on sealing.
    let log = open(&path, &fs, Some(&seal));
    log.append(Level::Info, format_args!("reopened")).unwrap();
    log.close().unwrap();
    let messages: Vec<_> = records_of(&path).into_iter().map(|r| r.message).collect();
    assert_eq!(messages.len(), 7, "{messages:?}"); // chain start + 6
    assert_eq!(messages[1..4], ["before", "first", "first"]);
    let key = immutable_log::std_backend::read_verify_key(&verify).unwrap();
    let text = std::fs::read(&path).unwrap();
    let mut buf = vec![0u8; 1 << 17];
    let mut verifier =
        immutable_log::Verifier::keyed(&mut buf, immutable_log::Options::default(), key);
    verifier.feed(&text).unwrap();
    assert!(matches!(
        verifier.finish(),
        immutable_log::Verdict::Intact(r) if r.records == 7
    ));
}

/// The RFC 6962 root and size of the tree of the file's records, by
/// ct-merkle (an independent implementation).
fn their_tree(path: &Path) -> (Vec<u8>, u64) {
    let bytes = std::fs::read(path).unwrap();
    let mut tree = ct_merkle::mem_backed_tree::MemoryBackedTree::<sha2::Sha256, [u8; 32]>::new();
    for record in immutable_log::records(&bytes) {
        tree.push(*record.unwrap().digest().as_bytes());
    }
    (tree.root().as_bytes().to_vec(), tree.len())
}

#[test]
fn the_writer_s_tree_follows_group_writes_and_a_failed_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tree.log");
    let (fs, told, go) = GateFs::new();
    let log = open_keeping_tree(&path, &fs, None, true);
    log.append(Level::Info, format_args!("before")).unwrap();
    // Written in two writes (the held one, then the three queued behind it).
    fs.arm(&[Plan::Hold]);
    let results = held_then_queued(&log, &told, &go, &["b", "c", "d"]);
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    // Then a batch that fails: its leaves and those staged after it go.
    fs.arm(&[Plan::HoldThenFail]);
    let results = held_then_queued(&log, &told, &go, &["e", "f"]);
    assert!(results.iter().all(is_write_error), "{results:?}");
    log.append(Level::Info, format_args!("after")).unwrap();
    let head = log.tree_head().unwrap().unwrap();
    let (root, size) = their_tree(&path);
    assert_eq!(size, 6, "before, first, b, c, d, after");
    assert_eq!((head.root.as_bytes().to_vec(), head.size), (root, size));
    log.close().unwrap();
}

#[test]
fn a_tree_head_asked_during_a_group_write_counts_its_records() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tree-in-flight.log");
    let (fs, told, go) = GateFs::new();
    let log = open_keeping_tree(&path, &fs, None, true);
    log.append(Level::Info, format_args!("before")).unwrap();
    fs.arm(&[Plan::Hold]);
    let head = thread::scope(|s| {
        let first = s.spawn(|| log.append(Level::Info, format_args!("first")));
        // The batch holding "first" is out of staging, its write held.
        told.recv().unwrap();
        let head = s.spawn(|| log.tree_head());
        // Give the asker every chance to answer while the write is held
        // (it must wait for it instead); no timing is asserted.
        for _ in 0..1000 {
            thread::yield_now();
        }
        go.send(()).unwrap();
        first.join().unwrap().unwrap();
        head.join().unwrap().unwrap().unwrap()
    });
    let (root, size) = their_tree(&path);
    assert_eq!(size, 2);
    assert_eq!((head.root.as_bytes().to_vec(), head.size), (root, size));
    log.close().unwrap();
}

// `Buffered`: the append that fills staging writes it, under the lock; if
// that write fails, only that append's record is refused.

/// The buffer of the `Buffered` logs below.
const BUFFER: usize = 4096;

fn open_buffered(path: &Path, fs: &Arc<GateFs>, seal: Option<&Path>) -> LogFile {
    let mut options = LogFile::options();
    options
        .durability(Durability::Buffered)
        // No timed flush during a test.
        .buffer(BUFFER, std::time::Duration::from_secs(3600))
        .format(PlainFormat)
        .recovery_fs(fs.clone());
    if let Some(seal) = seal {
        options.seal_key(seal);
    }
    options.open(path).unwrap()
}

/// A message of 100 bytes: records of (nearly) one size.
fn message(i: usize) -> String {
    format!("{i:0>100}")
}

/// Appends record 0 and flushes it (before `arm`); returns its size in
/// the file and the file's bytes.
fn first_flushed(log: &LogFile, path: &Path) -> (usize, Vec<u8>) {
    log.append(Level::Info, format_args!("{}", message(0)))
        .unwrap();
    log.flush().unwrap();
    let kept = std::fs::read(path).unwrap();
    // A record is two lines; a keyed log's first append wrote its
    // chain-start record before it.
    let ends: Vec<usize> = (0..kept.len()).filter(|&i| kept[i] == b'\n').collect();
    let start = match ends.len() {
        n if n > 2 => ends[n - 3] + 1,
        _ => 0,
    };
    (kept.len() - start, kept)
}

/// Appends records 1, 2, ... (enough to fill staging once) with the first
/// write failing; returns how many, and which were refused.
fn fill_with_a_failed_write(log: &LogFile, fs: &GateFs, record: usize) -> (usize, Vec<usize>) {
    fs.arm(&[Plan::Fail]);
    let count = BUFFER / record + 2;
    let mut refused = Vec::new();
    for i in 1..=count {
        let result = log.append(Level::Info, format_args!("{}", message(i)));
        if result.is_err() {
            assert!(is_write_error(&result), "{result:?}");
            refused.push(i);
        }
    }
    (count, refused)
}

#[test]
fn a_failed_buffered_write_refuses_only_the_record_that_filled_staging() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("buffered.log");
    let (fs, _told, _go) = GateFs::new();
    let log = open_buffered(&path, &fs, None);
    let (record, kept) = first_flushed(&log, &path);
    let (count, refused) = fill_with_a_failed_write(&log, &fs, record);
    assert_eq!(refused.len(), 1, "{refused:?}");
    // The failed write was cut back; the next append wrote what stayed
    // staged.
    assert_eq!(fs.sizes().len(), 2, "{:?}", fs.sizes());
    assert!(std::fs::read(&path).unwrap().starts_with(&kept));
    log.close().unwrap();
    intact(&path);
    let messages: Vec<_> = records_of(&path).into_iter().map(|r| r.message).collect();
    let expected: Vec<_> = (0..=count)
        .filter(|i| !refused.contains(i))
        .map(message)
        .collect();
    assert_eq!(messages, expected);
}

#[test]
fn a_keyed_buffered_log_keeps_its_key_in_step_through_a_failed_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyed.log");
    let (verify, seal) = (dir.path().join("verify.key"), dir.path().join("seal.key"));
    create_key_pair(&verify, &seal).unwrap();
    let (fs, _told, _go) = GateFs::new();
    let log = open_buffered(&path, &fs, Some(&seal));
    let (record, kept) = first_flushed(&log, &path);
    let (count, refused) = fill_with_a_failed_write(&log, &fs, record);
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(std::fs::read(&path).unwrap().starts_with(&kept));
    drop(log);
    // The key file is in step: the log reopens and goes on sealing.
    let log = open_buffered(&path, &fs, Some(&seal));
    log.append(Level::Info, format_args!("reopened")).unwrap();
    log.close().unwrap();
    let mut expected: Vec<String> = (0..=count)
        .filter(|i| !refused.contains(i))
        .map(message)
        .collect();
    expected.push("reopened".into());
    let messages: Vec<_> = records_of(&path).into_iter().map(|r| r.message).collect();
    assert_eq!(messages[1..], expected);
    let key = immutable_log::std_backend::read_verify_key(&verify).unwrap();
    let text = std::fs::read(&path).unwrap();
    let mut buf = vec![0u8; 1 << 17];
    let mut verifier =
        immutable_log::Verifier::keyed(&mut buf, immutable_log::Options::default(), key);
    verifier.feed(&text).unwrap();
    let records = 1 + expected.len() as u64; // the chain start and the rest
    assert!(matches!(
        verifier.finish(),
        immutable_log::Verdict::Intact(r) if r.records == records
    ));
}
