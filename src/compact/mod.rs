//! The compact binary encoding, for links where bytes cost (UART, flash, RTT):
//! each record a COBS frame of `seq`, level, time, the message and a tag cut
//! from the 32-byte chain state; sync records carry the whole state, so a
//! reader that lost frames resumes at the next one and reports the gap.
//! FORMAT.md ("The compact encoding") is the contract.
//!
//! | file | its one job |
//! | --- | --- |
//! | `cobs` | framing: encode into the queue, decode in place |
//! | `wire` | one frame's payload: byte layout, parsing |
//! | `state` | the chain state: one compression per record, tags |
//! | `chain` | [`CompactChain`]: records into a [`Queue`](crate::Queue) |
//! | `verify` | [`CompactVerifier`]: the streaming verifier, gaps and all |

mod chain;
pub(crate) mod cobs;
pub(crate) mod state;
mod verify;
pub(crate) mod wire;

pub use chain::{CompactChain, CompactHead, DEFAULT_SYNC_EVERY, MAX_COMPACT_MESSAGE};
pub use state::GENESIS_STATE;
pub use verify::{
    looks_compact, CompactFailure, CompactFailureKind, CompactReport, CompactVerdict,
    CompactVerifier, Gap, MAX_GAPS,
};
pub use wire::{parse, Payload, PayloadFault, RecordView, SyncView, KEYED_TAG, PLAIN_TAG};
