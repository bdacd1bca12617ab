//! Where a compact log continues: read only its end, from a sync record on,
//! checking every record's tag from that sync's state, to find the head and
//! any torn bytes after the last frame. A whole file with an unreadable frame
//! before its first sync is walked from genesis; a file with no zero byte
//! is only the start of a log's first record, or not a compact log.

use std::fmt;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use super::compact_writer::MAX_PAYLOAD;
use super::{Error, Step};
use crate::compact::cobs::decode_in_place;
use crate::compact::state::advance;
use crate::compact::state::message_digest;
use crate::compact::wire::{LEVEL_MASK, TRUNCATED};
use crate::compact::{parse, CompactHead, Payload, GENESIS_STATE, PLAIN_TAG};
use crate::Hash;

/// How far back from its end a compact log is read for a sync record. A log
/// this crate writes has one every 16 records (at most about 4.4 KiB apart).
pub const COMPACT_TAIL_LIMIT: u64 = 1024 * 1024;

/// Why a compact log cannot be continued ([`Error::CompactTail`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum CompactTailFault {
    /// No sync record in the last [`COMPACT_TAIL_LIMIT`] bytes: the chain
    /// state there is unknown.
    NoSync,
    /// A frame cannot be read, and whole frames follow it other than the
    /// sync the host writes after a torn tail (one `seq` skipped, the chain
    /// state unchanged): the records after it cannot be checked, or a
    /// changed record is hidden there.
    Damaged,
    /// A record's tag does not follow from the chain state before it: the log
    /// was changed there.
    TagMismatch {
        /// The record's `seq`.
        seq: u64,
    },
    /// A record's `seq` is not the next one.
    SeqOutOfOrder {
        /// The `seq` expected.
        expected: u64,
        /// The `seq` found.
        found: u64,
    },
    /// A sync record states another chain state than the records before it give.
    SyncMismatch {
        /// The sync's `next`.
        next: u64,
    },
    /// The log is a keyed compact chain, which the host writer does not write.
    Keyed,
    /// A record of defmt frames: firmware writes those, the host does not
    /// continue them.
    Defmt,
}

impl fmt::Display for CompactTailFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompactTailFault::NoSync => write!(
                f,
                "no sync record in the last {COMPACT_TAIL_LIMIT} bytes: the chain state is unknown"
            ),
            CompactTailFault::Damaged => f.write_str(
                "a frame that cannot be read is followed by others than a torn tail's sync: \
                 the records after it cannot be checked",
            ),
            CompactTailFault::TagMismatch { seq } => write!(
                f,
                "the tag of record {seq} does not follow from the chain state before it"
            ),
            CompactTailFault::SeqOutOfOrder { expected, found } => {
                write!(f, "seq {found} where {expected} was expected")
            }
            CompactTailFault::SyncMismatch { next } => write!(
                f,
                "the sync record before seq {next} states another chain state than the records give"
            ),
            CompactTailFault::Keyed => {
                f.write_str("the log is a keyed compact chain; the host writes plain ones only")
            }
            CompactTailFault::Defmt => {
                f.write_str("the log holds defmt records; the host does not continue them")
            }
        }
    }
}

/// What a compact log's end says: where its chain stands, and what is torn.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) struct Tail {
    /// The chain state after the last record (genesis: zeros).
    pub(crate) state: [u8; 32],
    /// The next record's `seq`.
    pub(crate) next: u64,
    /// Records since the last sync record.
    pub(crate) since_sync: u32,
    /// The last record.
    pub(crate) head: Option<CompactHead>,
    /// The last record's `seq`, also when the walk began at a sync after it
    /// (`None`: none yet; not `next - 1` after a gap a recovery stated).
    pub(crate) last: Option<u64>,
    /// Bytes after the last zero (a frame a crash cut short), and where they start.
    pub(crate) torn: Option<(u64, Vec<u8>)>,
    /// The torn bytes are a whole frame that verifies (only its zero is
    /// missing): ending them with a zero completes it.
    pub(crate) torn_completes: bool,
    /// The log ends in frames that cannot be read (a torn tail ended with a
    /// zero by an earlier open whose sync did not follow): where they start
    /// and how many bytes they take, zeros included. The chain goes on after
    /// a sync that states the gap, and the open reports them as recovered.
    pub(crate) damaged_end: Option<(u64, u64)>,
}

