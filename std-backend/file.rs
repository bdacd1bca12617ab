//! The file handler: [`LogFile`], and how to open one ([`OpenOptions`]).
//!
//! (Over 450 lines: the options, the shared state, the key store and the handle; splitting the key store out is left for issue 10.)

use std::fmt;
use std::fs::{self, File, Metadata, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use super::appender::{staging_error, Appender};
use super::flusher::Flusher;
use super::format::{Entry, Format, Formatted, SeedFormat};
use super::group_commit::GroupCommit;
use super::keys::{read_seal_key, store_seal_key};
use super::recovery_fs::{sync_dir_of, RealFs, RecoveryFs};
use super::tail::is_keyed;
use super::torn::{Found, SetAside};
use super::{scratch, Durability, Error, Step, SystemClock, RECORD_CAPACITY};
use crate::{Clock, Draft, Head, Level, SealKey};

/// How to open a [`LogFile`]: durability, message format, buffering.
///
/// ```no_run
/// use immutable_log::std_backend::{Durability, OpenOptions};
/// let log = OpenOptions::new().durability(Durability::Sync).open("audit.log")?;
/// # Ok::<(), immutable_log::std_backend::Error>(())
/// ```
#[derive(Clone)]
pub struct OpenOptions {
    durability: Durability,
    format: Arc<dyn Format>,
    buffer_size: usize,
    flush_interval: Duration,
    seal_key: Option<PathBuf>,
    /// What torn-tail recovery writes through: the filesystem, or a test's
    /// fault injector.
    fs: Arc<dyn RecoveryFs>,
}

impl OpenOptions {
    /// The defaults: [`Durability::Flush`], [`SeedFormat`], and for
    /// `Buffered` a 64 KiB buffer flushed at least every second.
    pub fn new() -> Self {
        OpenOptions {
            durability: Durability::default(),
            format: Arc::new(SeedFormat),
            buffer_size: 64 * 1024,
            flush_interval: Duration::from_secs(1),
            seal_key: None,
            fs: Arc::new(RealFs),
        }
    }

    /// Makes the log a keyed, forward-secure chain sealed with the key state
    /// in the file at `path` (made by [`create_key_pair`](super::create_key_pair)).
    /// Each time records are handed to the OS, they are synced and the evolved
    /// key state replaces the file atomically: the old key is gone from memory
    /// and disk. A key state left behind by a crash catches up at open by
    /// checking the records it has not seen.
    pub fn seal_key(&mut self, path: impl Into<PathBuf>) -> &mut Self {
        self.seal_key = Some(path.into());
        self
    }

    /// When records reach the file.
    pub fn durability(&mut self, durability: Durability) -> &mut Self {
        self.durability = durability;
        self
    }

    /// How a log call becomes a message ([`SeedFormat`] by default).
    pub fn format(&mut self, format: impl Format + 'static) -> &mut Self {
        self.format = Arc::new(format);
        self
    }

    /// For [`Durability::Buffered`]: records are handed to the OS once
    /// `bytes` are waiting, and at least every `interval` (an interval of 0
    /// means every millisecond).
    pub fn buffer(&mut self, bytes: usize, interval: Duration) -> &mut Self {
        self.buffer_size = bytes;
        self.flush_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// Routes the filesystem operations of torn-tail recovery, of writing
    /// records and of rotation through `fs`, for tests that fail or crash the
    /// handler at each of them.
    #[doc(hidden)]
    pub fn recovery_fs(&mut self, fs: Arc<dyn RecoveryFs>) -> &mut Self {
        self.fs = fs;
        self
    }

    /// Opens the log at `path`, creating it if needed, and continues its
    /// chain.
    ///
    /// Takes an exclusive lock on the file for as long as the handler lives
    /// ([`Error::Locked`] if another writer has it). Reads only the tail. A
    /// torn tail (a crash mid-record) is cut off and its bytes written back
    /// inside recovery records ([`LogFile::recovered`]), through a journal
    /// beside the log, `<log>.torn`, so that a crash during the recovery loses
    /// nothing; a journal a crash left behind is replayed if it proves itself
    /// and fits the log, and set aside otherwise ([`LogFile::set_aside`]). A
    /// last record that fails its own check is an error
    /// ([`Error::LastRecord`]).
    pub fn open(&self, path: impl AsRef<Path>) -> Result<LogFile, Error> {
        let path = path.as_ref();
        let (file, metadata) = open_locked(path)?;
        let seal = self.read_seal(&file, path)?;
        let found = Found::read(&*self.fs, &file, path, metadata.len(), seal)?;
        let mut appender = found.appender;
        let keys = KeyStore::new(self.seal_key.clone());
        // A key state that caught up is stored at once.
        keys.keep(&file, path, &mut appender)?;
        let recovered = found.torn.recover(
            &*self.fs,
            &file,
            path,
            &metadata.permissions(),
            &mut appender,
        )?;
        if recovered.is_some() {
            keys.keep(&file, path, &mut appender)?;
        }
        if metadata.len() == 0 && self.durability == Durability::Sync {
            // A new file: its directory entry must be durable too.
            sync_dir_of(path).map_err(|e| Error::io(path, Step::Sync, e))?;
        }
        let shared = Arc::new(Shared {
            path: path.to_path_buf(),
            file,
            durability: self.durability,
            format: Arc::clone(&self.format),
            buffer_size: self.batch_limit(),
            appender: Mutex::new(appender),
            keys,
            group: GroupCommit::default(),
            unlogged: AtomicU64::new(0),
            fs: Arc::clone(&self.fs),
        });
        Ok(LogFile {
            flusher: self.start_flusher(&shared)?,
            shared,
            recovered,
            set_aside: found.set_aside,
        })
    }

    /// The seal key state of a keyed log (`None` for a plain one); a keyed
    /// log opened without its key is refused.
    fn read_seal(&self, file: &File, path: &Path) -> Result<Option<SealKey>, Error> {
        match &self.seal_key {
            Some(key_path) => Ok(Some(read_seal_key(key_path)?)),
            None if is_keyed(&mut &*file, path)? => Err(Error::NeedsSealKey {
                path: path.to_path_buf(),
            }),
            None => Ok(None),
        }
    }

    /// The most staged before records are handed to the OS. A keyed log's
    /// key file may lag one batch behind after a crash; the batch must stay
    /// within what the next open reads back to catch up.
    fn batch_limit(&self) -> usize {
        if self.seal_key.is_some() {
            self.buffer_size.min(KEYED_BATCH_LIMIT)
        } else {
            self.buffer_size
        }
    }

    /// The background flush of [`Durability::Buffered`] (none for the others).
    fn start_flusher(&self, shared: &Arc<Shared>) -> Result<Option<Flusher>, Error> {
        match self.durability {
            Durability::Buffered => {
                let on_time = Arc::clone(shared);
                let flusher = Flusher::spawn(self.flush_interval, move || {
                    // An error here is met again by the next append or flush.
                    let _ = on_time.flush();
                })
                .map_err(|e| Error::io(&shared.path, Step::Open, e))?;
                Ok(Some(flusher))
            }
            Durability::Flush | Durability::Sync => Ok(None),
        }
    }
}

/// Opens (or creates) the log at `path` for appending, takes its lock, and
/// reads its metadata (length, permission bits).
fn open_locked(path: &Path) -> Result<(File, Metadata), Error> {
    let file = fs::OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
        .map_err(|e| Error::io(path, Step::Open, e))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            return Err(Error::Locked {
                path: path.to_path_buf(),
            })
        }
        Err(TryLockError::Error(e)) => return Err(Error::io(path, Step::Lock, e)),
    }
    let metadata = file
        .metadata()
        .map_err(|e| Error::io(path, Step::ReadTail, e))?;
    Ok((file, metadata))
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for OpenOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenOptions")
            .field("durability", &self.durability)
            .field("buffer_size", &self.buffer_size)
            .field("flush_interval", &self.flush_interval)
            .finish_non_exhaustive()
    }
}

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

