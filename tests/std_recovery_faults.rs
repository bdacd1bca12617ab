//! Torn-tail recovery that fails or crashes at any one of its filesystem
//! operations (through the `FaultyFs` hook) loses nothing: the next open
//! recovers every torn byte exactly once, and removes the journal. A full
//! disk (injected, and for real on a small tmpfs) leaves the log untouched
//! until there is room.
#![cfg(feature = "std")]

mod common;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::files::{beside, intact};
use common::{messages, record_spans, recovered_bytes};
use immutable_log::std_backend::recovery_fs::{FaultyFs, Op};
use immutable_log::std_backend::{
    create_key_pair, read_verify_key, verify_path_keyed, Error, FileKind, JournalStep, LogFile,
    OpenOptions, Step,
};
use immutable_log::{Level, Options, Verdict};

/// A log in `dir`, plain or keyed: its path, the options that open it, and
/// its bytes: whole records, then a record cut off by a crash (as text, or,
/// for `binary`, with bytes that are not UTF-8).
struct Torn {
    path: PathBuf,
    options: OpenOptions,
    verify_key: Option<PathBuf>,
    /// A keyed log's seal key state as the crash left it: after the last
    /// whole record.
    seal_key: Option<(PathBuf, Vec<u8>)>,
    clean: Vec<u8>,
    torn: Vec<u8>,
}

impl Torn {
    fn new(dir: &Path, keyed: bool, binary: bool, size: usize) -> Torn {
        let path = dir.join(if keyed { "keyed.log" } else { "plain.log" });
        let mut options = LogFile::options();
        let verify_key = keyed.then(|| {
            let (verify, seal) = (dir.join("v.key"), dir.join("s.key"));
            create_key_pair(&verify, &seal).unwrap();
            options.seal_key(seal);
            verify
        });
        let log = options.open(&path).unwrap();
        for i in 0..3 {
            log.append(Level::Info, format_args!("record {i}")).unwrap();
        }
        log.close().unwrap();
        let seal_key = keyed.then(|| {
            let seal = dir.join("s.key");
            let state = fs::read(&seal).unwrap();
            (seal, state)
        });
        let log = options.open(&path).unwrap();
        let filler = "x".repeat(size);
        let last = if binary {
            format!("binary \u{1} {filler}")
        } else {
            format!("the torn one {filler}")
        };
        log.append(Level::Warning, format_args!("{last}")).unwrap();
        log.close().unwrap();
        let whole = fs::read(&path).unwrap();
        let spans = record_spans(&whole);
        let last = spans.last().unwrap().clone();
        let mut torn = whole[last.start..last.end - 30].to_vec();
        if binary {
            torn.extend_from_slice(b"\xff\xfe");
        }
        Torn {
            options,
            verify_key,
            seal_key,
            clean: whole[..last.start].to_vec(),
            torn,
            path,
        }
    }

    /// Puts the crashed log back in place, with nothing beside it.
    fn reset(&self) {
        for suffix in [".torn", ".torn.tmp", ".torn.set-aside-1"] {
            let _ = fs::remove_file(beside(&self.path, suffix));
        }
        fs::write(&self.path, self.crashed()).unwrap();
        if let Some((path, state)) = &self.seal_key {
            fs::write(path, state).unwrap();
        }
    }

    fn crashed(&self) -> Vec<u8> {
        [&self.clean[..], &self.torn[..]].concat()
    }

    fn open_through(&self, fs: &Arc<FaultyFs>) -> Result<LogFile, Error> {
        self.options
            .clone()
            .recovery_fs(fs.clone())
            .open(&self.path)
    }

    /// The operations of a recovery that goes through.
    fn ops(&self) -> Vec<Op> {
        self.reset();
        let counting = Arc::new(FaultyFs::counting());
        let log = self.open_through(&counting).unwrap();
        assert!(log.recovered().is_some());
        counting.ops()
    }

    /// Nothing is lost so far: the log still has its torn tail, or the
    /// journal has it, or (once the journal is gone) the recovery records do.
    fn nothing_lost_yet(&self, why: &str) {
        let log = fs::read(&self.path).unwrap();
        if log == self.crashed() {
            return;
        }
        let torn = &self.torn[..];
        match fs::read(beside(&self.path, ".torn")) {
            Ok(journal) => assert!(
                journal.windows(torn.len()).any(|w| w == torn),
                "{why}: the journal does not hold the torn bytes"
            ),
            Err(_) => {
                let kept = recovered_bytes(&log).map(|(_, kept)| kept);
                assert!(
                    kept.as_deref() == Some(torn),
                    "{why}: the log was touched, but no journal"
                );
            }
        }
    }

    /// Opens the log for real and checks that it holds its records, then the
    /// torn bytes exactly once, then a new record; and nothing beside it.
    fn reopen_and_check(&self, why: &str) {
        let log = self
            .options
            .open(&self.path)
            .unwrap_or_else(|e| panic!("{why}: {e}"));
        assert!(log.set_aside().is_none(), "{why}");
        log.append(Level::Info, format_args!("after")).unwrap();
        log.close().unwrap();
        for suffix in [".torn", ".torn.tmp", ".torn.set-aside-1"] {
            assert!(!beside(&self.path, suffix).exists(), "{why}: {suffix} left");
        }
        let bytes = fs::read(&self.path).unwrap();
        assert!(bytes.starts_with(&self.clean), "{why}: records lost");
        match &self.verify_key {
            None => {
                intact(&self.path);
            }
            Some(key) => {
                let key = read_verify_key(key).unwrap();
                let v = verify_path_keyed(&self.path, Options::default(), Some(key)).unwrap();
                assert!(matches!(v, Verdict::Intact(_)), "{why}: {v:?}");
            }
        }
        let (at, kept) = recovered_bytes(&bytes).unwrap_or_else(|| panic!("{why}: no recovery"));
        assert_eq!(at, self.clean.len() as u64, "{why}");
        assert!(kept == self.torn, "{why}: the torn bytes, exactly once");
        let last = messages(&bytes).pop().unwrap();
        assert!(last.ends_with(" - INFO - after"), "{why}: {last}");
    }
}

