//! Files on the host through semihosting (QEMU `-semihosting-config
//! enable=on,target=native`; relative names are relative to QEMU's working
//! directory): how the flash demo's dump and the tree checkpoints leave the
//! device. The UART stays the log's alone.

#[cfg(any(feature = "m4", feature = "m0"))]
use cortex_m_semihosting::{nr, syscall};
#[cfg(feature = "rv")]
use riscv_semihosting::{nr, syscall};

/// Semihosting could not open or write a host file.
#[derive(Debug)]
pub struct HostFileError;

/// Writes `parts`, one after another, to the host file `name`, created or
/// truncated. `name` ends with a NUL (semihosting takes a C string).
pub fn write(name: &str, parts: &[&[u8]]) -> Result<(), HostFileError> {
    if !name.ends_with('\0') {
        return Err(HostFileError);
    }
    let len = name.len() - 1;
    // SAFETY: SYS_OPEN reads `len` bytes of the NUL-terminated name, which
    // lives across the call; it returns a handle or -1.
    let fd = unsafe { syscall!(OPEN, name.as_ptr(), nr::open::W_TRUNC_BINARY, len) } as isize;
    if fd < 0 {
        return Err(HostFileError);
    }
    let mut ok = true;
    for part in parts {
        // SAFETY: SYS_WRITE reads `part.len()` bytes of `part`, which lives
        // across the call; it returns the number of bytes NOT written.
        let left = unsafe { syscall!(WRITE, fd, part.as_ptr(), part.len()) };
        ok &= left == 0;
    }
    // SAFETY: closes the handle opened above, once.
    let closed = unsafe { syscall!(CLOSE, fd) } == 0;
    if ok && closed {
        Ok(())
    } else {
        Err(HostFileError)
    }
}
