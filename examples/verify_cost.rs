//! What verifying costs against its limit, measured in one run: SHA-256 over
//! every `block_json` alone (the file already in memory, one core: the limit
//! `bench/compare` measures), then `verify_path_threads` on one thread and on
//! two, in alternation. Each figure is the median (and the fastest) of the
//! runs, in wall time and in CPU time: on a shared machine the wall time of a
//! run includes waiting for a core, the CPU time does not.
//!
//! ```text
//! cargo run --release --features std --example verify_cost -- big.log [RUNS]
//! ```

use std::hint::black_box;
use std::time::Instant;

use immutable_log::std_backend::verify_path_threads;
use immutable_log::{Options, Verdict};
use sha2::{Digest, Sha256};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// CPU seconds used so far by the process (`RUSAGE_SELF`) or this thread.
fn cpu(who: libc::c_int) -> f64 {
    // SAFETY: getrusage writes one `rusage` into the zeroed struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, writable rusage.
    unsafe { libc::getrusage(who, &mut usage) };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// Wall, process CPU and this thread's CPU seconds of `f`.
fn timed(f: impl FnOnce() -> Res<()>) -> Res<[f64; 3]> {
    let (wall, all, me) = (
        Instant::now(),
        cpu(libc::RUSAGE_SELF),
        cpu(libc::RUSAGE_THREAD),
    );
    f()?;
    Ok([
        wall.elapsed().as_secs_f64(),
        cpu(libc::RUSAGE_SELF) - all,
        cpu(libc::RUSAGE_THREAD) - me,
    ])
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn fastest(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::INFINITY, f64::min)
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
    let n = blocks.len() as u64;
    let mb = text.len() as f64 / 1e6;
    // [wall, cpu, calling thread's cpu] of each run.
    let (mut limit, mut one, mut two) = (vec![], vec![], vec![]);
    let path_ref = &path;
    let verify = |threads| {
        move || -> Res<()> {
            let path = path_ref;
            let verdict = verify_path_threads(path, Options::default(), None, threads)?;
            if records(&verdict) != n || !matches!(verdict, Verdict::Intact(_)) {
                return Err(format!("not {n} intact records: {verdict:?}").into());
            }
            Ok(())
        }
    };
    for _ in 0..runs {
        limit.push(timed(|| {
            let mut fold = 0u8;
            for block in &blocks {
                fold ^= Sha256::digest(black_box(block))[0];
            }
            black_box(fold);
            Ok(())
        })?);
        one.push(timed(verify(1))?);
        two.push(timed(verify(2))?);
    }
    let col = |runs: &[[f64; 3]], i: usize| runs.iter().map(|r| r[i]).collect::<Vec<_>>();
    let rate = |secs: f64| format!("{:.2}M rec/s", n as f64 / secs / 1e6);
    println!(
        "{path}: {n} records, {mb:.0} MB; {runs} interleaved runs: median (fastest); load average {}",
        std::fs::read_to_string("/proc/loadavg")?.split(' ').take(3).collect::<Vec<_>>().join(" ")
    );
    for (name, runs) in [
        ("limit: SHA-256 over the blocks, in memory", &limit),
        ("verify, 1 thread", &one),
        ("verify, 2 threads", &two),
    ] {
        let (wall, cpu, me) = (col(runs, 0), col(runs, 1), col(runs, 2));
        println!(
            "{name}: wall {:.3} s ({:.3}), {}; CPU {:.3} s ({:.3}), of which the calling thread {:.3} s",
            median(wall.clone()),
            fastest(&wall),
            rate(median(wall.clone())),
            median(cpu.clone()),
            fastest(&cpu),
            median(me),
        );
    }
    let (l, o, t) = (col(&limit, 0), col(&one, 0), col(&two, 0));
    let (lc, oc) = (col(&limit, 1), col(&one, 1));
    println!(
        "1 thread: {:.0}% of the limit's rate by wall medians ({:.0}% by fastest wall, {:.0}% by CPU medians)",
        100.0 * median(l.clone()) / median(o.clone()),
        100.0 * fastest(&l) / fastest(&o),
        100.0 * median(lc) / median(oc),
    );
    println!(
        "2 threads: {:.2}x the 1-thread rate by wall medians ({:.2}x by fastest wall)",
        median(o.clone()) / median(t.clone()),
        fastest(&o) / fastest(&t),
    );
    Ok(())
}
