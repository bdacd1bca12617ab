//! Turning a log call into a record's message text.
//!
//! The default, [`SeedFormat`], writes what the Python original's
//! `logging.Formatter('%(asctime)s - %(levelname)s - %(message)s')` writes:
//! `2026-11-26 10:15:42,123 - INFO - message`. The time is UTC (Python uses
//! local time; std has no time zone database, and a log read across time zones
//! is clearer in UTC).

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

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
///     write!(f, "{} [{}] {}: {}", AscTime(e.time), e.level, e.target, e.args)
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

/// The seed's format, `%(asctime)s - %(levelname)s - %(message)s`:
/// `2026-11-26 10:15:42,123 - INFO - message`, time in UTC. The default.
#[derive(Clone, Copy, Debug, Default)]
pub struct SeedFormat;

impl Format for SeedFormat {
    fn format(&self, out: &mut fmt::Formatter<'_>, entry: &Entry<'_>) -> fmt::Result {
        write!(
            out,
            "{} - {} - {}",
            AscTime(entry.time),
            entry.level,
            entry.args
        )
    }
}

/// The message alone, with no time or level (the block has both anyway).
#[derive(Clone, Copy, Debug, Default)]
pub struct PlainFormat;

impl Format for PlainFormat {
    fn format(&self, out: &mut fmt::Formatter<'_>, entry: &Entry<'_>) -> fmt::Result {
        out.write_fmt(entry.args)
    }
}

/// A time as Python's `%(asctime)s` writes it, in UTC:
/// `2026-11-26 10:15:42,123`. Times before 1970 show as the epoch.
#[derive(Clone, Copy, Debug)]
pub struct AscTime(pub SystemTime);

impl fmt::Display for AscTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let since = self.0.duration_since(UNIX_EPOCH).unwrap_or_default();
        let secs = since.as_secs();
        let (year, month, day) = civil_from_days(secs / 86_400);
        let of_day = secs % 86_400;
        if year > 9999 {
            return write!(
                f,
                "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02},{:03}",
                of_day / 3600,
                of_day / 60 % 60,
                of_day % 60,
                since.subsec_millis()
            );
        }
        // One piece, digits by hand: this runs for every record, and
        // core::fmt's padded integers cost more than the rest of the format.
        let mut text = *b"0000-00-00 00:00:00,000";
        let fields: [(usize, usize, u64); 7] = [
            (0, 4, year),
            (5, 2, month),
            (8, 2, day),
            (11, 2, of_day / 3600),
            (14, 2, of_day / 60 % 60),
            (17, 2, of_day % 60),
            (20, 3, u64::from(since.subsec_millis())),
        ];
        for (at, width, mut value) in fields {
            for slot in text.iter_mut().skip(at).take(width).rev() {
                *slot = b'0' + (value % 10) as u8;
                value /= 10;
            }
        }
        f.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?)
    }
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
    use std::time::Duration;

    fn at(secs: u64, millis: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(millis)
    }

    #[test]
    fn asctime_is_python_shaped_utc() {
        assert_eq!(AscTime(at(0, 0)).to_string(), "1970-01-01 00:00:00,000");
        // 2026-11-26 10:15:42 UTC.
        assert_eq!(
            AscTime(at(1_795_688_142, 123)).to_string(),
            "2026-11-26 10:15:42,123"
        );
        // Leap day, and the last millisecond of a century year.
        assert_eq!(
            AscTime(at(951_782_400, 0)).to_string(),
            "2000-02-29 00:00:00,000"
        );
        assert_eq!(
            AscTime(at(4_102_444_799, 999)).to_string(),
            "2099-12-31 23:59:59,999"
        );
        let before = UNIX_EPOCH - Duration::from_secs(5);
        assert_eq!(AscTime(before).to_string(), "1970-01-01 00:00:00,000");
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
            format: &SeedFormat,
            entry,
        }
        .to_string();
        assert_eq!(text, "2026-11-26 10:15:42,123 - WARNING - x|y");
        let plain = Formatted {
            format: &PlainFormat,
            entry,
        };
        assert_eq!(plain.to_string(), "x|y");
    }
}