#[test]
fn recovery_goes_through_the_journal_in_this_order() {
    let dir = tempfile::tempdir().unwrap();
    let log = Torn::new(dir.path(), false, false, 100);
    use Op::*;
    assert_eq!(
        log.ops(),
        [
            Create, Write, Sync, Rename, SyncDir, // the journal, in place
            SetLen, Write, Sync, // the log: cut, recovery records, synced
            Remove, SyncDir, // the journal, gone
        ]
    );
    log.reopen_and_check("after a recovery that went through");
}

#[test]
fn a_crash_or_an_error_at_any_step_of_recovery_loses_nothing() {
    for (keyed, binary) in [(false, false), (true, false), (false, true), (true, true)] {
        let dir = tempfile::tempdir().unwrap();
        let log = Torn::new(dir.path(), keyed, binary, 3000);
        let steps = log.ops().len();
        for at in 0..steps {
            for crash in [true, false] {
                let why = format!(
                    "keyed {keyed}, binary {binary}, {} at step {at}",
                    if crash { "crash" } else { "error" }
                );
                log.reset();
                let faulty = Arc::new(if crash {
                    FaultyFs::crash_at(at)
                } else {
                    FaultyFs::fail_at(at, io::ErrorKind::Other)
                });
                assert!(log.open_through(&faulty).is_err(), "{why}: open fails");
                assert!(faulty.hit(), "{why}");
                log.nothing_lost_yet(&why);
                log.reopen_and_check(&why);
            }
        }
    }
}

#[test]
fn a_second_crash_while_replaying_loses_nothing_either() {
    let dir = tempfile::tempdir().unwrap();
    let log = Torn::new(dir.path(), true, false, 2000);
    let ops = log.ops();
    let cut = ops.iter().position(|&op| op == Op::SetLen).unwrap();
    // The first try dies once the journal is in place; each replay dies at
    // one step further.
    for at in 0..ops.len() - cut {
        log.reset();
        assert!(log
            .open_through(&Arc::new(FaultyFs::crash_at(cut)))
            .is_err());
        let replay = Arc::new(FaultyFs::crash_at(at));
        assert!(log.open_through(&replay).is_err(), "replay step {at}");
        log.nothing_lost_yet(&format!("replay step {at}"));
        log.reopen_and_check(&format!("replay step {at}"));
    }
}

#[test]
fn a_full_disk_while_journaling_leaves_the_log_untouched_until_there_is_room() {
    let dir = tempfile::tempdir().unwrap();
    let log = Torn::new(dir.path(), false, false, 10_000);
    let ops = log.ops();
    log.reset();
    let write = ops.iter().position(|&op| op == Op::Write).unwrap();
    let full = Arc::new(FaultyFs::fail_at(write, io::ErrorKind::StorageFull));
    let err = log.open_through(&full).unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Journal { step: JournalStep::Write, source, .. }
                if source.kind() == io::ErrorKind::StorageFull
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("plain.log.torn.tmp"), "{err}");
    assert_eq!(err.path(), beside(&log.path, ".torn.tmp"));
    assert_eq!(err.file(), FileKind::Journal);
    assert_eq!(fs::read(&log.path).unwrap(), log.crashed(), "untouched");
    assert!(!beside(&log.path, ".torn").exists());
    assert!(
        !beside(&log.path, ".torn.tmp").exists(),
        "its space is freed"
    );
    log.reopen_and_check("once there is room");
}

#[test]
fn a_full_disk_while_writing_the_recovery_records_keeps_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let log = Torn::new(dir.path(), false, true, 10_000);
    let ops = log.ops();
    log.reset();
    let write = ops.iter().rposition(|&op| op == Op::Write).unwrap();
    let full = Arc::new(FaultyFs::fail_at(write, io::ErrorKind::StorageFull));
    let err = log.open_through(&full).unwrap_err();
    assert!(
        matches!(&err, Error::Io { step: Step::Write, source, .. }
            if source.kind() == io::ErrorKind::StorageFull),
        "{err:?}"
    );
    assert_eq!((err.path(), err.file()), (&*log.path, FileKind::Log));
    assert_eq!(
        fs::read(&log.path).unwrap(),
        log.clean,
        "cut back, whole records"
    );
    assert!(
        beside(&log.path, ".torn").exists(),
        "the journal keeps the bytes"
    );
    log.reopen_and_check("once there is room");
}

#[cfg(unix)]
#[test]
fn the_journal_has_the_log_s_permission_bits() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let log = Torn::new(dir.path(), false, false, 100);
    let cut = log.ops().iter().position(|&op| op == Op::SetLen).unwrap();
    // 0660 too: the umask (022 or 077) must not take bits the log has.
    for mode in [0o600, 0o640, 0o660] {
        log.reset();
        fs::set_permissions(&log.path, fs::Permissions::from_mode(mode)).unwrap();
        assert!(log
            .open_through(&Arc::new(FaultyFs::crash_at(cut)))
            .is_err());
        let journal = fs::metadata(beside(&log.path, ".torn")).unwrap();
        assert_eq!(journal.permissions().mode() & 0o777, mode, "{mode:o}");
        log.reopen_and_check(&format!("mode {mode:o}"));
    }
}
