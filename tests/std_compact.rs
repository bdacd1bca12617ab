//! The host's compact log (`OpenOptions::open_compact`, `CompactLog`):
//! created, continued after a restart, written by many threads, each
//! durability, a torn tail kept, failed writes taken back, options it does
//! not support refused; verified by `verify_compact_path` and the CLI.
#![cfg(feature = "std")]

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use immutable_log::compact::{CompactReport, MAX_COMPACT_MESSAGE};
use immutable_log::std_backend::recovery_fs::{FaultyFs, Op};
use immutable_log::std_backend::{
    verify_compact_path, CompactLog, CompactOption, CompactTailFault, Durability, Error, LogFile,
    OpenOptions, PlainFormat, Rotation,
};
use immutable_log::{CompactVerdict, Level};

fn intact(path: &Path) -> CompactReport {
    match verify_compact_path(path, false).unwrap() {
        CompactVerdict::Intact(report) => report,
        other => panic!("not intact: {other:?}"),
    }
}

fn incomplete(path: &Path) -> CompactReport {
    match verify_compact_path(path, false).unwrap() {
        CompactVerdict::Incomplete(report) => report,
        other => panic!("not incomplete: {other:?}"),
    }
}

/// A closed compact log of `n` records in a new directory (kept while the
/// `TempDir` lives).
fn written(n: u64) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.bin");
    let log = CompactLog::open(&path).unwrap();
    append(&log, 0, n);
    log.close().unwrap();
    (dir, path)
}

fn append(log: &CompactLog, from: u64, n: u64) {
    for i in from..from + n {
        log.append(
            Level::Info,
            format_args!("record {i}: adc = {} mV", 1000 + i),
        )
        .unwrap();
    }
}

#[test]
fn a_new_log_verifies_with_each_durability() {
    for durability in [Durability::Flush, Durability::Buffered, Durability::Sync] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.bin");
        let log = OpenOptions::new()
            .durability(durability)
            .open_compact(&path)
            .unwrap();
        append(&log, 0, 40);
        assert_eq!(log.head().map(|h| h.seq), Some(39));
        log.close().unwrap();
        let report = intact(&path);
        assert_eq!(report.records, 40, "{durability}");
        // A sync after every 16 records.
        assert_eq!(report.syncs, 2, "{durability}");
        // Frames of about 30 bytes beyond the message, not 478.
        let size = fs::metadata(&path).unwrap().len();
        assert!(size < 40 * 60, "{durability}: {size} bytes");
    }
}

#[test]
fn flush_hands_each_record_over_and_sync_syncs_it() {
    for (durability, syncs) in [(Durability::Flush, 0), (Durability::Sync, 3)] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.bin");
        let fs = Arc::new(FaultyFs::counting());
        let log = OpenOptions::new()
            .durability(durability)
            .recovery_fs(fs.clone())
            .open_compact(&path)
            .unwrap();
        let mut len = 0;
        for i in 0..3 {
            log.append(Level::Warning, format_args!("r{i}")).unwrap();
            // In the file before append returned.
            let now = fs::metadata(&path).unwrap().len();
            assert!(now > len, "{durability}: record {i} not handed over");
            len = now;
        }
        let ops = fs.ops();
        assert_eq!(ops.iter().filter(|&&o| o == Op::Write).count(), 3);
        assert_eq!(ops.iter().filter(|&&o| o == Op::Sync).count(), syncs);
        drop(log);
        assert_eq!(intact(&path).records, 3);
    }
}

#[test]
fn buffered_records_wait_for_the_buffer_flush_or_close() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.bin");
    let log = OpenOptions::new()
        .durability(Durability::Buffered)
        .buffer(1 << 20, Duration::from_secs(3600))
        .open_compact(&path)
        .unwrap();
    append(&log, 0, 5);
    assert_eq!(fs::metadata(&path).unwrap().len(), 0);
    log.flush().unwrap();
    assert_eq!(intact(&path).records, 5);
    append(&log, 5, 5);
    drop(log); // drop hands them over too
    assert_eq!(intact(&path).records, 10);
    // A small buffer hands records over as it fills.
    let path = dir.path().join("small.bin");
    let log = OpenOptions::new()
        .durability(Durability::Buffered)
        .buffer(100, Duration::from_secs(3600))
        .open_compact(&path)
        .unwrap();
    append(&log, 0, 5);
    assert!(fs::metadata(&path).unwrap().len() >= 100);
    log.close().unwrap();
}

