//! The `log` facade over a [`Chain`]: `log::info!` and friends write records.

use core::fmt;

use crate::chain::Chain;
use crate::clock::Clock;
use crate::compact::CompactChain;
use crate::level::Level;
use crate::queued::{EnqueueError, QueuedChain};
use crate::seal::{Plain, Seal};

impl From<log::Level> for Level {
    fn from(level: log::Level) -> Self {
        match level {
            log::Level::Error => Level::Error,
            log::Level::Warn => Level::Warning,
            log::Level::Info => Level::Info,
            log::Level::Debug => Level::Debug,
            log::Level::Trace => Level::Trace,
        }
    }
}

/// A `log::Log` over a `static` [`Chain`], for `log::set_logger`.
///
/// In an interrupt handler the logger uses [`Chain::try_append`], which never
/// waits (a busy chain counts the record as unlogged), elsewhere
/// [`Chain::append`] (which never waits on bare metal either, so a wrong
/// answer costs no deadlock). [`Logger::auto`] asks the hardware
/// ([`in_interrupt`](crate::in_interrupt): IPSR on Cortex-M, `mstatus` on
/// RISC-V); [`Logger::new`] takes a detector of your own; on a host,
/// [`Logger::blocking`].
///
/// `log::Log` cannot return errors: a record the sink failed to take is
/// counted as unlogged, so the next record written reports it.
pub struct Logger<W: 'static, C: 'static, const N: usize, S: 'static = Plain> {
    chain: &'static Chain<W, C, N, S>,
    in_interrupt: fn() -> bool,
}

fn never() -> bool {
    false
}

impl<W, C, const N: usize, S> Logger<W, C, N, S> {
    /// A logger that asks `in_interrupt` before each record.
    pub const fn new(chain: &'static Chain<W, C, N, S>, in_interrupt: fn() -> bool) -> Self {
        Logger {
            chain,
            in_interrupt,
        }
    }

    /// A logger that asks the hardware whether the caller is an interrupt
    /// handler ([`in_interrupt`](crate::in_interrupt)): no detector to write.
    pub const fn auto(chain: &'static Chain<W, C, N, S>) -> Self {
        Self::new(chain, crate::interrupt::in_interrupt)
    }

    /// A logger that always uses [`Chain::append`]: for hosts and for
    /// firmware that never logs from an interrupt handler.
    pub const fn blocking(chain: &'static Chain<W, C, N, S>) -> Self {
        Self::new(chain, never)
    }
}

impl<W, C, const N: usize, S> log::Log for Logger<W, C, N, S>
where
    W: embedded_io::Write + Send,
    C: Clock + Sync,
    S: Seal + Send,
{
    fn enabled(&self, _metadata: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        let level = Level::from(record.level());
        let result = if (self.in_interrupt)() {
            self.chain.try_append(level, *record.args())
        } else {
            self.chain.append(level, *record.args())
        };
        if let Err(crate::AppendError::Sink(_) | crate::AppendError::Seal(_)) = result {
            self.chain.note_unlogged();
        }
    }

    fn flush(&self) {
        if !(self.in_interrupt)() {
            // Nowhere to report a flush error; the next append will meet it.
            let _ = self.chain.flush();
        }
    }
}

/// A chain that queues records: what [`QueueLogger`] writes through.
/// Implemented by [`QueuedChain`] and the compact encoding's chain; sealed.
pub trait Enqueue: private::Sealed {
    /// Queues a record; a failure is counted as a lost record.
    fn enqueue(&self, level: Level, message: fmt::Arguments<'_>);
}

pub(crate) mod private {
    /// Only this crate's queued chains are [`Enqueue`](super::Enqueue).
    pub trait Sealed {}
}

impl<C: Clock, const N: usize, const Q: usize, S: Seal + Clone> private::Sealed
    for QueuedChain<'_, C, N, Q, S>
{
}

impl<C: Clock, const N: usize, const Q: usize, S: Seal + Clone> Enqueue
    for QueuedChain<'_, C, N, Q, S>
{
    fn enqueue(&self, level: Level, message: fmt::Arguments<'_>) {
        // A full queue was counted by the chain; a seal failure is counted here.
        if let Err(EnqueueError::Seal(_)) = self.append(level, message) {
            self.note_unlogged();
        }
    }
}

impl<C: Clock, const M: usize, const Q: usize, S: Seal + Clone> private::Sealed
    for CompactChain<'_, C, M, Q, S>
{
}

impl<C: Clock, const M: usize, const Q: usize, S: Seal + Clone> Enqueue
    for CompactChain<'_, C, M, Q, S>
{
    fn enqueue(&self, level: Level, message: fmt::Arguments<'_>) {
        if let Err(EnqueueError::Seal(_)) = self.append(level, message) {
            self.note_unlogged();
        }
    }
}

/// A `log::Log` over a `static` queued chain ([`QueuedChain`], or the compact
/// encoding's chain), for `log::set_logger`. Every context calls the same
/// append, which never waits; nothing reaches the sink until the application
/// drains the queue, so `flush` does nothing.
pub struct QueueLogger<T: 'static>(&'static T);

impl<T> QueueLogger<T> {
    /// A logger over this chain.
    pub const fn new(chain: &'static T) -> Self {
        QueueLogger(chain)
    }
}

impl<T: Enqueue + Sync> log::Log for QueueLogger<T> {
    fn enabled(&self, _metadata: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        self.0.enqueue(Level::from(record.level()), *record.args());
    }

    fn flush(&self) {}
}
