//! Flash continuation: the log lives in a flash-like region (erase before
//! write, a program only turns bits from 1 to 0), a "reboot" resumes the chain
//! from the region's tail with the core's `resume`, and power is cut at every
//! byte of a record, and at every step of the repair that follows. After each
//! cut the chain continues, the whole region verifies, and the torn bytes are
//! kept in the recovery records.
//!
//! Only the crate's `no_std` API is used, with fixed buffers (no heap): this is
//! the code a device would run, the flash being the only test double.
//!
//! # The scheme: journal the torn sector, then roll forward
//!
//! A record cut off by a power loss leaves torn bytes at the end of the log. A
//! file can cut them off; flash can only erase them with their whole sector,
//! and appending after them would leave a malformed record inside the log. So
//! the boot code rewrites the sector(s) holding them (`boot`, `repair`):
//!
//! 1. Find the data end: the first erased (0xFF) byte. Records are UTF-8,
//!    which never contains 0xFF. `resume` on the tail gives the head (the
//!    last complete record) and the torn bytes `t..e`.
//! 2. Journal: copy the good prefix of the sector the tear starts in
//!    (`s..t`, complete records that the erase would destroy), the torn bytes
//!    (`t..e`), the head and the timestamp for the recovery records into a
//!    reserved journal area. Its header, written last and carrying a SHA-256
//!    over everything, is the commit point.
//! 3. Roll forward: the target content from `s` on is the prefix, then the
//!    recovery records (`Writer::append_recovered` after the journaled head,
//!    with the journaled timestamp: the same bytes every time), then erased
//!    bytes. A dry run compares the flash with the target; the sectors from
//!    the first byte that programming cannot turn into the target are erased
//!    (last sector first), then every erased byte that should not be is
//!    programmed.
//! 4. Erase the journal. The chain continues after the recovery records.
//!
//! A power loss during 2 leaves a journal that fails its check: the next boot
//! erases it and starts again at 1, the log untouched. A power loss during 3
//! leaves a valid journal: the next boot rolls forward again, which converges
//! to the same bytes. During 4, the journal is still valid (rolling forward
//! finds nothing left to do) or fails its check (it is erased; the log is
//! already whole). So the complete records before the tear are never lost,
//! and the torn bytes end up in exactly one set of recovery records, whatever
//! the number of power losses.
//!
//! The cost: a journal area (here 4 of 16 sectors) and, per tear, one erase of
//! the journal and of the sectors the tear touched. A clean reboot (no torn
//! tail) reads the tail and the journal area, and writes nothing.
//!
//! Not covered: a full log area (rotation, or a ring of sectors, is the
//! application's choice), and a byte whose interrupted program reads back as
//! 0xFF is taken as erased and programmed again, as NOR flash allows.

use core::cell::Cell;
use core::fmt::{self, Write as _};

use immutable_log::{
    records, resume, verify_read, BlockHasher, Chain, Clock, Hash, Head, Level, Options, Report,
    ResumeError, Timestamp, Verdict, Verifier, Writer,
};

/// Sector size: the unit of erase.
const SECTOR: usize = 1024;
/// The whole region: 16 KiB.
const SIZE: usize = 16 * SECTOR;
/// The log: sectors 0..12.
const LOG_END: usize = 12 * SECTOR;
/// The repair journal: sectors 12..16, header first.
const JOURNAL: usize = LOG_END;
const JOURNAL_HEADER: usize = 128;
const JOURNAL_PAYLOAD_MAX: usize = SIZE - JOURNAL - JOURNAL_HEADER;
const ERASED: u8 = 0xFF;

/// The chain's record buffer.
const N: usize = 512;
/// The buffer for recovery records: larger, so a torn record takes fewer parts.
const RECOVERY_N: usize = 1024;
/// The verifier's buffer: longer than any record (both lines).
const VERIFY_BUF: usize = 4096;

// A journal holds less than a sector of prefix and one torn record (at most
// two lines of about N bytes each plus the hashes).
const _: () = assert!(JOURNAL_PAYLOAD_MAX >= SECTOR + 2 * N + 256);

