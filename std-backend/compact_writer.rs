//! The compact log's chain under its lock: a record staged (its frame, and a
//! sync record's every 16), then handed to the OS: under the lock at once
//! for `Flush`; by the buffer or the flusher for `Buffered`; for `Sync`, by
//! a group write. The first appender to find no write in flight takes every
//! staged frame, writes and syncs them outside the lock, while the others
//! stage theirs and wait: one `fdatasync` for many threads' records.
//!
//! `Flush` does not use the group write: measured on 2 cores at 8 and 500
//! threads, a `write(2)` of a ~90-byte frame under the lock (a thread keeps
//! the lock for its next record) beat waking each appender after a shared
//! write; an `fdatasync` is slow enough that sharing it wins.
//!
//! (Over 450 lines: one job, the chain under its lock, whose staging, buffered write and group write share one state.)

use std::collections::VecDeque;
use std::fmt::{self, Write as _};
use std::fs::File;
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use super::recovery_fs::RecoveryFs;
use super::{Durability, Error, Step};
use crate::compact::cobs::encode_into;
use crate::compact::state::{advance, message_digest};
use crate::compact::wire::{leb128, level_code, KIND_SYNC, TRUNCATED};
use crate::compact::{CompactHead, DEFAULT_SYNC_EVERY, MAX_COMPACT_MESSAGE, PLAIN_TAG};
use crate::{Hash, Level};

/// What the handle and its flusher share.
pub(crate) struct Shared {
    pub(crate) path: PathBuf,
    pub(crate) durability: Durability,
    buffer_size: usize,
    fs: Arc<dyn RecoveryFs>,
    /// The log, locked for as long as the handler lives; written with
    /// `&File` (appends: the file was opened with `append`).
    pub(crate) file: File,
    state: Mutex<Writer>,
    /// A group write ended: appenders wait on the one of their batch's
    /// parity, so that the end of a batch wakes its own appenders (and one of
    /// the next batch's, to lead it), not every thread waiting.
    written: [Condvar; 2],
}

/// Where the chain stands.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Link {
    pub(crate) state: [u8; 32],
    pub(crate) next: u64,
    pub(crate) since_sync: u32,
    /// The last record's `seq` (not `next - 1` after a gap a recovery states).
    pub(crate) last: Option<u64>,
}

/// Where the staging stood before a record: a record whose write fails is
/// taken back to here.
struct Mark {
    staged: usize,
    link: Link,
}

/// The chain under the lock: staged frames, and where the file ends.
pub(crate) struct Writer {
    /// The chain after the last staged record.
    link: Link,
    /// The chain after the last record in the file (a failed write goes back here).
    written: Link,
    /// Length of the file.
    len: u64,
    /// Frames not yet handed to the OS.
    staged: Vec<u8>,
    /// Records staged in all (the last one's ticket).
    staged_total: u64,
    /// Records handed to the OS in all (on disk, for `Sync`).
    written_total: u64,
    /// Records written or taken back by a failed group write, in all: the
    /// appenders of those after it hear the next failure.
    resolved: u64,
    /// A group write is in flight: its leader holds the frames.
    writing: bool,
    /// Group writes begun: a record staged now goes in batch `taken + 1`.
    taken: u64,
    /// The buffer a group write hands back, for the next batch.
    spare: Vec<u8>,
    /// Group writes that failed, not yet heard by all their appenders; the
    /// first is failure number `first_loss`.
    losses: VecDeque<Loss>,
    first_loss: u64,
    /// A failure that could not be undone.
    broken: Option<Step>,
}

/// A failed group write: the records after ticket `written` were taken back.
struct Loss {
    written: u64,
    /// Their appenders that have not heard yet.
    unheard: u64,
    kind: io::ErrorKind,
    message: String,
}

impl Writer {
    /// Failures so far: an appender notes it when it stages.
    fn generation(&self) -> u64 {
        self.first_loss + self.losses.len() as u64
    }
}

/// A message formatted into [`MAX_COMPACT_MESSAGE`] bytes, cut at a character boundary.
struct Message {
    bytes: [u8; MAX_COMPACT_MESSAGE],
    len: usize,
    truncated: bool,
}

