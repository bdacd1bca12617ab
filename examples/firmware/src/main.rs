//! immutable-log on bare metal: a `static` hash chain whose records go into a
//! `static` queue of whole framed records, drained by `main` to the UART, in
//! QEMU. Text format by default, the compact encoding with `compact`.
//!
//! The UART carries the log and nothing else, so a capture of it verifies as
//! it is: `immutable-log verify capture`. The program ends through
//! semihosting: status 0 only if everything below happened and every record
//! was written or reported lost.
//!
//! - `main` writes records and drains the queue after each.
//! - The timer interrupt writes records with the blocking `append` and reads
//!   `head`. Once, on purpose, it runs in the middle of one of `main`'s
//!   appends (the chain's clock pends it inside the append's critical
//!   section, so it is taken the moment that ends: `main`'s record has its
//!   place and `seq`, its bytes are not written yet); there it appends, and
//!   its own append is interrupted the same way by a nested interrupt of
//!   higher priority, which appends and reads `head` too. Nothing waits,
//!   everything completes, and the bytes still leave in `seq` order.
//! - Then `main` overruns the queue on purpose: the records that do not fit
//!   are lost whole, counted, and the next record states how many.
//!
//! Boards (exactly one feature): `m4` (QEMU `mps2-an386`, Cortex-M4), `m0`
//! (QEMU `microbit`, Cortex-M0), `rv` (QEMU `virt`, rv32imc). `icount` runs
//! the benchmark instead (instructions per append and inside the critical
//! sections, bytes per record), for QEMU `-icount`.

#![no_std]
#![no_main]
#![cfg_attr(
    any(feature = "icount", feature = "nolog", feature = "flash", feature = "async"),
    allow(dead_code, unused_imports)
)]
#![cfg_attr(feature = "defmt", allow(unreachable_code))]

#[cfg(any(
    all(feature = "m4", feature = "m0"),
    all(feature = "m4", feature = "rv"),
    all(feature = "m0", feature = "rv")
))]
compile_error!("features `m4`, `m0` and `rv` choose the board: enable exactly one");
#[cfg(not(any(feature = "m4", feature = "m0", feature = "rv")))]
compile_error!("choose the board: `--features m4`, `m0` or `rv`");

mod board;
#[cfg(feature = "icount")]
mod compression;
mod cs;
#[cfg(feature = "defmt")]
mod defmt_demo;
#[cfg(feature = "flash")]
mod flash_demo;
#[cfg(any(feature = "flash", feature = "tree"))]
mod host_file;
#[cfg(feature = "tree")]
mod tree_demo;
mod uart;

// thumbv6m and rv32imc have atomic load and store, not read-modify-write:
// each counter below has one writer, or is changed in a critical section.
use core::sync::atomic::{AtomicU32, AtomicU8, Ordering::Relaxed};

#[cfg(not(feature = "nolog"))]
use immutable_log::Level;
use immutable_log::{Clock, Timestamp};

use uart::Uart;

/// Timer rate: the timestamps' resolution.
const TICK_HZ: u32 = 1_000;
/// Records `main` writes in its first phase, one every `MAIN_PERIOD` ticks.
const MAIN_RECORDS: u32 = 16;
const MAIN_PERIOD: u32 = 3;
/// Records the timer interrupt writes, one every `TIMER_PERIOD` ticks.
const TIMER_RECORDS: u32 = 8;
const TIMER_PERIOD: u32 = 5;
/// Records `main` writes without draining, to overrun the queue.
const OVERRUN_RECORDS: u32 = 24;
/// Give up (and fail) if the timer has not written its records by then.
const DEADLINE_TICKS: u32 = 10 * TICK_HZ;

/// Text: a record buffer of 512 bytes (a whole `block_json`), a 2 KiB queue.
#[cfg(not(feature = "compact"))]
const N: usize = 512;
#[cfg(not(feature = "compact"))]
const Q: usize = 2048;
/// Compact: messages up to 128 bytes, a 512-byte queue.
#[cfg(feature = "compact")]
const N: usize = 128;
#[cfg(feature = "compact")]
const Q: usize = 512;

/// Timer interrupts so far (written by the timer handler only).
static TICKS: AtomicU32 = AtomicU32::new(0);
/// Records the timer handler wrote.
static TIMER_WRITTEN: AtomicU32 = AtomicU32::new(0);
/// Records appended, and records lost to a full queue (changed in critical sections).
static APPENDED: AtomicU32 = AtomicU32::new(0);
static LOST: AtomicU32 = AtomicU32::new(0);

