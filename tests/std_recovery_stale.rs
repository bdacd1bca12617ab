//! A torn-tail journal that does not prove itself, or does not fit the log
//! beside it, cuts nothing: it is set aside (renamed, kept whole) and the
//! log opened untouched. The first three tests are the reproductions of
//! issue 9: each deleted records before.
#![cfg(feature = "std")]

mod common;

use std::fs;
use std::path::Path;
use std::sync::Arc;

use common::files::{beside, intact, journal_of, records_of};
use common::{record_spans, recovered_bytes};
use immutable_log::std_backend::recovery_fs::{FaultyFs, Op};
use immutable_log::std_backend::{
    create_key_pair, read_checkpoint, read_head, read_verify_key, verify_path_keyed, JournalFault,
    LogFile, SetAside,
};
use immutable_log::{Hash, Head, Level, Options, Verdict};
use sha2::{Digest, Sha256};

/// A plain log of these messages.
fn log_of(path: &Path, messages: &[&str]) -> Vec<u8> {
    let log = LogFile::open(path).unwrap();
    for m in messages {
        log.append(Level::Info, format_args!("{m}")).unwrap();
    }
    log.close().unwrap();
    fs::read(path).unwrap()
}

fn messages(path: &Path) -> Vec<String> {
    records_of(path).into_iter().map(|r| r.message).collect()
}

/// Opens the log, which must set the journal aside for `fault` and leave
/// the log as it was; returns what it reports.
fn set_aside_untouched(path: &Path, fault: JournalFault) -> SetAside {
    let before = fs::read(path).unwrap();
    let journal = fs::read(journal_of(path)).unwrap();
    let log = LogFile::open(path).unwrap();
    let aside = log.set_aside().expect("the journal is set aside").clone();
    assert!(log.recovered().is_none());
    drop(log);
    assert_eq!(aside.fault, fault);
    assert_eq!(aside.journal, journal_of(path));
    assert!(!journal_of(path).exists(), "renamed");
    assert_eq!(fs::read(&aside.aside).unwrap(), journal, "kept whole");
    assert_eq!(fs::read(path).unwrap(), before, "the log is untouched");
    let again = LogFile::open(path).unwrap();
    assert!(again.set_aside().is_none(), "once");
    again.close().unwrap();
    aside
}

/// A journal in the documented format (std-backend/journal.rs), checksum and
/// all: whatever a writer of this crate could have written.
fn journal_v2(
    origin: Option<Hash>,
    after: Option<Head>,
    at: u64,
    time: &str,
    torn: &[u8],
) -> Vec<u8> {
    let none = || "none".to_string();
    let mut out = format!(
        "immutable-log torn tail 2\nlog {}\nafter {}\nat {at}\ntime {time}\nbytes {}\n",
        origin.map_or_else(none, |h| h.to_string()),
        after.map_or_else(none, |h| h.to_string()),
        torn.len()
    )
    .into_bytes();
    let sum: [u8; 32] = Sha256::new()
        .chain_update(&out)
        .chain_update(torn)
        .finalize()
        .into();
    out.extend_from_slice(format!("sha256 {}\n", Hash::from_bytes(sum)).as_bytes());
    out.extend_from_slice(torn);
    out
}

/// The identity and head of the first `len` bytes of the log at `path`.
fn identity_at(path: &Path, len: usize) -> (Option<Hash>, Option<Head>) {
    let prefix = path.with_extension("prefix");
    fs::write(&prefix, &fs::read(path).unwrap()[..len]).unwrap();
    let origin = read_checkpoint(&prefix).unwrap().map(|c| c.origin);
    let head = read_head(&prefix).unwrap();
    fs::remove_file(&prefix).unwrap();
    (origin, head)
}

#[test]
fn a_header_only_journal_deletes_no_torn_byte_and_no_later_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.log");
    log_of(&path, &["one", "two"]);
    let offset = fs::metadata(&path).unwrap().len();
    let torn = format!("{}|TORNMARK", "0".repeat(64)).into_bytes();
    let mut bytes = fs::read(&path).unwrap();
    bytes.extend_from_slice(&torn);
    fs::write(&path, &bytes).unwrap();
    // What a kill -9 or an EIO between the two writes of a version 1
    // journal left.
    let header = format!("immutable-log torn tail 1 at {offset}\n");
    fs::write(journal_of(&path), &header).unwrap();
    // `write` twice.
    let log = LogFile::open(&path).unwrap();
    let aside = log.set_aside().cloned();
    log.append(Level::Info, format_args!("three")).unwrap();
    log.close().unwrap();
    let log = LogFile::open(&path).unwrap();
    assert!(log.set_aside().is_none());
    log.append(Level::Info, format_args!("four")).unwrap();
    log.close().unwrap();
    intact(&path);
    let (at, kept) = recovered_bytes(&fs::read(&path).unwrap()).expect("recovered");
    assert_eq!((at, kept), (offset, torn), "TORNMARK, exactly once");
    let texts = messages(&path);
    for m in ["one", "two", "three", "four"] {
        let count = texts
            .iter()
            .filter(|t| t.ends_with(&format!(" - {m}")))
            .count();
        assert_eq!(count, 1, "{m}: {texts:#?}");
    }
    let aside = aside.expect("set aside");
    assert_eq!(aside.fault, JournalFault::Version1);
    assert_eq!(fs::read_to_string(&aside.aside).unwrap(), header);
    assert!(!journal_of(&path).exists());
}

