//! What can go wrong with a log file, and where.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use super::{KeyFile, KeyLine};
use crate::RecordFault;

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
        })
    }
}

/// An error of the file handler or of host-side verification. Every variant
/// names the file.
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
}

impl Error {
    /// The file the error is about: the log, or for the key file variants
    /// (`KeyFileExists`, `NotAKeyFile`, `WrongKeyFile`, `BadKeyLine`) the key file.
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
            | Error::NeedsSealKey { path }
            | Error::KeyOutOfStep { path, .. } => path,
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
                | Error::LogNotKeyed { .. }
                | Error::ForeignSealKey { .. }
        )
    }

    pub(crate) fn io(path: &Path, step: Step, source: io::Error) -> Self {
        Error::Io {
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
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
