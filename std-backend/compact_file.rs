//! A log file in the compact encoding (FORMAT.md, "The compact encoding"):
//! [`CompactLog`], opened by [`OpenOptions::open_compact`](super::OpenOptions::open_compact).
//!
//! A type of its own, not a mode of [`LogFile`](super::LogFile): the text
//! handler's display line, keyed chains, tree, rotation and journaled
//! recovery are all built on text records, and none of them has a compact
//! form yet; a separate type refuses them at open in one place.
//!
//! Each record is one COBS frame of ~30–60 bytes beyond its message (the
//! head byte, `seq`, time in µs, the message, an 8-byte tag cut from the
//! chain state), the chain state advanced by one SHA-256 compression; a sync
//! record every [`DEFAULT_SYNC_EVERY`] records carries the whole state.
//! `immutable-log verify FILE` and [`verify_compact_path`](super::verify_compact_path)
//! read it.

use std::fmt::{self, Write as _};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::compact_tail::{read_tail, Tail};
use super::flusher::Flusher;
use super::recovery_fs::{sync_dir_of, RecoveryFs};
use super::{Durability, Error, Step};
use crate::compact::cobs::encode_into;
use crate::compact::state::{advance, message_digest};
use crate::compact::wire::{leb128, level_code, KIND_SYNC, TRUNCATED};
use crate::compact::{CompactHead, DEFAULT_SYNC_EVERY, MAX_COMPACT_MESSAGE, PLAIN_TAG};
use crate::{Hash, Level};

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
/// `verify` says incomplete). Its bytes stay where they were.
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
/// background thread), on [`flush`](Self::flush) and on drop. The write and
/// the sync are done under the log's lock (no group commit).
///
/// Messages are cut at [`MAX_COMPACT_MESSAGE`] bytes (a character boundary)
/// and marked truncated. A write that fails is cut back off the file: the
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

/// What the handle and its flusher share.
struct Shared {
    path: PathBuf,
    durability: Durability,
    buffer_size: usize,
    fs: Arc<dyn RecoveryFs>,
    state: Mutex<Writer>,
}

/// Where the chain stands.
#[derive(Clone, Copy, Debug)]
struct Link {
    state: [u8; 32],
    next: u64,
    since_sync: u32,
}

/// Where the staging stood before a record: a record whose write fails is
/// taken back to here.
struct Mark {
    staged: usize,
    link: Link,
}

