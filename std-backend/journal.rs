//! The torn-tail journal's format (`<log>.torn`): the torn bytes, and what
//! proves they belong at one place of one log.
//!
//! ```text
//! immutable-log torn tail 2
//! log <64 hex> | log none        the log's record 0 (its identity); none below byte 1
//! after <seq|-> <64 hex> | after none   the record the torn bytes followed
//! at <offset>                    where they stood: the log's length without them
//! time <secs>.<6 digits>         the timestamp of the recovery records
//! bytes <n>                      how many torn bytes follow the header
//! sha256 <64 hex>                SHA-256 over every byte above this line, then the n bytes
//! <the n torn bytes>
//! ```
//!
//! A journal proves itself ([`Journal::parse`]) by its header, its exact
//! length and its checksum; whether it fits the log beside it (its identity,
//! head, offset, and what the log holds after the offset) is checked by the
//! recovery (`torn`).

use std::fmt;

use sha2::{Digest, Sha256};

use super::tail::TAIL_LIMIT;
use crate::{Hash, Head, Timestamp};

const MAGIC: &str = "immutable-log torn tail 2";

/// The header of the first journals, which proved nothing.
const MAGIC_1: &str = "immutable-log torn tail 1 at ";

/// The longest header [`Journal::encode`] writes, with room to spare.
const HEADER_LIMIT: u64 = 1024;

/// The most of a journal file worth reading: one byte more than the longest
/// journal (a torn tail is at most what an open reads of the log's end).
pub(crate) const READ_LIMIT: u64 = HEADER_LIMIT + TAIL_LIMIT + 1;

/// What a torn-tail journal states.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) struct Journal {
    /// The hash of the log's record 0 (`None` when the torn bytes stood at
    /// byte 0, or the log's record 0 cannot be read).
    pub(crate) origin: Option<Hash>,
    /// The last complete record before the torn bytes.
    pub(crate) after: Option<Head>,
    /// Where the torn bytes stood: the log's length without them.
    pub(crate) offset: u64,
    /// The timestamp of the recovery records, so that a replay writes the
    /// same bytes.
    pub(crate) time: Timestamp,
    /// The torn bytes.
    pub(crate) torn: Vec<u8>,
}

impl Journal {
    /// The journal file's bytes.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let origin = self
            .origin
            .map_or_else(|| "none".to_string(), |h| h.to_string());
        let after = self
            .after
            .map_or_else(|| "none".to_string(), |h| h.to_string());
        let mut out = format!(
            "{MAGIC}\nlog {origin}\nafter {after}\nat {}\ntime {}\nbytes {}\n",
            self.offset,
            self.time,
            self.torn.len()
        )
        .into_bytes();
        let sum = checksum(&out, &self.torn);
        out.extend_from_slice(format!("sha256 {sum}\n").as_bytes());
        out.extend_from_slice(&self.torn);
        out
    }

    /// Reads a journal file's bytes, and checks that it is whole: its header,
    /// its length, its checksum, and that it holds torn bytes.
    pub(crate) fn parse(raw: &[u8]) -> Result<Journal, JournalFault> {
        let mut rest = raw;
        let magic = next_line(&mut rest);
        if magic != Some(MAGIC) {
            return Err(if raw.starts_with(MAGIC_1.as_bytes()) {
                JournalFault::Version1
            } else {
                JournalFault::NotAJournal
            });
        }
        let origin = field(&mut rest, JournalField::Log, |v| match v {
            "none" => Some(None),
            hex => Hash::from_hex(hex.as_bytes()).map(Some),
        })?;
        let after = field(&mut rest, JournalField::After, parse_head)?;
        let offset = field(&mut rest, JournalField::At, |v| v.parse::<u64>().ok())?;
        let time = field(&mut rest, JournalField::Time, parse_time)?;
        let stated = field(&mut rest, JournalField::Bytes, |v| v.parse::<u64>().ok())?;
        let signed = raw.get(..raw.len() - rest.len()).unwrap_or_default();
        let sum = field(&mut rest, JournalField::Sha256, |v| {
            Hash::from_hex(v.as_bytes())
        })?;
        let found = rest.len() as u64;
        if found != stated {
            return Err(JournalFault::WrongLength { stated, found });
        }
        if checksum(signed, rest) != sum {
            return Err(JournalFault::Checksum);
        }
        if rest.is_empty() {
            return Err(JournalFault::Empty);
        }
        if rest.iter().filter(|&&b| b == b'\n').count() > 1 {
            return Err(JournalFault::NotTorn);
        }
        Ok(Journal {
            origin,
            after,
            offset,
            time,
            torn: rest.to_vec(),
        })
    }
}

