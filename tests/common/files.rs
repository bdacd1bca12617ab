//! Log files, for the std suites: verifying one, and reading its records.

use std::path::{Path, PathBuf};

use immutable_log::std_backend::verify_path;
use immutable_log::{Options, Record, Report, Verdict};

use super::{message, read_records};

/// Verifies the file and returns its report; panics unless it is intact.
#[track_caller]
pub fn intact(path: &Path) -> Report {
    match verify_path(path, Options::default()).expect("readable") {
        Verdict::Intact(report) => report,
        other => panic!("{} is not intact: {other:?}", path.display()),
    }
}

/// The file beside the log at `log` whose name is the log's and `suffix`.
pub fn beside(log: &Path, suffix: &str) -> PathBuf {
    let mut name = log.file_name().unwrap().to_os_string();
    name.push(suffix);
    log.with_file_name(name)
}

/// The torn-tail journal of the log at `log`: `<log>.torn`.
pub fn journal_of(log: &Path) -> PathBuf {
    beside(log, ".torn")
}

/// What the tests look at in one record of a file, owned.
#[derive(Debug, Clone)]
pub struct Fields {
    pub seq: Option<u64>,
    pub levelno: i64,
    /// Decoded (see [`message`]).
    pub message: String,
    pub truncated: bool,
    /// `"unlogged"`: records lost just before this one.
    pub unlogged: u64,
}

impl Fields {
    fn of(record: &Record) -> Fields {
        Fields {
            seq: record.seq(),
            levelno: record.levelno(),
            message: message(record),
            truncated: record.truncated(),
            unlogged: record.unlogged(),
        }
    }
}

/// The records of the log at `path`, read with the crate's reader (see
/// [`read_records`]).
#[track_caller]
pub fn records_of(path: &Path) -> Vec<Fields> {
    let log = std::fs::read(path).expect("read log");
    read_records(&log).iter().map(Fields::of).collect()
}
