//! Sessions of the file handler: continuation across restarts, logs the
//! Python seed wrote, crashes mid-record, locking, edited logs, durability.
#![cfg(feature = "std")]

mod common;

use std::fs::{self, OpenOptions as FsOpenOptions};
use std::io::Write as _;
use std::path::Path;
use std::time::Duration;

use common::files::{intact, records_of};
use common::{python, read_records, record_spans, recovered_bytes, seed_formatted};
use immutable_log::std_backend::{read_head, Durability, Error, LogFile, PlainFormat, Step};
use immutable_log::{Level, RecordFault};

fn plain(path: &Path) -> LogFile {
    LogFile::options().format(PlainFormat).open(path).unwrap()
}

fn write_messages(path: &Path, messages: &[&str]) {
    let log = plain(path);
    for m in messages {
        log.append(Level::Info, format_args!("{m}")).unwrap();
    }
    log.close().unwrap();
}

#[test]
fn three_sessions_continue_one_chain() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    let mut heads = Vec::new();
    for session in 0..3 {
        let log = plain(&path);
        assert_eq!(
            log.head(),
            heads.last().copied(),
            "session {session} resumes"
        );
        assert_eq!(log.recovered(), None);
        for i in 0..4 {
            log.append(Level::Info, format_args!("session {session} record {i}"))
                .unwrap();
        }
        heads.push(log.head().unwrap());
        log.close().unwrap();
        assert_eq!(read_head(&path).unwrap(), heads.last().copied());
    }
    let report = intact(&path);
    assert_eq!(report.records, 12);
    assert_eq!(report.head, heads.last().copied());
    let seqs: Vec<_> = records_of(&path).iter().map(|r| r.seq).collect();
    assert_eq!(seqs, (0..12).map(Some).collect::<Vec<_>>());
}

/// What the seed does, record by record (SEED.md).
const SEED_WRITER: &str = r#"
import hashlib, json, sys, time
prev = "0" * 64
with open(sys.argv[1], "w", encoding="utf-8") as f:
    for message in json.loads(sys.stdin.read()):
        block = {"prev_hash": prev, "message": message, "timestamp": time.time(), "levelno": 20}
        block_json = json.dumps(block, sort_keys=True)
        h = hashlib.sha256(block_json.encode()).hexdigest()
        f.write(f"{prev}|{message}|{h}\n")
        f.write(f"BLOCK_DATA:{block_json}\n")
        prev = h
"#;

/// The seed's checks over a whole log: each block's SHA-256 is the stated
/// hash, and each record's prev_hash is the previous hash. Prints the count.
const SEED_CHECK: &str = r#"
import hashlib, json, sys
prev = "0" * 64
lines = open(sys.argv[1], encoding="utf-8").read().split("\n")
assert lines[-1] == ""
n = 0
for display, block_line in zip(lines[0:-1:2], lines[1:-1:2]):
    assert display[:64] == prev and display[64] == "|" and display[-65] == "|", display
    h = display[-64:]
    block_json = block_line[len("BLOCK_DATA:"):]
    assert hashlib.sha256(block_json.encode()).hexdigest() == h
    block = json.loads(block_json)
    assert block["prev_hash"] == prev and display[65:-65] == block["message"]
    prev = h
    n += 1
print(n)
"#;

#[test]
fn a_log_the_seed_wrote_is_continued() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seed.log");
    let messages = r#"["Application started", "caf\u00e9 \ud83d\ude00", "tab\there", "done"]"#;
    let arg = [path.to_str().unwrap()];
    python(SEED_WRITER, &arg, messages.as_bytes());
    let verified = intact(&path).head.unwrap();
    // The verifier counts seq from genesis; the records themselves carry none.
    assert_eq!(verified.seq, Some(3));

    let log = plain(&path);
    let resumed = log.head().unwrap();
    assert_eq!((resumed.seq, resumed.hash), (None, verified.hash));
    log.append(Level::Info, format_args!("continued in Rust"))
        .unwrap();
    log.append(Level::Warning, format_args!("and again"))
        .unwrap();
    log.close().unwrap();

    let report = intact(&path);
    assert_eq!(report.records, 6);
    let all = records_of(&path);
    assert_eq!(all[1].message, "café 😀");
    assert_eq!(all[4].message, "continued in Rust");
    assert_eq!(all[5].levelno, 30);
    // A chain continued from records without seq writes none either.
    assert!(all.iter().all(|r| r.seq.is_none()));
    // And the seed's own checks still pass over the continued log.
    let checked = String::from_utf8(python(SEED_CHECK, &arg, b"")).unwrap();
    assert_eq!(checked.trim(), "6");
}

/// A log of four records whose last message is not ASCII, so some cuts fall
/// inside a UTF-8 character (recovered as hex) and others do not (as text).
fn four_records(path: &Path) -> Vec<u8> {
    write_messages(
        path,
        &[
            "one",
            "two | with a pipe",
            "three \"quoted\"",
            "naïve café ☕",
        ],
    );
    fs::read(path).unwrap()
}