/// The scenario's stages: `main` arms the timer, the timer handler the nested interrupt.
static STAGE: AtomicU8 = AtomicU8::new(IDLE);
const IDLE: u8 = 0;
const MAIN_ARMED: u8 = 1;
const TIMER_DUE: u8 = 2;
const TIMER_ARMED: u8 = 3;
const NESTED_DUE: u8 = 4;
const NESTED_DONE: u8 = 5;

/// The chain's clock: timer ticks since boot. It runs inside the chain's
/// critical section, which is what makes it the scenario's hook: an
/// interrupt pended here is taken the moment that section ends, with the
/// append half done.
struct TickClock;

impl Clock for TickClock {
    fn now(&self) -> Timestamp {
        match STAGE.load(Relaxed) {
            MAIN_ARMED => {
                STAGE.store(TIMER_DUE, Relaxed);
                board::pend_timer();
            }
            TIMER_ARMED => {
                STAGE.store(NESTED_DUE, Relaxed);
                board::pend_nested();
            }
            _ => {}
        }
        // 32-bit arithmetic: no 64-bit division routine in the image.
        let ticks = TICKS.load(Relaxed);
        Timestamp::new(
            u64::from(ticks / TICK_HZ),
            (ticks % TICK_HZ) * (1_000_000 / TICK_HZ),
        )
    }
}

#[cfg(not(feature = "nolog"))]
static QUEUE: immutable_log::Queue<Q> = immutable_log::Queue::new();

#[cfg(all(not(feature = "nolog"), not(feature = "compact")))]
type Log = immutable_log::QueuedChain<'static, TickClock, N, Q>;
#[cfg(all(not(feature = "nolog"), not(feature = "compact"), not(feature = "tree")))]
static LOG: Log = Log::new(&QUEUE, TickClock);
/// With `tree`, the chain keeps the Merkle tree of its records in `TREE`.
#[cfg(all(not(feature = "nolog"), not(feature = "compact"), feature = "tree"))]
static LOG: Log = Log::new(&QUEUE, TickClock).with_tree(&tree_demo::TREE);

#[cfg(all(not(feature = "nolog"), feature = "compact"))]
type Log = immutable_log::CompactChain<'static, TickClock, N, Q>;
/// A sync record after every 8 records: a capture with frames lost resumes there.
#[cfg(all(not(feature = "nolog"), feature = "compact"))]
static LOG: Log = Log::new(&QUEUE, TickClock).with_sync_every(8);

#[cfg(not(feature = "nolog"))]
static LOGGER: immutable_log::QueueLogger<Log> = immutable_log::QueueLogger::new(&LOG);

#[cfg(not(feature = "nolog"))]
fn bump(counter: &AtomicU32) {
    critical_section::with(|_| counter.store(counter.load(Relaxed) + 1, Relaxed));
}

/// Appends a record (the blocking `append`: it never waits), counting it as
/// appended or lost; in the `nolog` size baseline, nothing.
macro_rules! record {
    ($level:ident, $($arg:tt)+) => {{
        #[cfg(not(feature = "nolog"))]
        match LOG.append(Level::$level, format_args!($($arg)+)) {
            Ok(_) => bump(&APPENDED),
            Err(_) => bump(&LOST),
        }
        #[cfg(feature = "nolog")]
        let _ = format_args!($($arg)+);
    }};
}

/// The drain as an Embassy task (after `record!`, which it uses).
#[cfg(all(feature = "async", not(feature = "nolog")))]
mod async_drain;

/// The last record's `seq` (`u64::MAX` before the first), read without waiting.
fn head_seq() -> u64 {
    #[cfg(not(feature = "nolog"))]
    {
        LOG.head().map_or(u64::MAX, |h| h.seq_or_max())
    }
    #[cfg(feature = "nolog")]
    u64::MAX
}

/// A `&str` argument written as it is: `{}` of a plain `&str` goes through
/// `Formatter::pad` (width, precision, fill: about 640 bytes of flash on the
/// M4 that no message here uses).
struct Plain(&'static str);

impl core::fmt::Display for Plain {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.0)
    }
}

/// [`head_seq`] for messages, as a `u32` (wrapping): formatting a `u64` on a
/// 32-bit MCU links core's 64-bit division, about 1.2 KB of flash on the M4.
fn head_seq_u32() -> u32 {
    head_seq() as u32
}

