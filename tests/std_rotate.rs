//! Rotation and retention that keep the chain: the set verifies as one
//! chain, deletion and pruning read differently, and a crash at any step of a
//! rotation loses nothing.
#![cfg(feature = "std")]

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use immutable_log::std_backend::recovery_fs::FaultyFs;
use immutable_log::std_backend::{
    set_files, verify_set, LogFile, OpenOptions, PlainFormat, Rotation, SetFailureKind, SetVerdict,
};
use immutable_log::{Draft, FailureKind, Level, Timestamp, Writer};

fn options(rotation: Rotation) -> OpenOptions {
    let mut options = LogFile::options();
    options.format(PlainFormat).rotate(rotation);
    options
}

/// The messages of every file of the set, oldest first.
fn set_messages(log: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for path in set_files(log).unwrap() {
        let mut bytes = Vec::new();
        let file = fs::File::open(&path).unwrap();
        if path.extension().is_some_and(|e| e == "gz") {
            flate2::read::MultiGzDecoder::new(file)
                .read_to_end(&mut bytes)
                .unwrap();
        } else {
            (&file).read_to_end(&mut bytes).unwrap();
        }
        for line in bytes.split(|&b| b == b'\n') {
            if let Some(json) = line.strip_prefix(b"BLOCK_DATA:") {
                let v: serde_json::Value = serde_json::from_slice(json).unwrap();
                out.push(v["message"].as_str().unwrap().to_string());
            }
        }
    }
    out
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn intact_set(log: &Path) -> immutable_log::std_backend::SetReport {
    match verify_set(log, None).unwrap() {
        SetVerdict::Intact(report) => report,
        other => panic!("{} is not intact: {other:?}", log.display()),
    }
}

fn failure(log: &Path) -> (PathBuf, SetFailureKind) {
    match verify_set(log, None).unwrap() {
        SetVerdict::Failed(_, failure) => (failure.path, failure.kind),
        other => panic!("{} did not fail: {other:?}", log.display()),
    }
}

/// Appends `n` records numbered from `from`.
fn append(log: &LogFile, from: usize, n: usize) {
    for i in from..from + n {
        log.append(
            Level::Info,
            format_args!("record {i:04} {}", "x".repeat(100)),
        )
        .unwrap();
    }
}

#[test]
fn a_log_rotated_by_size_is_one_chain_across_its_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    let log = options(Rotation::new().max_size(2000)).open(&path).unwrap();
    append(&log, 0, 40);
    assert!(log.rotation_error().is_none());
    let head = log.head().unwrap();
    log.close().unwrap();
    let files = names(dir.path());
    assert!(files.len() >= 4, "{files:?}");
    assert!(files.contains(&"app.log.1".to_string()), "{files:?}");
    for (i, file) in set_files(&path).unwrap().iter().enumerate() {
        // No file is far above the limit: one record over at most.
        assert!(fs::metadata(file).unwrap().len() < 2000 + 800, "{i}");
    }
    let report = intact_set(&path);
    assert_eq!(report.head(), Some(head));
    assert!(report.start().unwrap().is_genesis());
    let messages = set_messages(&path);
    let written: Vec<_> = messages
        .iter()
        .filter(|m| m.starts_with("record "))
        .collect();
    assert_eq!(written.len(), 40);
    // Each file after the first opens by naming the one before it and its head.
    let rotations: Vec<_> = messages
        .iter()
        .filter(|m| m.starts_with("immutable-log: rotated: this file continues app.log.1 (seq "))
        .collect();
    assert_eq!(rotations.len(), files.len() - 1, "{messages:?}");
    assert_eq!(report.records(), 40 + rotations.len() as u64);
}

#[test]
fn retention_states_what_it_removes_and_compressed_files_verify() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    let rotation = Rotation::new().max_size(1500).keep_files(2).compress(true);
    let log = options(rotation.clone()).open(&path).unwrap();
    append(&log, 0, 60);
    assert!(log.rotation_error().is_none());
    log.close().unwrap();
    assert_eq!(
        names(dir.path()),
        ["app.log", "app.log.1.gz", "app.log.2.gz"]
    );
    let report = intact_set(&path);
    let start = report.start().unwrap();
    assert!(!start.is_genesis());
    let pruned = report.pruned_before().expect("the start is explained");
    assert_eq!(pruned.policy, "keep 2 files");
    assert_eq!(pruned.head.hash, start.prev_hash);
    assert!(report.pruned.len() >= 3, "{:?}", report.pruned);

    // Reopening continues the set.
    let log = options(rotation).open(&path).unwrap();
    append(&log, 60, 5);
    log.close().unwrap();
    intact_set(&path);
}

