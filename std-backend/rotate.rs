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
use std::time::SystemTime;

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
    let first = state.rotor.as_ref().and_then(|r| r.first_seq());
    let old_len = state.appender.len();
    let mark = state.appender.mark();
    let kept_tree = state.appender.keeps_tree();
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
            if kept_tree {
                // The file did not change: its tree comes back from the edge
                // written when the rotation began.
                state.appender.keep_tree(log);
            }
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
        rotor.switched(head, now);
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
