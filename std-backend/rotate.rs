//! Rotation that keeps the chain: when the log reaches its size or age, its
//! file becomes `FILE.1` (the others move up: `FILE.2`, …) and a new `FILE`
//! continues the same chain. The new file's first record follows the old
//! file's head and names it (`set_records`), so the files read as one chain
//! (`verify --set`).
//!
//! The steps, each through [`RecoveryFs`] so a test can crash at any of them:
//!
//! 1. hand the staged records to the OS and sync the old file;
//! 2. write the next file beside the log, `FILE.rotating` (its first record
//!    only, synced), and lock it;
//! 3. move the rotated files up by one, oldest first (`FILE.2` → `FILE.3`);
//! 4. rename `FILE` → `FILE.1`, then `FILE.rotating` → `FILE`, and sync the
//!    directory: the switch;
//! 5. compress the rotated files still plain (`FILE.N.gz.tmp`, synced,
//!    renamed to `FILE.N.gz`, then `FILE.N` removed);
//! 6. retention (`retention`): state the files it removes, sync, remove them.
//!
//! A crash before the switch leaves `FILE` as it was (and maybe a stale
//! `FILE.rotating`, removed at the next open, holding no record but the
//! rotation's own); a crash between the two renames leaves no `FILE`, and the
//! next open continues the chain from `FILE.1`. A crash while compressing
//! leaves `FILE.N` whole (a `.gz.tmp` is removed at open; a `.gz` that was
//! renamed into place is complete, and a `FILE.N` beside it is removed).

use std::fs::{File, Permissions, TryLockError};
use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use flate2::write::GzEncoder;
use flate2::Compression;

use super::appender::{staging_error, Appender};
use super::recovery_fs::RecoveryFs;
use super::retention::prune;
use super::rotated::{self, first_record, gz_temp, list, name_of, next_path, numbered};
use super::set_records;
use super::shared::{Shared, State};
use super::{scratch, Error, Step, SystemClock};
use crate::{Head, Level};

/// When a log rotates, which rotated files it keeps, and whether it
/// compresses them ([`OpenOptions::rotate`](super::OpenOptions::rotate)).
///
/// ```no_run
/// use std::time::Duration;
/// use immutable_log::std_backend::{LogFile, Rotation};
/// let log = LogFile::options()
///     .rotate(
///         Rotation::new()
///             .max_size(10 << 20)
///             .max_age(Duration::from_secs(86_400))
///             .keep_files(7)
///             .compress(true),
///     )
///     .open("service.log")?;
/// # Ok::<(), immutable_log::std_backend::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rotation {
    pub(crate) max_size: Option<u64>,
    pub(crate) max_age: Option<Duration>,
    pub(crate) keep_files: Option<usize>,
    pub(crate) keep_for: Option<Duration>,
    pub(crate) compress: bool,
}

impl Rotation {
    /// Never rotates, keeps every file, compresses none: add the rules.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rotates before a record once the file holds `bytes` or more (so a
    /// file exceeds it by at most one record).
    pub fn max_size(mut self, bytes: u64) -> Self {
        self.max_size = Some(bytes);
        self
    }

    /// Rotates before a record once the file's first record is `age` old.
    /// (Checked at each record: an idle log rotates at its next record.)
    pub fn max_age(mut self, age: Duration) -> Self {
        self.max_age = Some(age);
        self
    }

    /// Keeps the `n` newest rotated files; retention removes older ones, and
    /// states in the chain what it removed.
    pub fn keep_files(mut self, n: usize) -> Self {
        self.keep_files = Some(n);
        self
    }

    /// Keeps rotated files last written within `age`; retention removes
    /// older ones, and states in the chain what it removed.
    pub fn keep_for(mut self, age: Duration) -> Self {
        self.keep_for = Some(age);
        self
    }