/// A set of 4 files (3 rotated, plain) and the head of each.
fn four_files(dir: &Path) -> PathBuf {
    let path = dir.join("s.log");
    let log = options(Rotation::new()).open(&path).unwrap();
    drop(log);
    let log = options(Rotation::new().max_size(1)).open(&path).unwrap();
    for i in 0..4 {
        log.append(Level::Info, format_args!("file {i}")).unwrap();
    }
    log.close().unwrap();
    assert_eq!(names(dir), ["s.log", "s.log.1", "s.log.2", "s.log.3"]);
    intact_set(&path);
    path
}

#[test]
fn a_missing_reordered_replaced_or_cut_middle_file_fails_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = four_files(dir.path());
    let rotated = |n: u64| dir.path().join(format!("s.log.{n}"));
    let backup: Vec<_> = (1..=3).map(|n| fs::read(rotated(n)).unwrap()).collect();
    let restore = || {
        for (i, bytes) in backup.iter().enumerate() {
            fs::write(rotated(i as u64 + 1), bytes).unwrap();
        }
    };
    let at_line_1_of = |expected: PathBuf| {
        let (file, kind) = failure(&path);
        assert_eq!(file, expected);
        match kind {
            SetFailureKind::Record(f) => {
                assert_eq!(f.line, 1);
                assert!(
                    matches!(f.kind, FailureKind::PrevHashMismatch { .. }),
                    "{f:?}"
                );
            }
            other => panic!("{other:?}"),
        }
    };

    // Missing: s.log.2 deleted; s.log.1 no longer follows s.log.3.
    fs::remove_file(rotated(2)).unwrap();
    at_line_1_of(rotated(1));
    restore();

    // Reordered: s.log.1 and s.log.2 swapped.
    fs::write(rotated(1), &backup[1]).unwrap();
    fs::write(rotated(2), &backup[0]).unwrap();
    at_line_1_of(rotated(2));
    restore();

    // Replaced: s.log.2 is another file (a copy of s.log.3).
    fs::write(rotated(2), &backup[2]).unwrap();
    at_line_1_of(rotated(2));
    restore();

    // Cut: s.log.2's last record removed; s.log.1 no longer follows it.
    let text = String::from_utf8(backup[1].clone()).unwrap();
    let keep = text.lines().count() - 2;
    let cut: String = text.lines().take(keep).map(|l| format!("{l}\n")).collect();
    fs::write(rotated(2), cut).unwrap();
    at_line_1_of(rotated(1));
    restore();

    // Torn: s.log.2 cut inside its last record.
    fs::write(rotated(2), &backup[1][..backup[1].len() - 10]).unwrap();
    let (file, kind) = failure(&path);
    assert_eq!(file, rotated(2));
    assert!(matches!(kind, SetFailureKind::Torn(_)), "{kind:?}");
    restore();

    // The oldest file deleted by hand: nothing states it was pruned.
    fs::remove_file(rotated(3)).unwrap();
    let (file, kind) = failure(&path);
    assert_eq!(file, rotated(2));
    assert!(matches!(kind, SetFailureKind::Unexplained(_)), "{kind:?}");
    restore();
    intact_set(&path);
}

#[test]
fn pruning_by_age_is_stated_too() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.log");
    let rotation = Rotation::new()
        .max_size(1)
        .keep_for(Duration::from_secs(3600));
    let log = options(rotation).open(&path).unwrap();
    log.append(Level::Info, format_args!("one")).unwrap();
    log.append(Level::Info, format_args!("two")).unwrap();
    let old = SystemTime::now() - Duration::from_secs(7200);
    fs::File::options()
        .write(true)
        .open(dir.path().join("a.log.1"))
        .unwrap()
        .set_modified(old)
        .unwrap();
    log.append(Level::Info, format_args!("three")).unwrap();
    log.close().unwrap();
    // a.log.1 (two days' old "one") was pruned at the rotation before "three".
    assert_eq!(names(dir.path()), ["a.log", "a.log.1"]);
    let report = intact_set(&path);
    assert_eq!(report.pruned_before().unwrap().policy, "keep 1 h");
}

#[test]
fn a_log_whose_first_record_is_old_rotates_by_age_at_its_next_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("age.log");
    // A record written two days ago.
    let mut writer: Writer<Vec<u8>> = Writer::new(Vec::new());
    let two_days_ago = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 2 * 86_400;
    let mut draft = Draft::<512>::new(Level::Info, format_args!("old"));
    writer
        .append_draft(&mut draft, Timestamp::new(two_days_ago, 0), 0)
        .unwrap();
    fs::write(&path, writer.sink()).unwrap();
    let log = options(Rotation::new().max_age(Duration::from_secs(86_400)))
        .open(&path)
        .unwrap();
    log.append(Level::Info, format_args!("new")).unwrap();
    log.append(Level::Info, format_args!("newer")).unwrap();
    log.close().unwrap();
    assert_eq!(names(dir.path()), ["age.log", "age.log.1"]);
    let messages = set_messages(&path);
    assert_eq!(messages[0], "old");
    assert!(messages[1]
        .starts_with("immutable-log: rotated: this file continues age.log.1 (seq 0..=0, head 0 "));
    assert_eq!(&messages[2..], ["new", "newer"]);
    intact_set(&path);
}