/// SHA-256 over the header lines before the `sha256` line, then the body.
fn checksum(header: &[u8], body: &[u8]) -> Hash {
    let mut sha = Sha256::new();
    sha.update(header);
    sha.update(body);
    Hash::from_bytes(sha.finalize().into())
}

/// The next line of `rest` without its LF, as text; `rest` moves past it.
fn next_line<'a>(rest: &mut &'a [u8]) -> Option<&'a str> {
    let lf = rest.iter().position(|&b| b == b'\n')?;
    let line = rest.get(..lf)?;
    *rest = rest.get(lf + 1..)?;
    std::str::from_utf8(line).ok()
}

/// The next line, `<name> <value>`, its value read by `read`.
fn field<T>(
    rest: &mut &[u8],
    which: JournalField,
    read: impl FnOnce(&str) -> Option<T>,
) -> Result<T, JournalFault> {
    next_line(rest)
        .and_then(|line| line.strip_prefix(which.name()))
        .and_then(|line| line.strip_prefix(' '))
        .and_then(read)
        .ok_or(JournalFault::BadField { field: which })
}

/// `none`, `<seq> <hash>` or `- <hash>` (a record without a seq).
fn parse_head(value: &str) -> Option<Option<Head>> {
    if value == "none" {
        return Some(None);
    }
    let (seq, hash) = value.split_once(' ')?;
    let seq = match seq {
        "-" => None,
        n => Some(n.parse().ok()?),
    };
    let hash = Hash::from_hex(hash.as_bytes())?;
    Some(Some(Head { seq, hash }))
}

/// `<secs>.<micros>`, six digits of microseconds, as [`Timestamp`] writes it.
fn parse_time(value: &str) -> Option<Timestamp> {
    let (secs, micros) = value.split_once('.')?;
    if micros.len() != 6 || !micros.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(Timestamp::new(secs.parse().ok()?, micros.parse().ok()?))
}

/// What is wrong with a torn-tail journal that proves nothing, so that
/// nothing was cut on its account (it was set aside, or open failed).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum JournalFault {
    /// Its first line is not a torn-tail journal's.
    NotAJournal,
    /// A version 1 journal (`immutable-log torn tail 1 at N`, written by an
    /// earlier version of this crate): it states no length, checksum or log,
    /// so it proves nothing.
    Version1,
    /// A header line is missing or malformed.
    BadField {
        /// The line.
        field: JournalField,
    },
    /// It does not hold as many torn bytes as its header states: it is
    /// incomplete, or has bytes added.
    WrongLength {
        /// Bytes the header states.
        stated: u64,
        /// Bytes after the header (at most as many as an open reads).
        found: u64,
    },
    /// Its SHA-256 is not that of its header and torn bytes.
    Checksum,
    /// It holds no torn bytes.
    Empty,
    /// Its bytes hold more than one line end: they are not a torn record
    /// (which is at most a display line and part of a block line), and
    /// cutting the log to put them in recovery records would take records
    /// out of the chain.
    NotTorn,
    /// It names another log: the hash of its record 0 is not this log's.
    OtherLog,
    /// The offset it names lies past the end of the log.
    PastEnd {
        /// The offset.
        offset: u64,
        /// The log's length.
        len: u64,
    },
    /// The log's bytes before the offset it names do not end with the record
    /// it names (the offset is not at that record boundary).
    NotAfterHead {
        /// The offset.
        offset: u64,
    },
    /// After the offset it names, the log holds bytes that are neither its
    /// torn bytes nor the recovery records made from them (or a keyed log's
    /// seal key state has sealed records past it): records were written
    /// after it, so it is stale.
    Stale {
        /// The offset.
        offset: u64,
    },
}

impl fmt::Display for JournalFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JournalFault::NotAJournal => f.write_str("not a torn-tail journal"),
            JournalFault::Version1 => {
                f.write_str("a version 1 journal, which states no length, checksum or log to check")
            }
            JournalFault::BadField { field } => {
                write!(f, "its line `{} ...` is missing or malformed", field.name())
            }
            JournalFault::WrongLength { stated, found } => write!(
                f,
                "incomplete: its header states {stated} torn bytes, {found} follow"
            ),
            JournalFault::Checksum => f.write_str("its SHA-256 does not match its content"),
            JournalFault::Empty => f.write_str("it holds no torn bytes"),
            JournalFault::NotTorn => {
                f.write_str("its bytes hold more than one line end: not a torn record")
            }
            JournalFault::OtherLog => f.write_str("it belongs to another log (record 0 differs)"),
            JournalFault::PastEnd { offset, len } => write!(
                f,
                "its offset {offset} lies past the end of the log ({len} bytes)"
            ),
            JournalFault::NotAfterHead { offset } => write!(
                f,
                "the log's bytes before its offset {offset} do not end with the record \
                 it was cut after"
            ),
            JournalFault::Stale { offset } => write!(
                f,
                "stale: after its offset {offset} the log holds other bytes than its \
                 torn bytes or their recovery records"
            ),
        }
    }
}

