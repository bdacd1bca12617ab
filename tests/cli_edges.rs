//! The command at its edges (issue 9, sections 5 and 6): `write` keeps what
//! it is given and says what it changed; a file that is not a log, a seal key
//! that is not the log's, and `verify --json` say what they are.
#![cfg(feature = "cli")]

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use common::cli::{code, json, run, stderr, stdout};
use common::files::{intact, records_of};
use immutable_log::std_backend::{Error, LogFile};

/// What starts the message part of a line that is not UTF-8 (the README).
const NOT_UTF8: &str = "immutable-log: not UTF-8 (bytes as \\xNN, backslash as \\\\):\n";

/// `gzip -n -9` of three passwd lines: a binary file holding LF bytes.
const GZIP: [u8; 99] = [
    0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0x2d, 0xca, 0xd1, 0x0a, 0x80, 0x30,
    0x08, 0x85, 0xe1, 0xfb, 0x5e, 0x46, 0x47, 0xad, 0x0b, 0xdf, 0xa6, 0xd1, 0x68, 0x83, 0x52, 0xd0,
    0x06, 0xf5, 0xf6, 0x39, 0x16, 0xc2, 0x8f, 0x70, 0x3e, 0x15, 0xb9, 0xe9, 0x21, 0xf4, 0xd3, 0xfe,
    0xc2, 0x68, 0xaa, 0x0c, 0x56, 0xa6, 0x66, 0x59, 0x83, 0xcf, 0x01, 0x11, 0x47, 0x08, 0x8a, 0x5c,
    0x19, 0x5a, 0x18, 0x26, 0x6d, 0xae, 0x58, 0x92, 0xec, 0xaf, 0xb3, 0x35, 0xc6, 0x79, 0xf9, 0x4b,
    0x40, 0xd0, 0x4c, 0xc1, 0x3a, 0x63, 0x39, 0xe5, 0xa8, 0x3c, 0x7d, 0x66, 0xf5, 0xe6, 0x18, 0x6e,
    0x00, 0x00, 0x00,
];

/// The message part of a record written by `write` (after `<time> - INFO - `).
fn line_of(message: &str) -> &str {
    message
        .split_once(" - INFO - ")
        .map_or(message, |(_, line)| line)
}

/// The bytes a message part stands for: the line itself, or for a line that
/// was not UTF-8, its `\xNN` and `\\` escapes decoded.
fn bytes_of(line: &str) -> Vec<u8> {
    let Some(escaped) = line.strip_prefix(NOT_UTF8) else {
        return line.as_bytes().to_vec();
    };
    let mut out = Vec::new();
    let mut bytes = escaped.bytes();
    while let Some(b) = bytes.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        match bytes.next() {
            Some(b'\\') => out.push(b'\\'),
            Some(b'x') => {
                let hex = [bytes.next().unwrap(), bytes.next().unwrap()];
                out.push(u8::from_str_radix(std::str::from_utf8(&hex).unwrap(), 16).unwrap());
            }
            other => panic!("not an escape: {other:?} in {escaped:?}"),
        }
    }
    out
}

#[test]
fn write_keeps_lines_that_are_not_utf8_losslessly_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let lines: [&[u8]; 5] = [
        b"plain",
        b"caf\xe9 au lait",
        b"\xff\xfe\\x41\\",
        b"back\\slash, valid",
        b"\xc3\xa9t\xc3\xa9",
    ];
    let input: Vec<u8> = lines.iter().flat_map(|l| [*l, b"\n"].concat()).collect();
    let out = run(&["write", "a.log"], &input, dir.path());
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let path = dir.path().join("a.log");
    assert_eq!(intact(&path).records, 5);
    let records = records_of(&path);
    for (record, line) in records.iter().zip(lines) {
        let part = line_of(&record.message);
        assert!(!part.contains('\u{fffd}'), "{part:?}");
        assert_eq!(bytes_of(part), line, "{part:?}");
    }
    // Valid lines stand as they are, backslashes and all.
    assert_eq!(line_of(&records[3].message), "back\\slash, valid");
    assert!(line_of(&records[1].message).starts_with(NOT_UTF8));
    let err = stderr(&out);
    assert!(err.contains("2 lines were not UTF-8 (lines 2, 3)"), "{err}");
}

