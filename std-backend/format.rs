//! Turning a log call into a record's message text.
//!
//! The default, [`SeedFormat`], writes what the Python original's
//! `logging.Formatter('%(asctime)s - %(levelname)s - %(message)s')` writes,
//! in the host's local time as Python does, with the offset written so the
//! text is unambiguous: `2026-11-27 10:15:42,123+01:00 - INFO - message`.
//! The time zone comes from the system (`TZ`, `/etc/localtime`, through
//! `jiff`); UTC (`+00:00`) when it has none, or on request
//! ([`SeedFormat::utc`]). The block's `timestamp` is seconds since the
//! epoch whatever the display says.
//!
//! (Over 550 lines with its unit tests; the formats themselves, with the
//! per-thread cache of the prefix text, are about 415.)

use std::fmt;
use std::sync::OnceLock;
use std::time::SystemTime;

use jiff::tz::TimeZone;

use super::clock::since_epoch;
use crate::Level;

/// One log call, as a [`Format`] sees it.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct Entry<'a> {
    /// When the call was made.
    pub time: SystemTime,
    /// Its level.
    pub level: Level,
    /// The `log` target (the module path by default; empty for direct appends).
    pub target: &'a str,
    /// The message.
    pub args: fmt::Arguments<'a>,
}

impl<'a> Entry<'a> {
    /// An entry, for calling a [`Format`] by hand (in a test, say).
    pub fn new(time: SystemTime, level: Level, target: &'a str, args: fmt::Arguments<'a>) -> Self {
        Entry {
            time,
            level,
            target,
            args,
        }
    }
}

/// Writes a record's message text for an [`Entry`].
///
/// Formatting runs on the calling thread before the log's lock is taken, so a
/// slow format does not hold up other threads. Any
/// `Fn(&mut fmt::Formatter, &Entry) -> fmt::Result` closure is a `Format`:
///
/// ```
/// use immutable_log::std_backend::{AscTime, Entry};
/// let format = |f: &mut std::fmt::Formatter<'_>, e: &Entry<'_>| {
///     write!(f, "{} [{}] {}: {}", AscTime::local(e.time), e.level, e.target, e.args)
/// };
/// # let _ = immutable_log::std_backend::OpenOptions::new().format(format);
/// ```
pub trait Format: Send + Sync {
    /// Writes the message text for `entry` to `out`.
    fn format(&self, out: &mut fmt::Formatter<'_>, entry: &Entry<'_>) -> fmt::Result;
}

impl<F> Format for F
where
    F: Fn(&mut fmt::Formatter<'_>, &Entry<'_>) -> fmt::Result + Send + Sync,
{
    fn format(&self, out: &mut fmt::Formatter<'_>, entry: &Entry<'_>) -> fmt::Result {
        self(out, entry)
    }
}

/// Which clock face a time is shown on.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum Zone {
    /// The host's time zone (UTC when the system names none).
    #[default]
    Local,
    /// UTC.
    Utc,
}

/// The seed's format, `%(asctime)s - %(levelname)s - %(message)s`, with the
/// offset after the time: `2026-11-27 10:15:42,123+01:00 - INFO - message`,
/// in local time by default ([`Zone`]). The default format of a log.
#[derive(Clone, Copy, Debug, Default)]
pub struct SeedFormat {
    zone: Zone,
}

impl SeedFormat {
    /// Times in the host's time zone (the default).
    pub const fn local() -> Self {
        SeedFormat { zone: Zone::Local }
    }

    /// Times in UTC: `2026-11-27 09:15:42,123+00:00`.
    pub const fn utc() -> Self {
        SeedFormat { zone: Zone::Utc }
    }
}

