//! The cost of keeping the tree as the writer appends (`keep_tree`): one
//! thread, `Buffered`, the same 60-byte messages into a fresh log with and
//! without it, in alternating runs; prints the median records/s of each
//! (wall clock, until the last record is handed to the OS) and the median
//! CPU time per record of the whole process (user + system: the tree's
//! thread included), and checks the tree head's size. The wall-clock cost
//! depends on a free core for the tree's thread; the CPU cost does not.
//! Last, the node hashing alone: `CompactRange::push_record` per record.
//!
//! `cargo run --release --features std --example tree_cost -- [RECORDS] [RUNS]`
//! (`RUNS` 0: only `push_record`)

use std::time::Instant;

use immutable_log::std_backend::{Durability, OpenOptions};
use immutable_log::Level;

/// The process's user + system CPU time, in seconds.
fn cpu() -> f64 {
    // SAFETY: getrusage writes one `rusage` into the zeroed struct given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// Records/s (wall clock) and CPU nanoseconds per record.
fn run(dir: &std::path::Path, records: u32, tree: bool, round: u32) -> (f64, f64) {
    let path = dir.join(format!("{round}-{tree}.log"));
    let log = OpenOptions::new()
        .durability(Durability::Buffered)
        .keep_tree(tree)
        .open(&path)
        .expect("open");
    let message = "x".repeat(50);
    let (start, cpu0) = (Instant::now(), cpu());
    for i in 0..records {
        log.append(Level::Info, format_args!("{message} {i:08}"))
            .expect("append");
    }
    log.flush().expect("flush");
    let elapsed = start.elapsed().as_secs_f64();
    // The tree's thread done with every batch: its CPU time counts.
    if tree {
        let head = log.tree_head().expect("tree").expect("records");
        assert_eq!(head.size, u64::from(records));
    }
    let cpu_ns = (cpu() - cpu0) * 1e9 / f64::from(records);
    log.close().expect("close");
    let _ = std::fs::remove_file(&path);
    (f64::from(records) / elapsed, cpu_ns)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let records: u32 = args.next().map_or(500_000, |a| a.parse().expect("RECORDS"));
    let runs: u32 = args.next().map_or(5, |a| a.parse().expect("RUNS"));
    if runs > 0 {
        appends(records, runs);
    }
    push_records(records);
}

/// The appends with and without the tree, `runs` times each.
fn appends(records: u32, runs: u32) {
    let dir = tempfile_dir();
    let (mut plain, mut tree) = (Vec::new(), Vec::new());
    for round in 0..runs {
        // Alternate which goes first.
        if round % 2 == 0 {
            plain.push(run(&dir, records, false, round));
            tree.push(run(&dir, records, true, round));
        } else {
            tree.push(run(&dir, records, true, round));
            plain.push(run(&dir, records, false, round));
        }
    }
    let rate = |v: &[(f64, f64)]| v.iter().map(|r| r.0).collect::<Vec<_>>();
    let cost = |v: &[(f64, f64)]| v.iter().map(|r| r.1).collect::<Vec<_>>();
    let (p, t) = (median(rate(&plain)), median(rate(&tree)));
    let (pc, tc) = (median(cost(&plain)), median(cost(&tree)));
    println!("1 thread, Buffered, {records} records, {runs} runs each (median):");
    println!(
        "  without the tree: {p:.0} records/s, {pc:.0} ns CPU/record  (runs: {:.0?})",
        rate(&plain)
    );
    println!(
        "  with keep_tree:   {t:.0} records/s, {tc:.0} ns CPU/record  (runs: {:.0?})",
        rate(&tree)
    );
    println!(
        "  cost of the tree: {:.1}% of the wall time per record, {:.1}% of the CPU time",
        (p / t - 1.0) * 100.0,
        (tc / pc - 1.0) * 100.0
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `CompactRange::push_record` over `records` digests, timed alone.
fn push_records(records: u32) {
    // What the tree's thread does per record: one leaf hash and on average
    // one node hash (`CompactRange::push_record`), timed alone.
    let digests: Vec<_> = (0..records)
        .map(|i| immutable_log::BlockHasher::hash(&i.to_le_bytes()))
        .collect();
    let mut range = immutable_log::merkle::CompactRange::new();
    let start = Instant::now();
    for digest in &digests {
        range.push_record(digest).expect("push");
    }
    let push = start.elapsed().as_nanos() as f64 / f64::from(records);
    println!(
        "  CompactRange::push_record alone: {push:.0} ns per record (root {:?})",
        range.root()
    );
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tree_cost-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}