// ---------------------------------------------------------------------------
// The flash double
// ---------------------------------------------------------------------------

/// Why a flash operation failed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum FlashError {
    /// The power failed: this operation was cut short, and nothing after it runs.
    PowerLost,
    /// The log area is full.
    Full,
}

impl fmt::Display for FlashError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FlashError::PowerLost => "the power failed",
            FlashError::Full => "the log area is full",
        })
    }
}

impl core::error::Error for FlashError {}

impl embedded_io::Error for FlashError {
    fn kind(&self) -> embedded_io::ErrorKind {
        embedded_io::ErrorKind::Other
    }
}

/// NOR-like flash: erased bytes read 0xFF, an erase sets a whole sector to
/// 0xFF, a program turns bits from 1 to 0 and is only allowed on an erased
/// byte (anything else is a bug in the scheme, and panics).
///
/// Power loss: after `power` more operations (byte programs and sector
/// erases), the next operation is cut short and every later one fails. A cut
/// program leaves the bits of `cut_mask` at 1 (0xFF: nothing programmed); a
/// cut erase leaves half the sector erased and garbage in the other half.
#[derive(Clone)]
struct Flash {
    mem: [u8; SIZE],
    power: Option<usize>,
    cut_mask: u8,
    dead: bool,
    /// Operations attempted since the counter was last reset.
    ops: usize,
}

impl Flash {
    fn new() -> Self {
        Flash {
            mem: [ERASED; SIZE],
            power: None,
            cut_mask: ERASED,
            dead: false,
            ops: 0,
        }
    }

    /// Power back on, with no failure planned.
    fn power_on(&mut self) {
        self.power = None;
        self.dead = false;
    }

    /// Let `ops` more operations complete, then cut the next one.
    fn cut_after(&mut self, ops: usize, cut_mask: u8) {
        self.power_on();
        self.power = Some(ops);
        self.cut_mask = cut_mask;
    }

    /// Accounts for one operation: Ok(true) to do it, Ok(false) to cut it short.
    fn step(&mut self) -> Result<bool, FlashError> {
        if self.dead {
            return Err(FlashError::PowerLost);
        }
        self.ops += 1;
        match &mut self.power {
            Some(0) => {
                self.dead = true;
                Ok(false)
            }
            Some(left) => {
                *left -= 1;
                Ok(true)
            }
            None => Ok(true),
        }
    }

    fn program(&mut self, addr: usize, byte: u8) -> Result<(), FlashError> {
        assert_eq!(
            self.mem[addr], ERASED,
            "program of byte {addr}, which is not erased: the scheme is broken"
        );
        if self.step()? {
            self.mem[addr] = byte;
            Ok(())
        } else {
            self.mem[addr] = byte | self.cut_mask;
            Err(FlashError::PowerLost)
        }
    }

    fn erase(&mut self, sector: usize) -> Result<(), FlashError> {
        let complete = self.step()?;
        let bytes = &mut self.mem[sector * SECTOR..(sector + 1) * SECTOR];
        if complete {
            bytes.fill(ERASED);
            Ok(())
        } else {
            let (erased, garbage) = bytes.split_at_mut(SECTOR / 2);
            erased.fill(ERASED);
            garbage.iter_mut().for_each(|b| *b |= 0x5A);
            Err(FlashError::PowerLost)
        }
    }

    /// Where the log's data ends: its first erased byte.
    fn data_end(&self) -> usize {
        self.mem[..LOG_END]
            .iter()
            .position(|&b| b == ERASED)
            .unwrap_or(LOG_END)
    }

    /// The log's data, as the verifier reads it.
    fn log(&self) -> &[u8] {
        &self.mem[..self.data_end()]
    }
}

/// The chain's sink: appends to the log at the write position.
struct FlashLog<'f> {
    flash: &'f mut Flash,
    pos: usize,
}

impl embedded_io::ErrorType for FlashLog<'_> {
    type Error = FlashError;
}

