//! Checkpoints: a log's state, as text, to keep somewhere else.
//!
//! Two kinds, told apart by their origin line ([`parse_checkpoint`]):
//!
//! - **tree checkpoints** (`tree.rs`, [`TreeCheckpoint`]): C2SP
//!   `tlog-checkpoint` notes, the root of the log's Merkle tree at a size,
//!   which can be signed (`note`) and proven against;
//! - **head checkpoints** ([`Checkpoint`], the format before the tree, still
//!   read and written): the shape of a C2SP `tlog-checkpoint` note body, an
//!   origin line naming the log, the log's size (records), and the head's
//!   hash (not a root) in base64, each ended by LF.
//!
//! ```text
//! immutable-log/3f6c…e1      <- origin: the hash of the log's record 0
//! 1042                        <- size: records, so the head is seq 1041
//! q83vEjRWeJ…=                <- the head's hash, base64
//! ```
//!
//! Kept in a second place (a witness file, another UART), a checkpoint turns
//! two attacks the file alone cannot show into failures: a log cut below it
//! ([`FailureKind::Truncated`](crate::FailureKind::Truncated)), and a log that
//! forked from it or was rewritten
//! ([`FailureKind::HeadMismatch`](crate::FailureKind::HeadMismatch)).

use base64ct::{Base64, Encoding};
use core::fmt;

use crate::clock::Timestamp;
use crate::hash::Hash;
use crate::head::{ExpectedHead, Head};
use crate::record::{Record, RecordFault};
use crate::sink::{write_all, SinkError};
use crate::verdict::Options;

mod tree;

pub use tree::{
    parse_checkpoint, AnyCheckpoint, TreeCheckpoint, TreeHead, TreeOrigin, TREE_ORIGIN_PREFIX,
};

const ORIGIN_PREFIX: &str = "immutable-log/";

/// What a log's first record says about the log.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Origin {
    /// The hash record 0 states: the log's identity in a [`Checkpoint`].
    pub hash: Hash,
    /// Record 0 is a keyed chain start: the log is keyed.
    pub keyed: bool,
}

/// Reads the first record of a log from its first bytes (both lines, with
/// their LFs, must be there). Only its shape and display are checked: the
/// verifier checks the rest.
pub fn origin(start: &[u8]) -> Result<Origin, RecordFault> {
    let mut lines = start.split(|&b| b == b'\n');
    let (Some(line1), Some(line2), Some(_)) = (lines.next(), lines.next(), lines.next()) else {
        return Err(RecordFault::MissingBlockData);
    };
    let parsed = Record::parse(line1, line2)?;
    parsed.check_stated(&parsed.hash())?;
    Ok(Origin {
        hash: parsed.hash(),
        keyed: parsed.is_chain_start(),
    })
}

/// A log's head and identity at one moment.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Checkpoint {
    /// The log's identity: the hash of its record 0.
    pub origin: Hash,
    /// How many records the log had: the head is record `size - 1`.
    pub size: u64,
    /// The hash of record `size - 1`.
    pub head: Hash,
}

/// A checkpoint's text is not one.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The origin line is not `immutable-log/<64 hex>`.
    Origin,
    /// The size line is not a positive decimal number.
    Size,
    /// The hash line is not 32 bytes in base64.
    Hash,
    /// A line is missing (each must end with LF).
    MissingLine,
    /// An empty line where a tree checkpoint's extension line stands
    /// (1-based; signatures belong after the text, not in it).
    EmptyLine {
        /// The 1-based line number.
        line: usize,
    },
    /// The text is not UTF-8, or holds a control character other than LF.
    NotText {
        /// The byte offset of the first such byte.
        offset: usize,
    },
}

impl fmt::Display for CheckpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CheckpointError::Origin => "checkpoint: bad origin line (line 1)",
            CheckpointError::Size => "checkpoint: bad size line (line 2: decimal, no leading zero)",
            CheckpointError::Hash => "checkpoint: bad hash line (line 3: 32 bytes in base64)",
            CheckpointError::MissingLine => "checkpoint: missing lines (each ends with LF)",
            CheckpointError::EmptyLine { line } => {
                return write!(f, "checkpoint: line {line} is empty")
            }
            CheckpointError::NotText { offset } => {
                return write!(
                    f,
                    "checkpoint: byte {offset} is not UTF-8 text, or a control character"
                )
            }
        })
    }
}

