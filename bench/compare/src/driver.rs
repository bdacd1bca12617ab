//! The table: each workload's contenders run in alternation, each run in a
//! child process of its own (a logger's global state is set once), medians.

use std::collections::HashMap;
use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use immutable_log::std_backend::Durability;

use crate::common::{Measured, Res};
use crate::contender::{Contender, VERIFY_AUDIT_TRAIL, VERIFY_COMPACT, VERIFY_LOG};
use crate::peers::TracingWriter;
use crate::{peers, subject};

/// One line group of the table: the immutable-log variants measured (one row
/// each) beside the same peers and limit, at one thread count.
struct Workload {
    /// Its name for `COMPARE_ONLY`.
    id: &'static str,
    /// Its name in the table.
    label: String,
    threads: usize,
    /// Records in all (each thread appends its share).
    records: usize,
    /// immutable-log's variants: one row each.
    rows: Vec<(String, Contender)>,
    peers: Vec<Contender>,
    limit: Option<Contender>,
}

impl Workload {
    fn contenders(&self) -> Vec<Contender> {
        let rows = self.rows.iter().map(|(_, c)| *c);
        rows.chain(self.peers.iter().copied())
            .chain(self.limit)
            .collect()
    }

    fn is_verify(&self) -> bool {
        self.rows
            .iter()
            .any(|(_, c)| matches!(c, Contender::LogVerify(_)))
    }

    /// The row's limit: the text format's (record-sized writes of a text
    /// record, SHA-256 over its blocks) means nothing for a compact row.
    fn limit_of(&self, row: &Contender) -> Option<Contender> {
        match row {
            Contender::Compact(_) | Contender::CompactVerify => None,
            _ => self.limit,
        }
    }
}

/// A count from the environment, or `default`.
fn env_count(name: &str, default: usize) -> Res<usize> {
    match env::var(name) {
        Ok(text) => Ok(text
            .trim()
            .parse()
            .map_err(|_| format!("{name}={text}: expected a whole number"))?),
        Err(_) => Ok(default),
    }
}

/// How many records each kind of workload writes (environment overrides).
struct Counts {
    runs: usize,
    buffered: usize,
    flush: usize,
    verify: usize,
    sync: usize,
}

impl Counts {
    fn from_env() -> Res<Counts> {
        Ok(Counts {
            runs: env_count("COMPARE_RUNS", 5)?.max(1),
            buffered: env_count("COMPARE_BUFFERED_RECORDS", 500_000)?,
            flush: env_count("COMPARE_FLUSH_RECORDS", 200_000)?,
            verify: env_count("COMPARE_VERIFY_RECORDS", 1_000_000)?,
            sync: env_count("COMPARE_SYNC_RECORDS", 500)?,
        })
    }
}

/// The workloads of issue 13, in the order of the table.
fn workloads(counts: &Counts) -> Vec<Workload> {
    let buffered_peers = vec![
        Contender::Tracing(TracingWriter::BufWriter),
        Contender::AuditTrail(false),
    ];
    let flush_peers = vec![
        Contender::Tracing(TracingWriter::AppenderBlocking),
        Contender::Tracing(TracingWriter::AppenderNonBlocking),
        Contender::Fern,
        Contender::AuditTrail(true),
    ];
    let append = |id, threads: usize, durability: Durability, records: usize| {
        let (peers, limit, what) = match durability {
            Durability::Buffered => (&buffered_peers, Contender::LimitBuffered, "buffered"),
            _ => (&flush_peers, Contender::LimitFlush, "flush"),
        };
        let label = format!("{}, {what}", threads_label(threads));
        Workload {
            id,
            label: label.clone(),
            threads,
            records,
            rows: vec![
                (label.clone(), Contender::Log(durability, false)),
                (format!("{label}, compact"), Contender::Compact(durability)),
            ],
            peers: peers.clone(),
            limit: Some(limit),
        }
    };
    let verify_label = format!("verify {} records", count_label(counts.verify));
    vec![
        append("1-buffered", 1, Durability::Buffered, counts.buffered),
        append("1-flush", 1, Durability::Flush, counts.flush),
        append("8-flush", 8, Durability::Flush, counts.flush),
        append("500-flush", 500, Durability::Flush, counts.flush),
        append("500-buffered", 500, Durability::Buffered, counts.buffered),
        append("8-buffered", 8, Durability::Buffered, counts.buffered),
        Workload {
            id: "verify",
            label: verify_label.clone(),
            threads: 1,
            records: counts.verify,
            rows: vec![
                (format!("{verify_label}, 1 thread"), Contender::LogVerify(1)),
                (
                    format!("{verify_label}, 2 threads"),
                    Contender::LogVerify(2),
                ),
                (
                    format!("{verify_label}, compact, 1 thread"),
                    Contender::CompactVerify,
                ),
            ],
            peers: vec![Contender::AuditTrailVerify],
            limit: Some(Contender::LimitVerify),
        },
        Workload {
            id: "keyed",
            label: "500 threads, keyed".into(),
            threads: 500,
            records: counts.sync,
            rows: vec![
                (
                    "500 threads, keyed `flush`".into(),
                    Contender::Log(Durability::Flush, true),
                ),
                (
                    "500 threads, keyed `sync`".into(),
                    Contender::Log(Durability::Sync, true),
                ),
            ],
            peers: vec![Contender::Log(Durability::Sync, false)],
            limit: None,
        },
        events(1, counts.flush),
        events(8, counts.flush),
    ]
}

