//! A crash in the middle of recovering a torn tail loses nothing: the torn
//! bytes are journaled beside the log first, and the next open replays the
//! recovery from the journal, writing the very bytes the first attempt wrote.
#![cfg(feature = "std")]

mod common;

use std::fs;
use std::path::Path;
use std::sync::Arc;

use common::files::{intact, journal_of};
use common::{messages, record_spans, recovered_bytes};
use immutable_log::std_backend::recovery_fs::{FaultyFs, Op};
use immutable_log::std_backend::{JournalFault, LogFile};
use immutable_log::Level;

/// A log of three records and the bytes of a fourth cut off by a crash.
fn crashed(dir: &Path) -> (Vec<u8>, Vec<u8>) {
    let path = dir.join("whole.log");
    let log = LogFile::open(&path).unwrap();
    for m in ["one", "two", "three", "four: the one torn"] {
        log.append(Level::Info, format_args!("{m}")).unwrap();
    }
    log.close().unwrap();
    let whole = fs::read(&path).unwrap();
    let last = record_spans(&whole)[3].clone();
    let torn = whole[last.start..last.end - 20].to_vec();
    (whole[..last.start].to_vec(), torn)
}

/// The journal a recovery of `clean + torn` writes (caught by crashing the
/// recovery at the cut, once the journal is in place), and the log the
/// finished recovery leaves.
fn captured(dir: &Path, clean: &[u8], torn: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let path = dir.join("captured.log");
    let mut with_torn = clean.to_vec();
    with_torn.extend_from_slice(torn);
    fs::write(&path, &with_torn).unwrap();
    let counting = Arc::new(FaultyFs::counting());
    drop(
        LogFile::options()
            .recovery_fs(counting.clone())
            .open(&path)
            .unwrap(),
    );
    let cut = counting.index_of(Op::SetLen).expect("the recovery cuts");
    fs::write(&path, &with_torn).unwrap();
    let crash = Arc::new(FaultyFs::crash_at(cut));
    assert!(LogFile::options()
        .recovery_fs(crash.clone())
        .open(&path)
        .is_err());
    assert_eq!(fs::read(&path).unwrap(), with_torn, "not cut yet");
    let journal = fs::read(journal_of(&path)).expect("the journal is in place");
    let log = LogFile::open(&path).unwrap();
    assert!(log.recovered().is_some());
    drop(log);
    (journal, fs::read(&path).unwrap())
}

/// Opens `path` (with `journal` beside it) and checks that the recovery
/// leaves exactly `done`, the journal gone; then that the log goes on.
fn reopen_and_check(path: &Path, done: &[u8], offset: usize, torn: &[u8]) {
    let log = LogFile::open(path).unwrap();
    assert!(log.recovered().is_some(), "the recovery is replayed");
    assert!(log.set_aside().is_none());
    drop(log);
    assert!(!journal_of(path).exists(), "the journal is gone");
    assert_eq!(
        fs::read(path).unwrap(),
        done,
        "the same bytes as the first try"
    );
    let log = LogFile::open(path).unwrap();
    log.append(Level::Info, format_args!("after")).unwrap();
    log.close().unwrap();
    intact(path);
    let log = fs::read(path).unwrap();
    let (at, bytes) = recovered_bytes(&log).expect("recovery records");
    assert_eq!(at, offset as u64);
    assert_eq!(bytes, torn, "the torn bytes, exactly once");
    let last = messages(&log).pop().unwrap();
    assert!(last.ends_with(" - INFO - after"), "{last}");
}

#[test]
fn a_crash_after_the_cut_is_replayed_from_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let (clean, torn) = crashed(dir.path());
    let (journal, done) = captured(dir.path(), &clean, &torn);
    let path = dir.path().join("a.log");
    // The torn bytes were journaled and cut off; no recovery record was written.
    fs::write(&path, &clean).unwrap();
    fs::write(journal_of(&path), &journal).unwrap();
    reopen_and_check(&path, &done, clean.len(), &torn);
}

#[test]
fn a_crash_mid_recovery_record_is_cut_back_and_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let (clean, torn) = crashed(dir.path());
    let (journal, done) = captured(dir.path(), &clean, &torn);
    assert!(done.len() > clean.len());
    let path = dir.path().join("b.log");
    for cut in (clean.len()..=done.len()).step_by(7).chain([done.len()]) {
        // The crash left part (or all) of the recovery records, and the
        // journal, which is removed only once they are durable; a power loss
        // may also leave zeros where unsynced bytes were to go.
        for zeros in [0, done.len() - cut] {
            let mut left = done[..cut].to_vec();
            left.resize(cut + zeros, 0);
            fs::write(&path, &left).unwrap();
            fs::write(journal_of(&path), &journal).unwrap();
            reopen_and_check(&path, &done, clean.len(), &torn);
        }
    }
}

#[test]
fn a_journal_past_the_end_of_the_log_is_set_aside_and_nothing_cut() {
    let dir = tempfile::tempdir().unwrap();
    let (clean, torn) = crashed(dir.path());
    let (journal, _) = captured(dir.path(), &clean, &torn);
    let path = dir.path().join("c.log");
    // The log lost its last record since: the journal's offset lies past it.
    let shorter = &clean[..record_spans(&clean)[2].start];
    fs::write(&path, shorter).unwrap();
    fs::write(journal_of(&path), &journal).unwrap();
    let log = LogFile::open(&path).unwrap();
    let set_aside = log.set_aside().expect("set aside").clone();
    drop(log);
    assert_eq!(
        set_aside.fault,
        JournalFault::PastEnd {
            offset: clean.len() as u64,
            len: shorter.len() as u64
        }
    );
    assert!(!journal_of(&path).exists());
    assert_eq!(fs::read(&set_aside.aside).unwrap(), journal, "kept whole");
    assert_eq!(fs::read(&path).unwrap(), shorter, "the log is untouched");
}
