//! The flash ring (`immutable_log::flash`) against the power-cut NorFlash
//! double (`immutable_log::mock_flash`): word sizes 1, 4 and 8 bytes, erase
//! units of 1 KiB and 4 KiB, power cut at every word program and every erase
//! of an append, of the repair that follows (and again inside that repair),
//! and of a wrap. After each cut the ring reopens, goes on, and verifies whole
//! with `verify_ring`, which also checks that the torn bytes are kept, exactly,
//! in one recovery; no record whose append returned `Ok` is lost.
#![cfg(feature = "flash")]
// `drop(log)` is a reset: the log goes, the flash stays.
#![allow(clippy::drop_non_drop)]

use std::cell::Cell;

use embedded_storage::nor_flash::NorFlash;
use immutable_log::flash::{
    find_region, read_ring, verify_ring, FlashError, FlashLog, GeometryError, Region, RingFault,
    RingReport, RingVerdict, SliceFlash,
};
use immutable_log::mock_flash::{MockFlash, MockFlashError};
use immutable_log::{Clock, Hash, Head, Level, Timestamp};

/// Four sectors of 8 KiB.
const SIZE: usize = 32 * 1024;
const REGION: Region = Region {
    start: 0,
    sector_size: 8192,
    sectors: 4,
};
/// The record buffer.
const N: usize = 512;
/// Big enough for any ring these tests write, and a torn record beside it.
const VERIFY_BUF: usize = 16 * 1024;

type Log<'s, F> = FlashLog<'s, F, &'s TestClock, N>;

/// A tick counter: each record gets the next millisecond.
struct TestClock(Cell<u64>);

impl TestClock {
    fn new() -> Self {
        TestClock(Cell::new(1_000))
    }
}

impl Clock for TestClock {
    fn now(&self) -> Timestamp {
        self.0.set(self.0.get() + 1);
        Timestamp::from_ticks(self.0.get(), 1_000)
    }
}

/// The scratch buffer every log here gets (the largest `SCRATCH` needs).
fn scratch() -> Vec<u8> {
    vec![0; 8 * 1024]
}

fn open<'s, F: NorFlash>(
    flash: F,
    clock: &'s TestClock,
    scratch: &'s mut [u8],
) -> Result<Log<'s, F>, FlashError<F::Error>> {
    FlashLog::open(flash, REGION, clock, scratch)
}

/// Record `i`: quotes, a pipe, a backslash, a newline and non-ASCII, so a cut
/// lands inside every kind of byte, a UTF-8 sequence's middle too; its length
/// varies with `i`, so records end at every offset in a word.
fn append<F: NorFlash>(log: &mut Log<'_, F>, i: u32) -> Result<Head, FlashError<F::Error>> {
    let pad = "x".repeat((i as usize * 7) % 23);
    log.append(
        Level::Info,
        format_args!("record {i}: \"t\" = {} µK | ok \\ next\nline {pad}", 20 + i),
    )
}

/// Verifies the whole ring: it must be intact.
fn verify<const W: usize, const E: usize>(flash: &MockFlash<SIZE, W, E>) -> RingReport {
    let mut copy = flash.clone();
    copy.power_on();
    let mut buf = vec![0u8; VERIFY_BUF];
    match verify_ring(&mut copy, &REGION, &mut buf).unwrap() {
        RingVerdict::Intact(report) => report,
        other => panic!("the ring does not verify: {other:?}"),
    }
}

/// The hashes of the records in the ring, in ring order.
fn hashes<const W: usize, const E: usize>(flash: &MockFlash<SIZE, W, E>) -> Vec<(u64, Hash)> {
    let mut copy = flash.clone();
    copy.power_on();
    let mut buf = vec![0u8; VERIFY_BUF];
    let mut out = Vec::new();
    read_ring(&mut copy, &REGION, &mut buf, |r| {
        out.push((r.seq().unwrap(), r.hash()))
    })
    .unwrap();
    out
}

