//! How far a record has gone when an append returns.

use std::fmt;
use std::str::FromStr;

/// When an appended record reaches the file, chosen at open.
///
/// | | handed to the OS | on disk (survives power loss) |
/// | --- | --- | --- |
/// | `Flush` | before append returns | when the OS writes it back |
/// | `Buffered` | by size (by the log's writer thread) or time, on `flush()` and on drop | when the OS writes it back |
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
    /// Fastest: a full buffer of a plain log goes to the log's writer
    /// thread, which makes the `write(2)` while appenders go on staging
    /// records (on another core). While it writes one batch, staging may
    /// grow to twice the buffer; beyond that, appenders wait for the write
    /// (nothing is dropped). A keyed log, and a log with a buffer under
    /// 4 KiB, write their full buffer on the appending thread, under the
    /// lock, as before (a buffer smaller than a record hands each record to
    /// the OS before its append returns).
    ///
    /// A process crash loses the records still in memory: those staged and
    /// the batch with the writer thread, up to twice the buffer each, so at
    /// most four buffers' worth (4 × 64 KiB by default, plus one record per
    /// appending thread; a keyed log, one buffer). `flush`, `sync`, `close`,
    /// a rotation and a tree head first wait for the writer thread, and see
    /// every record appended.
    ///
    /// If a write of the writer thread fails, nothing is lost: the file is
    /// cut back to its length before the write, and its records are staged
    /// again, unwritten. The next append or flush hands them to the OS
    /// itself first; if that fails too, it returns the error (an append's
    /// own record is then not taken: nothing of it is written) and the
    /// records stay staged for the next one. (A failed write on the
    /// appending thread is returned to the append that filled staging, whose
    /// record is not taken; the records before it stay staged.)
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
