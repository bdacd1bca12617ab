//! Tree checkpoints: C2SP `tlog-checkpoint` note texts, the signed statement
//! of a log's Merkle tree (see [`merkle`](crate::merkle)) at one size.
//!
//! ```text
//! immutable-log/tree/3f6c…e1    <- origin: this crate's logs name record 0's hash
//! 1042                           <- tree size: records 0..1042
//! q83vEjRWeJ…=                   <- the tree's root hash (RFC 6962), base64
//! (extension lines, optional, each non-empty)
//! ```
//!
//! The text is what a signed note signs (see `note`); signatures follow it
//! after an empty line, and are not part of it.
//!
//! A checkpoint of the format before the tree (origin `immutable-log/<64
//! hex>`, third line the head record's hash) is told apart by its origin
//! line: [`parse_checkpoint`] returns either kind.

use core::fmt;

use super::{base64_decode_32, base64_encode_32, Checkpoint, CheckpointError, ORIGIN_PREFIX};
use crate::hash::Hash;

/// How this crate's tree checkpoints begin their origin line; the hex of
/// record 0's hash (the log's identity) follows.
pub const TREE_ORIGIN_PREFIX: &str = "immutable-log/tree/";

const TREE_ORIGIN_LEN: usize = TREE_ORIGIN_PREFIX.len() + 64;

/// The origin line of a log's tree checkpoints:
/// `immutable-log/tree/<hex of record 0's hash>` (83 bytes, no heap).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TreeOrigin([u8; TREE_ORIGIN_LEN]);

impl TreeOrigin {
    /// The origin of the log whose record 0 has hash `record0`.
    pub fn of(record0: &Hash) -> Self {
        let mut text = [0u8; TREE_ORIGIN_LEN];
        let (prefix, hex) = text.split_at_mut(TREE_ORIGIN_PREFIX.len());
        prefix.copy_from_slice(TREE_ORIGIN_PREFIX.as_bytes());
        hex.copy_from_slice(&record0.to_hex());
        TreeOrigin(text)
    }

    /// The origin as text.
    pub fn as_str(&self) -> &str {
        // ASCII by construction: the prefix and hex digits.
        core::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Display for TreeOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for TreeOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// A log's tree at one size, as its writer keeps it (see
/// `QueuedChain::tree_head`, feature `tree`): what a tree checkpoint of
/// the log states, with nothing borrowed.
///
/// ```
/// use immutable_log::{merkle::leaf_hash, BlockHasher, TreeHead, TreeOrigin};
/// let record0 = BlockHasher::hash(b"{\"seq\":0}");
/// let head = TreeHead { size: 1, root: leaf_hash(&record0), origin: TreeOrigin::of(&record0) };
/// let text = head.checkpoint().to_string();
/// assert!(text.starts_with("immutable-log/tree/"));
/// assert_eq!(text.lines().nth(1), Some("1"));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct TreeHead {
    /// The tree size: the number of records it covers.
    pub size: u64,
    /// The root of the RFC 6962 tree of those records.
    pub root: Hash,
    /// The log's origin line (record 0's hash).
    pub origin: TreeOrigin,
}

impl TreeHead {
    /// The checkpoint note text of this tree (no extension lines), to
    /// print with [`Display`](fmt::Display) or to sign.
    pub fn checkpoint(&self) -> TreeCheckpoint<'_> {
        TreeCheckpoint {
            origin: self.origin.as_str(),
            size: self.size,
            root: self.root,
            extensions: "",
        }
    }
}

/// A C2SP `tlog-checkpoint` note text, borrowed from the bytes it was read
/// from: origin, tree size, root hash, extension lines.
///
/// ```
/// use immutable_log::{merkle::EMPTY_ROOT, TreeCheckpoint};
/// let text = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
/// let cp = TreeCheckpoint::parse(text.as_bytes())?;
/// assert_eq!((cp.origin, cp.size), ("example.com/behind-the-sofa", 20852163));
/// assert_eq!(cp.to_string(), text);
/// assert_eq!(cp.log_origin(), None); // not one of this crate's origins
///
/// let empty = TreeCheckpoint { origin: "x", size: 0, root: EMPTY_ROOT, extensions: "" };
/// assert_eq!(TreeCheckpoint::parse(empty.to_string().as_bytes())?, empty);
/// # Ok::<(), immutable_log::CheckpointError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct TreeCheckpoint<'a> {
    /// The origin line, without its LF: the log's name.
    pub origin: &'a str,
    /// The tree size: the number of records (leaves) it covers.
    pub size: u64,
    /// The root of the RFC 6962 tree of those records.
    pub root: Hash,
    /// The extension lines, each ended by LF (`""`: none).
    pub extensions: &'a str,
}