impl Format for SeedFormat {
    fn format(&self, out: &mut fmt::Formatter<'_>, entry: &Entry<'_>) -> fmt::Result {
        // Time, level and separators as one piece, then the message: not
        // through `write!`, whose pass over three arguments cost more than
        // the rest of the prefix.
        match with_prefix(entry.time, self.zone, Some(entry.level), |p| {
            out.write_str(p)
        }) {
            Some(written) => written?,
            None => write!(
                out,
                "{}{}",
                AscTime {
                    time: entry.time,
                    zone: self.zone
                },
                level_separated(entry.level)
            )?,
        }
        out.write_fmt(entry.args)
    }
}

/// `" - LEVEL - "`: what stands between the time and the message.
fn level_separated(level: Level) -> &'static str {
    match level {
        Level::Trace => " - TRACE - ",
        Level::Debug => " - DEBUG - ",
        Level::Info => " - INFO - ",
        Level::Warning => " - WARNING - ",
        Level::Error => " - ERROR - ",
        Level::Critical => " - CRITICAL - ",
    }
}

/// The longest [`level_separated`].
const LEVEL_SEPARATED_MAX: usize = " - CRITICAL - ".len();

/// `000` to `999`, three digits each: the milliseconds of an [`AscTime`].
const MILLIS_DIGITS: [u8; 3000] = {
    let mut digits = [0u8; 3000];
    let mut i = 0;
    while i < 1000 {
        // In a const: an index out of range would fail the build, not a run.
        #[allow(clippy::indexing_slicing)]
        {
            digits[3 * i] = b'0' + (i / 100) as u8;
            digits[3 * i + 1] = b'0' + (i / 10 % 10) as u8;
            digits[3 * i + 2] = b'0' + (i % 10) as u8;
        }
        i += 1;
    }
    digits
};

/// [`MILLIS_DIGITS`] as text (ASCII digits: checked once, at build time).
const MILLIS: &str = match core::str::from_utf8(&MILLIS_DIGITS) {
    Ok(text) => text,
    Err(_) => "",
};

/// The seed format's text before the message, `<asctime> - LEVEL - `.
type PrefixText = heapless::String<{ ASC_LEN + LEVEL_SEPARATED_MAX }>;

/// What [`LAST_PREFIX`] holds: this thread's last prefix text and what it
/// was made from.
struct LastPrefix {
    zone: Option<Zone>,
    /// The second since the epoch `second` is the text of.
    secs: u64,
    /// The text of that second's [`AscTime`] (its milliseconds aside).
    second: heapless::String<ASC_LEN>,
    /// The millisecond and the level `text` was made for (`None`: not made
    /// for this second yet).
    made_for: Option<(u32, Level)>,
    /// `<asctime> - LEVEL - `.
    text: PrefixText,
}

std::thread_local! {
    /// The last prefix this thread wrote.
    static LAST_PREFIX: std::cell::RefCell<LastPrefix> = const {
        std::cell::RefCell::new(LastPrefix {
            zone: None,
            secs: 0,
            second: heapless::String::new(),
            made_for: None,
            text: heapless::String::new(),
        })
    };
}

/// Calls `write` with the text of an [`AscTime`] (`level` `None`) or the
/// seed format's prefix, `<asctime> - LEVEL - `, from this thread's last
/// one: the text of the second (and the time zone's offset, a lookup in its
/// rules) is made once a second, the prefix once a millisecond and level,
/// and a record in the same millisecond as the thread's last one costs a
/// comparison. `None` past the year 9999, or while the thread is torn down
/// (or `write` logs in turn).
fn with_prefix<R>(
    time: SystemTime,
    zone: Zone,
    level: Option<Level>,
    write: impl FnOnce(&str) -> R,
) -> Option<R> {
    let since = since_epoch(time);
    let (secs, millis) = (since.as_secs(), since.subsec_millis());
    LAST_PREFIX
        .try_with(|last| {
            let mut last = last.try_borrow_mut().ok()?;
            if last.zone != Some(zone) || last.secs != secs {
                let text = asc_text(since, offset_at(zone, secs))?;
                last.second.clear();
                last.second
                    .push_str(std::str::from_utf8(&text).ok()?)
                    .ok()?;
                (last.zone, last.secs, last.made_for) = (Some(zone), secs, None);
            }
            // The asctime is the same text whatever the level.
            let want = match (level, last.made_for) {
                (None, Some((at, made))) if at == millis => made,
                (level, _) => level.unwrap_or(Level::Info),
            };
            if last.made_for != Some((millis, want)) {
                let LastPrefix { second, text, .. } = &mut *last;
                let ms = usize::try_from(millis).ok()?;
                text.clear();
                text.push_str(second.get(..MILLIS_AT)?).ok()?;
                text.push_str(MILLIS.get(3 * ms..3 * ms + 3)?).ok()?;
                text.push_str(second.get(MILLIS_AT + 3..)?).ok()?;
                text.push_str(level_separated(want)).ok()?;
                last.made_for = Some((millis, want));
            }
            let text = match level {
                Some(_) => last.text.as_str(),
                None => last.text.get(..ASC_LEN)?,
            };
            Some(write(text))
        })
        .ok()
        .flatten()
}