#[test]
fn a_stale_journal_naming_offset_100_cuts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.log");
    log_of(&path, &["1", "2", "3", "4", "5"]);
    fs::write(journal_of(&path), "immutable-log torn tail 1 at 100\nstale").unwrap();
    set_aside_untouched(&path, JournalFault::Version1);
    // The same in this version's format, checksum and identity right: 100
    // is inside record 0, which it does not name.
    let (origin, _) = identity_at(&path, fs::read(&path).unwrap().len());
    let j = journal_v2(origin, None, 100, "1.000000", b"stale");
    fs::write(journal_of(&path), j).unwrap();
    let aside = set_aside_untouched(&path, JournalFault::NotAfterHead { offset: 100 });
    assert!(aside
        .aside
        .to_string_lossy()
        .ends_with("b.log.torn.set-aside-2"));
    assert!(beside(&path, ".torn.set-aside-1").exists(), "both kept");
    let log = LogFile::open(&path).unwrap();
    log.append(Level::Info, format_args!("6")).unwrap();
    log.close().unwrap();
    assert_eq!(intact(&path).records, 6);
}

#[test]
fn a_journal_naming_offset_0_does_not_wipe_a_keyed_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.log");
    let (verify, seal) = (dir.path().join("v.key"), dir.path().join("s.key"));
    create_key_pair(&verify, &seal).unwrap();
    let mut options = LogFile::options();
    options.seal_key(&seal);
    let log = options.open(&path).unwrap();
    for i in 0..5 {
        log.append(Level::Info, format_args!("keyed {i}")).unwrap();
    }
    log.close().unwrap();
    let before = fs::read(&path).unwrap();
    for (journal, fault) in [
        (
            b"immutable-log torn tail 1 at 0\n".to_vec(),
            JournalFault::Version1,
        ),
        (
            journal_v2(None, None, 0, "1.000000", b"x"),
            JournalFault::Stale { offset: 0 },
        ),
    ] {
        fs::write(journal_of(&path), &journal).unwrap();
        let log = options.open(&path).unwrap();
        assert_eq!(log.set_aside().map(|a| a.fault), Some(fault));
        drop(log);
        assert_eq!(fs::read(&path).unwrap(), before, "untouched");
    }
    let log = options.open(&path).unwrap();
    log.append(Level::Info, format_args!("still keyed"))
        .unwrap();
    log.close().unwrap();
    let key = read_verify_key(&verify).unwrap();
    match verify_path_keyed(&path, Options::default(), Some(key)).unwrap() {
        Verdict::Intact(report) => assert_eq!(report.records, 7, "chain start + 6"),
        other => panic!("{other:?}"),
    }
    // Without the key, it is still a keyed chain: no plain chain started.
    assert!(LogFile::open(&path).is_err());
}

/// The journal of a recovery of `clean + torn` at `path`, caught in place by
/// crashing the recovery at the cut (the log is left untouched).
fn captured(path: &Path, clean: &[u8], torn: &[u8]) -> Vec<u8> {
    let crashed = [clean, torn].concat();
    fs::write(path, &crashed).unwrap();
    let counting = Arc::new(FaultyFs::counting());
    drop(
        LogFile::options()
            .recovery_fs(counting.clone())
            .open(path)
            .unwrap(),
    );
    let cut = counting.index_of(Op::SetLen).unwrap();
    fs::write(path, &crashed).unwrap();
    let crash = Arc::new(FaultyFs::crash_at(cut));
    assert!(LogFile::options().recovery_fs(crash).open(path).is_err());
    fs::read(journal_of(path)).unwrap()
}

