//! What a verifier is asked ([`Options`]) and what it concludes
//! ([`Verdict`]): the verdicts of FORMAT.md ("Verification"), and their text.

use core::fmt;

use crate::hash::Hash;
use crate::head::{ExpectedHead, Head};
use crate::record::RecordFault;

/// How many key derivations (one SHA-256 each) a keyed verifier makes at
/// most to reach the first record of a segment whose start it was not told:
/// about two seconds' work. Without a bound, a forged `seq` near `u64::MAX`
/// would keep the verifier busy for ever.
pub const MAX_SEGMENT_KEY_STEPS: u64 = 1 << 24;

/// Where the log must start.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum Start {
    /// At genesis: the first record's `prev_hash` is 64 × `0` (the default).
    #[default]
    Genesis,
    /// Anywhere: the log may be a segment of a longer chain (a UART capture,
    /// one file of a rotated set). The verdict reports where it starts.
    Segment,
    /// Right after this head, the last record of the segment before it.
    After(Head),
}

/// What a verifier requires of a log.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Options {
    /// Where the log must start.
    pub start: Start,
    /// A head the log must contain, to catch truncation.
    pub expect_head: Option<ExpectedHead>,
    /// The hash the log's record 0 must have (its identity); checked when the
    /// log starts at genesis.
    pub expect_origin: Option<Hash>,
}

/// Where a log (or a segment) starts: its first record's `seq` and `prev_hash`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SegmentStart {
    /// The first record's `seq` (`None` in a segment of records without one).
    pub seq: Option<u64>,
    /// The first record's `prev_hash` (64 × `0` at genesis).
    pub prev_hash: Hash,
}

impl SegmentStart {
    /// True when the log starts at genesis.
    pub fn is_genesis(&self) -> bool {
        self.prev_hash == Hash::GENESIS
    }
}

/// What was read of a log, up to its end or its first failure.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Report {
    /// Complete records that passed every check.
    pub records: u64,
    /// Where the log starts (`None`: no complete record).
    pub start: Option<SegmentStart>,
    /// The last record that passed (its `seq` counted from the start when the
    /// records carry none, as the seed writes them, in a log from genesis).
    pub head: Option<Head>,
    /// Records the writer reported as lost (`"unlogged"`), summed.
    pub unlogged: u64,
    /// Records whose message was cut to fit the writer's buffer.
    pub truncated: u64,
}

/// The first failure in a log: where, and what.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Failure {
    /// 1-based line number.
    pub line: u64,
    /// 0-based index of the record in the input.
    pub record: u64,
    /// What is wrong.
    pub kind: FailureKind,
}

