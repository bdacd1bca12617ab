//! The peers, each writing the same messages: `tracing`'s fmt layer (into a
//! `Mutex<BufWriter<File>>`, or through `tracing-appender`), `fern`, and
//! `audit-trail` (a SHA-256 hash chain).

use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use audit_trail::{
    Action, Actor, Chain, FileReader, FileSink, MonotonicClock, Outcome, Sha256Hasher, SystemClock,
    Target, Verifier,
};
use immutable_log::std_backend::AscTime;
use tracing_subscriber::fmt::MakeWriter;

use crate::common::{expect_lines, on_threads, size, timed, Measured, Res};
use crate::message;

/// How a `tracing` peer reaches its file.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum TracingWriter {
    /// A `Mutex<BufWriter<File>>` (64 KiB), flushed at the end: buffered.
    BufWriter,
    /// `tracing_appender::rolling::never`: one `write(2)` per event, on the
    /// logging thread (blocking).
    AppenderBlocking,
    /// `tracing_appender::non_blocking` (lossless): events go through a
    /// channel to one worker thread that writes them; `info!` returns before
    /// the write. Timed until the worker has written every line.
    AppenderNonBlocking,
}

/// A `Mutex<BufWriter<File>>` as a `MakeWriter`, kept so the end can flush it.
struct Shared(Arc<Mutex<BufWriter<File>>>);

/// The locked writer for one event.
struct Locked<'a>(MutexGuard<'a, BufWriter<File>>);