/// Where the milliseconds stand in an [`AscTime`]'s text.
const MILLIS_AT: usize = 20;

/// The message alone, with no time or level (the block has both anyway).
#[derive(Clone, Copy, Debug, Default)]
pub struct PlainFormat;

impl Format for PlainFormat {
    fn format(&self, out: &mut fmt::Formatter<'_>, entry: &Entry<'_>) -> fmt::Result {
        out.write_fmt(entry.args)
    }
}

/// A time as Python's `%(asctime)s` writes it, and its offset from UTC:
/// `2026-11-27 10:15:42,123+01:00`. Times before 1970 show as the epoch.
#[derive(Clone, Copy, Debug)]
pub struct AscTime {
    time: SystemTime,
    zone: Zone,
}

impl AscTime {
    /// `time` in the host's time zone.
    pub fn local(time: SystemTime) -> Self {
        AscTime {
            time,
            zone: Zone::Local,
        }
    }

    /// `time` in UTC.
    pub fn utc(time: SystemTime) -> Self {
        AscTime {
            time,
            zone: Zone::Utc,
        }
    }
}

/// The host's time zone, read once (UTC when the system names none).
fn local_zone() -> &'static TimeZone {
    static LOCAL: OnceLock<TimeZone> = OnceLock::new();
    LOCAL.get_or_init(|| TimeZone::try_system().unwrap_or(TimeZone::UTC))
}

/// The offset from UTC, in seconds, of `zone` at `secs` after the epoch.
fn offset_at(zone: Zone, secs: u64) -> i32 {
    match zone {
        Zone::Utc => 0,
        Zone::Local => {
            let at = i64::try_from(secs)
                .ok()
                .and_then(|s| jiff::Timestamp::from_second(s).ok());
            at.map_or(0, |at| local_zone().to_offset(at).seconds())
        }
    }
}

impl fmt::Display for AscTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match with_prefix(self.time, self.zone, None, |text| f.write_str(text)) {
            Some(written) => written,
            // A year past 9999, or a thread being torn down.
            None => {
                let since = since_epoch(self.time);
                write_asc(f, since, offset_at(self.zone, since.as_secs()))
            }
        }
    }
}

/// `YYYY-MM-DD HH:MM:SS,mmm+HH:MM`: the length of an [`AscTime`] before the
/// year 10000.
const ASC_LEN: usize = 29;

/// Writes the time `since` the epoch on the clock face `offset` seconds
/// from UTC, and the offset.
fn write_asc(f: &mut fmt::Formatter<'_>, since: std::time::Duration, offset: i32) -> fmt::Result {
    match asc_text(since, offset) {
        Some(text) => f.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?),
        None => write_wide(f, since, offset),
    }
}

/// A time past the year 9999, through `core::fmt` (its year is wider).
fn write_wide(f: &mut fmt::Formatter<'_>, since: std::time::Duration, offset: i32) -> fmt::Result {
    let secs = since.as_secs().saturating_add_signed(i64::from(offset));
    let (year, month, day) = civil_from_days(secs / 86_400);
    let of_day = secs % 86_400;
    let sign = if offset < 0 { '-' } else { '+' };
    let off = offset.unsigned_abs() / 60;
    write!(
        f,
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02},{:03}{sign}{:02}:{:02}",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60,
        since.subsec_millis(),
        off / 60,
        off % 60
    )
}

