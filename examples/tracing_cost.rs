//! What immutable-log's `tracing` layer takes: `TracingLayer` writing the same
//! events into a `LogFile` with `Flush` and `Buffered`, from 1 and 8 threads;
//! then what one rotation costs. The comparison with a `fmt` layer through
//! `tracing-appender` on these events is `bench/compare.sh` (workloads
//! `1-events` and `8-events`): peers are never dependencies of this crate.
//!
//! ```sh
//! cargo run --release --features tracing --example tracing_cost -- [EVENTS] [DIR]
//! ```

use std::error::Error;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use immutable_log::std_backend::{Durability, LogFile, Rotation, TracingLayer};
use immutable_log::Level;
use tracing::Dispatch;
use tracing_subscriber::layer::SubscriberExt;

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let events: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(200_000);
    let dir = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("immutable-log-tracing-cost"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;

    println!("{events} events, `info!(target: \"bench\", id, user = \"alice\", \"request done\")`");
    println!(
        "{:<44} {:>12} {:>12}",
        "writer", "1 thread/s", "8 threads/s"
    );
    for durability in [Durability::Flush, Durability::Buffered] {
        let mut row = Vec::new();
        for threads in [1, 8] {
            let path = dir.join(format!("{durability}-{threads}.log"));
            let (dispatch, done) = ours(&path, durability)?;
            let elapsed = run(&dispatch, threads, events);
            drop(dispatch);
            done()?;
            row.push(events as f64 / elapsed.as_secs_f64());
        }
        let name = format!("TracingLayer, {durability}");
        println!("{name:<44} {:>12.0} {:>12.0}", row[0], row[1]);
    }
    rotation_cost(&dir)?;
    Ok(())
}

type Done = Box<dyn FnOnce() -> Result<(), Box<dyn Error>>>;

fn ours(path: &Path, durability: Durability) -> Result<(Dispatch, Done), Box<dyn Error>> {
    let log = Arc::new(LogFile::options().durability(durability).open(path)?);
    let dispatch =
        Dispatch::new(tracing_subscriber::registry().with(TracingLayer::new(Arc::clone(&log))));
    Ok((dispatch, Box::new(move || Ok(log.flush()?)) as Done))
}

/// `events` events from `threads` threads; the time until all are emitted.
fn run(dispatch: &Dispatch, threads: usize, events: usize) -> Duration {
    let per = events / threads;
    let started = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let dispatch = dispatch.clone();
            thread::spawn(move || {
                tracing::dispatcher::with_default(&dispatch, || {
                    for id in 0..per {
                        tracing::info!(target: "bench", id, user = "alice", "request done");
                    }
                })
            })
        })
        .collect();
    for worker in workers {
        let _ = worker.join();
    }
    started.elapsed()
}

/// What a rotation costs: 20 rotations of a 1 MiB file, plain and gzip,
/// with retention keeping 5 files (so most rotations also prune one).
fn rotation_cost(dir: &Path) -> Result<(), Box<dyn Error>> {
    for compress in [false, true] {
        let path = dir.join(format!("rotate-{compress}.log"));
        let log = LogFile::options()
            .durability(Durability::Buffered)
            .rotate(
                Rotation::new()
                    .keep_files(5)
                    .compress(compress)
                    .max_size(u64::MAX),
            )
            .open(&path)?;
        let mut in_rotation = Duration::ZERO;
        let rotations = 20;
        for _ in 0..rotations {
            for i in 0..2_500 {
                log.append(
                    Level::Info,
                    format_args!("request {i} done user=alice status=200"),
                )?;
            }
            log.flush()?;
            let started = Instant::now();
            log.rotate()?;
            in_rotation += started.elapsed();
        }
        let size = std::fs::metadata(dir.join(format!(
            "rotate-{compress}.log.1{}",
            if compress { ".gz" } else { "" }
        )))?
        .len();
        println!(
            "rotation of a ~1 MiB file ({}, keep 5): {:.1} ms per rotated file (rotated file {} bytes)",
            if compress { "gzip" } else { "plain" },
            in_rotation.as_secs_f64() * 1000.0 / f64::from(rotations),
            size
        );
        log.close()?;
    }
    Ok(())
}
