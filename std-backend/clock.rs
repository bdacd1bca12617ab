//! The host's clock: wall time since the Unix epoch.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::{Clock, Timestamp};

/// The system's wall clock, as seconds and microseconds since the Unix epoch.
/// A clock set before 1970 reads as 0.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl SystemClock {
    /// `time` as a [`Timestamp`] (0 before the epoch).
    pub fn timestamp(time: SystemTime) -> Timestamp {
        let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
        Timestamp::new(since.as_secs(), since.subsec_micros())
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Self::timestamp(SystemTime::now())
    }
}
