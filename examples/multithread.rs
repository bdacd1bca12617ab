//! The seed's multi-thread test: 100 threads log through the `log` facade
//! into one file, which then verifies, with every thread's messages present
//! and in order.
//!
//! ```sh
//! cargo run --release --features std --example multithread
//! ```

use std::error::Error;
use std::fs;
use std::thread;
use std::time::Instant;

use immutable_log::std_backend::{verify_path, LogFile};
use immutable_log::{Options, Verdict};

const THREADS: usize = 100;
const MESSAGES: usize = 100;

fn main() -> Result<(), Box<dyn Error>> {
    let path = std::env::temp_dir().join("immutable-log-example-multithread.log");
    let _ = fs::remove_file(&path);
    // The handler becomes the `log` crate's logger: `log::info!` writes records.
    let log = LogFile::open(&path)?
        .install()
        .map_err(|e| format!("a logger was already set: {e}"))?;

    println!(
        "{THREADS} threads x {MESSAGES} messages -> {}",
        path.display()
    );
    let started = Instant::now();
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            thread::spawn(move || {
                for i in 0..MESSAGES {
                    log::info!("Thread {t} - Message {i}");
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().map_err(|_| "a worker panicked")?;
    }
    let elapsed = started.elapsed();
    log.flush()?;
    let total = THREADS * MESSAGES;
    println!(
        "wrote {total} records in {:.3} s ({:.0} records/s)",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64()
    );

    match verify_path(&path, Options::default())? {
        Verdict::Intact(report) => println!(
            "verified: intact, {} records, head seq {}",
            report.records,
            report.head.and_then(|h| h.seq).unwrap_or_default()
        ),
        other => return Err(format!("verification failed: {other:?}").into()),
    }

    // Each thread's messages appear once each, in the order it logged them.
    let text = fs::read_to_string(&path)?;
    let mut next = vec![0; THREADS];
    for line in text.lines().filter(|l| !l.starts_with("BLOCK_DATA:")) {
        let message = line.split(" - INFO - ").nth(1).ok_or("unexpected line")?;
        let message = message
            .get(..message.len().saturating_sub(65))
            .unwrap_or("");
        let (t, i) = message
            .strip_prefix("Thread ")
            .and_then(|m| m.split_once(" - Message "))
            .ok_or("unexpected message")?;
        let (t, i): (usize, usize) = (t.parse()?, i.parse()?);
        if next[t] != i {
            return Err(format!("thread {t}: message {i} out of order").into());
        }
        next[t] += 1;
    }
    if next.iter().any(|&n| n != MESSAGES) {
        return Err("messages missing".into());
    }
    println!("every thread's {MESSAGES} messages are present, once each, in order");
    Ok(())
}
