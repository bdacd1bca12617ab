//! Benchmarks of the host side: verifying a log held in memory, and opening
//! (continuing) a 10-record log against a 1,000,000-record one (and a
//! 1,000-record one, 430 KB: past the 64 KiB the handler first reads from a
//! log's end, as the 1M-record log is, where the 10-record log is not).
//!
//! ```sh
//! cargo bench --features std --bench host
//! ```
//!
//! The logs are written once, in the setup, by a [`LogFile`] with the seed's
//! format and messages of about 60 bytes (as `examples/throughput.rs` writes
//! them), into a temporary directory that is deleted afterwards; the 1M-record
//! log is about 410 MB. Opening reads only a log's tail, so both opens should
//! cost the same within noise. The peak memory (`VmHWM`) of a process that
//! does nothing but open each log is printed too, measured in a child process
//! (this executable, run again with `HOST_BENCH_OPEN_ONLY=<path>`), so the
//! benchmark's own buffers do not count.
//!
//! The group `machine limits` measures what bounds the appends on this
//! machine, for records of the size the handler writes (410 bytes with a
//! 60-byte message): a `BufWriter` of such lines, one `write(2)` per line, one
//! `write(2)` and `fdatasync` per line, SHA-256 of a 220-byte `block_json`, and
//! a clock read. The files are cut back every 64 MiB, so the disk holds little.

use std::fs::File;
use std::hint::black_box;
use std::io::{BufWriter, Read, Write};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use criterion::{BenchmarkId, Criterion, Throughput};
use immutable_log::std_backend::{verify_reader, Durability, LogFile};
use immutable_log::{BlockHasher, Level, Options, Verdict};

/// Set in the child process: open this log, print the peak memory, exit.
const OPEN_ONLY: &str = "HOST_BENCH_OPEN_ONLY";

/// Writes a log of `records` records and returns its size in bytes.
fn write_log(path: &Path, records: u64) -> u64 {
    let log = LogFile::options()
        .durability(Durability::Buffered)
        .open(path)
        .expect("open a new log");
    for i in 0..records {
        log.append(Level::Info, format_args!("Thread 0 - Message {i} xxx"))
            .expect("append");
    }
    log.close().expect("close");
    std::fs::metadata(path).expect("log size").len()
}

fn verify(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("verify.log");
    write_log(&path, 100_000);
    let mut log = Vec::new();
    std::fs::File::open(&path)
        .and_then(|mut f| f.read_to_end(&mut log))
        .expect("read the log");
    let mut g = c.benchmark_group("host verify");
    g.throughput(Throughput::Bytes(log.len() as u64));
    g.bench_function("100k records in memory, verify_reader", |b| {
        b.iter(|| {
            let verdict = verify_reader(black_box(&log[..]), Options::default()).unwrap();
            assert!(matches!(verdict, Verdict::Intact(r) if r.records == 100_000));
        })
    });
    g.finish();
}

fn open(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut logs = Vec::new();
    for records in [10u64, 1_000, 1_000_000] {
        let path = dir.path().join(format!("open-{records}.log"));
        let started = Instant::now();
        let bytes = write_log(&path, records);
        println!(
            "setup: wrote a {records}-record log, {bytes} bytes, in {:.2} s",
            started.elapsed().as_secs_f64()
        );
        logs.push((records, path));
    }
    for (records, path) in &logs {
        match peak_memory_of_open(path) {
            Some((before, after)) => println!(
                "open of the {records}-record log: peak RSS (VmHWM) {after} KiB \
                 ({before} KiB before the open)"
            ),
            None => println!("open of the {records}-record log: peak RSS not available"),
        }
    }
    let mut g = c.benchmark_group("host open (continuation)");
    for (records, path) in &logs {
        g.bench_with_input(BenchmarkId::from_parameter(records), path, |b, path| {
            b.iter(|| {
                let log = LogFile::open(path).unwrap();
                black_box(log.head());
                log.close().unwrap();
            })
        });
    }
    g.finish();
}

/// A record's size with a 60-byte message, as `examples/throughput.rs` writes it.
const RECORD: usize = 410;

/// Lines written between two cuts of a limits file back to empty: 64 MiB.
const CUT_EVERY: u64 = (64 << 20) / RECORD as u64;

/// Times `iters` calls of `write_line` on `file`, cutting the file back to
/// empty (untimed) every [`CUT_EVERY`] lines.
fn timed_lines(file: &File, iters: u64, mut write_line: impl FnMut(u64)) -> Duration {
    let mut total = Duration::ZERO;
    let mut done = 0;
    while done < iters {
        let n = (iters - done).min(CUT_EVERY);
        let started = Instant::now();
        for i in 0..n {
            write_line(i);
        }
        total += started.elapsed();
        done += n;
        file.set_len(0).expect("cut the file");
    }
    total
}

fn limits(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut line = vec![b'x'; RECORD - 1];
    line.push(b'\n');
    let append = || {
        File::options()
            .create(true)
            .append(true)
            .open(dir.path().join("limits.bin"))
            .expect("open")
    };
    let mut g = c.benchmark_group("machine limits");
    g.throughput(Throughput::Elements(1));
    g.bench_function("BufWriter 64 KiB, 410-byte lines", |b| {
        let file = append();
        b.iter_custom(|iters| {
            let mut out = BufWriter::with_capacity(64 * 1024, &file);
            timed_lines(&file, iters, |_| out.write_all(&line).expect("write"))
        })
    });
    g.bench_function("write(2) per 410-byte line", |b| {
        let file = append();
        b.iter_custom(|iters| {
            timed_lines(&file, iters, |_| (&file).write_all(&line).expect("write"))
        })
    });
    g.bench_function("write(2) + fdatasync per 410-byte line", |b| {
        let file = append();
        b.iter_custom(|iters| {
            timed_lines(&file, iters, |_| {
                (&file).write_all(&line).expect("write");
                file.sync_data().expect("fdatasync");
            })
        })
    });
    let block = [b'b'; 220];
    g.bench_function("SHA-256 of a 220-byte block_json", |b| {
        b.iter(|| BlockHasher::hash(black_box(&block)))
    });
    g.bench_function("SystemTime::now", |b| b.iter(SystemTime::now));
    g.finish();
}

/// Runs this executable again to open `path` and nothing else; returns its
/// peak RSS in KiB before and after the open.
fn peak_memory_of_open(path: &Path) -> Option<(u64, u64)> {
    let exe = std::env::current_exe().ok()?;
    let out = Command::new(exe).env(OPEN_ONLY, path).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let mut numbers = text.split_whitespace().map(|n| n.parse().ok());
    Some((numbers.next()??, numbers.next()??))
}

/// `VmHWM` of this process, in KiB.
fn vm_hwm() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}

fn main() {
    if let Some(path) = std::env::var_os(OPEN_ONLY) {
        let before = vm_hwm();
        let log = LogFile::open(&path).expect("open");
        black_box(log.head());
        log.close().expect("close");
        println!("{before} {}", vm_hwm());
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    verify(&mut c);
    open(&mut c);
    limits(&mut c);
    c.final_summary();
}
