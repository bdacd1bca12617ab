//! Feature `flash`: the log kept in flash instead of sent to the UART. A ring
//! of three 8 KiB sectors in a RAM-backed `NorFlash` (the crate's
//! `MockFlash`, 4-byte words, 4 KiB erase units, in `.bss`), written through
//! `immutable_log::flash::FlashLog` across three "boots":
//!
//! 1. boot 1 opens the blank ring and appends records: the first sector
//!    fills, the second begins;
//! 2. boot 2 continues the chain from flash, and the power fails in the
//!    middle of one of its appends (the double cuts a word program short,
//!    leaving torn bytes in the second sector);
//! 3. boot 3 continues again: it keeps the torn bytes in a recovery record at
//!    the start of the third sector, whose opening leaves no erased sector:
//!    the ring wraps (the first sector erased, a wrap note in the chain
//!    saying so); then it appends more.
//!
//! Then the whole region goes to the host file `ring.bin` through
//! semihosting, for `immutable-log verify --ring ring.bin`. Exit status 0
//! only if every step went as described. Needs 24 KiB of RAM for the flash:
//! the `m4` and `rv` boards, not the 16 KiB microbit.

use core::ptr::addr_of_mut;

use embedded_storage::nor_flash::NorFlash;
use immutable_log::flash::{FlashError, FlashLog, Region};
use immutable_log::mock_flash::MockFlash;
use immutable_log::{Level, NoClock};

use crate::{board, host_file};

/// 24 KiB of flash: 4-byte words (as most NOR controllers program), 4 KiB
/// erase units.
type Flash = MockFlash<24576, 4, 4096>;
/// Records of up to 512 bytes of draft, as the UART build's; recovery
/// records of the default 2048.
type Log<'s> = FlashLog<'s, &'static mut Flash, NoClock, 512>;

/// The ring: three sectors of two erase units each, from byte 0.
const REGION: Region = Region {
    start: 0,
    sector_size: 8192,
    sectors: 3,
};

/// Records boot 1 and boot 3 append (boot 2 appends until its power cut).
const BOOT1_RECORDS: u32 = 20;
const BOOT3_RECORDS: u32 = 10;
/// Boot 2: the power fails after this many word programs.
const CUT_AFTER_WORDS: u64 = 300;

/// The "flash chip": RAM that outlives the simulated resets.
static mut FLASH: Flash = MockFlash::zeroed();
/// The scratch buffer a `FlashLog` borrows (the longest record it reads back).
static mut SCRATCH: [u8; Log::SCRATCH] = [0; Log::SCRATCH];

/// The flash and the scratch buffer, as after a reset.
fn reset() -> (&'static mut Flash, &'static mut [u8]) {
    // SAFETY: each `FlashLog` below is dropped before the next `reset`, so
    // these are the only live references to the two statics; no interrupt
    // handler touches them (the timer is never started in this build).
    unsafe { (&mut *addr_of_mut!(FLASH), &mut *addr_of_mut!(SCRATCH)) }
}

fn open() -> Log<'static> {
    let (flash, scratch) = reset();
    match FlashLog::open(flash, REGION, NoClock, scratch) {
        Ok(log) => log,
        Err(_) => board::exit(false),
    }
}

/// The `seq` of the log's last record (fails the run when there is none).
fn head_seq(log: &Log<'_>) -> u64 {
    match log.head().and_then(|h| h.seq) {
        Some(seq) => seq,
        None => board::exit(false),
    }
}

/// Runs the three boots and dumps the region; never returns.
pub fn run() -> ! {
    // Boot 1: a blank ring.
    let mut log = open();
    for i in 0..BOOT1_RECORDS {
        if log
            .append(
                Level::Info,
                format_args!(
                    "boot 1: record {} of {}, on {}",
                    i + 1,
                    BOOT1_RECORDS,
                    board::NAME
                ),
            )
            .is_err()
        {
            board::exit(false);
        }
    }
    let boot1_head = head_seq(&log);
    drop(log);

    // Boot 2: the chain goes on from flash; the power fails mid-append.
    let mut log = open();
    if head_seq(&log) != boot1_head {
        board::exit(false);
    }
    reset().0.cut_after(CUT_AFTER_WORDS, 0xF0);
    let mut appended = 0u32;
    loop {
        match log.append(
            Level::Warning,
            format_args!("boot 2: record {}, the power will fail", appended + 1),
        ) {
            Ok(_) => appended += 1,
            Err(FlashError::Flash(_)) => break,
            Err(_) => board::exit(false),
        }
    }
    let boot2_head = head_seq(&log);
    drop(log);
    reset().0.power_on();

    // Boot 3: the torn record kept in a recovery record in a new sector,
    // whose opening wraps the ring.
    let erases_before = reset().0.erases();
    let mut log = open();
    if head_seq(&log) < boot2_head {
        board::exit(false);
    }
    for i in 0..BOOT3_RECORDS {
        if log
            .append(
                Level::Info,
                format_args!("boot 3: record {} of {}", i + 1, BOOT3_RECORDS),
            )
            .is_err()
        {
            board::exit(false);
        }
    }
    drop(log);
    let flash = reset().0;
    // A wrap erased the oldest sector: two erase units per sector.
    let wrapped =
        flash.erases() - erases_before >= (REGION.sector_size as u64) / Flash::ERASE_SIZE as u64;

    let dumped = host_file::write("ring.bin\0", &[flash.as_bytes()]).is_ok();
    crate::diag!(
        "flash: boot 1 {} records, boot 2 {} before the power cut, boot 3 {}; wrapped: {}",
        BOOT1_RECORDS,
        appended,
        BOOT3_RECORDS,
        wrapped
    );
    board::exit(wrapped && appended > 0 && dumped);
}