/// The scenario each crash test replays: three rotations (each compresses,
/// the later ones prune), with records between.
fn scenario(path: &Path, fs_: Option<Arc<FaultyFs>>) -> Vec<(u64, String)> {
    let mut options = options(Rotation::new().max_size(900).keep_files(1).compress(true));
    if let Some(fs_) = fs_ {
        options.recovery_fs(fs_);
    }
    let mut acknowledged = Vec::new();
    let Ok(log) = options.open(path) else {
        return acknowledged;
    };
    for i in 0..7 {
        let text = format!("record {i:02} {}", "y".repeat(150));
        if let Ok(head) = log.append(Level::Info, format_args!("{text}")) {
            acknowledged.push((head.seq.unwrap(), text));
        }
    }
    drop(log);
    acknowledged
}

#[test]
fn a_crash_at_any_step_of_a_rotation_loses_nothing_and_the_set_verifies_after_reopening() {
    let counting = Arc::new(FaultyFs::counting());
    let dir = tempfile::tempdir().unwrap();
    let all = scenario(&dir.path().join("c.log"), Some(Arc::clone(&counting)));
    assert_eq!(all.len(), 7);
    let total = counting.ops().len();
    assert!(total > 30, "{:?}", counting.ops());

    for at in 0..total {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.log");
        let crash = Arc::new(FaultyFs::crash_at(at));
        let acknowledged = scenario(&path, Some(Arc::clone(&crash)));
        assert!(crash.hit(), "op {at}");
        // The next open recovers (torn tail, a rotation cut short) and goes
        // on, without rotating again (which could hide what the crash left).
        let log = options(
            Rotation::new()
                .max_size(u64::MAX)
                .keep_files(1)
                .compress(true),
        )
        .open(&path)
        .unwrap_or_else(|e| panic!("op {at} ({:?}): reopen: {e}", crash.ops()[at]));
        log.append(Level::Info, format_args!("after the crash"))
            .unwrap();
        log.close().unwrap();
        let report = match verify_set(&path, None).unwrap() {
            SetVerdict::Intact(report) => report,
            other => panic!(
                "op {at} ({:?}): {other:?}\nfiles: {:?}",
                crash.ops()[at],
                names(dir.path())
            ),
        };
        let start = report.start().unwrap();
        assert!(
            start.is_genesis() || report.pruned_before().is_some(),
            "op {at}"
        );
        // Every acknowledged record is in the set, or before its start,
        // which a retention record explains.
        let messages = set_messages(&path);
        let first_seq = start.seq.unwrap();
        for (seq, text) in &acknowledged {
            assert!(
                messages.contains(text) || *seq < first_seq,
                "op {at} ({:?}): lost {text:?}\n{messages:#?}\n{:?}",
                crash.ops()[at],
                names(dir.path())
            );
        }
        assert_eq!(messages.last().map(String::as_str), Some("after the crash"));
    }
}

#[test]
fn a_failed_rotation_keeps_the_writer_s_tree() {
    use immutable_log::std_backend::recovery_fs::Op;
    // Three records: the third finds the file over 900 bytes and rotates
    // first, once.
    let run = |fs_: Arc<FaultyFs>, path: &Path| -> LogFile {
        let mut options = options(Rotation::new().max_size(900));
        options.keep_tree(true).recovery_fs(fs_);
        let log = options.open(path).unwrap();
        for i in 0..3 {
            let text = format!("record {i} {}", "y".repeat(150));
            log.append(Level::Info, format_args!("{text}")).unwrap();
        }
        log
    };
    let dir = tempfile::tempdir().unwrap();
    let counting = Arc::new(FaultyFs::counting());
    run(Arc::clone(&counting), &dir.path().join("counting.log"))
        .close()
        .unwrap();
    let shift = counting.index_of(Op::Rename).expect("the rotation renames");
    let path = dir.path().join("t.log");
    let failing = Arc::new(FaultyFs::fail_at(shift, std::io::ErrorKind::StorageFull));
    let log = run(Arc::clone(&failing), &path);
    assert!(failing.hit());
    assert!(log.rotation_error().is_some(), "the rotation failed");
    // The file did not change: its tree is still known, and right.
    let head = log.tree_head().unwrap().unwrap();
    log.flush().unwrap();
    let records = immutable_log::records(&fs::read(&path).unwrap()).count() as u64;
    assert_eq!((head.size, records), (3, 3));
    log.close().unwrap();
}