/// A ring of `records` records, written without a power loss.
fn ring_of<const W: usize, const E: usize>(
    records: u32,
    clock: &TestClock,
) -> MockFlash<SIZE, W, E> {
    let mut flash = MockFlash::new();
    let mut scratch = scratch();
    let mut log = open(&mut flash, clock, &mut scratch).unwrap();
    for i in 0..records {
        append(&mut log, i).unwrap();
    }
    drop(log);
    flash
}

/// How many records fill sector 0: the next one opens sector 1.
fn records_before_a_new_sector<const W: usize, const E: usize>() -> u32 {
    let clock = TestClock::new();
    let mut flash = MockFlash::<SIZE, W, E>::new();
    let mut scratch = scratch();
    let mut log = open(&mut flash, &clock, &mut scratch).unwrap();
    let mut i = 0;
    loop {
        let pos_before = log.head();
        append(&mut log, i).unwrap();
        drop(log);
        if verify(&flash).sectors > 1 {
            assert!(pos_before.is_some());
            return i;
        }
        log = open(&mut flash, &clock, &mut scratch).unwrap();
        i += 1;
    }
}

/// Runs `$test::<W, E>` for every word size and erase unit.
macro_rules! each_geometry {
    ($test:ident) => {
        $test::<1, 1024>();
        $test::<4, 1024>();
        $test::<8, 1024>();
        $test::<1, 4096>();
        $test::<4, 4096>();
        $test::<8, 4096>();
    };
}

#[test]
fn the_sizes_a_ring_needs_are_stated() {
    type L = FlashLog<'static, &'static mut MockFlash<SIZE, 8, 4096>, &'static TestClock, N>;
    const { assert!(L::MIN_SECTOR <= 8192) };
    const { assert!(L::SCRATCH <= 8 * 1024) };
    // Besides its flash and clock (two references here).
    let own = std::mem::size_of::<L>() - 2 * std::mem::size_of::<usize>();
    assert!(own <= 112, "{own} bytes");
    println!(
        "N = 512, words of 8: MIN_SECTOR {}, SCRATCH {}, the log itself {own} bytes",
        L::MIN_SECTOR,
        L::SCRATCH
    );
}

#[test]
fn clean_restarts_continue_the_chain_and_write_nothing() {
    fn run<const W: usize, const E: usize>() {
        let clock = TestClock::new();
        let mut flash = ring_of::<W, E>(3, &clock);
        let mut scratch = scratch();
        for round in 0..3u64 {
            let ops = flash.ops();
            let log = open(&mut flash, &clock, &mut scratch).unwrap();
            assert_eq!(log.head().and_then(|h| h.seq), Some(2 + 2 * round));
            drop(log);
            assert_eq!(
                flash.ops(),
                ops,
                "a clean start programs and erases nothing"
            );
            let mut log = open(&mut flash, &clock, &mut scratch).unwrap();
            append(&mut log, 100).unwrap();
            append(&mut log, 101).unwrap();
        }
        let report = verify(&flash);
        assert_eq!(report.records, 9);
        assert_eq!(report.head.and_then(|h| h.seq), Some(8));
        assert!(!report.wrapped);
    }
    each_geometry!(run);
}