    /// Gzips rotated files (`FILE.N.gz`); `verify --set` reads them as
    /// they are.
    pub fn compress(mut self, on: bool) -> Self {
        self.compress = on;
        self
    }
}

/// A log's rotation state, under the handler's lock.
#[derive(Debug)]
pub(crate) struct Rotor {
    pub(crate) policy: Rotation,
    /// When the file's first record was written (seconds since the epoch).
    started: Option<u64>,
    /// The `seq` of the file's first record.
    first_seq: Option<u64>,
    /// The last failure, until asked for.
    error: Option<Error>,
}

impl Rotor {
    /// The state of the log at `log`, from its first record.
    pub(crate) fn at_open(policy: Rotation, log: &Path) -> Rotor {
        let first = first_record(log, false).ok().flatten();
        Rotor {
            policy,
            started: first.and_then(|f| f.secs),
            first_seq: first.and_then(|f| f.seq),
            error: None,
        }
    }

    /// Whether a file of `len` bytes is due to rotate at `now`.
    pub(crate) fn due(&self, len: u64, now: SystemTime) -> bool {
        if len == 0 {
            return false;
        }
        let by_size = self.policy.max_size.is_some_and(|max| len >= max);
        let by_age = match (self.policy.max_age, self.started) {
            (Some(age), Some(started)) => secs(now).saturating_sub(started) >= age.as_secs(),
            _ => false,
        };
        by_size || by_age
    }

    /// Notes a record appended at `now`.
    pub(crate) fn appended(&mut self, head: Head, now: SystemTime) {
        if self.started.is_none() {
            self.started = Some(secs(now));
            self.first_seq = head.seq;
        }
    }

    /// Keeps a rotation's failure.
    pub(crate) fn failed(&mut self, error: Error) {
        self.error = Some(error);
    }

    /// The last rotation failure, taken.
    pub(crate) fn take_error(&mut self) -> Option<Error> {
        self.error.take()
    }
}

