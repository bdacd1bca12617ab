//! The async drain (feature `async`, Cortex-M4): an Embassy task drains the
//! queue to the UART through `embedded_io_async::Write`, waiting for records
//! with `Queue::readable`, while the scenario runs as a second task on the
//! same thread-mode executor (`embassy-executor`, `arch-cortex-m`,
//! `executor-thread`). The interrupts append exactly as in the blocking
//! build; only the drain differs: `main` never writes to the UART itself.
//!
//! The capture is checked as the blocking build's is (`.ci/firmware.sh`):
//! the same records, the nested interrupt's, the overrun's losses reported.

use core::cell::RefCell;
use core::convert::Infallible;
use core::future::poll_fn;
use core::sync::atomic::Ordering::Relaxed;
use core::task::{Poll, Waker};

use critical_section::Mutex;
use embassy_executor::Executor;
use static_cell::StaticCell;

use crate::{
    board, bump, head_seq, Level, APPENDED, DEADLINE_TICKS, IDLE, LOG, LOGGER, LOST, MAIN_ARMED,
    MAIN_PERIOD, MAIN_RECORDS, N, NESTED_DONE, OVERRUN_RECORDS, Q, QUEUE, STAGE, TICKS, TICK_HZ,
    TIMER_RECORDS, TIMER_WRITTEN,
};

#[cfg(not(feature = "m4"))]
compile_error!("the `async` drain runs on the Cortex-M4 (`m4`) only");

static EXECUTOR: StaticCell<Executor> = StaticCell::new();

/// The scenario task waiting for timer ticks.
static TICK_WAKER: Mutex<RefCell<Option<Waker>>> = Mutex::new(RefCell::new(None));

/// Runs the executor: the drain task and the scenario task. Never returns
/// (the scenario ends the QEMU run).
pub fn run() -> ! {
    let executor = EXECUTOR.init(Executor::new());
    executor.run(|spawner| {
        if spawner.spawn(drain_task()).is_err() || spawner.spawn(scenario_task()).is_err() {
            board::exit(false);
        }
    })
}

/// Called by the timer interrupt after each tick: wakes a task waiting for ticks.
pub fn on_tick() {
    if let Some(waker) = critical_section::with(|cs| TICK_WAKER.borrow(cs).borrow_mut().take()) {
        waker.wake();
    }
}

/// The drain: waits for whole records, sends them, for ever. The only writer
/// of the UART.
#[embassy_executor::task]
async fn drain_task() {
    let mut uart = AsyncUart;
    loop {
        QUEUE.readable().await;
        if QUEUE.drain_async(&mut uart).await.is_err() {
            board::exit(false);
        }
    }
}

#[embassy_executor::task]
async fn scenario_task() {
    scenario().await;
}

/// Until `n` more timer interrupts have happened (the executor sleeps meanwhile).
async fn wait_ticks(n: u32) {
    let until = TICKS.load(Relaxed) + n;
    poll_fn(|cx| {
        critical_section::with(|cs| {
            if TICKS.load(Relaxed) >= until {
                return Poll::Ready(());
            }
            *TICK_WAKER.borrow(cs).borrow_mut() = Some(cx.waker().clone());
            Poll::Pending
        })
    })
    .await
}