#[test]
fn a_torn_tail_at_every_byte_of_the_last_record_is_kept_and_the_log_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let whole = four_records(&dir.path().join("whole.log"));
    let spans = record_spans(&whole);
    let last = spans[3].clone();
    let path = dir.path().join("crash.log");
    for cut in last.start + 1..last.end {
        fs::write(&path, &whole[..cut]).unwrap();
        let log = plain(&path);
        let recovered = log.recovered().expect("a torn tail is found");
        assert_eq!(recovered.offset, last.start as u64);
        assert_eq!(recovered.len, cut - last.start);
        log.append(Level::Info, format_args!("after the crash"))
            .unwrap();
        log.close().unwrap();

        let report = intact(&path);
        let recs = records_of(&path);
        assert_eq!(report.records as usize, recs.len());
        assert_eq!(
            recs[..3].iter().map(|r| r.seq).collect::<Vec<_>>(),
            [Some(0), Some(1), Some(2)]
        );
        assert_eq!(recs.last().unwrap().message, "after the crash");
        let (offset, torn) = recovered_bytes(&fs::read(&path).unwrap()).expect("recovery records");
        assert_eq!(offset, last.start as u64);
        assert_eq!(torn, &whole[last.start..cut], "cut at {cut}");
        for r in &recs[3..recs.len() - 1] {
            assert_eq!(r.levelno, 30, "recovery records are warnings");
        }
    }
}

#[test]
fn a_torn_record_longer_than_the_first_tail_read_is_recovered() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.log");
    let long_a = "a".repeat(50_000);
    let long_b = "b".repeat(50_000);
    write_messages(&path, &[&long_a, &long_b]);
    let whole = fs::read(&path).unwrap();
    let spans = record_spans(&whole);
    // Cut the second record after its display line and part of its block.
    let cut = spans[1].start + 50_200 + 100;
    fs::write(&path, &whole[..cut]).unwrap();
    let log = plain(&path);
    assert_eq!(log.recovered().map(|r| r.len), Some(cut - spans[1].start));
    log.close().unwrap();
    intact(&path);
    let (_, torn) = recovered_bytes(&fs::read(&path).unwrap()).unwrap();
    assert_eq!(torn, &whole[spans[1].start..cut]);
}

#[test]
fn a_second_handler_on_the_same_file_is_refused_while_the_first_is_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("locked.log");
    let first = plain(&path);
    first.append(Level::Info, format_args!("mine")).unwrap();
    let err = LogFile::open(&path).unwrap_err();
    assert!(
        matches!(&err, Error::Locked { path: p } if p == &path),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains(&path.display().to_string()) && text.contains("locked"),
        "{text}"
    );
    first.close().unwrap();
    let second = plain(&path);
    second
        .append(Level::Info, format_args!("now mine"))
        .unwrap();
    second.close().unwrap();
    assert_eq!(intact(&path).records, 2);
}

#[test]
fn an_edited_last_record_is_never_extended_and_the_error_names_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("edited.log");
    let mut bytes = four_records(&path);
    let at = bytes.len() - 30; // inside the last block
    bytes[at] = if bytes[at] == b'1' { b'2' } else { b'1' };
    fs::write(&path, &bytes).unwrap();
    let err = LogFile::open(&path).unwrap_err();
    match &err {
        Error::LastRecord { line, fault, .. } => {
            assert_eq!(*line, 7);
            assert_eq!(*fault, RecordFault::HashMismatch);
        }
        other => panic!("{other:?}"),
    }
    assert!(err.is_integrity());
    let text = err.to_string();
    assert!(
        text.contains("edited.log") && text.contains("line 7"),
        "{text}"
    );
    assert_eq!(
        fs::read(&path).unwrap(),
        bytes,
        "the file is left as it was"
    );
    assert!(matches!(
        read_head(&path),
        Err(Error::LastRecord { line: 7, .. })
    ));
}

#[test]
fn a_log_ending_in_a_line_that_is_no_record_is_not_extended() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("garbage.log");
    four_records(&path);
    FsOpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap()
        .write_all(b"not a record\n")
        .unwrap();
    let err = LogFile::open(&path).unwrap_err();
    assert!(
        matches!(err, Error::MalformedTail { line: 9, .. }),
        "{err:?}"
    );
}

#[test]
fn opening_a_gigabyte_log_reads_only_its_tail() {
    let dir = tempfile::tempdir().unwrap();
    let small = dir.path().join("small.log");
    let records_bytes = four_records(&small);
    let head = read_head(&small).unwrap();
    // A 1 GiB sparse file of zeros (not a log at all), then a line end and
    // four records: only reading the tail can continue it.
    let path = dir.path().join("huge.log");
    let file = fs::File::create(&path).unwrap();
    file.set_len(1 << 30).unwrap();
    drop(file);
    let mut file = FsOpenOptions::new().append(true).open(&path).unwrap();
    file.write_all(b"\n").unwrap();
    file.write_all(&records_bytes).unwrap();
    drop(file);
    let log = plain(&path);
    assert_eq!(log.head(), head);
    let next = log.append(Level::Info, format_args!("five")).unwrap();
    assert_eq!(next.seq, Some(4));
    log.close().unwrap();
    assert_eq!(read_head(&path).unwrap(), Some(next));
}

