//! Reading one record: the two-line format, parsed into a [`Record`] view and
//! checked on its own (without its neighbours). Building one is `draft`.
//!
//! ```text
//! <prev_hash>|<display>|<hash>
//! BLOCK_DATA:<block_json>
//! ```

use core::fmt;

use crate::display::display_matches;
use crate::hash::{BlockHasher, Hash, HexHash};
use crate::json::{self, Block, JsonFault, Unescaped};
use crate::level::Level;
use crate::scan::find_lf;
use crate::seal::KEYED_VERSION;

/// The prefix of every block line.
pub(crate) const BLOCK_PREFIX: &[u8] = b"BLOCK_DATA:";

/// What is wrong with one record, judged on its own (without its neighbours).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum RecordFault {
    /// The first line is not `<64 hex>|<display>|<64 hex>`.
    MalformedDisplayLine,
    /// The second line does not start with `BLOCK_DATA:`.
    MissingBlockData,
    /// `block_json` is not a block: what JSON, or this format, does not allow
    /// in it, and where.
    MalformedBlock(JsonFault),
    /// The block's `prev_hash` is not 64 lowercase hex digits.
    MalformedPrevHash,
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
        match self {
            RecordFault::MalformedDisplayLine => {
                f.write_str("malformed line: expected <prev_hash>|<message>|<hash>")
            }
            RecordFault::MissingBlockData => {
                f.write_str("malformed line: expected BLOCK_DATA:<json>")
            }
            RecordFault::MalformedBlock(fault) => {
                write!(
                    f,
                    "malformed line: block_json is not a valid block: {fault}"
                )
            }
            RecordFault::MalformedPrevHash => {
                f.write_str("malformed line: the block's prev_hash is not 64 lowercase hex digits")
            }
            RecordFault::HashMismatch => {
                f.write_str("hash mismatch: the record's content was changed")
            }
            RecordFault::PrevHashDisagrees => {
                f.write_str("prev_hash mismatch: the display line and the block disagree")
            }
            RecordFault::DisplayMismatch => f.write_str("display does not match message"),
        }
    }
}

impl core::error::Error for RecordFault {}

/// One record, read from its two lines: a view over the bytes, with the
/// fields of its block. Reading checks the shape and the JSON; [`check`]
/// checks the hash it states and its display line.
///
/// ```
/// use immutable_log::{Chain, Level, NoClock, Record};
/// let mut log = [0u8; 1024];
/// let mut sink = &mut log[..];
/// let chain: Chain<_, NoClock, 512> = Chain::new(&mut sink, NoClock);
/// chain.append(Level::Warning, format_args!("tank {} low", 3)).unwrap();
/// let (record, rest) = Record::read(&log).unwrap().unwrap();
/// record.check().unwrap();
/// assert_eq!(record.seq(), Some(0));
/// assert_eq!(record.level(), Some(Level::Warning));
/// assert_eq!(record.message().collect::<Result<String, _>>().unwrap(), "tank 3 low");
/// assert!(rest.iter().all(|&b| b == 0));
/// ```
///
/// [`check`]: Record::check
#[derive(Clone, Copy, Debug)]
pub struct Record<'a> {
    display: &'a [u8],
    block_json: &'a [u8],
    /// The `prev_hash` of the display line.
    prev: Hash,
    /// The `prev_hash` of the block.
    block_prev: Hash,
    /// The hash the display line states.
    stated: Hash,
    /// SHA-256 of `block_json`.
    digest: Hash,
    block: Block<'a>,
}

impl<'a> Record<'a> {
    /// Parses a record from its two lines, `line1` and `line2`, without their
    /// LFs: the display line's shape, the block line's prefix, the block's
    /// JSON (strictly: see [`JsonFaultKind`](crate::JsonFaultKind)) and its
    /// digest. A block that breaks the rules and whose digest is not the hash
    /// stated is [`RecordFault::HashMismatch`]: most likely, an edit.
    pub fn parse(line1: &'a [u8], line2: &'a [u8]) -> Result<Self, RecordFault> {
        Self::parse_digested(line1, line2, BlockHasher::hash, None)
    }

