//! What can go wrong with a log file, and where.
//!
//! (One job, long for its many variants and their messages: one enum, its `Display`, and where each error points.)

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use super::{CompactOption, CompactTailFault, JournalFault, KeyFile, KeyLine};
use crate::{Failure, KeyedFault, RecordFault, SealError};

/// What the handler was doing when an I/O operation failed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum Step {
    /// Opening or creating the file.
    Open,
    /// Taking the exclusive lock on it.
    Lock,
    /// Reading the end of the log to continue its chain.
    ReadTail,
    /// Counting lines up to a record, to name it in an error.
    CountLines,
    /// Cutting a torn tail (or a failed write) off the end of the file.
    Cut,
    /// Handing records to the operating system.
    Write,
    /// Making records durable (`fdatasync`).
    Sync,
    /// Reading the log to verify it.
    Verify,
    /// Reading a key file.
    ReadKey,
    /// Writing a key file.
    StoreKey,
    /// Drawing a new key from the operating system's random number generator.
    GenerateKey,
    /// Rotating the log: creating its next file, renaming the set's files.
    Rotate,
    /// Compressing a rotated file.
    Compress,
    /// Removing a rotated file by the retention policy.
    Prune,
    /// Reading a file of a rotated set.
    ReadSet,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Step::Open => "cannot open",
            Step::Lock => "cannot lock",
            Step::ReadTail => "cannot read the end of",
            Step::CountLines => "cannot count the lines of",
            Step::Cut => "cannot cut the end off",
            Step::Write => "cannot write to",
            Step::Sync => "cannot sync",
            Step::Verify => "cannot read",
            Step::ReadKey => "cannot read the key file",
            Step::StoreKey => "cannot store the key file",
            Step::GenerateKey => "cannot draw a random key for",
            Step::Rotate => "cannot rotate",
            Step::Compress => "cannot compress",
            Step::Prune => "cannot remove (retention)",
            Step::ReadSet => "cannot read the rotated file",
        })
    }
}