/// A log of `n` records with a record cut off after them: (clean, torn).
fn crashed(path: &Path, n: usize) -> (Vec<u8>, Vec<u8>) {
    let names: Vec<String> = (0..=n).map(|i| format!("record {i}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let whole = log_of(path, &names);
    fs::remove_file(path).unwrap();
    let last = record_spans(&whole)[n].clone();
    (
        whole[..last.start].to_vec(),
        whole[last.start..last.end - 40].to_vec(),
    )
}

#[test]
fn a_journal_of_another_log_is_set_aside() {
    let dir = tempfile::tempdir().unwrap();
    let (a_clean, a_torn) = crashed(&dir.path().join("a.log"), 2);
    let journal = captured(&dir.path().join("a.log"), &a_clean, &a_torn);
    // Another log, longer, whose record 0 differs.
    let path = dir.path().join("b.log");
    log_of(&path, &["b0", "b1", "b2", "b3", "b4"]);
    fs::write(journal_of(&path), &journal).unwrap();
    set_aside_untouched(&path, JournalFault::OtherLog);
    assert_eq!(intact(&path).records, 5);
}

#[test]
fn a_journal_of_this_log_is_set_aside_once_records_follow_its_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.log");
    let (clean, torn) = crashed(&path, 3);
    let journal = captured(&path, &clean, &torn);
    let log = LogFile::open(&path).unwrap();
    assert!(log.recovered().is_some());
    log.append(Level::Info, format_args!("acknowledged"))
        .unwrap();
    log.sync().unwrap();
    drop(log);
    // The old journal, back (restored from a backup, say).
    fs::write(journal_of(&path), &journal).unwrap();
    set_aside_untouched(
        &path,
        JournalFault::Stale {
            offset: clean.len() as u64,
        },
    );
    assert!(messages(&path).last().unwrap().ends_with(" - acknowledged"));
}

#[test]
fn a_journal_that_names_another_record_at_its_offset_is_set_aside() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.log");
    let log = log_of(&path, &["r0", "r1", "r2", "r3"]);
    let spans = record_spans(&log);
    // At the end of record 2, naming record 1.
    let (origin, r1) = identity_at(&path, spans[1].end);
    let at = spans[2].end as u64;
    fs::write(
        journal_of(&path),
        journal_v2(origin, r1, at, "1.000000", b"x"),
    )
    .unwrap();
    set_aside_untouched(&path, JournalFault::NotAfterHead { offset: at });
    assert_eq!(intact(&path).records, 4);
}

#[test]
fn an_incomplete_corrupt_or_empty_journal_cuts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("e.log");
    let (clean, torn) = crashed(&path, 3);
    let journal = captured(&path, &clean, &torn);
    let header = journal.len() - torn.len();
    let mut body_flipped = journal.clone();
    *body_flipped.last_mut().unwrap() ^= 0x20;
    let (origin, head) = identity_at(&path, clean.len());
    let empty = journal_v2(origin, head, clean.len() as u64, "1.000000", b"");
    let stated = torn.len() as u64;
    let cases = [
        (
            journal[..journal.len() - 1].to_vec(),
            JournalFault::WrongLength {
                stated,
                found: stated - 1,
            },
        ),
        (
            journal[..header].to_vec(),
            JournalFault::WrongLength { stated, found: 0 },
        ),
        (body_flipped, JournalFault::Checksum),
        (empty, JournalFault::Empty),
    ];
    for (bad, fault) in cases {
        // The log already cut (the worst case): nothing more is cut, and
        // the torn bytes stay in the journal set aside.
        fs::write(&path, &clean).unwrap();
        fs::write(journal_of(&path), &bad).unwrap();
        let aside = set_aside_untouched(&path, fault);
        fs::remove_file(aside.aside).unwrap();
        // The log not cut yet: its own torn tail is recovered, once.
        fs::write(&path, [&clean[..], &torn[..]].concat()).unwrap();
        fs::write(journal_of(&path), &bad).unwrap();
        let log = LogFile::open(&path).unwrap();
        assert_eq!(log.set_aside().map(|a| a.fault), Some(fault));
        assert!(log.recovered().is_some());
        drop(log);
        let bytes = fs::read(&path).unwrap();
        assert!(bytes.starts_with(&clean));
        let (at, kept) = recovered_bytes(&bytes).unwrap();
        assert_eq!((at, kept), (clean.len() as u64, torn.clone()));
        fs::remove_file(beside(&path, ".torn.set-aside-1")).unwrap();
    }
    // Every cut of the journal is refused.
    for cut in (0..journal.len()).step_by(13) {
        fs::write(&path, &clean).unwrap();
        fs::write(journal_of(&path), &journal[..cut]).unwrap();
        let log = LogFile::open(&path).unwrap();
        assert!(log.set_aside().is_some(), "cut at {cut}");
        drop(log);
        assert_eq!(fs::read(&path).unwrap(), clean, "cut at {cut}");
        fs::remove_file(beside(&path, ".torn.set-aside-1")).unwrap();
    }
}
