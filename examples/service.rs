//! A small multi-threaded service that logs through `tracing` into a
//! rotating, retained, compressed tamper-evident set, then verifies the set.
//!
//! ```sh
//! cargo run --release --features tracing --example service -- DIR
//! cargo run --release --features cli --bin immutable-log -- verify --set DIR/service.log
//! ```
//!
//! The log is `DIR/service.log`; it rotates at 256 KiB into `service.log.1.gz`,
//! `service.log.2.gz`, …, keeps the 4 newest rotated files, and states in the
//! chain each file retention removes. Warnings also go to the console through
//! a `fmt` layer beside ours; `RUST_LOG` (default `info,service::db=debug`)
//! filters what reaches the log.

use std::error::Error;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread;
use std::time::Instant;

use immutable_log::std_backend::{
    set_files, verify_set, Durability, LogFile, Rotation, SetVerdict, TracingLayer,
};
use tracing_subscriber::filter::{EnvFilter, LevelFilter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::Layer;

const WORKERS: usize = 8;
const REQUESTS: usize = 2_000;

fn main() -> Result<(), Box<dyn Error>> {
    let dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("immutable-log-service"));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("service.log");

    let log = Arc::new(
        LogFile::options()
            .durability(Durability::Buffered)
            .rotate(
                Rotation::new()
                    .max_size(256 << 10)
                    .keep_files(4)
                    .compress(true),
            )
            .open(&path)?,
    );
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new("info,service::db=debug"))?;
    let to_log = TracingLayer::new(Arc::clone(&log))
        .with_span_scope(true)
        .with_filter(filter);
    let to_console = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_filter(LevelFilter::WARN);
    tracing::subscriber::set_global_default(
        tracing_subscriber::registry().with(to_log).with(to_console),
    )?;

    tracing::info!(target: "service", workers = WORKERS, "service started");
    let started = Instant::now();
    let workers: Vec<_> = (0..WORKERS)
        .map(|worker| thread::spawn(move || serve(worker)))
        .collect();
    for worker in workers {
        worker.join().map_err(|_| "a worker panicked")?;
    }
    tracing::info!(target: "service", "service stopped");
    let elapsed = started.elapsed();
    log.sync()?;
    if let Some(e) = log.rotation_error() {
        return Err(format!("a rotation failed: {e}").into());
    }

    let events = WORKERS * REQUESTS * 3 + 2;
    println!(
        "{events} events from {WORKERS} threads in {:.2} s ({:.0} events/s) -> {}",
        elapsed.as_secs_f64(),
        events as f64 / elapsed.as_secs_f64(),
        path.display()
    );
    for file in set_files(&path)? {
        println!(
            "  {} ({} bytes)",
            file.display(),
            std::fs::metadata(&file)?.len()
        );
    }
    match verify_set(&path, None)? {
        SetVerdict::Intact(report) => {
            let pruned = report.pruned_before().map_or("none".to_string(), |p| {
                format!("up to {} ({})", p.name, p.policy)
            });
            println!(
                "the set verifies: {} records in {} files, head {}; pruned by retention: {pruned}",
                report.records(),
                report.files.len(),
                report.head().map_or("none".into(), |h| h.to_string()),
            );
        }
        other => return Err(format!("the set does not verify: {other:?}").into()),
    }
    println!(
        "check it yourself: cargo run --release --features cli --bin immutable-log -- verify --set {}",
        path.display()
    );
    Ok(())
}

/// One worker: a span per request, an event when it is accepted, a database
/// query at DEBUG, and its outcome.
fn serve(worker: usize) {
    for id in 0..REQUESTS {
        let request = tracing::info_span!("request", worker, id);
        let _entered = request.enter();
        tracing::info!(target: "service::http", path = "/orders", "accepted");
        tracing::debug!(target: "service::db", table = "orders", rows = id % 7, "query");
        if id % 500 == 499 {
            tracing::warn!(target: "service::http", status = 503, "upstream slow");
        } else {
            tracing::info!(target: "service::http", status = 200, "done");
        }
    }
}