/// A header line of a torn-tail journal.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum JournalField {
    /// `log <hash of record 0>` or `log none`.
    Log,
    /// `after <seq> <hash>` or `after none`: the record the torn bytes followed.
    After,
    /// `at <offset>`.
    At,
    /// `time <secs>.<micros>`.
    Time,
    /// `bytes <n>`.
    Bytes,
    /// `sha256 <hex>`.
    Sha256,
}

impl JournalField {
    fn name(self) -> &'static str {
        match self {
            JournalField::Log => "log",
            JournalField::After => "after",
            JournalField::At => "at",
            JournalField::Time => "time",
            JournalField::Bytes => "bytes",
            JournalField::Sha256 => "sha256",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Journal {
        Journal {
            origin: Some(Hash::from_bytes([7; 32])),
            after: Some(Head {
                seq: Some(41),
                hash: Hash::from_bytes([9; 32]),
            }),
            offset: 12_345,
            time: Timestamp::new(1_764_146_337, 5),
            torn: b"0123456789abcdef|a torn record\xff".to_vec(),
        }
    }

    #[test]
    fn a_journal_reads_back_as_written() {
        let journal = sample();
        assert_eq!(Journal::parse(&journal.encode()), Ok(journal));
        let bare = Journal {
            origin: None,
            after: None,
            offset: 0,
            ..sample()
        };
        assert_eq!(Journal::parse(&bare.encode()), Ok(bare));
        let seedless = Journal {
            after: Some(Head {
                seq: None,
                hash: Hash::from_bytes([1; 32]),
            }),
            ..sample()
        };
        assert_eq!(Journal::parse(&seedless.encode()), Ok(seedless));
    }

    #[test]
    fn every_cut_and_every_flipped_byte_is_refused() {
        let raw = sample().encode();
        for cut in 0..raw.len() {
            assert!(Journal::parse(&raw[..cut]).is_err(), "cut at {cut}");
        }
        let mut longer = raw.clone();
        longer.push(b'x');
        let stated = sample().torn.len() as u64;
        assert_eq!(
            Journal::parse(&longer),
            Err(JournalFault::WrongLength {
                stated,
                found: stated + 1
            })
        );
        for at in 0..raw.len() {
            for bit in [0x01u8, 0x20, 0x80] {
                let mut bad = raw.clone();
                bad[at] ^= bit;
                assert!(Journal::parse(&bad).is_err(), "byte {at} ^ {bit:#x}");
            }
        }
    }

    #[test]
    fn what_is_wrong_is_named() {
        assert_eq!(
            Journal::parse(b"immutable-log torn tail 1 at 180\n"),
            Err(JournalFault::Version1)
        );
        assert_eq!(Journal::parse(b""), Err(JournalFault::NotAJournal));
        assert_eq!(
            Journal::parse(b"root:x:0:0::/root:/bin/sh\n"),
            Err(JournalFault::NotAJournal)
        );
        let raw = String::from_utf8_lossy(&sample().encode()).into_owned();
        let no_time = raw.replace("time 1764146337.000005", "time yesterday");
        assert_eq!(
            Journal::parse(no_time.as_bytes()),
            Err(JournalFault::BadField {
                field: JournalField::Time
            })
        );
        let empty = Journal {
            torn: Vec::new(),
            ..sample()
        };
        assert_eq!(Journal::parse(&empty.encode()), Err(JournalFault::Empty));
        let records = Journal {
            torn: b"display\nBLOCK_DATA:{}\n".to_vec(),
            ..sample()
        };
        assert_eq!(
            Journal::parse(&records.encode()),
            Err(JournalFault::NotTorn)
        );
        let mut wrong_sum = sample().encode();
        let last = wrong_sum.len() - 1;
        wrong_sum[last] ^= 1;
        assert_eq!(Journal::parse(&wrong_sum), Err(JournalFault::Checksum));
    }
}