impl core::error::Error for CheckpointError {}

impl Checkpoint {
    /// The checkpoint of a log whose record 0 has hash `origin` and whose last
    /// record is `head`. `None` when the head's `seq` is unknown.
    pub fn new(origin: Hash, head: Head) -> Option<Self> {
        Some(Checkpoint {
            origin,
            size: head.seq?.checked_add(1)?,
            head: head.hash,
        })
    }

    /// What a verifier must find in the log: the head at `size - 1`.
    pub fn expected_head(&self) -> ExpectedHead {
        ExpectedHead {
            seq: self.size.saturating_sub(1),
            hash: self.head,
        }
    }

    /// Reads a checkpoint from the start of `text`; extra lines after the
    /// three (note extensions, signatures) are ignored.
    pub fn parse(text: &[u8]) -> Result<Checkpoint, CheckpointError> {
        let mut lines = text.split(|&b| b == b'\n');
        let mut line = || match (lines.next(), lines.clone().next()) {
            // A line counts only if an LF ended it.
            (Some(l), Some(_)) => Ok(l),
            _ => Err(CheckpointError::MissingLine),
        };
        let origin = line()?
            .strip_prefix(ORIGIN_PREFIX.as_bytes())
            .and_then(Hash::from_hex)
            .ok_or(CheckpointError::Origin)?;
        let size = core::str::from_utf8(line()?)
            .ok()
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse::<u64>().ok())
            .filter(|&n| n > 0)
            .ok_or(CheckpointError::Size)?;
        let head = base64_decode_32(line()?)
            .map(Hash::from_bytes)
            .ok_or(CheckpointError::Hash)?;
        Ok(Checkpoint { origin, size, head })
    }
}

impl fmt::Display for Checkpoint {
    /// The three lines, each ended by LF.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{ORIGIN_PREFIX}{}", self.origin)?;
        writeln!(f, "{}", self.size)?;
        let b64 = base64_encode_32(self.head.as_bytes());
        f.write_str(core::str::from_utf8(&b64).map_err(|_| fmt::Error)?)?;
        f.write_str("\n")
    }
}

/// 32 bytes in standard base64 with padding: 44 characters.
pub(crate) fn base64_encode_32(bytes: &[u8; 32]) -> [u8; 44] {
    let mut out = [0u8; 44];
    // Cannot fail: 32 bytes take exactly 44 characters.
    let _ = Base64::encode(bytes, &mut out);
    out
}

/// 44 characters of canonical, padded standard base64 to 32 bytes.
pub(crate) fn base64_decode_32(text: &[u8]) -> Option<[u8; 32]> {
    let mut hash = [0u8; 32];
    match Base64::decode(text, &mut hash) {
        Ok(decoded) if decoded.len() == 32 => Some(hash),
        _ => None,
    }
}

/// Writes a checkpoint to a second sink every `every_records` records or
/// every `every_secs` seconds, whichever comes first (0 turns a trigger off).
/// Each checkpoint is followed by an empty line, so a witness file is a
/// sequence of notes; its last one is the newest.
#[derive(Debug)]
pub struct Checkpointer<W> {
    sink: W,
    origin: Option<Hash>,
    every_records: u64,
    every_secs: u64,
    last_size: u64,
    last_time: Option<Timestamp>,
}

impl<W: embedded_io::Write> Checkpointer<W> {
    /// A checkpointer for a log whose record 0 has hash `origin` (`None` for a
    /// new log: it is taken from record 0 when that is observed).
    pub fn new(sink: W, origin: Option<Hash>, every_records: u64, every_secs: u64) -> Self {
        Checkpointer {
            sink,
            origin,
            every_records,
            every_secs,
            last_size: 0,
            last_time: None,
        }
    }

