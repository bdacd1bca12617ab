//! Building a record: formatting its block, closing it under the chain's head,
//! writing its two lines. (Reading one back is `record`.)
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
//!
//! (Over 600 lines with its unit tests and proptests; the draft itself is about 430.)

use core::fmt;

use crate::clock::Timestamp;
use crate::display::DisplayRuns;
use crate::escape::{BlockBuf, Escaped, JsonStringWriter};
use crate::hash::{BlockHasher, Hash};
use crate::head::Link;
use crate::level::Level;
use crate::record::BLOCK_PREFIX;
use crate::seal::KEYED_VERSION;
use crate::sink::{write_all, SinkError};

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
struct Body {
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
fn format_body<const N: usize>(
    json: &mut BlockBuf<N>,
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

/// A block closed up to its link (`prev_hash`, `seq`), those bytes hashed:
/// what [`close_time`] finishes. The link depends on the chain's head; the
/// rest (timestamp, counts) on the moment the record is sealed.
#[derive(Clone, Debug)]
pub(crate) struct LinkClosed {
    hasher: BlockHasher,
    /// The block's length up to here.
    len: usize,
    link: Link,
}

impl LinkClosed {
    /// The link it was closed under.
    pub(crate) fn link(&self) -> Link {
        self.link
    }
}

/// Writes the link (`prev_hash`, `seq`) after a formatted body.
fn write_link<const N: usize>(json: &mut BlockBuf<N>, body: &Body, link: Link) {
    json.truncate(body.len);
    // Cannot fail: format_body left TAIL_MAX bytes free. Written by hand, not
    // with `write!`: this runs under the lock, and core::fmt's machinery cost
    // more than the rest of the tail together.
    let _ = json.extend_from_slice(PREV_KEY);
    let _ = json.extend_in_place(64, |hex| {
        if let Some(hex) = hex.first_chunk_mut::<64>() {
            link.prev.write_hex(hex);
        }
    });
    let _ = json.push(b'"');
    if let Some(seq) = link.seq {
        let _ = json.extend_from_slice(b",\"seq\":");
        push_decimal(json, seq);
    }
}

/// Writes the rest of the tail, after the link at `at`.
fn write_time<const N: usize>(json: &mut BlockBuf<N>, body: &Body, at: usize, tail: &Tail) {
    json.truncate(at);
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
}

/// Adds the link (`prev_hash`, `seq`) to a formatted body and hashes it.
/// Out of line: a queued chain calls it from two places, and a copy of the
/// hash state each is code that firmware pays for in flash.
#[inline(never)]
fn close_link<const N: usize>(json: &mut BlockBuf<N>, body: &Body, link: Link) -> LinkClosed {
    write_link(json, body, link);
    let mut hasher = body.hasher.clone();
    hasher.update(json.get(body.len..).unwrap_or_default());
    LinkClosed {
        hasher,
        len: json.len(),
        link,
    }
}

/// Adds the rest of the tail after the link and returns the block's digest.
/// Out of line, as [`close_link`].
#[inline(never)]
fn close_time<const N: usize>(
    json: &mut BlockBuf<N>,
    body: &Body,
    closed: &LinkClosed,
    tail: &Tail,
) -> Hash {
    write_time(json, body, closed.len, tail);
    digest_from(json, &closed.hasher, closed.len)
}

/// The digest of the block in `json`, given `hasher` that has hashed it up
/// to `from`. Out of line: every way of closing a block ends here, and
/// firmware pays for each copy of it in flash.
#[inline(never)]
fn digest_from(json: &[u8], hasher: &BlockHasher, from: usize) -> Hash {
    let mut hasher = hasher.clone();
    hasher.update(json.get(from..).unwrap_or_default());
    hasher.finish()
}

/// Adds the tail to a formatted body and returns the block's digest: the
/// same as [`close_link`] then [`close_time`], in one piece (one copy of
/// the body's hash state, one update).
///
/// The body's own hash state is reused, so only the tail is hashed here.
fn close_block<const N: usize>(json: &mut BlockBuf<N>, body: &Body, tail: &Tail) -> Hash {
    write_link(json, body, tail.link);
    write_time(json, body, json.len(), tail);
    digest_from(json, &body.hasher, body.len)
}

/// Writes one closed record, both lines, to the sink; `hash` is what it states.
fn write_record<W: embedded_io::Write>(
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
    // The fallback goes through an array of its own, then one copy: written
    // straight into `first`, the compiler merged it with the copy into one
    // slow loop of 32 look-ups (~150 instructions a record).
    let mut apart = [0; 64];
    let hex = match json
        .get(body.len..)
        .and_then(|t| t.strip_prefix(PREV_KEY))
        .and_then(|t| t.first_chunk::<64>())
    {
        Some(written) => written,
        None => {
            prev.write_hex(&mut apart);
            &apart
        }
    };
    if let Some(slot) = first.first_chunk_mut::<64>() {
        *slot = *hex;
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
    if let Some(hex) = middle.get_mut(1..).and_then(|m| m.first_chunk_mut::<64>()) {
        hash.write_hex(hex);
    }
    middle[65] = b'\n';
    middle[66..].copy_from_slice(BLOCK_PREFIX);
    write_all(sink, &middle)?;
    write_all(sink, json)?;
    write_all(sink, b"\n")
}

/// `"00"` to `"99"`: decimal digits two at a time, as `itoa` writes them:
/// half the 64-bit divisions of one at a time (a library call each on
/// 32-bit targets), and no division for the digits of a pair.
const DECIMAL_PAIRS: [[u8; 2]; 100] = {
    let mut pairs = [[0u8; 2]; 100];
    let mut i = 0;
    while i < 100 {
        // In a const: an index out of range would fail the build, not a run.
        #[allow(clippy::indexing_slicing)]
        {
            pairs[i] = [b'0' + (i / 10) as u8, b'0' + (i % 10) as u8];
        }
        i += 1;
    }
    pairs
};

/// The last two decimal digits of `n`.
fn decimal_pair(n: u32) -> [u8; 2] {
    DECIMAL_PAIRS
        .get((n % 100) as usize)
        .copied()
        .unwrap_or([b'0'; 2])
}

/// Appends the decimal digits of `n` (the room is the caller's concern).
/// Not through `core::fmt`: this runs for every record, under the lock.
fn push_decimal<const N: usize>(out: &mut BlockBuf<N>, mut n: u64) {
    // u64::MAX has 20 digits: ten pairs, `at` never goes below 0.
    let mut digits = [b'0'; 20];
    let mut at = digits.len();
    loop {
        at = at.saturating_sub(2);
        if let Some(slot) = digits.get_mut(at..at + 2) {
            slot.copy_from_slice(&decimal_pair((n % 100) as u32));
        }
        n /= 100;
        if n == 0 {
            break;
        }
    }
    // An odd number of digits (or 0) leaves one leading `0` to drop.
    if digits.get(at) == Some(&b'0') {
        at += 1;
    }
    let _ = out.extend_short(digits.get(at..).unwrap_or_default());
}

/// Appends a timestamp as [`Timestamp`]'s `Display` writes it: `secs.micros`,
/// six fraction digits.
fn push_timestamp<const N: usize>(out: &mut BlockBuf<N>, timestamp: Timestamp) {
    push_decimal(out, timestamp.secs());
    // The six low digits of `micros` (below one million anyway).
    let micros = timestamp.micros();
    let [a, b] = decimal_pair(micros / 10_000);
    let [c, d] = decimal_pair(micros / 100);
    let [e, f] = decimal_pair(micros);
    let _ = out.extend_from_slice(&[b'.', a, b, c, d, e, f]);
}

/// A record in the making: its message formatted and JSON-escaped into the
/// draft's own buffer of `N` bytes, and that part already hashed. Every record
/// is a draft first: formatted once (outside any lock), then closed under the
/// chain's head, hashed (only the tail: the body was hashed already) and
/// written once.
///
/// [`Chain::append`](crate::Chain::append) makes one on the caller's stack;
/// code that formats ahead of time (a host thread, firmware before an
/// interrupt-free section) hands its own to
/// [`Chain::append_draft`](crate::Chain::append_draft) or
/// [`Writer::append_draft`](crate::Writer::append_draft), so the critical
/// section does not grow with the message.
///
/// ```
/// use immutable_log::{Draft, Level, Writer};
/// let mut draft = Draft::<512>::new(Level::Info, format_args!("pump {} on", 2));
/// assert_eq!(draft.escaped_message(), b"pump 2 on");
/// let mut log = [0u8; 1024];
/// let mut writer = Writer::new(&mut log[..]);
/// let head = writer.append_draft(&mut draft, Default::default(), 0).unwrap();
/// assert_eq!(head.seq, Some(0));
/// ```
#[derive(Clone, Debug)]
pub struct Draft<const N: usize> {
    json: BlockBuf<N>,
    body: Body,
}

impl<const N: usize> Draft<N> {
    /// Formats a message at a level.
    pub fn new(level: Level, message: fmt::Arguments<'_>) -> Self {
        let mut json = BlockBuf::new();
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

    /// Adds the tail (the part that depends on the chain's head) and returns
    /// the block's digest. Only the tail is hashed here: the body was hashed
    /// when it was formatted. A draft can be closed again, under another tail.
    pub(crate) fn close(&mut self, tail: &Tail) -> Hash {
        close_block(&mut self.json, &self.body, tail)
    }

    /// [`close`](Self::close) in two steps, the link first (`prev_hash`,
    /// `seq`: most of the tail's bytes) and then [`close_time`](Self::close_time):
    /// a queued chain does the first outside its critical section.
    pub(crate) fn close_link(&mut self, link: Link) -> LinkClosed {
        close_link(&mut self.json, &self.body, link)
    }

    /// Finishes a block closed up to `closed`'s link (the link in `tail` is
    /// not read): the same digest [`close`](Self::close) gives.
    pub(crate) fn close_time(&mut self, closed: &LinkClosed, tail: &Tail) -> Hash {
        close_time(&mut self.json, &self.body, closed, tail)
    }

    /// Writes the closed record, both lines, to `sink`: `prev` and `hash` are
    /// what its display line states.
    pub(crate) fn write_to<W: embedded_io::Write>(
        &self,
        sink: &mut W,
        prev: &Hash,
        hash: &Hash,
    ) -> Result<(), SinkError<W::Error>> {
        write_record(sink, &self.json, &self.body, prev, hash)
    }

    /// The block's length as it stands (the body, or the block as closed
    /// last): what [`write_to`](Self::write_to) writes changes by exactly as
    /// much as this does when the draft is closed.
    pub(crate) fn block_len(&self) -> usize {
        self.json.len()
    }

    /// The block as closed last: `block_json`.
    #[cfg(test)]
    pub(crate) fn block_json(&self) -> &[u8] {
        &self.json
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;

    #[test]
    fn the_tail_is_written_as_before() {
        let mut json = BlockBuf::<512>::new();
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
        let mut digits = BlockBuf::<64>::new();
        for n in [
            0,
            9,
            10,
            11,
            99,
            100,
            101,
            999,
            1000,
            12_345,
            1_000_000,
            u64::MAX / 10,
            u64::MAX - 1,
            u64::MAX,
        ] {
            digits.clear();
            push_decimal(&mut digits, n);
            assert_eq!(core::str::from_utf8(&digits).unwrap(), std::format!("{n}"));
        }
        for t in [
            Timestamp::new(0, 0),
            Timestamp::new(u64::MAX, 999_999),
            Timestamp::new(1, 10),
            Timestamp::new(10, 100_000),
            Timestamp::new(1_795_688_142, 123_456),
            Timestamp::new(99, 1),
        ] {
            digits.clear();
            push_timestamp(&mut digits, t);
            assert_eq!(core::str::from_utf8(&digits).unwrap(), std::format!("{t}"));
        }
    }

    /// A record's two lines as FORMAT.md spells them, written the plain way
    /// (`format!`, one character at a time), for a message `msg` that a
    /// buffer of `N` bytes holds whole or cut.
    fn reference_record<const N: usize>(
        prev: &Hash,
        seq: u64,
        level: Level,
        msg: &str,
        t: Timestamp,
    ) -> (std::string::String, Hash) {
        use sha2::{Digest, Sha256};
        use std::string::String;
        let json_escape = |c: char| -> String {
            match c {
                '"' => "\\\"".into(),
                '\\' => "\\\\".into(),
                '\t' => "\\t".into(),
                '\n' => "\\n".into(),
                '\r' => "\\r".into(),
                '\u{8}' => "\\b".into(),
                '\u{c}' => "\\f".into(),
                '\0'..='\u{1f}' | '\u{7f}' => std::format!("\\u{:04x}", c as u32),
                c => c.into(),
            }
        };
        // What the buffer leaves for the escaped message: all but the tail's
        // room, a byte, and `{"levelno":L,"message":"`.
        let head = std::format!("{{\"levelno\":{},\"message\":\"", level.levelno());
        let room = N - TAIL_MAX - 1 - head.len();
        let (mut message, mut kept, mut truncated) = (String::new(), 0, false);
        for c in msg.chars() {
            let e = json_escape(c);
            if message.len() + e.len() > room {
                truncated = true;
                break;
            }
            message.push_str(&e);
            kept += 1;
        }
        let json = std::format!(
            "{head}{message}\",\"prev_hash\":\"{prev}\",\"seq\":{seq},\"timestamp\":{}.{:06}{}}}",
            t.secs(),
            t.micros(),
            if truncated { ",\"truncated\":true" } else { "" },
        );
        // display: the message with `"`, `\` and TAB as they are, every
        // other control character escaped as in the JSON.
        let mut display = String::new();
        for c in msg.chars().take(kept) {
            match c {
                '"' | '\\' | '\t' => display.push(c),
                c => display.push_str(&json_escape(c)),
            }
        }
        let hash = Hash::from_bytes(Sha256::digest(json.as_bytes()).into());
        let record = std::format!("{prev}|{display}|{hash}\nBLOCK_DATA:{json}\n");
        (record, hash)
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2048))]
        #[test]
        fn records_are_what_the_format_spells_out(
            msgs in proptest::collection::vec(
                "([a-z ]|[\\x00-\\x1f\\x7f\"\\\\]|[é€😀]|.){0,40}|[\\x00-\\x1f\\x7f]{1,40}|[a-zé\\n\"]{200,700}",
                1..4,
            ),
            level in 0usize..6,
            secs in proptest::prelude::any::<u64>(),
            micros in 0u32..1_000_000,
            resumed in proptest::prelude::any::<bool>(),
        ) {
            use crate::{Head, Writer};
            let level = [
                Level::Trace, Level::Debug, Level::Info,
                Level::Warning, Level::Error, Level::Critical,
            ][level];
            let t = Timestamp::new(secs, micros);
            let mut out = std::vec![0u8; 8192];
            let mut want = std::string::String::new();
            {
                let start = Head { hash: Hash::from_bytes([7; 32]), seq: Some(41) };
                let mut writer = Writer::resume(&mut out[..], resumed.then_some(start));
                let (mut prev, mut seq) = if resumed { (start.hash, 42) } else { (Hash::GENESIS, 0) };
                // One draft reused, as a thread's scratch draft is: the bytes
                // of the records before stay in its buffer past the block,
                // where escaping grows the message without clearing them.
                let mut draft = Draft::<512>::new(level, format_args!("{}", "\u{1b}x".repeat(90)));
                for msg in &msgs {
                    draft.reformat(level, format_args!("{msg}"));
                    writer.append_draft(&mut draft, t, 0).unwrap();
                    let (record, hash) = reference_record::<512>(&prev, seq, level, msg, t);
                    proptest::prop_assert_eq!(draft.truncated(), record.contains("\"truncated\":true"));
                    want.push_str(&record);
                    (prev, seq) = (hash, seq + 1);
                }
            }
            let got = std::string::String::from_utf8(out[..want.len()].to_vec()).unwrap();
            proptest::prop_assert_eq!(got, want);
        }

        #[test]
        fn decimals_are_what_display_writes(n in proptest::prelude::any::<u64>(), micros in 0u32..1_000_000) {
            let mut digits = BlockBuf::<64>::new();
            push_decimal(&mut digits, n);
            proptest::prop_assert_eq!(core::str::from_utf8(&digits).unwrap(), std::format!("{n}"));
            digits.clear();
            let t = Timestamp::new(n, micros);
            push_timestamp(&mut digits, t);
            proptest::prop_assert_eq!(core::str::from_utf8(&digits).unwrap(), std::format!("{t}"));
        }
    }
}
