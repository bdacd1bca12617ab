//! Cortex-M boards: QEMU `mps2-an386` (M4) and `microbit` (nRF51, M0).
//! SysTick is the timer interrupt, at the lowest priority; NVIC line 20
//! (nRF51 SWI0, unused on mps2-an386), pended by software, is the nested
//! interrupt above it.

use cortex_m::interrupt::InterruptNumber;
use cortex_m::peripheral::{scb::SystemHandler, syst::SystClkSource, NVIC, SCB, SYST};
use cortex_m_rt::{exception, ExceptionFrame};
use cortex_m_semihosting::debug;

pub use crate::uart::Uart;

/// The core clock SysTick counts: 25 MHz on MPS2, 16 MHz on the nRF51.
#[cfg(feature = "m4")]
pub const CORE_HZ: u32 = 25_000_000;
#[cfg(feature = "m0")]
pub const CORE_HZ: u32 = 16_000_000;

/// The board's name in what the firmware prints.
#[cfg(feature = "m4")]
pub const NAME: &str = "Cortex-M4 (mps2-an386)";
#[cfg(feature = "m0")]
pub const NAME: &str = "Cortex-M0 (microbit)";

/// `-icount shift=N` the instruction counts assume: 2^10 ns of virtual time
/// per instruction, 25.6 (M4) or 16.4 (M0) SysTick counts.
pub const ICOUNT_SHIFT: u32 = 10;

/// The nested interrupt's NVIC line.
#[derive(Clone, Copy)]
struct Nested;

// SAFETY: 20 is a valid NVIC line on both boards (nRF51 SWI0; mps2-an386 has 32).
unsafe impl InterruptNumber for Nested {
    fn number(self) -> u16 {
        20
    }
}

fn peripherals() -> cortex_m::Peripherals {
    // SAFETY: only `main` configures SysTick, the NVIC and SCB priorities,
    // never while a handler does; the handlers only pend (atomic registers).
    unsafe { cortex_m::Peripherals::steal() }
}

/// Enables the UART.
pub fn init() {
    Uart::init();
}

/// SysTick interrupts at `hz`, at the lowest priority; the nested interrupt
/// above it.
pub fn start_timer(hz: u32) {
    let mut p = peripherals();
    // SAFETY: priorities only change who preempts whom; every handler here
    // is written to be preempted by the nested one.
    unsafe {
        p.SCB.set_priority(SystemHandler::SysTick, 0xc0);
        p.NVIC.set_priority(Nested, 0x00);
        NVIC::unmask(Nested);
    }
    p.SYST.set_clock_source(SystClkSource::Core);
    p.SYST.set_reload(CORE_HZ / hz - 1);
    p.SYST.clear_current();
    p.SYST.enable_interrupt();
    p.SYST.enable_counter();
}

/// No more timer or nested interrupts.
pub fn stop_timer() {
    let mut p = peripherals();
    p.SYST.disable_interrupt();
    p.SYST.disable_counter();
    NVIC::mask(Nested);
}

/// The timer interrupt becomes pending now (taken when interrupts are unmasked).
pub fn pend_timer() {
    SCB::set_pendst();
}

/// The nested interrupt becomes pending now.
pub fn pend_nested() {
    NVIC::pend(Nested);
}

/// Sleeps until an interrupt.
pub fn wait() {
    cortex_m::asm::wfi();
}

/// Ends the QEMU run through semihosting.
pub fn exit(ok: bool) -> ! {
    debug::exit(if ok {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    loop {
        cortex_m::asm::wfi();
    }
}

pub fn interrupts_enabled() -> bool {
    cortex_m::register::primask::read().is_active()
}

pub fn disable_interrupts() {
    cortex_m::interrupt::disable();
}

/// # Safety
/// Only where interrupts were enabled before (the critical section's release).
pub unsafe fn enable_interrupts() {
    // SAFETY: the caller restores a state that was there.
    unsafe { cortex_m::interrupt::enable() }
}

/// SysTick free-running over its whole 24 bits, no interrupt: the counter
/// the `icount` build reads.
pub fn start_counter() {
    let mut p = peripherals();
    p.SYST.disable_interrupt();
    p.SYST.set_clock_source(SystClkSource::Core);
    p.SYST.set_reload(0x00ff_ffff);
    p.SYST.clear_current();
    p.SYST.enable_counter();
}

/// SysTick's current value (counts down).
pub fn counter() -> u32 {
    SYST::get_current()
}

/// Counter units from `start` to `now` (less than one wrap).
pub fn elapsed(start: u32, now: u32) -> u32 {
    start.wrapping_sub(now) & 0x00ff_ffff
}

/// Counter units as instructions, under `-icount shift=ICOUNT_SHIFT`.
pub fn to_insns(units: u32) -> u32 {
    (u64::from(units) * 1_000_000_000 / (u64::from(CORE_HZ) << ICOUNT_SHIFT)) as u32
}

/// Prints a line to QEMU's stderr (semihosting), never to the UART.
#[macro_export]
macro_rules! diag {
    ($($arg:tt)*) => { cortex_m_semihosting::heprintln!($($arg)*) };
}

/// Prints the stack's peak use: cortex-m-rt painted the free RAM at reset,
/// and the lowest word no longer painted is the deepest the stack went.
#[cfg(feature = "stack-report")]
pub fn report_stack() {
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
    crate::diag!("stack: {} bytes used at peak, of {} free", top - deepest, top - low);
}

#[exception]
fn SysTick() {
    crate::on_timer();
}

#[exception]
unsafe fn DefaultHandler(irqn: i16) {
    if irqn == 20 {
        crate::on_nested();
    }
}

#[exception]
unsafe fn HardFault(_frame: &ExceptionFrame) -> ! {
    exit(false)
}
