//! A log file in the compact encoding (FORMAT.md, "The compact encoding"):
//! [`CompactLog`], opened by [`OpenOptions::open_compact`](super::OpenOptions::open_compact).
//!
//! A type of its own, not a mode of [`LogFile`](super::LogFile): the text
//! handler's display line, keyed chains, tree, rotation and journaled
//! recovery are all built on text records, and none of them has a compact
//! form yet; a separate type refuses them at open in one place.
//!
//! Each record is one COBS frame, about 13–22 bytes beyond its message (the
//! head byte, `seq`, time in µs, the message, an 8-byte tag cut from the
//! chain state), the chain state advanced by one SHA-256 compression; a sync
//! record every [`DEFAULT_SYNC_EVERY`](crate::compact::DEFAULT_SYNC_EVERY)
//! records carries the whole state.
//! `immutable-log verify FILE` and [`verify_compact_path`](super::verify_compact_path)
//! read it.

use std::fmt;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::compact_tail::{read_tail, Tail};
use super::compact_writer::{put_sync, Link, Shared};
use super::flusher::Flusher;
use super::recovery_fs::{sync_dir_of, RecoveryFs};
use super::{Durability, Error, Step};
use crate::compact::CompactHead;
use crate::Level;

/// An option of [`OpenOptions`](super::OpenOptions) that a compact log does
/// not support ([`Error::CompactUnsupported`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum CompactOption {
    /// [`seal_key`](super::OpenOptions::seal_key): the host writes plain
    /// compact chains only (firmware writes keyed ones).
    SealKey,
    /// [`rotate`](super::OpenOptions::rotate): rotation's records and set
    /// verification are text records.
    Rotation,
    /// [`keep_tree`](super::OpenOptions::keep_tree): the Merkle tree's leaves
    /// are text records.
    KeepTree,
    /// [`format`](super::OpenOptions::format): a compact record keeps the
    /// level and time as fields and the message as written; there is no
    /// message text to format.
    Format,
}

impl fmt::Display for CompactOption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CompactOption::SealKey => "a seal key (keyed chains)",
            CompactOption::Rotation => "rotation",
            CompactOption::KeepTree => "keep_tree (the Merkle tree)",
            CompactOption::Format => "a message format",
        })
    }
}

/// What [`OpenOptions::open_compact`](super::OpenOptions::open_compact) passes on.
pub(crate) struct CompactSettings<'a> {
    pub(crate) path: &'a Path,
    pub(crate) durability: Durability,
    pub(crate) buffer_size: usize,
    pub(crate) flush_interval: Duration,
    pub(crate) fs: Arc<dyn RecoveryFs>,
}

/// A torn tail an open found and kept: ended with a zero, so it reads as one
/// frame that cannot be read, and followed by a sync record that states the
/// chain state with the `seq` it may have held skipped (a gap of one `seq`:
/// `verify` says incomplete). Its bytes stay where they were. Frames that
/// cannot be read at the log's end (a torn tail an earlier open ended with a
/// zero but whose sync did not follow, or a changed last record: the two
/// look alike) are kept and reported the same way, `len` counting their zeros.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub struct CompactRecovered {
    /// Where the torn bytes start in the file.
    pub offset: u64,
    /// How many there are.
    pub len: u64,
    /// The `seq` skipped (the torn record's, if it was one).
    pub skipped: u64,
}

