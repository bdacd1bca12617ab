//! When a log rotates and what it keeps: [`Rotation`], the policy, and
//! [`Rotor`], the state of the file written now.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::rotated::first_record;
use super::Error;
use crate::Head;

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

    /// The `seq` of the file's first record.
    pub(crate) fn first_seq(&self) -> Option<u64> {
        self.first_seq
    }

    /// Notes the switch to a new file at `now`, whose first record follows
    /// `head`.
    pub(crate) fn switched(&mut self, head: Head, now: SystemTime) {
        self.started = Some(secs(now));
        self.first_seq = head.seq.map(|s| s + 1);
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

pub(crate) fn secs(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}
