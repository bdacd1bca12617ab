//! Recovering a torn tail (a record cut off by a crash) without ever losing
//! its bytes, even to a second crash during the recovery.
//!
//! The torn bytes must leave the end of the file (a record that follows them
//! would sit after garbage) and come back inside recovery records. Between the
//! cut and the sync of those records, a crash would lose them; so they are
//! first written to a journal beside the log, `<log>.torn`, and synced. The
//! journal goes once the recovery records are durable. An open that finds a
//! journal cuts the log back to where the torn bytes stood (dropping any
//! recovery records a crash left unfinished) and recovers them again.

use std::borrow::Cow;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use super::appender::Appender;
use super::{Error, Recovered, Step, SystemClock};
use crate::Clock;

const HEADER: &str = "immutable-log torn tail 1 at ";

/// The journal beside the log at `log`.
pub(crate) fn journal_path(log: &Path) -> PathBuf {
    let mut name = log.file_name().unwrap_or_default().to_os_string();
    name.push(".torn");
    log.with_file_name(name)
}

/// A recovery a crash interrupted: where the torn bytes stood, and the bytes.
pub(crate) struct Pending {
    pub(crate) offset: u64,
    pub(crate) bytes: Vec<u8>,
}

/// Reads the journal of an interrupted recovery, if there is one, and cuts
/// the log back to where the torn bytes stood.
pub(crate) fn take_pending(file: &File, log: &Path, len: u64) -> Result<Option<Pending>, Error> {
    let journal = journal_path(log);
    let mut raw = Vec::new();
    match File::open(&journal) {
        Ok(f) => f
            .take(64 * 1024 * 1024)
            .read_to_end(&mut raw)
            .map_err(|e| Error::io(&journal, Step::Open, e))?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(&journal, Step::Open, e)),
    };
    let bad = || {
        let e = io::Error::new(
            io::ErrorKind::InvalidData,
            "not a torn-tail journal of this log (keep it, and look at it by hand)",
        );
        Error::io(&journal, Step::Open, e)
    };
    let lf = raw.iter().position(|&b| b == b'\n').ok_or_else(bad)?;
    let offset: u64 = std::str::from_utf8(raw.get(..lf).unwrap_or_default())
        .ok()
        .and_then(|h| h.strip_prefix(HEADER))
        .and_then(|n| n.parse().ok())
        .ok_or_else(bad)?;
    if offset > len {
        return Err(bad());
    }
    file.set_len(offset)
        .and_then(|()| file.sync_data())
        .map_err(|e| Error::io(log, Step::Cut, e))?;
    Ok(Some(Pending {
        offset,
        bytes: raw.get(lf + 1..).unwrap_or_default().to_vec(),
    }))
}

/// Writes the torn bytes back inside recovery records in their place, made
/// durable: through the journal, unless `pending` says this is the replay of
/// an interrupted recovery (whose journal is already there).
pub(crate) fn recover(
    file: &File,
    log: &Path,
    appender: &mut Appender,
    offset: u64,
    torn: Cow<'_, [u8]>,
    journaled: bool,
) -> Result<Option<Recovered>, Error> {
    if torn.is_empty() {
        return Ok(None);
    }
    let journal = journal_path(log);
    if !journaled {
        write_journal(&journal, offset, &torn).map_err(|e| Error::io(&journal, Step::Write, e))?;
    }
    appender
        .stage_recovered(&torn, offset, SystemClock.now())
        .map_err(|e| Error::io(log, Step::Write, e))?;
    file.set_len(offset)
        .map_err(|e| Error::io(log, Step::Cut, e))?;
    // Should this fail, the journal still holds the bytes for the next open.
    appender
        .hand_over(file)
        .map_err(|e| Error::io(log, Step::Write, e))?;
    file.sync_data()
        .map_err(|e| Error::io(log, Step::Sync, e))?;
    fs::remove_file(&journal)
        .and_then(|()| sync_dir_of(&journal))
        .map_err(|e| Error::io(&journal, Step::Write, e))?;
    Ok(Some(Recovered {
        offset,
        len: torn.len(),
        head: appender.head(),
    }))
}

fn write_journal(journal: &Path, offset: u64, torn: &[u8]) -> io::Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(journal)?;
    f.write_all(format!("{HEADER}{offset}\n").as_bytes())?;
    f.write_all(torn)?;
    f.sync_all()?;
    sync_dir_of(journal)
}

/// Makes a file's creation or removal in its directory durable.
#[cfg(unix)]
pub(crate) fn sync_dir_of(path: &Path) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    File::open(dir)?.sync_all()
}

/// Makes a file's creation or removal in its directory durable.
#[cfg(not(unix))]
pub(crate) fn sync_dir_of(_path: &Path) -> io::Result<()> {
    Ok(())
}