impl<'a> TreeCheckpoint<'a> {
    /// Reads a checkpoint note text: exactly the text, ended by LF, with no
    /// signatures (split them off with `note::Note::parse`). Valid UTF-8
    /// without control characters other than LF, every line non-empty; the
    /// size in decimal without leading zeros; the root 32 bytes in canonical
    /// padded base64.
    pub fn parse(text: &'a [u8]) -> Result<Self, CheckpointError> {
        let text = checked_text(text)?;
        let mut rest = text;
        let mut line = || -> Result<&'a str, CheckpointError> {
            let (line, after) = rest.split_once('\n').ok_or(CheckpointError::MissingLine)?;
            rest = after;
            Ok(line)
        };
        let origin = line()?;
        if origin.is_empty() {
            return Err(CheckpointError::Origin);
        }
        let size = parse_size(line()?).ok_or(CheckpointError::Size)?;
        let root = base64_decode_32(line()?.as_bytes())
            .map(Hash::from_bytes)
            .ok_or(CheckpointError::Hash)?;
        let extensions = rest;
        if let Some(n) = extensions.split_terminator('\n').position(str::is_empty) {
            return Err(CheckpointError::EmptyLine { line: n + 4 });
        }
        if !extensions.is_empty() && !extensions.ends_with('\n') {
            return Err(CheckpointError::MissingLine);
        }
        Ok(TreeCheckpoint {
            origin,
            size,
            root,
            extensions,
        })
    }

    /// Record 0's hash, when the origin is this crate's
    /// (`immutable-log/tree/<64 hex>`, see [`TreeOrigin`]).
    pub fn log_origin(&self) -> Option<Hash> {
        self.origin
            .strip_prefix(TREE_ORIGIN_PREFIX)
            .and_then(|hex| Hash::from_hex(hex.as_bytes()))
    }

    /// The length of the text [`Display`](fmt::Display) writes.
    pub fn text_len(&self) -> usize {
        let mut digits = 1;
        let mut size = self.size;
        while size >= 10 {
            size /= 10;
            digits += 1;
        }
        self.origin.len() + 1 + digits + 1 + 44 + 1 + self.extensions.len()
    }
}

impl fmt::Display for TreeCheckpoint<'_> {
    /// The note text: three lines and the extension lines, each ended by LF.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.origin)?;
        writeln!(f, "{}", self.size)?;
        let b64 = base64_encode_32(self.root.as_bytes());
        f.write_str(core::str::from_utf8(&b64).map_err(|_| fmt::Error)?)?;
        f.write_str("\n")?;
        f.write_str(self.extensions)
    }
}

/// A checkpoint of either kind, as read by [`parse_checkpoint`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum AnyCheckpoint<'a> {
    /// The format before the tree: origin `immutable-log/<64 hex>`, size,
    /// the head record's hash. Checked against a log as before
    /// ([`Options::with_checkpoint`](crate::Options::with_checkpoint)).
    Head(Checkpoint),
    /// A C2SP `tlog-checkpoint`: origin, size, the tree's root.
    Tree(TreeCheckpoint<'a>),
}

/// Reads a checkpoint text of either kind, told apart by its origin line: a
/// first line of exactly `immutable-log/` and 64 hex digits is a head
/// checkpoint ([`Checkpoint::parse`], which ignores lines after its three),
/// any other a tree checkpoint ([`TreeCheckpoint::parse`]).
///
/// ```
/// use immutable_log::{parse_checkpoint, AnyCheckpoint};
/// let head = format!("immutable-log/{}\n3\n{}=\n", "ab".repeat(32), "A".repeat(43));
/// assert!(matches!(parse_checkpoint(head.as_bytes()), Ok(AnyCheckpoint::Head(_))));
/// let tree = head.replacen("immutable-log/", "immutable-log/tree/", 1);
/// assert!(matches!(parse_checkpoint(tree.as_bytes()), Ok(AnyCheckpoint::Tree(_))));
/// ```
pub fn parse_checkpoint(text: &[u8]) -> Result<AnyCheckpoint<'_>, CheckpointError> {
    let first = text.split(|&b| b == b'\n').next().unwrap_or_default();
    let is_head = first
        .strip_prefix(ORIGIN_PREFIX.as_bytes())
        .is_some_and(|hex| Hash::from_hex(hex).is_some());
    if is_head {
        Checkpoint::parse(text).map(AnyCheckpoint::Head)
    } else {
        TreeCheckpoint::parse(text).map(AnyCheckpoint::Tree)
    }
}

/// The text as UTF-8 with no control character but LF (C2SP signed-note).
fn checked_text(text: &[u8]) -> Result<&str, CheckpointError> {
    let text = core::str::from_utf8(text).map_err(|e| CheckpointError::NotText {
        offset: e.valid_up_to(),
    })?;
    match text.bytes().position(|b| b < 0x20 && b != b'\n') {
        Some(offset) => Err(CheckpointError::NotText { offset }),
        None => Ok(text),
    }
}

