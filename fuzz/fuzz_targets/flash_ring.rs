//! The flash ring (`immutable_log::flash::FlashLog`) over the power-cut
//! NorFlash double (`immutable_log::mock_flash`), driven by random sequences
//! of appends, resets and power cuts: nothing panics; once the power holds,
//! the ring opens; at the end it verifies intact (`verify_ring`: records
//! linked across sectors, torn bytes in exactly one recovery, a wrapped start
//! stated by a wrap note), and every record appended with `Ok` is still in it
//! unless the ring wrapped past it.
//!
//! Input: byte 0 picks the geometry (words of 1, 4 or 8 bytes; erase units
//! of 1 or 4 KiB; four 8 KiB sectors). Then operations, from each byte `op`:
//! - `op % 4 == 0`: append a message of `next byte` characters (its bytes
//!   from the input, as text);
//! - `op % 4 == 1`: reset (the log is dropped and opened again);
//! - `op % 4 == 2`: plan a power cut after `u16` more flash operations,
//!   programs cut to `byte | mask` (the next three bytes: u16 LE, mask);
//! - `op % 4 == 3`: append 20 short records.
//!
//! A failed append or open is a power cut: the power comes back and the log
//! is opened again, as a device would after its reset. At most 64 operations.
//! Then the input's last three bytes change one byte of the ring (u16 LE
//! position, XOR): verifying and opening that ring must not panic.
#![no_main]

use immutable_log::flash::{read_ring, FlashError, FlashLog, Region, RingVerdict};
use immutable_log::mock_flash::MockFlash;
use immutable_log::{Clock, Hash, Level, Timestamp};
use libfuzzer_sys::fuzz_target;
use std::cell::Cell;

const SIZE: usize = 32 * 1024;
const REGION: Region = Region {
    start: 0,
    sector_size: 8192,
    sectors: 4,
};

struct Ticks(Cell<u64>);

impl Clock for Ticks {
    fn now(&self) -> Timestamp {
        self.0.set(self.0.get() + 1);
        Timestamp::from_ticks(self.0.get(), 1000)
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&geometry, ops)) = data.split_first() else {
        return;
    };
    match geometry % 6 {
        0 => run::<1, 1024>(ops),
        1 => run::<4, 1024>(ops),
        2 => run::<8, 1024>(ops),
        3 => run::<1, 4096>(ops),
        4 => run::<4, 4096>(ops),
        _ => run::<8, 4096>(ops),
    }
});

type Log<'s, const W: usize, const E: usize> =
    FlashLog<'s, &'s mut MockFlash<SIZE, W, E>, &'s Ticks, 512>;

/// Opens the log; a cut during the repair is a reset, then it opens again.
fn open<'s, const W: usize, const E: usize>(
    flash: &'s mut MockFlash<SIZE, W, E>,
    clock: &'s Ticks,
    scratch: &'s mut [u8],
) -> Log<'s, W, E> {
    // Each failed attempt is a power cut during the repair: power on, again.
    let mut attempts = 0;
    loop {
        match FlashLog::<_, _, 512>::open(&mut *flash, REGION, clock, &mut *scratch) {
            Ok(_) => break,
            Err(FlashError::Flash(_)) if attempts < 3 => flash.power_on(),
            Err(e) => panic!("the ring cannot be opened: {e}"),
        }
        attempts += 1;
    }
    // Whole now: this start reads, and writes nothing.
    match FlashLog::open(flash, REGION, clock, scratch) {
        Ok(log) => log,
        Err(e) => panic!("the ring does not open again: {e}"),
    }
}

fn run<const W: usize, const E: usize>(ops: &[u8]) {
    let mut flash = MockFlash::<SIZE, W, E>::new();
    let clock = Ticks(Cell::new(0));
    let mut scratch = vec![0u8; 8192];
    let mut acked: Vec<(u64, Hash)> = Vec::new();
    let mut input = ops.iter().copied();
    let mut steps = 0;
    'session: loop {
        let mut log = open(&mut flash, &clock, &mut scratch);
        while let Some(op) = input.next() {
            steps += 1;
            if steps > 64 {
                break 'session;
            }
            match op % 4 {
                0 | 3 => {
                    let (count, text) = if op % 4 == 0 {
                        let len = input.next().unwrap_or(0) as usize;
                        let text: String = (&mut input)
                            .take(len)
                            .map(|b| char::from(b' ' + b % 95))
                            .collect();
                        (1, text)
                    } else {
                        (20, String::from("short"))
                    };
                    for i in 0..count {
                        match log.append(Level::Info, format_args!("{i} {text}")) {
                            Ok(head) => acked.push((head.seq.unwrap(), head.hash)),
                            Err(FlashError::Flash(_)) => {
                                drop(log);
                                flash.power_on();
                                continue 'session;
                            }
                            Err(e) => panic!("append failed: {e}"),
                        }
                    }
                }
                1 => continue 'session,
                _ => {
                    let lo = input.next().unwrap_or(0);
                    let hi = input.next().unwrap_or(0);
                    let mask = input.next().unwrap_or(0xFF);
                    drop(log);
                    flash.cut_after(u64::from(u16::from_le_bytes([lo, hi])), mask | 0x80);
                    continue 'session;
                }
            }
        }
        break;
    }
    flash.power_on();
    let mut log = open(&mut flash, &clock, &mut scratch);
    let last = log.append(Level::Info, format_args!("last")).unwrap();
    drop(log);

    let mut buf = vec![0u8; 16 * 1024];
    let mut found = Vec::new();
    let verdict = read_ring(&mut flash, &REGION, &mut buf, |r| {
        found.push((r.seq().unwrap(), r.hash()))
    })
    .unwrap();
    let report = match verdict {
        RingVerdict::Intact(report) => report,
        other => panic!("the ring does not verify: {other:?}"),
    };
    assert_eq!(report.head, Some(last));
    let from = report.start.and_then(|s| s.seq).unwrap_or(0);
    for entry in acked.iter().filter(|(seq, _)| *seq >= from) {
        assert!(found.contains(entry), "a record appended with Ok is gone");
    }

    // The ring with one byte changed (where the input's last bytes say):
    // verifying it, and opening it, fail or not, but never panic.
    if let [.., lo, hi, flip] = ops {
        let at = usize::from(u16::from_le_bytes([*lo, *hi])) % SIZE;
        flash.as_bytes_mut()[at] ^= flip | 1;
        let _ = read_ring(&mut flash, &REGION, &mut buf, |_| {});
        let mut scratch = vec![0u8; 8192];
        if let Ok(mut log) = FlashLog::<_, _, 512>::open(&mut flash, REGION, &clock, &mut scratch) {
            let _ = log.append(Level::Info, format_args!("after the change"));
        }
    }
}