#[test]
fn write_says_how_many_lines_were_cut_to_fit() {
    let dir = tempfile::tempdir().unwrap();
    let long = "x".repeat(70_000);
    // A valid line of two-byte characters, cut by the line limit mid-character.
    let accented = "é".repeat(40_000);
    let input = format!("{long}\nshort\n{long}\n{accented}\n");
    let out = run(&["write", "cut.log"], input.as_bytes(), dir.path());
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let report = intact(&dir.path().join("cut.log"));
    assert_eq!((report.records, report.truncated), (4, 3));
    let err = stderr(&out);
    assert!(
        err.contains("3 lines were too long for a record, cut to fit"),
        "{err}"
    );
    // The cut character does not turn a valid line into an escaped one.
    assert!(!err.contains("UTF-8"), "{err}");
    let records = records_of(&dir.path().join("cut.log"));
    assert!(line_of(&records[3].message).starts_with("éé"));

    // Nothing cut, nothing said of cuts: only the summary.
    let out = run(&["write", "cut.log"], b"fits\n", dir.path());
    assert_eq!(code(&out), 0);
    let err = stderr(&out);
    assert!(
        err.starts_with("immutable-log: cut.log: 1 record written, head 4 "),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn write_refuses_a_log_that_is_not_a_regular_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&["write", "/dev/null"], b"lost?\n", dir.path());
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("/dev/null: not a regular file (a character device)"),
        "{}",
        stderr(&out)
    );
    fs::create_dir(dir.path().join("sub")).unwrap();
    let out = run(&["write", "sub"], b"lost?\n", dir.path());
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("not a regular file (a directory)"),
        "{}",
        stderr(&out)
    );
    // A symlink to a regular file is a regular file.
    #[cfg(unix)]
    {
        fs::write(dir.path().join("real.log"), b"").unwrap();
        std::os::unix::fs::symlink("real.log", dir.path().join("link.log")).unwrap();
        let out = run(&["write", "link.log"], b"kept\n", dir.path());
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        assert_eq!(intact(&dir.path().join("real.log")).records, 1);
    }
}

#[test]
fn a_file_that_is_not_a_log_fails_and_says_line_1_is_not_a_record() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(
        d.join("passwd"),
        "root:x:0:0:root:/root:/bin/sh\nbin:x:1:1:bin:/bin:/usr/sbin/nologin\n",
    )
    .unwrap();
    fs::write(d.join("x.gz"), GZIP).unwrap();
    assert!(GZIP.contains(&b'\n'));
    for name in ["passwd", "x.gz"] {
        let out = run(&["verify", name], b"", d);
        assert_eq!(code(&out), 1, "{name}");
        assert!(
            stdout(&out).contains(
                "line 1 is not a record: this is not an immutable-log file, or its start \
                 was overwritten"
            ),
            "{name}: {}",
            stdout(&out)
        );
        let v = json(&run(&["verify", "--json", name], b"", d));
        assert_eq!(v["status"], "failed");
        assert_eq!(v["failure"]["not_a_log"], true, "{v}");
        // `head` and `checkpoint` agree: the same failure, the same code.
        for command in ["head", "checkpoint"] {
            let out = run(&[command, name], b"", d);
            assert_eq!(code(&out), 1, "{command} {name}: {}", stderr(&out));
            assert!(
                stderr(&out).contains(&format!("{name}: line 1 is not a record")),
                "{command} {name}: {}",
                stderr(&out)
            );
        }
    }
    // A log is not "not a log"; a failure further on says nothing of it.
    let out = run(&["write", "good.log"], b"a\nb\nc\n", d);
    assert_eq!(code(&out), 0);
    let v = json(&run(&["verify", "--json", "good.log"], b"", d));
    assert!(v["failure"].is_null());
    let mut log = fs::read(d.join("good.log")).unwrap();
    let at = log.len() - 20;
    log[at] = if log[at] == b'0' { b'1' } else { b'0' };
    fs::write(d.join("edited.log"), &log).unwrap();
    let out = run(&["verify", "--json", "edited.log"], b"", d);
    assert_eq!(json(&out)["failure"]["not_a_log"], false);
    for command in ["head", "checkpoint"] {
        let out = run(&[command, "edited.log"], b"", d);
        assert_eq!(code(&out), 1, "{command}");
        assert!(!stderr(&out).contains("not a record"), "{}", stderr(&out));
    }
    // An empty file: nothing to print, a usage error for both.
    fs::write(d.join("empty.log"), b"").unwrap();
    for command in ["head", "checkpoint"] {
        assert_eq!(code(&run(&[command, "empty.log"], b"", d)), 2, "{command}");
    }
    // A log whose start was overwritten.
    let mut overwritten = b"#!/bin/sh\necho hi\n".to_vec();
    overwritten.extend_from_slice(&fs::read(d.join("good.log")).unwrap()[20..]);
    fs::write(d.join("overwritten.log"), overwritten).unwrap();
    let out = run(&["verify", "overwritten.log"], b"", d);
    assert_eq!(code(&out), 1);
    assert!(
        stdout(&out).contains("line 1 is not a record"),
        "{}",
        stdout(&out)
    );
}

