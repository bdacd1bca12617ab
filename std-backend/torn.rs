//! Recovering a torn tail (a record cut off by a crash) without ever losing
//! its bytes, even to a second crash during the recovery, and without ever
//! cutting the log on the word of a journal that does not prove itself.
//!
//! The torn bytes must leave the end of the file (a record that follows them
//! would sit after garbage) and come back inside recovery records. Between the
//! cut and the sync of those records, a crash would lose them; so they are
//! first written to a journal beside the log, `<log>.torn`
//! ([format](super::journal)), and only then is the log touched:
//!
//! 1. the journal is written to `<log>.torn.tmp` (created with the log's
//!    permission bits), synced, renamed to `<log>.torn`, and the directory
//!    synced: a journal in place is always complete;
//! 2. the log is cut back to where the torn bytes stood, the recovery records
//!    are written, and the log is synced;
//! 3. the journal is removed, and the directory synced.
//!
//! A failure at any step fails the open, and leaves the torn bytes in the
//! log or in the journal: a full disk while journaling leaves the log
//! untouched (and the temporary file is removed), so the next open, once
//! there is room, recovers every torn byte. A crash mid-journal leaves only
//! `<log>.torn.tmp`, which proves nothing and is replaced.
//!
//! An open that finds `<log>.torn` replays the recovery only if the journal
//! proves itself and fits the log: its header, exact length and SHA-256
//! (`journal`), then the hash of the log's record 0, the record it names at
//! its offset (the offset must end that record), and what the log holds after
//! the offset, which must be nothing the journal does not hold: the torn bytes
//! (a crash before the cut), or the start of the recovery records the journal
//! makes (their timestamp is in the journal, so a replay writes the same
//! bytes), possibly followed by zero bytes (a power loss in the middle of
//! writing them).
//!
//! **A journal that does not (short, bad checksum, another log's, an offset
//! that is not at the record it names, records written after it, no torn
//! bytes) cuts nothing: it is set aside, renamed `<log>.torn.set-aside-N`
//! (never deleted), and the log is opened untouched**, its own torn tail (if
//! any) recovered as usual. [`LogFile::set_aside`](super::LogFile::set_aside)
//! reports it. Open fails only if the journal cannot be read or renamed. A
//! planted or stale journal thus neither deletes records nor stops a writer.
//!
//! (Over 400 lines: one job, torn-tail recovery, every step of it journaled.)

use std::fs::{File, Permissions};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::appender::{staging_error, Appender};
use super::journal::{Journal, JournalFault, READ_LIMIT};
use super::recovery_fs::RecoveryFs;
use super::tail::{read_origin, read_tail, Check};
use super::{Error, JournalStep, Recovered, Step, SystemClock};
use crate::{Clock, Hash, Head, SealKey};

/// The journal beside the log at `log`: `<log>.torn`.
pub(crate) fn journal_path(log: &Path) -> PathBuf {
    beside(log, ".torn")
}

/// Where the journal is written before it is renamed into place.
fn temp_path(log: &Path) -> PathBuf {
    beside(log, ".torn.tmp")
}

/// The file named as `log` with `suffix` added.
fn beside(log: &Path, suffix: &str) -> PathBuf {
    let mut name = log.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    log.with_file_name(name)
}

/// A torn-tail journal found beside the log that proved nothing, so it was
/// renamed out of the way and nothing was cut on its account.
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub struct SetAside {
    /// Where the journal was: `<log>.torn`.
    pub journal: PathBuf,
    /// Where it is now: `<log>.torn.set-aside-N`.
    pub aside: PathBuf,
    /// What is wrong with it.
    pub fault: JournalFault,
}

/// Where a log continues, as open finds it: its last record, how it goes on,
/// and the torn bytes to recover.
pub(crate) struct Found {
    /// Continues the chain after the last complete record.
    pub(crate) appender: Appender,
    /// The torn bytes, from the log or from a journal.
    pub(crate) torn: Torn,
    /// A journal that proved nothing, renamed.
    pub(crate) set_aside: Option<SetAside>,
}

/// Torn bytes waiting to be recovered.
pub(crate) enum Torn {
    /// None: the log ends in a whole record.
    None,
    /// Bytes after the log's last record, not yet journaled.
    InLog {
        /// The log's record 0, to name the log in the journal.
        origin: Option<Hash>,
        /// The last complete record.
        after: Option<Head>,
        /// Where the torn bytes start.
        offset: u64,
        /// The bytes.
        bytes: Vec<u8>,
    },
    /// The journal of a recovery a crash or an error cut short, checked
    /// against the log.
    Journaled(Journal),
}

impl Found {
    /// Reads what a log of `len` bytes continues from: a journal beside it
    /// that proves itself and fits it (any other is set aside), or else its
    /// tail. Writes nothing but the rename of a journal set aside.
    pub(crate) fn read(
        fs: &dyn RecoveryFs,
        file: &File,
        log: &Path,
        len: u64,
        seal: Option<SealKey>,
    ) -> Result<Found, Error> {
        let journal = journal_path(log);
        let set_aside = match read_journal(&journal)? {
            None => None,
            Some(parsed) => {
                let fits = match parsed {
                    Ok(parsed) => fit(file, log, len, seal.clone(), parsed)?,
                    Err(fault) => Err(fault),
                };
                match fits {
                    Ok(found) => return Ok(found),
                    Err(fault) => Some(set_aside(fs, &journal, fault)?),
                }
            }
        };
        let mut found = from_tail(file, log, len, seal)?;
        found.set_aside = set_aside;
        Ok(found)
    }
}

