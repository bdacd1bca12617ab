//! A crash in the middle of recovering a torn tail loses nothing: the torn
//! bytes are journaled beside the log first, and the next open replays the
//! recovery from the journal.
#![cfg(feature = "std")]

#[path = "std_support.rs"]
mod support;

use std::fs;
use std::path::Path;

use immutable_log::std_backend::LogFile;
use immutable_log::Level;
use support::{intact, record_spans, records_of, recovered_bytes};

fn journal_of(log: &Path) -> std::path::PathBuf {
    log.with_file_name(format!(
        "{}.torn",
        log.file_name().unwrap().to_str().unwrap()
    ))
}

/// A log of three records and the bytes of a fourth cut off by a crash.
fn crashed(dir: &Path) -> (Vec<u8>, usize, Vec<u8>) {
    let path = dir.join("whole.log");
    let log = LogFile::open(&path).unwrap();
    for m in ["one", "two", "three", "four: the one torn"] {
        log.append(Level::Info, format_args!("{m}")).unwrap();
    }
    log.close().unwrap();
    let whole = fs::read(&path).unwrap();
    let last = record_spans(&whole)[3].clone();
    let torn = whole[last.start..last.end - 20].to_vec();
    (whole[..last.start].to_vec(), last.start, torn)
}

/// Opens `path`, appends one record, and checks the log holds the torn bytes
/// exactly once and verifies.
fn reopen_and_check(path: &Path, offset: usize, torn: &[u8]) {
    let log = LogFile::open(path).unwrap();
    assert!(log.recovered().is_some(), "the recovery is replayed");
    log.append(Level::Info, format_args!("after")).unwrap();
    log.close().unwrap();
    assert!(!journal_of(path).exists(), "the journal is gone");
    intact(path);
    let recs = records_of(path);
    let (at, bytes) = recovered_bytes(&recs).expect("recovery records");
    assert_eq!(at, offset as u64);
    assert_eq!(bytes, torn, "the torn bytes, exactly once");
    assert!(recs.last().unwrap().message.ends_with(" - INFO - after"));
}

fn journal(offset: usize, torn: &[u8]) -> Vec<u8> {
    let mut j = format!("immutable-log torn tail 1 at {offset}\n").into_bytes();
    j.extend_from_slice(torn);
    j
}

#[test]
fn a_crash_after_the_cut_is_replayed_from_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let (clean, offset, torn) = crashed(dir.path());
    let path = dir.path().join("a.log");
    // The torn bytes were journaled and cut off; no recovery record was written.
    fs::write(&path, &clean).unwrap();
    fs::write(journal_of(&path), journal(offset, &torn)).unwrap();
    reopen_and_check(&path, offset, &torn);
}

#[test]
fn a_crash_mid_recovery_record_is_cut_back_and_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let (clean, offset, torn) = crashed(dir.path());
    // What a complete recovery writes, to cut short at every 7th byte.
    let done = dir.path().join("done.log");
    let mut with_torn = clean.clone();
    with_torn.extend_from_slice(&torn);
    fs::write(&done, &with_torn).unwrap();
    LogFile::open(&done).unwrap().close().unwrap();
    let recovered = fs::read(&done).unwrap();
    assert!(recovered.len() > clean.len());
    let path = dir.path().join("b.log");
    for cut in (clean.len()..=recovered.len())
        .step_by(7)
        .chain([recovered.len()])
    {
        // The crash left part (or all) of the recovery records, and the
        // journal, which is removed only once they are durable.
        fs::write(&path, &recovered[..cut]).unwrap();
        fs::write(journal_of(&path), journal(offset, &torn)).unwrap();
        reopen_and_check(&path, offset, &torn);
    }
}

#[test]
fn a_journal_that_does_not_fit_the_log_is_left_alone_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let (clean, _, torn) = crashed(dir.path());
    let path = dir.path().join("c.log");
    fs::write(&path, &clean).unwrap();
    fs::write(journal_of(&path), journal(clean.len() + 1000, &torn)).unwrap();
    let err = LogFile::open(&path).unwrap_err();
    assert!(err.to_string().contains(".torn"), "{err}");
    assert!(journal_of(&path).exists());
    assert_eq!(fs::read(&path).unwrap(), clean, "the log is untouched");
}
