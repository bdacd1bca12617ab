//! How to open a [`LogFile`]: [`OpenOptions`], and the steps of an open.

use std::fmt;
use std::fs::{self, File, Metadata, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::compact_file::{CompactLog, CompactOption, CompactSettings};
use super::flusher::Flusher;
use super::format::{Format, SeedFormat};
use super::key_store::{KeyStore, KEYED_BATCH_LIMIT};
use super::keys::read_seal_key;
use super::recovery_fs::{sync_dir_of, RealFs, RecoveryFs};
use super::rotate::{clean_up, continue_set};
use super::rotation::{Rotation, Rotor};
use super::shared::{Shared, State};
use super::tail::is_keyed;
use super::torn::Found;
use super::{Durability, Error, LogFile, Step};
use crate::SealKey;

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
    rotation: Option<Rotation>,
    keep_tree: bool,
    /// A format was set: a compact log refuses it.
    custom_format: bool,
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
            format: Arc::new(SeedFormat::local()),
            buffer_size: 64 * 1024,
            flush_interval: Duration::from_secs(1),
            seal_key: None,
            rotation: None,
            keep_tree: false,
            custom_format: false,
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

    /// Rotates the log by size, age or both, keeping the chain across its
    /// files, and prunes and compresses rotated files ([`Rotation`]). Open a
    /// rotated log with the same rotation each time: an open with rotation
    /// also finishes a rotation a crash cut short.
    pub fn rotate(&mut self, rotation: Rotation) -> &mut Self {
        self.rotation = Some(rotation).filter(|r| *r != Rotation::default());
        self
    }

    /// Keeps the log's Merkle tree (its right edge) as records are
    /// appended, in `<log>.edge` beside it, so that
    /// [`LogFile::tree_head`](super::LogFile::tree_head) gives a tree
    /// checkpoint of the live log without reading it. Staging a record keeps
    /// its digest (no hashing); the node hashes are computed a batch at a
    /// time when records are handed to the OS. Restored at open from the
    /// edge file in O(1) of the log's size; a stale edge is detected and the
    /// tree left unknown, never wrong (see [`TreeUnknown`](super::TreeUnknown)).
    /// With rotation, the tree is unknown after the first rotation
    /// ([`TreeUnknown::Rotated`](super::TreeUnknown::Rotated), then `Stale` at later opens: the edge file
    /// names the rotated file).
    pub fn keep_tree(&mut self, keep: bool) -> &mut Self {
        self.keep_tree = keep;
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
        self.custom_format = true;
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
        if self.rotation.is_some() && self.seal_key.is_some() {
            return Err(Error::KeyedRotation {
                path: path.to_path_buf(),
            });
        }
        let (file, metadata) = open_locked(path)?;
        if self.rotation.is_some() {
            clean_up(&*self.fs, path)?;
        }
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
        if self.rotation.is_some() && metadata.len() == 0 && appender.head().is_none() {
            // A crash between a rotation's two renames: the set goes on.
            if let Some(continued) = continue_set(&*self.fs, path, &file, SystemTime::now())? {
                appender = continued;
            }
        }
        if self.keep_tree {
            appender.keep_tree(path);
        }
        if metadata.len() == 0 && self.durability == Durability::Sync {
            // A new file: its directory entry must be durable too.
            sync_dir_of(path).map_err(|e| Error::io(path, Step::Sync, e))?;
        }
        let state = State {
            appender,
            file: Arc::new(file),
            rotor: self
                .rotation
                .clone()
                .map(|policy| Rotor::at_open(policy, path)),
        };
        let shared = Arc::new(Shared::new(
            path.to_path_buf(),
            self.durability,
            Arc::clone(&self.format),
            self.batch_limit(),
            state,
            keys,
            Arc::clone(&self.fs),
        ));
        Ok(LogFile {
            flusher: self.start_flusher(&shared)?,
            shared,
            recovered,
            set_aside: found.set_aside,
        })
    }

    /// Opens the log at `path` in the compact encoding (a [`CompactLog`]),
    /// creating it if needed, and continues its chain from its end. The
    /// durability, buffer and flush interval apply as to a text log. A seal
    /// key, rotation, `keep_tree` and a message format are refused
    /// ([`Error::CompactUnsupported`]); a text log is refused
    /// ([`Error::NotCompact`]). A torn tail is kept in place, ended with a
    /// zero and followed by a sync record that skips its `seq`
    /// ([`CompactLog::recovered`]): `verify` then reports that one `seq` as
    /// a gap (incomplete), never as intact. Unreadable frames at the end are
    /// kept and reported the same way; one followed by anything but such a
    /// sync is refused ([`Error::CompactTail`]), the log not extended.
    pub fn open_compact(&self, path: impl AsRef<Path>) -> Result<CompactLog, Error> {
        let path = path.as_ref();
        let refused = [
            (self.seal_key.is_some(), CompactOption::SealKey),
            (self.rotation.is_some(), CompactOption::Rotation),
            (self.keep_tree, CompactOption::KeepTree),
            (self.custom_format, CompactOption::Format),
        ];
        if let Some(&(_, option)) = refused.iter().find(|(set, _)| *set) {
            let path = path.to_path_buf();
            return Err(Error::CompactUnsupported { path, option });
        }
        let (file, metadata) = open_locked(path)?;
        let settings = CompactSettings {
            path,
            durability: self.durability,
            buffer_size: self.buffer_size,
            flush_interval: self.flush_interval,
            fs: Arc::clone(&self.fs),
        };
        super::compact_file::open(file, metadata.len(), settings)
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
        .map_err(|e| match fs::metadata(path) {
            // A directory cannot be opened for writing: say what it is.
            Ok(meta) if !meta.is_file() => Error::NotRegularFile {
                path: path.to_path_buf(),
            },
            _ => Error::io(path, Step::Open, e),
        })?;
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
    if !metadata.is_file() {
        return Err(Error::NotRegularFile {
            path: path.to_path_buf(),
        });
    }
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
            .field("rotation", &self.rotation)
            .finish_non_exhaustive()
    }
}
