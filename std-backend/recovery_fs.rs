//! The filesystem operations of torn-tail recovery, behind a trait, so a test
//! can fail or crash recovery at each one ([`FaultyFs`]) and check that the
//! next open loses nothing.
//!
//! Only the operations that change something go through it: creating,
//! writing, syncing, cutting, renaming and removing files. Reads do not.

use std::fmt;
use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::{Mutex, PoisonError};

/// The filesystem as recovery uses it. [`RealFs`] is the filesystem itself;
/// [`FaultyFs`] fails or crashes at a chosen operation.
#[doc(hidden)]
pub trait RecoveryFs: Send + Sync + fmt::Debug {
    /// Creates `path`, which must not exist yet, for writing, with the
    /// permission bits `permissions` exactly (whatever the umask).
    fn create_new(&self, path: &Path, permissions: &Permissions) -> io::Result<File>;
    /// Writes all of `bytes` at the file's position (its end, for the log).
    fn write_all(&self, file: &File, bytes: &[u8]) -> io::Result<()>;
    /// `fsync`: the file's data and metadata.
    fn sync_all(&self, file: &File) -> io::Result<()>;
    /// `fdatasync`: the file's data, and its length.
    fn sync_data(&self, file: &File) -> io::Result<()>;
    /// Cuts the file to `len` bytes.
    fn set_len(&self, file: &File, len: u64) -> io::Result<()>;
    /// Renames `from` to `to`, replacing `to`.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Removes the file at `path`.
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Makes a creation, rename or removal in `path`'s directory durable.
    fn sync_dir_of(&self, path: &Path) -> io::Result<()>;
}

/// The filesystem itself.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, Default)]
pub struct RealFs;

impl RecoveryFs for RealFs {
    fn create_new(&self, path: &Path, permissions: &Permissions) -> io::Result<File> {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
            // Never more open than the log, not even for a moment.
            options.mode(permissions.mode() & 0o777);
        }
        let file = options.open(path)?;
        // The umask may have taken bits away: give them back.
        file.set_permissions(permissions.clone())?;
        Ok(file)
    }

    fn write_all(&self, mut file: &File, bytes: &[u8]) -> io::Result<()> {
        file.write_all(bytes)
    }

    fn sync_all(&self, file: &File) -> io::Result<()> {
        file.sync_all()
    }

    fn sync_data(&self, file: &File) -> io::Result<()> {
        file.sync_data()
    }

    fn set_len(&self, file: &File, len: u64) -> io::Result<()> {
        file.set_len(len)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }

    fn sync_dir_of(&self, path: &Path) -> io::Result<()> {
        sync_dir_of(path)
    }
}

/// Makes a file's creation, rename or removal in its directory durable.
#[cfg(unix)]
pub(crate) fn sync_dir_of(path: &Path) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    File::open(dir)?.sync_all()
}

/// Makes a file's creation, rename or removal in its directory durable.
#[cfg(not(unix))]
pub(crate) fn sync_dir_of(_path: &Path) -> io::Result<()> {
    Ok(())
}

/// One operation of [`RecoveryFs`], as [`FaultyFs`] records it.
#[doc(hidden)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Op {
    /// [`RecoveryFs::create_new`].
    Create,
    /// [`RecoveryFs::write_all`].
    Write,
    /// [`RecoveryFs::sync_all`] or [`RecoveryFs::sync_data`].
    Sync,
    /// [`RecoveryFs::set_len`].
    SetLen,
    /// [`RecoveryFs::rename`].
    Rename,
    /// [`RecoveryFs::remove_file`].
    Remove,
    /// [`RecoveryFs::sync_dir_of`].
    SyncDir,
}

/// What [`FaultyFs`] does at its chosen operation.
#[doc(hidden)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Fault {
    /// The process dies there: that operation and every later one fail and
    /// change nothing, except that a write keeps the first half of its bytes.
    Crash,
    /// That operation fails with this error (a write keeps the first half of
    /// its bytes, as a full disk does); later ones run.
    Fail(io::ErrorKind),
}

