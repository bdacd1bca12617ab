//! The line format: how one record is built, written, and checked on its own.
//!
//! ```text
//! <prev_hash>|<display>|<hash>
//! BLOCK_DATA:<block_json>
//! ```
//!
//! `block_json` is written compact, keys in sorted order:
//! `{"levelno":20,"message":"…","prev_hash":"…","seq":7,"timestamp":12.000500}`,
//! followed by `"truncated":true` when the message was cut to fit the buffer
//! and `"unlogged":N` when N records were lost before this one (interrupt-time
//! appends that found the chain busy). Both keys sort after `timestamp`.
//!
//! The part up to the message's closing quote depends only on the message, so
//! it is formatted and hashed first ([`Draft`]), possibly outside any lock; the
//! tail that depends on the chain head is added by [`seal`].

use core::fmt::{self, Write as _};
use heapless::Vec;
use serde::Deserialize;

use crate::clock::Timestamp;
use crate::escape::{display_matches, DisplayRuns, JsonStringWriter};
use crate::hash::{BlockHasher, Hash};
use crate::level::Level;
use crate::sink::{write_all, SinkError};

/// The prefix of every block line.
pub(crate) const BLOCK_PREFIX: &[u8] = b"BLOCK_DATA:";

/// Bytes a sealed tail can take at most:
/// `","prev_hash":"<64>","seq":<20>,"timestamp":<20>.<6>,"truncated":true,"unlogged":<20>}`
/// less the closing quote of the message, which the body already holds.
pub(crate) const TAIL_MAX: usize = 14 + 64 + 1 + 7 + 20 + 13 + 27 + 17 + 12 + 20 + 1;

/// Bytes the body takes besides the message: `{"levelno":255,"message":"` and `"`.
const BODY_OVERHEAD: usize = 11 + 3 + 12 + 1;

/// The smallest record buffer a chain accepts: room for the fixed parts of a
/// block and a message of 256 bytes (a torn-tail recovery record needs that).
pub const MIN_CAPACITY: usize = TAIL_MAX + BODY_OVERHEAD + 256;

/// The message room (in bytes, after JSON escaping) that a buffer of `n` bytes
/// guarantees at every level; a longer message is cut, and the record says so.
pub const fn message_capacity(n: usize) -> usize {
    n.saturating_sub(TAIL_MAX + BODY_OVERHEAD)
}

/// What formatting a body produced, besides its bytes.
#[derive(Clone, Debug)]
pub(crate) struct Body {
    /// The hash of the body bytes so far.
    hasher: BlockHasher,
    /// Where the JSON-escaped message stands in the body.
    message: (usize, usize),
    /// The message was cut to fit.
    truncated: bool,
    /// The body's length: everything up to and including the message's closing quote.
    len: usize,
}

/// Formats `{"levelno":L,"message":"<escaped message>"` into `json`, replacing
/// what it held. The message is formatted once, straight into the buffer.
pub(crate) fn format_body<const N: usize>(
    json: &mut Vec<u8, N>,
    level: Level,
    message: fmt::Arguments<'_>,
) -> Body {
    const { assert!(N >= MIN_CAPACITY, "record buffer below MIN_CAPACITY") };
    json.clear();
    let mut head = Bytes(json);
    // Cannot fail: N >= MIN_CAPACITY leaves room for the fixed parts.
    let _ = write!(head, "{{\"levelno\":{},\"message\":\"", level.levelno());
    let start = json.len();
    let limit = N - TAIL_MAX - 1;
    let mut writer = JsonStringWriter::new(json, limit);
    let _ = fmt::write(&mut writer, message);
    let truncated = writer.truncated();
    let end = json.len();
    let _ = json.push(b'"');
    let mut hasher = BlockHasher::new();
    hasher.update(json);
    Body {
        hasher,
        message: (start, end),
        truncated,
        len: json.len(),
    }
}

/// Where a new record attaches: the hash it follows and its `seq`, if known.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Link {
    pub(crate) prev: Hash,
    pub(crate) seq: Option<u64>,
}