impl fmt::Write for Message {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.truncated {
            return Ok(());
        }
        let room = MAX_COMPACT_MESSAGE - self.len;
        let mut cut = s.len().min(room);
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        let src = s.as_bytes().get(..cut).unwrap_or_default();
        if let Some(dst) = self.bytes.get_mut(self.len..self.len + cut) {
            dst.copy_from_slice(src);
            self.len += cut;
        }
        self.truncated = cut < s.len();
        Ok(())
    }
}

impl Message {
    fn format(args: fmt::Arguments<'_>) -> Message {
        let mut m = Message {
            bytes: [0; MAX_COMPACT_MESSAGE],
            len: 0,
            truncated: false,
        };
        let written = match args.as_str() {
            Some(s) => m.write_str(s),
            None => m.write_fmt(args),
        };
        if written.is_err() {
            m.truncated = true;
        }
        m
    }

    fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }
}

/// The longest record payload: head, two LEB128 numbers, message, tag.
pub(crate) const MAX_PAYLOAD: usize = 1 + 2 * 10 + MAX_COMPACT_MESSAGE + PLAIN_TAG;

/// A payload built in place.
struct Payload {
    bytes: [u8; MAX_PAYLOAD],
    len: usize,
}

impl Payload {
    fn new() -> Payload {
        Payload {
            bytes: [0; MAX_PAYLOAD],
            len: 0,
        }
    }

    fn put(&mut self, bytes: &[u8]) {
        if let Some(dst) = self.bytes.get_mut(self.len..self.len + bytes.len()) {
            dst.copy_from_slice(bytes);
            self.len += bytes.len();
        }
    }

    fn number(&mut self, n: u64) {
        let mut buf = [0u8; 10];
        let len = leb128(n, &mut buf);
        self.put(buf.get(..len).unwrap_or_default());
    }

    fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }
}

/// Appends a sync record's frame: the chain state before record `next`.
pub(crate) fn put_sync(out: &mut Vec<u8>, next: u64, state: &[u8; 32]) {
    let mut p = Payload::new();
    p.put(&[KIND_SYNC]);
    p.number(next);
    p.put(state);
    encode_into(p.as_bytes(), out);
}

/// Microseconds since the Unix epoch (0 before it).
pub(crate) fn now_us() -> u64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    since
        .as_secs()
        .saturating_mul(1_000_000)
        .saturating_add(u64::from(since.subsec_micros()))
}

impl Shared {
    /// The writer of a log whose file is `len` bytes long and whose chain
    /// stands at `link`.
    pub(crate) fn new(
        path: PathBuf,
        durability: Durability,
        buffer_size: usize,
        fs: Arc<dyn RecoveryFs>,
        file: File,
        link: Link,
        len: u64,
    ) -> Shared {
        Shared {
            path,
            durability,
            buffer_size,
            fs,
            file,
            state: Mutex::new(Writer {
                link,
                written: link,
                len,
                staged: Vec::with_capacity(buffer_size.min(1 << 20) + 512),
                staged_total: 0,
                written_total: 0,
                resolved: 0,
                writing: false,
                taken: 0,
                spare: Vec::new(),
                losses: VecDeque::new(),
                first_loss: 0,
                broken: None,
            }),
            written: [Condvar::new(), Condvar::new()],
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Writer> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn broken(&self, step: Step) -> Error {
        Error::Broken {
            path: self.path.clone(),
            step,
        }
    }

    /// The last record staged.
    pub(crate) fn head(&self) -> Option<CompactHead> {
        let w = self.lock();
        w.link.last.map(|seq| CompactHead {
            seq,
            state: Hash::from_bytes(w.link.state),
        })
    }

    /// Waits for a group write in flight to end.
    fn settle<'a>(&self, mut w: MutexGuard<'a, Writer>) -> MutexGuard<'a, Writer> {
        while w.writing {
            w = self
                .batch(w.taken)
                .wait(w)
                .unwrap_or_else(PoisonError::into_inner);
        }
        w
    }

    /// What the appenders of batch `n` wait on.
    fn batch(&self, n: u64) -> &Condvar {
        // One of two, by parity: no index to go out of bounds.
        let [even, odd] = &self.written;
        if n.is_multiple_of(2) {
            even
        } else {
            odd
        }
    }

    /// Wakes every waiting appender.
    fn wake_all(&self) {
        for condvar in &self.written {
            condvar.notify_all();
        }
    }