/// Until the drain task has sent everything queued.
async fn drained() {
    poll_fn(|cx| {
        if QUEUE.pending() == 0 {
            Poll::Ready(())
        } else {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await
}

/// The blocking build's scenario (`crate::scenario`), with the drain task
/// doing the draining: `main` records, the timer and nested interrupts in
/// the middle of appends, then an overrun with nothing draining.
async fn scenario() -> ! {
    // SAFETY: called once, before any interrupt is enabled: nothing can
    // call into `log` concurrently.
    unsafe {
        if log::set_logger_racy(&LOGGER).is_err() {
            board::exit(false);
        }
        log::set_max_level_racy(log::LevelFilter::Trace);
    }
    log::info!(
        "boot: immutable-log firmware on {}, timer {} Hz, async drain",
        crate::Plain(board::NAME),
        TICK_HZ
    );
    log::debug!("queue {} bytes, record room {} bytes", Q, N);
    APPENDED.store(2, Relaxed);
    board::start_timer(TICK_HZ);

    for i in 2..MAIN_RECORDS {
        wait_ticks(MAIN_PERIOD).await;
        match i {
            3 => {
                STAGE.store(MAIN_ARMED, Relaxed);
                record!(
                    Info,
                    "main: this append was interrupted half done (timer, then nested)"
                );
            }
            _ => record!(
                Info,
                "main: record {} of {}, ticks {}",
                i,
                MAIN_RECORDS,
                TICKS.load(Relaxed)
            ),
        }
    }

    let deadline = TICKS.load(Relaxed) + DEADLINE_TICKS;
    while TIMER_WRITTEN.load(Relaxed) < TIMER_RECORDS || STAGE.load(Relaxed) != NESTED_DONE {
        if TICKS.load(Relaxed) > deadline {
            board::exit(false);
        }
        wait_ticks(1).await;
    }
    board::stop_timer();
    drained().await;

    // Overrun: this task does not yield, so the drain task cannot run.
    let lost_before = LOST.load(Relaxed);
    for i in 0..OVERRUN_RECORDS {
        record!(
            Info,
            "overrun: record {} of {}, nothing drains",
            i + 1,
            OVERRUN_RECORDS
        );
    }
    let overrun_lost = LOST.load(Relaxed) - lost_before;
    drained().await;
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
    drained().await;

    let written = head_seq().wrapping_add(1);
    if written != u64::from(APPENDED.load(Relaxed))
        || LOG.unlogged() != 0
        || overrun_lost == 0
        || STAGE.load(Relaxed) == IDLE
    {
        board::exit(false);
    }
    #[cfg(feature = "stack-report")]
    board::report_stack();
    board::exit(true)
}

/// The CMSDK UART0 transmitter as an async writer: it sends what the
/// transmit buffer takes, and when it is full yields to the other tasks
/// instead of spinning with the executor held.
pub struct AsyncUart;

/// CMSDK APB UART0 of QEMU's mps2-an386 (as in `uart.rs`).
const DATA: usize = 0x4000_4000;
const STATE: usize = 0x4000_4004;
const STATE_TX_FULL: u32 = 1 << 0;

fn tx_full() -> bool {
    // SAFETY: the UART's STATE register: valid, aligned MMIO on this board.
    unsafe { core::ptr::read_volatile(STATE as *const u32) & STATE_TX_FULL != 0 }
}

fn put(byte: u8) {
    // SAFETY: the UART's DATA register; only this writer uses it (the
    // transmitter was enabled by `Uart::init`).
    unsafe { core::ptr::write_volatile(DATA as *mut u32, u32::from(byte)) }
}

impl embedded_io_async::ErrorType for AsyncUart {
    type Error = Infallible;
}

impl embedded_io_async::Write for AsyncUart {
    /// At least one byte (the trait's contract for a non-empty buffer): waits
    /// for room, then sends as many as fit without waiting again.
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        if buf.is_empty() {
            return Ok(0);
        }
        poll_fn(|cx| {
            if tx_full() {
                cx.waker().wake_by_ref();
                Poll::Pending
            } else {
                Poll::Ready(())
            }
        })
        .await;
        let mut sent = 0;
        for &byte in buf {
            if sent > 0 && tx_full() {
                break;
            }
            put(byte);
            sent += 1;
        }
        Ok(sent)
    }

    async fn flush(&mut self) -> Result<(), Infallible> {
        poll_fn(|cx| {
            if tx_full() {
                cx.waker().wake_by_ref();
                Poll::Pending
            } else {
                Poll::Ready(())
            }
        })
        .await;
        Ok(())
    }
}
