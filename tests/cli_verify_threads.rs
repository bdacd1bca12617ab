//! `verify` on two threads (the default for a file) says exactly what it says
//! on one: the same text, the same `--json` object, the same exit code, for an
//! intact log and for logs changed at many places (issue 13).
#![cfg(feature = "cli")]

mod common;

use std::fs;

use common::cli::{code, run, text};

/// A log of `n` records of many lengths, written by `write`: several of the
/// verifier's 128 KiB batches.
fn written_log(dir: &std::path::Path, n: usize) -> Vec<u8> {
    let lines: String = (0..n)
        .map(|i| format!("line {i} {} é | \"q\"\n", "x".repeat(i * 31 % 400)))
        .collect();
    let out = run(&["write", "big.log"], lines, dir);
    assert_eq!(code(&out), 0, "{}", text(&out));
    fs::read(dir.join("big.log")).unwrap()
}

/// Both verdicts, text and JSON, on one thread and on the default (two).
fn assert_same(dir: &std::path::Path, log: &[u8]) -> i32 {
    fs::write(dir.join("t.log"), log).unwrap();
    let mut codes = vec![];
    for json in [false, true] {
        let mut args = vec!["verify", "t.log"];
        if json {
            args.push("--json");
        }
        let two = run(&args, "", dir);
        args.extend(["--threads", "1"]);
        let one = run(&args, "", dir);
        assert_eq!(text(&two), text(&one), "json {json}");
        assert_eq!(code(&two), code(&one), "json {json}");
        codes.push(code(&one));
    }
    codes[0]
}

#[test]
fn two_threads_say_what_one_says() {
    let dir = tempfile::tempdir().unwrap();
    let log = written_log(dir.path(), 2500);
    assert!(log.len() > 4 * 128 * 1024, "{} bytes", log.len());
    assert_eq!(assert_same(dir.path(), &log), 0);
    let mut failed = 0;
    // Positions spread over the log, batch boundaries included.
    let mut positions: Vec<usize> = (0..log.len()).step_by(log.len() / 24).collect();
    for boundary in [128 * 1024, 2 * 128 * 1024, 3 * 128 * 1024] {
        positions.extend([boundary - 1, boundary, boundary + 1]);
    }
    for at in positions {
        let mut changed = log.clone();
        changed[at] ^= 0x01;
        if assert_same(dir.path(), &changed) == 1 {
            failed += 1;
        }
        let mut cut = log.clone();
        cut.remove(at);
        assert_same(dir.path(), &cut);
        // A torn tail: the log cut off here.
        assert_same(dir.path(), &log[..at]);
    }
    assert!(failed >= 30, "every changed byte fails: {failed}");
}
