//! Continuing a chain from the tail of a log, and keeping a torn tail.
//!
//! [`resume`] reads only the last bytes of a log: it finds the last complete
//! record, checks it on its own, and returns the head to continue from. Bytes
//! after that record (a record cut off by a crash) are the torn tail: they are
//! never dropped silently, but written back inside the message of new records
//! ([`Writer::append_recovered`](crate::Writer::append_recovered)).

mod tail;

use core::fmt;

use crate::hash::Hash;
use crate::head::Head;
use crate::record::{Record, RecordFault, BLOCK_PREFIX};
use crate::seal::{SealKey, SealedRecord};
use tail::last_record;

/// Where a chain continues, found in the tail of a log.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Resumed {
    /// The last complete record (`None`: the log holds no complete record).
    pub head: Option<Head>,
    /// Where the complete records end in the tail slice; `tail[end..]` is the
    /// torn tail (empty when the log ends cleanly).
    pub end: usize,
}

/// Why a log cannot be continued from this tail.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum ResumeError {
    /// The tail holds no complete record but is not the whole log: read a
    /// longer tail (or the last record is longer than the caller accepts).
    NeedMoreTail,
    /// The last complete record fails its own check: the log was edited, and
    /// is not to be extended. `offset` is where the record starts in the tail.
    LastRecord {
        /// What is wrong with it.
        fault: RecordFault,
        /// Its first byte, as an index into the tail slice.
        offset: usize,
    },
    /// After the last complete record stands something that is not the start
    /// of a record (a complete line that is not a display line).
    MalformedTail {
        /// The start of the offending bytes in the tail slice.
        offset: usize,
    },
    /// A keyed log does not go on from the seal key's state: the key is
    /// another log's, the log is not keyed, or a record was changed.
    /// `offset` is where the record starts in the tail.
    Keyed {
        /// What is wrong.
        fault: KeyedFault,
        /// The record's first byte, as an index into the tail slice.
        offset: usize,
    },
    /// A keyed log's last record is not the one just before the seal key's
    /// record: the key state and the log are out of step.
    KeyOutOfStep {
        /// The `seq` the key is for.
        key_seq: u64,
        /// The log's last `seq` (`None`: no record, or one without a seq).
        log_seq: Option<u64>,
    },
}

impl fmt::Display for ResumeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResumeError::NeedMoreTail => f.write_str("no complete record in the tail read"),
            ResumeError::LastRecord { fault, .. } => {
                write!(f, "the last record fails its own check: {fault}")
            }
            ResumeError::Keyed { fault, .. } => fault.fmt(f),
            ResumeError::MalformedTail { .. } => {
                f.write_str("the log ends in something that is not a record")
            }
            ResumeError::KeyOutOfStep { key_seq, log_seq } => {
                write!(
                    f,
                    "the seal key is for seq {key_seq}, but the log's last seq is "
                )?;
                match log_seq {
                    Some(s) => write!(f, "{s}"),
                    None => f.write_str("none"),
                }
            }
        }
    }
}

impl core::error::Error for ResumeError {}

/// What is wrong with a keyed log, found while continuing it with a seal key.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum KeyedFault {
    /// The log is not keyed: its first record is no keyed chain start (a
    /// seal key was given for a plain log).
    NotKeyed,
    /// The seal key does not verify the log's chain start: it is another
    /// log's key (or the chain start was changed).
    WrongKey,
    /// A record's tag does not verify under the key for its `seq`: the
    /// record was changed, or the key state is another log's.
    TagMismatch,
    /// The log's last record is not the one the key state remembers sealing
    /// (its tag or digest differs): the key state is another log's, or the
    /// record was replaced.
    NotLastSealed,
    /// A record of a keyed log has no `seq`.
    SeqMissing,
    /// A record's `seq` is not the next one.
    SeqOutOfOrder {
        /// The `seq` that should stand there.
        expected: u64,
        /// The `seq` found.
        found: u64,
    },
    /// A record's `prev_hash` is not the tag of the record before it.
    PrevMismatch,
}