    /// Tells the checkpointer a record was appended; writes a checkpoint if
    /// one is due. Returns it when one was written.
    pub fn observe(
        &mut self,
        head: Head,
        now: Timestamp,
    ) -> Result<Option<Checkpoint>, SinkError<W::Error>> {
        if head.seq == Some(0) {
            self.origin = Some(head.hash);
        }
        let (Some(origin), Some(seq)) = (self.origin, head.seq) else {
            return Ok(None);
        };
        let size = seq.saturating_add(1);
        let by_count =
            self.every_records > 0 && size >= self.last_size.saturating_add(self.every_records);
        let last_time = *self.last_time.get_or_insert(now);
        let by_time =
            self.every_secs > 0 && now.secs().saturating_sub(last_time.secs()) >= self.every_secs;
        if !(by_count || by_time) || size == self.last_size {
            return Ok(None);
        }
        self.write(origin, head)
    }

    /// Writes a checkpoint of `head` now (at shutdown, say).
    pub fn write_now(&mut self, head: Head) -> Result<Option<Checkpoint>, SinkError<W::Error>> {
        match self.origin {
            Some(origin) => self.write(origin, head),
            None => Ok(None),
        }
    }

    fn write(
        &mut self,
        origin: Hash,
        head: Head,
    ) -> Result<Option<Checkpoint>, SinkError<W::Error>> {
        let Some(cp) = Checkpoint::new(origin, head) else {
            return Ok(None);
        };
        let mut text = heapless::String::<160>::new();
        // 79 + 21 + 45 + 1 bytes at most: it fits.
        let _ = fmt::write(&mut text, format_args!("{cp}\n"));
        write_all(&mut self.sink, text.as_bytes())?;
        self.last_size = cp.size;
        self.last_time = None;
        Ok(Some(cp))
    }

    /// The sink.
    pub fn sink_mut(&mut self) -> &mut W {
        &mut self.sink
    }
}

impl Options {
    /// Requires what a [`Checkpoint`] records: the log's identity, and its
    /// head at the checkpoint's size.
    pub fn with_checkpoint(self, checkpoint: &Checkpoint) -> Self {
        Options {
            expect_head: Some(checkpoint.expected_head()),
            expect_origin: Some(checkpoint.origin),
            ..self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::string::ToString;

    #[test]
    fn text_round_trips_and_rejects_noise() {
        let cp = Checkpoint {
            origin: Hash::from_bytes([0xab; 32]),
            size: 1042,
            head: Hash::from_bytes(core::array::from_fn(|i| i as u8 * 7)),
        };
        let text = cp.to_string();
        assert_eq!(text.lines().count(), 3);
        assert!(text.starts_with("immutable-log/abab"));
        assert_eq!(Checkpoint::parse(text.as_bytes()), Ok(cp));
        assert_eq!(cp.expected_head().seq, 1041);
        let with_sig = std::format!("{text}\n— witness AAAA\n");
        assert_eq!(Checkpoint::parse(with_sig.as_bytes()), Ok(cp));
        assert_eq!(
            Checkpoint::parse(&text.as_bytes()[..text.len() - 1]),
            Err(CheckpointError::MissingLine)
        );
        assert_eq!(
            Checkpoint::parse(text.replace("1042", "0").as_bytes()),
            Err(CheckpointError::Size)
        );
        assert_eq!(
            Checkpoint::parse(text.replace("1042", "+5").as_bytes()),
            Err(CheckpointError::Size)
        );
        assert_eq!(
            Checkpoint::parse(text.replace("immutable-log/", "x/").as_bytes()),
            Err(CheckpointError::Origin)
        );
        let mut bad = text.clone().into_bytes();
        let hash_line = bad.len() - 3;
        bad[hash_line] = b'!';
        assert_eq!(Checkpoint::parse(&bad), Err(CheckpointError::Hash));
    }

    #[test]
    fn base64_matches_the_standard_alphabet() {
        // base64 of 32 zero bytes, and of bytes 0..32
        assert_eq!(
            &base64_encode_32(&[0; 32]),
            b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
        );
        let seq: [u8; 32] = core::array::from_fn(|i| i as u8);
        assert_eq!(
            &base64_encode_32(&seq),
            b"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
        );
        assert_eq!(
            base64_decode_32(b"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="),
            Some(seq)
        );
        assert_eq!(
            base64_decode_32(b"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9="),
            None
        );
    }
}