/// The journal at `journal`, as far as it proves itself (`None`: there is
/// none).
fn read_journal(journal: &Path) -> Result<Option<Result<Journal, JournalFault>>, Error> {
    let mut raw = Vec::new();
    match File::open(journal) {
        Ok(f) => f
            .take(READ_LIMIT)
            .read_to_end(&mut raw)
            .map_err(|e| Error::journal(journal, JournalStep::Read, e))?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::journal(journal, JournalStep::Read, e)),
    };
    Ok(Some(Journal::parse(&raw)))
}

/// Checks that a journal fits the log of `len` bytes: the same record 0, the
/// record it names ending at its offset, and after the offset nothing it does
/// not hold. If so, the log continues from the offset, and the journal is
/// replayed.
fn fit(
    file: &File,
    log: &Path,
    len: u64,
    mut seal: Option<SealKey>,
    journal: Journal,
) -> Result<Result<Found, JournalFault>, Error> {
    let offset = journal.offset;
    if offset > len {
        return Ok(Err(JournalFault::PastEnd { offset, len }));
    }
    if origin_below(file, log, offset)? != journal.origin {
        return Ok(Err(JournalFault::OtherLog));
    }
    let tail = match read_tail(&mut &*file, offset, log, check(&mut seal)) {
        Ok(tail) => tail,
        // The key state has sealed records after the offset.
        Err(Error::KeyOutOfStep { .. }) => return Ok(Err(JournalFault::Stale { offset })),
        // The offset falls inside a record, or after garbage.
        Err(e) if e.is_integrity() => return Ok(Err(JournalFault::NotAfterHead { offset })),
        Err(e) => return Err(e),
    };
    if tail.clean_len() != offset || tail.head() != journal.after {
        return Ok(Err(JournalFault::NotAfterHead { offset }));
    }
    // What the replay writes after the offset.
    let mut replay = Appender::new(tail.head(), offset, seal.clone());
    replay
        .stage_recovered(&journal.torn, offset, journal.time)
        .map_err(|e| staging_error(log, e))?;
    let after = len - offset;
    let most = replay.staged().len().max(journal.torn.len());
    if after > most as u64 {
        return Ok(Err(JournalFault::Stale { offset }));
    }
    let mut rest = vec![0; usize::try_from(after).unwrap_or(usize::MAX)];
    let mut reader = file;
    reader
        .seek(SeekFrom::Start(offset))
        .and_then(|_| reader.read_exact(&mut rest))
        .map_err(|e| Error::io(log, Step::ReadTail, e))?;
    if !holds_only(&rest, &[&journal.torn, replay.staged()]) {
        return Ok(Err(JournalFault::Stale { offset }));
    }
    Ok(Ok(Found {
        appender: Appender::new(tail.head(), offset, seal),
        torn: Torn::Journaled(journal),
        set_aside: None,
    }))
}

/// Whether `rest` holds nothing but the start of one of `known`, then zero
/// bytes (what a power loss can leave of blocks written but not synced).
fn holds_only(rest: &[u8], known: &[&[u8]]) -> bool {
    known.iter().any(|known| {
        let same = rest
            .iter()
            .zip(known.iter())
            .take_while(|(a, b)| a == b)
            .count();
        rest.get(same..).unwrap_or_default().iter().all(|&b| b == 0)
    })
}

/// The log continued from its own tail: no journal, or one set aside.
fn from_tail(file: &File, log: &Path, len: u64, mut seal: Option<SealKey>) -> Result<Found, Error> {
    let tail = read_tail(&mut &*file, len, log, check(&mut seal))?;
    let offset = tail.clean_len();
    let torn = match tail.torn() {
        [] => Torn::None,
        bytes => Torn::InLog {
            origin: origin_below(file, log, offset)?,
            after: tail.head(),
            offset,
            bytes: bytes.to_vec(),
        },
    };
    Ok(Found {
        appender: Appender::new(tail.head(), offset, seal),
        torn,
        set_aside: None,
    })
}

/// How the last record is checked: with the key state, if the log is keyed.
fn check(seal: &mut Option<SealKey>) -> Check<'_> {
    match seal.as_mut() {
        Some(key) => Check::Keyed(key),
        None => Check::Plain,
    }
}

/// The hash of the log's record 0, if it lies below `offset` (`None` below
/// byte 1, where the log has no record yet).
fn origin_below(file: &File, log: &Path, offset: u64) -> Result<Option<Hash>, Error> {
    if offset == 0 {
        return Ok(None);
    }
    Ok(read_origin(&mut &*file, log)?.map(|o| o.hash))
}