impl fmt::Display for KeyedFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyedFault::NotKeyed => {
                f.write_str("a seal key was given, but the log is not keyed (its first record is no keyed chain start)")
            }
            KeyedFault::WrongKey => f.write_str(
                "the seal key does not verify the log's chain start: it belongs to another log",
            ),
            KeyedFault::TagMismatch => f.write_str(
                "a record's tag does not verify under its key: the record was changed, or the key state belongs to another log",
            ),
            KeyedFault::NotLastSealed => f.write_str(
                "the log's last record is not the one the seal key last sealed: the key state belongs to another log, or the record was replaced",
            ),
            KeyedFault::SeqMissing => f.write_str("a record of a keyed log has no seq"),
            KeyedFault::SeqOutOfOrder { expected, found } => {
                write!(f, "seq out of order in a keyed log: expected {expected}, found {found}")
            }
            KeyedFault::PrevMismatch => f.write_str(
                "a record's prev_hash is not the tag of the record before it",
            ),
        }
    }
}

/// Finds where to continue a chain from the last bytes of a log.
///
/// `tail` is the end of the log: at least one whole record plus the LF before
/// it, unless `whole_log` says it is the entire log. Only the last complete
/// record is checked (its hash, its display line); what follows it is the torn
/// tail, `tail[end..]`, which may hold one complete display line and part of
/// the next line, or part of a display line, but nothing more.
pub fn resume(tail: &[u8], whole_log: bool) -> Result<Resumed, ResumeError> {
    resume_expecting(tail, whole_log, |parsed| parsed.digest())
}