#[test]
fn a_reopened_log_continues_its_chain() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.bin");
    let mut total: u64 = 0;
    // Reopened at every count around the sync period.
    for n in [1, 14, 1, 16, 17, 3] {
        let log = CompactLog::open(&path).unwrap();
        assert_eq!(log.head().map(|h| h.seq), total.checked_sub(1));
        assert_eq!(log.recovered(), None);
        append(&log, total, n);
        let head = log.head();
        log.close().unwrap();
        total += n;
        let report = intact(&path);
        assert_eq!(report.records, total);
        assert_eq!(report.head, head);
    }
}

#[test]
fn many_threads_append_to_one_chain() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.bin");
    let log = OpenOptions::new()
        .durability(Durability::Flush)
        .open_compact(&path)
        .unwrap();
    std::thread::scope(|s| {
        for t in 0..8 {
            let log = &log;
            s.spawn(move || {
                for i in 0..250 {
                    log.append(Level::Info, format_args!("thread {t} record {i}"))
                        .unwrap();
                }
            });
        }
    });
    log.close().unwrap();
    assert_eq!(intact(&path).records, 2000);
}

#[test]
fn a_long_message_is_cut_at_a_character_and_marked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.bin");
    let log = CompactLog::open(&path).unwrap();
    let long = "é".repeat(MAX_COMPACT_MESSAGE); // 2 bytes each
    log.append(Level::Error, format_args!("{long}")).unwrap();
    log.append(Level::Error, format_args!("x{long}")).unwrap();
    log.close().unwrap();
    let report = intact(&path);
    assert_eq!((report.records, report.truncated), (2, 2));
}

#[test]
fn a_torn_tail_is_kept_and_the_log_goes_on_with_a_gap() {
    let (_dir, path) = written(5);
    // A crash in the middle of record 5's frame: half of it reached the file.
    let before = fs::read(&path).unwrap();
    let log = CompactLog::open(&path).unwrap();
    append(&log, 5, 1);
    log.close().unwrap();
    let whole = fs::read(&path).unwrap();
    let torn = &whole[before.len()..before.len() + (whole.len() - before.len()) / 2];
    let mut cut = before.clone();
    cut.extend_from_slice(torn);
    fs::write(&path, &cut).unwrap();
    assert!(matches!(
        verify_compact_path(&path, false).unwrap(),
        CompactVerdict::Torn(..)
    ));

    let log = CompactLog::open(&path).unwrap();
    let recovered = log.recovered().unwrap();
    assert_eq!(recovered.offset, before.len() as u64);
    assert_eq!(recovered.len, torn.len() as u64);
    assert_eq!(recovered.skipped, 5);
    assert_eq!(
        log.append(Level::Info, format_args!("after")).unwrap().seq,
        6
    );
    log.close().unwrap();
    let after = fs::read(&path).unwrap();
    // Never deleted: every byte is where it was, the torn ones too.
    assert_eq!(&after[..cut.len()], &cut[..]);
    match verify_compact_path(&path, false).unwrap() {
        CompactVerdict::Incomplete(report) => {
            assert_eq!(report.records, 6);
            assert_eq!(report.gaps, 1);
            assert_eq!((report.gap_list[0].first, report.gap_list[0].last), (5, 5));
            assert_eq!(report.head.map(|h| h.seq), Some(6));
        }
        other => panic!("{other:?}"),
    }
    // And it opens again as it is.
    let log = CompactLog::open(&path).unwrap();
    assert_eq!(log.recovered(), None);
    assert_eq!(log.head().map(|h| h.seq), Some(6));
}

#[test]
fn a_torn_tail_that_lacks_only_its_zero_is_completed() {
    let (_dir, path) = written(3);
    let mut bytes = fs::read(&path).unwrap();
    assert_eq!(bytes.pop(), Some(0));
    fs::write(&path, &bytes).unwrap();
    let log = CompactLog::open(&path).unwrap();
    assert_eq!(log.recovered(), None);
    assert_eq!(log.head().map(|h| h.seq), Some(2));
    append(&log, 3, 1);
    log.close().unwrap();
    assert_eq!(intact(&path).records, 4);
}

