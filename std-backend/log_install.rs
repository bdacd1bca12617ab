//! Installing a [`FilteredLog`] as the `log` crate's logger so that it can
//! be closed, and another installed, in the same process: the `log` crate
//! takes one logger per process, so a forwarder is set once and the log
//! behind it changes.

use std::fmt;
use std::ops::Deref;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use log::LevelFilter;

use super::log_impl::FilteredLog;
use super::{Error, LogFile};

/// Makes `filtered` the `log` crate's logger (see [`LogBuilder::install`](super::LogBuilder::install)).
pub(crate) fn install(filtered: FilteredLog) -> Result<LoggerHandle, InstallError> {
    let filtered = Arc::new(filtered);
    let mut slot = SLOT.write().unwrap_or_else(PoisonError::into_inner);
    if slot.is_some() {
        return Err(InstallError::StillOpen(Box::new(take_back(filtered))));
    }
    if !FORWARDING.load(Ordering::Acquire) {
        if log::set_logger(&FORWARDER).is_err() {
            return Err(InstallError::OtherLogger(Box::new(take_back(filtered))));
        }
        FORWARDING.store(true, Ordering::Release);
    }
    log::set_max_level(filtered.filter.filter());
    *slot = Some(Arc::clone(&filtered));
    Ok(LoggerHandle { filtered })
}

/// The log back from an `Arc` no one else holds.
fn take_back(filtered: Arc<FilteredLog>) -> LogFile {
    match Arc::try_unwrap(filtered) {
        Ok(filtered) => filtered.log,
        // Never shared yet; no other holder exists.
        Err(shared) => unwrap_when_alone(shared).log,
    }
}

/// The installed log ([`LogBuilder::install`](super::LogBuilder::install)); `None` once closed.
static SLOT: RwLock<Option<Arc<FilteredLog>>> = RwLock::new(None);

/// Whether [`FORWARDER`] is the `log` crate's logger (it can be set only once
/// per process; the log behind it changes).
/// Written only under `SLOT`'s write lock.
static FORWARDING: AtomicBool = AtomicBool::new(false);

/// The `log` crate's logger for the whole process: hands each record to the
/// log installed now, if any.
static FORWARDER: Forwarder = Forwarder;

struct Forwarder;

impl Forwarder {
    fn current() -> Option<Arc<FilteredLog>> {
        SLOT.read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(Arc::clone)
    }
}

impl log::Log for Forwarder {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        Self::current().is_some_and(|log| log::Log::enabled(&*log, metadata))
    }

    fn log(&self, record: &log::Record<'_>) {
        if let Some(log) = Self::current() {
            log::Log::log(&*log, record);
        }
    }

    fn flush(&self) {
        if let Some(log) = Self::current() {
            log::Log::flush(&*log);
        }
    }
}

/// The log installed by [`LogBuilder::install`](super::LogBuilder::install) (or [`LogFile::install`]):
/// use it as the [`LogFile`] (it derefs to one), and [`close`](Self::close)
/// it to flush it and release the file.
///
/// Dropping the handle leaves the log installed, open until
/// [`close`](Self::close) or the process's exit.
#[derive(Debug)]
pub struct LoggerHandle {
    filtered: Arc<FilteredLog>,
}

impl LoggerHandle {
    /// Stops the `log` crate's records reaching this log, waits for the
    /// records being appended right now, then flushes and closes the log,
    /// releasing its file's lock. Another log can be installed afterwards.
    pub fn close(self) -> Result<(), Error> {
        {
            let mut slot = SLOT.write().unwrap_or_else(PoisonError::into_inner);
            if slot
                .as_ref()
                .is_some_and(|log| Arc::ptr_eq(log, &self.filtered))
            {
                *slot = None;
                log::set_max_level(LevelFilter::Off);
            }
        }
        unwrap_when_alone(self.filtered).log.close()
    }
}

/// The value in `shared`, once the threads in the middle of a log call (each
/// holding a clone for one record) have let go of theirs.
fn unwrap_when_alone(mut shared: Arc<FilteredLog>) -> FilteredLog {
    loop {
        match Arc::try_unwrap(shared) {
            Ok(value) => return value,
            Err(again) => {
                shared = again;
                std::thread::yield_now();
            }
        }
    }
}

impl Deref for LoggerHandle {
    type Target = LogFile;

    fn deref(&self) -> &LogFile {
        &self.filtered.log
    }
}

/// Why [`LogBuilder::install`](super::LogBuilder::install) did not install a log; each variant hands
/// the log back.
#[derive(Debug)]
#[non_exhaustive]
pub enum InstallError {
    /// Another crate's logger is the `log` crate's logger already (it can be
    /// set once per process).
    OtherLogger(Box<LogFile>),
    /// A log installed here is still open: close its handle first.
    StillOpen(Box<LogFile>),
}

impl InstallError {
    /// The log that was not installed.
    pub fn into_log(self) -> LogFile {
        match self {
            InstallError::OtherLogger(log) | InstallError::StillOpen(log) => *log,
        }
    }
}

impl fmt::Display for InstallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InstallError::OtherLogger(log) => write!(
                f,
                "{}: not installed: another logger is the `log` crate's logger",
                log.path().display()
            ),
            InstallError::StillOpen(log) => write!(
                f,
                "{}: not installed: a log installed earlier is still open (close its handle first)",
                log.path().display()
            ),
        }
    }
}

impl std::error::Error for InstallError {}
