//! The `log` facade over a [`LogFile`]: `log::info!` and friends append
//! records.

use std::time::SystemTime;

use super::{Entry, LogFile};
use crate::Level;

impl log::Log for LogFile {
    /// Every level is taken; filter with `log::set_max_level`.
    fn enabled(&self, _metadata: &log::Metadata<'_>) -> bool {
        true
    }

    /// Formats the record on the calling thread and appends it. `log` cannot
    /// return errors: a record that could not be written is counted, and the
    /// next record written says how many were lost (`"unlogged":N`).
    fn log(&self, record: &log::Record<'_>) {
        let entry = Entry::new(
            SystemTime::now(),
            Level::from(record.level()),
            record.target(),
            *record.args(),
        );
        if self.append_entry(entry).is_err() {
            self.note_unlogged();
        }
    }

    /// Hands buffered records to the OS; errors are met by the next append.
    fn flush(&self) {
        let _ = LogFile::flush(self);
    }
}

impl LogFile {
    /// Makes this handler the `log` crate's logger, for the rest of the
    /// process, at every level (`log::set_max_level(Trace)`), and returns it.
    ///
    /// It is never dropped: with [`Durability::Buffered`](super::Durability),
    /// call `log::logger().flush()` (or [`flush`](Self::flush) on the returned
    /// reference) before the process exits. If a logger was already set, the
    /// error is returned and this handler stays open, and locked, until exit.
    pub fn install(self) -> Result<&'static LogFile, log::SetLoggerError> {
        let log: &'static LogFile = Box::leak(Box::new(self));
        log::set_logger(log)?;
        log::set_max_level(log::LevelFilter::Trace);
        Ok(log)
    }
}
