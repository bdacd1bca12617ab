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

use core::fmt;
use heapless::Vec;
use serde::Deserialize;

use crate::clock::Timestamp;
use crate::escape::{
    display_matches, find_quote_or_backslash, DisplayRuns, Escaped, JsonStringWriter,
};
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

/// What the tail starts with; its `prev_hash` follows.
const PREV_KEY: &[u8] = b",\"prev_hash\":\"";

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
    // Cannot fail: N >= MIN_CAPACITY leaves room for the fixed parts.
    let _ = json.extend_from_slice(b"{\"levelno\":");
    push_decimal(json, u64::from(level.levelno()));
    let _ = json.extend_from_slice(b",\"message\":\"");
    let start = json.len();
    let limit = N - TAIL_MAX - 1;
    let mut writer = JsonStringWriter::new(json, limit);
    let formatted = fmt::write(&mut writer, message);
    let Escaped { truncated, escaped } = writer.finish();
    // A `Display` that failed on its own also left the message incomplete:
    // the record says it was cut.
    let truncated = truncated || formatted.is_err();
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
    // Cannot fail: format_body left TAIL_MAX bytes free. Written by hand, not
    // with `write!`: this runs under the lock, and core::fmt's machinery cost
    // more than the rest of the tail together.
    let _ = json.extend_from_slice(PREV_KEY);
    let _ = json.extend_from_slice(&tail.link.prev.to_hex());
    let _ = json.push(b'"');
    if let Some(seq) = tail.link.seq {
        let _ = json.extend_from_slice(b",\"seq\":");
        push_decimal(json, seq);
    }
    let _ = json.extend_from_slice(b",\"timestamp\":");
    push_timestamp(json, tail.timestamp);
    if body.truncated {
        let _ = json.extend_from_slice(b",\"truncated\":true");
    }
    if tail.unlogged > 0 {
        let _ = json.extend_from_slice(b",\"unlogged\":");
        push_decimal(json, tail.unlogged);
    }
    if tail.chain_start {
        let _ = json.extend_from_slice(b",\"version\":\"");
        let _ = json.extend_from_slice(KEYED_VERSION.as_bytes());
        let _ = json.push(b'"');
    }
    let _ = json.push(b'}');
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
    // Five writes: `<prev>|`, the display, `|<hash>\nBLOCK_DATA:`, the
    // block, `\n`.
    let mut first = [b'|'; 65];
    // The block already holds `prev` in hex (close_block wrote it): copy it.
    match json.get(body.len..).and_then(|t| t.strip_prefix(PREV_KEY)) {
        Some(tail) if tail.len() >= 64 => first[..64].copy_from_slice(&tail[..64]),
        _ => first[..64].copy_from_slice(&prev.to_hex()),
    }
    debug_assert_eq!(first[..64], prev.to_hex());
    write_all(sink, &first)?;
    let message = json.get(body.message.0..body.message.1).unwrap_or_default();
    if body.escaped {
        for run in DisplayRuns::new(message) {
            write_all(sink, run)?;
        }
    } else {
        write_all(sink, message)?;
    }
    let mut middle = [b'|'; 1 + 64 + 1 + BLOCK_PREFIX.len()];
    middle[1..65].copy_from_slice(&hash.to_hex());
    middle[65] = b'\n';
    middle[66..].copy_from_slice(BLOCK_PREFIX);
    write_all(sink, &middle)?;
    write_all(sink, json)?;
    write_all(sink, b"\n")
}

/// Appends the decimal digits of `n` (the room is the caller's concern).
fn push_decimal<const N: usize>(out: &mut Vec<u8, N>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut used = 0;
    for slot in digits.iter_mut().rev() {
        *slot = b'0' + (n % 10) as u8;
        n /= 10;
        used += 1;
        if n == 0 {
            break;
        }
    }
    let _ = out.extend_from_slice(digits.get(digits.len() - used..).unwrap_or_default());
}

