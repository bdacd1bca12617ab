//! The `immutable-log` command, run as a process: its contract of arguments,
//! output and exit codes (0 intact, 1 integrity failure, 2 usage or I/O
//! error, 3 torn tail).
#![cfg(feature = "cli")]

mod common;

use std::fs;
use std::io::Write as _;
use std::path::Path;
use std::thread;

use common::cli::{code, json, run, spawn, stderr, stdout};
use common::files::{intact, records_of};
use common::{record_spans, seed_formatted};
use immutable_log::std_backend::LogFile;
use immutable_log::Level;

/// A log of `n` records written through `immutable-log write`.
fn written(dir: &Path, name: &str, n: usize) -> Vec<u8> {
    let input: String = (0..n).map(|i| format!("line {i}\n")).collect();
    let out = run(&["write", name], input.as_bytes(), dir);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    fs::read(dir.join(name)).unwrap()
}

#[test]
fn write_appends_one_record_per_line_and_continues_across_runs() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        &["write", "app.log"],
        b"first\nsecond | piped\n\nno newline",
        dir.path(),
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = run(
        &[
            "write",
            "app.log",
            "--level",
            "warning",
            "--durability",
            "sync",
        ],
        b"later\n",
        dir.path(),
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let path = dir.path().join("app.log");
    assert_eq!(intact(&path).records, 5);
    let recs = records_of(&path);
    let expected = [
        ("INFO", "first"),
        ("INFO", "second | piped"),
        ("INFO", ""),
        ("INFO", "no newline"),
        ("WARNING", "later"),
    ];
    for (r, (level, text)) in recs.iter().zip(expected) {
        assert!(seed_formatted(&r.message, level, text), "{}", r.message);
    }
    assert_eq!(recs[4].levelno, 30);
    assert_eq!(recs[4].seq, Some(4));
}

#[test]
fn verify_exit_codes_and_messages() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = written(dir.path(), "good.log", 4);
    let spans = record_spans(&bytes);

    let out = run(&["verify", "good.log"], b"", dir.path());
    assert_eq!(code(&out), 0);
    assert!(
        stdout(&out).starts_with("good.log: intact: 4 records, head 3 "),
        "{}",
        stdout(&out)
    );

    // A changed byte in record 2's message: exit 1, and the line says where.
    let mut changed = bytes.clone();
    changed[spans[2].start + 70] ^= 0x01;
    fs::write(dir.path().join("changed.log"), &changed).unwrap();
    let out = run(&["verify", "changed.log"], b"", dir.path());
    assert_eq!(code(&out), 1);
    assert!(
        stdout(&out).contains("\nline 5 (record 2): "),
        "{}",
        stdout(&out)
    );

    // Record 1 removed: the next record's prev_hash no longer links.
    let mut removed = bytes[..spans[1].start].to_vec();
    removed.extend_from_slice(&bytes[spans[2].start..]);
    fs::write(dir.path().join("removed.log"), &removed).unwrap();
    let out = run(&["verify", "removed.log"], b"", dir.path());
    assert_eq!(code(&out), 1);
    assert!(
        stdout(&out).contains("line 3 (record 1): prev_hash mismatch"),
        "{}",
        stdout(&out)
    );

    // Records 1 and 2 swapped.
    let mut swapped = bytes[..spans[1].start].to_vec();
    swapped.extend_from_slice(&bytes[spans[2].clone()]);
    swapped.extend_from_slice(&bytes[spans[1].clone()]);
    swapped.extend_from_slice(&bytes[spans[3].clone()]);
    fs::write(dir.path().join("swapped.log"), &swapped).unwrap();
    assert_eq!(code(&run(&["verify", "swapped.log"], b"", dir.path())), 1);

    // Cut inside the last record: a torn tail, exit 3.
    fs::write(dir.path().join("torn.log"), &bytes[..bytes.len() - 10]).unwrap();
    let out = run(&["verify", "torn.log"], b"", dir.path());
    assert_eq!(code(&out), 3);
    assert!(stdout(&out).contains("TORN TAIL"), "{}", stdout(&out));
    assert!(stdout(&out).contains("\nline 7: "), "{}", stdout(&out));

    // A missing file, and a bad argument: exit 2.
    let out = run(&["verify", "missing.log"], b"", dir.path());
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("missing.log"), "{}", stderr(&out));
    assert_eq!(
        code(&run(&["verify", "--bogus", "good.log"], b"", dir.path())),
        2
    );
    assert_eq!(code(&run(&["verify"], b"", dir.path())), 2);
    assert_eq!(
        code(&run(
            &["write", "x.log", "--durability", "fast"],
            b"",
            dir.path()
        )),
        2
    );
}

