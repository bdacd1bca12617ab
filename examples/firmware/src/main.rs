//! immutable-log on bare metal: a `static` hash chain over the UART, written
//! through the `log` facade from `main` and from the SysTick handler, in QEMU.
//!
//! The UART carries the log and nothing else, so a capture of it verifies as
//! it is: `immutable-log verify capture.log`. The program ends through
//! semihosting: status 0 when every record was written or reported lost.
//!
//! `main` writes 17 records, the SysTick handler 8 (through the logger's
//! non-blocking path). Once, `main` holds the chain while the handler tries to
//! write: that record is lost, and the next record states `"unlogged":1`, under
//! its hash, so the verifier reports the loss.
//!
//! Boards (exactly one feature):
//! - `m4`: QEMU `mps2-an386`, Cortex-M4, `thumbv7em-none-eabihf`, CMSDK UART0;
//! - `m0`: QEMU `microbit`, nRF51 Cortex-M0, `thumbv6m-none-eabi`, nRF UART0,
//!   chain lock through portable-atomic.
//!
//! `cargo run-m4` / `cargo run-m0` (aliases in `.cargo/config.toml`) run it.

#![no_std]
#![no_main]

#[cfg(all(feature = "m4", feature = "m0"))]
compile_error!("features `m4` and `m0` choose the board: enable exactly one");
#[cfg(not(any(feature = "m4", feature = "m0")))]
compile_error!("choose the board: `--features m4` (mps2-an386) or `--features m0` (microbit)");

mod uart;

// thumbv6m has atomic load and store, not read-modify-write: each counter
// below has one writer (the SysTick handler or `main`), so load + store is enough.
use core::sync::atomic::{AtomicU32, Ordering::Relaxed};

use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::{entry, exception, ExceptionFrame};
use cortex_m_semihosting::debug;

use uart::Uart;

/// The core clock SysTick counts: 25 MHz on MPS2, 16 MHz on the nRF51.
#[cfg(feature = "m4")]
const CORE_HZ: u32 = 25_000_000;
#[cfg(feature = "m0")]
const CORE_HZ: u32 = 16_000_000;

/// SysTick rate: the timestamps' resolution.
const TICK_HZ: u32 = 1_000;
/// Records `main` writes, one every `MAIN_PERIOD` ticks.
const MAIN_RECORDS: u32 = 16;
const MAIN_PERIOD: u32 = 3;
/// Records the SysTick handler writes, one every `SYSTICK_PERIOD` ticks.
const SYSTICK_RECORDS: u32 = 8;
const SYSTICK_PERIOD: u32 = 5;
/// Give up (and fail) if the handler has not written its records by then.
const DEADLINE_TICKS: u32 = 10 * TICK_HZ;

/// The record buffer: a whole `block_json`, at least `immutable_log::MIN_CAPACITY`.
const N: usize = 512;

/// The chain's clock: SysTick ticks since boot.
///
/// A unit struct rather than a `fn() -> Timestamp`: the chain then holds no
/// function pointer, and reading the clock inlines into the append path.
#[cfg(not(feature = "nolog"))]
struct SysTickClock;

#[cfg(not(feature = "nolog"))]
impl immutable_log::Clock for SysTickClock {
    fn now(&self) -> immutable_log::Timestamp {
        immutable_log::Timestamp::from_ticks(u64::from(TICKS.load(Relaxed)), TICK_HZ)
    }
}

#[cfg(not(feature = "nolog"))]
static CHAIN: immutable_log::Chain<Uart, SysTickClock, N> =
    immutable_log::Chain::new(Uart, SysTickClock);
#[cfg(not(feature = "nolog"))]
static LOGGER: immutable_log::Logger<Uart, SysTickClock, N> =
    immutable_log::Logger::new(&CHAIN, in_interrupt);

/// SysTick interrupts so far (written by the handler only).
static TICKS: AtomicU32 = AtomicU32::new(0);
/// Records the handler wrote, and records it lost to a busy chain.
static SYSTICK_WRITTEN: AtomicU32 = AtomicU32::new(0);
static SYSTICK_BUSY: AtomicU32 = AtomicU32::new(0);

/// Writes a record through the `log` facade; in the `nolog` size baseline,
/// nothing (the arguments are still evaluated, and optimised away).
macro_rules! record {
    ($level:ident, $($arg:tt)+) => {{
        #[cfg(not(feature = "nolog"))]
        log::$level!($($arg)+);
        #[cfg(feature = "nolog")]
        let _ = format_args!($($arg)+);
    }};
}

/// True in an exception handler: there the logger uses the chain's
/// non-blocking `try_append`.
#[cfg(not(feature = "nolog"))]
fn in_interrupt() -> bool {
    use cortex_m::peripheral::{scb::VectActive, SCB};
    SCB::vect_active() != VectActive::ThreadMode
}

