//! The leaves of a log file, front to back from any record boundary: each
//! record's digest (its leaf), the hash it states, and where it stands, in
//! bounded memory, with each record checked on its own and linked to the one
//! before it.
//!
//! What the tree side file (`tree_file`) and the root pass of `verify
//! --checkpoint` read. A record fails as the verifier would say: a malformed
//! record, a hash that is not its digest (plain logs; a keyed log's tags
//! need the key), a `prev_hash` that is not the hash before it, a `seq` out
//! of order. A log that ends inside a record ends before it (a torn tail).

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};

use super::MAX_RECORD;
use crate::{Failure, FailureKind, Hash, Record};

/// One record of the log, read.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Leaf {
    /// Its 0-based index in the log.
    pub index: u64,
    /// SHA-256 of its `block_json`: the tree's leaf.
    pub digest: Hash,
    /// The hash it states (a keyed log's tag).
    pub stated: Hash,
    /// The byte offset of its first byte.
    pub start: u64,
    /// The byte offset just past its second LF.
    pub end: u64,
}

/// Where a reader starts: a record boundary, and what it must link to.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct After {
    /// The byte offset of the next record.
    pub offset: u64,
    /// The index of the next record.
    pub index: u64,
    /// The hash the record before states (`Hash::GENESIS` at the start).
    pub prev: Hash,
    /// The log is keyed (record 0 is a keyed chain start): stated hashes are
    /// tags, not checked here.
    pub keyed: bool,
}

impl After {
    /// The start of the log.
    pub const START: After = After {
        offset: 0,
        index: 0,
        prev: Hash::GENESIS,
        keyed: false,
    };
}

/// What stopped a reader.
#[derive(Debug)]
pub(crate) enum LeafError {
    /// Reading the file failed.
    Io(io::Error),
    /// A record fails (1-based line, 0-based record index).
    Record(Failure),
}

/// Reads records front to back from a file, `MAX_RECORD` bytes at a time.
pub(crate) struct LeafReader<'f> {
    file: &'f mut File,
    buf: Vec<u8>,
    /// Bytes of `buf` read and not yet consumed: `buf[pos..filled]`.
    pos: usize,
    filled: usize,
    /// The file offset of `buf[pos]`.
    offset: u64,
    next: After,
    eof: bool,
}

impl<'f> LeafReader<'f> {
    /// A reader of the records after `after` (its offset must be a record
    /// boundary).
    pub fn new(file: &'f mut File, after: After) -> io::Result<Self> {
        file.seek(SeekFrom::Start(after.offset))?;
        Ok(LeafReader {
            file,
            buf: vec![0; 2 * MAX_RECORD],
            pos: 0,
            filled: 0,
            offset: after.offset,
            next: after,
            eof: false,
        })
    }

    /// Where the next record starts, and what it links to.
    pub fn after(&self) -> After {
        self.next
    }

    /// The next complete record (`None`: the log ends, or ends inside one).
    pub fn next_leaf(&mut self) -> Result<Option<Leaf>, LeafError> {
        loop {
            let window = self.buf.get(self.pos..self.filled).unwrap_or_default();
            if let Some(read) = Record::read(window) {
                let line = self.next.index.saturating_mul(2).saturating_add(1);
                let fail = |kind| {
                    LeafError::Record(Failure {
                        line,
                        record: self.next.index,
                        kind,
                    })
                };
                let (record, rest) = read.map_err(|fault| fail(FailureKind::Record(fault)))?;
                let len = window.len() - rest.len();
                self.check(&record).map_err(fail)?;
                let leaf = Leaf {
                    index: self.next.index,
                    digest: record.digest(),
                    stated: record.hash(),
                    start: self.offset,
                    end: self.offset + len as u64,
                };
                if self.next.index == 0 {
                    self.next.keyed = record.is_chain_start();
                }
                self.pos += len;
                self.offset = leaf.end;
                self.next = After {
                    offset: leaf.end,
                    index: leaf.index + 1,
                    prev: leaf.stated,
                    keyed: self.next.keyed,
                };
                return Ok(Some(leaf));
            }
            if self.eof {
                return Ok(None);
            }
            if self.filled - self.pos >= MAX_RECORD {
                return Err(LeafError::Record(Failure {
                    line: self.next.index.saturating_mul(2).saturating_add(1),
                    record: self.next.index,
                    kind: FailureKind::LineTooLong { limit: MAX_RECORD },
                }));
            }
            self.refill().map_err(LeafError::Io)?;
        }
    }