    /// Hands the staged frames to the OS under the lock (after any group
    /// write in flight), and with `Sync` to the disk before any appender of
    /// them is told. A failed write is cut back off the file and the records
    /// stay staged (an appender takes its own back); if the cut fails too,
    /// the log is broken. A failed sync breaks the log, as in a group write:
    /// whether the records reached the disk is unknown, and their appenders
    /// hear the error.
    pub(crate) fn write<'a>(
        &self,
        w: MutexGuard<'a, Writer>,
    ) -> (MutexGuard<'a, Writer>, Result<(), Error>) {
        let mut w = self.settle(w);
        if let Some(step) = w.broken {
            return (w, Err(self.broken(step)));
        }
        if w.staged.is_empty() {
            return (w, Ok(()));
        }
        let sync = self.durability == Durability::Sync;
        if let Err(e) = self.fs.write_all(&self.file, &w.staged) {
            if self.fs.set_len(&self.file, w.len).is_err() {
                w.broken = Some(Step::Cut);
            }
            if sync {
                // The appenders of these records wait: one leads them again,
                // or, if the log is broken, each hears it.
                self.wake_all();
            }
            return (w, Err(Error::io(&self.path, Step::Write, e)));
        }
        w.len += w.staged.len() as u64;
        w.written = w.link;
        w.staged.clear();
        if sync {
            if let Err(e) = self.fs.sync_data(&self.file) {
                // Written, but whether it reached the disk is unknown.
                w.broken = Some(Step::Sync);
                self.wake_all();
                return (w, Err(Error::io(&self.path, Step::Sync, e)));
            }
        }
        w.written_total = w.staged_total;
        if sync {
            // Appenders of the next batch whose records this wrote (only
            // `Sync` has any: a wake is a system call).
            self.wake_all();
        }
        (w, Ok(()))
    }

    /// Hands buffered records to the OS (and, with `Sync`, to the disk:
    /// records a group write handed over are already there).
    pub(crate) fn flush(&self) -> Result<(), Error> {
        let (_w, result) = self.write(self.lock());
        result
    }

    pub(crate) fn append(
        &self,
        level: Level,
        args: fmt::Arguments<'_>,
    ) -> Result<CompactHead, Error> {
        // Formatted and hashed before the lock.
        let message = Message::format(args);
        let mut head = level_code(level);
        if message.truncated {
            head |= TRUNCATED;
        }
        let digest = message_digest(head, message.as_bytes());
        let mut w = self.lock();
        if let Some(step) = w.broken {
            return Err(self.broken(step));
        }
        // Where to go back to if this record's write fails.
        let mark = Mark {
            staged: w.staged.len(),
            link: w.link,
        };
        let time_us = now_us();
        let seq = w.link.next;
        // No record is ever lost unreported (a failed append's caller is
        // told): `unlogged` is always 0, and the field absent.
        let state = advance(&w.link.state, &digest, seq, time_us, 0);
        let mut p = Payload::new();
        p.put(&[head]);
        p.number(seq);
        p.number(time_us);
        p.put(message.as_bytes());
        p.put(state.get(..PLAIN_TAG).unwrap_or_default());
        encode_into(p.as_bytes(), &mut w.staged);
        let next = seq.saturating_add(1);
        let since_sync = w.link.since_sync.saturating_add(1);
        let sync_due = since_sync >= DEFAULT_SYNC_EVERY;
        if sync_due {
            put_sync(&mut w.staged, next, &state);
        }
        w.link = Link {
            state,
            next,
            since_sync: if sync_due { 0 } else { since_sync },
            last: Some(seq),
        };
        w.staged_total += 1;
        let appended = CompactHead {
            seq,
            state: Hash::from_bytes(state),
        };
        if self.durability == Durability::Sync {
            let ticket = w.staged_total;
            let generation = w.generation();
            let batch = w.taken + 1;
            return self
                .group_write(w, ticket, generation, batch)
                .map(|()| appended);
        }
        if self.durability == Durability::Flush || w.staged.len() >= self.buffer_size {
            let (mut w, result) = self.write(w);
            if let Err(e) = result {
                // Nothing of this record stays: not in the file, not staged.
                // Records staged before it stay, for the next write.
                if w.broken.is_none() {
                    w.staged.truncate(mark.staged);
                    w.staged_total -= 1;
                    w.link = mark.link;
                }
                return Err(e);
            }
        }
        Ok(appended)
    }

    /// Returns once the record with `ticket` (staged at failure number
    /// `generation`) is in the OS's hands (on disk, for `Sync`): written by
    /// this thread, leading a group write of every staged frame, or by
    /// another's.
    fn group_write<'a>(
        &'a self,
        mut w: MutexGuard<'a, Writer>,
        ticket: u64,
        generation: u64,
        batch: u64,
    ) -> Result<(), Error> {
        loop {
            if let Some(e) = self.hear(&mut w, ticket, generation) {
                return e;
            }
            if w.written_total >= ticket {
                return Ok(());
            }
            if let Some(step) = w.broken {
                return Err(self.broken(step));
            }
            if w.writing {
                w = self
                    .batch(batch)
                    .wait(w)
                    .unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            w = self.lead(w);
        }
    }

    /// A failure since `generation` that took `ticket` back: its error, heard
    /// once; or `Ok` if `ticket` was written before it.
    fn hear(&self, w: &mut Writer, ticket: u64, generation: u64) -> Option<Result<(), Error>> {
        if w.generation() <= generation {
            return None;
        }
        let at = usize::try_from(generation.checked_sub(w.first_loss)?).ok()?;
        let loss = w.losses.get_mut(at)?;
        if ticket <= loss.written {
            return Some(Ok(()));
        }
        loss.unheard = loss.unheard.saturating_sub(1);
        let error = io::Error::new(loss.kind, loss.message.clone());
        while w.losses.front().is_some_and(|l| l.unheard == 0) {
            w.losses.pop_front();
            w.first_loss += 1;
        }
        Some(Err(Error::io(&self.path, Step::Write, error)))
    }

    /// Writes every staged frame (and syncs, for `Sync`) outside the lock,
    /// then wakes the waiting appenders. A failed write is cut back off the
    /// file, and its records and every record staged after them (they
    /// chain on them) are taken back: each appender hears the error.
    fn lead<'a>(&'a self, mut w: MutexGuard<'a, Writer>) -> MutexGuard<'a, Writer> {
        let spare = std::mem::take(&mut w.spare);
        let batch = std::mem::replace(&mut w.staged, spare);
        let (last, link) = (w.staged_total, w.link);
        w.writing = true;
        w.taken += 1;
        let n = w.taken;
        drop(w);
        let result = self
            .fs
            .write_all(&self.file, &batch)
            .map_err(|e| (Step::Write, e))
            .and_then(|()| match self.durability {
                Durability::Sync => self.fs.sync_data(&self.file).map_err(|e| (Step::Sync, e)),
                _ => Ok(()),
            });
        let mut w = self.lock();
        w.writing = false;
        // A failure wakes every appender: those of the next batch hear it too.
        let failed = result.is_err();
        match result {
            Ok(()) => {
                w.len += batch.len() as u64;
                w.written = link;
                w.written_total = last;
            }
            Err((Step::Sync, _)) => {
                // Written, but whether it reached the disk is unknown.
                w.len += batch.len() as u64;
                w.written = link;
                w.broken = Some(Step::Sync);
            }
            Err((_, e)) => {
                if self.fs.set_len(&self.file, w.len).is_err() {
                    w.broken = Some(Step::Cut);
                }
                // The records after the last one written or taken back
                // before: earlier failures' appenders hear those.
                let written = w.written_total;
                let unheard = w.staged_total - written.max(w.resolved);
                w.resolved = w.staged_total;
                w.losses.push_back(Loss {
                    written,
                    unheard,
                    kind: e.kind(),
                    message: e.to_string(),
                });
                w.link = w.written;
                w.staged.clear();
            }
        }
        let mut batch = batch;
        batch.clear();
        w.spare = batch;
        if failed {
            self.wake_all();
        } else {
            // This batch's appenders, and one of the next to lead it.
            self.batch(n).notify_all();
            self.batch(n + 1).notify_one();
        }
        w
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::std_backend::recovery_fs::RealFs;
    use std::fs::Permissions;
    use std::path::Path;
    use std::sync::mpsc::channel;
    use std::thread;
    use std::time::Duration;

    /// The real filesystem, with writes, cuts (`set_len`) or syncs failing.
    #[derive(Debug, Default)]
    struct Failing {
        write: bool,
        cut: bool,
        sync: bool,
    }

    fn injected() -> io::Error {
        io::Error::new(io::ErrorKind::StorageFull, "injected")
    }

    impl RecoveryFs for Failing {
        fn create_new(&self, path: &Path, permissions: &Permissions) -> io::Result<File> {
            RealFs.create_new(path, permissions)
        }
        fn write_all(&self, file: &File, bytes: &[u8]) -> io::Result<()> {
            if self.write {
                return Err(injected());
            }
            RealFs.write_all(file, bytes)
        }
        fn sync_all(&self, file: &File) -> io::Result<()> {
            RealFs.sync_all(file)
        }
        fn sync_data(&self, file: &File) -> io::Result<()> {
            if self.sync {
                return Err(injected());
            }
            RealFs.sync_data(file)
        }
        fn set_len(&self, file: &File, len: u64) -> io::Result<()> {
            if self.cut {
                return Err(injected());
            }
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

    /// A new, empty `Sync` log in `dir` over `fs`.
    fn sync_log(dir: &Path, fs: Failing) -> Arc<Shared> {
        let path = dir.join("c.bin");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap();
        let link = Link {
            state: [0; 32],
            next: 0,
            since_sync: 0,
            last: None,
        };
        Arc::new(Shared::new(
            path,
            Durability::Sync,
            4096,
            Arc::new(fs),
            file,
            link,
            0,
        ))
    }

    /// One `Sync` appender stages its record while a group write is (said
    /// to be) in flight, so it waits; then `flush()` writes that record under
    /// the lock. Returns the appender's result and `flush()`'s. An appender
    /// never woken fails the test after a bound (a detached thread: the
    /// test does not wait for it), not a sleep.
    fn flushed_by_another(log: &Arc<Shared>) -> (Result<CompactHead, Error>, Result<(), Error>) {
        log.lock().writing = true;
        let (done, result) = channel();
        let appender = Arc::clone(log);
        thread::spawn(move || {
            let _ = done.send(appender.append(Level::Info, format_args!("waits")));
        });
        // Staged: the appender now waits for the write in flight.
        while log.lock().staged_total != 1 {
            thread::yield_now();
        }
        log.lock().writing = false;
        let flushed = log.flush();
        let appended = result
            .recv_timeout(Duration::from_secs(30))
            .expect("the appender was never woken");
        (appended, flushed)
    }

    #[test]
    fn a_sync_append_written_by_flush_hears_that_its_sync_failed() {
        let dir = tempfile::tempdir().unwrap();
        let log = sync_log(
            dir.path(),
            Failing {
                sync: true,
                ..Failing::default()
            },
        );
        let (appended, flushed) = flushed_by_another(&log);
        assert!(
            matches!(
                flushed,
                Err(Error::Io {
                    step: Step::Sync,
                    ..
                })
            ),
            "{flushed:?}"
        );
        // Its record was written but is not known to be on disk.
        assert!(appended.is_err(), "Ok for a record whose sync failed");
        let after = log.append(Level::Info, format_args!("after"));
        assert!(
            matches!(
                after,
                Err(Error::Broken {
                    step: Step::Sync,
                    ..
                })
            ),
            "{after:?}"
        );
    }

    #[test]
    fn a_flush_whose_write_cannot_be_cut_back_wakes_the_waiting_appenders() {
        let dir = tempfile::tempdir().unwrap();
        let log = sync_log(
            dir.path(),
            Failing {
                write: true,
                cut: true,
                ..Failing::default()
            },
        );
        let (appended, flushed) = flushed_by_another(&log);
        assert!(
            matches!(
                flushed,
                Err(Error::Io {
                    step: Step::Write,
                    ..
                })
            ),
            "{flushed:?}"
        );
        assert!(
            matches!(
                appended,
                Err(Error::Broken {
                    step: Step::Cut,
                    ..
                })
            ),
            "{appended:?}"
        );
    }

    #[test]
    fn a_failed_group_write_is_forgotten_once_each_appender_heard_it() {
        let dir = tempfile::tempdir().unwrap();
        let log = sync_log(
            dir.path(),
            Failing {
                write: true,
                ..Failing::default()
            },
        );
        for _ in 0..5 {
            assert!(log.append(Level::Info, format_args!("x")).is_err());
        }
        let w = log.lock();
        let unheard: Vec<u64> = w.losses.iter().map(|l| l.unheard).collect();
        assert!(unheard.is_empty(), "kept, unheard: {unheard:?}");
    }
}