/// The heads of both chains say `seq` the same way.
#[cfg(not(feature = "nolog"))]
trait SeqOrMax {
    fn seq_or_max(&self) -> u64;
}

#[cfg(not(feature = "nolog"))]
impl SeqOrMax for immutable_log::Head {
    fn seq_or_max(&self) -> u64 {
        self.seq.unwrap_or(u64::MAX)
    }
}

#[cfg(not(feature = "nolog"))]
impl SeqOrMax for immutable_log::CompactHead {
    fn seq_or_max(&self) -> u64 {
        self.seq
    }
}

/// Sends every queued record to the UART.
fn drain() {
    #[cfg(not(feature = "nolog"))]
    if QUEUE.drain(&mut Uart).is_err() {
        board::exit(false);
    }
}

#[cfg_attr(any(feature = "m4", feature = "m0"), cortex_m_rt::entry)]
#[cfg_attr(feature = "rv", riscv_rt::entry)]
fn main() -> ! {
    board::init();
    #[cfg(feature = "defmt")]
    defmt_demo::run();
    #[cfg(feature = "icount")]
    bench();
    #[cfg(feature = "flash")]
    flash_demo::run();
    #[cfg(all(feature = "async", not(any(feature = "icount", feature = "nolog"))))]
    async_drain::run();
    #[cfg(not(any(
        feature = "icount",
        feature = "flash",
        all(feature = "async", not(feature = "nolog"))
    )))]
    scenario();
}

#[cfg(not(any(feature = "icount", feature = "flash")))]
fn scenario() -> ! {
    #[cfg(not(feature = "nolog"))]
    {
        // SAFETY: called once, before any interrupt is enabled: nothing can
        // call into `log` concurrently.
        unsafe {
            if log::set_logger_racy(&LOGGER).is_err() {
                board::exit(false);
            }
            log::set_max_level_racy(log::LevelFilter::Trace);
        }
        // Through the `log` facade: the same append, counted here.
        log::info!("boot: immutable-log firmware on {}, timer {} Hz", Plain(board::NAME), TICK_HZ);
        log::debug!("queue {} bytes, record room {} bytes", Q, N);
        APPENDED.store(2, Relaxed);
    }
    drain();
    board::start_timer(TICK_HZ);

    for i in 2..MAIN_RECORDS {
        wait_ticks(MAIN_PERIOD);
        match i {
            3 => {
                // The timer interrupt comes in the middle of this append, and
                // the nested interrupt in the middle of the timer's.
                STAGE.store(MAIN_ARMED, Relaxed);
                record!(Info, "main: this append was interrupted half done (timer, then nested)");
            }
            5 => record!(
                Warning,
                "display escaping: tab\there, newline\nhere, pipe | and \"quotes\""
            ),
            7 => record!(Info, "UTF-8 passes as is: 25 µs, ±3 °C, ✓"),
            9 => record!(Error, "error level, code {:#06x}", 0xBEEFu32),
            11 => record!(Trace, "trace level, ticks {}", TICKS.load(Relaxed)),
            _ => record!(
                Info,
                "main: record {} of {}, ticks {}",
                i,
                MAIN_RECORDS,
                TICKS.load(Relaxed)
            ),
        }
        drain();
    }
    #[cfg(feature = "tree")]
    tree_demo::checkpoint("cp1.txt\0");

    let deadline = TICKS.load(Relaxed) + DEADLINE_TICKS;
    while TIMER_WRITTEN.load(Relaxed) < TIMER_RECORDS || STAGE.load(Relaxed) != NESTED_DONE {
        if TICKS.load(Relaxed) > deadline {
            board::exit(false);
        }
        board::wait();
        drain();
    }
    board::stop_timer();
    drain();

    // Overrun: records queued faster than anything drains them.
    let lost_before = LOST.load(Relaxed);
    for i in 0..OVERRUN_RECORDS {
        record!(Info, "overrun: record {} of {}, nothing drains", i + 1, OVERRUN_RECORDS);
    }
    let overrun_lost = LOST.load(Relaxed) - lost_before;
    drain();
    record!(
        Warning,
        "after the overrun: {} records lost whole to a full queue (this record says so)",
        overrun_lost
    );
    record!(
        Info,
        "done: {} timer records, nested interrupt done, {} lost and reported",
        TIMER_WRITTEN.load(Relaxed),
        LOST.load(Relaxed)
    );
    drain();

    #[cfg(not(feature = "nolog"))]
    {
        // Every record appended is in the chain; every lost one was reported.
        let written = head_seq().wrapping_add(1);
        if written != u64::from(APPENDED.load(Relaxed)) || LOG.unlogged() != 0 || overrun_lost == 0
        {
            board::exit(false);
        }
    }
    #[cfg(feature = "tree")]
    tree_demo::checkpoint("cp2.txt\0");
    #[cfg(feature = "stack-report")]
    board::report_stack();
    board::exit(true);
}

