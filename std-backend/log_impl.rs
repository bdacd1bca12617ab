//! The `log` facade over a [`LogFile`]: `log::info!` and friends append
//! records. [`LogBuilder`] filters by level and target (`RUST_LOG`-style
//! text) and installs a log that can be closed ([`LoggerHandle::close`]) and
//! another one installed after it, in the same process.
//!
//! ```
//! use immutable_log::std_backend::{LogBuilder, LogFile};
//!
//! let path = std::env::temp_dir().join(format!("log-doc-{}.log", std::process::id()));
//! # let _ = std::fs::remove_file(&path);
//! let handle = LogBuilder::new()
//!     .parse("info,my_crate::db=debug")?
//!     .install(LogFile::open(&path)?)?;
//! log::debug!(target: "my_crate::db", "connected");
//! log::debug!(target: "my_crate::web", "not written: below INFO");
//! handle.close()?; // flushed, the file's lock released
//!
//! let text = std::fs::read_to_string(&path)?;
//! assert!(text.contains(" - DEBUG - my_crate::db: connected|"));
//! assert!(!text.contains("not written"));
//! # std::fs::remove_file(&path)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::time::SystemTime;

use log::LevelFilter;

use super::log_install::{install, InstallError, LoggerHandle};
use super::{Entry, LogFile};
use crate::Level;

impl log::Log for LogFile {
    /// Every level is taken; filter with [`LogBuilder`] (or `log::set_max_level`).
    fn enabled(&self, _metadata: &log::Metadata<'_>) -> bool {
        true
    }

    /// Formats the record on the calling thread and appends it, its message
    /// as given. `log` cannot return errors: a record that could not be
    /// written is counted, and the next record written says how many were
    /// lost (`"unlogged":N`).
    fn log(&self, record: &log::Record<'_>) {
        let written = self.append_entry(Entry::new(
            SystemTime::now(),
            Level::from(record.level()),
            record.target(),
            *record.args(),
        ));
        if written.is_err() {
            self.note_unlogged();
        }
    }

    /// Hands buffered records to the OS; errors are met by the next append.
    fn flush(&self) {
        let _ = LogFile::flush(self);
    }
}

impl LogFile {
    /// Makes this handler the `log` crate's logger at every level, each
    /// record's message as given (no target): the same as
    /// `LogBuilder::new().level(LevelFilter::Trace).with_target(false).install(self)`.
    /// Close it with [`LoggerHandle::close`] to release the file.
    pub fn install(self) -> Result<LoggerHandle, InstallError> {
        LogBuilder::new()
            .level(LevelFilter::Trace)
            .with_target(false)
            .install(self)
    }
}

/// Builds the `log` crate's logger over a [`LogFile`]: which records are kept
/// (a level, per-target levels, `RUST_LOG`-style text) and what the message
/// says besides the text (the target; the module and the `file:line` when
/// asked).
///
/// The message is `<target>[ [<module>]][ (<file>:<line>)]: <text>`; the
/// log's [`Format`](super::Format) adds the time and level around it.
pub struct LogBuilder {
    filter: env_filter::Builder,
    target: bool,
    module: bool,
    location: bool,
}

impl LogBuilder {
    /// Keeps records at INFO and above, from every target, with the target in
    /// the message.
    pub fn new() -> Self {
        let mut filter = env_filter::Builder::new();
        filter.filter_level(LevelFilter::Info);
        LogBuilder {
            filter,
            target: true,
            module: false,
            location: false,
        }
    }

    /// The level for targets no other rule names.
    pub fn level(mut self, level: LevelFilter) -> Self {
        self.filter.filter_level(level);
        self
    }

    /// The level for `target` and the targets under it (`my_crate` covers
    /// `my_crate::db`); the longest matching target wins.
    pub fn target_level(mut self, target: &str, level: LevelFilter) -> Self {
        self.filter.filter_module(target, level);
        self
    }

    /// Adds the rules of `RUST_LOG`-style text: `warn`,
    /// `info,my_crate=debug,hyper=off`, `my_crate` (all of its levels). A
    /// rule for a target replaces an earlier one for the same target.
    pub fn parse(mut self, spec: &str) -> Result<Self, FilterError> {
        match self.filter.try_parse(spec) {
            Ok(_) => Ok(self),
            Err(e) => Err(FilterError {
                spec: spec.to_string(),
                reason: e.to_string(),
            }),
        }
    }