impl Tail {
    /// An empty log.
    fn genesis() -> Tail {
        Tail {
            state: GENESIS_STATE,
            next: 0,
            since_sync: 0,
            head: None,
            last: None,
            torn: None,
            torn_completes: false,
            damaged_end: None,
        }
    }
}

/// A frame read from the window: where it starts, and its payload decoded
/// (`None`: not valid COBS).
struct Frame {
    offset: u64,
    payload: Option<Vec<u8>>,
}

/// Reads the end of the compact log `file` (`len` bytes) and walks its
/// records from the first sync record in the window (from genesis when the
/// window is the whole file and holds none), checking each record's tag.
pub(crate) fn read_tail(file: &File, path: &Path, len: u64) -> Result<Tail, Error> {
    if len == 0 {
        return Ok(Tail::genesis());
    }
    let start = len.saturating_sub(COMPACT_TAIL_LIMIT);
    let bytes = read_from(file, start, len).map_err(|e| Error::io(path, Step::ReadTail, e))?;
    let last_zero = bytes.iter().rposition(|&b| b == 0);
    if last_zero.is_none() && (start > 0 || !torn_first_frame(&bytes)) {
        // No frame ever ended: only the start of a log's first record, cut
        // by a crash, may be kept.
        return Err(Error::NotCompact {
            path: path.to_path_buf(),
        });
    }
    let whole = last_zero.map_or(0, |z| z + 1);
    let torn = bytes
        .get(whole..)
        .filter(|t| !t.is_empty())
        .map(|t| (start + whole as u64, t.to_vec()));
    // Before the first zero of a window that is not the whole file: part of a frame.
    let skip = if start == 0 {
        0
    } else {
        bytes.iter().position(|&b| b == 0).map_or(whole, |z| z + 1)
    };
    let mut frames = Vec::new();
    let mut at = skip;
    for piece in bytes
        .get(skip..whole)
        .unwrap_or_default()
        .split(|&b| b == 0)
    {
        let offset = start + at as u64;
        at += piece.len() + 1;
        if piece.is_empty() {
            continue;
        }
        frames.push(decoded(piece, offset));
    }
    let readable = |f: &Frame| f.payload.as_deref().is_some_and(|p| parse(p).is_ok());
    if frames.len() > 1 && !frames.iter().any(readable) {
        // Frames, none of them a record or a sync: not a compact log (a
        // crash in a log's first write leaves one such frame at most).
        return Err(Error::NotCompact {
            path: path.to_path_buf(),
        });
    }
    // A whole frame that cannot be read: the walk must see it.
    let first_damaged = frames.iter().position(|f| !readable(f));
    if let Some((offset, torn_bytes)) = &torn {
        frames.push(decoded(torn_bytes, *offset));
    }
    let first_sync = frames.iter().position(|f| {
        f.payload
            .as_deref()
            .is_some_and(|p| matches!(parse(p), Ok(Payload::Sync(_))))
    });
    // From the first sync; from genesis when the window is the whole file
    // and holds none, or an unreadable frame comes before it (a changed
    // record there would otherwise go unseen).
    let from = match first_sync {
        Some(i) if start == 0 && first_damaged.is_some_and(|d| d < i) => 0,
        Some(i) => i,
        None if start == 0 => 0,
        None => {
            return Err(Error::CompactTail {
                path: path.to_path_buf(),
                offset: start,
                fault: CompactTailFault::NoSync,
            })
        }
    };
    let mut walk = Walk {
        tail: Tail {
            torn: torn.clone(),
            ..Tail::genesis()
        },
        damaged_since: None,
        synced: from == 0 && start == 0 && first_sync != Some(0),
    };
    let count = frames.len();
    for (i, frame) in frames.iter().enumerate().skip(from) {
        let is_torn = torn.is_some() && i + 1 == count;
        match walk.frame(frame, is_torn) {
            Ok(()) => {}
            // Torn bytes that do not read as the next frame: a torn tail.
            Err(_) if is_torn => {}
            Err(fault) => {
                return Err(Error::CompactTail {
                    path: path.to_path_buf(),
                    offset: frame.offset,
                    fault,
                })
            }
        }
    }
    let mut tail = walk.tail;
    if let Some(offset) = walk.damaged_since {
        let end = start + whole as u64;
        tail.damaged_end = Some((offset, end.saturating_sub(offset)));
    }
    Ok(tail)
}