/// The last record checked against the hash `expected` says it must state.
fn resume_expecting(
    tail: &[u8],
    whole_log: bool,
    expected: impl FnOnce(&Record<'_>) -> Hash,
) -> Result<Resumed, ResumeError> {
    let Some((display, block)) = last_record(tail, whole_log)? else {
        return Ok(Resumed { head: None, end: 0 });
    };
    let bad = |fault| ResumeError::LastRecord {
        fault,
        offset: display.start,
    };
    let parsed = Record::parse(display.bytes, block.bytes).map_err(bad)?;
    parsed.check_stated(&expected(&parsed)).map_err(bad)?;
    Ok(after(&parsed, block.end))
}

/// [`resume`] for a keyed chain: the last record was sealed with a key the
/// writer no longer has, so it is checked against the [`SealedRecord`] record the
/// writer's key state remembers (its tag and digest), and its `seq` must be
/// the one just before the key's.
///
/// A key state behind the log (the writer stopped after writing records but
/// before storing its evolved key) catches up: the records it has not seen
/// are found in the tail and checked with the keys it still can derive, one
/// per record, and `key` moves past them. A key state ahead of the log (its
/// records lost) cannot: that is [`ResumeError::KeyOutOfStep`].
pub fn resume_keyed(
    tail: &[u8],
    whole_log: bool,
    key: &mut SealKey,
) -> Result<Resumed, ResumeError> {
    let Some((display, block)) = last_record(tail, whole_log)? else {
        return match (key.seq(), key.last()) {
            (0, None) => Ok(Resumed { head: None, end: 0 }),
            _ => Err(ResumeError::KeyOutOfStep {
                key_seq: key.seq(),
                log_seq: None,
            }),
        };
    };
    let bad = |fault| ResumeError::LastRecord {
        fault,
        offset: display.start,
    };
    let keyed = |fault| ResumeError::Keyed {
        fault,
        offset: display.start,
    };
    let parsed = Record::parse(display.bytes, block.bytes).map_err(bad)?;
    if parsed.hash() == parsed.digest() {
        // A keyed record states a tag, never its plain digest.
        return Err(keyed(KeyedFault::NotKeyed));
    }
    let next = parsed.seq().and_then(|s| s.checked_add(1));
    match next {
        Some(next) if next == key.seq() => {
            match key.last() {
                Some(SealedRecord { tag, digest })
                    if tag == parsed.hash() && digest == parsed.digest() => {}
                // Neither what it states nor what it holds: another record.
                Some(SealedRecord { tag, digest })
                    if tag != parsed.hash() && digest != parsed.digest() =>
                {
                    return Err(keyed(KeyedFault::NotLastSealed))
                }
                // What it states, over other content: the record was edited.
                _ => return Err(bad(RecordFault::HashMismatch)),
            }
            parsed.check_stated(&parsed.hash()).map_err(bad)?;
        }
        Some(next) if next > key.seq() => {
            catch_up(tail, whole_log, block.end, key)?;
            // Every record after the key's was checked, the last one included.
            if key.seq() != next {
                return Err(keyed(KeyedFault::NotLastSealed));
            }
        }
        _ => {
            return Err(ResumeError::KeyOutOfStep {
                key_seq: key.seq(),
                log_seq: parsed.seq(),
            })
        }
    }
    Ok(after(&parsed, block.end))
}

/// The head of a log without checking the hash its last record states: for a
/// keyed log read without its key (`immutable-log head`), where the tag can
/// only be checked by a verifier holding the key. The record's shape, its
/// JSON and its display are still checked.
pub fn peek_head(tail: &[u8], whole_log: bool) -> Result<Resumed, ResumeError> {
    // Expecting what it states: only shape, JSON and display count.
    resume_expecting(tail, whole_log, |parsed| parsed.hash())
}

/// Walks the complete records of `tail[..end]` forward and checks, with
/// `key`, each one from `key.seq()` on, advancing it: the key state catches up
/// with the log.
fn catch_up(
    tail: &[u8],
    whole_log: bool,
    end: usize,
    key: &mut SealKey,
) -> Result<(), ResumeError> {
    let mut at = 0;
    let mut lines = tail.get(..end).unwrap_or_default();
    if !whole_log {
        // The tail may start mid-line, or between a record's two lines.
        let skip = |lines: &[u8]| {
            lines
                .iter()
                .position(|&b| b == b'\n')
                .map_or(lines.len(), |p| p + 1)
        };
        let first = skip(lines);
        at += first;
        lines = lines.get(first..).unwrap_or_default();
        if lines.starts_with(BLOCK_PREFIX) {
            let second = skip(lines);
            at += second;
            lines = lines.get(second..).unwrap_or_default();
        }
    }
    let mut split = lines.split(|&b| b == b'\n');
    let mut caught_up_from = None;
    while let (Some(line1), Some(line2)) = (split.next(), split.next()) {
        if line1.is_empty() && line2.is_empty() {
            break;
        }
        let offset = at;
        at += line1.len() + line2.len() + 2;
        let bad = |fault| ResumeError::LastRecord { fault, offset };
        let keyed = |fault| ResumeError::Keyed { fault, offset };
        let parsed = Record::parse(line1, line2).map_err(bad)?;
        let Some(seq) = parsed.seq() else {
            return Err(keyed(KeyedFault::SeqMissing));
        };
        if seq < key.seq() {
            if caught_up_from.is_some() {
                // After the key's records, seq only grows: this one is out of place.
                return Err(keyed(KeyedFault::SeqOutOfOrder {
                    expected: key.seq(),
                    found: seq,
                }));
            }
            continue;
        }
        if seq > key.seq() {
            // The tail does not reach back to the key's record.
            return Err(if whole_log {
                ResumeError::KeyOutOfStep {
                    key_seq: key.seq(),
                    log_seq: Some(seq),
                }
            } else {
                ResumeError::NeedMoreTail
            });
        }
        let expected_prev = key.last().map_or(Hash::GENESIS, |l| l.tag);
        if parsed.prev_hash() != expected_prev {
            return Err(keyed(KeyedFault::PrevMismatch));
        }
        if seq == 0 && !parsed.is_chain_start() {
            return Err(keyed(KeyedFault::NotKeyed));
        }
        // Cannot fail: seq is the key's own.
        let tag = key
            .tag(Some(seq), &parsed.digest())
            .map_err(|_| keyed(KeyedFault::TagMismatch))?;
        match parsed.check_stated(&tag) {
            Err(RecordFault::HashMismatch) if seq == 0 => return Err(keyed(KeyedFault::WrongKey)),
            Err(RecordFault::HashMismatch) => return Err(keyed(KeyedFault::TagMismatch)),
            other => other.map_err(bad)?,
        }
        key.advance(SealedRecord {
            tag,
            digest: parsed.digest(),
        });
        caught_up_from.get_or_insert(seq);
    }
    Ok(())
}

/// Where to continue after the last record, `parsed`, ending at `end`.
fn after(parsed: &Record<'_>, end: usize) -> Resumed {
    Resumed {
        head: Some(Head {
            seq: parsed.seq(),
            hash: parsed.hash(),
        }),
        end,
    }
}
