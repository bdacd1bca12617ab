//! Telling a file that is not a log from a damaged one: its line 1 does not
//! start a record, so it is not an immutable-log file, or its start was
//! overwritten. Either way it fails (exit 1); the message says which failure
//! this is.

use std::fmt;
use std::fs::File;
use std::io::{self, Read as _};
use std::path::Path;

use crate::std_backend::{verify_reader, MAX_RECORD};
use crate::{Failure, FailureKind, Options, RecordFault, Start, Verdict};

/// True when `failure` says the first record is not shaped like a record at
/// all: its display line is not `<hash>|<message>|<hash>`, its second line
/// is not a block, or its first line is longer than any record.
pub(super) fn not_a_log(failure: &Failure) -> bool {
    failure.record == 0
        && matches!(
            failure.kind,
            FailureKind::Record(RecordFault::MalformedDisplayLine | RecordFault::MissingBlockData)
                | FailureKind::LineTooLong { .. }
        )
}

/// The message for a file whose first record is not one.
#[derive(Clone, Copy, Debug)]
pub(super) struct NotALog;

impl fmt::Display for NotALog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "line 1 is not a record: this is not an immutable-log file, or its start \
             was overwritten",
        )
    }
}

/// The failure of the file's first record, checked on its own (any
/// `prev_hash`, no key): `None` when it passes, is cut short (a torn first
/// record), or is a keyed chain start (which needs the key).
pub(super) fn first_record_failure(path: &Path) -> io::Result<Option<Failure>> {
    let mut start = Vec::new();
    File::open(path)?
        .take(MAX_RECORD as u64 + 1)
        .read_to_end(&mut start)?;
    // Up to the end of the second line: one record.
    let end = start
        .iter()
        .enumerate()
        .filter(|&(_, &b)| b == b'\n')
        .nth(1)
        .map_or(start.len(), |(at, _)| at + 1);
    let first = start.get(..end).unwrap_or_default();
    let options = Options {
        start: Start::Segment,
        ..Options::default()
    };
    Ok(match verify_reader(first, options)? {
        Verdict::Failed(_, failure)
            if failure.record == 0 && failure.kind != FailureKind::KeyRequired =>
        {
            Some(failure)
        }
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_file_and_a_binary_file_are_not_logs() {
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().join("passwd");
        std::fs::write(&text, "root:x:0:0:root:/root:/bin/sh\nbin:x:1:1::/:\n").unwrap();
        let failure = first_record_failure(&text).unwrap().unwrap();
        assert!(not_a_log(&failure), "{failure}");
        let binary = dir.path().join("x.gz");
        std::fs::write(&binary, [0x1f, 0x8b, 8, 0, 0xff, b'\n', 0, 1, 2]).unwrap();
        let failure = first_record_failure(&binary).unwrap().unwrap();
        assert!(not_a_log(&failure), "{failure}");
        let empty = dir.path().join("empty");
        std::fs::write(&empty, "").unwrap();
        assert_eq!(first_record_failure(&empty).unwrap(), None);
    }
}
