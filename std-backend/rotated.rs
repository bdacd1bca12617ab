//! The files of a rotated set, as logrotate numbers them: `FILE` (the one
//! written), `FILE.1` (the newest rotated), `FILE.2`, … (`FILE.N.gz` when
//! compressed); reading the first record and the head of any of them, gzip
//! or not.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

use super::{verify_reader, Error, Step, MAX_RECORD};
use crate::{Hash, Head, Options, Record, Start, Verdict};

/// One rotated file of a set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Rotated {
    /// Its number: 1 for the newest.
    pub(crate) number: u64,
    /// Whether it is gzip-compressed (`.gz`).
    pub(crate) gz: bool,
    /// Its path.
    pub(crate) path: PathBuf,
}

/// `FILE.N`, or `FILE.N.gz`.
pub(crate) fn numbered(log: &Path, number: u64, gz: bool) -> PathBuf {
    let mut name = log.as_os_str().to_os_string();
    name.push(format!(".{number}"));
    if gz {
        name.push(".gz");
    }
    PathBuf::from(name)
}

/// `FILE.rotating`: the next file, written before it takes `FILE`'s place.
pub(crate) fn next_path(log: &Path) -> PathBuf {
    beside(log, ".rotating")
}

/// `FILE.N.gz.tmp`: a compressed copy being written.
pub(crate) fn gz_temp(log: &Path, number: u64) -> PathBuf {
    let mut name = numbered(log, number, true).into_os_string();
    name.push(".tmp");
    PathBuf::from(name)
}

fn beside(log: &Path, suffix: &str) -> PathBuf {
    let mut name = log.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

/// The file name of `path`, for messages and records.
pub(crate) fn name_of(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// The rotated files of the log at `log`, newest first (`FILE.1` before
/// `FILE.2`); where a crash left both `FILE.N` and `FILE.N.gz`, both.
pub(crate) fn list(log: &Path) -> io::Result<Vec<Rotated>> {
    let dir = match log.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(dir) => dir.to_path_buf(),
        None => PathBuf::from("."),
    };
    let Some(base) = log.file_name().and_then(|n| n.to_str()) else {
        return Ok(Vec::new());
    };
    let mut found = Vec::new();
    for entry in fs::read_dir(&dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(rest) = name.strip_prefix(base).and_then(|r| r.strip_prefix('.')) else {
            continue;
        };
        let (digits, gz) = match rest.strip_suffix(".gz") {
            Some(digits) => (digits, true),
            None => (rest, false),
        };
        if digits.is_empty()
            || !digits.bytes().all(|b| b.is_ascii_digit())
            || digits.starts_with('0')
        {
            continue;
        }
        let Ok(number) = digits.parse::<u64>() else {
            continue;
        };
        found.push(Rotated {
            number,
            gz,
            path: numbered(log, number, gz),
        });
    }
    found.sort_by_key(|r| (r.number, r.gz));
    Ok(found)
}

/// Opens a file of the set for reading, decompressing a `.gz` one.
pub(crate) fn open_reader(path: &Path, gz: bool) -> io::Result<Box<dyn Read>> {
    let file = File::open(path)?;
    Ok(if gz {
        Box::new(MultiGzDecoder::new(file))
    } else {
        Box::new(file)
    })
}

/// What the first record of a file says about where it stands in the chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct First {
    /// Its `seq`.
    pub(crate) seq: Option<u64>,
    /// Its `prev_hash`: the head of the file before it.
    pub(crate) prev_hash: Hash,
    /// Its `timestamp`, whole seconds.
    pub(crate) secs: Option<u64>,
}

/// The first complete record of a file (`None`: it has none that parses).
pub(crate) fn first_record(path: &Path, gz: bool) -> io::Result<Option<First>> {
    let mut reader = open_reader(path, gz)?;
    let mut start = Vec::new();
    let mut chunk = [0u8; 4096];
    while start.iter().filter(|&&b| b == b'\n').count() < 2 && start.len() < MAX_RECORD {
        let n = match reader.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        start.extend_from_slice(chunk.get(..n).unwrap_or_default());
    }
    Ok(match Record::read(&start) {
        Some(Ok((record, _))) => Some(First {
            seq: record.seq(),
            prev_hash: record.prev_hash(),
            secs: record
                .timestamp()
                .split('.')
                .next()
                .and_then(|s| s.parse().ok()),
        }),
        _ => None,
    })
}

/// The last record of a file of the set, every record checked on the way
/// for a `.gz` one (read whole), only the tail for a plain one.
pub(crate) fn head_of(path: &Path, gz: bool) -> Result<Option<Head>, Error> {
    if !gz {
        return super::read_head(path);
    }
    let reader = open_reader(path, true).map_err(|e| Error::io(path, Step::ReadSet, e))?;
    let options = Options {
        start: Start::Segment,
        ..Options::default()
    };
    match verify_reader(reader, options).map_err(|e| Error::io(path, Step::ReadSet, e))? {
        Verdict::Intact(report) | Verdict::Torn(report, _) => Ok(report.head),
        Verdict::Failed(_, failure) => Err(Error::Rotated {
            path: path.to_path_buf(),
            failure: Box::new(failure),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_logrotate_names_count_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("app.log");
        for name in [
            "app.log",
            "app.log.2.gz",
            "app.log.1",
            "app.log.10",
            "app.log.3",
            "app.log.3.gz",
            "app.log.01",
            "app.log.x",
            "app.log.1.gz.tmp",
            "app.log.rotating",
            "app.logs.1",
            "other.log.1",
        ] {
            fs::write(dir.path().join(name), b"").unwrap();
        }
        let got: Vec<_> = list(&log)
            .unwrap()
            .into_iter()
            .map(|r| (r.number, r.gz, name_of(&r.path)))
            .collect();
        let want = [
            (1, false, "app.log.1"),
            (2, true, "app.log.2.gz"),
            (3, false, "app.log.3"),
            (3, true, "app.log.3.gz"),
            (10, false, "app.log.10"),
        ];
        assert_eq!(got, want.map(|(n, g, s)| (n, g, s.to_string())).to_vec());
    }
}