    /// [`parse`](Self::parse), with `digest` giving SHA-256 of `block_json`
    /// (a verifier's hashing thread may have it already).
    ///
    /// `known` is a hash and its hex text (the record before's, as its line
    /// stated it): a `prev_hash` spelled the same is not decoded again.
    #[inline]
    pub(crate) fn parse_digested(
        line1: &'a [u8],
        line2: &'a [u8],
        digest: impl FnOnce(&'a [u8]) -> Hash,
        known: Option<(&HexHash, Hash)>,
    ) -> Result<Self, RecordFault> {
        let (prev_text, prev, display, stated_text) =
            split_display_text(line1, known).ok_or(RecordFault::MalformedDisplayLine)?;
        let stated_hash = || Hash::from_hex(stated_text).ok_or(RecordFault::MalformedDisplayLine);
        let Some(block_json) = line2.strip_prefix(BLOCK_PREFIX) else {
            // The display line's shape is judged first.
            stated_hash()?;
            return Err(RecordFault::MissingBlockData);
        };
        let digest = digest(block_json);
        // A plain chain's record states its digest: spelled in hex, it is
        // compared as text, and nothing is decoded.
        let stated = if digest.to_hex() == *stated_text {
            digest
        } else {
            stated_hash()?
        };
        let block = json::read_block(block_json, prev_text).map_err(|fault| {
            if digest != stated {
                RecordFault::HashMismatch
            } else {
                RecordFault::MalformedBlock(fault)
            }
        })?;
        // Mostly the same text as the display line's, already parsed.
        let block_prev = if block.prev_hash == prev_text {
            prev
        } else {
            Hash::from_hex(block.prev_hash).ok_or(if digest != stated {
                RecordFault::HashMismatch
            } else {
                RecordFault::MalformedPrevHash
            })?
        };
        Ok(Record {
            display,
            block_json,
            prev,
            block_prev,
            stated,
            digest,
            block,
        })
    }

    /// Reads the record at the start of `bytes`: `None` when `bytes` holds no
    /// two complete lines, else the record (or what is wrong with it) and the
    /// bytes after it.
    #[allow(clippy::type_complexity)]
    pub fn read(bytes: &'a [u8]) -> Option<Result<(Self, &'a [u8]), RecordFault>> {
        let first = find_lf(bytes)?;
        let rest = bytes.get(first + 1..)?;
        let second = find_lf(rest)?;
        let line1 = bytes.get(..first)?;
        let line2 = rest.get(..second)?;
        let after = rest.get(second + 1..)?;
        Some(Record::parse(line1, line2).map(|r| (r, after)))
    }

    /// Checks the record on its own, as a plain chain's: the hash it states
    /// is the digest of its block, its display line and block agree on
    /// `prev_hash`, and its display is its message. (In a keyed chain the
    /// hash stated is a tag that only the key checks: see
    /// [`Verifier::keyed`](crate::Verifier::keyed).)
    pub fn check(&self) -> Result<(), RecordFault> {
        self.check_stated(&self.digest)
    }

    /// [`check`](Self::check), with the hash the record must state.
    pub(crate) fn check_stated(&self, expected: &Hash) -> Result<(), RecordFault> {
        if self.stated != *expected {
            return Err(RecordFault::HashMismatch);
        }
        if self.block_prev != self.prev {
            return Err(RecordFault::PrevHashDisagrees);
        }
        if self.block.message_plain {
            // No escape and nothing to escape: the display is the message.
            return match self.block.message == self.display {
                true => Ok(()),
                false => Err(RecordFault::DisplayMismatch),
            };
        }
        match display_matches(self.block.message, self.display) {
            Ok(true) => Ok(()),
            Ok(false) => Err(RecordFault::DisplayMismatch),
            // Cannot happen: the validator decoded every escape already.
            Err(kind) => Err(RecordFault::MalformedBlock(JsonFault { at: 0, kind })),
        }
    }

    /// The display text, as it stands between the display line's `|`s.
    pub fn display(&self) -> &'a [u8] {
        self.display
    }

    /// `block_json`: the bytes the record's hash covers.
    pub fn block_json(&self) -> &'a [u8] {
        self.block_json
    }

    /// The hash the record follows (its `prev_hash`).
    pub fn prev_hash(&self) -> Hash {
        self.prev
    }

    /// The hash the record states: in a plain chain, its digest; in a keyed
    /// one, its tag. The next record's `prev_hash`.
    pub fn hash(&self) -> Hash {
        self.stated
    }

    /// SHA-256 of `block_json`: what the record hashes to. (A leaf of the
    /// log's tree, keyed or not.)
    pub fn digest(&self) -> Hash {
        self.digest
    }

    /// `levelno`, as it stands.
    pub fn levelno(&self) -> i64 {
        self.block.levelno
    }

    /// The level, when `levelno` is one this crate names.
    pub fn level(&self) -> Option<Level> {
        u64::try_from(self.block.levelno)
            .ok()
            .and_then(Level::from_levelno)
    }

    /// The message as it stands in `block_json`: JSON-escaped, without quotes.
    pub fn message_json(&self) -> &'a str {
        // Checked to be UTF-8 when read.
        core::str::from_utf8(self.block.message).unwrap_or_default()
    }

    /// The message's characters, escapes decoded.
    pub fn message(&self) -> Unescaped<'a> {
        Unescaped::new(self.block.message)
    }

    /// `seq`: the record's index in its chain (`None` in seed-written records).
    pub fn seq(&self) -> Option<u64> {
        self.block.seq
    }

    /// `timestamp`, the JSON number's text as it stands (`1764146337.541715`).
    pub fn timestamp(&self) -> &'a str {
        // A JSON number: ASCII.
        core::str::from_utf8(self.block.timestamp).unwrap_or_default()
    }

    /// The message was cut to fit the writer's buffer (`"truncated":true`).
    pub fn truncated(&self) -> bool {
        self.block.truncated
    }

    /// Records the writer lost just before this one (`"unlogged":N`).
    pub fn unlogged(&self) -> u64 {
        self.block.unlogged
    }

    /// This is a keyed chain's chain-start record.
    pub fn is_chain_start(&self) -> bool {
        self.block.version == Some(KEYED_VERSION.as_bytes())
    }
}