/// Appends a timestamp as [`Timestamp`]'s `Display` writes it: `secs.micros`,
/// six fraction digits.
fn push_timestamp<const N: usize>(out: &mut Vec<u8, N>, timestamp: Timestamp) {
    push_decimal(out, timestamp.secs());
    // `micros` is below one million, so six digits hold it.
    let mut fraction = [b'.', b'0', b'0', b'0', b'0', b'0', b'0'];
    let mut micros = timestamp.micros();
    for slot in fraction.iter_mut().skip(1).rev() {
        *slot = b'0' + (micros % 10) as u8;
        micros /= 10;
    }
    let _ = out.extend_from_slice(&fraction);
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

/// Reads a block as this crate writes it, compact and in key order, with
/// less work than the general parser: `None` for anything else (the seed's
/// spacing, other key orders, unknown keys, non-canonical numbers, `null`),
/// which the general parser then reads.
///
/// What it accepts, serde-json-core reads to the same values (a test holds
/// them to it): strings raw and ended as serde-json-core ends them (at the
/// first `"` after an even run of `\\`), UTF-8 checked, `timestamp` any run
/// of number characters, integers without leading zeros or overflow.
fn parse_compact(json: &[u8]) -> Option<Block<'_>> {
    let mut c = Compact(json);
    c.eat(b"{\"levelno\":")?;
    let levelno = i64::try_from(c.uint()?).ok()?;
    c.eat(b",\"message\":\"")?;
    let message = c.string()?;
    c.eat(b",\"prev_hash\":\"")?;
    let prev_hash = c.string()?;
    let seq = match c.eat(b",\"seq\":") {
        Some(()) => Some(c.uint()?),
        None => None,
    };
    c.eat(b",\"timestamp\":")?;
    c.number()?;
    let truncated = match c.eat(b",\"truncated\":") {
        Some(()) => match c.eat(b"true") {
            Some(()) => true,
            None => c.eat(b"false").map(|()| false)?,
        },
        None => false,
    };
    let unlogged = match c.eat(b",\"unlogged\":") {
        Some(()) => c.uint()?,
        None => 0,
    };
    let version = match c.eat(b",\"version\":\"") {
        Some(()) => Some(c.string()?),
        None => None,
    };
    c.eat(b"}")?;
    if !c.0.is_empty() {
        return None;
    }
    Some(Block {
        levelno,
        message: serde_json_core::str::EscapedStr(message),
        prev_hash,
        seq,
        timestamp: serde::de::IgnoredAny,
        truncated,
        unlogged,
        version,
    })
}

/// What [`parse_compact`] has left to read.
struct Compact<'a>(&'a [u8]);

impl<'a> Compact<'a> {
    fn eat(&mut self, literal: &[u8]) -> Option<()> {
        self.0 = self.0.strip_prefix(literal)?;
        Some(())
    }

    /// A `u64`: `0`, or digits without a leading zero.
    fn uint(&mut self) -> Option<u64> {
        let len = self.0.iter().take_while(|b| b.is_ascii_digit()).count();
        let (digits, rest) = self.0.split_at_checked(len)?;
        if let [] | [b'0', _, ..] = digits {
            return None;
        }
        let mut n: u64 = 0;
        for d in digits {
            n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
        }
        self.0 = rest;
        Some(n)
    }

    /// The rest of a string whose opening quote was read: its raw body.
    fn string(&mut self) -> Option<&'a str> {
        let text = self.0;
        let mut at = 0;
        let end = loop {
            at += find_quote_or_backslash(text.get(at..)?)?;
            match text.get(at)? {
                b'"' => break at,
                // A backslash escapes the byte after it, whatever it is.
                _ => at += 2,
            }
        };
        let body = core::str::from_utf8(text.get(..end)?).ok()?;
        self.0 = text.get(end + 1..)?;
        Some(body)
    }

    /// A run of number characters ending at `,` or `}`.
    fn number(&mut self) -> Option<()> {
        let len = self
            .0
            .iter()
            .take_while(|b| matches!(b, b'0'..=b'9' | b'.' | b'-' | b'+' | b'e' | b'E'))
            .count();
        match self.0.get(len) {
            Some(b',' | b'}') if len > 0 => {
                self.0 = self.0.get(len..)?;
                Some(())
            }
            _ => None,
        }
    }
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