#[test]
fn verify_json_reports_status_records_head_and_error() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = written(dir.path(), "good.log", 3);
    let head = run(&["head", "good.log"], b"", dir.path());
    let (seq, hash) = stdout(&head)
        .trim()
        .split_once(' ')
        .map(|(s, h)| (s.to_string(), h.to_string()))
        .unwrap();
    assert_eq!(seq, "2");

    let v = json(&run(&["verify", "--json", "good.log"], b"", dir.path()));
    assert_eq!(v["status"], "intact");
    assert_eq!(v["records"], 3);
    assert_eq!(v["head"]["seq"], 2);
    assert_eq!(v["head"]["hash"], hash.as_str());
    assert!(v["error"].is_null());

    let mut changed = bytes.clone();
    let at = bytes.len() - 20;
    changed[at] = if changed[at] == b'0' { b'1' } else { b'0' };
    fs::write(dir.path().join("changed.log"), &changed).unwrap();
    let out = run(&["verify", "--json", "changed.log"], b"", dir.path());
    assert_eq!(code(&out), 1);
    let v = json(&out);
    assert_eq!(v["status"], "failed");
    assert_eq!(v["records"], 2);
    assert_eq!(v["failure"]["line"], 5);
    assert_eq!(v["failure"]["kind"], "hash_mismatch");
    // `error` is for usage and I/O errors only: the failure is not repeated.
    assert!(v["error"].is_null(), "{v}");

    fs::write(dir.path().join("torn.log"), &bytes[..bytes.len() - 5]).unwrap();
    let out = run(&["verify", "--json", "torn.log"], b"", dir.path());
    assert_eq!(code(&out), 3);
    let v = json(&out);
    assert_eq!(v["status"], "torn");
    assert_eq!(v["torn"]["line"], 5);
    assert_eq!(v["head"]["seq"], 1);

    let out = run(&["verify", "--json", "missing.log"], b"", dir.path());
    assert_eq!(code(&out), 2);
    let v = json(&out);
    assert_eq!(v["status"], "error");
    assert!(v["error"].as_str().unwrap().contains("missing.log"));
}

#[test]
fn expect_head_catches_records_cut_off_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = written(dir.path(), "full.log", 5);
    let head = stdout(&run(&["head", "full.log"], b"", dir.path()));
    let expect = head.trim().replacen(' ', ":", 1);
    let spans = record_spans(&bytes);
    // Two whole records removed from the end: intact on its own...
    fs::write(dir.path().join("cut.log"), &bytes[..spans[3].start]).unwrap();
    assert_eq!(code(&run(&["verify", "cut.log"], b"", dir.path())), 0);
    // ...but not against the head recorded before.
    let out = run(
        &["verify", "--expect-head", &expect, "cut.log"],
        b"",
        dir.path(),
    );
    assert_eq!(code(&out), 1);
    assert!(stdout(&out).contains("truncated"), "{}", stdout(&out));
    let out = run(
        &["verify", "--expect-head", &expect, "full.log"],
        b"",
        dir.path(),
    );
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    // A head with another hash at that seq: a rewritten log.
    let other = format!("4:{}", "0".repeat(64));
    assert_eq!(
        code(&run(
            &["verify", "--expect-head", &other, "full.log"],
            b"",
            dir.path()
        )),
        1
    );
    // Not SEQ:HASH at all: a usage error.
    assert_eq!(
        code(&run(
            &["verify", "--expect-head", "4", "full.log"],
            b"",
            dir.path()
        )),
        2
    );
}

#[test]
fn allow_segment_accepts_a_log_that_does_not_start_at_genesis() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = written(dir.path(), "full.log", 4);
    let spans = record_spans(&bytes);
    fs::write(dir.path().join("segment.log"), &bytes[spans[2].start..]).unwrap();
    let out = run(&["verify", "segment.log"], b"", dir.path());
    assert_eq!(code(&out), 1);
    let out = run(
        &["verify", "--allow-segment", "segment.log"],
        b"",
        dir.path(),
    );
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    assert!(
        stdout(&out).contains("a segment starting at seq 2"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn verify_reads_standard_input_for_dash() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = written(dir.path(), "good.log", 3);
    let out = run(&["verify", "-"], &bytes, dir.path());
    assert_eq!(code(&out), 0);
    assert!(
        stdout(&out).starts_with("<stdin>: intact: 3 records"),
        "{}",
        stdout(&out)
    );
    let out = run(
        &["verify", "--json", "-"],
        &bytes[..bytes.len() - 1],
        dir.path(),
    );
    assert_eq!(code(&out), 3);
    assert_eq!(json(&out)["status"], "torn");
}

#[test]
fn a_fifty_megabyte_line_without_lf_is_handled_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let huge = vec![b'A'; 50 << 20];
    fs::write(dir.path().join("huge.log"), &huge).unwrap();
    let out = run(&["verify", "--json", "huge.log"], b"", dir.path());
    assert_eq!(code(&out), 1);
    assert_eq!(json(&out)["failure"]["kind"], "line_too_long");
    // The same through standard input; the command stops reading early.
    let out = run(&["verify", "-"], &huge, dir.path());
    assert_eq!(code(&out), 1);
    assert!(
        stdout(&out).contains("line 1 (record 0): line longer"),
        "{}",
        stdout(&out)
    );
    // As input to `write`: one record, its message cut and marked.
    let out = run(&["write", "cut.log"], &huge, dir.path());
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let report = intact(&dir.path().join("cut.log"));
    assert_eq!((report.records, report.truncated), (1, 1));
    // And a log that ends in it cannot be continued: it holds no record.
    let out = run(&["write", "huge.log"], b"more\n", dir.path());
    assert_eq!(code(&out), 1, "{}", stderr(&out));
}

