//! What a ring verifier (or a log reading its ring back) finds wrong, and
//! where: each fault names the byte offset in the flash, or the sector.

use core::fmt;

use crate::hash::Hash;
use crate::record::RecordFault;

/// What is wrong with a ring. `at` is a byte offset in the flash (in a dump,
/// in the file).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum RingFault {
    /// The record at `at` fails its own check (malformed, display edited,
    /// content changed).
    Record {
        /// The record's first byte.
        at: u32,
        /// What is wrong with it.
        fault: RecordFault,
    },
    /// The record's `prev_hash` is not the hash of the record before it: a
    /// record was removed, inserted or reordered.
    PrevHashMismatch {
        /// The record's first byte.
        at: u32,
        /// The hash of the record before it.
        expected: Hash,
        /// The `prev_hash` it states.
        found: Hash,
    },
    /// The record's `seq` is not one more than the one before it.
    SeqOutOfOrder {
        /// The record's first byte.
        at: u32,
        /// The `seq` that should stand there.
        expected: u64,
        /// The `seq` found.
        found: u64,
    },
    /// A record in a ring has no `seq`.
    SeqMissing {
        /// The record's first byte.
        at: u32,
    },
    /// The ring still holds its first sector, but its first record is not
    /// the chain's first (`prev_hash` genesis, `seq` 0).
    NotAtGenesis {
        /// The record's first byte.
        at: u32,
    },
    /// Bytes that are no record, no record's padding and not erased: after
    /// a record in its last word, a first line that is no display line, or
    /// past a sector's first erased word.
    Garbled {
        /// The first such byte (or the word where erased bytes should start).
        at: u32,
    },
    /// A record longer than the verifier's buffer.
    RecordTooLong {
        /// The record's first byte.
        at: u32,
        /// The buffer's length.
        limit: usize,
    },
    /// A sector header of another layout than the ring's (sector size,
    /// sector count, word size, or a number in another slot).
    Layout {
        /// The header's first byte.
        at: u32,
    },
    /// The ring's sectors are not consecutive: this one, between the oldest
    /// and the newest, is missing (erased or overwritten).
    SectorMissing {
        /// The missing sector's number.
        number: u64,
    },
    /// A sector ends in torn bytes (a record cut off) that the next sector
    /// does not keep in recovery records.
    TornNotRecovered {
        /// The torn bytes' first byte.
        at: u32,
        /// Their length in flash.
        len: u32,
    },
    /// A sector's header names torn bytes that are not where it says.
    TearMismatch {
        /// The sector's number.
        sector: u64,
    },
    /// The records a sector starts with are not the wrap note its header
    /// states, or not the recovery of the torn bytes it names (the torn
    /// bytes were changed, or their recovery).
    PrefixMismatch {
        /// The record's first byte.
        at: u32,
    },
    /// A sector that is not the newest lacks the records its opening wrote
    /// first (a repair cut short must have been redone before anything
    /// followed it).
    PrefixIncomplete {
        /// The sector's number.
        sector: u64,
    },
    /// The ring starts after genesis, and no wrap note in the chain states
    /// that start: records were removed, not wrapped around.
    WrapUnaccounted {
        /// The first record's `seq`.
        seq: u64,
        /// Its `prev_hash`.
        prev_hash: Hash,
    },
}

impl fmt::Display for RingFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RingFault::Record { at, fault } => write!(f, "byte {at}: {fault}"),
            RingFault::PrevHashMismatch { at, .. } => write!(
                f,
                "byte {at}: prev_hash mismatch: a record was removed, inserted or reordered"
            ),
            RingFault::SeqOutOfOrder {
                at,
                expected,
                found,
            } => write!(
                f,
                "byte {at}: seq out of order: expected {expected}, found {found}"
            ),
            RingFault::SeqMissing { at } => write!(f, "byte {at}: a record without seq"),
            RingFault::NotAtGenesis { at } => write!(
                f,
                "byte {at}: the ring holds its first sector, but it does not start at genesis"
            ),
            RingFault::Garbled { at } => write!(
                f,
                "byte {at}: bytes that are no record, no padding and not erased"
            ),
            RingFault::RecordTooLong { at, limit } => write!(
                f,
                "byte {at}: a record longer than the verifier's buffer of {limit} bytes"
            ),
            RingFault::Layout { at } => write!(
                f,
                "byte {at}: a sector header of another layout than the ring's"
            ),
            RingFault::SectorMissing { number } => write!(
                f,
                "sector {number} is missing between the ring's oldest and newest sectors"
            ),
            RingFault::TornNotRecovered { at, len } => write!(
                f,
                "byte {at}: {len} torn bytes that the next sector does not recover"
            ),
            RingFault::TearMismatch { sector } => write!(
                f,
                "sector {sector}: its header names torn bytes that are not there"
            ),
            RingFault::PrefixMismatch { at } => write!(
                f,
                "byte {at}: not the wrap note or recovery record the sector's header calls for"
            ),
            RingFault::PrefixIncomplete { sector } => write!(
                f,
                "sector {sector}: the records its opening writes first are incomplete"
            ),
            RingFault::WrapUnaccounted { seq, prev_hash } => write!(
                f,
                "the ring starts at seq {seq} (after {prev_hash}), and no wrap note in it \
                 states that start: records were removed"
            ),
        }
    }
}

impl core::error::Error for RingFault {}