    /// The record on its own (its stated hash too, unless the log is keyed)
    /// and its link to the record before.
    fn check(&self, record: &Record<'_>) -> Result<(), FailureKind> {
        let keyed = if self.next.index == 0 {
            record.is_chain_start()
        } else {
            self.next.keyed
        };
        let expected = if keyed {
            record.hash()
        } else {
            record.digest()
        };
        record
            .check_stated(&expected)
            .map_err(FailureKind::Record)?;
        if record.prev_hash() != self.next.prev {
            return Err(FailureKind::PrevHashMismatch {
                expected: self.next.prev,
                found: record.prev_hash(),
            });
        }
        match record.seq() {
            Some(seq) if seq != self.next.index => Err(FailureKind::SeqOutOfOrder {
                expected: self.next.index,
                found: seq,
            }),
            _ => Ok(()),
        }
    }

    /// Moves what is left to the front and reads more.
    fn refill(&mut self) -> io::Result<()> {
        self.buf.copy_within(self.pos..self.filled, 0);
        self.filled -= self.pos;
        self.pos = 0;
        let free = self.buf.get_mut(self.filled..).unwrap_or_default();
        let n = loop {
            match self.file.read(free) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        if n == 0 {
            self.eof = true;
        }
        self.filled += n;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::std_backend::LogFile;
    use crate::Level;
    use std::io::Write;

    fn log(n: usize) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        let log = LogFile::open(&path).unwrap();
        for i in 0..n {
            log.append(Level::Info, format_args!("m{i}")).unwrap();
        }
        log.close().unwrap();
        (dir, path)
    }

    fn all(path: &std::path::Path, after: After) -> Result<Vec<Leaf>, LeafError> {
        let mut file = File::open(path).unwrap();
        let mut reader = LeafReader::new(&mut file, after).unwrap();
        let mut out = Vec::new();
        while let Some(leaf) = reader.next_leaf()? {
            out.push(leaf);
        }
        Ok(out)
    }

    #[test]
    fn reads_every_record_and_resumes_after_any() {
        let (_dir, path) = log(5);
        let leaves = all(&path, After::START).unwrap();
        assert_eq!(leaves.len(), 5);
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(leaves[4].end, bytes.len() as u64);
        for (i, leaf) in leaves.iter().enumerate() {
            let (record, _) = Record::read(&bytes[leaf.start as usize..])
                .unwrap()
                .unwrap();
            assert_eq!(record.digest(), leaf.digest);
            assert_eq!(leaf.index, i as u64);
        }
        let after = After {
            offset: leaves[2].end,
            index: 3,
            prev: leaves[2].stated,
            keyed: false,
        };
        assert_eq!(all(&path, after).unwrap(), leaves[3..].to_vec());
        // Linked to another hash: the first record read fails.
        let wrong = After {
            prev: leaves[0].stated,
            ..after
        };
        assert!(matches!(
            all(&path, wrong),
            Err(LeafError::Record(Failure {
                line: 7,
                record: 3,
                kind: FailureKind::PrevHashMismatch { .. }
            }))
        ));
        // At the wrong index: seq out of order.
        let wrong = After { index: 4, ..after };
        assert!(matches!(
            all(&path, wrong),
            Err(LeafError::Record(Failure {
                kind: FailureKind::SeqOutOfOrder {
                    expected: 4,
                    found: 3
                },
                ..
            }))
        ));
    }

    #[test]
    fn a_torn_tail_ends_the_leaves_and_an_edit_fails() {
        let (_dir, path) = log(3);
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        file.write_all(b"0000").unwrap();
        assert_eq!(all(&path, After::START).unwrap().len(), 3);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replacen("m1", "M1", 2)).unwrap();
        assert!(matches!(
            all(&path, After::START),
            Err(LeafError::Record(Failure {
                record: 1,
                line: 3,
                ..
            }))
        ));
    }
}
