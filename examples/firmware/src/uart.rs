//! Blocking transmit-only UART drivers, as `embedded_io::Write` sinks: the
//! CMSDK APB UART0 of the MPS2 boards (`m4`), the nRF51 UART0 (`m0`) and the
//! ns16550a of QEMU `virt` (`rv`).
//!
//! `Uart` is a zero-sized handle: only `main` drains the queue into it.
//! Nothing else in the firmware writes to the UART: its output is the log,
//! byte for byte.

use core::convert::Infallible;
use core::ptr::{read_volatile, write_volatile};

/// Transmit side of the board's UART0.
pub struct Uart;

#[cfg(any(feature = "m4", feature = "m0"))]
fn write_reg(addr: usize, value: u32) {
    // SAFETY: `addr` is one of the UART's 32-bit registers below, an MMIO
    // address that is valid and aligned on this board.
    unsafe { write_volatile(addr as *mut u32, value) }
}

#[cfg(any(feature = "m4", feature = "m0"))]
fn read_reg(addr: usize) -> u32 {
    // SAFETY: as in `write_reg`.
    unsafe { read_volatile(addr as *const u32) }
}

#[cfg(feature = "m4")]
mod regs {
    //! ARM CMSDK APB UART (DDI0479), UART0 of QEMU's mps2-an386.
    const BASE: usize = 0x4000_4000;
    pub const DATA: usize = BASE;
    pub const STATE: usize = BASE + 0x04;
    pub const CTRL: usize = BASE + 0x08;
    pub const BAUDDIV: usize = BASE + 0x10;
    /// STATE: the transmit buffer is full.
    pub const STATE_TX_FULL: u32 = 1 << 0;
    /// CTRL: transmitter enabled.
    pub const CTRL_TX_EN: u32 = 1 << 0;
}

#[cfg(feature = "m0")]
mod regs {
    //! nRF51 UART0 (nRF51 Series Reference Manual, chapter 29).
    const BASE: usize = 0x4000_2000;
    pub const TASKS_STARTTX: usize = BASE + 0x008;
    pub const EVENTS_TXDRDY: usize = BASE + 0x11C;
    pub const ENABLE: usize = BASE + 0x500;
    pub const PSELTXD: usize = BASE + 0x50C;
    pub const TXD: usize = BASE + 0x51C;
    pub const BAUDRATE: usize = BASE + 0x524;
    pub const ENABLE_UART: u32 = 4;
    /// micro:bit: the interface MCU's serial line is on P0.24.
    pub const TX_PIN: u32 = 24;
    pub const BAUD_115200: u32 = 0x01D7_E000;
}

#[cfg(feature = "rv")]
mod regs {
    //! ns16550a UART0 of QEMU `virt` (8-bit registers).
    const BASE: usize = 0x1000_0000;
    pub const THR: usize = BASE;
    pub const LSR: usize = BASE + 5;
    /// LSR: the transmit holding register is empty.
    pub const LSR_THRE: u8 = 1 << 5;
}

#[cfg(feature = "rv")]
fn write_reg8(addr: usize, value: u8) {
    // SAFETY: `addr` is one of the ns16550a's 8-bit registers on `virt`.
    unsafe { write_volatile(addr as *mut u8, value) }
}

#[cfg(feature = "rv")]
fn read_reg8(addr: usize) -> u8 {
    // SAFETY: as in `write_reg8`.
    unsafe { read_volatile(addr as *const u8) }
}

impl Uart {
    /// Enables the transmitter. Call once, before the first record.
    pub fn init() {
        #[cfg(feature = "m4")]
        {
            // 25 MHz / 16 (the smallest valid divisor); QEMU ignores the rate.
            write_reg(regs::BAUDDIV, 16);
            write_reg(regs::CTRL, regs::CTRL_TX_EN);
        }
        #[cfg(feature = "m0")]
        {
            write_reg(regs::PSELTXD, regs::TX_PIN);
            write_reg(regs::BAUDRATE, regs::BAUD_115200);
            write_reg(regs::ENABLE, regs::ENABLE_UART);
            write_reg(regs::TASKS_STARTTX, 1);
        }
        // ns16550a: QEMU sends at once; the reset state (8N1) is what it needs.
    }

    fn put(byte: u8) {
        #[cfg(feature = "m4")]
        {
            while read_reg(regs::STATE) & regs::STATE_TX_FULL != 0 {}
            write_reg(regs::DATA, u32::from(byte));
        }
        #[cfg(feature = "m0")]
        {
            write_reg(regs::EVENTS_TXDRDY, 0);
            write_reg(regs::TXD, u32::from(byte));
            while read_reg(regs::EVENTS_TXDRDY) == 0 {}
        }
        #[cfg(feature = "rv")]
        {
            while read_reg8(regs::LSR) & regs::LSR_THRE == 0 {}
            write_reg8(regs::THR, byte);
        }
    }
}

impl embedded_io::ErrorType for Uart {
    type Error = Infallible;
}

impl embedded_io::Write for Uart {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        // Never Ok(0) for a non-empty buffer: every byte is sent.
        buf.iter().copied().for_each(Uart::put);
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), Infallible> {
        #[cfg(feature = "m4")]
        while read_reg(regs::STATE) & regs::STATE_TX_FULL != 0 {}
        // nRF51: `put` already waited for TXDRDY of the last byte.
        Ok(())
    }
}
