//! Where timestamps come from, and how they are written without floating point.

use core::fmt;

/// A point in time: whole seconds and microseconds, since the Unix epoch on a
/// host, or since boot on a device with no clock.
///
/// It is written as the JSON number `secs.micros` with six fraction digits
/// (`1764146337.541715`), using integer arithmetic only: no `f64` formatting
/// code ends up in a firmware image.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct Timestamp {
    secs: u64,
    micros: u32,
}

impl Timestamp {
    /// A timestamp from seconds and microseconds; microseconds past one second
    /// carry into the seconds.
    pub const fn new(secs: u64, micros: u32) -> Self {
        Timestamp {
            secs: secs.saturating_add((micros / 1_000_000) as u64),
            micros: micros % 1_000_000,
        }
    }

    /// A timestamp from a count of ticks of a timer running at `hz` ticks per
    /// second (a SysTick or RTC counter). `hz` of 0 gives time 0.
    pub const fn from_ticks(ticks: u64, hz: u32) -> Self {
        if hz == 0 {
            return Timestamp { secs: 0, micros: 0 };
        }
        let hz = hz as u64;
        let secs = ticks / hz;
        // (ticks % hz) < hz <= u32::MAX, so the product fits in u64.
        let micros = ((ticks % hz) * 1_000_000 / hz) as u32;
        Timestamp { secs, micros }
    }

    /// Whole seconds.
    pub const fn secs(&self) -> u64 {
        self.secs
    }

    /// Microseconds past [`secs`](Self::secs), below one million.
    pub const fn micros(&self) -> u32 {
        self.micros
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:06}", self.secs, self.micros)
    }
}

/// A source of timestamps for new records.
///
/// The chain calls it once per record, while it holds the chain's lock, so
/// timestamps never go backwards along the chain when the clock itself does not.
pub trait Clock {
    /// The time now.
    fn now(&self) -> Timestamp;
}

/// A plain function is a clock: `fn ticks() -> Timestamp` on a device.
impl Clock for fn() -> Timestamp {
    fn now(&self) -> Timestamp {
        self()
    }
}

/// A clock that is always at 0: for devices with no timer, and for tests that
/// want byte-identical logs.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoClock;

impl Clock for NoClock {
    fn now(&self) -> Timestamp {
        Timestamp::default()
    }
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now(&self) -> Timestamp {
        (**self).now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::string::ToString;

    #[test]
    fn writes_six_fraction_digits() {
        assert_eq!(
            Timestamp::new(1764146337, 541715).to_string(),
            "1764146337.541715"
        );
        assert_eq!(Timestamp::new(5, 7).to_string(), "5.000007");
        assert_eq!(Timestamp::new(0, 2_500_000).to_string(), "2.500000");
        assert_eq!(Timestamp::from_ticks(3_500, 1_000).to_string(), "3.500000");
        assert_eq!(Timestamp::from_ticks(u64::MAX, 0), Timestamp::default());
        assert_eq!(
            Timestamp::from_ticks(u64::MAX, u32::MAX).secs(),
            u64::MAX / u64::from(u32::MAX)
        );
    }
}
