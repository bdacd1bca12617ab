//! A full disk during torn-tail recovery, for real: on a small tmpfs (where
//! `mount` is allowed; the test says why it skips otherwise), the disk is
//! filled to leave 0, 4 KiB, 8 KiB ... free, so that the journal, then the
//! recovery records, do not fit. Open fails, nothing is lost, and once there
//! is room the next open recovers every torn byte. (The same faults are
//! injected on every machine in `std_recovery_faults.rs`.)
//!
//! Alone in its test binary: `mount` forks, and a forked child holds the
//! log locks of tests running beside it until it execs.
#![cfg(feature = "std")]

mod common;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use common::files::{beside, intact};
use common::{record_spans, recovered_bytes};
use immutable_log::std_backend::{Error, JournalStep, LogFile, Step};
use immutable_log::Level;

/// Three records, then 10 KB of a fourth, not UTF-8 (kept as hex: twice
/// the bytes), cut off by a crash: the whole records and the torn bytes.
fn crashed(dir: &Path) -> (Vec<u8>, Vec<u8>) {
    let path = dir.join("whole.log");
    let log = LogFile::open(&path).unwrap();
    for i in 0..3 {
        log.append(Level::Info, format_args!("record {i}")).unwrap();
    }
    let filler = "x".repeat(10_000);
    log.append(Level::Info, format_args!("binary \u{1} {filler}"))
        .unwrap();
    log.close().unwrap();
    let whole = fs::read(&path).unwrap();
    let last = record_spans(&whole)[3].clone();
    let mut torn = whole[last.start..last.end - 30].to_vec();
    torn.extend_from_slice(b"\xff\xfe");
    (whole[..last.start].to_vec(), torn)
}
/// A tmpfs of `size` mounted at `dir` (unmounted on drop), or why not.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Result<Tmpfs, String> {
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
        }
        Ok(Tmpfs(dir.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

/// Fills the filesystem of `dir` with `filler`, then frees `free` bytes.
fn fill_leaving(filler: &Path, free: u64) {
    let mut f = fs::File::create(filler).unwrap();
    let block = vec![0xaa; 4096];
    loop {
        match io::Write::write(&mut f, &block) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::StorageFull => break,
            Err(e) => panic!("filling: {e}"),
        }
    }
    let len = f.metadata().unwrap().len();
    f.set_len(len.saturating_sub(free)).unwrap();
}

#[test]
fn a_really_full_disk_loses_no_torn_byte() {
    let work = tempfile::tempdir().unwrap();
    let (clean, torn) = crashed(work.path());
    let mount = work.path().join("small");
    fs::create_dir(&mount).unwrap();
    let _tmpfs = match Tmpfs::mount(&mount, "256k") {
        Ok(tmpfs) => tmpfs,
        Err(why) => {
            println!("SKIPPED a_really_full_disk_loses_no_torn_byte: cannot mount a tmpfs: {why}");
            return;
        }
    };
    let path = mount.join("full.log");
    let filler = mount.join("filler");
    let crashed = [&clean[..], &torn[..]].concat();
    let (mut journal_full, mut log_full) = (false, false);
    // Leaving 0, 4 KiB, 8 KiB, ... free: the journal does not fit, then the
    // journal fits but the recovery records (twice the bytes, in hex) do not.
    for pages in 0..16 {
        for leftover in [".torn", ".torn.tmp"] {
            let _ = fs::remove_file(beside(&path, leftover));
        }
        let _ = fs::remove_file(&filler);
        fs::write(&path, &crashed).unwrap();
        fill_leaving(&filler, pages * 4096);
        match LogFile::open(&path) {
            Err(Error::Journal {
                step: JournalStep::Write | JournalStep::Create | JournalStep::Commit,
                ..
            }) => {
                journal_full = true;
                assert_eq!(fs::read(&path).unwrap(), crashed, "untouched");
                assert!(!beside(&path, ".torn").exists());
            }
            Err(Error::Io {
                step: Step::Write, ..
            }) => {
                log_full = true;
                assert!(beside(&path, ".torn").exists(), "the journal keeps them");
            }
            Err(e) => panic!("{pages} pages free: {e:?}"),
            Ok(log) => {
                drop(log);
                let _ = fs::remove_file(&filler);
                break;
            }
        }
        fs::remove_file(&filler).unwrap();
        // Room again: every torn byte comes back, exactly once.
        let log = LogFile::open(&path).unwrap();
        assert!(log.recovered().is_some(), "{pages} pages free");
        drop(log);
        assert!(!beside(&path, ".torn").exists());
        let bytes = fs::read(&path).unwrap();
        assert!(bytes.starts_with(&clean));
        let (at, kept) = recovered_bytes(&bytes).unwrap();
        assert_eq!(at, clean.len() as u64);
        assert!(
            kept == torn,
            "{pages} pages free: the torn bytes, exactly once"
        );
        intact(&path);
    }
    assert!(journal_full, "a full disk stopped the journal");
    assert!(log_full, "a full disk stopped the recovery records");
}
