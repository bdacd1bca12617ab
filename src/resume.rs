//! Continuing a chain from the tail of a log, and keeping a torn tail.
//!
//! [`resume`] reads only the last bytes of a log: it finds the last complete
//! record, checks it on its own, and returns the head to continue from. Bytes
//! after that record (a record cut off by a crash) are the torn tail: they are
//! never dropped silently, but written back inside the message of new records
//! ([`Recovery`], [`Writer::append_recovered`](crate::Writer::append_recovered)).

use core::fmt;

use crate::hash::Hash;
use crate::record::{self, RecordFault, BLOCK_PREFIX};
use crate::seal::{Seal, SealKey, Sealed};
use crate::writer::Head;

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
    /// A keyed log's last record is not the one just before the seal key's
    /// record: the key state and the log are out of step.
    KeyOutOfStep {
        /// The `seq` the key is for.
        key_seq: u64,
        /// The log's last `seq` (`None`: no record, or one without a seq).
        log_seq: Option<u64>,
    },
    /// A seal key was given, but the record at `offset` states its plain
    /// digest, which a keyed chain never does: the log is not keyed.
    NotKeyed {
        /// The record's first byte, as an index into the tail slice.
        offset: usize,
    },
    /// The seal key is not this log's: the record at `offset`, from which
    /// the key must continue, is not the one it sealed last (its tag and
    /// digest both differ, or it does not link to that record), or the key
    /// does not verify the log's chain-start record.
    ForeignKey {
        /// The record's first byte, as an index into the tail slice.
        offset: usize,
    },
}

impl fmt::Display for ResumeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResumeError::NeedMoreTail => f.write_str("no complete record in the tail read"),
            ResumeError::LastRecord { fault, .. } => {
                write!(f, "the last record fails its own check: {fault}")
            }
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
            ResumeError::NotKeyed { .. } => {
                f.write_str("a seal key was given, but the log is not keyed")
            }
            ResumeError::ForeignKey { .. } => f.write_str("the seal key is not this log's"),
        }
    }
}

impl core::error::Error for ResumeError {}

/// Finds where to continue a chain from the last bytes of a log.
///
/// `tail` is the end of the log: at least one whole record plus the LF before
/// it, unless `whole_log` says it is the entire log. Only the last complete
/// record is checked (its hash, its display line); what follows it is the torn
/// tail, `tail[end..]`, which may hold one complete display line and part of
/// the next line, or part of a display line, but nothing more.
pub fn resume(tail: &[u8], whole_log: bool) -> Result<Resumed, ResumeError> {
    resume_expecting(tail, whole_log, |parsed| parsed.digest)
}

