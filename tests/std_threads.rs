//! Many threads, one log: the seed's "rock-solid thread-safety" claims, made
//! true and checked record by record. After each run the file verifies, every
//! message is in it exactly once, each thread's messages keep their order, and
//! `seq` runs densely from 0.
#![cfg(feature = "std")]

mod common;

use std::path::Path;
use std::thread;

use common::files::intact;
use common::{read_records, seed_formatted};
use immutable_log::std_backend::{Durability, LogFile, PlainFormat};
use immutable_log::Level;

/// How the threads write.
#[derive(Clone, Copy)]
enum Via {
    /// `LogFile::append`.
    Append,
    /// The `log` facade (`log::Log::log`), with the seed's format.
    LogFacade,
}

fn run(threads: usize, per_thread: usize, durability: Durability, via: Via) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("threads.log");
    let mut options = LogFile::options();
    options.durability(durability);
    if let Via::Append = via {
        options.format(PlainFormat);
    }
    let log = options.open(&path).unwrap();
    thread::scope(|s| {
        for t in 0..threads {
            let log = &log;
            s.spawn(move || {
                for i in 0..per_thread {
                    match via {
                        Via::Append => {
                            log.append(Level::Info, format_args!("thread {t} message {i}"))
                                .unwrap();
                        }
                        Via::LogFacade => log::Log::log(
                            log,
                            &log::Record::builder()
                                .level(log::Level::Info)
                                .args(format_args!("thread {t} message {i}"))
                                .build(),
                        ),
                    }
                }
            });
        }
    });
    let total = (threads * per_thread) as u64;
    assert_eq!(log.head().and_then(|h| h.seq), Some(total - 1));
    log.close().unwrap();
    check(&path, threads, per_thread, via);
}

fn check(path: &Path, threads: usize, per_thread: usize, via: Via) {
    let report = intact(path);
    let total = (threads * per_thread) as u64;
    // The verifier checks that `seq` counts up by one from 0 at genesis, so a
    // chain of `total` records whose head is `total - 1` is dense.
    assert_eq!(report.records, total);
    assert_eq!(report.head.and_then(|h| h.seq), Some(total - 1));
    assert_eq!(report.unlogged, 0);
    let log = std::fs::read(path).unwrap();
    let mut next = vec![0usize; threads];
    for record in read_records(&log) {
        // The display text: the message, which holds no control character.
        let message = std::str::from_utf8(record.display()).expect("UTF-8 display");
        let text = match via {
            Via::Append => message,
            Via::LogFacade => {
                let text = message.split(" - INFO - ").nth(1).unwrap_or_default();
                assert!(seed_formatted(message, "INFO", text), "{message}");
                text
            }
        };
        let (t, i) = text
            .strip_prefix("thread ")
            .and_then(|r| r.split_once(" message "))
            .unwrap_or_else(|| panic!("unexpected message {text:?}"));
        let (t, i): (usize, usize) = (t.parse().unwrap(), i.parse().unwrap());
        assert_eq!(i, next[t], "thread {t}: messages out of order or repeated");
        next[t] += 1;
    }
    assert!(
        next.iter().all(|&n| n == per_thread),
        "every message exactly once"
    );
}

#[test]
fn hundred_threads_ten_messages_each_through_the_log_facade() {
    run(100, 10, Durability::Flush, Via::LogFacade);
}

#[test]
fn five_hundred_threads_five_messages_each() {
    run(500, 5, Durability::Flush, Via::Append);
}

#[test]
fn five_hundred_threads_a_thousand_messages_each_buffered() {
    run(500, 1000, Durability::Buffered, Via::Append);
}

/// 100 threads append 5 records each to a log opened with `durability`,
/// returning it open.
fn hundred_threads_five_each(path: &Path, durability: Durability) -> LogFile {
    let log = LogFile::options()
        .durability(durability)
        .format(PlainFormat)
        .open(path)
        .unwrap();
    thread::scope(|s| {
        for t in 0..100 {
            let log = &log;
            s.spawn(move || {
                for i in 0..5 {
                    log.append(Level::Info, format_args!("thread {t} message {i}"))
                        .unwrap();
                }
            });
        }
    });
    log
}

#[test]
fn hundred_threads_with_sync_durability_are_durable_when_append_returns() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sync.log");
    let log = hundred_threads_five_each(&path, Durability::Sync);
    // Every append waited for a sync covering it: once they all returned, a
    // sync finds nothing left to make durable, and runs no `fdatasync`.
    let syncs = log.syncs();
    assert!((1..=500).contains(&syncs), "{syncs}");
    log.sync().unwrap();
    assert_eq!(log.syncs(), syncs, "every record was durable already");
    log.close().unwrap();
    check(&path, 100, 5, Via::Append);
}

/// One `fdatasync` makes every record handed to the OS before it durable,
/// whichever thread appended it. (That appenders waiting during a sync share
/// the next one is the unit test `appenders_waiting_during_a_sync_share_the_next_one`
/// in std-backend/group_commit.rs: how long a sync takes, and so which
/// appenders arrive during it, cannot be set from outside the crate.)
#[test]
fn one_sync_covers_the_records_of_every_thread() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.log");
    let log = hundred_threads_five_each(&path, Durability::Flush);
    assert_eq!(log.syncs(), 0, "Flush hands records to the OS, no sync");
    log.sync().unwrap();
    assert_eq!(log.syncs(), 1, "500 records, one fdatasync");
    log.sync().unwrap();
    assert_eq!(log.syncs(), 1, "nothing new, nothing to sync");
    log.append(Level::Info, format_args!("one more")).unwrap();
    log.sync().unwrap();
    assert_eq!(log.syncs(), 2);
    log.close().unwrap();
    assert_eq!(intact(&path).records, 501);
}