/// Power lost at every word program of a record (nothing of the word
/// programmed, or the word half programmed), for a record inside a sector
/// and for the first record of a new sector (whose opening is cut too).
/// After each: restart, go on, verify (the verifier checks that the torn
/// bytes are kept exactly in one recovery), and find every record whose
/// append returned `Ok`.
#[test]
fn power_cut_at_every_operation_of_an_append() {
    fn run<const W: usize, const E: usize>() {
        let mut cases = 0;
        let mut tears = 0;
        // 3 records: the next is inside sector 0; then as many as make the
        // next one open sector 1.
        for before in [3, records_before_a_new_sector::<W, E>()] {
            let clock = TestClock::new();
            let base = ring_of::<W, E>(before, &clock);
            let kept = hashes(&base);
            // The append's operations, counted on a copy.
            let mut full = base.clone();
            let start_ops = full.ops();
            let mut scratch = scratch();
            let mut log = open(&mut full, &clock, &mut scratch).unwrap();
            append(&mut log, before).unwrap();
            drop(log);
            let ops = full.ops() - start_ops;
            for cut in 0..ops {
                for mask in [0xFF, 0xC0] {
                    let clock = TestClock::new();
                    let mut flash = base.clone();
                    flash.cut_after(cut, mask);
                    let mut scratch = scratch.clone();
                    let mut log = open(&mut flash, &clock, &mut scratch).unwrap();
                    assert!(append(&mut log, before).is_err(), "cut {cut}");
                    drop(log);
                    flash.power_on();
                    let mut log = open(&mut flash, &clock, &mut scratch).unwrap();
                    let a = append(&mut log, 1000).unwrap();
                    let b = append(&mut log, 1001).unwrap();
                    drop(log);
                    let report = verify(&flash);
                    let now = hashes(&flash);
                    assert_eq!(now[..kept.len()], kept[..], "cut {cut}: a record changed");
                    assert_eq!(
                        now[now.len() - 2..],
                        [(a.seq.unwrap(), a.hash), (b.seq.unwrap(), b.hash)]
                    );
                    assert!(report.tears <= 1, "cut {cut}: {report:?}");
                    tears += report.tears;
                    cases += 1;
                }
            }
        }
        assert!(cases > 100, "{cases} cases");
        assert!(tears > 20, "{tears} tears");
    }
    each_geometry!(run);
}

/// Torn bytes at the end of the newest sector, then power lost at every
/// operation of their repair (and, for every fifth, again in the middle of
/// the next attempt). The next whole start always ends with the same ring:
/// every complete record, and the torn bytes in exactly one recovery.
#[test]
fn power_cut_at_every_operation_of_the_repair() {
    fn run<const W: usize, const E: usize>() {
        let clock = TestClock::new();
        let base = ring_of::<W, E>(4, &clock);
        let kept = hashes(&base);
        // Tear record 4 in its middle.
        let mut torn = base.clone();
        torn.cut_after(60 / W as u64 + 5, 0xC0);
        let mut scratch = scratch();
        let mut log = open(&mut torn, &clock, &mut scratch).unwrap();
        assert!(append(&mut log, 4).is_err());
        drop(log);
        torn.power_on();

        // The repair without a cut: its length in operations, its result.
        let mut repaired = torn.clone();
        let start = repaired.ops();
        drop(open(&mut repaired, &clock, &mut scratch).unwrap());
        let repair_ops = repaired.ops() - start;
        let whole = verify(&repaired);
        assert_eq!(whole.tears, 1);
        assert!(repair_ops > 10, "{repair_ops} operations");

        let mut second_cuts = 0;
        for k in 0..repair_ops {
            let mut flash = torn.clone();
            let mask = if k % 2 == 0 { 0xFF } else { 0xC0 };
            flash.cut_after(k, mask);
            let err = open(&mut flash, &clock, &mut scratch)
                .map(|_| ())
                .unwrap_err();
            assert!(
                matches!(err, FlashError::Flash(MockFlashError::PowerCut { .. })),
                "{err:?}"
            );
            if k % 5 == 0 {
                flash.power_on();
                flash.cut_after(k / 2, mask ^ 0x3F);
                second_cuts += usize::from(open(&mut flash, &clock, &mut scratch).is_err());
            }
            flash.power_on();
            let mut log = open(&mut flash, &clock, &mut scratch).unwrap();
            append(&mut log, 1000).unwrap();
            drop(log);
            let report = verify(&flash);
            assert_eq!(
                report.tears, 1,
                "cut {k}: the torn bytes are recovered once"
            );
            assert_eq!(report.records, whole.records + 1, "cut {k}");
            assert_eq!(hashes(&flash)[..kept.len()], kept[..], "cut {k}");
        }
        assert!(
            second_cuts > repair_ops as usize / 10,
            "{second_cuts} double cuts"
        );
    }
    each_geometry!(run);
}