/// The deepest nesting of arrays and objects a block may have: the block
/// object itself is level 1; an unknown key may hold a value a few levels deep.
const MAX_NESTING: usize = 8;

/// True when the JSON text never nests arrays and objects deeper than `max`
/// (brackets inside strings do not count). One pass, no recursion.
fn nesting_within(json: &[u8], max: usize) -> bool {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in json {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return false;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    true
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
    let block = match parse_compact(json) {
        Some(block) => block,
        // serde-json-core skips unknown values by recursion, with no depth
        // limit: a deeply nested value would exhaust the stack (an abort, on
        // a host; worse on a device). Refuse it before parsing.
        None if !nesting_within(json, MAX_NESTING) => {
            return Err(if digest != stated {
                RecordFault::HashMismatch
            } else {
                RecordFault::MalformedBlock
            })
        }
        None => {
            serde_json_core::from_slice::<Block<'_>>(json)
                .map_err(|_| {
                    if digest != stated {
                        // Most likely an edit that also broke the JSON: say what matters.
                        RecordFault::HashMismatch
                    } else {
                        RecordFault::MalformedBlock
                    }
                })?
                .0
        }
    };
    // Mostly the same text as the display line's, already parsed.
    let block_prev = if line1.get(..64) == Some(block.prev_hash.as_bytes()) {
        prev
    } else {
        Hash::from_hex(block.prev_hash.as_bytes()).ok_or(RecordFault::MalformedBlock)?
    };
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

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::vec::Vec as StdVec;

    type Fields<'a> = (
        i64,
        &'a str,
        &'a str,
        Option<u64>,
        bool,
        u64,
        Option<&'a str>,
    );

    fn fields<'a>(b: &Block<'a>) -> Fields<'a> {
        let version = b.version;
        (
            b.levelno,
            b.message.0,
            b.prev_hash,
            b.seq,
            b.truncated,
            b.unlogged,
            version,
        )
    }

    /// The fast reader never disagrees with serde-json-core: whatever it
    /// accepts, serde-json-core reads to the same values.
    fn agrees(json: &[u8]) -> bool {
        let Some(fast) = parse_compact(json) else {
            return false;
        };
        let slow = serde_json_core::from_slice::<Block<'_>>(json)
            .unwrap_or_else(|e| panic!("fast accepted, serde refused ({e:?}): {json:?}"));
        assert_eq!(
            fields(&fast),
            fields(&slow.0),
            "{:?}",
            std::string::String::from_utf8_lossy(json)
        );
        true
    }

    fn blocks() -> StdVec<StdVec<u8>> {
        let mut out = StdVec::new();
        let messages = [
            "",
            "plain",
            "a \"quoted\" \\ back\\slash\\",
            "tab\there\nnew line \u{1b}\u{7f}",
            "é ü 😀 | pipes |",
            "ends with backslash \\",
        ];
        for (i, m) in messages.iter().enumerate() {
            for (seq, unlogged, start) in [
                (Some(i as u64), 0, false),
                (None, 3, false),
                (Some(0), 0, true),
            ] {
                let mut json = Vec::<u8, 512>::new();
                let body = format_body(&mut json, Level::Warning, format_args!("{m}"));
                let tail = Tail {
                    link: Link {
                        prev: BlockHasher::hash(m.as_bytes()),
                        seq,
                    },
                    timestamp: Timestamp::new(1_764_146_337, 541_715),
                    unlogged,
                    chain_start: start,
                };
                close_block(&mut json, &body, &tail);
                out.push(json.to_vec());
            }
        }
        let mut cut = Vec::<u8, 512>::new();
        let body = format_body(&mut cut, Level::Error, format_args!("{}", "x".repeat(600)));
        assert!(body.truncated);
        close_block(
            &mut cut,
            &body,
            &Tail {
                link: Link {
                    prev: Hash::GENESIS,
                    seq: Some(u64::MAX),
                },
                timestamp: Timestamp::default(),
                unlogged: u64::MAX,
                chain_start: false,
            },
        );
        out.push(cut.to_vec());
        // Hand-written ones: the seed's spacing, other orders, odd numbers.
        let prev = "0".repeat(64);
        for text in [
            std::format!(
                r#"{{"levelno": 20, "message": "m", "prev_hash": "{prev}", "timestamp": 1.5}}"#
            ),
            std::format!(
                r#"{{"levelno":20,"message":"m","prev_hash":"{prev}","seq":null,"timestamp":1}}"#
            ),
            std::format!(r#"{{"levelno":-20,"message":"m","prev_hash":"{prev}","timestamp":1e5}}"#),
            std::format!(r#"{{"levelno":020,"message":"m","prev_hash":"{prev}","timestamp":1}}"#),
            std::format!(
                r#"{{"levelno":20,"message":"m","prev_hash":"{prev}","timestamp":1,"truncated":false}}"#
            ),
            std::format!(
                r#"{{"levelno":20,"message":"m","prev_hash":"{prev}","timestamp":1,"extra":1}}"#
            ),
            std::format!(r#"{{"levelno":20,"message":"m","prev_hash":"{prev}","timestamp":1}} "#),
            std::format!(
                r#"{{"levelno":20,"message":"a\\\"b\\\\","prev_hash":"{prev}","timestamp":-0.5e+3}}"#
            ),
            std::format!(
                r#"{{"levelno":20,"message":"m","prev_hash":"{prev}","seq":18446744073709551615,"timestamp":1}}"#
            ),
            std::string::String::from(
                r#"{"levelno":999999999999999999,"message":"m","prev_hash":"x","timestamp":1}"#,
            ),
        ] {
            out.push(text.into_bytes());
        }
        out
    }

    #[test]
    fn the_compact_reader_agrees_with_serde_json_core() {
        let mut accepted = 0;
        for json in blocks() {
            if agrees(&json) {
                accepted += 1;
            }
            // Every single-byte change, deletion and duplication.
            for i in 0..json.len() {
                for b in [
                    b'"', b'\\', b'0', b'9', b'}', b',', b':', b' ', b'a', b'-', b'.', 0xc3, 0xff,
                ] {
                    let mut changed = json.clone();
                    changed[i] = b;
                    agrees(&changed);
                }
                let mut shorter = json.clone();
                shorter.remove(i);
                agrees(&shorter);
                let mut longer = json.clone();
                longer.insert(i, json[i]);
                agrees(&longer);
                agrees(&json[..i]);
            }
        }
        // Everything this crate writes takes the fast path (20 records), and
        // so do the three hand-written ones in its shape.
        assert_eq!(
            accepted,
            19 + 4,
            "the writer's own blocks must take the fast path"
        );
    }

    #[test]
    fn the_tail_is_written_as_before() {
        let mut json = Vec::<u8, 512>::new();
        let body = format_body(&mut json, Level::Info, format_args!("hi"));
        let tail = Tail {
            link: Link {
                prev: Hash::GENESIS,
                seq: Some(1234),
            },
            timestamp: Timestamp::new(5, 7),
            unlogged: 42,
            chain_start: true,
        };
        close_block(&mut json, &body, &tail);
        let expected = std::format!(
            "{{\"levelno\":20,\"message\":\"hi\",\"prev_hash\":\"{}\",\"seq\":1234,\
             \"timestamp\":5.000007,\"unlogged\":42,\"version\":\"{KEYED_VERSION}\"}}",
            "0".repeat(64)
        );
        assert_eq!(core::str::from_utf8(&json).unwrap(), expected);
        let mut digits = Vec::<u8, 64>::new();
        for n in [0, 9, 10, 99, 100, u64::MAX] {
            digits.clear();
            push_decimal(&mut digits, n);
            assert_eq!(core::str::from_utf8(&digits).unwrap(), std::format!("{n}"));
        }
        for t in [
            Timestamp::new(0, 0),
            Timestamp::new(u64::MAX, 999_999),
            Timestamp::new(1, 10),
        ] {
            digits.clear();
            push_timestamp(&mut digits, t);
            assert_eq!(core::str::from_utf8(&digits).unwrap(), std::format!("{t}"));
        }
    }
}