/// An error of the file handler or of host-side verification. Every variant
/// names the file: the log, a key file, or the torn-tail journal beside the
/// log ([`Error::path`], [`Error::file`]).
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// Another writer holds the file's lock: another process, or another
    /// handler in this one. Two writers never interleave two chains.
    Locked {
        /// The log file.
        path: PathBuf,
    },
    /// An I/O operation failed.
    Io {
        /// The log file.
        path: PathBuf,
        /// What the handler was doing.
        step: Step,
        /// The operating system's error.
        source: io::Error,
    },
    /// The last complete record fails its own check (its hash, or its display
    /// line): the log was edited, and is not extended.
    LastRecord {
        /// The log file.
        path: PathBuf,
        /// The 1-based line where the record starts.
        line: u64,
        /// What is wrong with it.
        fault: RecordFault,
    },
    /// The log ends in a complete line that is not part of a record.
    MalformedTail {
        /// The log file.
        path: PathBuf,
        /// The 1-based line of the offending bytes.
        line: u64,
    },
    /// The last `limit` bytes of the file hold no complete record: its last
    /// record (or the garbage after it) is longer than this handler reads.
    TailTooLong {
        /// The log file.
        path: PathBuf,
        /// Bytes read from the end before giving up.
        limit: u64,
    },
    /// An earlier write or sync failed and could not be undone, so the file
    /// may end in part of a record, or records may not be durable. The handler
    /// refuses further records; reopening the file recovers it.
    Broken {
        /// The log file.
        path: PathBuf,
        /// The step that failed.
        step: Step,
    },
    /// The log is keyed (its first record is a keyed chain start) and was
    /// opened without its seal key.
    NeedsSealKey {
        /// The log file.
        path: PathBuf,
    },
    /// A new key file was to be written where a file already is: key files
    /// are never overwritten.
    KeyFileExists {
        /// The key file.
        path: PathBuf,
    },
    /// The file is not a key file: its first line is not a key file's header.
    NotAKeyFile {
        /// The file given as a key file.
        path: PathBuf,
        /// The key file it should have been.
        expected: KeyFile,
    },
    /// The file is the other key file of a keyed chain: a seal key state
    /// given as a verify key, or the reverse.
    WrongKeyFile {
        /// The key file.
        path: PathBuf,
        /// The key file it should have been.
        expected: KeyFile,
    },
    /// A line of a key file is missing, or not in its form.
    BadKeyLine {
        /// The key file.
        path: PathBuf,
        /// The 1-based line.
        line: u32,
        /// What the line must hold.
        expected: KeyLine,
    },
    /// A seal key state was given for a log that is not keyed: the record at
    /// `line` states its plain SHA-256 digest, which a keyed chain never does.
    LogNotKeyed {
        /// The log file.
        path: PathBuf,
        /// The 1-based line where the record starts.
        line: u64,
    },
    /// The seal key state is not this log's: it does not continue from the
    /// record at `line` (not the record it sealed last, or a chain start its
    /// key does not verify): another log's key, or the log was replaced from
    /// that record on.
    ForeignSealKey {
        /// The log file.
        path: PathBuf,
        /// The 1-based line where the record starts.
        line: u64,
    },
    /// A record of a keyed log does not continue the seal key's chain: its tag,
    /// its `seq` or its link is wrong (named by `fault`). The log is not
    /// extended.
    KeyedRecord {
        /// The log file.
        path: PathBuf,
        /// The 1-based line where the record starts.
        line: u64,
        /// What is wrong.
        fault: KeyedFault,
    },
    /// A keyed log and its seal key state are out of step: the key is for a
    /// record after the log's last (records lost), or the log is not the
    /// key's.
    KeyOutOfStep {
        /// The log file.
        path: PathBuf,
        /// The `seq` the key is for.
        key_seq: u64,
        /// The log's last `seq`.
        log_seq: Option<u64>,
    },
    /// A record could not be sealed: the seal key state is not the one for
    /// it (a stale or foreign key file). Nothing of the record was written.
    Seal {
        /// The log file.
        path: PathBuf,
        /// Why.
        source: SealError,
    },
    /// An operation on the torn-tail journal beside the log (`<log>.torn`)
    /// failed; open fails. Nothing was cut from the log before the journal
    /// was complete and durable, so the next open recovers every torn byte,
    /// from the log or from the journal.
    Journal {
        /// The journal file.
        path: PathBuf,
        /// What the handler was doing.
        step: JournalStep,
        /// The operating system's error.
        source: io::Error,
    },
    /// A rotated file of the log's set fails verification where a rotation
    /// or an open reads its head.
    Rotated {
        /// The rotated file.
        path: PathBuf,
        /// Its first failure.
        failure: Box<Failure>,
    },
    /// Rotation was asked for a keyed log; rotating keyed chains is not
    /// supported yet.
    KeyedRotation {
        /// The log file.
        path: PathBuf,
    },
    /// The path is not a regular file (a directory, a device such as
    /// `/dev/null`, a FIFO, a socket): records written there would not be
    /// kept, or could not be read back to continue the chain.
    NotRegularFile {
        /// The path given as the log.
        path: PathBuf,
    },
    /// The torn-tail journal beside the log proves nothing (`fault`), so
    /// nothing was cut on its account, and it could not be set aside
    /// (renamed) either (`source`); open fails. The log is untouched.
    BadJournal {
        /// The journal file.
        path: PathBuf,
        /// What is wrong with it.
        fault: JournalFault,
        /// Why it could not be renamed.
        source: io::Error,
    },
    /// [`OpenOptions::open_compact`](super::OpenOptions::open_compact) was
    /// given an option a compact log does not support.
    CompactUnsupported {
        /// The log file.
        path: PathBuf,
        /// The option.
        option: CompactOption,
    },
    /// A text log was to be opened where a compact log is (its first bytes
    /// are compact frames): open it with
    /// [`OpenOptions::open_compact`](super::OpenOptions::open_compact).
    CompactLog {
        /// The log file.
        path: PathBuf,
    },
    /// A compact log was to be opened where a text log is (one torn in its
    /// first 64 bytes too), a file whose frames are none of them compact
    /// records, or a file with no zero byte that is not the start of a
    /// compact log's first record.
    NotCompact {
        /// The log file.
        path: PathBuf,
    },
    /// A compact log's end cannot be continued (`fault`): the log is not
    /// extended.
    CompactTail {
        /// The log file.
        path: PathBuf,
        /// Where the frame at fault starts (or the window read, for `NoSync`).
        offset: u64,
        /// What is wrong.
        fault: CompactTailFault,
    },
}