/// `tracing` events with fields (`events.rs`): immutable-log's `TracingLayer`
/// beside a `fmt` layer through `tracing-appender`, at `threads` threads.
fn events(threads: usize, records: usize) -> Workload {
    let label = format!("{}, `tracing` events", threads_label(threads));
    Workload {
        id: if threads == 1 { "1-events" } else { "8-events" },
        label: label.clone(),
        threads,
        records,
        rows: vec![
            (
                format!("{label}, `flush`"),
                Contender::Layer(Durability::Flush),
            ),
            (
                format!("{label}, `buffered`"),
                Contender::Layer(Durability::Buffered),
            ),
        ],
        peers: vec![
            Contender::EventsAppender(true),
            Contender::EventsAppender(false),
        ],
        limit: None,
    }
}

fn threads_label(threads: usize) -> String {
    match threads {
        1 => "1 thread".into(),
        n => format!("{n} threads"),
    }
}

/// `1M`, `500k`, `5000`.
fn count_label(n: usize) -> String {
    match n {
        n if n >= 1_000_000 && n % 1_000_000 == 0 => format!("{}M", n / 1_000_000),
        n if n >= 10_000 && n % 1_000 == 0 => format!("{}k", n / 1_000),
        n => n.to_string(),
    }
}

/// Runs every workload (or those named in `COMPARE_ONLY`, comma-separated
/// ids) and prints the table.
pub fn table() -> Res<()> {
    let counts = Counts::from_env()?;
    let only: Option<Vec<String>> = env::var("COMPARE_ONLY")
        .ok()
        .map(|s| s.split(',').map(|id| id.trim().to_string()).collect());
    let root = env::temp_dir().join(format!("immutable-log-compare-{}", std::process::id()));
    fs::create_dir_all(&root)?;
    let result = run_all(&root, &counts, only.as_deref());
    let cleaned = fs::remove_dir_all(&root);
    let results = result?;
    cleaned?;
    print_table(&counts, &results);
    Ok(())
}

/// Each workload's medians, in order.
type Results = Vec<(Workload, HashMap<Contender, Vec<Measured>>)>;

fn run_all(root: &Path, counts: &Counts, only: Option<&[String]>) -> Res<Results> {
    let exe = env::current_exe()?;
    let mut results = Vec::new();
    for workload in workloads(counts) {
        if only.is_some_and(|ids| !ids.iter().any(|id| id == workload.id)) {
            continue;
        }
        let per_thread = workload.records / workload.threads;
        if per_thread == 0 {
            return Err(format!("{}: fewer records than threads", workload.label).into());
        }
        let verify_dir = root.join("verify");
        if workload.is_verify() {
            eprintln!("{}: writing the files to verify", workload.label);
            fs::create_dir_all(&verify_dir)?;
            subject::prepare_verify(&verify_dir.join(VERIFY_LOG), workload.records)?;
            subject::prepare_compact_verify(&verify_dir.join(VERIFY_COMPACT), workload.records)?;
            peers::prepare_audit_trail_verify(
                &verify_dir.join(VERIFY_AUDIT_TRAIL),
                workload.records,
            )?;
        }
        let contenders = workload.contenders();
        let mut runs: HashMap<Contender, Vec<Measured>> = HashMap::new();
        for run in 0..counts.runs {
            eprintln!("{}: run {}/{}", workload.label, run + 1, counts.runs);
            // Each round starts with the next contender: none always goes first.
            for k in 0..contenders.len() {
                let contender = contenders[(k + run) % contenders.len()];
                let dir = if workload.is_verify() {
                    verify_dir.clone()
                } else {
                    root.join(format!("{}-{run}-{}", workload.id, contender.name()))
                };
                fs::create_dir_all(&dir)?;
                let measured = child(&exe, contender, &dir, workload.threads, per_thread)?;
                if !workload.is_verify() {
                    fs::remove_dir_all(&dir)?;
                }
                runs.entry(contender).or_default().push(measured);
            }
        }
        if workload.is_verify() {
            fs::remove_dir_all(&verify_dir)?;
        }
        results.push((workload, runs));
    }
    Ok(results)
}

