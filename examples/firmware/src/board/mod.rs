//! The board: UART, timer interrupt, a second interrupt of higher priority,
//! interrupt masking, the instruction counter and the way out of QEMU.

#[cfg(any(feature = "m4", feature = "m0"))]
#[cfg_attr(not(feature = "icount"), allow(dead_code))]
mod cortex_m;
#[cfg(any(feature = "m4", feature = "m0"))]
pub use self::cortex_m::*;

#[cfg(feature = "rv")]
#[cfg_attr(not(feature = "icount"), allow(dead_code))]
mod riscv;
#[cfg(feature = "rv")]
pub use self::riscv::*;