/// The text of the time `since` the epoch on the clock face `offset`
/// seconds from UTC, with the offset; `None` past the year 9999.
fn asc_text(since: std::time::Duration, offset: i32) -> Option<[u8; ASC_LEN]> {
    let secs = since.as_secs().saturating_add_signed(i64::from(offset));
    let (year, month, day) = civil_from_days(secs / 86_400);
    let of_day = secs % 86_400;
    let sign = if offset < 0 { '-' } else { '+' };
    let off = offset.unsigned_abs() / 60;
    if year > 9999 {
        return None;
    }
    // One piece, digits by hand: this runs for every record, and
    // core::fmt's padded integers cost more than the rest of the format.
    let mut text = *b"0000-00-00 00:00:00,000+00:00";
    if let Some(slot) = text.get_mut(23) {
        *slot = sign as u8;
    }
    let fields: [(usize, usize, u64); 9] = [
        (0, 4, year),
        (5, 2, month),
        (8, 2, day),
        (11, 2, of_day / 3600),
        (14, 2, of_day / 60 % 60),
        (17, 2, of_day % 60),
        (20, 3, u64::from(since.subsec_millis())),
        (24, 2, u64::from(off / 60)),
        (27, 2, u64::from(off % 60)),
    ];
    for (at, width, mut value) in fields {
        for slot in text.iter_mut().skip(at).take(width).rev() {
            *slot = b'0' + (value % 10) as u8;
            value /= 10;
        }
    }
    Some(text)
}

/// The proleptic Gregorian date of a day counted from 1970-01-01 (Howard
/// Hinnant's `civil_from_days`, for non-negative day counts).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// An entry through a format, as `Display`: what a draft is formatted from.
pub(crate) struct Formatted<'a> {
    pub(crate) format: &'a dyn Format,
    pub(crate) entry: Entry<'a>,
}