/// The chain under the lock: staged frames, and where the file ends.
struct Writer {
    file: File,
    /// The chain after the last staged record.
    link: Link,
    /// The chain after the last record in the file (a failed write goes back here).
    written: Link,
    /// Length of the file.
    len: u64,
    /// Frames not yet handed to the OS.
    staged: Vec<u8>,
    /// Records in `staged`.
    staged_records: u64,
    /// A failure that could not be undone.
    broken: Option<Step>,
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
const MAX_PAYLOAD: usize = 1 + 2 * 10 + MAX_COMPACT_MESSAGE + PLAIN_TAG;

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
fn put_sync(out: &mut Vec<u8>, next: u64, state: &[u8; 32]) {
    let mut p = Payload::new();
    p.put(&[KIND_SYNC]);
    p.number(next);
    p.put(state);
    encode_into(p.as_bytes(), out);
}

/// Microseconds since the Unix epoch (0 before it).
fn now_us() -> u64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    since
        .as_secs()
        .saturating_mul(1_000_000)
        .saturating_add(u64::from(since.subsec_micros()))
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
    let shared = Arc::new(Shared {
        path: path.to_path_buf(),
        durability: settings.durability,
        buffer_size: settings.buffer_size,
        fs: settings.fs,
        state: Mutex::new(Writer {
            file,
            link,
            written: link,
            len: written_len,
            staged: Vec::with_capacity(settings.buffer_size.min(1 << 20) + 512),
            staged_records: 0,
            broken: None,
        }),
    });
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

/// A text log starts with 64 hex digits and `|`.
fn looks_like_text(file: &File, len: u64) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    let mut prefix = [0u8; 65];
    let mut f = file;
    len >= 65
        && f.seek(SeekFrom::Start(0)).is_ok()
        && f.read_exact(&mut prefix).is_ok()
        && prefix.iter().take(64).all(u8::is_ascii_hexdigit)
        && prefix.get(64) == Some(&b'|')
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
    };
    let torn = tail.torn.as_ref().filter(|_| !tail.torn_completes);
    let mut bytes = Vec::new();
    if tail.torn.is_some() {
        bytes.push(0);
    }
    let mut recovered = None;
    if torn.is_some() || tail.damaged_end {
        let skipped = link.next;
        link.next = link.next.saturating_add(1);
        link.since_sync = 0;
        put_sync(&mut bytes, link.next, &link.state);
        recovered = torn.map(|(offset, torn)| CompactRecovered {
            offset: *offset,
            len: torn.len() as u64,
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

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Writer> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn broken(&self, step: Step) -> Error {
        Error::Broken {
            path: self.path.clone(),
            step,
        }
    }

    /// Hands the staged frames to the OS. A failed write is cut back off the
    /// file and the records stay staged (the caller takes its own back); if
    /// the cut fails too, the log is broken.
    fn write(&self, w: &mut Writer) -> Result<(), Error> {
        if w.staged.is_empty() {
            return Ok(());
        }
        if let Err(e) = self.fs.write_all(&w.file, &w.staged) {
            if self.fs.set_len(&w.file, w.len).is_err() {
                w.broken = Some(Step::Cut);
            }
            return Err(Error::io(&self.path, Step::Write, e));
        }
        w.len += w.staged.len() as u64;
        w.written = w.link;
        w.staged.clear();
        w.staged_records = 0;
        Ok(())
    }

    fn flush(&self) -> Result<(), Error> {
        let mut w = self.lock();
        if let Some(step) = w.broken {
            return Err(self.broken(step));
        }
        self.write(&mut w)
    }

    fn append(&self, level: Level, args: fmt::Arguments<'_>) -> Result<CompactHead, Error> {
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
        };
        w.staged_records += 1;
        let appended = CompactHead {
            seq,
            state: Hash::from_bytes(state),
        };
        let due = self.durability != Durability::Buffered || w.staged.len() >= self.buffer_size;
        if due {
            if let Err(e) = self.write(&mut w) {
                // Nothing of this record stays: not in the file, not staged.
                // Records staged before it stay, for the next write.
                w.staged.truncate(mark.staged);
                w.staged_records -= 1;
                w.link = mark.link;
                return Err(e);
            }
            if self.durability == Durability::Sync {
                if let Err(e) = self.fs.sync_data(&w.file) {
                    // Whether the records reached the disk is unknown.
                    w.broken = Some(Step::Sync);
                    return Err(Error::io(&self.path, Step::Sync, e));
                }
            }
        }
        Ok(appended)
    }
}

impl CompactLog {
    /// Opens (or creates) the compact log at `path` with the default options
    /// (see [`OpenOptions::open_compact`](super::OpenOptions::open_compact)).
    pub fn open(path: impl AsRef<Path>) -> Result<CompactLog, Error> {
        super::OpenOptions::new().open_compact(path)
    }

    /// Appends a record: the level, the time in µs since the epoch, the
    /// message (cut at [`MAX_COMPACT_MESSAGE`] bytes). Returns its `seq` and
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
        let w = self.shared.lock();
        w.link.next.checked_sub(1).map(|seq| CompactHead {
            seq,
            state: Hash::from_bytes(w.link.state),
        })
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
        let mut w = self.shared.lock();
        if let Some(step) = w.broken {
            return Err(self.shared.broken(step));
        }
        self.shared.write(&mut w)?;
        if self.shared.durability == Durability::Sync {
            self.shared
                .fs
                .sync_data(&w.file)
                .map_err(|e| Error::io(&self.shared.path, Step::Sync, e))?;
        }
        Ok(())
    }
}

impl Drop for CompactLog {
    /// Stops the flusher, hands what is buffered to the OS, and releases the
    /// file's lock (a child process forked meanwhile shares the open file).
    fn drop(&mut self) {
        if let Some(mut flusher) = self.flusher.take() {
            flusher.stop();
        }
        let mut w = self.shared.lock();
        if w.broken.is_none() {
            let _ = self.shared.write(&mut w);
        }
        let _ = w.file.unlock();
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