/// The most a keyed log stages before handing records over: a key file left
/// behind by a crash is at most this (plus one record) behind the log, well
/// within the tail an open reads (`tail::TAIL_LIMIT`).
const KEYED_BATCH_LIMIT: usize = 512 * 1024;

/// Where a keyed log's seal key state lives (nowhere for a plain log).
struct KeyStore {
    path: Option<PathBuf>,
}

impl KeyStore {
    fn new(path: Option<PathBuf>) -> Self {
        KeyStore { path }
    }

    /// After records were handed to the OS: makes them durable, then replaces
    /// the key file with the evolved key state. The key file is never ahead
    /// of the durable log; if it falls behind (a crash between the two), the
    /// next open catches it up.
    ///
    /// A failure of either stops the appender ([`Error::Broken`] from then
    /// on): the records stay in the file, and reopening the log catches the
    /// key state up with them.
    fn keep(&self, file: &File, log: &Path, appender: &mut Appender) -> Result<(), Error> {
        let (Some(path), Some(key)) = (&self.path, appender.seal()) else {
            return Ok(());
        };
        let stored = match file.sync_data() {
            Ok(()) => store_seal_key(path, key).map_err(|e| (Step::StoreKey, e)),
            Err(e) => Err((Step::Sync, Error::io(log, Step::Sync, e))),
        };
        stored.map_err(|(step, e)| {
            appender.set_broken(step);
            e
        })
    }
}