/// A log file in the compact encoding, written by many threads (`Sync`).
///
/// ```
/// use immutable_log::std_backend::{verify_compact_path, Durability, OpenOptions};
/// use immutable_log::{CompactVerdict, Level};
///
/// let path = std::env::temp_dir().join(format!("compact-doc-{}.bin", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// let log = OpenOptions::new().durability(Durability::Buffered).open_compact(&path)?;
/// log.append(Level::Info, format_args!("adc ch{} = {} mV", 3, 1234))?;
/// log.close()?;
///
/// // Reopening continues the chain from the file's end.
/// let log = OpenOptions::new().open_compact(&path)?;
/// assert_eq!(log.head().map(|h| h.seq), Some(0));
/// log.append(Level::Warning, format_args!("battery low"))?;
/// log.close()?;
///
/// match verify_compact_path(&path, false)? {
///     CompactVerdict::Intact(report) => assert_eq!(report.records, 2),
///     other => panic!("{other:?}"),
/// }
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Durability is [`Durability`]'s: `Flush` hands each record to the OS
/// (one `write`) before `append` returns, `Sync` also `fdatasync`s it,
/// `Buffered` collects records and hands them over by size, by time (a
/// background thread), on [`flush`](Self::flush) and on drop. `Flush`
/// writes under the log's lock; `Sync` appenders that come while a write is
/// in flight share the next `write` and `fdatasync` (group commit).
///
/// A reopened log continues from its end: read back to a sync record (at
/// most [`COMPACT_TAIL_LIMIT`](super::COMPACT_TAIL_LIMIT) bytes), each record's
/// tag checked from it ([`Error::CompactTail`] if one fails). A torn tail
/// is kept ([`recovered`](Self::recovered)).
///
/// Messages are cut at [`MAX_COMPACT_MESSAGE`](crate::compact::MAX_COMPACT_MESSAGE)
/// bytes (a character boundary) and marked truncated. A write that fails is cut back off the file: the
/// record whose append fails is taken back (its `seq` goes to the next
/// record), records buffered before it stay buffered for the next write. If
/// the cut fails too, or an `fdatasync` fails, the log refuses further
/// records ([`Error::Broken`]) until reopened.
///
/// Not supported (refused at open, [`Error::CompactUnsupported`]): keyed
/// chains, rotation, `keep_tree`, a message [`Format`](super::Format). The
/// `log` and `tracing` front ends write a [`LogFile`](super::LogFile).
pub struct CompactLog {
    shared: Arc<Shared>,
    flusher: Option<Flusher>,
    recovered: Option<CompactRecovered>,
}

/// Opens the compact log `file` (locked, `len` bytes long): reads its tail,
/// keeps a torn tail in place (ended with a zero, then a sync), and starts
/// the flusher of `Buffered`.
pub(crate) fn open(
    file: File,
    len: u64,
    settings: CompactSettings<'_>,
) -> Result<CompactLog, Error> {
    let path = settings.path;
    if looks_like_text(&file, len) {
        return Err(Error::NotCompact {
            path: path.to_path_buf(),
        });
    }
    let tail = read_tail(&file, path, len)?;
    let (link, written_len, recovered) = continue_after(&*settings.fs, &file, path, len, &tail)?;
    if len == 0 && settings.durability == Durability::Sync {
        // A new file: its directory entry must be durable too.
        sync_dir_of(path).map_err(|e| Error::io(path, Step::Sync, e))?;
    }
    let shared = Arc::new(Shared::new(
        path.to_path_buf(),
        settings.durability,
        settings.buffer_size,
        settings.fs,
        file,
        link,
        written_len,
    ));
    let flusher = match settings.durability {
        Durability::Buffered => {
            let on_time = Arc::clone(&shared);
            Some(
                Flusher::spawn(settings.flush_interval, move || {
                    // An error here is met again by the next append or flush.
                    let _ = on_time.flush();
                })
                .map_err(|e| Error::io(path, Step::Open, e))?,
            )
        }
        _ => None,
    };
    Ok(CompactLog {
        shared,
        flusher,
        recovered,
    })
}

/// A text log starts with 64 hex digits and `|`: its first `min(len, 64)`
/// bytes are hex digits (a text log torn in its first line too), and a 65th
/// byte is `|`.
fn looks_like_text(file: &File, len: u64) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    let mut prefix = [0u8; 65];
    let n = usize::try_from(len.min(65)).unwrap_or(65);
    let Some(prefix) = prefix.get_mut(..n) else {
        return false;
    };
    let mut f = file;
    len > 0
        && f.seek(SeekFrom::Start(0)).is_ok()
        && f.read_exact(prefix).is_ok()
        && prefix.iter().take(64).all(u8::is_ascii_hexdigit)
        && prefix.get(64).is_none_or(|&b| b == b'|')
}