/// Renames a journal that proves nothing to the first free
/// `<journal>.set-aside-N`.
fn set_aside(fs: &dyn RecoveryFs, journal: &Path, fault: JournalFault) -> Result<SetAside, Error> {
    let bad = |source| Error::BadJournal {
        path: journal.to_path_buf(),
        fault,
        source,
    };
    let free = (1..=10_000u32)
        .map(|n| beside(journal, &format!(".set-aside-{n}")))
        .find(|aside| {
            matches!(aside.symlink_metadata(), Err(e) if e.kind() == io::ErrorKind::NotFound)
        })
        .ok_or_else(|| bad(io::ErrorKind::AlreadyExists.into()))?;
    fs.rename(journal, &free)
        .and_then(|()| fs.sync_dir_of(journal))
        .map_err(bad)?;
    Ok(SetAside {
        journal: journal.to_path_buf(),
        aside: free,
        fault,
    })
}

impl Torn {
    /// Writes the torn bytes back inside recovery records in their place,
    /// made durable: through the journal, written first unless this is the
    /// replay of a journal. `appender` continues after the last complete
    /// record; `permissions` are the log's, for the journal.
    pub(crate) fn recover(
        self,
        fs: &dyn RecoveryFs,
        file: &File,
        log: &Path,
        permissions: &Permissions,
        appender: &mut Appender,
    ) -> Result<Option<Recovered>, Error> {
        let journal = match self {
            Torn::None => return Ok(None),
            Torn::Journaled(journal) => journal,
            Torn::InLog {
                origin,
                after,
                offset,
                bytes,
            } => {
                let journal = Journal {
                    origin,
                    after,
                    offset,
                    time: SystemClock.now(),
                    torn: bytes,
                };
                write_journal(fs, log, permissions, &journal)?;
                journal
            }
        };
        replay(fs, file, log, appender, &journal).map(Some)
    }
}

/// Writes the journal to its temporary file, syncs it, and renames it into
/// place: a journal in place is always whole and durable.
fn write_journal(
    fs: &dyn RecoveryFs,
    log: &Path,
    permissions: &Permissions,
    journal: &Journal,
) -> Result<(), Error> {
    let temp = temp_path(log);
    let created = match fs.create_new(&temp, permissions) {
        // Left by a crash while journaling: it was never put in place, so
        // the log was not touched on its account.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => fs
            .remove_file(&temp)
            .and_then(|()| fs.create_new(&temp, permissions)),
        other => other,
    };
    let file = created.map_err(|e| Error::journal(&temp, JournalStep::Create, e))?;
    let written = fs
        .write_all(&file, &journal.encode())
        .map_err(|e| Error::journal(&temp, JournalStep::Write, e))
        .and_then(|()| {
            fs.sync_all(&file)
                .map_err(|e| Error::journal(&temp, JournalStep::Sync, e))
        });
    drop(file);
    let path = journal_path(log);
    let placed = written.and_then(|()| {
        fs.rename(&temp, &path)
            .map_err(|e| Error::journal(&path, JournalStep::Commit, e))
    });
    if let Err(e) = placed {
        // Frees the space a full disk needs; the error is what matters.
        let _ = fs.remove_file(&temp);
        return Err(e);
    }
    fs.sync_dir_of(&path)
        .map_err(|e| Error::journal(&path, JournalStep::Commit, e))
}

/// Cuts the log back to the journal's offset, writes the recovery records,
/// syncs them, and removes the journal.
fn replay(
    fs: &dyn RecoveryFs,
    file: &File,
    log: &Path,
    appender: &mut Appender,
    journal: &Journal,
) -> Result<Recovered, Error> {
    appender
        .stage_recovered(&journal.torn, journal.offset, journal.time)
        .map_err(|e| staging_error(log, e))?;
    fs.set_len(file, journal.offset)
        .map_err(|e| Error::io(log, Step::Cut, e))?;
    // Should any of these fail, the journal still holds the bytes for the
    // next open.
    appender
        .hand_over(fs, file)
        .map_err(|e| Error::io(log, Step::Write, e))?;
    fs.sync_data(file)
        .map_err(|e| Error::io(log, Step::Sync, e))?;
    let path = journal_path(log);
    fs.remove_file(&path)
        .and_then(|()| fs.sync_dir_of(&path))
        .map_err(|e| Error::journal(&path, JournalStep::Remove, e))?;
    Ok(Recovered {
        offset: journal.offset,
        len: journal.torn.len(),
        head: appender.head(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_known_bytes_and_zeros_may_follow_the_offset() {
        let torn: &[u8] = b"abc|torn";
        let records: &[u8] = b"rec|recovered\nBLOCK_DATA:{}\n";
        let known = [torn, records];
        assert!(holds_only(b"", &known));
        assert!(holds_only(torn, &known));
        assert!(holds_only(b"rec|rec", &known));
        assert!(holds_only(b"rec|rec\0\0\0", &known));
        assert!(holds_only(records, &known));
        assert!(!holds_only(b"rec|rex", &known));
        assert!(!holds_only(b"other record\n", &known));
        assert!(!holds_only(b"rec|rec\0\0x", &known));
    }
}
