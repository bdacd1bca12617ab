//! The compact log's group write (`Sync`): appenders that stage while a
//! write is in flight are handed over together by one write and one sync, and if that write fails,
//! every one of them hears it and the chain goes on from the file. The
//! first write is held at a gate (no sleeps) while the others stage.
#![cfg(feature = "std")]

use std::fs::{File, Permissions};
use std::io::{self, ErrorKind};
use std::path::Path;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread;

use immutable_log::std_backend::recovery_fs::{RealFs, RecoveryFs};
use immutable_log::std_backend::{verify_compact_path, CompactLog, Durability, OpenOptions};
use immutable_log::{CompactVerdict, Level};

/// The real filesystem; the first write is held until the test says how it
/// ends. Every write's size is kept, and the syncs counted.
#[derive(Debug)]
struct GateFs {
    sizes: Mutex<Vec<usize>>,
    syncs: Mutex<usize>,
    held: Mutex<Sender<()>>,
    release: Mutex<Receiver<Option<ErrorKind>>>,
}

impl GateFs {
    fn new() -> (Arc<GateFs>, Receiver<()>, Sender<Option<ErrorKind>>) {
        let (held, told) = channel();
        let (go, release) = channel();
        let fs = GateFs {
            sizes: Mutex::new(Vec::new()),
            syncs: Mutex::new(0),
            held: Mutex::new(held),
            release: Mutex::new(release),
        };
        (Arc::new(fs), told, go)
    }
}

impl RecoveryFs for GateFs {
    fn create_new(&self, path: &Path, permissions: &Permissions) -> io::Result<File> {
        RealFs.create_new(path, permissions)
    }
    fn write_all(&self, file: &File, bytes: &[u8]) -> io::Result<()> {
        let first = {
            let mut sizes = self.sizes.lock().unwrap();
            sizes.push(bytes.len());
            sizes.len() == 1
        };
        if first {
            self.held.lock().unwrap().send(()).unwrap();
            if let Some(kind) = self.release.lock().unwrap().recv().unwrap() {
                RealFs.write_all(file, &bytes[..bytes.len() / 2])?;
                return Err(io::Error::new(kind, "injected"));
            }
        }
        RealFs.write_all(file, bytes)
    }
    fn sync_all(&self, file: &File) -> io::Result<()> {
        RealFs.sync_all(file)
    }
    fn sync_data(&self, file: &File) -> io::Result<()> {
        *self.syncs.lock().unwrap() += 1;
        RealFs.sync_data(file)
    }
    fn set_len(&self, file: &File, len: u64) -> io::Result<()> {
        RealFs.set_len(file, len)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        RealFs.rename(from, to)
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        RealFs.remove_file(path)
    }
    fn sync_dir_of(&self, path: &Path) -> io::Result<()> {
        RealFs.sync_dir_of(path)
    }
}

/// Appender 0 leads a write held at the gate; appenders 1..=`others` stage
/// behind it; then the gate lets the write end as `outcome` says. Returns
/// each appender's result (`Some(seq)` or `None` for an error).
fn held_write(
    log: &CompactLog,
    told: &Receiver<()>,
    go: &Sender<Option<ErrorKind>>,
    others: u64,
    outcome: Option<ErrorKind>,
) -> Vec<Option<u64>> {
    thread::scope(|s| {
        let first = s.spawn(|| log.append(Level::Info, format_args!("leader")).ok());
        told.recv().unwrap();
        let rest: Vec<_> = (1..=others)
            .map(|i| s.spawn(move || log.append(Level::Info, format_args!("follower {i}")).ok()))
            .collect();
        // Every follower has staged its record (the head counts staged
        // records) before the held write ends.
        while log.head().map(|h| h.seq) != Some(others) {
            thread::yield_now();
        }
        go.send(outcome).unwrap();
        std::iter::once(first)
            .chain(rest)
            .map(|h| h.join().unwrap().map(|head| head.seq))
            .collect()
    })
}

#[test]
fn records_staged_during_a_write_share_the_next_one() {
    let durability = Durability::Sync;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.bin");
    let (fs, told, go) = GateFs::new();
    let log = OpenOptions::new()
        .durability(durability)
        .recovery_fs(fs.clone())
        .open_compact(&path)
        .unwrap();
    let seqs = held_write(&log, &told, &go, 5, None);
    assert!(seqs.iter().all(Option::is_some), "{seqs:?}");
    // The leader's record alone, then the five others in one write.
    assert_eq!(fs.sizes.lock().unwrap().len(), 2, "{durability}");
    assert_eq!(*fs.syncs.lock().unwrap(), 2);
    drop(log);
    match verify_compact_path(&path, false).unwrap() {
        CompactVerdict::Intact(report) => assert_eq!(report.records, 6),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_failed_group_write_is_heard_by_every_appender_it_took_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.bin");
    let (fs, told, go) = GateFs::new();
    let log = OpenOptions::new()
        .durability(Durability::Sync)
        .recovery_fs(fs.clone())
        .open_compact(&path)
        .unwrap();
    let seqs = held_write(&log, &told, &go, 4, Some(ErrorKind::StorageFull));
    // The leader's record failed; the four staged after it chained on it,
    // so they are taken back too: all five hear the error.
    assert_eq!(seqs, vec![None; 5]);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 0, "cut back");
    assert_eq!(log.head(), None);
    assert_eq!(
        log.append(Level::Info, format_args!("after")).unwrap().seq,
        0
    );
    drop(log);
    match verify_compact_path(&path, false).unwrap() {
        CompactVerdict::Intact(report) => assert_eq!(report.records, 1),
        other => panic!("{other:?}"),
    }
}
