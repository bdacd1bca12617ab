//! `tracing` events with fields, the same for every contender:
//! `info!(target: "bench", id, user = "alice", "request done")`, written by
//! immutable-log's `TracingLayer` into a `LogFile`, or by a `fmt` layer into a
//! plain file through `tracing-appender` (blocking, or its non-blocking
//! worker). Moved here from the crate's `examples/tracing_cost.rs`: peers are
//! dependencies of this program only.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use immutable_log::std_backend::{Durability, LogFile, TracingLayer};
use tracing_subscriber::layer::SubscriberExt;

use crate::common::{expect_lines, on_threads, size, timed, Measured, Res};
use crate::peers::wait_for_lines;

/// The event every contender writes, `per_thread` times from each thread.
fn emit(per_thread: usize) -> impl Fn(usize) -> std::io::Result<()> + Sync {
    move |_| {
        // Seven digits for every id: lines of one width (`wait_for_lines`).
        for id in 1_000_000..1_000_000 + per_thread {
            tracing::info!(target: "bench", id, user = "alice", "request done");
        }
        Ok(())
    }
}

/// immutable-log's `TracingLayer` into a new log with `durability`.
pub fn layer(
    dir: &Path,
    threads: usize,
    per_thread: usize,
    durability: Durability,
) -> Res<Measured> {
    let path = dir.join("immutable.log");
    let log = Arc::new(LogFile::options().durability(durability).open(&path)?);
    let subscriber = tracing_subscriber::registry().with(TracingLayer::new(Arc::clone(&log)));
    tracing::subscriber::set_global_default(subscriber)?;
    let secs = timed(|| {
        on_threads(threads, emit(per_thread))?;
        log.flush()?;
        Ok(())
    })?;
    let records = (threads * per_thread) as u64;
    // Two lines a record.
    expect_lines(&path, 2 * records)?;
    Ok(Measured {
        secs,
        bytes: size(&path)?,
        records,
    })
}

/// A `fmt` layer (no ANSI colours) through `tracing-appender`: its blocking
/// writer (one `write(2)` per event), or its non-blocking worker.
pub fn appender(dir: &Path, threads: usize, per_thread: usize, blocking: bool) -> Res<Measured> {
    let path = dir.join("tracing.log");
    let records = (threads * per_thread) as u64;
    let fmt = tracing_subscriber::fmt::layer().with_ansi(false);
    let secs = if !blocking {
        let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
            .lossy(false)
            .finish(File::create(&path)?);
        let subscriber = tracing_subscriber::registry().with(fmt.with_writer(writer));
        tracing::subscriber::set_global_default(subscriber)?;
        timed(|| {
            on_threads(threads, emit(per_thread))?;
            drop(guard);
            wait_for_lines(&path, records)
        })?
    } else {
        let appender = tracing_appender::rolling::never(dir, "tracing.log");
        let subscriber = tracing_subscriber::registry().with(fmt.with_writer(appender));
        tracing::subscriber::set_global_default(subscriber)?;
        timed(|| on_threads(threads, emit(per_thread)))?
    };
    expect_lines(&path, records)?;
    Ok(Measured {
        secs,
        bytes: size(&path)?,
        records,
    })
}