impl Write for Locked<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.0.write_all(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl<'a> MakeWriter<'a> for Shared {
    type Writer = Locked<'a>;
    fn make_writer(&'a self) -> Locked<'a> {
        Locked(self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// `tracing::info!` with the default fmt layer (time, level, target,
/// message), no ANSI colours, from `threads` threads.
pub fn tracing(
    dir: &Path,
    threads: usize,
    per_thread: usize,
    writer: TracingWriter,
) -> Res<Measured> {
    let path = dir.join("tracing.log");
    let records = (threads * per_thread) as u64;
    let fmt = tracing_subscriber::fmt().with_ansi(false);
    let emit = |t: usize| {
        for i in 0..per_thread {
            tracing::info!("{}", message!(t, i));
        }
        Ok(())
    };
    let secs = match writer {
        TracingWriter::BufWriter => {
            let file = File::create(&path)?;
            let shared = Arc::new(Mutex::new(BufWriter::with_capacity(64 * 1024, file)));
            tracing::subscriber::set_global_default(
                fmt.with_writer(Shared(shared.clone())).finish(),
            )?;
            timed(|| {
                on_threads(threads, emit)?;
                shared
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .flush()?;
                Ok(())
            })?
        }
        TracingWriter::AppenderBlocking => {
            let appender = tracing_appender::rolling::never(dir, "tracing.log");
            tracing::subscriber::set_global_default(fmt.with_writer(appender).finish())?;
            timed(|| on_threads(threads, emit))?
        }
        TracingWriter::AppenderNonBlocking => {
            let file = File::create(&path)?;
            let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
                .lossy(false)
                .finish(file);
            tracing::subscriber::set_global_default(fmt.with_writer(writer).finish())?;
            timed(|| {
                on_threads(threads, emit)?;
                // The guard waits for the worker at most a second: past that,
                // wait here until every line is in the file.
                drop(guard);
                wait_for_lines(&path, records)
            })?
        }
    };
    expect_lines(&path, records)?;
    Ok(Measured {
        secs,
        bytes: size(&path)?,
        records,
    })
}

/// Waits (at most a minute) until the file at `path` holds `lines` lines,
/// polling its size (every line is as long as the first: fixed-width time,
/// the same message width); the line count is checked after the clock stops.
pub fn wait_for_lines(path: &Path, lines: u64) -> Res<()> {
    let mut first = [0u8; 4096];
    let read = File::open(path)?.read(&mut first)?;
    let line = first[..read]
        .iter()
        .position(|&b| b == b'\n')
        .ok_or("the first line is missing")?;
    let want = (line as u64 + 1) * lines;
    let deadline = Instant::now() + Duration::from_secs(60);
    while size(path)? < want {
        if Instant::now() > deadline {
            return Err(format!("{}: the worker never wrote every line", path.display()).into());
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    Ok(())
}

/// `log::info!` through `fern` to a file (fern formats under its lock into a
/// `BufWriter` and flushes it: one `write(2)` per record), each line
/// `2026-11-26 10:15:42,123 - INFO - message` as the seed's format.
pub fn fern(dir: &Path, threads: usize, per_thread: usize) -> Res<Measured> {
    let path = dir.join("fern.log");
    fern::Dispatch::new()
        .format(|out, message, record| {
            out.finish(format_args!(
                "{} - {} - {}",
                AscTime::local(SystemTime::now()),
                record.level(),
                message
            ))
        })
        .level(log::LevelFilter::Info)
        .chain(fern::log_file(&path)?)
        .apply()?;
    let secs = timed(|| {
        on_threads(threads, |t| {
            for i in 0..per_thread {
                log::info!("{}", message!(t, i));
            }
            Ok(())
        })?;
        log::logger().flush();
        Ok(())
    })?;
    let records = (threads * per_thread) as u64;
    expect_lines(&path, records)?;
    Ok(Measured {
        secs,
        bytes: size(&path)?,
        records,
    })
}

type AuditChain = Chain<Sha256Hasher, FileSink<BufWriter<File>>, MonotonicClock<SystemClock>>;

/// A new `audit-trail` chain in a file (its `FileSink`: a `BufWriter`), with a
/// strictly increasing clock as its `append` requires.
fn audit_chain(path: &Path) -> Res<AuditChain> {
    let sink = FileSink::open_or_create(path)?;
    Ok(Chain::new(
        Sha256Hasher::new(),
        sink,
        MonotonicClock::new(SystemClock::new()),
    ))
}

/// One `audit-trail` record: actor `bench`, action `log.info`, the message as
/// its target.
fn audit_append(chain: &mut AuditChain, message: &str) -> io::Result<()> {
    chain
        .append(
            Actor::new("bench"),
            Action::new("log.info"),
            Target::new(message),
            Outcome::Success,
        )
        .map(drop)
        .map_err(|e| io::Error::other(format!("{e:?}")))
}

/// `audit-trail` from `threads` threads sharing one chain behind a `Mutex`
/// (its `append` takes `&mut self`); each thread formats the message into its
/// own `String` first. With `flush`, the sink is flushed after each record
/// (one `write(2)`); without, once at the end.
pub fn audit_trail(dir: &Path, threads: usize, per_thread: usize, flush: bool) -> Res<Measured> {
    let path = dir.join("audit-trail.log");
    let chain = Mutex::new(audit_chain(&path)?);
    let secs = timed(|| {
        on_threads(threads, |t| {
            let mut text = String::with_capacity(64);
            for i in 0..per_thread {
                text.clear();
                let _ = text.write_fmt(message!(t, i));
                let mut chain = chain.lock().unwrap_or_else(PoisonError::into_inner);
                audit_append(&mut chain, &text)?;
                if flush {
                    chain
                        .flush()
                        .map_err(|e| io::Error::other(format!("{e:?}")))?;
                }
            }
            Ok(())
        })?;
        let mut chain = chain.lock().unwrap_or_else(PoisonError::into_inner);
        chain.flush().map_err(|e| format!("{e:?}"))?;
        Ok(())
    })?;
    Ok(Measured {
        secs,
        bytes: size(&path)?,
        records: (threads * per_thread) as u64,
    })
}

/// Writes the `audit-trail` file that [`audit_trail_verify`] reads.
pub fn prepare_audit_trail_verify(path: &Path, records: usize) -> Res<()> {
    let mut chain = audit_chain(path)?;
    let mut text = String::with_capacity(64);
    for i in 0..records {
        text.clear();
        let _ = text.write_fmt(message!(0, i));
        audit_append(&mut chain, &text)?;
    }
    chain.flush().map_err(|e| format!("{e:?}"))?;
    Ok(())
}

/// `audit-trail`'s verification: its `FileReader` into its `Verifier`.
pub fn audit_trail_verify(path: &Path, records: u64) -> Res<Measured> {
    let mut count = 0u64;
    let secs = timed(|| {
        let mut verifier = Verifier::new(Sha256Hasher::new());
        for record in FileReader::open(path)? {
            let record = record.map_err(|e| format!("{e:?}"))?;
            verifier
                .verify(&record.as_record())
                .map_err(|e| format!("{e:?}"))?;
            count += 1;
        }
        Ok(())
    })?;
    if count != records {
        return Err(format!("{}: {count} records, expected {records}", path.display()).into());
    }
    Ok(Measured {
        secs,
        bytes: size(path)?,
        records,
    })
}