impl fmt::Display for Formatted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.format.format(f, &self.entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn at(secs: u64, millis: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(millis)
    }

    #[test]
    fn asctime_is_python_shaped_with_its_offset() {
        let utc = |t| AscTime::utc(t).to_string();
        assert_eq!(utc(at(0, 0)), "1970-01-01 00:00:00,000+00:00");
        // 2026-11-26 10:15:42 UTC.
        assert_eq!(utc(at(1_795_688_142, 123)), "2026-11-26 10:15:42,123+00:00");
        // Leap day, and the last millisecond of a century year.
        assert_eq!(utc(at(951_782_400, 0)), "2000-02-29 00:00:00,000+00:00");
        assert_eq!(utc(at(4_102_444_799, 999)), "2099-12-31 23:59:59,999+00:00");
        let before = UNIX_EPOCH - Duration::from_secs(5);
        assert_eq!(utc(before), "1970-01-01 00:00:00,000+00:00");
    }

    /// The time 2026-11-26 10:15:42,123 UTC on the clock face `offset`
    /// seconds from UTC.
    struct Face(i32);

    impl fmt::Display for Face {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write_asc(f, Duration::from_millis(1_795_688_142_123), self.0)
        }
    }

    #[test]
    fn local_time_is_the_clock_face_of_its_offset_which_it_writes() {
        assert_eq!(Face(3600).to_string(), "2026-11-26 11:15:42,123+01:00");
        assert_eq!(
            Face(-5 * 3600 - 1800).to_string(),
            "2026-11-26 04:45:42,123-05:30"
        );
        assert_eq!(Face(14 * 3600).to_string(), "2026-11-27 00:15:42,123+14:00");
        assert_eq!(Face(0).to_string(), "2026-11-26 10:15:42,123+00:00");
        // The local clock face is the UTC one shifted by the local offset.
        let local = AscTime::local(at(1_795_688_142, 123)).to_string();
        let offset = offset_at(Zone::Local, 1_795_688_142);
        let sign = if offset < 0 { '-' } else { '+' };
        let off = offset.unsigned_abs() / 60;
        assert!(
            local.ends_with(&format!(",123{sign}{:02}:{:02}", off / 60, off % 60)),
            "{local}"
        );
    }

    /// An [`AscTime`] written without the per-thread cache of the second.
    struct Uncached(AscTime);

    impl fmt::Display for Uncached {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            let since = self.0.time.duration_since(UNIX_EPOCH).unwrap_or_default();
            write_asc(f, since, offset_at(self.0.zone, since.as_secs()))
        }
    }

    #[test]
    fn the_cached_second_writes_what_the_whole_text_would() {
        // Within a second, across seconds, between zones, back in time,
        // and past the year 9999 (never cached).
        let times = [
            at(1_795_688_142, 123),
            at(1_795_688_142, 999),
            at(1_795_688_142, 0),
            at(1_795_688_143, 7),
            at(1_795_688_141, 500),
            at(0, 0),
            at(253_402_300_800, 1),
            at(1_795_688_143, 8),
        ];
        for zone in [Zone::Utc, Zone::Local, Zone::Utc] {
            for time in times {
                let asc = AscTime { time, zone };
                assert_eq!(
                    asc.to_string(),
                    Uncached(asc).to_string(),
                    "{time:?} {zone:?}"
                );
            }
        }
        assert_eq!(
            AscTime::utc(at(253_402_300_800, 1)).to_string(),
            "10000-01-01 00:00:00,001+00:00"
        );
    }

    #[test]
    fn the_prefix_tables_are_the_level_names_and_every_millisecond() {
        for level in Level::ALL {
            assert_eq!(level_separated(level), format!(" - {} - ", level.name()));
            assert!(level_separated(level).len() <= LEVEL_SEPARATED_MAX);
        }
        assert_eq!(MILLIS.len(), 3000);
        for ms in 0..1000u64 {
            let time = at(1_795_688_142, ms);
            assert_eq!(
                AscTime::utc(time).to_string(),
                Uncached(AscTime::utc(time)).to_string()
            );
        }
    }

    #[test]
    fn the_cached_prefix_follows_the_millisecond_the_level_and_the_zone() {
        // The same millisecond at another level, the next millisecond, an
        // AscTime between prefixes, another zone, back in time, and past
        // the year 9999 (never cached): each as written without the cache.
        let levels = [Level::Info, Level::Info, Level::Error, Level::Trace];
        let times = [
            at(1_795_688_142, 5),
            at(1_795_688_142, 5),
            at(1_795_688_142, 6),
            at(1_795_688_143, 6),
            at(1_795_688_141, 999),
            at(253_402_300_800, 1),
        ];
        for zone in [Zone::Utc, Zone::Local, Zone::Utc] {
            for time in times {
                for level in levels {
                    let entry = Entry::new(time, level, "t", format_args!("m"));
                    let text = Formatted {
                        format: &SeedFormat { zone },
                        entry,
                    }
                    .to_string();
                    let asc = Uncached(AscTime { time, zone }).to_string();
                    assert_eq!(text, format!("{asc} - {} - m", level.name()));
                    assert_eq!(AscTime { time, zone }.to_string(), asc);
                }
            }
        }
    }

    #[test]
    fn seed_format_matches_the_seed() {
        let entry = Entry::new(
            at(1_795_688_142, 123),
            Level::Warning,
            "t",
            format_args!("x|y"),
        );
        let text = Formatted {
            format: &SeedFormat::utc(),
            entry,
        }
        .to_string();
        assert_eq!(text, "2026-11-26 10:15:42,123+00:00 - WARNING - x|y");
        let plain = Formatted {
            format: &PlainFormat,
            entry,
        };
        assert_eq!(plain.to_string(), "x|y");
    }
}