/// Two keyed logs with their keys (`a.log`: `a.v`/`a.s`; `b.log`:
/// `b.v`/`b.s`), two records each, and a plain one, `plain.log`.
fn two_keyed_logs_and_a_plain_one(d: &Path) {
    for name in ["a", "b"] {
        let (v, s) = (format!("{name}.v"), format!("{name}.s"));
        let out = run(&["keygen", "--verify-key", &v, "--seal-key", &s], b"", d);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        let log = format!("{name}.log");
        let out = run(&["write", "--seal-key", &s, &log], b"one\ntwo\n", d);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
    }
    let out = run(&["write", "plain.log"], b"one\ntwo\n", d);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[test]
fn a_seal_key_of_another_log_or_for_a_plain_log_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    two_keyed_logs_and_a_plain_one(d);
    let out = run(
        &["keygen", "--verify-key", "new.v", "--seal-key", "new.s"],
        b"",
        d,
    );
    assert_eq!(code(&out), 0);
    let before = |log: &str| fs::read(d.join(log)).unwrap();
    let (a, plain) = (before("a.log"), before("plain.log"));

    // B's key (at the same seq as A's) and a fresh key, on A.
    for key in ["b.s", "new.s"] {
        let out = run(&["write", "--seal-key", key, "a.log"], b"three\n", d);
        assert_eq!(code(&out), 1, "{key}");
        let err = stderr(&out);
        assert!(
            err.contains("the seal key state is not this log's"),
            "{key}: {err}"
        );
        assert!(!err.contains("hash mismatch"), "{key}: {err}");
    }
    // Any seal key on a plain log: at seq 0 and further on.
    for key in ["new.s", "b.s"] {
        let out = run(&["write", "--seal-key", key, "plain.log"], b"three\n", d);
        assert_eq!(code(&out), 1, "{key}");
        let err = stderr(&out);
        assert!(
            err.contains("a seal key was given, but the log is not keyed"),
            "{key}: {err}"
        );
        assert!(!err.contains("hash mismatch"), "{key}: {err}");
    }
    assert_eq!(before("a.log"), a);
    assert_eq!(before("plain.log"), plain);
    // The library says the same, as its own variants.
    let open = |key: &str, log: &str| {
        LogFile::options()
            .seal_key(d.join(key))
            .open(d.join(log))
            .map(drop)
    };
    assert!(matches!(
        open("b.s", "a.log"),
        Err(Error::ForeignSealKey { line: 5, .. })
    ));
    assert!(matches!(
        open("new.s", "a.log"),
        Err(Error::ForeignSealKey { line: 1, .. })
    ));
    assert!(matches!(
        open("new.s", "plain.log"),
        Err(Error::LogNotKeyed { .. })
    ));

    // Its own key still continues A; an edited last record is still an edit.
    let out = run(&["write", "--seal-key", "a.s", "a.log"], b"three\n", d);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // "three" changed in its display line and its block alike.
    let edited = fs::read_to_string(d.join("a.log"))
        .unwrap()
        .replace("three", "Three");
    fs::write(d.join("a.log"), &edited).unwrap();
    let out = run(&["write", "--seal-key", "a.s", "a.log"], b"four\n", d);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("hash mismatch"), "{}", stderr(&out));

    // `verify --verify-key` already told these apart.
    let out = run(&["verify", "--verify-key", "b.v", "b.log"], b"", d);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    let v = json(&run(
        &["verify", "--json", "--verify-key", "a.v", "b.log"],
        b"",
        d,
    ));
    assert_eq!(v["failure"]["kind"], "wrong_key");
    let v = json(&run(
        &["verify", "--json", "--verify-key", "a.v", "plain.log"],
        b"",
        d,
    ));
    assert_eq!(v["failure"]["kind"], "not_keyed");
}

