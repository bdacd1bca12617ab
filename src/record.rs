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
use crate::seal::KEYED_VERSION;
use crate::sink::{write_all, SinkError};

/// The prefix of every block line.
pub(crate) const BLOCK_PREFIX: &[u8] = b"BLOCK_DATA:";

/// Bytes a block's tail can take at most: `,"prev_hash":"<64>","seq":<20>,`
/// `"timestamp":<20>.<6>,"truncated":true,"unlogged":<20>,"version":"<keyed>"}`.
pub(crate) const TAIL_MAX: usize =
    14 + 64 + 1 + 7 + 20 + 13 + 27 + 17 + 12 + 20 + 12 + KEYED_VERSION.len() + 1 + 1;

/// Bytes the body takes besides the message: `{"levelno":255,"message":"` and `"`.
const BODY_OVERHEAD: usize = 11 + 3 + 12 + 1;

/// The smallest record buffer a chain accepts: room for the fixed parts of a
/// block and a message of 224 bytes (a torn-tail recovery record needs that).
/// 512 bytes is above it.
pub const MIN_CAPACITY: usize = TAIL_MAX + BODY_OVERHEAD + 224;

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
    /// The message holds escapes, so its display differs from it.
    escaped: bool,
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
    const { assert!(MIN_CAPACITY <= 512, "512-byte buffers must stay valid") };
    json.clear();
    let mut head = Bytes(json);
    // Cannot fail: N >= MIN_CAPACITY leaves room for the fixed parts.
    let _ = write!(head, "{{\"levelno\":{},\"message\":\"", level.levelno());
    let start = json.len();
    let limit = N - TAIL_MAX - 1;
    let mut writer = JsonStringWriter::new(json, limit);
    let _ = fmt::write(&mut writer, message);
    let truncated = writer.truncated();
    let escaped = writer.escaped();
    let end = json.len();
    let _ = json.push(b'"');
    let mut hasher = BlockHasher::new();
    hasher.update(json);
    Body {
        hasher,
        message: (start, end),
        truncated,
        escaped,
        len: json.len(),
    }
}

/// Where a new record attaches: the hash it follows and its `seq`, if known.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Link {
    pub(crate) prev: Hash,
    pub(crate) seq: Option<u64>,
}

/// The part of a block that depends on the chain: written under the lock.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tail {
    pub(crate) link: Link,
    pub(crate) timestamp: Timestamp,
    /// Records lost just before this one.
    pub(crate) unlogged: u64,
    /// This is a keyed chain's chain-start record.
    pub(crate) chain_start: bool,
}

/// Adds the tail to a formatted body and returns the block's digest.
///
/// The body's own hash state is reused, so only the tail is hashed here.
pub(crate) fn close_block<const N: usize>(json: &mut Vec<u8, N>, body: &Body, tail: &Tail) -> Hash {
    json.truncate(body.len);
    let mut out = Bytes(json);
    // Cannot fail: format_body left TAIL_MAX bytes free.
    let _ = out.write_str(",\"prev_hash\":\"");
    let _ = out.write_bytes(&tail.link.prev.to_hex());
    let _ = out.write_str("\"");
    if let Some(seq) = tail.link.seq {
        let _ = write!(out, ",\"seq\":{seq}");
    }
    let _ = write!(out, ",\"timestamp\":{}", tail.timestamp);
    if body.truncated {
        let _ = out.write_str(",\"truncated\":true");
    }
    if tail.unlogged > 0 {
        let _ = write!(out, ",\"unlogged\":{}", tail.unlogged);
    }
    if tail.chain_start {
        let _ = write!(out, ",\"version\":\"{KEYED_VERSION}\"");
    }
    let _ = out.write_str("}");
    let mut hasher = body.hasher.clone();
    hasher.update(&json[body.len..]);
    hasher.finish()
}

/// Writes one closed record, both lines, to the sink; `hash` is what it states.
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
    if body.escaped {
        for run in DisplayRuns::new(message) {
            write_all(sink, run)?;
        }
    } else {
        write_all(sink, message)?;
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

/// A record read and parsed, not yet checked against the hash it states.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Parsed<'a> {
    /// The `prev_hash` of the display line.
    pub(crate) prev: Hash,
    /// The `prev_hash` of the block.
    block_prev: Hash,
    /// The hash the display line states.
    pub(crate) stated: Hash,
    /// SHA-256 of `block_json`.
    pub(crate) digest: Hash,
    pub(crate) seq: Option<u64>,
    pub(crate) truncated: bool,
    pub(crate) unlogged: u64,
    /// A keyed chain's chain-start record.
    pub(crate) chain_start: bool,
    display: &'a [u8],
    message: &'a str,
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
    #[serde(default, borrow)]
    version: Option<&'a str>,
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

/// Reads one record: the display line's shape, the block line's prefix, the
/// block's JSON and its digest. `line1` and `line2` are without their LF.
pub(crate) fn parse<'a>(line1: &'a [u8], line2: &'a [u8]) -> Result<Parsed<'a>, RecordFault> {
    let (prev, display, stated) =
        split_display_line(line1).ok_or(RecordFault::MalformedDisplayLine)?;
    let json = line2
        .strip_prefix(BLOCK_PREFIX)
        .ok_or(RecordFault::MissingBlockData)?;
    let digest = BlockHasher::hash(json);
    let (block, _) = serde_json_core::from_slice::<Block<'_>>(json).map_err(|_| {
        if digest != stated {
            // Most likely an edit that also broke the JSON: say what matters.
            RecordFault::HashMismatch
        } else {
            RecordFault::MalformedBlock
        }
    })?;
    let block_prev =
        Hash::from_hex(block.prev_hash.as_bytes()).ok_or(RecordFault::MalformedBlock)?;
    Ok(Parsed {
        prev,
        block_prev,
        stated,
        digest,
        seq: block.seq,
        truncated: block.truncated,
        unlogged: block.unlogged,
        chain_start: block.version == Some(KEYED_VERSION),
        display,
        message: block.message.0,
    })
}

impl Parsed<'_> {
    /// Checks the record states `expected` (its digest in a plain chain, its
    /// tag in a keyed one), then that its display line agrees with its block:
    /// the same `prev_hash`, and the display text is the message.
    pub(crate) fn check(&self, expected: &Hash) -> Result<(), RecordFault> {
        if self.stated != *expected {
            return Err(RecordFault::HashMismatch);
        }
        if self.block_prev != self.prev {
            return Err(RecordFault::PrevHashDisagrees);
        }
        match display_matches(self.message.as_bytes(), self.display) {
            Ok(true) => Ok(()),
            Ok(false) => Err(RecordFault::DisplayMismatch),
            Err(_) => Err(RecordFault::MalformedBlock),
        }
    }
}