/// Where the chain goes on from `tail`: a torn tail is ended with a zero
/// (unless that completes a frame that verifies), and a sync record that
/// skips the torn record's `seq` follows it, both synced before open returns.
fn continue_after(
    fs: &dyn RecoveryFs,
    file: &File,
    path: &Path,
    len: u64,
    tail: &Tail,
) -> Result<(Link, u64, Option<CompactRecovered>), Error> {
    let mut link = Link {
        state: tail.state,
        next: tail.next,
        since_sync: tail.since_sync,
        last: tail.last,
    };
    let torn = tail.torn.as_ref().filter(|_| !tail.torn_completes);
    let mut bytes = Vec::new();
    if tail.torn.is_some() {
        bytes.push(0);
    }
    let mut recovered = None;
    let kept = torn
        .map(|(offset, torn)| (*offset, torn.len() as u64))
        .or(tail.damaged_end);
    if let Some((offset, len)) = kept {
        let skipped = link.next;
        link.next = link.next.saturating_add(1);
        link.since_sync = 0;
        put_sync(&mut bytes, link.next, &link.state);
        recovered = Some(CompactRecovered {
            offset,
            len,
            skipped,
        });
    }
    if bytes.is_empty() {
        return Ok((link, len, None));
    }
    fs.write_all(file, &bytes)
        .map_err(|e| Error::io(path, Step::Write, e))?;
    fs.sync_data(file)
        .map_err(|e| Error::io(path, Step::Sync, e))?;
    Ok((link, len + bytes.len() as u64, recovered))
}

impl CompactLog {
    /// Opens (or creates) the compact log at `path` with the default options
    /// (see [`OpenOptions::open_compact`](super::OpenOptions::open_compact)).
    pub fn open(path: impl AsRef<Path>) -> Result<CompactLog, Error> {
        super::OpenOptions::new().open_compact(path)
    }

    /// Appends a record: the level, the time in µs since the epoch, the
    /// message (cut at [`MAX_COMPACT_MESSAGE`](crate::compact::MAX_COMPACT_MESSAGE) bytes). Returns its `seq` and
    /// the chain state after it. With `Flush` or `Sync`, the record is in the
    /// OS's hands (on disk, for `Sync`) when this returns.
    pub fn append(&self, level: Level, message: fmt::Arguments<'_>) -> Result<CompactHead, Error> {
        self.shared.append(level, message)
    }

    /// Hands buffered records to the OS.
    pub fn flush(&self) -> Result<(), Error> {
        self.shared.flush()
    }

    /// The last record appended (`None` while the log is empty).
    pub fn head(&self) -> Option<CompactHead> {
        self.shared.head()
    }

    /// The torn tail this open found and kept, if any.
    pub fn recovered(&self) -> Option<CompactRecovered> {
        self.recovered
    }

    /// The log file.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// Hands buffered records to the OS (and, with `Sync`, to the disk) and
    /// closes the log, releasing its lock.
    pub fn close(mut self) -> Result<(), Error> {
        if let Some(mut flusher) = self.flusher.take() {
            flusher.stop();
        }
        self.shared.flush()
    }
}

impl Drop for CompactLog {
    /// Stops the flusher, hands what is buffered to the OS, and releases the
    /// file's lock (a child process forked meanwhile shares the open file).
    fn drop(&mut self) {
        if let Some(mut flusher) = self.flusher.take() {
            flusher.stop();
        }
        // An error here was met by an append, or is met by nobody: the
        // records stay where they are (in the file, or lost with the process).
        let _ = self.shared.write(self.shared.lock());
        let _ = self.shared.file.unlock();
    }
}

impl fmt::Debug for CompactLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompactLog")
            .field("path", &self.shared.path)
            .field("durability", &self.shared.durability)
            .field("head", &self.head())
            .finish_non_exhaustive()
    }
}