/// Adds the tail to a formatted body and returns the record's hash.
///
/// The body's own hash state is reused, so only the tail is hashed here.
pub(crate) fn seal<const N: usize>(
    json: &mut Vec<u8, N>,
    body: &Body,
    link: Link,
    timestamp: Timestamp,
    unlogged: u64,
) -> Hash {
    json.truncate(body.len);
    let mut tail = Bytes(json);
    // Cannot fail: format_body left TAIL_MAX bytes free.
    let _ = tail.write_str(",\"prev_hash\":\"");
    let _ = tail.write_bytes(&link.prev.to_hex());
    let _ = tail.write_str("\"");
    if let Some(seq) = link.seq {
        let _ = write!(tail, ",\"seq\":{seq}");
    }
    let _ = write!(tail, ",\"timestamp\":{timestamp}");
    if body.truncated {
        let _ = tail.write_str(",\"truncated\":true");
    }
    if unlogged > 0 {
        let _ = write!(tail, ",\"unlogged\":{unlogged}");
    }
    let _ = tail.write_str("}");
    let mut hasher = body.hasher.clone();
    hasher.update(&json[body.len..]);
    hasher.finish()
}

/// Writes one sealed record, both lines, to the sink.
pub(crate) fn write_record<W: embedded_io::Write>(
    sink: &mut W,
    json: &[u8],
    body: &Body,
    prev: &Hash,
    hash: &Hash,
) -> Result<(), SinkError<W::Error>> {
    write_all(sink, &prev.to_hex())?;
    write_all(sink, b"|")?;
    let message = json.get(body.message.0..body.message.1).unwrap_or_default();
    for run in DisplayRuns::new(message) {
        write_all(sink, run)?;
    }
    write_all(sink, b"|")?;
    write_all(sink, &hash.to_hex())?;
    write_all(sink, b"\n")?;
    write_all(sink, BLOCK_PREFIX)?;
    write_all(sink, json)?;
    write_all(sink, b"\n")
}

/// A record formatted ahead of time, outside any lock: its message is escaped
/// into the draft's own buffer of `N` bytes and that part is already hashed.
///
/// Host code formats a draft on its own thread and hands it to
/// [`Writer::append_draft`](crate::Writer::append_draft) under a lock, so the
/// critical section does not grow with the message.
#[derive(Clone, Debug)]
pub struct Draft<const N: usize> {
    json: Vec<u8, N>,
    body: Body,
}

impl<const N: usize> Draft<N> {
    /// Formats a message at a level.
    pub fn new(level: Level, message: fmt::Arguments<'_>) -> Self {
        let mut json = Vec::new();
        let body = format_body(&mut json, level, message);
        Draft { json, body }
    }

    /// Formats another message into this draft, reusing its buffer.
    pub fn reformat(&mut self, level: Level, message: fmt::Arguments<'_>) {
        self.body = format_body(&mut self.json, level, message);
    }

    /// True if the message was cut at a character boundary to fit `N` bytes;
    /// the record will say so (`"truncated":true`).
    pub fn truncated(&self) -> bool {
        self.body.truncated
    }

    /// The message as it will stand in `block_json`: JSON-escaped.
    pub fn escaped_message(&self) -> &[u8] {
        self.json
            .get(self.body.message.0..self.body.message.1)
            .unwrap_or_default()
    }

    pub(crate) fn parts(&mut self) -> (&mut Vec<u8, N>, &Body) {
        (&mut self.json, &self.body)
    }
}

/// `fmt::Write` over a heapless byte vector; fails when it is full.
struct Bytes<'a, const N: usize>(&'a mut Vec<u8, N>);

impl<const N: usize> Bytes<'_, N> {
    fn write_bytes(&mut self, bytes: &[u8]) -> fmt::Result {
        self.0.extend_from_slice(bytes).map_err(|_| fmt::Error)
    }
}

impl<const N: usize> fmt::Write for Bytes<'_, N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.write_bytes(s.as_bytes())
    }
}

// ---------------------------------------------------------------------------
// Reading: one record, checked on its own.
// ---------------------------------------------------------------------------

