//! Reading a block's JSON: what `block_json` says, read the way every other
//! JSON reader reads it, or refused.
//!
//! | file | its job |
//! | --- | --- |
//! | `validate` | the strict validator: RFC 8259, depth in a fixed integer, keys decoded and compared; runs first |
//! | `compact` | a fast reader for blocks in the exact shape this crate writes |
//! | `unescape` | decoding string escapes, surrogate pairs included |
//!
//! A block the fast reader does not take is validated, then read by
//! serde-json-core. The validator is what makes that safe: serde-json-core
//! recurses into nested values without a bound, and compares keys without
//! unescaping them (`"mess\u0061ge"` is `message` to Python, `jq` and
//! serde_json, and would be an unknown key to it).

mod compact;
pub(crate) mod unescape;
mod validate;

use core::fmt;
use serde::Deserialize;

pub use unescape::Unescaped;
use validate::Kind;

/// How deep arrays and objects may nest in a block: the block object itself is
/// level 1; an unknown key may hold a value a few levels deep.
pub const MAX_DEPTH: usize = 8;

/// How many keys a block may have at its top level (this crate writes at most
/// 8): the validator compares each with every other, so they are bounded.
pub const MAX_KEYS: usize = 32;

/// What is wrong with a block's JSON, and where.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct JsonFault {
    /// The byte offset in `block_json` (after `BLOCK_DATA:`) where it was found.
    pub at: usize,
    /// What it is.
    pub kind: JsonFaultKind,
}

impl JsonFault {
    pub(crate) fn new(at: usize, kind: JsonFaultKind) -> Self {
        JsonFault { at, kind }
    }
}

/// What JSON (RFC 8259), or this format's use of it, does not allow.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum JsonFaultKind {
    /// The block ends inside a value.
    UnexpectedEnd,
    /// A byte that cannot stand here (the byte).
    UnexpectedByte(u8),
    /// The block is not a JSON object.
    NotAnObject,
    /// Bytes after the object's closing brace.
    TrailingBytes,
    /// Bytes that are not UTF-8.
    InvalidUtf8,
    /// A raw control character (U+0000–U+001F) inside a string: JSON
    /// requires it escaped.
    ControlCharacter,
    /// A `\` sequence JSON does not define.
    BadEscape,
    /// A `\u` escape of a UTF-16 surrogate without its other half.
    LoneSurrogate,
    /// A number outside JSON's grammar (`NaN`, `--e+.`, `01`, `1.`).
    BadNumber,
    /// A number too large for its field (`levelno`, `seq`, `unlogged`), or
    /// for a double.
    NumberOutOfRange,
    /// Arrays and objects nested deeper than [`MAX_DEPTH`].
    TooDeep,
    /// More top-level keys than [`MAX_KEYS`].
    TooManyKeys,
    /// A block longer than 4 GiB.
    TooLong,
    /// A key that stands twice (compared after unescaping): readers differ
    /// on which one counts.
    DuplicateKey,
    /// A key this format defines, spelled with escapes (`"mess\u0061ge"`):
    /// refused rather than read.
    EscapedKey(&'static str),
    /// A required key is missing.
    MissingKey(&'static str),
    /// A key holds a value of the wrong type (`"timestamp":"yesterday"`).
    WrongType(&'static str),
}

impl fmt::Display for JsonFaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsonFaultKind::UnexpectedEnd => f.write_str("the JSON ends inside a value"),
            JsonFaultKind::UnexpectedByte(b) if b.is_ascii_graphic() => {
                write!(f, "unexpected '{}'", char::from(*b))
            }
            JsonFaultKind::UnexpectedByte(b) => write!(f, "unexpected byte 0x{b:02x}"),
            JsonFaultKind::NotAnObject => f.write_str("not a JSON object"),
            JsonFaultKind::TrailingBytes => f.write_str("bytes after the JSON object"),
            JsonFaultKind::InvalidUtf8 => f.write_str("not UTF-8"),
            JsonFaultKind::ControlCharacter => {
                f.write_str("a raw control character inside a string")
            }
            JsonFaultKind::BadEscape => f.write_str("an invalid escape"),
            JsonFaultKind::LoneSurrogate => f.write_str("a lone UTF-16 surrogate escape"),
            JsonFaultKind::BadNumber => f.write_str("not a JSON number"),
            JsonFaultKind::NumberOutOfRange => f.write_str("a number out of range"),
            JsonFaultKind::TooDeep => write!(f, "nested deeper than {MAX_DEPTH} levels"),
            JsonFaultKind::TooManyKeys => write!(f, "more than {MAX_KEYS} keys"),
            JsonFaultKind::TooLong => f.write_str("longer than 4 GiB"),
            JsonFaultKind::DuplicateKey => f.write_str("a duplicate key"),
            JsonFaultKind::EscapedKey(k) => write!(f, "the key \"{k}\" written with escapes"),
            JsonFaultKind::MissingKey(k) => write!(f, "no \"{k}\""),
            JsonFaultKind::WrongType(k) => write!(f, "\"{k}\" holds a value of the wrong type"),
        }
    }
}