#[test]
fn head_prints_the_last_record_and_fails_on_an_edited_one() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = written(dir.path(), "a.log", 3);
    let out = run(&["head", "a.log"], b"", dir.path());
    assert_eq!(code(&out), 0);
    let report = intact(&dir.path().join("a.log"));
    assert_eq!(stdout(&out), format!("{}\n", report.head.unwrap()));
    // A torn tail is not a record: head is still the last complete one.
    fs::write(dir.path().join("torn.log"), &bytes[..bytes.len() - 3]).unwrap();
    let out = run(&["head", "torn.log"], b"", dir.path());
    assert!(stdout(&out).starts_with("1 "), "{}", stdout(&out));
    // An edited last record: an integrity failure, naming the line.
    let mut edited = bytes.clone();
    let at = bytes.len() - 40;
    edited[at] = if edited[at] == b'1' { b'2' } else { b'1' };
    fs::write(dir.path().join("edited.log"), &edited).unwrap();
    let out = run(&["head", "edited.log"], b"", dir.path());
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("edited.log: line 5"),
        "{}",
        stderr(&out)
    );
    // And `write` refuses to extend it, with the same message.
    let out = run(&["write", "edited.log"], b"x\n", dir.path());
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("edited.log: line 5"),
        "{}",
        stderr(&out)
    );
    assert_eq!(fs::read(dir.path().join("edited.log")).unwrap(), edited);
    // No records, no file: exit 2.
    fs::write(dir.path().join("empty.log"), b"").unwrap();
    assert_eq!(code(&run(&["head", "empty.log"], b"", dir.path())), 2);
    assert_eq!(code(&run(&["head", "missing.log"], b"", dir.path())), 2);
}

#[test]
fn write_recovers_a_torn_tail_first() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = written(dir.path(), "a.log", 2);
    fs::write(dir.path().join("a.log"), &bytes[..bytes.len() - 7]).unwrap();
    let out = run(&["write", "a.log"], b"after\n", dir.path());
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("torn tail"), "{}", stderr(&out));
    let verify = run(&["verify", "a.log"], b"", dir.path());
    assert_eq!(code(&verify), 0, "{}", stdout(&verify));
}

#[test]
fn a_second_writer_process_is_refused_while_the_first_holds_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.log");
    let mut first = spawn(&["write", "shared.log"], dir.path());
    let mut first_in = first.stdin.take().unwrap();
    first_in.write_all(b"from the first writer\n").unwrap();
    first_in.flush().unwrap();
    // Once its first record is in the file, the first writer holds the lock.
    while fs::read(&path).map_or(true, |b| b.iter().filter(|&&c| c == b'\n').count() < 2) {
        thread::yield_now();
    }
    let second = run(
        &["write", "shared.log"],
        b"from the second writer\n",
        dir.path(),
    );
    assert_eq!(code(&second), 2);
    let message = stderr(&second);
    assert!(
        message.contains("shared.log") && message.contains("locked"),
        "{message}"
    );
    // The library's handler is refused in the same way, across processes.
    assert!(matches!(
        LogFile::open(&path),
        Err(immutable_log::std_backend::Error::Locked { .. })
    ));

    first_in.write_all(b"still the first\n").unwrap();
    drop(first_in);
    let first = first.wait_with_output().unwrap();
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let recs = records_of(&path);
    assert_eq!(recs.len(), 2);
    assert!(recs.iter().all(|r| !r.message.contains("second")));
    intact(&path);

    // The other way round: a handler in this process holds it.
    let log = LogFile::open(&path).unwrap();
    log.append(Level::Info, format_args!("held")).unwrap();
    let out = run(&["write", "shared.log"], b"refused\n", dir.path());
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("locked"), "{}", stderr(&out));
    log.close().unwrap();
    assert_eq!(intact(&path).records, 3);
}
