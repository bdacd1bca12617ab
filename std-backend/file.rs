//! The handle of an open log: [`LogFile`], and what its open found
//! ([`Recovered`]).

use std::fmt;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::SystemTime;

use super::flusher::Flusher;
use super::format::{Entry, Formatted};
use super::shared::Shared;
use super::torn::SetAside;
use super::{scratch, Durability, Error, OpenOptions};
use crate::{Head, Level};

/// A torn tail found at open, and what became of it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub struct Recovered {
    /// Where the torn bytes stood in the file (its length without them).
    pub offset: u64,
    /// How many torn bytes there were.
    pub len: usize,
    /// The last recovery record: the chain's head after recovery.
    pub head: Option<Head>,
}

/// An open, locked, tamper-evident log file: each record carries the hash of
/// the one before it.
///
/// Share it between threads by reference (`&LogFile`, `Arc<LogFile>`), or
/// make it the `log` crate's logger ([`install`](Self::install)). Messages are
/// formatted on the calling thread; the lock is held only to seal the record
/// (hashing its ~150-byte tail) and hand it to the OS.
///
/// ```no_run
/// use immutable_log::{std_backend::LogFile, Level};
/// let log = LogFile::open("app.log")?;
/// log.append(Level::Info, format_args!("Application started"))?;
/// log.close()?;
/// # Ok::<(), immutable_log::std_backend::Error>(())
/// ```
pub struct LogFile {
    pub(crate) shared: Arc<Shared>,
    pub(crate) flusher: Option<Flusher>,
    pub(crate) recovered: Option<Recovered>,
    pub(crate) set_aside: Option<SetAside>,
}

impl LogFile {
    /// Opens (or creates) the log at `path` with the default
    /// [`OpenOptions`]: durability `Flush`, the seed's format.
    pub fn open(path: impl AsRef<Path>) -> Result<LogFile, Error> {
        OpenOptions::new().open(path)
    }

    /// Options for opening a log: `LogFile::options().durability(..).open(..)`.
    pub fn options() -> OpenOptions {
        OpenOptions::new()
    }

    /// Appends a record at `level`, formatted by the handler's format; returns
    /// the new head.
    ///
    /// If the write fails, no part of the record is in the file and the head
    /// is where it was before that write. (With `Flush` and `Sync`, records
    /// of threads appending at once go to the OS in one write: if it fails,
    /// every one of them is taken back, the head goes back to the record
    /// before the first of them, and each of their appends returns the
    /// error.) (A keyed log whose key state cannot be stored after
    /// a write keeps the record, and takes no more: [`Error::Broken`];
    /// reopening catches the key state up.) If the `fdatasync` of
    /// [`Durability::Sync`] fails, the record was written but is not known to
    /// be on disk, and the handler takes no more records ([`Error::Broken`]).
    pub fn append(&self, level: Level, message: fmt::Arguments<'_>) -> Result<Head, Error> {
        self.append_entry(Entry::new(SystemTime::now(), level, "", message))
    }

    /// Appends a record for an entry (with its own time and target). The
    /// entry's time is the record's too: the block's `timestamp` and the
    /// format's text come from one clock read.
    pub fn append_entry(&self, entry: Entry<'_>) -> Result<Head, Error> {
        let shared = &*self.shared;
        let mut draft = scratch::take();
        let formatted = Formatted {
            format: &*shared.format,
            entry,
        };
        draft.reformat(entry.level, format_args!("{formatted}"));
        let result = shared.append(&mut draft, entry.time);
        scratch::give_back(draft);
        result
    }

    /// Counts a record as lost; the next record written states how many were
    /// (`"unlogged":N`, under its hash, and `verify` reports the sum).
    ///
    /// For front ends that cannot return an error to their caller (the `log`
    /// facade, the `tracing` layer, a queue that was full): a record they
    /// could not write is then never lost silently. If that next record
    /// cannot be written either, the count carries over to the one after.
    pub fn note_unlogged(&self) {
        self.shared.unlogged.fetch_add(1, Ordering::Relaxed);
    }

    /// The last record appended (`None` while the log is empty).
    pub fn head(&self) -> Option<Head> {
        self.shared.lock().appender.head()
    }

    /// The Merkle tree of the log file's records appended so far, for a
    /// tree checkpoint (`tree_head()?.map(|t| t.checkpoint().to_string())`):
    /// `Ok(None)` while the log has none. Kept only when the log was opened
    /// with [`OpenOptions::keep_tree`](super::OpenOptions::keep_tree); the
    /// error says why there is no tree.
    pub fn tree_head(&self) -> Result<Option<crate::TreeHead>, super::TreeUnknown> {
        // The pen first: a group write in flight holds records whose leaves
        // are neither staged nor with the tree's thread until it is done.
        let _pen = self.shared.pen();
        self.shared.lock().appender.tree_head()
    }

    /// The log file's path.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// The durability chosen at open.
    pub fn durability(&self) -> Durability {
        self.shared.durability
    }

    /// The torn tail found at open, if there was one.
    pub fn recovered(&self) -> Option<Recovered> {
        self.recovered
    }

    /// The torn-tail journal found beside the log at open that proved
    /// nothing, and was renamed instead of replayed (nothing was cut on its
    /// account), if there was one.
    pub fn set_aside(&self) -> Option<&SetAside> {
        self.set_aside.as_ref()
    }

    /// How many `fdatasync` calls this handler has made. With
    /// [`Durability::Sync`], threads appending at once share one.
    pub fn syncs(&self) -> u64 {
        self.shared.group.syncs()
    }

    /// Hands buffered records to the OS (`Durability::Buffered`; the other
    /// durabilities have nothing waiting).
    pub fn flush(&self) -> Result<(), Error> {
        self.shared.flush().map(drop)
    }

    /// Makes every record appended so far durable (`fdatasync`), whatever the
    /// durability.
    pub fn sync(&self) -> Result<(), Error> {
        let (ticket, file) = self.shared.flush()?;
        self.shared.wait_durable(ticket, &file)
    }

    /// Rotates the log now, whatever its size and age, if it was opened with
    /// a [`Rotation`](super::Rotation) and its file holds a record: for a
    /// `SIGHUP` handler, or to start a new file at midnight. A failure
    /// leaves the records where they were (the log goes on in its file) and
    /// is returned.
    pub fn rotate(&self) -> Result<(), Error> {
        // A rotation writes: no group write may run meanwhile.
        let _pen = self.shared.pen();
        let mut state = self.shared.lock();
        if state.rotor.is_none() {
            return Ok(());
        }
        self.shared.rotate_now(&mut state, SystemTime::now());
        match state.rotor.as_mut().and_then(|r| r.take_error()) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// The last failure of a rotation started by an append (creating the
    /// next file, compressing, retention), taken: the append itself
    /// succeeded, in the file that was there. `None` when there was none
    /// since the last call.
    pub fn rotation_error(&self) -> Option<Error> {
        self.shared
            .lock()
            .rotor
            .as_mut()
            .and_then(|r| r.take_error())
    }

    /// Flushes and closes the log, releasing its lock, and reports what drop
    /// would have to ignore.
    pub fn close(self) -> Result<(), Error> {
        self.flush()
    }
}

impl Drop for LogFile {
    fn drop(&mut self) {
        if let Some(mut flusher) = self.flusher.take() {
            flusher.stop();
        }
        // Nowhere to report it; `close` does.
        let _ = self.shared.flush();
    }
}

impl fmt::Debug for LogFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogFile")
            .field("path", &self.shared.path)
            .field("durability", &self.shared.durability)
            .field("head", &self.head())
            .finish_non_exhaustive()
    }
}