/// The longest frame the host writes: a record's payload at its longest,
/// COBS-encoded (one code byte per 254 bytes, and one more), and its zero.
const MAX_FRAME: usize = MAX_PAYLOAD + MAX_PAYLOAD / 254 + 2;

/// Could `bytes` (no zero among them) be the start of the first frame the
/// host writes, record 0? Its COBS code byte is 2 (`seq` 0 is a zero byte
/// after the head), its head a plain record's (a level, perhaps truncated),
/// and it is no longer than a frame.
fn torn_first_frame(bytes: &[u8]) -> bool {
    let head_ok = |&head: &u8| head & !(LEVEL_MASK | TRUNCATED) == 0 && head & LEVEL_MASK <= 5;
    bytes.len() < MAX_FRAME && bytes.first() == Some(&2) && bytes.get(1).is_none_or(head_ok)
}

fn decoded(piece: &[u8], offset: u64) -> Frame {
    let mut payload = piece.to_vec();
    let payload = decode_in_place(&mut payload).ok().map(|n| {
        payload.truncate(n);
        payload
    });
    Frame { offset, payload }
}

/// Bytes `start..end` of `file`.
fn read_from(file: &File, start: u64, end: u64) -> io::Result<Vec<u8>> {
    let mut file = file;
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::new();
    file.take(end - start).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// The walk over the window's frames.
struct Walk {
    tail: Tail,
    /// A frame that could not be read, since the last good one (its offset).
    damaged_since: Option<u64>,
    /// The chain state is known (from genesis, or a sync record).
    synced: bool,
}

impl Walk {
    /// Checks one frame and advances the chain. `torn`: the bytes after the
    /// last zero, taken as a frame (they count only if they verify).
    fn frame(&mut self, frame: &Frame, torn: bool) -> Result<(), CompactTailFault> {
        let parsed = frame.payload.as_deref().map(parse);
        let t = &mut self.tail;
        match parsed {
            None | Some(Err(_)) => {
                if torn {
                    return Err(CompactTailFault::Damaged);
                }
                self.damaged_since.get_or_insert(frame.offset);
                Ok(())
            }
            Some(Ok(Payload::Sync(y))) => {
                if y.keyed() {
                    return Err(CompactTailFault::Keyed);
                }
                if self.damaged_since.is_some() {
                    // After unreadable frames, only the sync the host writes
                    // when it keeps a torn tail: one `seq` skipped, the chain
                    // state unchanged. Anything else hides a changed record.
                    let gap = t.next.checked_add(1) == Some(y.next) && y.state == t.state;
                    if self.synced && !gap {
                        return Err(CompactTailFault::Damaged);
                    }
                } else if self.synced && (y.next != t.next || y.state != t.state) {
                    return Err(CompactTailFault::SyncMismatch { next: y.next });
                }
                if !self.synced {
                    // The walk's first sync: the record before it.
                    t.last = y.next.checked_sub(1);
                }
                t.state = y.state;
                t.next = y.next;
                t.since_sync = 0;
                self.damaged_since = None;
                self.synced = true;
                t.torn_completes = torn;
                Ok(())
            }
            Some(Ok(Payload::Record(r))) => {
                if r.keyed() {
                    return Err(CompactTailFault::Keyed);
                }
                if r.is_defmt() {
                    return Err(CompactTailFault::Defmt);
                }
                if self.damaged_since.is_some() {
                    return Err(CompactTailFault::Damaged);
                }
                if r.seq != t.next {
                    return Err(CompactTailFault::SeqOutOfOrder {
                        expected: t.next,
                        found: r.seq,
                    });
                }
                let digest = message_digest(r.head, r.bytes);
                let after = advance(&t.state, &digest, r.seq, r.time_us, r.unlogged);
                if after.get(..PLAIN_TAG) != Some(r.tag) {
                    return Err(CompactTailFault::TagMismatch { seq: r.seq });
                }
                t.state = after;
                t.next = r.seq.saturating_add(1);
                t.since_sync = t.since_sync.saturating_add(1);
                t.last = Some(r.seq);
                t.head = Some(CompactHead {
                    seq: r.seq,
                    state: Hash::from_bytes(after),
                });
                t.torn_completes = torn;
                Ok(())
            }
        }
    }
}