#[entry]
fn main() -> ! {
    let mut core = cortex_m::Peripherals::take().unwrap_or_else(|| fail());
    Uart::init();

    #[cfg(not(feature = "nolog"))]
    {
        // SAFETY: called once, before the SysTick interrupt is enabled: nothing
        // can call into `log` concurrently.
        unsafe {
            log::set_logger_racy(&LOGGER).unwrap_or_else(|_| fail());
            log::set_max_level_racy(log::LevelFilter::Trace);
        }
    }

    record!(
        info,
        "boot: immutable-log firmware, core {} Hz, SysTick {} Hz",
        CORE_HZ,
        TICK_HZ
    );
    record!(
        debug,
        "record buffer {} bytes, message room {} bytes",
        N,
        immutable_log::message_capacity(N)
    );

    let syst = &mut core.SYST;
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(CORE_HZ / TICK_HZ - 1);
    syst.clear_current();
    syst.enable_interrupt();
    syst.enable_counter();

    for i in 2..MAIN_RECORDS {
        wait_ticks(MAIN_PERIOD);
        match i {
            3 => {
                // Hold the chain across a SysTick record: the handler's
                // `try_append` finds it busy and never waits; the record is
                // counted, and the next one written says so ("unlogged":1).
                #[cfg(not(feature = "nolog"))]
                CHAIN.with_writer(|_| wait_ticks(SYSTICK_PERIOD + 1));
                #[cfg(feature = "nolog")]
                wait_ticks(SYSTICK_PERIOD + 1);
                record!(
                    info,
                    "main: held the chain for {} ticks",
                    SYSTICK_PERIOD + 1
                )
            }
            5 => record!(
                warn,
                "display escaping: tab\there, newline\nhere, pipe | and \"quotes\""
            ),
            7 => record!(info, "UTF-8 passes as is: 25 µs, ±3 °C, ✓"),
            9 => record!(error, "error level, code {:#06x}", 0xBEEFu32),
            11 => record!(trace, "trace level, ticks {}", TICKS.load(Relaxed)),
            _ => record!(
                info,
                "main: record {} of {}, ticks {}",
                i,
                MAIN_RECORDS,
                TICKS.load(Relaxed)
            ),
        }
    }

    let deadline = TICKS.load(Relaxed) + DEADLINE_TICKS;
    while SYSTICK_WRITTEN.load(Relaxed) < SYSTICK_RECORDS {
        if TICKS.load(Relaxed) > deadline {
            fail();
        }
        cortex_m::asm::wfi();
    }
    syst.disable_interrupt();
    syst.disable_counter();

    let from_systick = SYSTICK_WRITTEN.load(Relaxed);
    let busy = SYSTICK_BUSY.load(Relaxed);
    record!(
        info,
        "done: {} records from main, {} from SysTick, {} lost to a busy chain (reported as unlogged)",
        MAIN_RECORDS + 1,
        from_systick,
        busy
    );

    #[cfg(not(feature = "nolog"))]
    {
        log::logger().flush();
        // Every record written, every lost one reported: seq counts them all.
        let written = CHAIN.head().and_then(|h| h.seq).map_or(0, |seq| seq + 1);
        let expected = u64::from(MAIN_RECORDS + 1 + from_systick);
        // ... and the record lost while `main` held the chain was reported.
        if written != expected || written < 20 || CHAIN.unlogged() != 0 || busy == 0 {
            fail();
        }
    }
    #[cfg(feature = "stack-report")]
    report_stack();
    debug::exit(debug::EXIT_SUCCESS);
    loop {
        cortex_m::asm::wfi();
    }
}

/// Prints the stack's peak use (main and SysTick together) to the host's
/// stderr through semihosting: cortex-m-rt painted the free RAM at reset, and
/// the lowest word no longer painted is the deepest the stack went.
#[cfg(feature = "stack-report")]
fn report_stack() {
    extern "C" {
        static _stack_end: u32;
        static _stack_start: u32;
    }
    // Only the addresses of the linker's symbols are taken.
    let low = core::ptr::addr_of!(_stack_end) as usize;
    let top = core::ptr::addr_of!(_stack_start) as usize;
    let mut deepest = low;
    // SAFETY: every word between the end of .bss and the top of RAM is RAM.
    while deepest < top
        && unsafe { core::ptr::read_volatile(deepest as *const u32) }
            == cortex_m_rt::STACK_PAINT_VALUE
    {
        deepest += 4;
    }
    cortex_m_semihosting::heprintln!(
        "stack: {} bytes used at peak, of {} free",
        top - deepest,
        top - low
    );
}

/// Sleeps until `n` more SysTick interrupts have happened.
fn wait_ticks(n: u32) {
    let until = TICKS.load(Relaxed) + n;
    while TICKS.load(Relaxed) < until {
        cortex_m::asm::wfi();
    }
}

#[exception]
fn SysTick() {
    let ticks = TICKS.load(Relaxed) + 1;
    TICKS.store(ticks, Relaxed);
    let written = SYSTICK_WRITTEN.load(Relaxed);
    if !ticks.is_multiple_of(SYSTICK_PERIOD) || written >= SYSTICK_RECORDS {
        return;
    }
    #[cfg(not(feature = "nolog"))]
    {
        // The logger sees an exception and uses `try_append`: if `main` holds
        // the chain, the record is counted, not written, and the next record
        // says so (`"unlogged":N`).
        let lost_before = CHAIN.unlogged();
        record!(
            info,
            "SysTick: tick {}, interrupt record {}",
            ticks,
            written + 1
        );
        if CHAIN.unlogged() > lost_before {
            SYSTICK_BUSY.store(SYSTICK_BUSY.load(Relaxed) + 1, Relaxed);
            return;
        }
    }
    #[cfg(feature = "nolog")]
    record!(
        info,
        "SysTick: tick {}, interrupt record {}",
        ticks,
        written + 1
    );
    SYSTICK_WRITTEN.store(written + 1, Relaxed);
}

#[exception]
unsafe fn HardFault(_frame: &ExceptionFrame) -> ! {
    fail()
}

#[panic_handler]
fn panic(_info: &core::panic::PanicInfo<'_>) -> ! {
    fail()
}

/// Ends the QEMU run with a failure status (no output: the UART is the log's).
fn fail() -> ! {
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}