/// Runs one contender once, in a child process of this program.
fn child(
    exe: &PathBuf,
    contender: Contender,
    dir: &Path,
    threads: usize,
    per_thread: usize,
) -> Res<Measured> {
    let output = Command::new(exe)
        .arg("run")
        .arg(contender.name())
        .arg(threads.to_string())
        .arg(per_thread.to_string())
        .arg(dir)
        .output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "{} ({threads} threads): {}; {}",
            contender.name(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )
        .into());
    }
    Measured::parse(stdout.trim())
        .ok_or_else(|| format!("{}: unreadable result {stdout:?}", contender.name()).into())
}

/// The median run (by time), and the fastest and slowest.
struct Summary {
    median: Measured,
    fastest: f64,
    slowest: f64,
}

impl Summary {
    fn of(runs: &[Measured]) -> Option<Summary> {
        let mut sorted = runs.to_vec();
        sorted.sort_by(|a, b| a.secs.total_cmp(&b.secs));
        let median = *sorted.get(sorted.len() / 2)?;
        Some(Summary {
            median,
            fastest: rate(sorted.first()?),
            slowest: rate(sorted.last()?),
        })
    }

    fn rate(&self) -> f64 {
        rate(&self.median)
    }

    fn mb_per_s(&self) -> f64 {
        self.median.bytes as f64 / 1e6 / self.median.secs
    }

    /// `835k rec/s, 399 MB/s`.
    fn figures(&self) -> String {
        format!(
            "{} rec/s, {} MB/s",
            rate_text(self.rate()),
            mb_text(self.mb_per_s())
        )
    }
}

fn rate(m: &Measured) -> f64 {
    m.records as f64 / m.secs
}

/// `1.95M`, `835k`, `36.2k`, `7900`.
fn rate_text(rate: f64) -> String {
    if rate >= 1e6 {
        format!("{:.2}M", rate / 1e6)
    } else if rate >= 1e5 {
        format!("{:.0}k", rate / 1e3)
    } else if rate >= 1e4 {
        format!("{:.1}k", rate / 1e3)
    } else {
        format!("{rate:.0}")
    }
}

fn mb_text(mb: f64) -> String {
    if mb >= 100.0 {
        format!("{mb:.0}")
    } else {
        format!("{mb:.1}")
    }
}

fn print_table(counts: &Counts, results: &Results) {
    println!(
        "Medians of {} interleaved runs; each run a process of its own. Time ratio = \
         immutable-log's time per record / the peer's (below 1: immutable-log is faster); \
         of the limit = immutable-log's records/s / the limit's at the same thread count.",
        counts.runs
    );
    println!();
    println!("| workload | time ratio, immutable-log / peer | of the limit | immutable-log | peers | limit |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for (workload, runs) in results {
        let summary = |c: &Contender| runs.get(c).and_then(|r| Summary::of(r));
        for (label, row) in &workload.rows {
            let Some(us) = summary(row) else { continue };
            let limit = workload.limit_of(row).as_ref().and_then(summary);
            let mut ratios = Vec::new();
            let mut peers = Vec::new();
            for peer in &workload.peers {
                let Some(them) = summary(peer) else { continue };
                ratios.push(format!("{} {:.2}", peer.label(), them.rate() / us.rate()));
                peers.push(format!("{} {}", peer.label(), them.figures()));
            }
            let (of_limit, limit_text) = match &limit {
                Some(l) => (format!("{:.0}%", 100.0 * us.rate() / l.rate()), l.figures()),
                None => ("–".into(), "–".into()),
            };
            println!(
                "| {label} | {} | {of_limit} | {} | {} | {limit_text} |",
                ratios.join("; "),
                us.figures(),
                peers.join("; "),
            );
        }
    }
    println!();
    println!("Spread over the runs (records/s: median, fastest–slowest):");
    println!();
    for (workload, runs) in results {
        let line: Vec<String> = workload
            .contenders()
            .iter()
            .filter_map(|c| {
                let s = Summary::of(runs.get(c)?)?;
                Some(format!(
                    "{} {} ({}–{})",
                    c.label(),
                    rate_text(s.rate()),
                    rate_text(s.fastest),
                    rate_text(s.slowest)
                ))
            })
            .collect();
        println!(
            "- {} ({} records): {}",
            workload.label,
            workload.records / workload.threads * workload.threads,
            line.join("; ")
        );
    }
}