/// The ring fills and wraps: the oldest sector is erased, the chain goes on,
/// and the ring verifies as wrapped, its start stated by a wrap note.
#[test]
fn the_ring_wraps_and_says_what_it_erased() {
    fn run<const W: usize, const E: usize>() {
        let clock = TestClock::new();
        let mut flash = MockFlash::<SIZE, W, E>::new();
        let mut scratch = scratch();
        let mut log = open(&mut flash, &clock, &mut scratch).unwrap();
        let mut last = None;
        for i in 0..200 {
            last = Some(append(&mut log, i).unwrap());
        }
        drop(log);
        let report = verify(&flash);
        assert!(report.wrapped);
        assert!(report.oldest >= 4, "{report:?}");
        let start = report.start.unwrap();
        assert!(start.seq.unwrap() > 0);
        assert_eq!(report.head, last);
        // Records plus a note per wrap: every seq from the start to the head.
        assert_eq!(
            report.records,
            last.unwrap().seq.unwrap() - start.seq.unwrap() + 1
        );
        let notes = count_notes(&flash);
        assert!(notes >= 1, "no wrap note");
    }
    each_geometry!(run);
}

fn count_notes<const W: usize, const E: usize>(flash: &MockFlash<SIZE, W, E>) -> usize {
    let mut copy = flash.clone();
    let mut buf = vec![0u8; VERIFY_BUF];
    let mut notes = 0;
    read_ring(&mut copy, &REGION, &mut buf, |r| {
        notes += usize::from(
            r.message_json()
                .starts_with("immutable-log: ring wrap: erased sector"),
        )
    })
    .unwrap();
    notes
}

/// Power lost at every operation of the append that wraps the ring (the
/// sector's opening, its wrap note, the dead mark, the erase).
#[test]
fn power_cut_at_every_operation_of_a_wrap() {
    fn run<const W: usize, const E: usize>() {
        // Fill until the next append opens the last free sector.
        let clock = TestClock::new();
        let mut base = MockFlash::<SIZE, W, E>::new();
        let mut scratch = scratch();
        let mut i = 0;
        let ops = loop {
            let mut trial = base.clone();
            let start = trial.erases();
            let mut log = open(&mut trial, &clock, &mut scratch).unwrap();
            append(&mut log, i).unwrap();
            drop(log);
            if trial.erases() > start {
                let mut count = base.clone();
                let from = count.ops();
                let mut log = open(&mut count, &clock, &mut scratch).unwrap();
                append(&mut log, i).unwrap();
                drop(log);
                break count.ops() - from;
            }
            base = trial;
            i += 1;
        };
        let kept = hashes(&base);
        for cut in 0..ops {
            let mut flash = base.clone();
            flash.cut_after(cut, if cut % 2 == 0 { 0xFF } else { 0xC0 });
            let mut log = open(&mut flash, &clock, &mut scratch).unwrap();
            let acked = append(&mut log, i).ok();
            drop(log);
            flash.power_on();
            let mut log = open(&mut flash, &clock, &mut scratch).unwrap();
            let next = append(&mut log, i + 1).unwrap();
            drop(log);
            let report = verify(&flash);
            assert_eq!(report.head, Some(next), "cut {cut}");
            let now = hashes(&flash);
            let from = report.start.unwrap().seq.unwrap();
            for (seq, hash) in kept
                .iter()
                .chain(acked.map(|h| (h.seq.unwrap(), h.hash)).iter())
            {
                if *seq >= from {
                    assert!(now.contains(&(*seq, *hash)), "cut {cut}: seq {seq} lost");
                }
            }
        }
    }
    each_geometry!(run);
}