#[test]
fn a_failed_write_is_cut_back_and_its_record_taken_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.bin");
    // Operations: 0, 1 the writes of records 0 and 1; 2 fails (half kept).
    let fs = Arc::new(FaultyFs::fail_at(2, ErrorKind::StorageFull));
    let log = OpenOptions::new()
        .recovery_fs(fs.clone())
        .open_compact(&path)
        .unwrap();
    append(&log, 0, 2);
    let len = std::fs::metadata(&path).unwrap().len();
    let err = log.append(Level::Info, format_args!("lost")).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
    assert_eq!(std::fs::metadata(&path).unwrap().len(), len, "cut back");
    assert_eq!(log.head().map(|h| h.seq), Some(1));
    assert_eq!(
        log.append(Level::Info, format_args!("next")).unwrap().seq,
        2
    );
    log.close().unwrap();
    let report = intact(&path);
    assert_eq!((report.records, report.unlogged), (3, 0));
}

#[test]
fn a_failed_buffered_write_keeps_the_records_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.bin");
    // The first write (once 100 bytes are buffered) fails, half kept.
    let fs = Arc::new(FaultyFs::fail_at(0, ErrorKind::StorageFull));
    let log = OpenOptions::new()
        .durability(Durability::Buffered)
        .buffer(100, Duration::from_secs(3600))
        .recovery_fs(fs.clone())
        .open_compact(&path)
        .unwrap();
    let mut failed = None;
    for i in 0..10 {
        if log
            .append(Level::Info, format_args!("record {i}: 20 bytes"))
            .is_err()
        {
            failed = Some(i);
            break;
        }
    }
    let failed = failed.expect("a write was due");
    assert!(failed > 0);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 0, "cut back");
    assert_eq!(log.head().map(|h| h.seq), Some(failed - 1));
    log.close().unwrap();
    // Every record buffered before the failed one, none lost.
    assert_eq!(intact(&path).records, failed);
}

#[test]
fn a_write_that_cannot_be_cut_back_breaks_the_log_until_reopened() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.bin");
    // A crash at record 2's write: half its bytes stay, the cut fails.
    let fs = Arc::new(FaultyFs::crash_at(2));
    let log = OpenOptions::new()
        .recovery_fs(fs.clone())
        .open_compact(&path)
        .unwrap();
    append(&log, 0, 2);
    assert!(log.append(Level::Info, format_args!("torn")).is_err());
    assert_eq!(fs.ops()[2..], [Op::Write, Op::SetLen]);
    let err = log
        .append(Level::Info, format_args!("refused"))
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Broken {
                step: immutable_log::std_backend::Step::Cut,
                ..
            }
        ),
        "{err}"
    );
    drop(log);
    let log = CompactLog::open(&path).unwrap();
    assert_eq!(log.recovered().map(|r| r.skipped), Some(2));
    assert_eq!(log.append(Level::Info, format_args!("on")).unwrap().seq, 3);
    log.close().unwrap();
    assert_eq!(incomplete(&path).records, 3);
}

#[test]
fn a_crash_during_recovery_is_recovered_at_the_next_open() {
    let (_dir, path) = written(3);
    let mut bytes = fs::read(&path).unwrap();
    bytes.extend_from_slice(&[0x05, 0x02, 0x03]); // a torn frame
    fs::write(&path, &bytes).unwrap();
    // The recovery's write (the zero and the sync) keeps half and crashes.
    let fs_ = Arc::new(FaultyFs::crash_at(0));
    let err = OpenOptions::new()
        .recovery_fs(fs_)
        .open_compact(&path)
        .unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
    let log = CompactLog::open(&path).unwrap();
    assert!(log.recovered().is_some());
    append(&log, 10, 2);
    log.close().unwrap();
    let after = fs::read(&path).unwrap();
    assert_eq!(&after[..bytes.len()], &bytes[..], "nothing deleted");
    assert_eq!(incomplete(&path).records, 5);
}

#[test]
fn a_changed_last_record_is_not_extended() {
    let (_dir, path) = written(20);
    let mut bytes = fs::read(&path).unwrap();
    let at = bytes.len() - 20; // inside the last record's message
    bytes[at] ^= 0x01;
    fs::write(&path, &bytes).unwrap();
    let err = CompactLog::open(&path).unwrap_err();
    assert!(
        matches!(
            err,
            Error::CompactTail {
                fault: CompactTailFault::TagMismatch { seq: 19 },
                ..
            }
        ),
        "{err}"
    );
    assert!(err.is_integrity());
    assert_eq!(fs::read(&path).unwrap(), bytes, "untouched");
}

/// Where each frame of `bytes` starts.
fn frame_starts(bytes: &[u8]) -> Vec<usize> {
    let mut starts = vec![0];
    for (i, &b) in bytes.iter().enumerate() {
        if b == 0 && i + 1 < bytes.len() {
            starts.push(i + 1);
        }
    }
    starts
}