    /// Adds the rules in the environment variable `var` (`RUST_LOG`, say),
    /// when it is set.
    pub fn parse_env(self, var: &str) -> Result<Self, FilterError> {
        match std::env::var(var) {
            Ok(spec) => self.parse(&spec),
            Err(_) => Ok(self),
        }
    }

    /// Whether the message starts with the record's target (on by default).
    pub fn with_target(mut self, on: bool) -> Self {
        self.target = on;
        self
    }

    /// Whether the message names the module, when it differs from the
    /// target (off by default).
    pub fn with_module(mut self, on: bool) -> Self {
        self.module = on;
        self
    }

    /// Whether the message names the source `file:line` (off by default).
    pub fn with_location(mut self, on: bool) -> Self {
        self.location = on;
        self
    }

    /// A `log::Log` over `log` with these rules, to install by hand or to
    /// combine with other loggers.
    pub fn build(mut self, log: LogFile) -> FilteredLog {
        FilteredLog {
            filter: self.filter.build(),
            log,
            target: self.target,
            module: self.module,
            location: self.location,
        }
    }

    /// Makes a [`FilteredLog`] over `log` the `log` crate's logger, and sets
    /// `log::max_level` to the most its rules let through. The handle closes
    /// it ([`LoggerHandle::close`]); another log can be installed after that,
    /// in the same process.
    ///
    /// Fails, and hands `log` back, when another crate's logger is already
    /// set, or a log installed here is still open.
    pub fn install(self, log: LogFile) -> Result<LoggerHandle, InstallError> {
        install(self.build(log))
    }
}

impl Default for LogBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for LogBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogBuilder")
            .field("filter", &self.filter)
            .field("target", &self.target)
            .field("module", &self.module)
            .field("location", &self.location)
            .finish()
    }
}

/// A [`LogFile`] behind level and target rules ([`LogBuilder::build`]).
pub struct FilteredLog {
    pub(crate) filter: env_filter::Filter,
    pub(crate) log: LogFile,
    target: bool,
    module: bool,
    location: bool,
}

impl FilteredLog {
    /// The log records go to.
    pub fn log(&self) -> &LogFile {
        &self.log
    }

    /// The log, no longer filtered.
    pub fn into_inner(self) -> LogFile {
        self.log
    }
}

impl fmt::Debug for FilteredLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FilteredLog")
            .field("filter", &self.filter)
            .field("log", &self.log)
            .finish_non_exhaustive()
    }
}

/// A record's message as a [`FilteredLog`] writes it.
struct Message<'a> {
    record: &'a log::Record<'a>,
    log: &'a FilteredLog,
}

impl fmt::Display for Message<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let record = self.record;
        let mut any = false;
        if self.log.target {
            f.write_str(record.target())?;
            any = true;
        }
        if self.log.module {
            if let Some(module) = record.module_path().filter(|m| *m != record.target()) {
                write!(f, "{}[{module}]", if any { " " } else { "" })?;
                any = true;
            }
        }
        if self.log.location {
            if let Some(file) = record.file() {
                let space = if any { " " } else { "" };
                match record.line() {
                    Some(line) => write!(f, "{space}({file}:{line})")?,
                    None => write!(f, "{space}({file})")?,
                }
                any = true;
            }
        }
        if any {
            f.write_str(": ")?;
        }
        f.write_fmt(*record.args())
    }
}

impl log::Log for FilteredLog {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        self.filter.enabled(metadata)
    }

    /// Appends the record if the rules keep it; one that cannot be written
    /// is counted, and the next record says how many were lost.
    fn log(&self, record: &log::Record<'_>) {
        if !self.filter.matches(record) {
            return;
        }
        let message = Message { record, log: self };
        let written = self.log.append_entry(Entry::new(
            SystemTime::now(),
            Level::from(record.level()),
            record.target(),
            format_args!("{message}"),
        ));
        if written.is_err() {
            self.log.note_unlogged();
        }
    }

    fn flush(&self) {
        let _ = self.log.flush();
    }
}

/// `RUST_LOG`-style text that could not be read ([`LogBuilder::parse`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterError {
    /// The text given.
    pub spec: String,
    /// What is wrong with it.
    pub reason: String,
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "level filter {:?}: {}", self.spec, self.reason)
    }
}

impl std::error::Error for FilterError {}