/// What the handler and its flusher thread share.
struct Shared {
    path: PathBuf,
    /// Opened for appending, and locked. Written only under `appender`'s
    /// mutex; synced outside it.
    file: File,
    durability: Durability,
    format: Arc<dyn Format>,
    buffer_size: usize,
    appender: Mutex<Appender>,
    /// A keyed log's key file, replaced under `appender`'s lock.
    keys: KeyStore,
    group: GroupCommit,
    /// Records the `log` facade could not write, reported by the next one.
    unlogged: AtomicU64,
    /// What records are written through: the filesystem, or a test's fault
    /// injector.
    fs: Arc<dyn RecoveryFs>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Appender> {
        // Nothing under this lock panics, so a poisoned appender is whole.
        self.appender.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn broken(&self, step: Step) -> Error {
        Error::Broken {
            path: self.path.clone(),
            step,
        }
    }

    /// Appends a formatted draft: under the lock, seal it (hashing only its
    /// tail) and stage it, and hand it to the OS unless buffering; outside
    /// the lock, wait for a sync covering it (durability `Sync`).
    fn append(&self, draft: &mut Draft<RECORD_CAPACITY>) -> Result<Head, Error> {
        let (head, ticket) = {
            let mut appender = self.lock();
            if let Some(step) = appender.broken() {
                return Err(self.broken(step));
            }
            if self.group.failed() {
                return Err(self.broken(Step::Sync));
            }
            let unlogged = self.unlogged.swap(0, Ordering::Relaxed);
            let mark = appender.mark();
            let result = appender
                .stage(draft, SystemClock.now(), unlogged)
                .map_err(|e| staging_error(&self.path, e))
                .and_then(|head| {
                    let hand_over = self.durability != Durability::Buffered
                        || appender.staged_bytes() >= self.buffer_size;
                    if !hand_over {
                        return Ok((head, None));
                    }
                    let ticket = appender
                        .hand_over(&*self.fs, &self.file)
                        .map_err(|e| Error::io(&self.path, Step::Write, e))?;
                    self.group.written(ticket);
                    Ok((head, Some(ticket)))
                });
            match result {
                Ok(done) => {
                    if done.1.is_some() {
                        self.keys.keep(&self.file, &self.path, &mut appender)?;
                    }
                    done
                }
                Err(e) => {
                    // Nothing of the record stays: not in the file, not staged.
                    appender.unstage(mark);
                    self.unlogged.fetch_add(unlogged, Ordering::Relaxed);
                    return Err(e);
                }
            }
        };
        match ticket {
            Some(ticket) if self.durability == Durability::Sync => self.wait_durable(ticket)?,
            _ => {}
        }
        Ok(head)
    }

    /// Hands staged records to the OS; returns the newest ticket.
    fn flush(&self) -> Result<u64, Error> {
        let mut appender = self.lock();
        if let Some(step) = appender.broken() {
            return Err(self.broken(step));
        }
        let staged = appender.staged_bytes() > 0;
        let ticket = appender
            .hand_over(&*self.fs, &self.file)
            .map_err(|e| Error::io(&self.path, Step::Write, e))?;
        self.group.written(ticket);
        if staged {
            self.keys.keep(&self.file, &self.path, &mut appender)?;
        }
        Ok(ticket)
    }

    fn wait_durable(&self, ticket: u64) -> Result<(), Error> {
        self.group
            .wait_durable(ticket, || self.file.sync_data())
            .map_err(|e| Error::io(&self.path, Step::Sync, e))
    }
}

impl Drop for Shared {
    /// Releases the lock explicitly: a child process forked meanwhile shares
    /// the open file (until it execs), and closing our descriptor alone would
    /// leave the lock held through its copy.
    fn drop(&mut self) {
        // Closing the file right after releases it anyway.
        let _ = self.file.unlock();
    }
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
    shared: Arc<Shared>,
    flusher: Option<Flusher>,
    recovered: Option<Recovered>,
    set_aside: Option<SetAside>,
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
    /// is where it was. (A keyed log whose key state cannot be stored after
    /// a write keeps the record, and takes no more: [`Error::Broken`];
    /// reopening catches the key state up.) If the `fdatasync` of
    /// [`Durability::Sync`] fails, the record was written but is not known to
    /// be on disk, and the handler takes no more records ([`Error::Broken`]).
    pub fn append(&self, level: Level, message: fmt::Arguments<'_>) -> Result<Head, Error> {
        self.append_entry(Entry::new(SystemTime::now(), level, "", message))
    }

    /// Appends a record for an entry (with its own time and target).
    pub fn append_entry(&self, entry: Entry<'_>) -> Result<Head, Error> {
        let shared = &*self.shared;
        let mut draft = scratch::take();
        let formatted = Formatted {
            format: &*shared.format,
            entry,
        };
        draft.reformat(entry.level, format_args!("{formatted}"));
        let result = shared.append(&mut draft);
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
        self.shared.lock().head()
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
        let ticket = self.shared.flush()?;
        self.shared.wait_durable(ticket)
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