#[test]
fn a_last_frame_changed_unreadable_is_reported_and_skipped_not_claimed() {
    let (_dir, path) = written(3);
    let mut bytes = fs::read(&path).unwrap();
    let last = frame_starts(&bytes)[2];
    bytes[last] = 0xfe; // record 2's COBS code byte: its frame no longer decodes
    fs::write(&path, &bytes).unwrap();
    let log = CompactLog::open(&path).unwrap();
    let recovered = log.recovered().expect("the unreadable end is reported");
    assert_eq!(
        (recovered.offset, recovered.len, recovered.skipped),
        (last as u64, (bytes.len() - last) as u64, 2)
    );
    // Record 2 cannot be read: the head is record 1, the next record 3.
    assert_eq!(log.head().map(|h| h.seq), Some(1));
    assert_eq!(log.append(Level::Info, format_args!("on")).unwrap().seq, 3);
    log.close().unwrap();
    assert_eq!(&fs::read(&path).unwrap()[..bytes.len()], &bytes[..]);
    match verify_compact_path(&path, false).unwrap() {
        CompactVerdict::Incomplete(report) => {
            assert_eq!((report.gap_list[0].first, report.gap_list[0].last), (2, 2));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_changed_record_followed_by_a_sync_is_refused_not_extended() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.bin");
    let log = CompactLog::open(&path).unwrap();
    append(&log, 0, 20); // frames: records 0..=15, a sync, records 16..=19
    log.close().unwrap();
    let mut bytes = fs::read(&path).unwrap();
    let starts = frame_starts(&bytes);
    assert_eq!(starts.len(), 21);
    bytes[starts[15]] = 0xfe; // record 15, just before the sync
    fs::write(&path, &bytes).unwrap();
    let err = CompactLog::open(&path).unwrap_err();
    assert!(
        matches!(
            err,
            Error::CompactTail {
                fault: CompactTailFault::Damaged,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(fs::read(&path).unwrap(), bytes, "untouched");
}

#[test]
fn a_file_without_a_zero_is_not_opened_as_compact() {
    let dir = tempfile::tempdir().unwrap();
    let notes = dir.path().join("notes.txt");
    fs::write(&notes, "just some notes, not a log at all\nsecond line\n").unwrap();
    // A text log torn inside its first line's 64 hex digits.
    let text = dir.path().join("text.log");
    let log = LogFile::open(&text).unwrap();
    log.append(Level::Info, format_args!("text")).unwrap();
    log.close().unwrap();
    let line = fs::read(&text).unwrap();
    fs::write(&text, &line[..30]).unwrap();
    for path in [&notes, &text] {
        let before = fs::read(path).unwrap();
        let err = CompactLog::open(path).unwrap_err();
        assert!(matches!(err, Error::NotCompact { .. }), "{path:?}: {err}");
        assert_eq!(fs::read(path).unwrap(), before, "{path:?}: untouched");
    }
    // The start of a new log's first record, cut by a crash, is still kept.
    let path = dir.path().join("c.bin");
    let log = CompactLog::open(&path).unwrap();
    append(&log, 0, 1);
    log.close().unwrap();
    let whole = fs::read(&path).unwrap();
    fs::write(&path, &whole[..whole.len() / 2]).unwrap();
    let log = CompactLog::open(&path).unwrap();
    assert_eq!(log.recovered().map(|r| r.skipped), Some(0));
    assert_eq!(log.head(), None);
}

#[test]
fn options_it_does_not_support_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.bin");
    let cases: [(OpenOptions, CompactOption); 4] = [
        (
            OpenOptions::new().seal_key(dir.path().join("seal")).clone(),
            CompactOption::SealKey,
        ),
        (
            OpenOptions::new()
                .rotate(Rotation::new().max_size(1000))
                .clone(),
            CompactOption::Rotation,
        ),
        (
            OpenOptions::new().keep_tree(true).clone(),
            CompactOption::KeepTree,
        ),
        (
            OpenOptions::new().format(PlainFormat).clone(),
            CompactOption::Format,
        ),
    ];
    for (options, want) in cases {
        match options.open_compact(&path) {
            Err(Error::CompactUnsupported { option, .. }) => assert_eq!(option, want),
            other => panic!("{want:?}: {other:?}"),
        }
        assert!(!path.exists(), "{want:?}: nothing created");
    }
}

#[test]
fn a_text_log_is_not_opened_as_compact() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("text.log");
    let log = LogFile::open(&path).unwrap();
    log.append(Level::Info, format_args!("text")).unwrap();
    log.close().unwrap();
    let before = fs::read(&path).unwrap();
    let err = CompactLog::open(&path).unwrap_err();
    assert!(matches!(err, Error::NotCompact { .. }), "{err}");
    assert_eq!(fs::read(&path).unwrap(), before);
}

#[test]
fn a_compact_log_is_not_opened_as_text_and_says_it_is_compact() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.ilc");
    let log = CompactLog::open(&path).unwrap();
    for i in 0..40 {
        log.append(Level::Info, format_args!("compact {i}"))
            .unwrap();
    }
    log.close().unwrap();
    let before = fs::read(&path).unwrap();
    let err = LogFile::open(&path).unwrap_err();
    assert!(matches!(err, Error::CompactLog { .. }), "{err}");
    assert!(err.to_string().contains("open_compact"), "{err}");
    assert_eq!(fs::read(&path).unwrap(), before);
}

#[test]
fn a_file_of_other_frames_is_not_opened_as_compact() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.gz");
    // Zeros among other bytes, as in a gzip file: frames, none a record.
    let bytes: Vec<u8> = (0..2000u32)
        .map(|i| if i % 37 == 0 { 0 } else { (i * 7) as u8 | 0x80 })
        .collect();
    fs::write(&path, &bytes).unwrap();
    let err = CompactLog::open(&path).unwrap_err();
    assert!(matches!(err, Error::NotCompact { .. }), "{err}");
    assert_eq!(fs::read(&path).unwrap(), bytes);
}

#[test]
fn a_second_writer_is_locked_out() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.bin");
    let log = CompactLog::open(&path).unwrap();
    assert!(matches!(
        CompactLog::open(&path).unwrap_err(),
        Error::Locked { .. }
    ));
    drop(log);
    CompactLog::open(&path).unwrap();
}