/// Sleeps until `n` more timer interrupts have happened.
fn wait_ticks(n: u32) {
    let until = TICKS.load(Relaxed) + n;
    while TICKS.load(Relaxed) < until {
        board::wait();
    }
}

/// The timer interrupt (lowest priority).
pub fn on_timer() {
    let ticks = TICKS.load(Relaxed) + 1;
    TICKS.store(ticks, Relaxed);
    #[cfg(all(feature = "async", not(feature = "nolog")))]
    async_drain::on_tick();
    #[cfg(feature = "defmt")]
    return defmt_demo::on_timer(ticks);
    if STAGE.load(Relaxed) == TIMER_DUE {
        // Pended by `main`'s append, which is half done under us: append
        // anyway (never waits) and read the head (never waits).
        STAGE.store(TIMER_ARMED, Relaxed);
        let head = head_seq_u32();
        record!(
            Info,
            "timer: interrupted main mid-append; head seq {} (main's record: its place reserved, its bytes not written yet)",
            head
        );
        return;
    }
    let written = TIMER_WRITTEN.load(Relaxed);
    if ticks % TIMER_PERIOD != 0 || written >= TIMER_RECORDS {
        return;
    }
    record!(Info, "timer: tick {}, interrupt record {}, head seq {}", ticks, written + 1, head_seq_u32());
    TIMER_WRITTEN.store(written + 1, Relaxed);
}

/// The nested interrupt (above the timer).
pub fn on_nested() {
    #[cfg(feature = "defmt")]
    return defmt_demo::on_nested();
    if STAGE.load(Relaxed) != NESTED_DUE {
        return;
    }
    let head = head_seq_u32();
    record!(
        Warning,
        "nested: interrupted the timer mid-append; head seq {}",
        head
    );
    STAGE.store(NESTED_DONE, Relaxed);
}

/// The benchmark: three typical messages, each after a warm-up, measured in
/// instructions (QEMU `-icount`), bytes queued, critical sections.
#[cfg(feature = "icount")]
fn bench() -> ! {
    use cs::probe;
    board::start_counter();
    let encoding = if cfg!(feature = "compact") { "compact" } else { "text" };
    diag!("icount: board {} encoding {} shift {}", board::NAME, encoding, board::ICOUNT_SHIFT);
    probe::reset();
    critical_section::with(|_| {});
    let (empty, _, _) = probe::take();
    diag!("icount: compression {}", compression::instructions());
    for i in 0..3 {
        for round in 0..2 {
            let before = QUEUE.pending();
            probe::reset();
            let t0 = board::counter();
            let ok = match i {
                0 => LOG.append(Level::Info, format_args!("adc ch{} = {} mV", 3, 1234)).is_ok(),
                1 => LOG
                    .append(
                        Level::Warning,
                        format_args!("boot: reset cause {:#x}, fw {}.{}.{}", 4, 1, 2, 3),
                    )
                    .is_ok(),
                _ => LOG
                    .append(
                        Level::Info,
                        format_args!(
                            "sensor {}: temp {} dC, rh {} %, batt {} mV",
                            7, 235, 41, 3712
                        ),
                    )
                    .is_ok(),
            };
            let t1 = board::counter();
            let (max, total, count) = probe::take();
            let bytes = QUEUE.pending() - before;
            drain();
            if !ok {
                board::exit(false);
            }
            if round == 1 {
                diag!(
                    "icount: message {} bytes {} append {} cs_max {} cs_total {} cs_count {} cs_empty {}",
                    i,
                    bytes,
                    board::to_insns(board::elapsed(t0, t1)),
                    board::to_insns(max),
                    board::to_insns(total),
                    count,
                    board::to_insns(empty)
                );
            }
        }
    }
    board::exit(true);
}

#[panic_handler]
fn panic(_info: &core::panic::PanicInfo<'_>) -> ! {
    board::exit(false)
}