/// Many sessions, each cut short at a pseudo-random operation (during the
/// start's repair, or while appending), over several laps of the ring.
/// Every record appended with `Ok` and not wrapped away is still there.
#[test]
fn many_restarts_with_random_power_cuts() {
    fn run<const W: usize, const E: usize>() {
        let (mut sessions, mut cuts) = (0, 0);
        for seed in 1..=4u64 {
            let clock = TestClock::new();
            let mut flash = MockFlash::<SIZE, W, E>::new();
            let mut scratch = scratch();
            let mut acked = Vec::new();
            let mut rng = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let mut next = move || {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                rng
            };
            for _ in 0..40 {
                let r = next();
                let mask = [0xFF, 0xC0, 0x80, 0xF0][(r % 4) as usize];
                flash.power_on();
                flash.cut_after((r >> 8) % (4000 / W as u64 + 200), mask);
                sessions += 1;
                let Ok(mut log) = open(&mut flash, &clock, &mut scratch) else {
                    cuts += 1;
                    continue;
                };
                for i in 0.. {
                    match append(&mut log, i) {
                        Ok(head) => acked.push((head.seq.unwrap(), head.hash)),
                        Err(FlashError::Flash(_)) => {
                            cuts += 1;
                            break;
                        }
                        Err(e) => panic!("seed {seed}: {e}"),
                    }
                }
            }
            flash.power_on();
            let mut log = open(&mut flash, &clock, &mut scratch).unwrap();
            let last = append(&mut log, 9999).unwrap();
            drop(log);
            let report = verify(&flash);
            assert_eq!(report.head, Some(last), "seed {seed}");
            let from = report.start.unwrap().seq.unwrap();
            let now = hashes(&flash);
            for entry in acked.iter().filter(|(seq, _)| *seq >= from) {
                assert!(
                    now.contains(entry),
                    "seed {seed}: a record appended with Ok is gone"
                );
            }
            assert!(report.wrapped, "seed {seed}: {report:?}");
        }
        assert!(
            sessions >= 160 && cuts > 100,
            "{sessions} sessions, {cuts} cuts"
        );
    }
    each_geometry!(run);
}

/// A restart reads the headers and the newest sector, not the whole ring.
#[test]
fn a_restart_reads_a_bounded_part_of_the_ring() {
    let clock = TestClock::new();
    let mut flash = ring_of::<4, 1024>(60, &clock);
    let mut scratch = scratch();
    let before = flash.bytes_read();
    drop(open(&mut flash, &clock, &mut scratch).unwrap());
    let read = flash.bytes_read() - before;
    // Two passes over four headers (and dead marks), one sector.
    assert!(
        read <= 8 * 160 + REGION.sector_size as u64,
        "{read} bytes read"
    );
    assert!(verify(&flash).sectors >= 3);
}

/// What a verifier must refuse in a wrapped ring: the oldest sector erased
/// by someone else (records removed, no note says so), a sector in the
/// middle erased, a changed byte, a changed torn byte.
#[test]
fn the_verifier_tells_wrapped_from_removed() {
    let clock = TestClock::new();
    let mut flash = MockFlash::<SIZE, 4, 4096>::new();
    let mut scratch = scratch();
    let mut log = open(&mut flash, &clock, &mut scratch).unwrap();
    for i in 0..120 {
        append(&mut log, i).unwrap();
    }
    drop(log);
    let report = verify(&flash);
    assert!(report.wrapped);
    let verdict = |flash: &mut MockFlash<SIZE, 4, 4096>| {
        let mut buf = vec![0u8; VERIFY_BUF];
        verify_ring(flash, &REGION, &mut buf).unwrap()
    };
    let slot = |number: u64| (number % 4) as usize * 8192;

    // The oldest sector erased behind the ring's back.
    let mut erased = flash.clone();
    let at = slot(report.oldest);
    erased.as_bytes_mut()[at..at + 8192].fill(0xFF);
    match verdict(&mut erased) {
        RingVerdict::Failed(_, RingFault::WrapUnaccounted { .. }) => {}
        other => panic!("{other:?}"),
    }
    // A sector in the middle erased.
    let mut hole = flash.clone();
    let at = slot(report.oldest + 1);
    hole.as_bytes_mut()[at..at + 8192].fill(0xFF);
    match verdict(&mut hole) {
        RingVerdict::Failed(_, RingFault::SectorMissing { number }) => {
            assert_eq!(number, report.oldest + 1)
        }
        other => panic!("{other:?}"),
    }
    // One byte of a record changed (a bit cleared, as a program can).
    let mut changed = flash.clone();
    let at = slot(report.oldest) + 300;
    changed.as_bytes_mut()[at] &= 0xFE;
    assert!(matches!(verdict(&mut changed), RingVerdict::Failed(..)));

    // A torn record, recovered; then one torn byte changed in the flash.
    let mut torn = flash.clone();
    torn.cut_after(40, 0xFF);
    let mut log = open(&mut torn, &clock, &mut scratch).unwrap();
    assert!(append(&mut log, 500).is_err());
    drop(log);
    torn.power_on();
    drop(open(&mut torn, &clock, &mut scratch).unwrap());
    assert_eq!(verify(&torn).tears, 1);
    let bytes = torn.as_bytes().to_vec();
    // The torn record's start: the first display line after the last
    // complete record of its sector, found from its recovery's header.
    let mut tampered = false;
    for at in 0..bytes.len() - 4 {
        if bytes[at..at + 4] == *b"ok \\" {
            let mut t = torn.clone();
            t.as_bytes_mut()[at] &= 0xFE;
            if let RingVerdict::Failed(_, RingFault::PrefixMismatch { .. }) = verdict(&mut t) {
                tampered = true;
                break;
            }
        }
    }
    assert!(tampered, "a changed torn byte goes unseen");
}