impl fmt::Display for JsonFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {} of block_json", self.kind, self.at)
    }
}

/// A key this format defines: its name, the kinds of value it may hold, and
/// whether every block must have it.
struct KnownKey {
    name: &'static str,
    kinds: &'static [Kind],
    required: bool,
}

const KNOWN_KEYS: &[KnownKey] = &[
    KnownKey {
        name: "levelno",
        kinds: &[Kind::Integer],
        required: true,
    },
    KnownKey {
        name: "message",
        kinds: &[Kind::String],
        required: true,
    },
    KnownKey {
        name: "prev_hash",
        kinds: &[Kind::String],
        required: true,
    },
    KnownKey {
        name: "seq",
        kinds: &[Kind::Integer, Kind::Null],
        required: false,
    },
    KnownKey {
        name: "timestamp",
        kinds: &[Kind::Integer, Kind::Number],
        required: true,
    },
    KnownKey {
        name: "truncated",
        kinds: &[Kind::Bool],
        required: false,
    },
    KnownKey {
        name: "unlogged",
        kinds: &[Kind::Integer],
        required: false,
    },
    KnownKey {
        name: "version",
        kinds: &[Kind::String],
        required: false,
    },
];

/// What a block says. Strings stay as they stand in the file (escapes
/// undecoded, UTF-8 checked): the hash covers the raw bytes, and the message
/// is compared with the display line escape by escape.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Block<'a> {
    pub(crate) levelno: i64,
    /// The message's string body, between its quotes.
    pub(crate) message: &'a [u8],
    /// The message is all plain bytes (`scan::plain_run`): no escape, ASCII,
    /// nothing `display` escapes, so its display is itself.
    pub(crate) message_plain: bool,
    /// The `prev_hash` string's body.
    pub(crate) prev_hash: &'a [u8],
    pub(crate) seq: Option<u64>,
    /// The number's text, as it stands.
    pub(crate) timestamp: &'a [u8],
    pub(crate) truncated: bool,
    pub(crate) unlogged: u64,
    /// The `version` string's body.
    pub(crate) version: Option<&'a [u8]>,
}

/// What serde-json-core reads of a block the fast reader did not take.
#[derive(Deserialize)]
struct GeneralBlock<'a> {
    levelno: i64,
    #[serde(borrow)]
    message: serde_json_core::str::EscapedStr<'a>,
    prev_hash: &'a str,
    #[serde(default)]
    seq: Option<u64>,
    #[serde(rename = "timestamp")]
    _timestamp: serde::de::IgnoredAny,
    #[serde(default)]
    truncated: bool,
    #[serde(default)]
    unlogged: u64,
    #[serde(default, borrow)]
    version: Option<&'a str>,
}

/// Reads a block: the fast reader for the shape this crate writes, otherwise
/// the strict validator, then serde-json-core. `prev_text` is the record's
/// `prev_hash` as its display line spells it, 64 lowercase hex digits
/// (checked before): the block's is mostly the same.
pub(crate) fn read_block<'a>(json: &'a [u8], prev_text: &[u8; 64]) -> Result<Block<'a>, JsonFault> {
    match compact::read(json, prev_text) {
        Some(block) => Ok(block),
        None => read_general(json),
    }
}

/// The strict validator, then serde-json-core: any block JSON allows.
pub(super) fn read_general(json: &[u8]) -> Result<Block<'_>, JsonFault> {
    let checked = validate::validate(json)?;
    let (block, _) = serde_json_core::from_slice::<GeneralBlock<'_>>(json)
        // Valid JSON with every key of its type: what serde-json-core can
        // still refuse is an integer too large for its field.
        .map_err(|_| JsonFault::new(0, JsonFaultKind::NumberOutOfRange))?;
    Ok(Block {
        levelno: block.levelno,
        message: block.message.0.as_bytes(),
        // The general path's blocks are compared escape by escape.
        message_plain: false,
        prev_hash: block.prev_hash.as_bytes(),
        seq: block.seq,
        timestamp: json
            .get(checked.timestamp.0..checked.timestamp.1)
            .unwrap_or_default(),
        truncated: block.truncated,
        unlogged: block.unlogged,
        version: block.version.map(str::as_bytes),
    })
}
