//! How far a record has gone when an append returns.

use std::fmt;
use std::str::FromStr;

/// When an appended record reaches the file, chosen at open.
///
/// | | handed to the OS | on disk (survives power loss) |
/// | --- | --- | --- |
/// | `Flush` | before append returns | when the OS writes it back |
/// | `Buffered` | by size or time, on `flush()` and on drop | when the OS writes it back |
/// | `Sync` | before append returns | before append returns |
///
/// A record handed to the OS survives a crash of the process; only `Sync`
/// makes it survive a crash of the machine.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
#[non_exhaustive]
pub enum Durability {
    /// Each record is handed to the OS (one `write`) before append returns,
    /// as the seed did. The default.
    #[default]
    Flush,
    /// Records collect in memory and are handed to the OS when the buffer
    /// fills, when the flush interval has passed (a background thread sees to
    /// it), on [`flush`](crate::std_backend::LogFile::flush), and on drop.
    /// Fastest; a process crash loses the records still in memory.
    Buffered,
    /// Each record is on disk (`fdatasync`) before append returns. Threads
    /// appending at the same time share one `fdatasync` (group commit).
    Sync,
}

impl Durability {
    /// The name the CLI uses: `flush`, `buffered` or `sync`.
    pub const fn name(self) -> &'static str {
        match self {
            Durability::Flush => "flush",
            Durability::Buffered => "buffered",
            Durability::Sync => "sync",
        }
    }
}

impl fmt::Display for Durability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not `flush`, `buffered` or `sync`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct UnknownDurability;

impl fmt::Display for UnknownDurability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("unknown durability: expected flush, buffered or sync")
    }
}

impl std::error::Error for UnknownDurability {}

impl FromStr for Durability {
    type Err = UnknownDurability;

    /// Parses `flush`, `buffered` or `sync`, in any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Durability::Flush, Durability::Buffered, Durability::Sync]
            .into_iter()
            .find(|d| d.name().eq_ignore_ascii_case(s))
            .ok_or(UnknownDurability)
    }
}
