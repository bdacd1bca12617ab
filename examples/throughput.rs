//! Append throughput of the file handler, then verify throughput of what it
//! wrote: the figures of the README's performance table.
//!
//! ```sh
//! cargo run --release --features std --example throughput -- THREADS MESSAGES SIZE DURABILITY
//! # e.g. 1 thread, 1,000,000 records of 60-byte messages, buffered:
//! cargo run --release --features std --example throughput -- 1 1000000 60 buffered
//! # 500 threads x 1000 records each, flush (the seed's semantics):
//! cargo run --release --features std --example throughput -- 500 1000 60 flush
//! ```
//!
//! - `THREADS` threads each append `MESSAGES` records (default 1 × 100000);
//! - `SIZE` is the length of each record's message as it stands in the log
//!   (default 60; at most that for the widest thread and record numbers):
//!   the seed's format, `2026-11-26 10:15:42,123 - INFO - `, then
//!   `Thread <t> - Message <i> ` as the seed's stress test logs, then filler;
//! - `DURABILITY` is `flush` (the default, as the seed), `buffered` or `sync`.
//!
//! The log goes to a new temporary directory (`$TMPDIR`, or `/tmp`) and is
//! deleted afterwards. The time runs from the first append to the moment every
//! record is in the file (for `buffered`: after the final flush); MB/s is the
//! file's size over that time. The file is then verified (it must be intact,
//! with every record) and the verifier's MB/s printed. `--keep` keeps the file;
//! `--no-verify` skips the verification (for profiling the appends alone).

use std::error::Error;
use std::fs;
use std::thread;
use std::time::Instant;

use immutable_log::std_backend::{verify_path, Durability, LogFile};
use immutable_log::{Level, Options, Verdict};

/// `2026-11-26 10:15:42,123 - INFO - `: what the seed's format puts first.
const SEED_PREFIX: usize = 33;

fn main() -> Result<(), Box<dyn Error>> {
    let mut keep = false;
    let mut verify = true;
    let mut args = Vec::new();
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--keep" => keep = true,
            "--no-verify" => verify = false,
            "-h" | "--help" => {
                println!("usage: throughput [THREADS] [MESSAGES] [SIZE] [flush|buffered|sync] [--keep] [--no-verify]");
                return Ok(());
            }
            _ => args.push(arg),
        }
    }
    let mut args = args.into_iter();
    let threads: usize = args.next().map_or(Ok(1), |a| a.parse())?;
    let messages: usize = args.next().map_or(Ok(100_000), |a| a.parse())?;
    let size: usize = args.next().map_or(Ok(60), |a| a.parse())?;
    let durability: Durability = args.next().map_or(Ok(Durability::Flush), |a| a.parse())?;
    let total = (threads * messages) as u64;
    // `Thread <t> - Message <i> `, as the seed's stress test logs, then filler;
    // sized for the widest `t` and `i`.
    let digits = |n: usize| n.max(1).ilog10() as usize + 1;
    let tag = "Thread  - Message  ".len()
        + digits(threads.saturating_sub(1))
        + digits(messages.saturating_sub(1));
    let filler = "x".repeat(size.saturating_sub(SEED_PREFIX + tag));

    let dir = tempfile::Builder::new()
        .prefix("immutable-log-throughput-")
        .tempdir()?;
    let path = dir.path().join("throughput.log");
    let log = LogFile::options().durability(durability).open(&path)?;

    let started = Instant::now();
    thread::scope(|s| {
        for t in 0..threads {
            let (log, filler) = (&log, filler.as_str());
            s.spawn(move || {
                for i in 0..messages {
                    let result = log.append(
                        Level::Info,
                        format_args!("Thread {t} - Message {i} {filler}"),
                    );
                    if let Err(e) = result {
                        eprintln!("append failed: {e}");
                        std::process::exit(1);
                    }
                }
            });
        }
    });
    log.flush()?;
    let elapsed = started.elapsed().as_secs_f64();
    let syncs = log.syncs();
    log.close()?;
    let bytes = fs::metadata(&path)?.len();

    let mb = bytes as f64 / 1e6;
    println!(
        "{threads} threads x {messages} records, {size}-byte messages, {durability}: \
         {total} records, {bytes} bytes ({} bytes/record)",
        bytes / total.max(1)
    );
    println!(
        "append: {:.3} s, {:.0} records/s, {:.1} MB/s",
        elapsed,
        total as f64 / elapsed,
        mb / elapsed
    );
    if durability == Durability::Sync {
        println!(
            "fdatasyncs: {syncs} ({:.1} records per sync)",
            total as f64 / syncs.max(1) as f64
        );
    }
    if !verify {
        return finish(dir, keep);
    }
    let started = Instant::now();
    let verdict = verify_path(&path, Options::default())?;
    let verify_secs = started.elapsed().as_secs_f64();
    match verdict {
        Verdict::Intact(report) if report.records == total => println!(
            "verify: intact, {} records, {:.3} s, {:.0} MB/s",
            report.records,
            verify_secs,
            mb / verify_secs
        ),
        other => {
            eprintln!("verify: NOT INTACT: {other:?}");
            std::process::exit(1);
        }
    }
    finish(dir, keep)
}

/// Deletes the log, or keeps it and says where.
fn finish(dir: tempfile::TempDir, keep: bool) -> Result<(), Box<dyn Error>> {
    if keep {
        let kept = dir.keep();
        println!("kept {}", kept.join("throughput.log").display());
    } else {
        dir.close()?;
    }
    Ok(())
}
