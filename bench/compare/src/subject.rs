//! immutable-log itself: appends through `LogFile` (plain or keyed) in the
//! default seed-compatible format, and `verify_path_threads`; appends through
//! `CompactLog` (the compact encoding) and `verify_compact_path`.

use std::path::Path;

use immutable_log::std_backend::{
    create_key_pair, verify_compact_path, verify_path_threads, Durability, LogFile, OpenOptions,
};
use immutable_log::{CompactVerdict, Level, Options, Verdict};

use crate::common::{expect_lines, on_threads, size, timed, Measured, Res};
use crate::message;

/// `threads` threads append `per_thread` records each to a new log in `dir`,
/// with `durability`, keyed (a fresh key pair in `dir`) or not. Timed until
/// every record is handed to the OS (or on disk for `sync`).
pub fn append(
    dir: &Path,
    threads: usize,
    per_thread: usize,
    durability: Durability,
    keyed: bool,
) -> Res<Measured> {
    let path = dir.join("immutable.log");
    let mut options = LogFile::options();
    options.durability(durability);
    if keyed {
        let (verify, seal) = (dir.join("verify.key"), dir.join("seal.key"));
        create_key_pair(&verify, &seal)?;
        options.seal_key(seal);
    }
    let log = options.open(&path)?;
    let secs = timed(|| {
        on_threads(threads, |t| {
            for i in 0..per_thread {
                log.append(Level::Info, message!(t, i))
                    .map_err(std::io::Error::other)?;
            }
            Ok(())
        })?;
        log.flush()?;
        Ok(())
    })?;
    log.close()?;
    let records = (threads * per_thread) as u64;
    // Two lines a record; a keyed log starts with its chain-start record.
    expect_lines(&path, 2 * (records + u64::from(keyed)))?;
    Ok(Measured {
        secs,
        bytes: size(&path)?,
        records,
    })
}

/// Writes the log that [`verify`] reads: `records` records, one thread,
/// buffered.
pub fn prepare_verify(path: &Path, records: usize) -> Res<()> {
    let log = LogFile::options()
        .durability(Durability::Buffered)
        .open(path)?;
    for i in 0..records {
        log.append(Level::Info, message!(0, i))?;
    }
    log.close()?;
    Ok(())
}

/// Verifies the log at `path` with `verify_path_threads` on `threads` threads, which must hold
/// `records` intact records.
pub fn verify(path: &Path, records: u64, threads: usize) -> Res<Measured> {
    let mut verdict = None;
    let secs = timed(|| {
        verdict = Some(verify_path_threads(
            path,
            Options::default(),
            None,
            threads,
        )?);
        Ok(())
    })?;
    match verdict {
        Some(Verdict::Intact(report)) if report.records == records => Ok(Measured {
            secs,
            bytes: size(path)?,
            records,
        }),
        other => Err(format!(
            "{}: not intact with {records} records: {other:?}",
            path.display()
        )
        .into()),
    }
}

/// The sizes of one record as `LogFile` writes it with these messages, for
/// the limits' records: the mean over a short log in `dir`.
#[derive(Clone, Copy, Debug)]
pub struct RecordSize {
    /// The whole record, both lines.
    pub record: usize,
    /// Its `block_json`, the bytes its hash covers.
    pub block: usize,
}

/// Measures [`RecordSize`] with a short log in `dir`.
pub fn record_size(dir: &Path) -> Res<RecordSize> {
    const PROBE: usize = 100;
    let path = dir.join("probe.log");
    let log = LogFile::open(&path)?;
    for i in 0..PROBE {
        log.append(Level::Info, message!(0, 1_000_000 + i))?;
    }
    log.close()?;
    let text = std::fs::read(&path)?;
    std::fs::remove_file(&path)?;
    let blocks: usize = text
        .split(|&b| b == b'\n')
        .filter_map(|line| line.strip_prefix(b"BLOCK_DATA:"))
        .map(<[u8]>::len)
        .sum();
    Ok(RecordSize {
        record: text.len() / PROBE,
        block: blocks / PROBE,
    })
}

/// `threads` threads append `per_thread` records each to a new compact log
/// in `dir` (`CompactLog`), with `durability`. Timed as [`append`].
pub fn append_compact(
    dir: &Path,
    threads: usize,
    per_thread: usize,
    durability: Durability,
) -> Res<Measured> {
    let path = dir.join("immutable-compact.bin");
    let log = OpenOptions::new()
        .durability(durability)
        .open_compact(&path)?;
    let secs = timed(|| {
        on_threads(threads, |t| {
            for i in 0..per_thread {
                log.append(Level::Info, message!(t, i))
                    .map_err(std::io::Error::other)?;
            }
            Ok(())
        })?;
        log.flush()?;
        Ok(())
    })?;
    log.close()?;
    let records = (threads * per_thread) as u64;
    // Every record there (outside the timed part).
    match verify_compact_path(&path, false)? {
        CompactVerdict::Intact(report) if report.records == records => {}
        other => return Err(format!("{}: {other:?}", path.display()).into()),
    }
    Ok(Measured {
        secs,
        bytes: size(&path)?,
        records,
    })
}

/// Writes the compact log that [`verify_compact`] reads: `records` records,
/// one thread, buffered.
pub fn prepare_compact_verify(path: &Path, records: usize) -> Res<()> {
    let log = OpenOptions::new()
        .durability(Durability::Buffered)
        .open_compact(path)?;
    for i in 0..records {
        log.append(Level::Info, message!(0, i))?;
    }
    log.close()?;
    Ok(())
}

/// Verifies the compact log at `path` with `verify_compact_path`, which must
/// hold `records` intact records.
pub fn verify_compact(path: &Path, records: u64) -> Res<Measured> {
    let mut verdict = None;
    let secs = timed(|| {
        verdict = Some(verify_compact_path(path, false)?);
        Ok(())
    })?;
    match verdict {
        Some(CompactVerdict::Intact(report)) if report.records == records => Ok(Measured {
            secs,
            bytes: size(path)?,
            records,
        }),
        other => Err(format!(
            "{}: not intact with {records} records: {other:?}",
            path.display()
        )
        .into()),
    }
}