/// Splits a display line at its first and last `|`: prev hash, display, hash.
pub(crate) fn split_display_line(line: &[u8]) -> Option<(Hash, &[u8], Hash)> {
    let (_, prev, display, hash) = split_display_text(line, None)?;
    Some((prev, display, Hash::from_hex(hash)?))
}

/// [`split_display_line`], taking the prev hash from `known` (a hash and its
/// hex text) when the line spells it the same, and leaving the stated hash
/// as text (64 bytes, not checked): the prev hash's text (checked), the prev
/// hash, the display, the stated hash's text.
#[allow(clippy::type_complexity)]
fn split_display_text<'l>(
    line: &'l [u8],
    known: Option<(&HexHash, Hash)>,
) -> Option<(&'l HexHash, Hash, &'l [u8], &'l HexHash)> {
    let (prev_text, rest) = line.split_first_chunk::<64>()?;
    let (middle, hash) = rest.split_last_chunk::<64>()?;
    let display = middle.strip_prefix(b"|")?.strip_suffix(b"|")?;
    let prev = match known {
        Some((text, known)) if prev_text == text => known,
        _ => Hash::from_hex(prev_text)?,
    };
    Some((prev_text, prev, display, hash))
}

/// Bytes a crash may leave garbled at the end of a torn record: a
/// half-programmed flash word (8 bytes at most).
const GARBLED_END: usize = 8;

/// True when `partial` (bytes with no LF, at the very start of a log) can be
/// the start of a record cut off by a crash: a display line's first bytes
/// (64 lowercase hex digits, then `|`), but for the last few, which a cut may
/// have garbled. Anything else is not a log at all (or its start was
/// overwritten), and is no torn tail.
pub(crate) fn could_start_record(partial: &[u8]) -> bool {
    let checked = partial.get(..partial.len().saturating_sub(GARBLED_END));
    checked
        .unwrap_or_default()
        .iter()
        .enumerate()
        .all(|(i, &b)| match i {
            0..=63 => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
            64 => b == b'|',
            _ => true,
        })
}

/// The records of a log held in memory, front to back: see [`records`].
#[derive(Clone, Debug)]
pub struct Records<'a> {
    rest: &'a [u8],
    line: u64,
    failed: bool,
}

/// A record that could not be read, and the 1-based line where it starts.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ReadFault {
    /// The record's first line.
    pub line: u64,
    /// What is wrong with it.
    pub fault: RecordFault,
}

impl fmt::Display for ReadFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.fault)
    }
}

/// Reads the records of `log`, front to back, each parsed but not checked
/// (see [`Record::check`]; the [`Verifier`](crate::Verifier) checks a whole
/// chain). Iteration ends at the first record that cannot be read (yielded as
/// an error), or where no two complete lines remain:
/// [`Records::remainder`] holds those bytes (a torn tail).
pub fn records(log: &[u8]) -> Records<'_> {
    Records {
        rest: log,
        line: 1,
        failed: false,
    }
}

impl<'a> Records<'a> {
    /// The bytes not read yet: after iteration, the torn tail (empty when the
    /// log ends cleanly), or the record that could not be read and after.
    pub fn remainder(&self) -> &'a [u8] {
        self.rest
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Record<'a>, ReadFault>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match Record::read(self.rest)? {
            Ok((record, rest)) => {
                self.rest = rest;
                self.line += 2;
                Some(Ok(record))
            }
            Err(fault) => {
                self.failed = true;
                Some(Err(ReadFault {
                    line: self.line,
                    fault,
                }))
            }
        }
    }
}