fn secs(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// Rotates the log now (nothing if its file holds no record). A failure
/// before the switch leaves the log writing its old file, as it was; after
/// it, the new file stays, and the failure (compressing, retention) is
/// returned.
pub(crate) fn rotate(shared: &Shared, state: &mut State, now: SystemTime) -> Result<(), Error> {
    let log = shared.path.as_path();
    let fs = &*shared.fs;
    shared.hand_over(state)?;
    let Some(head) = state.appender.head() else {
        return Ok(());
    };
    if state.appender.len() == 0 {
        return Ok(());
    }
    fs.sync_data(&state.file)
        .map_err(|e| Error::io(log, Step::Sync, e))?;
    let permissions = state
        .file
        .metadata()
        .map_err(|e| Error::io(log, Step::Rotate, e))?
        .permissions();
    let first = state.rotor.as_ref().and_then(|r| r.first_seq);
    let old_len = state.appender.len();
    let mark = state.appender.mark();
    let next = next_path(log);
    let written = begin_next(
        fs,
        log,
        &next,
        &permissions,
        &mut state.appender,
        first,
        head,
        now,
    )
    .and_then(|file| {
        shift(fs, log)?;
        switch(fs, log, &next)?;
        Ok(file)
    });
    let file = match written {
        Ok(file) => file,
        Err(e) => {
            state.appender.unstage(mark);
            state.appender.set_len(old_len);
            if log_missing(log) && fs.rename(&numbered(log, 1, false), log).is_err() {
                state.appender.set_broken(Step::Rotate);
            }
            let _ = fs.remove_file(&next);
            return Err(e);
        }
    };
    let old = std::mem::replace(&mut state.file, Arc::new(file));
    let _ = old.unlock();
    if let Some(rotor) = state.rotor.as_mut() {
        rotor.started = Some(secs(now));
        rotor.first_seq = head.seq.map(|s| s + 1);
    }
    fs.sync_dir_of(log)
        .map_err(|e| Error::io(log, Step::Rotate, e))?;
    let policy = state
        .rotor
        .as_ref()
        .map(|r| r.policy.clone())
        .unwrap_or_default();
    if policy.compress {
        compress_all(fs, log, &permissions)?;
    }
    prune(shared, state, &policy, now)
}

/// True when nothing stands at the log's path (a rotation undone halfway).
fn log_missing(log: &Path) -> bool {
    matches!(std::fs::symlink_metadata(log), Err(e) if e.kind() == io::ErrorKind::NotFound)
}

/// Writes the next file's first record, which follows `head` (the last
/// record of the file about to be `FILE.1`), syncs it, and locks the file.
#[allow(clippy::too_many_arguments)]
fn begin_next(
    fs: &dyn RecoveryFs,
    log: &Path,
    next: &Path,
    permissions: &Permissions,
    appender: &mut Appender,
    first: Option<u64>,
    head: Head,
    now: SystemTime,
) -> Result<File, Error> {
    // A stale one from a crash holds nothing but its rotation record.
    let _ = fs.remove_file(next);
    let file = fs
        .create_new(next, permissions)
        .map_err(|e| Error::io(next, Step::Rotate, e))?;
    lock(&file, next)?;
    appender.set_len(0);
    let previous = name_of(&numbered(log, 1, false));
    let text = set_records::Rotated {
        previous: &previous,
        first,
        head,
    };
    write_record(fs, next, &file, appender, format_args!("{text}"), now)?;
    fs.sync_data(&file)
        .map_err(|e| Error::io(next, Step::Sync, e))?;
    Ok(file)
}

/// Takes the exclusive lock of a file this handler just created.
pub(crate) fn lock(file: &File, path: &Path) -> Result<(), Error> {
    match file.try_lock() {
        Ok(()) => Ok(()),
        Err(TryLockError::WouldBlock) => Err(Error::Locked {
            path: path.to_path_buf(),
        }),
        Err(TryLockError::Error(e)) => Err(Error::io(path, Step::Lock, e)),
    }
}

/// Appends one record the handler writes itself (rotation, retention) to
/// `file`, whatever the log's format, and hands it to the OS.
pub(crate) fn write_record(
    fs: &dyn RecoveryFs,
    path: &Path,
    file: &File,
    appender: &mut Appender,
    message: std::fmt::Arguments<'_>,
    now: SystemTime,
) -> Result<Head, Error> {
    let mut draft = scratch::take();
    draft.reformat(Level::Info, message);
    let staged = appender.stage(&mut draft, SystemClock::timestamp(now), 0);
    scratch::give_back(draft);
    let head = staged.map_err(|e| staging_error(path, e))?;
    appender
        .hand_over(fs, file)
        .map_err(|e| Error::io(path, Step::Write, e))?;
    Ok(head)
}

/// Moves each rotated file up by one, oldest first: `FILE.N` → `FILE.N+1`.
fn shift(fs: &dyn RecoveryFs, log: &Path) -> Result<(), Error> {
    let files = list(log).map_err(|e| Error::io(log, Step::Rotate, e))?;
    for file in files.iter().rev() {
        let to = numbered(log, file.number + 1, file.gz);
        fs.rename(&file.path, &to)
            .map_err(|e| Error::io(&file.path, Step::Rotate, e))?;
    }
    Ok(())
}

/// `FILE` → `FILE.1`, `FILE.rotating` → `FILE`.
fn switch(fs: &dyn RecoveryFs, log: &Path, next: &Path) -> Result<(), Error> {
    fs.rename(log, &numbered(log, 1, false))
        .map_err(|e| Error::io(log, Step::Rotate, e))?;
    fs.rename(next, log)
        .map_err(|e| Error::io(next, Step::Rotate, e))
}

/// Compresses every rotated file still plain.
fn compress_all(fs: &dyn RecoveryFs, log: &Path, permissions: &Permissions) -> Result<(), Error> {
    let files = list(log).map_err(|e| Error::io(log, Step::Compress, e))?;
    for file in files.iter().filter(|f| !f.gz) {
        compress(fs, log, file, permissions)?;
    }
    Ok(())
}

/// `FILE.N` → `FILE.N.gz`: written to `FILE.N.gz.tmp`, synced, renamed, and
/// only then `FILE.N` removed.
fn compress(
    fs: &dyn RecoveryFs,
    log: &Path,
    file: &rotated::Rotated,
    permissions: &Permissions,
) -> Result<(), Error> {
    let temp = gz_temp(log, file.number);
    let _ = fs.remove_file(&temp);
    let written = (|| {
        let out = fs.create_new(&temp, permissions)?;
        let mut source = File::open(&file.path)?;
        let mut encoder = GzEncoder::new(FsWriter { fs, file: &out }, Compression::default());
        io::copy(&mut source, &mut encoder)?;
        encoder.finish()?;
        fs.sync_all(&out)
    })();
    if let Err(e) = written {
        let _ = fs.remove_file(&temp);
        return Err(Error::io(&file.path, Step::Compress, e));
    }
    let gz = numbered(log, file.number, true);
    fs.rename(&temp, &gz)
        .and_then(|()| fs.sync_dir_of(log))
        .and_then(|()| fs.remove_file(&file.path))
        .map_err(|e| Error::io(&file.path, Step::Compress, e))
}

/// `io::Write` through a [`RecoveryFs`].
struct FsWriter<'a> {
    fs: &'a dyn RecoveryFs,
    file: &'a File,
}

