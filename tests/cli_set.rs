//! `immutable-log write --max-size/--max-age/--keep/--compress/--format` and
//! `verify --set`: the operators' contract of issue 11.
#![cfg(feature = "cli")]

use std::fs;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::thread;

const BIN: &str = env!("CARGO_BIN_EXE_immutable-log");

fn run(args: &[&str], stdin: &[u8], dir: &Path) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.to_vec();
    let feeder = thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    out
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exited")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn lines(from: usize, n: usize) -> Vec<u8> {
    (from..from + n)
        .map(|i| format!("line {i:03} {}\n", "z".repeat(80)))
        .collect::<String>()
        .into_bytes()
}

#[test]
fn write_rotates_keeps_and_compresses_and_verify_set_reads_the_set() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "write",
        "--max-size",
        "2K",
        "--keep",
        "2",
        "--compress",
        "--format",
        "plain",
        "svc.log",
    ];
    let out = run(&args, &lines(0, 60), dir.path());
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.starts_with("immutable-log: svc.log: 60 records written, head "),
        "{err}"
    );
    assert_eq!(
        names(dir.path()),
        ["svc.log", "svc.log.1.gz", "svc.log.2.gz"]
    );
    // A second run continues the set.
    let out = run(&args, &lines(60, 5), dir.path());
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));

    let out = run(&["verify", "--set", "svc.log"], b"", dir.path());
    let said = text(&out.stdout);
    assert_eq!(code(&out), 0, "{said}");
    let summary = said.lines().last().unwrap();
    assert!(
        summary.starts_with("svc.log (set of 3 files): intact: "),
        "{said}"
    );
    assert!(
        summary.contains("retention (keep 2 files) pruned the records up to seq "),
        "{said}"
    );
    assert!(summary.contains("cannot be seen without one"), "{said}");
    assert!(said.starts_with("svc.log.2.gz: "), "oldest first: {said}");

    // A file that verifies on its own as a segment.
    let out = run(&["verify", "--allow-segment", "svc.log"], b"", dir.path());
    assert_eq!(code(&out), 0, "{}", text(&out.stdout));
}

#[test]
fn verify_set_names_the_file_and_line_of_a_missing_middle_file_and_a_deleted_oldest() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        &["write", "--max-size", "300", "--format", "plain", "s.log"],
        &lines(0, 4),
        dir.path(),
    );
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert_eq!(
        names(dir.path()),
        ["s.log", "s.log.1", "s.log.2", "s.log.3"]
    );
    let out = run(&["verify", "--set", "s.log"], b"", dir.path());
    assert_eq!(code(&out), 0, "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("; from genesis;"),
        "{}",
        text(&out.stdout)
    );

    let middle = fs::read(dir.path().join("s.log.2")).unwrap();
    fs::remove_file(dir.path().join("s.log.2")).unwrap();
    let out = run(&["verify", "--set", "s.log"], b"", dir.path());
    let said = text(&out.stdout);
    assert_eq!(code(&out), 1, "{said}");
    assert!(
        said.contains("s.log.1: line 1 (record 0): prev_hash mismatch"),
        "{said}"
    );
    assert!(said.contains("FAILED"), "{said}");
    fs::write(dir.path().join("s.log.2"), middle).unwrap();

    fs::remove_file(dir.path().join("s.log.3")).unwrap();
    let out = run(&["verify", "--set", "s.log"], b"", dir.path());
    let said = text(&out.stdout);
    assert_eq!(code(&out), 1, "{said}");
    assert!(
        said.contains("s.log.2: line 1 (record 0): the set starts after seq 0"),
        "{said}"
    );
    assert!(said.contains("deleted, not pruned by policy"), "{said}");
}

#[test]
fn bad_rotation_arguments_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        ["write", "--max-size", "10X", "a.log"],
        ["write", "--max-age", "5w", "a.log"],
        ["write", "--keep", "many", "a.log"],
        ["write", "--max-size", "0", "a.log"],
    ] {
        let out = run(&args, b"", dir.path());
        assert_eq!(code(&out), 2, "{args:?}: {}", text(&out.stderr));
    }
    assert!(names(dir.path()).is_empty());
}

#[test]
fn verify_of_a_plain_log_without_an_anchor_says_what_it_cannot_see() {
    let dir = tempfile::tempdir().unwrap();
    run(&["write", "p.log"], b"one\ntwo\n", dir.path());
    let out = run(&["verify", "p.log"], b"", dir.path());
    let said = text(&out.stdout);
    assert_eq!(code(&out), 0);
    assert!(
        said.starts_with("p.log: intact: 2 records, head 1 "),
        "{said}"
    );
    assert!(
        said.contains("records cut off the end, or a full rewrite with every hash recomputed, cannot be seen without one"),
        "{said}"
    );
    let head = text(&run(&["head", "p.log"], b"", dir.path()).stdout);
    let anchor = head.trim().replacen(' ', ":", 1);
    let out = run(
        &["verify", "--expect-head", &anchor, "p.log"],
        b"",
        dir.path(),
    );
    assert_eq!(code(&out), 0);
    assert!(
        !text(&out.stdout).contains("without one"),
        "{}",
        text(&out.stdout)
    );
}