/// Which file an [`Error`] names ([`Error::file`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum FileKind {
    /// The log.
    Log,
    /// A key file: a verify key or a seal key state.
    Key,
    /// The torn-tail journal beside the log (`<log>.torn`), or its temporary
    /// file while it is written.
    Journal,
}

/// What the handler was doing with the torn-tail journal when an operation
/// failed ([`Error::Journal`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum JournalStep {
    /// Reading a journal found beside the log.
    Read,
    /// Creating the journal's temporary file.
    Create,
    /// Writing the torn bytes to it (a full disk fails here).
    Write,
    /// Making it durable (`fsync`).
    Sync,
    /// Renaming it into place, and making that durable.
    Commit,
    /// Removing it once its bytes are durable in the log.
    Remove,
    /// Setting aside a journal that proves nothing.
    SetAside,
}

impl fmt::Display for JournalStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            JournalStep::Read => "cannot read the torn-tail journal",
            JournalStep::Create => "cannot create the torn-tail journal",
            JournalStep::Write => "cannot write the torn-tail journal",
            JournalStep::Sync => "cannot sync the torn-tail journal",
            JournalStep::Commit => "cannot put in place the torn-tail journal",
            JournalStep::Remove => "cannot remove the torn-tail journal",
            JournalStep::SetAside => "cannot set aside the torn-tail journal",
        })
    }
}

impl Error {
    /// The file the error names: the log, a key file, or the torn-tail
    /// journal beside the log; [`file`](Self::file) says which.
    pub fn path(&self) -> &Path {
        match self {
            Error::Locked { path }
            | Error::Io { path, .. }
            | Error::LastRecord { path, .. }
            | Error::MalformedTail { path, .. }
            | Error::TailTooLong { path, .. }
            | Error::Broken { path, .. }
            | Error::KeyFileExists { path }
            | Error::NotAKeyFile { path, .. }
            | Error::WrongKeyFile { path, .. }
            | Error::BadKeyLine { path, .. }
            | Error::LogNotKeyed { path, .. }
            | Error::ForeignSealKey { path, .. }
            | Error::KeyedRecord { path, .. }
            | Error::NeedsSealKey { path }
            | Error::KeyOutOfStep { path, .. }
            | Error::Seal { path, .. }
            | Error::Journal { path, .. }
            | Error::BadJournal { path, .. }
            | Error::Rotated { path, .. }
            | Error::KeyedRotation { path }
            | Error::NotRegularFile { path }
            | Error::CompactUnsupported { path, .. }
            | Error::NotCompact { path }
            | Error::CompactLog { path }
            | Error::CompactTail { path, .. } => path,
        }
    }

    /// Which file [`path`](Self::path) is: the log, a key file, or the
    /// torn-tail journal.
    pub fn file(&self) -> FileKind {
        match self {
            Error::Journal { .. } | Error::BadJournal { .. } => FileKind::Journal,
            Error::KeyFileExists { .. }
            | Error::NotAKeyFile { .. }
            | Error::WrongKeyFile { .. }
            | Error::BadKeyLine { .. }
            | Error::Io {
                step: Step::ReadKey | Step::StoreKey,
                ..
            } => FileKind::Key,
            _ => FileKind::Log,
        }
    }

    /// True when the error is about the log's content (its last record, or
    /// what follows it) rather than about I/O or locking.
    pub fn is_integrity(&self) -> bool {
        matches!(
            self,
            Error::LastRecord { .. }
                | Error::MalformedTail { .. }
                | Error::TailTooLong { .. }
                | Error::KeyOutOfStep { .. }
                | Error::Seal { .. }
                | Error::LogNotKeyed { .. }
                | Error::ForeignSealKey { .. }
                | Error::KeyedRecord { .. }
                | Error::Rotated { .. }
                | Error::CompactTail { .. }
        )
    }

    pub(crate) fn io(path: &Path, step: Step, source: io::Error) -> Self {
        Error::Io {
            path: path.to_path_buf(),
            step,
            source,
        }
    }