/// A [`RecoveryFs`] over the real filesystem that records each operation
/// and fails or crashes at the `at`-th (0-based).
#[doc(hidden)]
#[derive(Debug)]
pub struct FaultyFs {
    at: Option<usize>,
    fault: Fault,
    seen: Mutex<Vec<Op>>,
}

impl FaultyFs {
    /// Records operations, fails none.
    pub fn counting() -> Self {
        FaultyFs {
            at: None,
            fault: Fault::Crash,
            seen: Mutex::new(Vec::new()),
        }
    }

    /// Crashes at operation `at` (0-based).
    pub fn crash_at(at: usize) -> Self {
        FaultyFs {
            at: Some(at),
            ..Self::counting()
        }
    }

    /// Fails operation `at` (0-based) with an error of `kind`.
    pub fn fail_at(at: usize, kind: io::ErrorKind) -> Self {
        FaultyFs {
            at: Some(at),
            fault: Fault::Fail(kind),
            seen: Mutex::new(Vec::new()),
        }
    }

    /// The index of the first operation of kind `op` asked for so far.
    pub fn index_of(&self, op: Op) -> Option<usize> {
        self.ops().iter().position(|&o| o == op)
    }

    /// The operations asked for so far, in order (the failed ones too).
    pub fn ops(&self) -> Vec<Op> {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Whether the fault happened.
    pub fn hit(&self) -> bool {
        self.at.is_some_and(|at| self.ops().len() > at)
    }

    /// Counts `op`; says whether it runs, fails, or keeps half its bytes and fails.
    fn next(&self, op: Op) -> Verdict {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        let index = seen.len();
        seen.push(op);
        match (self.at, self.fault) {
            (Some(at), Fault::Crash) if index >= at => Verdict::Fail {
                kind: io::ErrorKind::Other,
                half: index == at,
            },
            (Some(at), Fault::Fail(kind)) if index == at => Verdict::Fail { kind, half: true },
            _ => Verdict::Run,
        }
    }

    fn run<T>(&self, op: Op, real: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
        match self.next(op) {
            Verdict::Run => real(),
            Verdict::Fail { kind, .. } => Err(injected(kind)),
        }
    }
}

enum Verdict {
    Run,
    Fail { kind: io::ErrorKind, half: bool },
}

fn injected(kind: io::ErrorKind) -> io::Error {
    io::Error::new(kind, "injected by FaultyFs")
}

impl RecoveryFs for FaultyFs {
    fn create_new(&self, path: &Path, permissions: &Permissions) -> io::Result<File> {
        self.run(Op::Create, || RealFs.create_new(path, permissions))
    }

    fn write_all(&self, file: &File, bytes: &[u8]) -> io::Result<()> {
        match self.next(Op::Write) {
            Verdict::Run => RealFs.write_all(file, bytes),
            Verdict::Fail { kind, half } => {
                if half {
                    RealFs.write_all(file, bytes.get(..bytes.len() / 2).unwrap_or_default())?;
                }
                Err(injected(kind))
            }
        }
    }

    fn sync_all(&self, file: &File) -> io::Result<()> {
        self.run(Op::Sync, || RealFs.sync_all(file))
    }

    fn sync_data(&self, file: &File) -> io::Result<()> {
        self.run(Op::Sync, || RealFs.sync_data(file))
    }

    fn set_len(&self, file: &File, len: u64) -> io::Result<()> {
        self.run(Op::SetLen, || RealFs.set_len(file, len))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.run(Op::Rename, || RealFs.rename(from, to))
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.run(Op::Remove, || RealFs.remove_file(path))
    }

    fn sync_dir_of(&self, path: &Path) -> io::Result<()> {
        self.run(Op::SyncDir, || RealFs.sync_dir_of(path))
    }
}
