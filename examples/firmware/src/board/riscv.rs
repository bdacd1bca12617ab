//! RISC-V board: QEMU `virt` (riscv32imc, machine mode). The CLINT's machine
//! timer is the timer interrupt; its software interrupt (MSIP), raised by
//! code, is the nested one: the timer handler lets it in with
//! `riscv::interrupt::nested`.

use core::ptr::{read_volatile, write_volatile};

use riscv::interrupt::Interrupt;
use riscv::register::{mstatus, minstret};
use riscv_semihosting::debug;

pub use crate::uart::Uart;

/// The CLINT's timebase on `virt`.
pub const CORE_HZ: u32 = 10_000_000;

pub const NAME: &str = "RISC-V rv32imc (virt)";

/// `-icount shift=0`: minstret then counts instructions.
pub const ICOUNT_SHIFT: u32 = 0;

const MSIP: usize = 0x0200_0000;
const MTIMECMP: usize = 0x0200_4000;
const MTIME: usize = 0x0200_bff8;

/// Timer period in CLINT ticks (0: stopped).
static PERIOD: core::sync::atomic::AtomicU32 = core::sync::atomic::AtomicU32::new(0);

fn write_reg(addr: usize, value: u32) {
    // SAFETY: `addr` is one of the CLINT's 32-bit registers on `virt`.
    unsafe { write_volatile(addr as *mut u32, value) }
}

fn read_reg(addr: usize) -> u32 {
    // SAFETY: as in `write_reg`.
    unsafe { read_volatile(addr as *const u32) }
}

fn mtime() -> u64 {
    loop {
        let hi = read_reg(MTIME + 4);
        let lo = read_reg(MTIME);
        if read_reg(MTIME + 4) == hi {
            return (u64::from(hi) << 32) | u64::from(lo);
        }
    }
}

fn set_mtimecmp(at: u64) {
    // High word first at its maximum, so no spurious match in between.
    write_reg(MTIMECMP + 4, u32::MAX);
    write_reg(MTIMECMP, at as u32);
    write_reg(MTIMECMP + 4, (at >> 32) as u32);
}

pub fn init() {
    Uart::init();
    set_mtimecmp(u64::MAX);
}

/// The machine timer interrupts at `hz`; the software interrupt is enabled.
pub fn start_timer(hz: u32) {
    let period = CORE_HZ / hz;
    PERIOD.store(period, core::sync::atomic::Ordering::Relaxed);
    set_mtimecmp(mtime() + u64::from(period));
    // SAFETY: both handlers are defined below; enabling them is what the
    // program wants from here on.
    unsafe {
        riscv::interrupt::enable_interrupt(Interrupt::MachineTimer);
        riscv::interrupt::enable_interrupt(Interrupt::MachineSoft);
        riscv::interrupt::enable();
    }
}

pub fn stop_timer() {
    riscv::interrupt::disable_interrupt(Interrupt::MachineTimer);
    riscv::interrupt::disable_interrupt(Interrupt::MachineSoft);
    set_mtimecmp(u64::MAX);
}

/// The timer interrupt becomes pending now.
pub fn pend_timer() {
    set_mtimecmp(0);
}

/// The nested (software) interrupt becomes pending now.
pub fn pend_nested() {
    write_reg(MSIP, 1);
}

pub fn wait() {
    riscv::asm::wfi();
}

/// Ends the QEMU run through semihosting.
pub fn exit(ok: bool) -> ! {
    debug::exit(if ok {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    loop {
        riscv::asm::wfi();
    }
}

pub fn interrupts_enabled() -> bool {
    mstatus::read().mie()
}

pub fn disable_interrupts() {
    riscv::interrupt::disable();
}

/// # Safety
/// Only where interrupts were enabled before (the critical section's release).
pub unsafe fn enable_interrupts() {
    // SAFETY: the caller restores a state that was there.
    unsafe { riscv::interrupt::enable() }
}

/// minstret needs no setup.
pub fn start_counter() {}

/// Instructions retired (under `-icount`, QEMU counts them exactly).
pub fn counter() -> u32 {
    minstret::read() as u32
}

pub fn elapsed(start: u32, now: u32) -> u32 {
    now.wrapping_sub(start)
}

pub fn to_insns(units: u32) -> u32 {
    units
}

/// Prints a line to QEMU's stderr (semihosting), never to the UART.
#[macro_export]
macro_rules! diag {
    ($($arg:tt)*) => { riscv_semihosting::heprintln!($($arg)*) };
}

#[riscv_rt::core_interrupt(Interrupt::MachineTimer)]
fn machine_timer() {
    let period = PERIOD.load(core::sync::atomic::Ordering::Relaxed);
    set_mtimecmp(mtime() + u64::from(period));
    // SAFETY: in an interrupt handler, not in a critical section, and the
    // timer's own interrupt is cleared (mtimecmp moved ahead) first.
    unsafe { riscv::interrupt::nested(crate::on_timer) };
}

#[riscv_rt::core_interrupt(Interrupt::MachineSoft)]
fn machine_soft() {
    write_reg(MSIP, 0);
    crate::on_nested();
}
