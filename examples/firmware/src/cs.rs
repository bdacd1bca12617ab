//! The critical-section implementation the core's chains and queue use:
//! interrupts masked on this single core, the previous state restored.
//!
//! In `icount` builds it also counts the instructions spent inside each
//! outermost critical section (QEMU `-icount`, see `board::counter`): the
//! figures `numbers.sh` prints.

use crate::board;

struct SingleCore;
critical_section::set_impl!(SingleCore);

// SAFETY: this is a single-core part running privileged: with interrupts
// masked nothing else runs, and `release` restores exactly what `acquire` found.
unsafe impl critical_section::Impl for SingleCore {
    unsafe fn acquire() -> bool {
        let was_enabled = board::interrupts_enabled();
        board::disable_interrupts();
        #[cfg(feature = "icount")]
        probe::enter();
        was_enabled
    }

    unsafe fn release(was_enabled: bool) {
        #[cfg(feature = "icount")]
        probe::leave();
        if was_enabled {
            board::enable_interrupts();
        }
    }
}

/// Instructions inside critical sections (only with interrupts masked, so
/// plain loads and stores are enough).
#[cfg(feature = "icount")]
pub mod probe {
    use core::sync::atomic::{AtomicBool, AtomicU32, Ordering::Relaxed};

    use crate::board;

    static ON: AtomicBool = AtomicBool::new(false);
    static DEPTH: AtomicU32 = AtomicU32::new(0);
    static START: AtomicU32 = AtomicU32::new(0);
    /// Counter units (see `board::to_insns`) of the longest section, of all
    /// of them, and how many there were, since `reset`.
    static MAX: AtomicU32 = AtomicU32::new(0);
    static TOTAL: AtomicU32 = AtomicU32::new(0);
    static COUNT: AtomicU32 = AtomicU32::new(0);

    pub fn enter() {
        let depth = DEPTH.load(Relaxed);
        DEPTH.store(depth + 1, Relaxed);
        if depth == 0 {
            START.store(board::counter(), Relaxed);
        }
    }

    pub fn leave() {
        let now = board::counter();
        let depth = DEPTH.load(Relaxed).saturating_sub(1);
        DEPTH.store(depth, Relaxed);
        if depth == 0 && ON.load(Relaxed) {
            let spent = board::elapsed(START.load(Relaxed), now);
            MAX.store(MAX.load(Relaxed).max(spent), Relaxed);
            TOTAL.store(TOTAL.load(Relaxed) + spent, Relaxed);
            COUNT.store(COUNT.load(Relaxed) + 1, Relaxed);
        }
    }

    /// Starts counting afresh.
    pub fn reset() {
        critical_section::with(|_| {
            MAX.store(0, Relaxed);
            TOTAL.store(0, Relaxed);
            COUNT.store(0, Relaxed);
        });
        ON.store(true, Relaxed);
    }

    /// Stops counting: (longest, total, sections), in counter units.
    pub fn take() -> (u32, u32, u32) {
        ON.store(false, Relaxed);
        (MAX.load(Relaxed), TOTAL.load(Relaxed), COUNT.load(Relaxed))
    }
}
