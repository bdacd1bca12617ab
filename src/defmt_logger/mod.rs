//! The `defmt` front end (feature `defmt`): a `#[defmt::global_logger]` that
//! makes each defmt frame one record of a compact chain, so `defmt::info!`
//! gives a tamper-evident log at defmt's size on the wire.
//!
//! ```text
//! defmt::info!(..) ─ acquire/write/release ─▶ FRAMES (one buffer per nested context)
//!                                              │ release: the whole frame
//!                                              ▼
//!                     CHAIN: CompactChain::append_defmt (hash outside, one
//!                            compression inside a short critical section)
//!                                              ▼
//!                     QUEUE: whole COBS frames ──▶ your drain: QUEUE.drain(&mut uart)
//! ```
//!
//! Switching a defmt project over is changing its global logger: instead of
//! `use defmt_rtt as _;`, link this crate with feature `defmt` and drain
//! [`QUEUE`] to the link (a UART, flash, RTT) in the application's own time:
//!
//! ```ignore
//! use immutable_log::defmt_logger::QUEUE;
//!
//! defmt::info!("adc ch{=u8} = {=u16} mV", 3, 1234); // from main or any interrupt
//! // In an idle loop, a thread, or an async task (`QUEUE.drain_async`):
//! QUEUE.drain(&mut uart).ok(); // any embedded_io::Write
//! ```
//!
//! (`ignore`: a global logger is linked into a firmware image, with defmt's
//! linker script; `examples/firmware/src/defmt_demo.rs` is this, compiled and
//! run in QEMU by CI.) On the host, `immutable-log verify capture` checks the
//! capture without the ELF; `immutable-log decode --elf firmware.elf capture`
//! prints each record as text with its verification status.
//!
//! What each record holds (FORMAT.md, "defmt records"): the frame in defmt's
//! raw encoding (the interned format string's index, defmt's timestamp if the
//! firmware has one, the arguments), whatever encoding defmt's features name:
//! the compact framing already resynchronises after lost bytes. Its `time_us`
//! is 0 (one byte): the time is defmt's, inside the frame, covered by the chain
//! like every byte of it.
//!
//! Never waits, from any context: each step is a short critical section (see
//! [`Frames`]), and the frame is hashed and queued after it. Interrupts may
//! log in the middle of another frame, [`MAX_NESTED`] deep; a frame nested
//! deeper, or one that finds the queue full, is lost whole and counted: the
//! next record states how many. A frame longer than [`FRAME_ROOM`] bytes is cut
//! and marked truncated. Contexts must nest, as interrupts on one core do
//! (bare metal, RTIC, Embassy's executors): not for a time-slicing RTOS or two
//! cores logging at once, whose frames would mix (the chain still verifies;
//! their text would not decode).
//!
//! RAM: [`QUEUE_BYTES`] for the queue, about `MAX_NESTED * (FRAME_ROOM + 8)`
//! for the frames in flight, the chain's state (about 60 bytes).

mod frames;

pub use frames::{Frames, Released};

use crate::{CompactChain, NoClock, Queue};

/// The longest defmt frame kept whole, in bytes (a longer one is cut).
pub const FRAME_ROOM: usize = 128;
/// The queue's size in bytes: whole records waiting for the drain.
pub const QUEUE_BYTES: usize = 1024;
/// Frames in flight at once: a thread and this many - 1 nested interrupt
/// levels each in the middle of a frame.
pub const MAX_NESTED: usize = 4;

/// The queue of whole framed records the application drains to its link.
pub static QUEUE: Queue<QUEUE_BYTES> = Queue::new();

/// The chain the defmt frames go into: plain, a sync record every 16 records
/// (a capture that lost bytes resumes there), no clock of its own (defmt's
/// timestamp is in the frame). Its [`head`](CompactChain::head) is the head
/// to keep elsewhere.
pub static CHAIN: CompactChain<'static, NoClock, FRAME_ROOM, QUEUE_BYTES> =
    CompactChain::new(&QUEUE, NoClock);

/// The frames in flight.
static FRAMES: Frames<MAX_NESTED, FRAME_ROOM> = Frames::new();

/// Hands a released frame to the chain.
fn append(released: Released<FRAME_ROOM>) {
    match released {
        Released::Frame { bytes, truncated } => {
            // A full queue is counted by the chain itself.
            let _ = if truncated {
                CHAIN.append_defmt_truncated(&bytes)
            } else {
                CHAIN.append_defmt(&bytes)
            };
        }
        Released::Dropped => CHAIN.note_unlogged(),
        Released::Unbalanced => {}
    }
}

/// defmt's global logger: frames into [`CHAIN`].
#[defmt::global_logger]
struct Logger;

// The `defmt::Logger` trait and the functions `global_logger` generates are
// `unsafe` by defmt's design; this is the crate's only unsafe code.
#[allow(unsafe_code)]
// SAFETY: `acquire` and `release` pair up per context as defmt requires, and
// nothing here relies on the caller's promises beyond that: every step is a
// safe, bounded critical section over `FRAMES`, whatever the order of calls.
unsafe impl defmt::Logger for Logger {
    fn acquire() {
        FRAMES.acquire();
    }

    unsafe fn flush() {
        // The application drains the queue; the logger never waits on a link.
    }

    unsafe fn release() {
        append(FRAMES.release());
    }

    unsafe fn write(bytes: &[u8]) {
        FRAMES.write(bytes);
    }
}
