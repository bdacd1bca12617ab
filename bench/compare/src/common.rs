//! What every contender shares: the message, the threads, what a run reports.

use std::error::Error;
use std::fs;
use std::io;
use std::path::Path;
use std::sync::Barrier;
use std::thread;
use std::time::Instant;

/// A boxed error: this is a measuring program, each failure ends the run.
pub type Res<T> = Result<T, Box<dyn Error>>;

/// Filler that makes every message 60 bytes:
/// `Thread 007 - Message 0001234 ` (29 bytes), then these 31.
pub const FILLER: &str = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";

/// The message of thread `t`, record `i`: 60 bytes (for `t` < 1000 and
/// `i` < 10,000,000), the same text for every contender.
#[macro_export]
macro_rules! message {
    ($t:expr, $i:expr) => {
        format_args!(
            "Thread {:03} - Message {:07} {}",
            $t,
            $i,
            $crate::common::FILLER
        )
    };
}

/// What one run of one contender measured.
#[derive(Clone, Copy, Debug)]
pub struct Measured {
    /// Seconds from the first thread's start to every record in the file
    /// (handed to the OS, or on disk for `sync`), or of the verification.
    pub secs: f64,
    /// Bytes of the file written (or verified).
    pub bytes: u64,
    /// Records written (or verified).
    pub records: u64,
}

impl Measured {
    /// The one line a child prints for the driver.
    pub fn line(&self) -> String {
        format!("{} {} {}", self.secs, self.bytes, self.records)
    }

    /// Reads [`Measured::line`] back.
    pub fn parse(line: &str) -> Option<Measured> {
        let mut parts = line.split_whitespace();
        let secs = parts.next()?.parse().ok()?;
        let bytes = parts.next()?.parse().ok()?;
        let records = parts.next()?.parse().ok()?;
        Some(Measured {
            secs,
            bytes,
            records,
        })
    }
}

/// Runs `body(t)` on `threads` threads at once (thread `t` appends its own
/// records) and returns the first error any of them met. Every thread waits
/// until all are started, so that `threads` appenders really contend.
pub fn on_threads(threads: usize, body: impl Fn(usize) -> io::Result<()> + Sync) -> Res<()> {
    let body = &body;
    let start = &Barrier::new(threads);
    thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    start.wait();
                    body(t)
                })
            })
            .collect();
        for handle in handles {
            match handle.join() {
                Ok(result) => result?,
                Err(_) => return Err("a writer thread panicked".into()),
            }
        }
        Ok(())
    })
}

/// Times `work`, which must leave every record in the file when it returns.
pub fn timed(work: impl FnOnce() -> Res<()>) -> Res<f64> {
    let started = Instant::now();
    work()?;
    Ok(started.elapsed().as_secs_f64())
}

/// The number of LF bytes in the file at `path` (a check that every line
/// arrived, outside the timed part).
pub fn count_lines(path: &Path) -> Res<u64> {
    let bytes = fs::read(path)?;
    Ok(bytes.iter().filter(|&&b| b == b'\n').count() as u64)
}

/// Fails unless the file at `path` has `want` lines.
pub fn expect_lines(path: &Path, want: u64) -> Res<()> {
    let got = count_lines(path)?;
    if got != want {
        return Err(format!("{}: {got} lines, expected {want}", path.display()).into());
    }
    Ok(())
}

/// The size of the file at `path`.
pub fn size(path: &Path) -> Res<u64> {
    Ok(fs::metadata(path)?.len())
}