/// What is wrong with one record, judged on its own (without its neighbours).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum RecordFault {
    /// The first line is not `<64 hex>|<display>|<64 hex>`.
    MalformedDisplayLine,
    /// The second line does not start with `BLOCK_DATA:`.
    MissingBlockData,
    /// `block_json` is not a JSON object with `levelno`, `message`,
    /// `prev_hash` (64 lowercase hex) and `timestamp`, or a string in it has a
    /// bad escape.
    MalformedBlock,
    /// SHA-256 of `block_json` is not the hash the first line states: the
    /// block was changed.
    HashMismatch,
    /// The `prev_hash` of the first line differs from the one in the block.
    PrevHashDisagrees,
    /// The display text is not the block's message, escaped: it was edited.
    DisplayMismatch,
}

impl fmt::Display for RecordFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RecordFault::MalformedDisplayLine => {
                "malformed line: expected <prev_hash>|<message>|<hash>"
            }
            RecordFault::MissingBlockData => "malformed line: expected BLOCK_DATA:<json>",
            RecordFault::MalformedBlock => "malformed line: block_json is not a valid block",
            RecordFault::HashMismatch => "hash mismatch: the record's content was changed",
            RecordFault::PrevHashDisagrees => {
                "prev_hash mismatch: the display line and the block disagree"
            }
            RecordFault::DisplayMismatch => "display does not match message",
        })
    }
}

/// The facts of a record that passed its own check.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Checked {
    pub(crate) prev: Hash,
    pub(crate) hash: Hash,
    pub(crate) seq: Option<u64>,
    pub(crate) truncated: bool,
    pub(crate) unlogged: u64,
}

/// A block as serde-json-core reads it. Strings stay as they stand in the file
/// (escapes undecoded): the hash covers the raw bytes, and the message is
/// compared with the display line escape by escape.
#[derive(Deserialize)]
struct Block<'a> {
    #[allow(dead_code)]
    levelno: i64,
    #[serde(borrow)]
    message: serde_json_core::str::EscapedStr<'a>,
    prev_hash: &'a str,
    #[serde(default)]
    seq: Option<u64>,
    /// Any JSON number (Python writes a float); covered by the hash, not read.
    #[allow(dead_code)]
    timestamp: serde::de::IgnoredAny,
    #[serde(default)]
    truncated: bool,
    #[serde(default)]
    unlogged: u64,
}

/// Splits a display line at its first and last `|`: prev hash, display, hash.
pub(crate) fn split_display_line(line: &[u8]) -> Option<(Hash, &[u8], Hash)> {
    if line.len() < 64 + 1 + 1 + 64 {
        return None;
    }
    let (prev, rest) = line.split_at(64);
    let (middle, hash) = rest.split_at(rest.len() - 64);
    let display = middle.strip_prefix(b"|")?.strip_suffix(b"|")?;
    Some((Hash::from_hex(prev)?, display, Hash::from_hex(hash)?))
}

/// Checks one record on its own: the display line's shape, the hash of the
/// block, the block's JSON, its `prev_hash` against the display line's, and the
/// display text against the message. `line1` and `line2` are without their LF.
pub(crate) fn check(line1: &[u8], line2: &[u8]) -> Result<Checked, RecordFault> {
    let (prev, display, hash) =
        split_display_line(line1).ok_or(RecordFault::MalformedDisplayLine)?;
    let json = line2
        .strip_prefix(BLOCK_PREFIX)
        .ok_or(RecordFault::MissingBlockData)?;
    if BlockHasher::hash(json) != hash {
        return Err(RecordFault::HashMismatch);
    }
    let (block, _) =
        serde_json_core::from_slice::<Block<'_>>(json).map_err(|_| RecordFault::MalformedBlock)?;
    let block_prev =
        Hash::from_hex(block.prev_hash.as_bytes()).ok_or(RecordFault::MalformedBlock)?;
    if block_prev != prev {
        return Err(RecordFault::PrevHashDisagrees);
    }
    match display_matches(block.message.0.as_bytes(), display) {
        Ok(true) => {}
        Ok(false) => return Err(RecordFault::DisplayMismatch),
        Err(_) => return Err(RecordFault::MalformedBlock),
    }
    Ok(Checked {
        prev,
        hash,
        seq: block.seq,
        truncated: block.truncated,
        unlogged: block.unlogged,
    })
}