#[cfg(feature = "cli")]
#[test]
fn the_cli_verifies_a_host_compact_log() {
    let (_dir, path) = written(50);
    let out = Command::new(env!("CARGO_BIN_EXE_immutable-log"))
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("intact (compact): 50 records"), "{stdout}");
}

#[test]
fn the_verifier_gives_one_verdict_whatever_the_chunks() {
    let (_dir, path) = written(40);
    let clean = fs::read(&path).unwrap();
    // Damaged: a byte changed, a frame's bytes cut out, an overlong frame, a torn end.
    let mut changed = clean.clone();
    changed[200] ^= 0x40;
    let mut cut = clean.clone();
    cut.drain(300..340);
    let mut overlong = clean.clone();
    overlong.splice(500..500, std::iter::repeat_n(7u8, 5000));
    let torn = clean[..clean.len() - 3].to_vec();
    for bytes in [clean, changed, cut, overlong, torn] {
        let verdict = |chunk: usize| {
            let mut buf = vec![0u8; 4096];
            let mut v = immutable_log::CompactVerifier::new(&mut buf, false);
            for piece in bytes.chunks(chunk) {
                if v.feed(piece).is_err() {
                    break;
                }
            }
            v.finish()
        };
        let whole = verdict(bytes.len());
        for chunk in [1, 2, 7, 64, 1000] {
            assert_eq!(verdict(chunk), whole, "chunks of {chunk}");
        }
    }
}

#[test]
fn any_changed_or_cut_log_opens_or_is_refused_never_panics() {
    let (_dir, path) = written(40);
    let clean = fs::read(&path).unwrap();
    let mut seed = 0x2545_f491_u32;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed as usize
    };
    for case in 0..300 {
        let mut bytes = clean.clone();
        match case % 3 {
            0 => {
                let at = next() % bytes.len();
                bytes[at] = next() as u8;
            }
            1 => bytes.truncate(next() % bytes.len()),
            _ => {
                let at = next() % bytes.len();
                let len = (next() % 64).min(bytes.len() - at);
                bytes.drain(at..at + len);
            }
        }
        fs::write(&path, &bytes).unwrap();
        if let Ok(log) = CompactLog::open(&path) {
            // Whatever it continued from, what it writes verifies from there.
            let head = log.append(Level::Info, format_args!("after")).unwrap();
            log.close().unwrap();
            let after = fs::read(&path).unwrap();
            assert_eq!(
                &after[..bytes.len()],
                &bytes[..],
                "case {case}: nothing removed"
            );
            let verdict = verify_compact_path(&path, false).unwrap();
            if !matches!(verdict, CompactVerdict::Failed(..)) {
                assert_eq!(verdict.report().head, Some(head), "case {case}");
            }
        }
    }
}