    pub(crate) fn journal(path: &Path, step: JournalStep, source: io::Error) -> Self {
        Error::Journal {
            path: path.to_path_buf(),
            step,
            source,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Locked { path } => write!(
                f,
                "{}: the log is locked by another writer (another process, or another \
                 handler in this one, has it open)",
                path.display()
            ),
            Error::Io { path, step, source } => {
                write!(f, "{step} {}: {source}", path.display())
            }
            Error::LastRecord { path, line, fault } => write!(
                f,
                "{}: line {line}: the last record fails its own check ({fault}); \
                 the log is not extended",
                path.display()
            ),
            Error::MalformedTail { path, line } => write!(
                f,
                "{}: line {line}: the log ends in a line that is not part of a record",
                path.display()
            ),
            Error::TailTooLong { path, limit } => write!(
                f,
                "{}: no complete record in the last {limit} bytes",
                path.display()
            ),
            Error::KeyFileExists { path } => write!(
                f,
                "{}: a file is already there; a key file is never overwritten",
                path.display()
            ),
            Error::NotAKeyFile { path, expected } => write!(
                f,
                "{}: not an immutable-log key file (expected {expected})",
                path.display()
            ),
            Error::WrongKeyFile { path, expected } => {
                let found = match expected {
                    KeyFile::Verify => KeyFile::Seal,
                    KeyFile::Seal => KeyFile::Verify,
                };
                write!(f, "{}: this is {found}, not {expected}", path.display())
            }
            Error::BadKeyLine {
                path,
                line,
                expected,
            } => write!(f, "{}: line {line}: expected `{expected}`", path.display()),
            Error::LogNotKeyed { path, line } => write!(
                f,
                "{}: line {line}: a seal key was given, but the log is not keyed (its \
                 records state plain SHA-256 hashes): open it without a seal key",
                path.display()
            ),
            Error::ForeignSealKey { path, line } => write!(
                f,
                "{}: line {line}: the seal key state is not this log's: it does not \
                 continue from this record (another log's key, or the log was replaced \
                 from here on); the log is not extended",
                path.display()
            ),
            Error::KeyedRecord { path, line, fault } => {
                write!(f, "{}: line {line}: {fault}", path.display())
            }
            Error::NeedsSealKey { path } => write!(
                f,
                "{}: the log is keyed: open it with its seal key state",
                path.display()
            ),
            Error::KeyOutOfStep {
                path,
                key_seq,
                log_seq,
            } => write!(
                f,
                "{}: the seal key is for seq {key_seq} but the log's last record is {}; \
                 the key and the log are out of step (records lost, or another log)",
                path.display(),
                log_seq.map_or_else(|| "none".to_string(), |s| format!("seq {s}"))
            ),
            Error::Broken { path, step } => write!(
                f,
                "{}: closed to new records after a failure that could not be undone \
                 ({step} it); reopen the log to recover",
                path.display()
            ),
            Error::Seal { path, source } => write!(
                f,
                "{}: cannot seal the next record ({source}); nothing of it was written",
                path.display()
            ),
            Error::Journal { path, step, source } => {
                write!(f, "{step} {}: {source}", path.display())
            }
            Error::Rotated { path, failure } => {
                write!(f, "{}: {failure}", path.display())
            }
            Error::NotRegularFile { path } => write!(
                f,
                "{}: not a regular file: a log must be a regular file, or its records would not be kept",
                path.display()
            ),
            Error::CompactUnsupported { path, option } => write!(
                f,
                "{}: {option} is not supported by a compact log: open it without it, or as a \
                 text log",
                path.display()
            ),
            Error::CompactLog { path } => write!(
                f,
                "{}: a compact log, not a text log: open it as one (OpenOptions::open_compact); \
                 it is not extended",
                path.display()
            ),
            Error::NotCompact { path } => write!(
                f,
                "{}: not a compact log (a text log, or frames that are not compact records); \
                 it is not extended",
                path.display()
            ),
            Error::CompactTail {
                path,
                offset,
                fault,
            } => write!(
                f,
                "{}: byte {offset}: {fault}; the compact log is not extended",
                path.display()
            ),
            Error::KeyedRotation { path } => write!(
                f,
                "{}: rotation of a keyed log is not supported yet: open it without rotation",
                path.display()
            ),
            Error::BadJournal {
                path,
                fault,
                source,
            } => write!(
                f,
                "{}: the torn-tail journal proves nothing ({fault}) and cannot be set \
                 aside ({source}); the log is untouched",
                path.display()
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. }
            | Error::Journal { source, .. }
            | Error::BadJournal { source, .. } => Some(source),
            Error::Seal { source, .. } => Some(source),
            _ => None,
        }
    }
}
