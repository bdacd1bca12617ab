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
/// undecoded): the hash covers the raw bytes, and the message is compared
/// with the display line escape by escape.
#[derive(Deserialize, Clone, Copy, Debug, PartialEq)]
pub(crate) struct Block<'a> {
    pub(crate) levelno: i64,
    #[serde(borrow)]
    pub(crate) message: serde_json_core::str::EscapedStr<'a>,
    pub(crate) prev_hash: &'a str,
    #[serde(default)]
    pub(crate) seq: Option<u64>,
    /// The number's text, as it stands (set from the validator's finding;
    /// serde-json-core only checks a number stands there).
    #[serde(skip)]
    pub(crate) timestamp: &'a str,
    #[serde(rename = "timestamp")]
    _timestamp: serde::de::IgnoredAny,
    #[serde(default)]
    pub(crate) truncated: bool,
    #[serde(default)]
    pub(crate) unlogged: u64,
    #[serde(default, borrow)]
    pub(crate) version: Option<&'a str>,
}

/// Reads a block: the fast reader for the shape this crate writes, otherwise
/// the strict validator, then serde-json-core.
pub(crate) fn read_block(json: &[u8]) -> Result<Block<'_>, JsonFault> {
    if let Some(block) = compact::read(json) {
        return Ok(block);
    }
    let checked = validate::validate(json)?;
    let (mut block, _) = serde_json_core::from_slice::<Block<'_>>(json)
        // Valid JSON with every key of its type: what serde-json-core can
        // still refuse is an integer too large for its field.
        .map_err(|_| JsonFault::new(0, JsonFaultKind::NumberOutOfRange))?;
    block.timestamp = json
        .get(checked.timestamp.0..checked.timestamp.1)
        .and_then(|t| core::str::from_utf8(t).ok())
        .unwrap_or_default();
    Ok(block)
}
