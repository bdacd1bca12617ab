//! A chain's head and the linking rule: the record after a head follows its
//! hash, and its `seq` is one more (FORMAT.md, "Records").

use core::fmt;

use crate::hash::Hash;

/// The last record of a chain: its hash, and its `seq` when known.
///
/// `seq` is `None` only after a record written without one (the Python seed
/// writes none); a chain continued from such a record writes none either.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Head {
    /// The record's `seq`: its 0-based index in the chain.
    pub seq: Option<u64>,
    /// The record's hash: the next record's `prev_hash`.
    pub hash: Hash,
}

impl fmt::Display for Head {
    /// `SEQ HASH`, as `immutable-log head` prints it (`-` for an unknown seq).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.seq {
            Some(seq) => write!(f, "{seq} {}", self.hash),
            None => write!(f, "- {}", self.hash),
        }
    }
}

/// Where the record after `head` attaches (`None`: the chain is empty).
pub(crate) fn link_after(head: Option<Head>) -> Link {
    match head {
        None => Link {
            prev: Hash::GENESIS,
            seq: Some(0),
        },
        Some(h) => Link {
            prev: h.hash,
            seq: h.seq.and_then(|s| s.checked_add(1)),
        },
    }
}

/// Where a new record attaches: the hash it follows and its `seq`, if known.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Link {
    pub(crate) prev: Hash,
    pub(crate) seq: Option<u64>,
}

/// The head a log must reach: `seq` and hash, recorded elsewhere (for instance
/// with `immutable-log head`). A log cut below it, or one whose record at that
/// `seq` has another hash (a fork or a rewrite), fails.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ExpectedHead {
    /// The `seq` of the expected record.
    pub seq: u64,
    /// Its hash.
    pub hash: Hash,
}
