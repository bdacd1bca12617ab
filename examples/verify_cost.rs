//! What verifying costs against its limit, measured in one run: SHA-256 over
//! every `block_json` alone (the file already in memory, one core: the limit
//! `bench/compare` measures), then `verify_path` on one thread and on the
//! default thread count, in alternation, medians of the runs.
//!
//! ```text
//! cargo run --release --features std --example verify_cost -- big.log [RUNS]
//! ```

use std::hint::black_box;
use std::time::Instant;

use immutable_log::std_backend::{verify_path_threads, verify_reader_keyed};
use immutable_log::{Options, Verdict};
use sha2::{Digest, Sha256};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn records(verdict: &Verdict) -> u64 {
    match verdict {
        Verdict::Intact(r) | Verdict::Torn(r, _) | Verdict::Failed(r, _) => r.records,
    }
}

fn main() -> Res<()> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: verify_cost FILE [RUNS]")?;
    let runs: usize = args.next().map_or(Ok(5), |r| r.parse())?;
    let text = std::fs::read(&path)?;
    let blocks: Vec<&[u8]> = text
        .split(|&b| b == b'\n')
        .filter_map(|line| line.strip_prefix(b"BLOCK_DATA:"))
        .collect();
    let n = blocks.len() as f64;
    let mb = text.len() as f64 / 1e6;
    let (mut limit, mut one, mut two, mut reader) = (vec![], vec![], vec![], vec![]);
    for _ in 0..runs {
        let start = Instant::now();
        let mut fold = 0u8;
        for block in &blocks {
            fold ^= Sha256::digest(black_box(block))[0];
        }
        black_box(fold);
        limit.push(start.elapsed().as_secs_f64());

        let start = Instant::now();
        let verdict = verify_path_threads(&path, Options::default(), None, 1)?;
        one.push(start.elapsed().as_secs_f64());
        assert_eq!(records(&verdict) as f64, n, "{verdict:?}");

        let start = Instant::now();
        let verdict = verify_path_threads(&path, Options::default(), None, 2)?;
        two.push(start.elapsed().as_secs_f64());
        assert_eq!(records(&verdict) as f64, n, "{verdict:?}");

        let start = Instant::now();
        let verdict = verify_reader_keyed(std::fs::File::open(&path)?, Options::default(), None)?;
        reader.push(start.elapsed().as_secs_f64());
        assert_eq!(records(&verdict) as f64, n, "{verdict:?}");
    }
    let (limit, one, two, reader) = (median(limit), median(one), median(two), median(reader));
    let rate = |secs: f64| format!("{:.2}M rec/s, {:.0} MB/s", n / secs / 1e6, mb / secs);
    println!(
        "{path}: {} records, {mb:.0} MB; medians of {runs} interleaved runs",
        n as u64
    );
    println!(
        "limit (SHA-256 over the blocks, in memory, 1 core): {:.3} s, {}",
        limit,
        rate(limit)
    );
    println!(
        "verify_reader (any reader, 1 thread):               {:.3} s, {}",
        reader,
        rate(reader)
    );
    println!(
        "verify_path, 1 thread:                              {:.3} s, {}",
        one,
        rate(one)
    );
    println!(
        "verify_path, 2 threads:                             {:.3} s, {}",
        two,
        rate(two)
    );
    println!(
        "1 thread / limit: {:.0}% of the limit's rate",
        100.0 * limit / one
    );
    println!(
        "2 threads / 1 thread: {:.2}x the one-thread rate",
        one / two
    );
    Ok(())
}