impl Write for FsWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.fs.write_all(self.file, bytes)?;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// At open, before the log is read: what a rotation cut short left behind.
/// A stale `FILE.rotating` (it holds only its rotation record) and
/// `FILE.N.gz.tmp` files are removed; a plain `FILE.N` beside a complete
/// `FILE.N.gz` is removed.
pub(crate) fn clean_up(fs: &dyn RecoveryFs, log: &Path) -> Result<(), Error> {
    let remove = |path: &Path| match fs.remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(path, Step::Rotate, e)),
    };
    let next = next_path(log);
    if next.exists() {
        remove(&next)?;
    }
    let files = list(log).map_err(|e| Error::io(log, Step::Rotate, e))?;
    for file in &files {
        let temp = gz_temp(log, file.number);
        if temp.exists() {
            remove(&temp)?;
        }
        let plain = numbered(log, file.number, false);
        if file.gz && plain.exists() {
            remove(&plain)?;
        }
    }
    Ok(())
}

/// At open, when `FILE` is new or empty but rotated files exist (a crash
/// between a rotation's two renames, or `FILE` removed): the chain continues
/// after the newest rotated file, in a first record that names it. Returns
/// the appender to continue with, or `None` when there is no rotated file.
pub(crate) fn continue_set(
    fs: &dyn RecoveryFs,
    log: &Path,
    file: &File,
    now: SystemTime,
) -> Result<Option<Appender>, Error> {
    let files = list(log).map_err(|e| Error::io(log, Step::ReadSet, e))?;
    let Some(newest) = files.first() else {
        return Ok(None);
    };
    let Some(head) = rotated::head_of(&newest.path, newest.gz)? else {
        return Ok(None);
    };
    let first = first_record(&newest.path, newest.gz)
        .map_err(|e| Error::io(&newest.path, Step::ReadSet, e))?
        .and_then(|f| f.seq);
    let mut appender = Appender::new(Some(head), 0, None);
    let previous = name_of(&newest.path);
    let text = set_records::Rotated {
        previous: &previous,
        first,
        head,
    };
    write_record(fs, log, file, &mut appender, format_args!("{text}"), now)?;
    fs.sync_data(file)
        .map_err(|e| Error::io(log, Step::Sync, e))?;
    Ok(Some(appender))
}