/// The last record checked against the hash `expected` says it must state.
fn resume_expecting(
    tail: &[u8],
    whole_log: bool,
    expected: impl FnOnce(&record::Parsed<'_>) -> Hash,
) -> Result<Resumed, ResumeError> {
    let Some((display, block)) = last_record(tail, whole_log)? else {
        return Ok(Resumed { head: None, end: 0 });
    };
    let bad = |fault| ResumeError::LastRecord {
        fault,
        offset: display.start,
    };
    let parsed = record::parse(display.bytes, block.bytes).map_err(bad)?;
    parsed.check(&expected(&parsed)).map_err(bad)?;
    Ok(after(&parsed, block.end))
}

/// [`resume`] for a keyed chain: the last record was sealed with a key the
/// writer no longer has, so it is checked against the [`Sealed`] record the
/// writer's key state remembers (its tag and digest), and its `seq` must be
/// the one just before the key's.
///
/// A key state behind the log (the writer stopped after writing records but
/// before storing its evolved key) catches up: the records it has not seen
/// are found in the tail and checked with the keys it still can derive, one
/// per record, and `key` moves past them. A key state ahead of the log (its
/// records lost) cannot: that is [`ResumeError::KeyOutOfStep`]. A key given
/// for a plain log is [`ResumeError::NotKeyed`]; another keyed log's key is
/// [`ResumeError::ForeignKey`].
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
    let parsed = record::parse(display.bytes, block.bytes).map_err(bad)?;
    if parsed.stated == parsed.digest {
        return Err(ResumeError::NotKeyed {
            offset: display.start,
        });
    }
    let next = parsed.seq.and_then(|s| s.checked_add(1));
    match next {
        Some(next) if next == key.seq() => {
            match key.last() {
                Some(Sealed { tag, digest }) if tag == parsed.stated && digest == parsed.digest => {
                }
                // Neither what it states nor what it holds: another record.
                Some(Sealed { tag, digest }) if tag != parsed.stated && digest != parsed.digest => {
                    return Err(ResumeError::ForeignKey {
                        offset: display.start,
                    })
                }
                _ => return Err(bad(RecordFault::HashMismatch)),
            }
            parsed.check(&parsed.stated).map_err(bad)?;
        }
        Some(next) if next > key.seq() => {
            catch_up(tail, whole_log, block.end, key)?;
            // Every record after the key's was checked, the last one included.
            if key.seq() != next {
                return Err(bad(RecordFault::HashMismatch));
            }
        }
        _ => {
            return Err(ResumeError::KeyOutOfStep {
                key_seq: key.seq(),
                log_seq: parsed.seq,
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
    resume_expecting(tail, whole_log, |parsed| parsed.stated)
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
        let parsed = record::parse(line1, line2).map_err(bad)?;
        let Some(seq) = parsed.seq else {
            return Err(bad(RecordFault::MalformedBlock));
        };
        if seq < key.seq() {
            if caught_up_from.is_some() {
                // After the key's records, seq only grows: this one is out of place.
                return Err(bad(RecordFault::HashMismatch));
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
        let first = caught_up_from.is_none();
        let foreign = ResumeError::ForeignKey { offset };
        let expected_prev = key.last().map_or(Hash::GENESIS, |l| l.tag);
        if parsed.prev != expected_prev {
            // The first record after the key's last does not follow it.
            return Err(if first {
                foreign
            } else {
                bad(RecordFault::HashMismatch)
            });
        }
        let tag = key
            .tag(Some(seq), &parsed.digest)
            .map_err(|_| bad(RecordFault::HashMismatch))?;
        match parsed.check(&tag) {
            // The chain start's content is fixed: the key is not its key.
            Err(RecordFault::HashMismatch) if parsed.chain_start => return Err(foreign),
            checked => checked.map_err(bad)?,
        }
        key.advance(Sealed {
            tag,
            digest: parsed.digest,
        });
        caught_up_from.get_or_insert(seq);
    }
    Ok(())
}

/// The last complete record's two lines, `None` for a log with none, after
/// checking that what follows it can be a torn record.
fn last_record(tail: &[u8], whole_log: bool) -> Result<Option<(Line<'_>, Line<'_>)>, ResumeError> {
    // Running out of lines means the start of the log, or a tail too short.
    let start_of_log = || {
        if whole_log {
            Ok(None)
        } else {
            Err(ResumeError::NeedMoreTail)
        }
    };
    let mut lines = LinesBack::new(tail, whole_log);
    // The last LF-terminated line, skipping an unterminated remainder.
    let Some(mut last) = lines.next() else {
        return start_of_log();
    };
    if !last.bytes.starts_with(BLOCK_PREFIX) {
        // A complete display line whose block line never came: torn, if it
        // has the shape of a display line.
        if record::split_display_line(last.bytes).is_none() {
            return Err(ResumeError::MalformedTail { offset: last.start });
        }
        match lines.next() {
            Some(line) if line.bytes.starts_with(BLOCK_PREFIX) => last = line,
            Some(line) => return Err(ResumeError::MalformedTail { offset: line.start }),
            None => return start_of_log(),
        }
    }
    let block = last;
    match lines.next() {
        Some(display) => Ok(Some((display, block))),
        None if whole_log => Err(ResumeError::MalformedTail {
            offset: block.start,
        }),
        None => Err(ResumeError::NeedMoreTail),
    }
}

/// Where to continue after the last record, `parsed`, ending at `end`.
fn after(parsed: &record::Parsed<'_>, end: usize) -> Resumed {
    Resumed {
        head: Some(Head {
            seq: parsed.seq,
            hash: parsed.stated,
        }),
        end,
    }
}

/// One LF-terminated line found walking backwards.
#[derive(Clone, Copy)]
struct Line<'a> {
    bytes: &'a [u8],
    /// Index of its first byte.
    start: usize,
    /// Index one past its LF.
    end: usize,
}

/// Walks the LF-terminated lines of a slice from the end. The slice's first
/// line, with no LF before it, is whole only if the slice is the whole log;
/// otherwise it may be the end of a longer line, and is not returned.
struct LinesBack<'a> {
    tail: &'a [u8],
    /// One past the LF of the next line to return.
    end: Option<usize>,
    whole_log: bool,
}

impl<'a> LinesBack<'a> {
    fn new(tail: &'a [u8], whole_log: bool) -> Self {
        let end = tail.iter().rposition(|&b| b == b'\n').map(|p| p + 1);
        LinesBack {
            tail,
            end,
            whole_log,
        }
    }
}

impl<'a> Iterator for LinesBack<'a> {
    type Item = Line<'a>;

    fn next(&mut self) -> Option<Line<'a>> {
        let end = self.end?;
        let body = self.tail.get(..end.checked_sub(1)?)?;
        let start = body.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
        if start == 0 && !self.whole_log {
            self.end = None;
            return None;
        }
        self.end = if start == 0 { None } else { Some(start) };
        Some(Line {
            bytes: body.get(start..)?,
            start,
            end,
        })
    }
}

/// The messages that keep a torn tail in the log: the bytes as text when they
/// are UTF-8 (JSON escaping keeps them exact), as hex otherwise, split into as
/// many parts as the message room requires.
#[derive(Clone, Copy, Debug)]
pub struct Recovery<'a> {
    torn: &'a [u8],
    offset: u64,
    room: usize,
}

/// Room a part's header takes at most:
/// `immutable-log: recovered torn tail at byte <20>, part <20>/<20>, bytes <20>..<20> of <20>, utf8: `.
const HEADER_MAX: usize = 200;

impl<'a> Recovery<'a> {
    /// The recovery of `torn`, found at byte `offset` of the log, for messages
    /// of at most `message_room` escaped bytes.
    pub fn new(torn: &'a [u8], offset: u64, message_room: usize) -> Self {
        Recovery {
            torn,
            offset,
            room: message_room.saturating_sub(HEADER_MAX).max(12),
        }
    }

    /// The parts, in order; none when the tail is empty.
    pub fn parts(&self) -> impl Iterator<Item = RecoveryPart<'a>> + 'a {
        let this = *self;
        let count = this.chunks().count();
        this.chunks()
            .enumerate()
            .map(move |(index, (start, end))| RecoveryPart {
                torn: this.torn,
                offset: this.offset,
                start,
                end,
                index: index + 1,
                count,
                utf8: core::str::from_utf8(this.torn).is_ok(),
            })
    }

    /// Byte ranges of the parts: each as long as fits the room once escaped.
    fn chunks(self) -> impl Iterator<Item = (usize, usize)> + 'a {
        let text = core::str::from_utf8(self.torn).ok();
        let room = self.room;
        let len = self.torn.len();
        let mut start = 0;
        core::iter::from_fn(move || {
            if start >= len {
                return None;
            }
            let end = match text {
                Some(text) => {
                    let mut used = 0;
                    let mut end = start;
                    for c in text.get(start..).unwrap_or_default().chars() {
                        let cost = escaped_len(c);
                        if used + cost > room {
                            break;
                        }
                        used += cost;
                        end += c.len_utf8();
                    }
                    end.max(start + 1).min(len)
                }
                None => (start + room / 2).min(len),
            };
            let range = (start, end);
            start = end;
            Some(range)
        })
    }
}

/// Bytes a character takes in a JSON string.
fn escaped_len(c: char) -> usize {
    match c {
        '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
        '\0'..='\u{1f}' | '\u{7f}' => 6,
        _ => c.len_utf8(),
    }
}

/// One message of a [`Recovery`]; its `Display` is the message text.
#[derive(Clone, Copy, Debug)]
pub struct RecoveryPart<'a> {
    torn: &'a [u8],
    offset: u64,
    start: usize,
    end: usize,
    index: usize,
    count: usize,
    utf8: bool,
}

impl fmt::Display for RecoveryPart<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "immutable-log: recovered torn tail at byte {}, part {}/{}, bytes {}..{} of {}, ",
            self.offset,
            self.index,
            self.count,
            self.start,
            self.end,
            self.torn.len()
        )?;
        let bytes = self.torn.get(self.start..self.end).unwrap_or_default();
        match core::str::from_utf8(bytes) {
            Ok(text) if self.utf8 => write!(f, "utf8: {text}"),
            _ => {
                f.write_str("hex: ")?;
                bytes.iter().try_for_each(|b| write!(f, "{b:02x}"))
            }
        }
    }
}
