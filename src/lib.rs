#![doc = include_str!("../README.md")]
#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]
#![deny(unsafe_code)]

//! # Modules
//!
//! | module | its one job |
//! | --- | --- |
//! | `hash` | the digest recipe and the [`Hash`](struct@Hash) type |
//! | `seal` | what a record states: its digest, or a keyed tag ([`SealKey`]) |
//! | `escape` | message ↔ JSON string ↔ display escaping |
//! | `record` | the two-line record format: build, write, check one |
//! | `writer` | a chain's head and sink, without a lock ([`Writer`]) |
//! | `chain` | a `static`-able chain behind a spin lock ([`Chain`]) |
//! | `verify` | the streaming verifier ([`Verifier`]) |
//! | `checkpoint` | a log's head and identity as a C2SP-style note ([`Checkpoint`]) |
//! | `merkle` | the RFC 6962 tree over the records: right edge ([`CompactRange`]), proofs ([`verify_inclusion`], [`verify_consistency`]) |
//! | `resume` | continuing from a log's tail ([`resume()`]) |

mod chain;
mod checkpoint;
mod clock;
mod escape;
mod hash;
mod level;
#[cfg(feature = "log")]
mod log_facade;
mod merkle;
mod record;
mod resume;
mod seal;
mod sink;
mod verify;
mod writer;

pub use chain::{AppendError, Chain};
pub use checkpoint::{origin, Checkpoint, CheckpointError, Checkpointer, Origin};
pub use clock::{Clock, NoClock, Timestamp};
pub use hash::{BlockHasher, Hash, HexHash};
pub use level::Level;
#[cfg(feature = "log")]
pub use log_facade::Logger;
pub use merkle::{
    consistency_proof, consistency_proof_len, inclusion_proof, inclusion_proof_len, leaf_hash,
    node_hash, subtree_root, verify_consistency, verify_inclusion, CompactRange, LeafSource,
    MissingLeaf, ProofError, ProveError, RangeError, EMPTY_ROOT, MAX_CONSISTENCY_PROOF_LEN,
    MAX_INCLUSION_PROOF_LEN,
};
pub use record::{message_capacity, Draft, RecordFault, MIN_CAPACITY};
pub use resume::{peek_head, resume, resume_keyed, Recovery, RecoveryPart, ResumeError, Resumed};
pub use seal::{Key, Plain, Seal, SealError, SealKey, Sealed, VerifyKey};
pub use sink::SinkError;
pub use verify::{
    verify_read, ExpectedHead, Failure, FailureKind, Options, Report, SegmentStart, Start,
    TornTail, Verdict, Verifier, MAX_SEGMENT_KEY_STEPS,
};
pub use writer::{Head, WriteError, Writer};

#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
#[path = "../std-backend/mod.rs"]
pub mod std_backend;