/// The keys of a JSON object.
fn keys(value: &serde_json::Value) -> BTreeSet<String> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .cloned()
        .collect()
}

#[test]
fn verify_json_has_one_schema_and_error_only_for_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = run(&["write", "good.log"], b"a\nb\nc\n", d);
    assert_eq!(code(&out), 0);
    let log = fs::read(d.join("good.log")).unwrap();
    let mut changed = log.clone();
    let at = log.len() - 20;
    changed[at] = if changed[at] == b'0' { b'1' } else { b'0' };
    fs::write(d.join("changed.log"), &changed).unwrap();
    fs::write(d.join("torn.log"), &log[..log.len() - 5]).unwrap();
    fs::write(d.join("junk.key"), "not a key\n").unwrap();

    let top: BTreeSet<String> = [
        "file",
        "status",
        "records",
        "head",
        "start",
        "unlogged",
        "truncated",
        "failure",
        "torn",
        "error",
    ]
    .map(String::from)
    .into();
    let cases: [(&[&str], i32, &str); 5] = [
        (&["good.log"], 0, "intact"),
        (&["changed.log"], 1, "failed"),
        (&["torn.log"], 3, "torn"),
        (&["missing.log"], 2, "error"),
        (&["--verify-key", "junk.key", "good.log"], 2, "error"),
    ];
    for (args, exit, status) in cases {
        let mut argv = vec!["verify", "--json"];
        argv.extend_from_slice(args);
        let out = run(&argv, b"", d);
        assert_eq!(code(&out), exit, "{args:?}");
        let v = json(&out);
        assert_eq!(keys(&v), top, "{args:?}: {v}");
        assert_eq!(v["status"], status);
        assert_eq!(v["error"].is_string(), status == "error", "{args:?}: {v}");
        assert_eq!(v["failure"].is_object(), status == "failed", "{v}");
        assert_eq!(v["torn"].is_object(), status == "torn", "{v}");
        for count in ["records", "unlogged", "truncated"] {
            assert_eq!(v[count].is_u64(), status != "error", "{count}: {v}");
        }
        if status == "failed" {
            let failure: BTreeSet<String> = ["line", "record", "kind", "reason", "not_a_log"]
                .map(String::from)
                .into();
            assert_eq!(keys(&v["failure"]), failure);
        }
        if status == "torn" {
            let torn: BTreeSet<String> = ["line", "offset", "bytes", "reason"]
                .map(String::from)
                .into();
            assert_eq!(keys(&v["torn"]), torn);
        }
        if status != "error" {
            assert_eq!(keys(&v["head"]), ["hash", "seq"].map(String::from).into());
            let start = ["genesis", "prev_hash", "seq"].map(String::from).into();
            assert_eq!(keys(&v["start"]), start);
        }
    }
    let v = json(&run(
        &["verify", "--json", "--verify-key", "junk.key", "good.log"],
        b"",
        d,
    ));
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("junk.key: not an immutable-log key file"),
        "{v}"
    );
}
