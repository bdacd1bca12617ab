//! The host's clock: wall time since the Unix epoch.

use std::cell::Cell;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::{Clock, Timestamp};

/// The system's wall clock, as seconds and microseconds since the Unix epoch.
/// A clock set before 1970 reads as 0.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl SystemClock {
    /// `time` as a [`Timestamp`] (0 before the epoch).
    pub fn timestamp(time: SystemTime) -> Timestamp {
        let since = since_epoch(time);
        Timestamp::new(since.as_secs(), since.subsec_micros())
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Self::timestamp(SystemTime::now())
    }
}

thread_local! {
    /// The last time this thread turned into time since the epoch, and what
    /// it gave.
    static LAST: Cell<(SystemTime, Duration)> = const { Cell::new((UNIX_EPOCH, Duration::ZERO)) };
}

/// The time from the epoch to `time` (zero before the epoch). A record needs
/// it twice, for its text (`AscTime`) and for its block's `timestamp`, from
/// one clock read: the second time it comes from this thread's last answer
/// (`duration_since` costs some 55 instructions on x86_64, a look-up 15).
pub(crate) fn since_epoch(time: SystemTime) -> Duration {
    let compute = || time.duration_since(UNIX_EPOCH).unwrap_or_default();
    LAST.try_with(|last| match last.get() {
        (at, since) if at == time => since,
        _ => {
            let since = compute();
            last.set((time, since));
            since
        }
    })
    .unwrap_or_else(|_| compute())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_epoch_is_duration_since_for_repeated_and_new_times() {
        let base = UNIX_EPOCH + Duration::new(1_795_688_142, 123_456_789);
        let times = [
            base,
            base,
            base + Duration::from_nanos(1),
            base,
            UNIX_EPOCH,
            UNIX_EPOCH - Duration::from_secs(5),
            UNIX_EPOCH - Duration::from_secs(5),
            base + Duration::from_secs(1),
        ];
        for time in times {
            let want = time.duration_since(UNIX_EPOCH).unwrap_or_default();
            assert_eq!(since_epoch(time), want, "{time:?}");
            let stamp = SystemClock::timestamp(time);
            assert_eq!(
                (stamp.secs(), stamp.micros()),
                (want.as_secs(), want.subsec_micros())
            );
        }
    }
}