impl embedded_io::Write for FlashLog<'_> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, FlashError> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.pos >= LOG_END {
            return Err(FlashError::Full);
        }
        let n = buf.len().min(LOG_END - self.pos);
        for &byte in &buf[..n] {
            self.flash.program(self.pos, byte)?;
            self.pos += 1;
        }
        Ok(n)
    }

    fn flush(&mut self) -> Result<(), FlashError> {
        Ok(())
    }
}

/// The repair's sink: the bytes the log must hold from `pos` on. In the dry
/// run it only notes the first byte programming cannot fix; otherwise it
/// programs the erased bytes that differ.
struct Target<'f> {
    flash: &'f mut Flash,
    pos: usize,
    program: bool,
    conflict: Option<usize>,
    error: Option<FlashError>,
}

impl Target<'_> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), FlashError> {
        for &byte in bytes {
            if self.pos >= LOG_END {
                return Err(FlashError::Full);
            }
            let current = self.flash.mem[self.pos];
            if current != byte {
                if current != ERASED {
                    self.conflict.get_or_insert(self.pos);
                } else if self.program {
                    self.flash.program(self.pos, byte)?;
                }
            }
            self.pos += 1;
        }
        Ok(())
    }
}

impl embedded_io::ErrorType for Target<'_> {
    type Error = FlashError;
}

impl embedded_io::Write for Target<'_> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, FlashError> {
        match self.put(buf) {
            Ok(()) => Ok(buf.len()),
            Err(e) => {
                self.error = Some(e);
                Err(e)
            }
        }
    }

    fn flush(&mut self) -> Result<(), FlashError> {
        Ok(())
    }
}

/// A tick counter: each record gets the next millisecond.
struct TestClock(Cell<u64>);

impl TestClock {
    fn new() -> Self {
        TestClock::at(1_000)
    }

    /// A clock at `ticks`: two clocks at the same start give the same
    /// timestamps, so a record written twice is the same bytes.
    fn at(ticks: u64) -> Self {
        TestClock(Cell::new(ticks))
    }
}

impl Clock for TestClock {
    fn now(&self) -> Timestamp {
        self.0.set(self.0.get() + 1);
        Timestamp::from_ticks(self.0.get(), 1_000)
    }
}

// ---------------------------------------------------------------------------
// The scheme: boot, journal, repair
// ---------------------------------------------------------------------------

/// Where the chain continues after a boot.
#[derive(Clone, Copy, Debug)]
struct Booted {
    head: Option<Head>,
    end: usize,
}

/// A committed repair: what the log must hold from `sector_start` on.
#[derive(Clone, Copy, Debug)]
struct Journal {
    /// The start of the sector the tear begins in.
    sector_start: usize,
    /// The first torn byte (the end of the last complete record).
    torn_start: usize,
    /// The data end when the tear was found.
    end: usize,
    /// The last complete record.
    head: Option<Head>,
    /// The recovery records' timestamp.
    timestamp: Timestamp,
}

enum JournalState {
    Blank,
    Valid(Journal),
    /// Written or erased only in part: no repair was committed, or it finished.
    Garbage,
}

const MAGIC: &[u8; 4] = b"ILJ1";
/// magic, three u32 offsets, head flag, seq, hash, timestamp secs and micros.
const FIELDS: usize = 4 + 3 * 4 + 1 + 8 + 32 + 8 + 4;

impl Journal {
    fn fields(&self) -> [u8; FIELDS] {
        let mut f = [0u8; FIELDS];
        let mut at = 0;
        let mut put = |bytes: &[u8]| {
            f[at..at + bytes.len()].copy_from_slice(bytes);
            at += bytes.len();
        };
        put(MAGIC);
        for offset in [self.sector_start, self.torn_start, self.end] {
            put(&(offset as u32).to_le_bytes());
        }
        let (flag, seq, hash) = match self.head {
            None => (0u8, 0, Hash::GENESIS),
            Some(Head { seq: None, hash }) => (1, 0, hash),
            Some(Head {
                seq: Some(seq),
                hash,
            }) => (2, seq, hash),
        };
        put(&[flag]);
        put(&seq.to_le_bytes());
        put(hash.as_bytes());
        put(&self.timestamp.secs().to_le_bytes());
        put(&self.timestamp.micros().to_le_bytes());
        f
    }