/// What the first failure is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum FailureKind {
    /// The record fails its own check (malformed, display edited, content changed).
    Record(RecordFault),
    /// The record's `prev_hash` is not the hash of the record before it: a
    /// record was removed, inserted or reordered.
    PrevHashMismatch {
        /// The hash of the record before (or of the expected start).
        expected: Hash,
        /// The `prev_hash` the record carries.
        found: Hash,
    },
    /// The record's `seq` is not one more than the one before it.
    SeqOutOfOrder {
        /// The `seq` that should stand here.
        expected: u64,
        /// The `seq` found.
        found: u64,
    },
    /// A record (its two lines) is longer than the verifier's buffer.
    LineTooLong {
        /// The buffer's size in bytes.
        limit: usize,
    },
    /// The log does not start at genesis, and a segment was not allowed.
    NotAtGenesis {
        /// The first record's `prev_hash`.
        prev_hash: Hash,
    },
    /// The record at the expected head's `seq` has another hash: the log
    /// forked from, or was rewritten after, the recorded head.
    HeadMismatch {
        /// The head that was expected.
        expected: ExpectedHead,
        /// The hash found at its `seq`.
        found: Hash,
    },
    /// The log ends before the expected head: records were cut off the end.
    /// (In `immutable-log verify --json`: `"truncated"`.)
    EndsBeforeHead {
        /// The head that was expected.
        expected: ExpectedHead,
        /// The log's actual last record.
        last: Option<Head>,
    },
    /// The log is keyed (its first record is a keyed chain start) and no key
    /// was given.
    KeyRequired,
    /// A key was given but the log is not keyed: it was written without a key,
    /// or rewritten by someone who had none.
    NotKeyed,
    /// The chain-start record's tag does not match the key given: the wrong
    /// key (an evolved seal key, another chain's), or a changed chain start.
    WrongKey,
    /// A record of a keyed chain has no `seq`, so no key to check it with.
    SeqMissing,
    /// A keyed segment starts at a `seq` further from genesis than the
    /// verifier derives keys for ([`MAX_SEGMENT_KEY_STEPS`]): give the
    /// expected start ([`Start::After`]) instead.
    KeyOutOfReach {
        /// The segment's first `seq`.
        seq: u64,
    },
    /// Record 0 is not the expected one: this is another log than the one
    /// the checkpoint (or expected origin) is of.
    OriginMismatch {
        /// The expected hash of record 0.
        expected: Hash,
        /// The hash found.
        found: Hash,
    },
    /// The Merkle tree of the log's first `size` records has another root
    /// than a tree checkpoint states: the log forked from, or was rewritten
    /// after, the checkpoint. (In `immutable-log verify --json`:
    /// `"root_mismatch"`.)
    RootMismatch {
        /// The checkpoint's tree size.
        size: u64,
        /// The checkpoint's root.
        expected: Hash,
        /// The root of the log's first `size` records.
        found: Hash,
    },
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailureKind::Record(fault) => fault.fmt(f),
            FailureKind::PrevHashMismatch { .. } => {
                f.write_str("prev_hash mismatch: a record was removed, inserted or reordered")
            }
            FailureKind::SeqOutOfOrder { expected, found } => {
                write!(f, "seq out of order: expected {expected}, found {found}")
            }
            FailureKind::LineTooLong { limit } => {
                write!(f, "line longer than the verifier's limit of {limit} bytes")
            }
            FailureKind::NotAtGenesis { prev_hash } => write!(
                f,
                "the log does not start at genesis (first prev_hash {prev_hash}); \
                 it is a segment, which was not allowed"
            ),
            FailureKind::HeadMismatch { expected, found } => write!(
                f,
                "expected head mismatch: seq {} has hash {found}, expected {}",
                expected.seq, expected.hash
            ),
            FailureKind::KeyRequired => {
                f.write_str("the log is keyed: a verify key is required to check it")
            }
            FailureKind::NotKeyed => f.write_str(
                "a key was given but the log is not keyed (written without a key, or rewritten)",
            ),
            FailureKind::WrongKey => f.write_str(
                "the key does not verify the chain start (wrong key, or the record was changed)",
            ),
            FailureKind::SeqMissing => f.write_str("a record of a keyed chain has no seq"),
            FailureKind::KeyOutOfReach { seq } => write!(
                f,
                "a keyed segment starting at seq {seq} is beyond the {MAX_SEGMENT_KEY_STEPS} \
                 key derivations a verifier makes to reach its start"
            ),
            FailureKind::RootMismatch {
                size,
                expected,
                found,
            } => write!(
                f,
                "tree root mismatch: the first {size} records have root {found}, the \
                 checkpoint's is {expected} (the log forked from or was rewritten after it)"
            ),
            FailureKind::OriginMismatch { expected, .. } => write!(
                f,
                "another log: record 0 is not the checkpoint's origin {expected}"
            ),
            FailureKind::EndsBeforeHead { expected, last } => {
                write!(
                    f,
                    "truncated: the log ends before the expected head seq {}",
                    expected.seq
                )?;
                match last {
                    Some(Head { seq: Some(s), .. }) => write!(f, " (last seq {s})"),
                    Some(_) => f.write_str(" (last seq unknown)"),
                    None => f.write_str(" (no records)"),
                }
            }
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {} (record {}): {}",
            self.line, self.record, self.kind
        )
    }
}

impl core::error::Error for Failure {}

/// A log that ends inside a record, as after a crash mid-write: every
/// complete record before it is intact. Not tampering, and told apart from it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct TornTail {
    /// The 1-based line where the partial record starts.
    pub line: u64,
    /// Its byte offset in the input.
    pub offset: u64,
    /// How many bytes of it there are.
    pub len: usize,
}

/// A verifier's conclusion.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Verdict {
    /// Every record is intact and the log ends cleanly.
    Intact(Report),
    /// Every complete record is intact, but the log ends inside a record.
    Torn(Report, TornTail),
    /// The first failure, and what was read before it.
    Failed(Report, Failure),
}

impl Verdict {
    /// What was read.
    pub fn report(&self) -> &Report {
        match self {
            Verdict::Intact(r) | Verdict::Torn(r, _) | Verdict::Failed(r, _) => r,
        }
    }
}
