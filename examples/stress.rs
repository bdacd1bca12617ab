//! The seed's stress test, bigger: 500 threads append to one log with each
//! durability, and the records/s are printed. The log verifies every time.
//!
//! ```sh
//! cargo run --release --features std --example stress [THREADS] [MESSAGES_PER_THREAD]
//! ```

use std::error::Error;
use std::fs;
use std::thread;
use std::time::Instant;

use immutable_log::std_backend::{verify_path, Durability, LogFile};
use immutable_log::{Level, Options, Verdict};

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let threads: usize = args.next().map_or(Ok(500), |a| a.parse())?;
    let per_thread: usize = args.next().map_or(Ok(200), |a| a.parse())?;
    let total = threads * per_thread;
    println!("{threads} threads x {per_thread} messages = {total} records per run\n");
    println!(
        "{:<10} {:>12} {:>10} {:>14} {:>8}",
        "durability", "records/s", "seconds", "fdatasyncs", "verify"
    );
    for durability in [Durability::Buffered, Durability::Flush, Durability::Sync] {
        let path = std::env::temp_dir().join(format!("immutable-log-stress-{durability}.log"));
        let _ = fs::remove_file(&path);
        let log = LogFile::options().durability(durability).open(&path)?;
        let started = Instant::now();
        thread::scope(|s| {
            for t in 0..threads {
                let log = &log;
                s.spawn(move || {
                    for i in 0..per_thread {
                        // A failed append would show up in the verification.
                        let _ = log.append(Level::Info, format_args!("Thread {t} - Message {i}"));
                    }
                });
            }
        });
        log.flush()?;
        let elapsed = started.elapsed().as_secs_f64();
        let syncs = log.syncs();
        log.close()?;
        let verdict = match verify_path(&path, Options::default())? {
            Verdict::Intact(r) if r.records == total as u64 => "intact",
            _ => "FAILED",
        };
        println!(
            "{:<10} {:>12.0} {:>10.3} {:>14} {:>8}",
            durability.name(),
            total as f64 / elapsed,
            elapsed,
            syncs,
            verdict
        );
        let _ = fs::remove_file(&path);
    }
    println!("\n(The Python seed: about 7,400 records/s with 500 threads, flush durability.)");
    Ok(())
}