#[test]
fn buffered_records_reach_the_file_on_flush_and_on_drop() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("buffered.log");
    let log = LogFile::options()
        .durability(Durability::Buffered)
        .buffer(1 << 20, Duration::from_secs(3600))
        .open(&path)
        .unwrap();
    log.append(Level::Info, format_args!("one")).unwrap();
    log.append(Level::Info, format_args!("two")).unwrap();
    assert_eq!(fs::metadata(&path).unwrap().len(), 0, "still in memory");
    log.flush().unwrap();
    assert_eq!(intact(&path).records, 2);
    log.append(Level::Info, format_args!("three")).unwrap();
    drop(log);
    assert_eq!(intact(&path).records, 3);

    // A buffer smaller than a record hands each record over at once.
    let log = LogFile::options()
        .durability(Durability::Buffered)
        .buffer(1, Duration::from_secs(3600))
        .open(&path)
        .unwrap();
    log.append(Level::Info, format_args!("four")).unwrap();
    assert_eq!(intact(&path).records, 4);
    log.close().unwrap();
}

#[test]
fn sync_durability_syncs_before_append_returns() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sync.log");
    let log = LogFile::options()
        .durability(Durability::Sync)
        .open(&path)
        .unwrap();
    assert_eq!(log.durability(), Durability::Sync);
    log.append(Level::Error, format_args!("one")).unwrap();
    assert_eq!(log.syncs(), 1);
    log.append(Level::Critical, format_args!("two")).unwrap();
    assert_eq!(log.syncs(), 2);
    log.close().unwrap();
    let recs = records_of(&path);
    assert_eq!(recs.iter().map(|r| r.levelno).collect::<Vec<_>>(), [40, 50]);
    assert!(
        seed_formatted(&recs[1].message, "CRITICAL", "two"),
        "{}",
        recs[1].message
    );
}

#[test]
fn the_default_format_is_the_seeds() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("format.log");
    let log = LogFile::open(&path).unwrap();
    let levels = [
        (log::Level::Debug, "DEBUG", 10),
        (log::Level::Info, "INFO", 20),
        (log::Level::Warn, "WARNING", 30),
        (log::Level::Error, "ERROR", 40),
    ];
    for (level, _, _) in levels {
        log::Log::log(
            &log,
            &log::Record::builder()
                .level(level)
                .args(format_args!("hello | {}", 42))
                .build(),
        );
    }
    log.close().unwrap();
    let recs = records_of(&path);
    for (r, (_, name, levelno)) in recs.iter().zip(levels) {
        assert!(
            seed_formatted(&r.message, name, "hello | 42"),
            "{}",
            r.message
        );
        assert_eq!(r.levelno, levelno);
    }
}

#[test]
fn a_message_longer_than_a_record_is_cut_and_marked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.log");
    let log = plain(&path);
    let long = "x".repeat(200_000);
    log.append(Level::Info, format_args!("{long}")).unwrap();
    log.close().unwrap();
    let report = intact(&path);
    assert_eq!(report.truncated, 1);
    let log = fs::read(&path).unwrap();
    let record = read_records(&log)[0];
    assert!(record.truncated());
    assert_eq!(common::block(&record)["truncated"], true);
    assert!(common::message(&record).len() < long.len());
}

#[cfg(target_os = "linux")]
#[test]
fn a_failed_write_is_reported_and_names_the_file() {
    // Every write to /dev/full fails (ENOSPC), and it cannot be cut back, so
    // the handler refuses more records after the first failure.
    let Ok(log) = LogFile::open("/dev/full") else {
        return; // not writable here
    };
    let err = log.append(Level::Info, format_args!("lost")).unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Io {
                step: Step::Write,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("/dev/full"), "{err}");
    let err = log.append(Level::Info, format_args!("lost")).unwrap_err();
    assert!(matches!(&err, Error::Broken { .. }), "{err:?}");
    assert_eq!(log.head(), None, "the head did not advance");
}

#[test]
fn a_path_that_is_not_a_regular_file_is_refused_by_the_library() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    let mut paths = vec![
        dir.path().to_path_buf(),
        Path::new("/dev/null").to_path_buf(),
    ];
    if made.is_ok_and(|s| s.success()) {
        paths.push(fifo);
    }
    for path in paths {
        match LogFile::open(&path) {
            Err(Error::NotRegularFile { path: named }) => assert_eq!(named, path),
            other => panic!("{}: {other:?}", path.display()),
        }
    }
}
