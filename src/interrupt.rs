//! Whether the caller runs in an interrupt handler, read from the hardware:
//! no detector for the application to write.

/// True when the caller runs in an interrupt (or exception) handler.
///
/// - Cortex-M (`target_arch = "arm"`, `target_os = "none"`): the active
///   exception number (IPSR, which SCB ICSR's VECTACTIVE shows) is not 0.
/// - RISC-V (`riscv32`/`riscv64`, `target_os = "none"`): machine interrupts
///   are disabled (`mstatus.MIE` clear), as the hardware leaves them on entry
///   to a trap handler. Thread code that disabled interrupts itself reads as
///   an interrupt too, which is what the chain needs to know: on one hart, a
///   busy chain seen from there is held by code that cannot run until it
///   returns.
/// - Anywhere else (hosts): false.
///
/// `Logger::auto` (feature `log`) asks it before each record; the
/// chains never wait on bare metal, whatever it says.
pub fn in_interrupt() -> bool {
    #[cfg(all(target_arch = "arm", target_os = "none"))]
    {
        use cortex_m::peripheral::{scb::VectActive, SCB};
        SCB::vect_active() != VectActive::ThreadMode
    }
    #[cfg(all(
        any(target_arch = "riscv32", target_arch = "riscv64"),
        target_os = "none"
    ))]
    {
        !riscv::register::mstatus::read().mie()
    }
    #[cfg(not(all(
        any(target_arch = "arm", target_arch = "riscv32", target_arch = "riscv64"),
        target_os = "none"
    )))]
    {
        false
    }
}

/// True where a busy chain may be waited for: on a host, where the holder is
/// another thread the OS will run. On bare metal (`target_os = "none"`) a busy
/// chain is held by code this caller interrupted (or by the caller itself),
/// which cannot run until the caller returns: waiting would never end.
pub(crate) const fn may_wait() -> bool {
    cfg!(not(target_os = "none"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_host_is_never_in_an_interrupt_and_may_wait() {
        assert!(!super::in_interrupt());
        assert!(super::may_wait());
    }
}
