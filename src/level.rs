//! Severity levels, numbered as Python's `logging` numbers them (`levelno`).

use core::fmt;

/// A record's severity. The number written to the log is Python's `levelno`,
/// so logs stay readable by the seed's tools.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum Level {
    /// `levelno` 5: finer than debug.
    Trace,
    /// `levelno` 10.
    Debug,
    /// `levelno` 20.
    Info,
    /// `levelno` 30.
    Warning,
    /// `levelno` 40.
    Error,
    /// `levelno` 50.
    Critical,
}

impl Level {
    /// Every level, from the finest to the most severe.
    pub const ALL: [Level; 6] = [
        Level::Trace,
        Level::Debug,
        Level::Info,
        Level::Warning,
        Level::Error,
        Level::Critical,
    ];

    /// Python's `levelno` for this level.
    pub const fn levelno(self) -> u8 {
        match self {
            Level::Trace => 5,
            Level::Debug => 10,
            Level::Info => 20,
            Level::Warning => 30,
            Level::Error => 40,
            Level::Critical => 50,
        }
    }

    /// The level's name as Python's `%(levelname)s` spells it.
    pub const fn name(self) -> &'static str {
        match self {
            Level::Trace => "TRACE",
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warning => "WARNING",
            Level::Error => "ERROR",
            Level::Critical => "CRITICAL",
        }
    }

    /// The level with this exact `levelno`, if it is one of the six.
    pub const fn from_levelno(levelno: u64) -> Option<Level> {
        match levelno {
            5 => Some(Level::Trace),
            10 => Some(Level::Debug),
            20 => Some(Level::Info),
            30 => Some(Level::Warning),
            40 => Some(Level::Error),
            50 => Some(Level::Critical),
            _ => None,
        }
    }

    /// Parses a level name, in any case (`info`, `WARNING`; `warn` too).
    pub fn from_name(name: &str) -> Option<Level> {
        const NAMES: [(&str, Level); 7] = [
            ("TRACE", Level::Trace),
            ("DEBUG", Level::Debug),
            ("INFO", Level::Info),
            ("WARNING", Level::Warning),
            ("WARN", Level::Warning),
            ("ERROR", Level::Error),
            ("CRITICAL", Level::Critical),
        ];
        NAMES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|&(_, level)| level)
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_holds_every_level_once_from_finest_to_most_severe() {
        let from_numbers: Vec<Level> = (0..=255u64).filter_map(Level::from_levelno).collect();
        assert_eq!(from_numbers, Level::ALL);
    }

    #[test]
    fn levelno_round_trips() {
        for level in Level::ALL {
            assert_eq!(Level::from_levelno(level.levelno().into()), Some(level));
            assert_eq!(Level::from_name(level.name()), Some(level));
        }
        assert_eq!(Level::from_levelno(25), None);
        assert_eq!(Level::from_name("warn"), Some(Level::Warning));
        assert_eq!(Level::from_name("loud"), None);
    }
}
