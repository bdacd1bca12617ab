#![doc = include_str!("../README.md")]
#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]
#![deny(unsafe_code)]
// Library code never panics on input: no unwrap, expect, panic or unchecked
// indexing outside tests (each would-be panic is an error value instead).
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented
    )
)]

//! # Modules
//!
//! Each module has one job; the path of one record reads top to bottom
//! (`ARCHITECTURE.md` in the repository draws it).
//!
//! | module | its one job |
//! | --- | --- |
//! | `hash` | the digest recipe and the [`Hash`](struct@Hash) type |
//! | `head` | a chain's [`Head`], the [`ExpectedHead`], and the linking rule |
//! | `escape` | a message into a JSON string, in place, cut to fit |
//! | `display` | the one-line display copy of a message, and comparing it |
//! | `draft` | building a record: format once, close under the head, write ([`Draft`]) |
//! | `seal` | what a record states: its digest, or a keyed tag ([`SealKey`]) |
//! | `writer` | a chain's head and sink, without a lock ([`Writer`]) |
//! | `chain` | a `static`-able chain, never waiting on bare metal ([`Chain`]) |
//! | `interrupt` | whether the caller is an interrupt handler ([`in_interrupt`]) |
//! | `queue` | a `static` queue of whole framed records, drained by the application ([`Queue`]) |
//! | `queued` | the text chain over a queue: short critical sections, no sink I/O ([`QueuedChain`]) |
//! | `queued_tree` | the Merkle tree a queued chain keeps as it appends (`ChainTree`, feature `tree`) |
//! | `compact` | the compact binary encoding: COBS frames, chain state, gaps ([`CompactChain`], [`CompactVerifier`]) |
//! | `defmt_logger` | a `#[defmt::global_logger]`: each defmt frame a compact record, through the queue (feature `defmt`) |
//! | `json` | reading `block_json`: the strict validator, the fast reader, unescaping ([`JsonFault`]) |
//! | `record` | reading one record: the [`Record`] view, [`records()`] |
//! | `scan` | byte searches a word at a time |
//! | `verdict` | what a verifier is asked and concludes ([`Options`], [`Verdict`]) |
//! | `verify` | the streaming verifier ([`Verifier`]) |
//! | `checkpoint` | C2SP tlog-checkpoint notes of the tree ([`TreeCheckpoint`]), and the head checkpoints before them ([`Checkpoint`]) |
//! | [`merkle`] | the RFC 6962 tree over the records: its right edge ([`merkle::CompactRange`]), proofs |
//! | [`note`] | C2SP signed notes: key names, IDs and key texts; signing, cosigning and verifying with a quorum (Ed25519: feature `note`) |
//! | `resume` | continuing from a log's tail ([`resume()`]); `resume::tail` reads it backwards |
//! | `recovery` | the records that keep a torn tail |
//! | `flash` | a log in a ring of NOR flash sectors (`flash::FlashLog`), and its verifier (feature `flash`) |
//! | `mock_flash` | a NOR flash in RAM that loses power on cue: the flash ring's test double (feature `flash`) |
//!
//! The host side is `std_backend` (feature `std`): `std_backend::LogFile`
//! and its `std_backend::OpenOptions`, and `std_backend::verify_path`.

mod chain;
mod checkpoint;
mod clock;
pub mod compact;
#[cfg(feature = "defmt")]
#[cfg_attr(docsrs, doc(cfg(feature = "defmt")))]
pub mod defmt_logger;
// The frame stack is tested on the host without defmt.
#[cfg(all(test, not(feature = "defmt")))]
#[path = "defmt_logger/frames.rs"]
mod defmt_frames;
mod display;
mod draft;
mod escape;
#[cfg(feature = "flash")]
#[cfg_attr(docsrs, doc(cfg(feature = "flash")))]
pub mod flash;
mod hash;
mod head;
mod interrupt;
mod json;
mod level;
#[cfg(feature = "log")]
mod log_facade;
pub mod merkle;
#[cfg(feature = "flash")]
#[cfg_attr(docsrs, doc(cfg(feature = "flash")))]
pub mod mock_flash;
pub mod note;
mod queue;
mod queued;
#[cfg(feature = "tree")]
mod queued_tree;
mod record;
mod recovery;
mod resume;
mod scan;
mod seal;
mod sink;
mod verdict;
mod verify;
mod writer;

pub use chain::{AppendError, Chain, FlushError};
pub use checkpoint::{
    origin, parse_checkpoint, AnyCheckpoint, Checkpoint, CheckpointError, Checkpointer, Origin,
    TreeCheckpoint, TreeHead, TreeOrigin, TREE_ORIGIN_PREFIX,
};
pub use clock::{Clock, NoClock, Timestamp};
pub use compact::{CompactChain, CompactHead, CompactVerdict, CompactVerifier};
pub use draft::{message_capacity, Draft, MIN_CAPACITY};
pub use hash::{BlockHasher, Hash};
pub use head::{ExpectedHead, Head};
pub use interrupt::in_interrupt;
pub use json::{JsonFault, JsonFaultKind, Unescaped, MAX_DEPTH, MAX_KEYS};
pub use level::Level;
#[cfg(feature = "log")]
pub use log_facade::{Enqueue, Logger, QueueLogger};
pub use queue::{DrainError, Queue, MAX_IN_FLIGHT};
pub use queued::{EnqueueError, QueuedChain};
#[cfg(feature = "tree")]
pub use queued_tree::ChainTree;
pub use record::{records, ReadFault, Record, RecordFault, Records};
pub use resume::{peek_head, resume, resume_keyed, KeyedFault, ResumeError, Resumed};
pub use seal::{Key, Plain, Seal, SealError, SealKey, SealedRecord, VerifyKey};
pub use sink::SinkError;
pub use verdict::{
    Failure, FailureKind, Options, Report, SegmentStart, Start, TornTail, Verdict,
    MAX_SEGMENT_KEY_STEPS,
};
pub use verify::{verify_read, Verifier};
pub use writer::{WriteError, Writer};

#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
#[path = "../std-backend/mod.rs"]
pub mod std_backend;