    fn parse(f: &[u8; FIELDS]) -> Option<Journal> {
        if &f[..4] != MAGIC {
            return None;
        }
        let u32_at = |at: usize| u32::from_le_bytes(f[at..at + 4].try_into().unwrap()) as usize;
        let u64_at = |at: usize| u64::from_le_bytes(f[at..at + 8].try_into().unwrap());
        let (sector_start, torn_start, end) = (u32_at(4), u32_at(8), u32_at(12));
        let seq = u64_at(17);
        let hash = Hash::from_bytes(f[25..57].try_into().unwrap());
        let head = match f[16] {
            0 => None,
            1 => Some(Head { seq: None, hash }),
            2 => Some(Head {
                seq: Some(seq),
                hash,
            }),
            _ => return None,
        };
        let micros = u32::from_le_bytes(f[65..69].try_into().unwrap());
        let sane = sector_start % SECTOR == 0
            && sector_start <= torn_start
            && torn_start - sector_start < SECTOR
            && torn_start < end
            && end <= LOG_END
            && end - sector_start <= JOURNAL_PAYLOAD_MAX
            && micros < 1_000_000;
        sane.then(|| Journal {
            sector_start,
            torn_start,
            end,
            head,
            timestamp: Timestamp::new(u64_at(57), micros),
        })
    }

    fn digest(fields: &[u8], payload: &[u8]) -> Hash {
        let mut hasher = BlockHasher::new();
        hasher.update(fields);
        hasher.update(payload);
        hasher.finish()
    }

    /// Writes the journal: the payload (the log's bytes `sector_start..end`),
    /// then the header, its digest last: the commit point.
    fn write(&self, flash: &mut Flash) -> Result<(), FlashError> {
        let len = self.end - self.sector_start;
        let mut payload = [0u8; JOURNAL_PAYLOAD_MAX];
        payload[..len].copy_from_slice(&flash.mem[self.sector_start..self.end]);
        let fields = self.fields();
        let digest = Journal::digest(&fields, &payload[..len]);
        for (i, &b) in payload[..len].iter().enumerate() {
            flash.program(JOURNAL + JOURNAL_HEADER + i, b)?;
        }
        for (i, &b) in fields.iter().chain(digest.as_bytes()).enumerate() {
            flash.program(JOURNAL + i, b)?;
        }
        Ok(())
    }

    fn read(flash: &Flash) -> JournalState {
        let area = &flash.mem[JOURNAL..];
        if area.iter().all(|&b| b == ERASED) {
            return JournalState::Blank;
        }
        let fields: &[u8; FIELDS] = area[..FIELDS].try_into().unwrap();
        let Some(journal) = Journal::parse(fields) else {
            return JournalState::Garbage;
        };
        let payload = &area[JOURNAL_HEADER..JOURNAL_HEADER + journal.end - journal.sector_start];
        let stored = &area[FIELDS..FIELDS + 32];
        if Journal::digest(fields, payload).as_bytes()[..] == stored[..] {
            JournalState::Valid(journal)
        } else {
            JournalState::Garbage
        }
    }
}

/// Erases the journal area, header sector first; blank sectors are skipped.
fn erase_journal(flash: &mut Flash) -> Result<(), FlashError> {
    for sector in JOURNAL / SECTOR..SIZE / SECTOR {
        if flash.mem[sector * SECTOR..(sector + 1) * SECTOR]
            .iter()
            .any(|&b| b != ERASED)
        {
            flash.erase(sector)?;
        }
    }
    Ok(())
}

/// The head and the end of the complete records, reading only the log's
/// tail (a longer one when the last record does not fit).
fn find_tail(log: &[u8]) -> (Option<Head>, usize) {
    let mut window = 2 * SECTOR;
    loop {
        let start = log.len().saturating_sub(window);
        match resume(&log[start..], start == 0) {
            Ok(resumed) => return (resumed.head, start + resumed.end),
            Err(ResumeError::NeedMoreTail) if start > 0 => window *= 2,
            Err(e) => panic!("the log cannot be continued: {e}"),
        }
    }
}

