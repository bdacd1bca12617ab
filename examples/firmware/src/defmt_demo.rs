//! The defmt variant (feature `defmt`): `defmt::info!` and friends through
//! immutable-log's `#[defmt::global_logger]`, each frame one record of a
//! compact chain, drained by `main` to the UART. The capture verifies on the
//! host without the ELF (`immutable-log verify capture`) and decodes with it
//! (`immutable-log decode --elf firmware.elf capture`).
//!
//! - The three messages of the numbers table first (records 0, 1, 2, drained
//!   one by one), so numbers.sh reads their sizes from the capture.
//! - A frame of `main` interrupted half written: an argument's `Format` pends
//!   the timer interrupt, which logs a whole frame there; its own frame is
//!   interrupted the same way by the nested interrupt. Each frame stays whole.
//! - The timer logs a few more frames; then `main` overruns the queue: the
//!   frames that do not fit are lost whole, counted, and the next record
//!   states how many.
//!
//! The program ends through semihosting: status 0 only if all of that happened.

use core::sync::atomic::{AtomicU32, AtomicU8, Ordering::Relaxed};

use immutable_log::defmt_logger::{CHAIN, QUEUE};

use crate::uart::Uart;
use crate::{board, TICKS};

// defmt's own timestamp, in every frame: timer ticks (ms) since boot.
defmt::timestamp!("{=u32:ms}", TICKS.load(Relaxed));

/// Timer records to write, one every 5 ticks.
const TIMER_RECORDS: u32 = 4;
static TIMER_WRITTEN: AtomicU32 = AtomicU32::new(0);

static STAGE: AtomicU8 = AtomicU8::new(IDLE);
const IDLE: u8 = 0;
const TIMER_DUE: u8 = 1;
const NESTED_DUE: u8 = 2;
const NESTED_DONE: u8 = 3;

/// An argument whose formatting takes an interrupt in the middle of a frame.
struct Interrupt(&'static str, u8);

impl defmt::Format for Interrupt {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "[{=str} ", self.0);
        STAGE.store(self.1, Relaxed);
        match self.1 {
            TIMER_DUE => board::pend_timer(),
            _ => board::pend_nested(),
        }
        // Taken here: the logger holds no critical section across a frame.
        defmt::write!(f, "taken]");
    }
}

fn drain() {
    if QUEUE.drain(&mut Uart).is_err() {
        board::exit(false);
    }
}

/// The defmt scenario; never returns.
pub fn run() -> ! {
    defmt::info!("adc ch{=u8} = {=u16} mV", 3, 1234);
    drain();
    defmt::warn!(
        "boot: reset cause {=u8:#x}, fw {=u8}.{=u8}.{=u8}",
        4,
        1,
        2,
        3
    );
    drain();
    defmt::info!(
        "sensor {=u8}: temp {=i16} dC, rh {=u8} %, batt {=u16} mV",
        7,
        235,
        41,
        3712
    );
    drain();
    board::start_timer(crate::TICK_HZ);
    defmt::info!(
        "main: this frame was interrupted half written {}",
        Interrupt("timer", TIMER_DUE)
    );
    drain();
    let deadline = TICKS.load(Relaxed) + 10 * crate::TICK_HZ;
    while TIMER_WRITTEN.load(Relaxed) < TIMER_RECORDS || STAGE.load(Relaxed) != NESTED_DONE {
        if TICKS.load(Relaxed) > deadline {
            board::exit(false);
        }
        board::wait();
        drain();
    }
    board::stop_timer();
    drain();

    // Overrun: frames logged faster than anything drains them.
    for i in 0..60u32 {
        defmt::debug!("overrun: frame {=u32} of 60, nothing drains", i + 1);
    }
    let lost = CHAIN.unlogged();
    drain();
    defmt::warn!(
        "after the overrun: {=u32} frames lost whole (this record says so)",
        lost
    );
    defmt::info!("done: {=u32} timer frames", TIMER_WRITTEN.load(Relaxed));
    drain();
    board::exit(lost > 0 && CHAIN.unlogged() == 0 && QUEUE.pending() == 0);
}

/// The timer interrupt's part.
pub fn on_timer(ticks: u32) {
    if STAGE.load(Relaxed) == TIMER_DUE {
        defmt::info!(
            "timer: interrupted main mid-frame, tick {=u32} {}",
            ticks,
            Interrupt("nested", NESTED_DUE)
        );
        return;
    }
    let written = TIMER_WRITTEN.load(Relaxed);
    if ticks % 5 != 0 || written >= TIMER_RECORDS {
        return;
    }
    defmt::info!("timer: tick {=u32}, frame {=u32}", ticks, written + 1);
    TIMER_WRITTEN.store(written + 1, Relaxed);
}

/// The nested interrupt's part.
pub fn on_nested() {
    if STAGE.load(Relaxed) == NESTED_DUE {
        defmt::error!("nested: interrupted the timer mid-frame");
        STAGE.store(NESTED_DONE, Relaxed);
    }
}