#[test]
fn regions_that_cannot_hold_a_ring_are_refused() {
    let clock = TestClock::new();
    let mut flash = MockFlash::<SIZE, 4, 4096>::new();
    let mut scratch = scratch();
    let mut try_region = |region: Region| {
        FlashLog::<_, _, N>::new(&mut flash, region, &clock, &mut scratch)
            .map(|_| ())
            .unwrap_err()
    };
    let two = Region {
        sectors: 2,
        ..REGION
    };
    assert_eq!(
        try_region(two),
        FlashError::Geometry(GeometryError::TooFewSectors { sectors: 2 })
    );
    let small = Region {
        sector_size: 4096,
        sectors: 8,
        ..REGION
    };
    assert!(matches!(
        try_region(small),
        FlashError::Geometry(GeometryError::SectorTooSmall { have: 4096, .. })
    ));
    let unaligned = Region {
        start: 1024,
        ..REGION
    };
    assert!(matches!(
        try_region(unaligned),
        FlashError::Geometry(GeometryError::NotEraseAligned { .. })
    ));
    let past = Region {
        sectors: 5,
        ..REGION
    };
    assert!(matches!(
        try_region(past),
        FlashError::Geometry(GeometryError::OutOfFlash { .. })
    ));
    let mut short = [0u8; 100];
    assert!(matches!(
        FlashLog::<_, _, N>::new(&mut flash, REGION, &clock, &mut short).map(|_| ()),
        Err(FlashError::ScratchTooSmall { have: 100, .. })
    ));
}

/// A dump is found by its headers: with the ring's free (erased) slot at
/// the start of the dump, and with the ring at an offset in a larger dump.
#[test]
fn a_dump_finds_its_ring_by_its_headers() {
    let clock = TestClock::new();
    let mut flash = MockFlash::<SIZE, 4, 4096>::new();
    let mut scratch = scratch();
    let mut log = open(&mut flash, &clock, &mut scratch).unwrap();
    let mut i = 0;
    // Until the ring has wrapped and its free slot is slot 0.
    loop {
        append(&mut log, i).unwrap();
        i += 1;
        drop(log);
        let report = verify(&flash);
        if report.wrapped && report.oldest % 4 == 1 {
            break;
        }
        log = open(&mut flash, &clock, &mut scratch).unwrap();
    }
    assert!(flash.as_bytes()[..8192].iter().all(|&b| b == 0xFF));
    let mut dump = SliceFlash(flash.as_bytes());
    assert_eq!(find_region(&mut dump).unwrap(), Some(REGION));

    let mut larger = vec![0xFF; 4096];
    larger.extend_from_slice(flash.as_bytes());
    larger.extend_from_slice(&[0; 1000]);
    let mut dump = SliceFlash(&larger);
    let region = find_region(&mut dump).unwrap().unwrap();
    assert_eq!(
        region,
        Region {
            start: 4096,
            ..REGION
        }
    );
    let mut buf = vec![0u8; VERIFY_BUF];
    let verdict = verify_ring(&mut dump, &region, &mut buf).unwrap();
    assert!(
        matches!(verdict, RingVerdict::Intact(r) if r.wrapped),
        "{verdict:?}"
    );
    assert_eq!(find_region(&mut SliceFlash(&[0xFF; 8192])).unwrap(), None);
}