/// Boots: finishes a committed repair, or finds the tail, and repairs a torn
/// one. Returns where the chain continues.
fn boot(flash: &mut Flash, clock: &TestClock) -> Result<Booted, FlashError> {
    match Journal::read(flash) {
        JournalState::Valid(journal) => return repair(flash, &journal),
        JournalState::Garbage => erase_journal(flash)?,
        JournalState::Blank => {}
    }
    let end = flash.data_end();
    let (head, torn_start) = find_tail(&flash.mem[..end]);
    if torn_start == end {
        return Ok(Booted { head, end });
    }
    let journal = Journal {
        sector_start: torn_start / SECTOR * SECTOR,
        torn_start,
        end,
        head,
        timestamp: clock.now(),
    };
    journal.write(flash)?;
    repair(flash, &journal)
}

/// Rolls a committed repair forward (idempotent), then erases the journal.
fn repair(flash: &mut Flash, journal: &Journal) -> Result<Booted, FlashError> {
    let start = journal.sector_start;
    let len = journal.end - start;
    let mut saved = [0u8; JOURNAL_PAYLOAD_MAX];
    saved[..len].copy_from_slice(&flash.mem[JOURNAL + JOURNAL_HEADER..][..len]);
    let (prefix, torn) = saved[..len].split_at(journal.torn_start - start);

    // Dry run: the first byte that programming cannot turn into the target.
    let dry = Target {
        flash,
        pos: start,
        program: false,
        conflict: None,
        error: None,
    };
    let (_, dry) = write_target(dry, prefix, torn, journal)?;
    let done = dry.pos;
    let mut conflict = dry.conflict;
    let flash = dry.flash;
    // Past the target, up to the end of what the tear or an earlier attempt
    // could have touched, everything must be erased.
    let touched_end = done.max(journal.end).div_ceil(SECTOR) * SECTOR;
    if let Some(p) = (done..touched_end.min(LOG_END)).find(|&p| flash.mem[p] != ERASED) {
        conflict.get_or_insert(p);
    }
    if let Some(first) = conflict {
        for sector in (first / SECTOR..touched_end / SECTOR).rev() {
            flash.erase(sector)?;
        }
    }

    let program = Target {
        flash,
        pos: start,
        program: true,
        conflict: None,
        error: None,
    };
    let (head, programmed) = write_target(program, prefix, torn, journal)?;
    assert_eq!(
        programmed.conflict, None,
        "the repair left a byte it cannot program"
    );
    assert_eq!(
        programmed.pos, done,
        "the recovery records are not deterministic"
    );
    erase_journal(programmed.flash)?;
    Ok(Booted { head, end: done })
}

/// Writes the repair's target into `target`: the prefix, then the recovery
/// records of `torn`, after the journaled head, with the journaled timestamp.
fn write_target<'f>(
    mut target: Target<'f>,
    prefix: &[u8],
    torn: &[u8],
    journal: &Journal,
) -> Result<(Option<Head>, Target<'f>), FlashError> {
    target.put(prefix)?;
    let mut writer = Writer::resume(target, journal.head);
    let result =
        writer.append_recovered::<RECOVERY_N>(torn, journal.torn_start as u64, journal.timestamp);
    let target = writer.into_sink();
    match result {
        Ok(head) => Ok((head, target)),
        Err(_) => Err(target.error.unwrap_or(FlashError::Full)),
    }
}

/// Boots and returns the chain, continued where the log ends.
fn session<'f>(
    flash: &'f mut Flash,
    clock: &'f TestClock,
) -> Result<Chain<FlashLog<'f>, &'f TestClock, N>, FlashError> {
    let booted = boot(flash, clock)?;
    let sink = FlashLog {
        flash,
        pos: booted.end,
    };
    Ok(Chain::resume(sink, clock, booted.head))
}

// ---------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------