/// ASCII decimal, no sign, no leading zero (but `0` itself).
fn parse_size(line: &str) -> Option<u64> {
    let canonical = !line.is_empty()
        && line.bytes().all(|b| b.is_ascii_digit())
        && (line == "0" || !line.starts_with('0'));
    canonical.then(|| line.parse().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use crate::merkle::EMPTY_ROOT;
    use std::string::{String, ToString};

    const SOFA: &str =
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";

    #[test]
    fn the_c2sp_example_reads_and_prints_back() {
        let cp = TreeCheckpoint::parse(SOFA.as_bytes()).unwrap();
        assert_eq!(cp.origin, "example.com/behind-the-sofa");
        assert_eq!(cp.size, 20852163);
        assert_eq!(cp.extensions, "");
        assert_eq!(cp.to_string(), SOFA);
        assert_eq!(cp.text_len(), SOFA.len());
        let ext = std::format!("{SOFA}ext one\nsecond ext\n");
        let cp = TreeCheckpoint::parse(ext.as_bytes()).unwrap();
        assert_eq!(cp.extensions, "ext one\nsecond ext\n");
        assert_eq!(cp.to_string(), ext);
        assert_eq!(cp.text_len(), ext.len());
    }

    #[test]
    fn size_zero_and_the_largest_size() {
        for size in [0, 1, 9, 10, u64::MAX] {
            let cp = TreeCheckpoint {
                origin: "o",
                size,
                root: EMPTY_ROOT,
                extensions: "",
            };
            let text = cp.to_string();
            assert_eq!(TreeCheckpoint::parse(text.as_bytes()), Ok(cp));
            assert_eq!(cp.text_len(), text.len());
        }
    }

    #[test]
    fn malformed_texts_say_which_line() {
        let bad = |text: &str| TreeCheckpoint::parse(text.as_bytes()).unwrap_err();
        let with = |line: usize, to: &str| -> String {
            let mut lines: std::vec::Vec<&str> = SOFA.lines().collect();
            lines[line] = to;
            lines.join("\n") + "\n"
        };
        assert_eq!(bad(&with(0, "")), CheckpointError::Origin);
        for size in ["", "012", "+5", "-1", "1e3", " 5", "18446744073709551616"] {
            assert_eq!(bad(&with(1, size)), CheckpointError::Size, "{size:?}");
        }
        for root in ["", "AAAA", "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J="] {
            assert_eq!(bad(&with(2, root)), CheckpointError::Hash, "{root:?}");
        }
        assert_eq!(bad(&SOFA[..SOFA.len() - 1]), CheckpointError::MissingLine);
        assert_eq!(bad("origin\n5\n"), CheckpointError::MissingLine);
        assert_eq!(
            bad(&std::format!("{SOFA}\n— sig AAAA\n")),
            CheckpointError::EmptyLine { line: 4 }
        );
        assert_eq!(
            bad(&std::format!("{SOFA}ext\n\n")),
            CheckpointError::EmptyLine { line: 5 }
        );
        assert_eq!(
            bad(&std::format!("{SOFA}ext")),
            CheckpointError::MissingLine
        );
        assert_eq!(
            bad(&SOFA.replace("sofa", "so\rfa")),
            CheckpointError::NotText { offset: 25 }
        );
        assert_eq!(
            TreeCheckpoint::parse(b"ab\xff\n1\n").unwrap_err(),
            CheckpointError::NotText { offset: 2 }
        );
    }

    #[test]
    fn this_crates_origins_name_record_0() {
        let record0 = Hash::from_bytes([0x3f; 32]);
        let origin = TreeOrigin::of(&record0);
        assert_eq!(
            origin.to_string(),
            std::format!("immutable-log/tree/{}", "3f".repeat(32))
        );
        let cp = TreeCheckpoint {
            origin: origin.as_str(),
            size: 3,
            root: EMPTY_ROOT,
            extensions: "",
        };
        assert_eq!(cp.log_origin(), Some(record0));
        let text = cp.to_string();
        assert_eq!(
            parse_checkpoint(text.as_bytes()),
            Ok(AnyCheckpoint::Tree(cp))
        );
    }

    #[test]
    fn head_checkpoints_are_told_apart_by_their_origin() {
        let head = Checkpoint {
            origin: Hash::from_bytes([1; 32]),
            size: 7,
            head: Hash::from_bytes([2; 32]),
        };
        let text = head.to_string();
        assert_eq!(
            parse_checkpoint(text.as_bytes()),
            Ok(AnyCheckpoint::Head(head))
        );
        // Signatures after a head checkpoint are ignored, as before.
        let signed = std::format!("{text}\n— x AAAA\n");
        assert_eq!(
            parse_checkpoint(signed.as_bytes()),
            Ok(AnyCheckpoint::Head(head))
        );
        // A head checkpoint with a bad size stays a head checkpoint's error.
        assert_eq!(
            parse_checkpoint(text.replace("\n7\n", "\n0\n").as_bytes()),
            Err(CheckpointError::Size)
        );
        // Upper-case hex is not this crate's origin: a tree checkpoint then.
        let upper = text.replacen("0101", "0A01", 1);
        assert!(matches!(
            parse_checkpoint(upper.as_bytes()),
            Ok(AnyCheckpoint::Tree(cp)) if cp.log_origin().is_none()
        ));
    }
}