/// Verifies the whole log through `embedded_io::Read`, and that nothing stands
/// after it: the rest of the log area and the journal are erased.
fn verify(flash: &Flash) -> Report {
    let log = flash.log();
    assert!(
        flash.mem[log.len()..].iter().all(|&b| b == ERASED),
        "bytes after the log's end, or a journal left behind"
    );
    let mut reader: &[u8] = log;
    let mut buf = [0u8; VERIFY_BUF];
    let mut chunk = [0u8; 97];
    let mut verifier = Verifier::new(&mut buf, Options::default());
    match verify_read(&mut reader, &mut verifier, &mut chunk) {
        Ok(Verdict::Intact(report)) => report,
        other => panic!("the flash log does not verify: {other:?}"),
    }
}

/// A fixed-size byte buffer that `fmt` can write to.
struct Buf<const M: usize> {
    bytes: [u8; M],
    len: usize,
}

impl<const M: usize> Buf<M> {
    fn new() -> Self {
        Buf {
            bytes: [0; M],
            len: 0,
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        self.bytes[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl<const M: usize> fmt::Write for Buf<M> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.push(s.as_bytes());
        Ok(())
    }
}

/// The bytes the recovery records for the tear at `offset` keep, joined, and
/// how many such records the log holds, read with the crate's reader.
fn recovered(log: &[u8], offset: usize) -> (Buf<VERIFY_BUF>, usize) {
    let mut marker = Buf::<64>::new();
    write!(marker, "recovered torn tail at byte {offset},").unwrap();
    let mut joined = Buf::new();
    let mut count = 0;
    let mut reader = records(log);
    for record in reader.by_ref() {
        let record = record.expect("every record reads");
        let mut message = Buf::<VERIFY_BUF>::new();
        for c in record.message() {
            let c = c.expect("the message decodes");
            message.push(c.encode_utf8(&mut [0; 4]).as_bytes());
        }
        let message = message.as_bytes();
        if !contains(message, marker.as_bytes()) {
            continue;
        }
        count += 1;
        if let Some(p) = find(message, b", utf8: ") {
            joined.push(&message[p + 8..]);
        } else if let Some(p) = find(message, b", hex: ") {
            for pair in message[p + 7..].chunks(2) {
                let hex = core::str::from_utf8(pair).unwrap();
                joined.push(&[u8::from_str_radix(hex, 16).unwrap()]);
            }
        } else {
            panic!("a recovery record with neither utf8 nor hex bytes");
        }
    }
    assert!(reader.remainder().is_empty(), "the log ends in a torn tail");
    (joined, count)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    find(haystack, needle).is_some()
}

/// True if the log holds a record with this hash.
fn holds(log: &[u8], hash: &Hash) -> bool {
    records(log).any(|record| record.expect("every record reads").hash() == *hash)
}

/// Appends record `i`: quotes, a pipe, a backslash, a newline and non-ASCII,
/// so a cut lands inside every kind of byte, the middle of a UTF-8 sequence too.
fn append(chain: &Chain<FlashLog<'_>, &TestClock, N>, i: u32) -> Result<Head, ()> {
    chain
        .append(
            Level::Info,
            format_args!("record {i}: \"t\" = {} µK | ok \\ next\nline", 20 + i),
        )
        .map_err(|_| ())
}

/// A log of `records` records, written without a power loss.
fn log_of(records: u32, clock: &TestClock) -> Flash {
    let mut flash = Flash::new();
    let chain = session(&mut flash, clock).unwrap();
    for i in 0..records {
        append(&chain, i).unwrap();
    }
    flash
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

/// Where the clock stands when a test writes the record it tears.
const RESUME_TICKS: u64 = 50_000;

#[test]
fn clean_reboots_continue_the_chain_and_write_nothing_extra() {
    let clock = TestClock::new();
    let mut flash = log_of(3, &clock);
    for boot_round in 0..3 {
        let before = flash.data_end();
        let chain = session(&mut flash, &clock).unwrap();
        assert_eq!(chain.head().and_then(|h| h.seq), Some(2 + 2 * boot_round));
        append(&chain, 100).unwrap();
        append(&chain, 101).unwrap();
        assert!(flash.data_end() > before);
    }
    let report = verify(&flash);
    assert_eq!(report.records, 9);
    assert_eq!(report.head.and_then(|h| h.seq), Some(8));
}

/// Power lost at every byte of a record (nothing of the byte programmed, and
/// the byte half programmed), at three places in the log: the genesis record,
/// a record inside one sector, and a record across a sector boundary (the
/// repair then rewrites the first sector, genesis record included). After
/// each: reboot, continue, verify, and find the torn bytes, exactly, in the
/// recovery records.
#[test]
fn power_loss_at_every_byte_of_a_record() {
    let mut cases = 0;
    let mut straddling = 0;
    for before in [0u32, 2, 3] {
        let base = log_of(before, &TestClock::new());
        let base_end = base.data_end();
        // The record the power loss will hit, written in full once; each cut
        // below writes it again at the same time, so as the same bytes.
        let mut full = base.clone();
        let clock = TestClock::at(RESUME_TICKS);
        let chain = session(&mut full, &clock).unwrap();
        append(&chain, before).unwrap();
        let record = &full.mem[base_end..full.data_end()];

        for cut in 0..=record.len() {
            for cut_mask in [ERASED, 0xC0] {
                let clock = TestClock::at(RESUME_TICKS);
                let mut flash = base.clone();
                flash.cut_after(cut, cut_mask);
                let chain = session(&mut flash, &clock).unwrap();
                let result = append(&chain, before);
                assert_eq!(result.is_ok(), cut >= record.len(), "cut at {cut}");

                // What the power loss left: the record's first `cut` bytes,
                // and the byte being programmed, if any of its bits were.
                let torn_end = flash.data_end();
                let mut expected = Buf::<VERIFY_BUF>::new();
                expected.push(&record[..cut.min(record.len())]);
                if cut < record.len() && (record[cut] | cut_mask) != ERASED {
                    expected.push(&[record[cut] | cut_mask]);
                }
                assert_eq!(&flash.mem[base_end..torn_end], expected.as_bytes());
                let whole = flash.mem[base_end..torn_end] == *record;
                let torn = torn_end > base_end && !whole;
                if torn && torn_end > SECTOR && base_end < SECTOR {
                    straddling += 1;
                }

                flash.power_on();
                let chain = session(&mut flash, &clock).unwrap();
                append(&chain, 1000).unwrap();
                append(&chain, 1001).unwrap();

                let report = verify(&flash);
                let log = flash.log();
                assert_eq!(
                    log[..base_end],
                    base.mem[..base_end],
                    "a complete record changed"
                );
                let (kept, parts) = recovered(log, base_end);
                if torn {
                    assert!(parts >= 1);
                    assert_eq!(kept.as_bytes(), expected.as_bytes(), "cut at {cut}");
                } else {
                    assert_eq!(parts, 0, "cut at {cut}: nothing torn, nothing to recover");
                }
                let records = u64::from(before) + u64::from(whole) + parts as u64 + 2;
                assert_eq!(report.records, records, "cut at {cut}");
                assert_eq!(report.head.and_then(|h| h.seq), Some(report.records - 1));
                cases += 1;
            }
        }
    }
    assert!(cases > 1000, "only {cases} cases");
    assert!(
        straddling > 100,
        "only {straddling} tears across a sector boundary"
    );
}

/// A tear across a sector boundary, then power lost at every step of its
/// repair (journal, erases, programs, recovery records, journal erase), and
/// sometimes again in the next boot's repair. The next complete boot always
/// ends with the same log: the complete records untouched, the torn bytes in
/// exactly one set of recovery records.
#[test]
fn power_loss_at_every_step_of_the_repair() {
    let clock = TestClock::new();
    let base = log_of(2, &clock);
    let base_end = base.data_end();
    assert!(base_end < SECTOR);
    // Tear the third record past the sector boundary, in its block line.
    let mut torn = base.clone();
    torn.cut_after(SECTOR + 40 - base_end, ERASED);
    let chain = session(&mut torn, &clock).unwrap();
    assert!(append(&chain, 2).is_err());
    let mut torn_bytes = Buf::<VERIFY_BUF>::new();
    torn_bytes.push(&torn.mem[base_end..torn.data_end()]);
    assert!(torn.data_end() > SECTOR);

    // The repair without a power loss: its length in flash operations, and
    // its result. Each cut below starts its repair at the same time, so the
    // repair is the same operations.
    let mut repaired = torn.clone();
    repaired.power_on();
    repaired.ops = 0;
    let booted = boot(&mut repaired, &TestClock::at(RESUME_TICKS)).unwrap();
    let repair_ops = repaired.ops;
    let (_, parts) = recovered(repaired.log(), base_end);
    assert!(parts >= 1);
    assert!(repair_ops > 2 * SECTOR, "{repair_ops} operations");
    assert_eq!(booted.end, repaired.data_end());

    let mut second_cuts = 0;
    for k in 0..repair_ops {
        let clock = TestClock::at(RESUME_TICKS);
        let mut flash = torn.clone();
        let cut_mask = if k % 2 == 0 { ERASED } else { 0xC0 };
        flash.cut_after(k, cut_mask);
        assert_eq!(boot(&mut flash, &clock).unwrap_err(), FlashError::PowerLost);
        if k % 5 == 0 {
            // Lose power again, in the middle of the repair's next attempt.
            flash.cut_after(k / 2, cut_mask ^ 0x3F);
            second_cuts += usize::from(boot(&mut flash, &clock).is_err());
        }
        flash.power_on();
        let chain = session(&mut flash, &clock).unwrap();
        append(&chain, 1000).unwrap();

        let report = verify(&flash);
        let log = flash.log();
        assert_eq!(
            log[..base_end],
            base.mem[..base_end],
            "cut {k}: a complete record changed"
        );
        let (kept, found) = recovered(log, base_end);
        assert_eq!(
            found, parts,
            "cut {k}: the torn bytes must be recovered exactly once"
        );
        assert_eq!(kept.as_bytes(), torn_bytes.as_bytes(), "cut {k}");
        assert_eq!(report.records, 2 + parts as u64 + 1, "cut {k}");
    }
    assert!(second_cuts > 100, "only {second_cuts} double power losses");
}

/// Many sessions, each cut short at a pseudo-random point (during the boot's
/// repair, or while appending), until the log is nearly full; several seeds.
/// Every record whose append returned `Ok` is still in the log, and the log
/// verifies.
#[test]
fn many_reboots_with_random_power_losses() {
    let (mut sessions, mut tears, mut records) = (0, 0, 0);
    for seed in 1..=8u64 {
        let clock = TestClock::new();
        let mut flash = Flash::new();
        let mut written = [Hash::GENESIS; 64];
        let mut count = 0;
        let mut rng = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        while flash.data_end() < LOG_END - 4 * SECTOR {
            let r = next();
            let mask = [ERASED, 0xC0, 0x80, 0x0F][(r % 4) as usize];
            flash.cut_after((r >> 8) as usize % 4000, mask);
            sessions += 1;
            // A power loss during the boot's repair: boot again.
            let Ok(chain) = session(&mut flash, &clock) else {
                continue;
            };
            for i in 0.. {
                match append(&chain, i) {
                    Ok(head) => {
                        written[count] = head.hash;
                        count += 1;
                    }
                    Err(()) => {
                        tears += 1;
                        break;
                    }
                }
            }
        }
        flash.power_on();
        let chain = session(&mut flash, &clock).unwrap();
        let last = append(&chain, 9999).unwrap();

        let report = verify(&flash);
        assert_eq!(report.head.map(|h| h.hash), Some(last.hash), "seed {seed}");
        for hash in &written[..count] {
            assert!(
                holds(flash.log(), hash),
                "seed {seed}: a record appended with Ok is gone"
            );
        }
        records += count;
    }
    assert!(
        sessions > 40 && tears > 25 && records > 60,
        "{sessions} sessions, {tears} tears, {records} records"
    );
}
